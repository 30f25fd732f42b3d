# SPDX-License-Identifier: ISC
# Linking and removing devices through the real sottod: `sotto link` prints a
# code and waits, `sotto approve CODE --yes` publishes the next device list
# signed by the approving device; the new device verifies the whole chain
# itself and can send and receive; every other device of the account and every
# contact sees the change; a removed device can no longer authenticate and its
# queue is deleted; a directory that stays unreachable becomes an alert.
. "$(dirname "$0")/lib.sh"

server_init
# A link offer is withdrawn this long after its device stops waiting (default
# 10). Shorter, so the test of that does not wait long; not so short that a
# poll (one a second) delayed on a loaded machine lets a waiting offer lapse.
server_conf link_offer_seconds 6
server_start
user_init alice
user_init bob
as bob send alice "before the link" >/dev/null
as alice receive --json >/dev/null
a1=$(own_device_id alice)

# ---- link a second device, approved by the first ----
link_device alice alice2 "alice-phone"
a2=$(sed -n 's/^device id: //p' "$T/link-alice2.out")
[ ${#a2} -eq 32 ] || fail "link printed no device id: $(cat "$T/link-alice2.out")"
grep -q "alice-phone" "$T/approve-alice2.out" || fail "approve did not show the name: $(cat "$T/approve-alice2.out")"
grep -Eq 'fingerprint: ([0-9a-f]{4} ){7}[0-9a-f]{4}$' "$T/approve-alice2.out" || fail "approve showed no fingerprint"
# Both screens show the same fingerprint, for the user to compare.
fp=$(sed -n 's/^  fingerprint: //p' "$T/approve-alice2.out")
grep -q "\"alice-phone\", fingerprint $fp" "$T/link-alice2.err" || fail "link did not show the fingerprint $fp: $(cat "$T/link-alice2.err")"
as alice2 devices --json >"$T/d2"
[ "$(jq -s length "$T/d2")" -eq 2 ] || fail "alice2 sees $(jq -s length "$T/d2") devices"
[ "$(jq -r --arg i "$a2" 'select(.id == $i) | .approved_by' "$T/d2")" = "$a1" ] || fail "approved_by is not the approver"
[ "$(jq -r --arg i "$a2" 'select(.id == $i) | .this_device' "$T/d2")" = true ] || fail "this_device"
# The new device holds the account's whole history of lists, verified by itself.
[ "$(sqlite3 "$T/home-alice2/sotto.db" "SELECT group_concat(version) FROM (SELECT version FROM device_lists WHERE handle = 'alice' ORDER BY version);")" = "1,2" ] ||
    fail "alice2 lacks the list history"
[ "$(alerts_of alice device_added)" -ge 1 ] || fail "the approver recorded no device_added"
ok "link + approve: alice2 verified the chain v1..v2, approved_by = $a1"

# ---- a third device approved by the second: the first sees device_added ----
link_device alice alice3 "alice-tablet" alice2
a3=$(sed -n 's/^device id: //p' "$T/link-alice3.out")
as alice receive >/dev/null 2>"$T/recv-warn"
as alice alerts --json >"$T/a-alerts"
jq -e --arg i "$a3" 'select(.kind == "device_added" and .device == $i and (.text | contains("alice-tablet")))' "$T/a-alerts" >/dev/null ||
    fail "alice (first device) did not see device_added for alice3: $(cat "$T/a-alerts")"
grep -q "warning: a device was added to your account" "$T/recv-warn" || fail "receive printed no warning: $(cat "$T/recv-warn")"
ok "the first device sees device_added for a device approved by the second"

# ---- a contact sees the change, as an alert and as a warning on send ----
as bob send alice "after the links" >"$T/bsend" 2>"$T/bwarn" || fail "bob's send failed: $(cat "$T/bwarn")"
grep -Eq "^sotto: warning: alice's devices changed: added \"alice-phone\" \(fingerprint [0-9a-f ]{39}\)" "$T/bwarn" ||
    fail "no warning on send: $(cat "$T/bwarn")"
[ "$(alerts_of bob contact_devices_changed)" -eq 1 ] || fail "bob has no contact_devices_changed alert"
for u in alice alice2 alice3; do
	as "$u" receive --json >"$T/r-$u"
	jq -e -s 'map(select(.body == "after the links" and .from == "bob" and .outgoing == false)) | length == 1' "$T/r-$u" >/dev/null ||
	    fail "$u did not get bob's message once: $(cat "$T/r-$u")"
done
ok "bob is warned on send; his message reaches all three of alice's devices"

# ---- the new device sends and receives; the others show it as outgoing ----
as alice3 send bob "from the tablet" >/dev/null
as bob receive --json >"$T/bob-r"
[ "$(jq -r 'select(.body == "from the tablet") | .device' "$T/bob-r")" = "$a3" ] || fail "bob: $(cat "$T/bob-r")"
for u in alice alice2; do
	as "$u" receive --json >"$T/o-$u"
	jq -e -s 'map(select(.body == "from the tablet" and .outgoing == true and .from == "alice")) | length == 1' "$T/o-$u" >/dev/null ||
	    fail "$u did not show its account's message as outgoing: $(cat "$T/o-$u")"
done
ok "alice3 sends; alice and alice2 show it as outgoing"

# ---- wrong codes ----
# offer_live CODE: the server's database holds CODE's offer, unused, unexpired.
offer_live() {
	local id
	id=$(printf '%s' "${1:0:22}==" | tr '_-' '/+' | base64 -d | od -An -tx1 | tr -d ' \n')
	[ ${#id} -eq 32 ] || fail "no rendezvous id in the code $1"
	[ "$(sql "SELECT count(*) FROM link_rendezvous WHERE hex(id) = upper('$id') AND slot = 0 AND used = 0
	    AND expires_at > $(date +%s%3N);")" -gt 0 ]
}
offer_dead() { ! offer_live "$1"; }
expect_fail "$T/e1" as alice approve "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" --yes
grep -qi "no device is waiting" "$T/e1" || fail "unknown code: $(cat "$T/e1")"
"$SOTTO" --home "$T/home-alice4" link --server "$ADDR" --pin "$PIN" --handle alice --no-passphrase \
    --timeout 3 >"$T/l4.out" 2>"$T/l4.err" &
lp=$!
for i in $(seq 1 300); do [ -s "$T/l4.out" ] && break; sleep 0.1; done
code=$(head -n 1 "$T/l4.out")
offer_live "$code" || fail "no live offer in the database while its device waits"
# Without --yes the approver must be asked; with no terminal to ask on, it is
# refused before anything is shown or published.
expect_fail "$T/e2a" setsid -w "$SOTTO" --home "$T/home-alice" approve "$code" </dev/null
grep -q "no terminal to confirm on: use --yes" "$T/e2a" || fail "approve without a terminal: $(cat "$T/e2a")"
[ ! -s "$T/e2a.stdout" ] || fail "approve without a terminal printed: $(cat "$T/e2a.stdout")"
# Same rendezvous id, another secret: the offer fails its MAC.
bad="${code:0:22}$(printf 'B%.0s' $(seq 1 20))A"
expect_fail "$T/e2" as alice approve "$bad" --yes
grep -qi "failed its check" "$T/e2" || fail "tampered code: $(cat "$T/e2")"
if wait "$lp"; then fail "an unapproved link succeeded"; fi
grep -q "not approved within 3 s" "$T/l4.err" || fail "link timeout: $(cat "$T/l4.err")"
[ ! -e "$T/home-alice4/sotto.db" ] && [ ! -e "$T/home-alice4/device.key" ] || fail "a failed link left a device behind"
# The device gave up: its keys are gone, so approving its code now would add a
# device nobody holds. The offer dies with its last poll (link_offer_seconds):
# once its row in the server's database has expired (a server that kept it
# alive fails here), approving is refused.
wait_for 60 offer_dead "$code"
expect_fail "$T/e2b" as alice approve "$code" --yes
grep -qi "no device is waiting" "$T/e2b" || fail "approving a link that timed out: $(cat "$T/e2b")"
# Same for a link killed while it waits (a crash, or Ctrl-C).
"$SOTTO" --home "$T/home-alice5" link --server "$ADDR" --pin "$PIN" --handle alice --no-passphrase \
    --device-name "alice-gone" >"$T/l5.out" 2>"$T/l5.err" &
lp=$!
for i in $(seq 1 300); do [ -s "$T/l5.out" ] && break; sleep 0.1; done
code5=$(head -n 1 "$T/l5.out")
kill -KILL "$lp"
wait "$lp" 2>/dev/null || true
# At once, while its offer still lives: the answer is posted, but nobody picks
# it up, so nothing is published.
expect_fail "$T/e2c" as alice approve "$code5" --yes
grep -Eqi "did not pick up the approval|no device is waiting" "$T/e2c" || fail "approving a killed link: $(cat "$T/e2c")"
[ "$(as alice devices --json | jq -s length)" -eq 3 ] || fail "a refused approval changed the list"
# A name that could not go in a device list is refused by link itself, at once.
expect_fail "$T/e2d" "$SOTTO" --home "$T/home-alice6" link --server "$ADDR" --pin "$PIN" --handle alice \
    --no-passphrase --device-name "$(printf 'evil\033[31mred')" --timeout 3
grep -q "invalid device name" "$T/e2d" || fail "control characters in a link name: $(cat "$T/e2d")"
ok "unknown code, wrong secret, unapproved, timed-out and killed links and a bad name are refused; nothing is added"

# ---- remove-device: the removed device cannot authenticate; its queue goes ----
as bob send alice "queued for the tablet" >/dev/null 2>&1
[ "$(copies_for "$a3")" -eq 1 ] || fail "no copy queued for alice3"
# alice3 is connected and waiting when it is removed: that connection must end.
as alice3 receive --wait 60 >"$T/w3.out" 2>"$T/w3.err" &
wp=$!
for i in $(seq 1 100); do [ -s "$T/w3.out" ] && break; sleep 0.1; done
grep -q "queued for the tablet" "$T/w3.out" || fail "alice3 did not get its queued copy: $(cat "$T/w3.out" "$T/w3.err")"
as alice2 remove-device "$a3" >"$T/rm" || fail "remove-device: $(cat "$T/rm")"
grep -q "^removed $a3" "$T/rm" || fail "remove output: $(cat "$T/rm")"
for i in $(seq 1 100); do kill -0 "$wp" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$wp" 2>/dev/null; then kill "$wp"; fail "the removed device's open connection was not closed"; fi
wait "$wp" 2>/dev/null || true
[ "$(copies_for "$a3")" -eq 0 ] || fail "the removed device's copies are still queued"
expect_fail "$T/e3" as alice3 receive
expect_fail "$T/e4" as alice3 send bob "still here?"
for e in e3 e4; do
	grep -q "refused this device: it is not in its account's device list" "$T/$e" || fail "removed device, $e: $(cat "$T/$e")"
done
as alice receive >/dev/null 2>&1
as alice alerts --json | jq -e --arg i "$a3" 'select(.kind == "device_removed" and .device == $i)' >/dev/null ||
    fail "alice did not see device_removed"
expect_fail "$T/e5" as alice2 remove-device "$a2"
as bob send alice "after removal" >/dev/null 2>"$T/bwarn2"
grep -q "removed \"alice-tablet\"" "$T/bwarn2" || fail "bob was not warned of the removal: $(cat "$T/bwarn2")"
ok "removed device refused ($(cat "$T/e3")), its queue deleted, alice and bob told"

# ---- directory_unreachable: once per outage, after the configured time ----
server_stop
expect_fail "$T/e6" as alice2 receive
[ "$(alerts_of alice2 directory_unreachable)" -eq 0 ] || fail "an outage shorter than the threshold (24 h) raised an alert"
export SOTTO_DIRECTORY_ALERT_SECONDS=1
# unreachable_alerts N: one more failed check; then alice2 holds N such alerts.
unreachable_alerts() {
	expect_fail "$T/e7" as alice2 receive
	[ "$(alerts_of alice2 directory_unreachable)" -eq "$1" ]
}
# Once the outage is older than the threshold, a failed check alerts; more
# checks in the same outage do not alert again.
wait_for 60 unreachable_alerts 1
unreachable_alerts 1 || fail "directory_unreachable alerts: $(alerts_of alice2 directory_unreachable)"
server_start
as alice2 receive >/dev/null
[ "$(alerts_of alice2 directory_unreachable)" -eq 1 ] || fail "a good check raised an alert"
# A good check ended the outage: the next one is alerted again.
server_stop
wait_for 60 unreachable_alerts 2
unreachable_alerts 2 || fail "a second outage alerted twice: $(alerts_of alice2 directory_unreachable)"
server_start
# A server that answers, but refuses the device, hides the account's list just
# as well: alice3 (removed above, so refused) is alerted too, with the reason.
expect_fail "$T/e10" as alice3 receive
as alice3 alerts --json >"$T/a3-alerts"
jq -e -s 'map(select(.kind == "directory_unreachable" and (.text | contains("not authenticated")))) | length == 1' "$T/a3-alerts" >/dev/null ||
    fail "a device the server refuses was not alerted: $(cat "$T/a3-alerts")"
unset SOTTO_DIRECTORY_ALERT_SECONDS
ok "directory_unreachable: none within the threshold, once per outage, again after a good check, also for a refusing server"

server_stop
