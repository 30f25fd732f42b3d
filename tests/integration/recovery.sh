# SPDX-License-Identifier: ISC
# Recovery when every device is lost: `sotto recover` rebuilds the account key
# from the recovery code, publishes a list with only the new device signed by
# that key; the safety number stays the same on both sides, contacts see the
# account's devices changed, old devices are refused and their queues deleted.
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init alice
user_init bob
code=$(sed -n 's/^recovery code: //p' "$T/init-alice.out")
[ ${#code} -eq 43 ] || fail "init showed no recovery code"
link_device alice alice2 "alice-phone"
old1=$(own_device_id alice)
old2=$(own_device_id alice2)
as bob send alice "hello" >/dev/null 2>&1
as alice receive >/dev/null
sn_bob=$(as bob safety-number alice)
sn_alice=$(as alice safety-number bob)
[ "$sn_bob" = "$sn_alice" ] || fail "safety numbers differ before recovery"
# bob verifies alice's number (as read out by alice): shown from then on.
[ "$(as bob devices alice --json | jq -rs 'map(.verified) | unique | tostring')" = '[false]' ] || fail "verified before verify"
expect_fail "$T/v0" as bob verify alice "$(( (${sn_alice:0:1} + 1) % 10 ))${sn_alice:1}"
grep -q "safety number does not match for alice" "$T/v0" || fail "wrong number: $(cat "$T/v0")"
[ "$(as bob verify alice "$sn_alice")" = "verified alice" ] || fail "verify with the right number"
[ "$(as bob devices alice --json | jq -rs 'map(.verified) | unique | tostring')" = '[true]' ] || fail "verify not shown by devices --json"
as bob devices alice | grep -qx "safety number verified" || fail "verify not shown by devices"
as bob send alice "sent while alice's devices are lost" >/dev/null
[ "$(copies_for "$old1")" -eq 1 ] && [ "$(copies_for "$old2")" -eq 2 ] || fail "copies not queued for the old devices"

# Every device is lost (alice2's home is kept aside to show it is refused).
mv "$T/home-alice2" "$T/lost-alice2"
rm -rf "$T/home-alice"

expect_fail "$T/e1" as alice-new recover --handle alice --code "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
    --server "$ADDR" --pin "$PIN" --no-passphrase
grep -qi "not the one of alice" "$T/e1" || fail "wrong code: $(cat "$T/e1")"
[ ! -e "$T/home-alice-new/sotto.db" ] || fail "a failed recovery left a device behind"
as alice-new recover --handle alice --code "$code" --server "$ADDR" --pin "$PIN" \
    --device-name "alice-new" --no-passphrase >"$T/rec" || fail "recover: $(cat "$T/rec")"
new=$(sed -n 's/^device id: //p' "$T/rec")
ok "recovered alice as device $new"

as alice-new devices --json >"$T/dn"
[ "$(jq -s length "$T/dn")" -eq 1 ] && [ "$(jq -r .id "$T/dn")" = "$new" ] || fail "devices after recovery: $(cat "$T/dn")"
[ "$(jq -r .approved_by "$T/dn")" = account ] || fail "the recovery list is not signed by the account key"
[ "$(sqlite3 "$T/home-alice-new/sotto.db" "SELECT count(*) FROM device_lists WHERE handle = 'alice';")" -eq 3 ] ||
    fail "the recovered device lacks the history"
[ "$(copies_for "$old1")" -eq 0 ] && [ "$(copies_for "$old2")" -eq 0 ] || fail "old devices' queues were kept"
expect_fail "$T/e2" as lost-alice2 receive
ok "only the new device is listed (signed by the account key); old queues deleted; old device refused"

[ "$(as alice-new safety-number bob)" = "$sn_alice" ] || fail "alice's safety number changed"
as bob send alice "welcome back" >/dev/null 2>"$T/bw" || fail "bob send: $(cat "$T/bw")"
[ "$(as bob safety-number alice)" = "$sn_bob" ] || fail "bob's safety number for alice changed"
# Same account key: what bob verified still holds.
[ "$(as bob devices alice --json | jq -rs 'map(.verified) | unique | tostring')" = '[true]' ] || fail "recovery lost bob's verification"
grep -q "alice's devices changed: added \"alice-new\"" "$T/bw" || fail "bob not warned: $(cat "$T/bw")"
grep -q "the account was recovered" "$T/bw" || fail "bob's warning does not say recovery: $(cat "$T/bw")"
as bob alerts --json >"$T/ba"
jq -e 'select(.kind == "contact_devices_changed" and (.text | contains("removed \"alice-laptop\"")))' "$T/ba" >/dev/null ||
    fail "bob's alert: $(cat "$T/ba")"
if jq -e 'select(.kind == "identity_reset")' "$T/ba" >/dev/null; then fail "recovery looked like an identity reset to bob"; fi
as alice-new receive --json >"$T/an"
[ "$(jq -r .body "$T/an")" = "welcome back" ] || fail "alice-new got: $(cat "$T/an")"
as alice-new send bob "I am back" >/dev/null
as bob receive --json | jq -e 'select(.body == "I am back")' >/dev/null || fail "bob did not get alice-new's message"
ok "same safety number on both sides; bob warned (contact_devices_changed, recovered); messages flow"

server_stop
