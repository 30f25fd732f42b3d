# SPDX-License-Identifier: ISC
# Client checks that a working round trip cannot show (issue 11, item 14: each
# was a one-line change the rest of the suite did not notice):
# - a copy from a device its sender's verified list does not hold is rejected
#   as from an unknown device, never checked against another device's key;
# - `approve` takes no pickup but the new device's: a pickup the server (or
#   anyone) put in the rendezvous slot fails its check, nothing is published;
# - a device trusts its own account only under its own account key: after the
#   server replaced the account's lists with a forged version 1 (another
#   account key), `sotto trust` of the own handle is refused;
# - while a contact's identity reset waits for `trust`, a message from them is
#   not shown (not even one a device of their old list signed).
. "$(dirname "$0")/lib.sh"

server_init
server_conf link_offer_seconds 30
server_start
user_init alice
user_init bob
user_init carol

# ---- a copy from a removed device: rejected as from an unknown device ----
link_device alice alice2 "alice-phone"
a2=$(own_device_id alice2)
as alice2 send carol "from the phone" >/dev/null || fail "alice2's send"
as alice receive >/dev/null 2>&1 || true
as alice remove-device "$a2" >/dev/null || fail "remove-device"
# carol never saw alice's lists before: she fetches them now, without alice2.
as carol receive --json >"$T/c-recv" 2>"$T/c-recv.err" || fail "carol's receive: $(cat "$T/c-recv.err")"
[ ! -s "$T/c-recv" ] || fail "a message from a removed device was shown: $(cat "$T/c-recv")"
as carol alerts --json >"$T/c-alerts"
jq -e --arg d "$a2" 'select(.kind == "rejected_message" and .handle == "alice" and .device == $d and
    (.text | contains("not in its verified device list")))' "$T/c-alerts" >/dev/null ||
    fail "not rejected as from an unknown device: $(cat "$T/c-alerts")"
ok "a copy from a device not in the sender's list: rejected_message, unknown device"

# ---- approve: a pickup that is not the new device's is refused ----
# forged_pickup NEW HOW: a new device NEW of bob asks to link and stops (it
# will never post its pickup); the pickup slot gets a blob of someone else's
# making (HOW = junk: random bytes; HOW = other: made with the link code's key
# but naming a list nobody approved); bob's approve must refuse it and
# publish nothing.
forged_pickup() {
	local new=$1 how=$2 lp i code rid blob v_before
	"$SOTTO" --home "$T/home-$new" link --server "$ADDR" --pin "$PIN" --handle bob \
	    --device-name "$new" --no-passphrase --timeout 60 >"$T/link-$new.out" 2>"$T/link-$new.err" &
	lp=$!
	BG_PIDS+=("$lp")
	for i in $(seq 1 100); do
		[ -s "$T/link-$new.out" ] && break
		kill -0 "$lp" 2>/dev/null || break
		sleep 0.1
	done
	code=$(head -n 1 "$T/link-$new.out")
	[ ${#code} -eq 43 ] || fail "link printed no code: $(cat "$T/link-$new.out" "$T/link-$new.err")"
	kill -STOP "$lp"
	rid=$(sql "SELECT hex(id) FROM link_rendezvous WHERE slot = 0 AND id NOT IN (SELECT id FROM link_rendezvous WHERE slot > 0);")
	[ ${#rid} -ge 32 ] && [ "$(echo "$rid" | wc -l)" -eq 1 ] || fail "not one open offer in the rendezvous table: $rid"
	if [ "$how" = junk ]; then
		blob="randomblob(96)"
	else
		read -r frid blob < <(forge pickup "$code")
		[ "${frid^^}" = "$rid" ] || fail "the link code names rendezvous $frid, the table holds $rid"
		blob="X'$blob'"
	fi
	sql "INSERT INTO link_rendezvous(id, slot, blob, expires_at, used, owner) VALUES (X'$rid', 2, $blob,
	    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 120000, 0, zeroblob(16));"
	v_before=$(sql "SELECT max(version) FROM device_lists WHERE handle = 'bob';")
	if as bob approve "$code" --yes >"$T/approve-$new.out" 2>"$T/approve-$new.err"; then
		fail "approve accepted a forged pickup ($how): $(cat "$T/approve-$new.out")"
	fi
	grep -q "pickup failed its check" "$T/approve-$new.err" ||
	    fail "approve ($how): unclear refusal: $(cat "$T/approve-$new.err")"
	[ "$(sql "SELECT max(version) FROM device_lists WHERE handle = 'bob';")" = "$v_before" ] ||
	    fail "approve published a list after a forged pickup ($how)"
	[ "$(as bob devices --json | jq -s length)" -eq 1 ] || fail "bob's device believes $new was added"
	kill -KILL "$lp" 2>/dev/null || true
	wait "$lp" 2>/dev/null || true
	ok "approve refuses a pickup the new device did not make ($how): $(cat "$T/approve-$new.err")"
}
forged_pickup bob2 junk
forged_pickup bob3 other

# ---- while a contact's identity reset waits for `trust`, nothing of theirs is shown ----
# alice writes to carol, who has verified alice's lists; then the server
# forks alice's latest list. carol's next look at alice (a send) finds the
# fork: the reset is pending, and alice's message, though signed by a device
# of the list carol verified before, is held, not shown as from alice.
as alice send carol "during the reset" >/dev/null || fail "alice's send to carol"
server_stop
v=$(sql "SELECT max(version) FROM device_lists WHERE handle = 'alice';")
forked=$(forge same "$(latest_list_hex alice)")
sql "UPDATE device_lists SET list = X'$forked' WHERE handle = 'alice' AND version = $v;"
server_start
expect_fail "$T/c-send" as carol send alice "are you there"
grep -q "reset" "$T/c-send" || fail "carol's send was not refused for the reset: $(cat "$T/c-send")"
as carol receive --json >"$T/c-recv2" 2>/dev/null || true
if grep -q "during the reset" "$T/c-recv2"; then fail "carol was shown alice's message during the reset"; fi
ok "a message from a contact whose identity reset waits is not shown: $(cat "$T/c-send")"

# ---- the own account is never trusted from the server's word ----
real=$(sqlite3 "$T/home-bob/sotto.db" "SELECT hex(account_pub) FROM contacts WHERE handle = 'bob';")
[ ${#real} -eq 64 ] || fail "bob's device holds no account key for bob"
server_stop
# Another account key, bob's own device in it (so that it still authenticates).
fake=$(forge account bob "$(latest_list_hex bob)")
sql "DELETE FROM device_lists WHERE handle = 'bob'; INSERT INTO device_lists(handle, version, list) VALUES ('bob', 1, X'$fake');"
server_start
as bob receive >/dev/null 2>&1 || true
# `trust H --yes` where trust asks first, `trust H` where it does not.
trust_own() { as bob trust bob "$@" >"$T/trust.out" 2>"$T/trust.err" </dev/null; }
if trust_own --yes || { grep -q 'usage' "$T/trust.err" && trust_own; }; then
	fail "bob's device trusted another account key as its own: $(cat "$T/trust.out")"
fi
# Refused for what it is, not for the way it was asked.
if grep -qi 'usage\|terminal' "$T/trust.err"; then fail "trust was not tried: $(cat "$T/trust.err")"; fi
[ "$(sqlite3 "$T/home-bob/sotto.db" "SELECT hex(account_pub) FROM contacts WHERE handle = 'bob';")" = "$real" ] ||
    fail "bob's device now holds another account key for bob"
ok "a forged version 1 of the own account is not trusted: $(cat "$T/trust.err")"
