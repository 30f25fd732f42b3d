# SPDX-License-Identifier: ISC
# Issue 11 item 1, the upgrade: a store in which mallory already copied
# alice's device into her own list (which the server before device ownership
# accepted, making the devices row mallory's: INSERT OR REPLACE) is migrated
# to (account, device) queues from the devices table, so alice's queued copies
# are filed under mallory. Before the reclaim alice received nothing, mallory's
# next publish without the device deleted them, and alice could publish no
# list at all (DEVICE_TAKEN on her own device). Now the device authenticating
# as alice proves it hers: the server gives back the devices row and the
# queue (device_reclaimed), and from then on mallory's lists naming it are
# the ones refused.
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init alice
user_init bob
user_init mallory
alice_dev=$(own_device_id alice)
as bob send alice "one" >/dev/null
as bob send alice "two" >/dev/null
victim=$(latest_list_hex alice)
forge steal-hex "$T/home-mallory" "$victim" >"$T/lists"
with=$(sed -n 1p "$T/lists")
without=$(sed -n 2p "$T/lists")
server_stop

# The store as the server before device ownership left it after mallory's
# first publish: her version 2 naming alice's device stored, the devices row
# hers, copies without an account column (the upgrade fills it).
sql "DROP INDEX copies_queue; ALTER TABLE copies DROP COLUMN account;
     ALTER TABLE device_lists DROP COLUMN published_at;
     INSERT INTO device_lists(handle, version, list) VALUES ('mallory', 2, X'$with');
     UPDATE devices SET handle = 'mallory' WHERE hex(device_id) = upper('$alice_dev');"
server_start
queue_of() { sql "SELECT group_concat(DISTINCT account) FROM copies WHERE hex(device_id) = upper('$alice_dev');"; }
[ "$(queue_of)" = mallory ] || fail "the migrated store does not file alice's copies under mallory: '$(queue_of)'"

# alice's device authenticates (approving a new device of hers, which also
# publishes her next list): that takes back the device and its queue.
link_device alice alice2 alice-phone
grep -q "event=device_reclaimed .*handle=alice from=mallory device=$alice_dev copies=2" "$T/server.log" ||
    fail "no device_reclaimed log line: $(grep device_ "$T/server.log" || true)"
[ "$(sql "SELECT handle FROM devices WHERE hex(device_id) = upper('$alice_dev');")" = alice ] ||
    fail "the devices row of alice's device is not alice's"
[ "$(queue_of)" = alice ] || fail "alice's copies are not back in her queue: '$(queue_of)'"
ok "alice's device takes back its row and queue, and alice publishes again"

# mallory's publish without the device (her stored list still names it)
# purges her own queue of it, which is empty now: nothing of alice's.
forge publish "$T/home-mallory" "$without" >"$T/publish" 2>&1 || fail "mallory's publish: $(cat "$T/publish")"
[ "$(copies_for "$alice_dev")" -eq 2 ] || fail "mallory's publish purged alice's copies: $(copies_for "$alice_dev") left"
ok "mallory's publish without the device purges nothing of alice's"

# And mallory listing it again is refused, as for any device another holds
# (her home first learns her versions 2 and 3, so the next one chains).
as mallory devices >/dev/null
rc=0
forge steal "$T/home-mallory" "$(latest_list_hex alice)" >"$T/steal" 2>&1 || rc=$?
grep -q "^publish 4: refused: a device in the list belongs to another account" "$T/steal" ||
    fail "mallory's list with alice's device was not refused as taken: $(cat "$T/steal")"
[ "$rc" -ne 0 ] || fail "mallory's list with alice's device was taken"
ok "mallory's lists naming alice's device are refused (DEVICE_TAKEN)"

as alice receive --json >"$T/got"
got=$(jq -rs 'map(.body) | sort | tostring' "$T/got")
[ "$got" = '["one","two"]' ] || fail "alice lost the copies queued before the upgrade: $got"
ok "alice keeps her mail across the upgrade"

as bob send alice "three" >/dev/null
as alice receive --json | jq -e 'select(.body == "three")' >/dev/null || fail "alice did not get the third"
ok "later messages flow"

server_stop
