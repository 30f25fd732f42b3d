# SPDX-License-Identifier: ISC
# Fan-out when the sender was shown an old list: the server refuses the send
# with the current versions (STALE_DEVICE_LIST); the client re-fetches, verifies
# the chain itself, warns that the contact's devices changed, and retries; the
# message then reaches every device of the list R's devices signed, once, and
# none is left out. sottod runs in its test mode SOTTOD_TEST_WITHHOLD_ONCE=r:
# the first lookup of r on each connection is answered without r's newest
# list, as a server withholding it would (an honest server never shows a list
# older than the one it checks sends against).
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init r
user_init s
as s send r "before the link" >/dev/null
as r receive >/dev/null
r1=$(own_device_id r)
link_device r r2 "r-phone"
r2=$(own_device_id r2)
server_stop

SOTTOD_TEST_WITHHOLD_ONCE=r server_start
grep -q "event=test_mode" "$T/server.log" || fail "sottod did not announce its test mode"
as s send r "after the link" >"$T/send.out" 2>"$T/send.err" || fail "send: $(cat "$T/send.err")"
id=$(sed -n 's/^sent //p' "$T/send.out")
[ ${#id} -eq 32 ] || fail "send printed no id: $(cat "$T/send.out")"
# The server did withhold, then refused the send as stale, and S retried.
grep -q "event=test_withheld .*handle=r" "$T/server.log" || fail "the server did not withhold r's list"
grep -Eq "^sotto: warning: r's devices changed: added \"r-phone\" \(fingerprint [0-9a-f ]{39}\)" "$T/send.err" ||
    fail "no warning on the retried send: $(cat "$T/send.err")"
[ "$(alerts_of s contact_devices_changed)" -eq 1 ] || fail "S has no contact_devices_changed alert"
# S now holds r's version 2, verified from version 1.
[ "$(sqlite3 "$T/home-s/sotto.db" "SELECT max(version) FROM device_lists WHERE handle = 'r';")" -eq 2 ] ||
    fail "S did not verify r's newer list"
# Exactly one copy for each of r's devices: none dropped, none added.
[ "$(copies_for "$r1")" -eq 1 ] && [ "$(copies_for "$r2")" -eq 1 ] ||
    fail "copies: r1 $(copies_for "$r1"), r2 $(copies_for "$r2")"
[ "$(sql "SELECT count(*) FROM copies;")" -eq 2 ] || fail "copies queued: $(sql "SELECT count(*) FROM copies;")"
for u in r r2; do
	as "$u" receive --json >"$T/recv-$u"
	jq -e -s --arg i "$id" 'map(select(.id == $i and .body == "after the link")) | length == 1' "$T/recv-$u" >/dev/null ||
	    fail "$u did not get the message once: $(cat "$T/recv-$u")"
done
ok "stale send refused, S re-fetched and verified r's new list, warned, retried: one copy each for r1 and r2"

server_stop
