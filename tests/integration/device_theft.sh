# SPDX-License-Identifier: ISC
# Issue 11 item 1: no account touches another account's devices or queues.
# mallory, a registered user, copies alice's device public keys (anyone may
# look them up) into her own list, publishes it, then publishes the next
# version without them. Before the fix the server took that as mallory
# removing those devices and deleted every copy queued for their ids: alice's
# mail, gone, and she never knew it had been sent. Now a device id belongs to
# one account (DEVICE_TAKEN) and queues are (account, device): alice gets
# every message.
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init alice
user_init bob
user_init mallory
alice_dev=$(own_device_id alice)

as bob send alice "one" >/dev/null
as bob send alice "two" >/dev/null
[ "$(copies_for "$alice_dev")" -eq 2 ] || fail "bob's copies not queued for alice"

# mallory's two publishes: alice's devices in, then out.
victim=$(latest_list_hex alice)
rc=0
forge steal "$T/home-mallory" "$victim" >"$T/steal" 2>&1 || rc=$?
cat "$T/steal"
grep -q "^publish 2: refused: a device in the list belongs to another account" "$T/steal" ||
    fail "mallory's list with alice's device was not refused as taken: $(cat "$T/steal")"
[ "$rc" -ne 0 ] || fail "the attack's publishes were both taken"
ok "a list naming another account's device is refused (DEVICE_TAKEN)"

[ "$(sql "SELECT count(*) FROM device_lists WHERE handle = 'mallory';")" -eq 1 ] ||
    fail "mallory's list was stored"
[ "$(sql "SELECT handle FROM devices WHERE hex(device_id) = upper('$alice_dev');")" = alice ] ||
    fail "alice's device changed owner"
[ "$(copies_for "$alice_dev")" -eq 2 ] || fail "alice's queue lost copies: $(copies_for "$alice_dev") left"

as alice receive --json >"$T/got"
[ "$(jq -rs 'map(.body) | sort | tostring' "$T/got")" = '["one","two"]' ] ||
    fail "alice did not get both messages: $(cat "$T/got")"
ok "alice still gets both messages after mallory's publishes"

# The server said who tried.
grep -q "event=device_taken .*handle=mallory" "$T/server.log" || fail "no device_taken log line"

# A message sent after the attempt still reaches alice too.
as bob send alice "three" >/dev/null
as alice receive --json | jq -e 'select(.body == "three")' >/dev/null || fail "alice did not get the third"
ok "later messages flow"

server_stop
