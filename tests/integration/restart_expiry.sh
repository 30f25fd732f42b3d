# SPDX-License-Identifier: ISC
# Restarting the server (SIGTERM, and SIGKILL) loses no queued message; an
# expired copy is deleted and never delivered.
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init alice
user_init bob
bob_dev=$(device_id_of bob)

as alice send bob "before a clean restart" >/dev/null
server_stop
server_start
as alice send bob "before a crash" >/dev/null
server_kill
server_start
as bob receive --json >"$T/r1"
[ "$(jq -s length "$T/r1")" = 2 ] || fail "expected 2 messages after restarts: $(cat "$T/r1")"
jq -e -s 'map(.body) | sort == ["before a clean restart", "before a crash"]' "$T/r1" >/dev/null ||
    fail "wrong bodies: $(cat "$T/r1")"
[ "$(sqlite3 "$DIR/sottod.db" 'PRAGMA integrity_check;')" = ok ] || fail "integrity check"
ok "queued messages survive SIGTERM and SIGKILL restarts"

# Short expiry: a copy older than expiry_seconds is swept and never delivered.
server_stop
server_conf expiry_seconds 2
server_start
as alice send bob "this will expire" >/dev/null
[ "$(copies_for "$bob_dev")" = 1 ] || fail "copy not queued"
for i in $(seq 1 80); do
	[ "$(copies_for "$bob_dev")" = 0 ] && break
	sleep 0.1
done
[ "$(copies_for "$bob_dev")" = 0 ] || fail "expired copy still stored after 8 s"
as bob receive --json >"$T/r2"
[ ! -s "$T/r2" ] || fail "expired message delivered: $(cat "$T/r2")"
ok "expired copy deleted and not delivered"
server_stop
