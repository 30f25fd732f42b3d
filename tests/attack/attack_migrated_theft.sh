# SPDX-License-Identifier: ISC
# Attack (issue 11 item 1, the upgrade): a store in which mallory already
# copied alice's device into her own list (which the server before device
# ownership accepted, making the devices row mallory's: INSERT OR REPLACE) is
# migrated to (account, device) queues from the devices table, so alice's
# queued copies become mallory's queue: alice receives nothing, mallory's next
# publish without the device deletes them, and until then alice can publish
# no list at all (DEVICE_TAKEN on her own device). Expected: alice still gets
# both messages. Fails today. Not in the suite (tests/attack is not globbed).
# Run: SOTTOD=build/sottod SOTTO=build/sotto SOTTO_FORGE=build/tests/sotto_forge \
#      bash tests/attack/attack_migrated_theft.sh
. "$(dirname "$0")/../integration/lib.sh"

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

# The store as the server before the fix left it after mallory's first
# publish: her version 2 naming alice's device stored, the devices row hers,
# copies without an account column.
sql "DROP INDEX copies_queue; ALTER TABLE copies DROP COLUMN account;
     ALTER TABLE device_lists DROP COLUMN published_at;
     INSERT INTO device_lists(handle, version, list) VALUES ('mallory', 2, X'$with');
     UPDATE devices SET handle = 'mallory' WHERE hex(device_id) = upper('$alice_dev');"
server_start
echo "after migration: alice's copies are queued for account '$(sql "SELECT DISTINCT account FROM copies WHERE hex(device_id) = upper('$alice_dev');")'"

# alice's own publishes are refused while mallory's list names her device.
link_ok=1
"$SOTTO" --home "$T/home-alice2" link --server "$ADDR" --pin "$PIN" --handle alice \
    --device-name alice-phone --no-passphrase --timeout 20 >"$T/link.out" 2>"$T/link.err" &
lp=$!
for i in $(seq 1 100); do [ -s "$T/link.out" ] && break; sleep 0.1; done
as alice approve "$(head -n 1 "$T/link.out")" --yes >"$T/approve" 2>&1 || link_ok=0
kill "$lp" 2>/dev/null || true
echo "alice links a device: $([ $link_ok -eq 1 ] && echo ok || echo "refused: $(cat "$T/approve")")"

forge publish "$T/home-mallory" "$without" || true
echo "alice's copies left after mallory's publish: $(copies_for "$alice_dev")"
as alice receive --json >"$T/got" || true
got=$(jq -rs 'map(.body) | sort | tostring' "$T/got")
echo "alice received: $got"
[ $link_ok -eq 1 ] || fail "alice cannot publish: mallory's migrated list holds her device"
[ "$got" = '["one","two"]' ] || fail "alice lost the copies queued before the upgrade: $got"
ok "alice keeps her mail across the upgrade"
