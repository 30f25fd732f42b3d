# SPDX-License-Identifier: ISC
# Issue 11 item 7: a device list holding a low-order X25519 key. bob's device
# signs (validly) a next list adding such a device. The real sottod refuses it
# at publish (BAD_KEY, named). A server that stores it anyway (written into
# its database here, as one that skipped the check would) hands it to alice:
# her client treats the list as invalid and says whose it is. Before, sottod
# took it and every send to bob failed with "cryptographic operation failed",
# naming nobody.
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init alice
user_init bob
as alice send bob "before" >/dev/null
as bob receive >/dev/null

bad=$(forge badkey "$T/home-bob")
rc=0
forge publish "$T/home-bob" "$bad" >"$T/pub" 2>&1 || rc=$?
grep -q "^publish 2: refused: a key in the device list is of small order or not canonical" "$T/pub" ||
    fail "sottod took the list with a low-order key: $(cat "$T/pub")"
[ "$(sql "SELECT count(*) FROM device_lists WHERE handle = 'bob';")" -eq 1 ] || fail "the list was stored"
ok "sottod refuses a list with a low-order X25519 key at publish (BAD_KEY)"

# A hostile (or older) server stores it all the same.
sql "INSERT INTO device_lists(handle, version, list) VALUES ('bob', 2, x'$bad');"
expect_fail "$T/send" as alice send bob "after"
grep -qx "sotto: a device list holds an unusable key (low order or not canonical): bob" "$T/send" ||
    fail "alice's send did not name bob's invalid list: $(cat "$T/send")"
if grep -q "cryptographic operation failed" "$T/send"; then fail "the old error"; fi
[ "$(sqlite3 "$T/home-alice/sotto.db" "SELECT max(version) FROM device_lists WHERE handle = 'bob';")" -eq 1 ] ||
    fail "alice stored the invalid list"
ok "a client handed such a list treats it as invalid and names the handle"

server_stop
