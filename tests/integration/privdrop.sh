# SPDX-License-Identifier: ISC
# Hardening as root: sottod refuses to keep running as root (no `user`:
# refused with a clear error; with one: every process runs as that user, groups
# then gid then uid dropped, after the port is bound and the key read, so the
# key file may stay root's). Skipped (CTest: Skipped) unless run as root, as CI
# and `make check` on a fresh machine are; hardening.sh holds the rest.
. "$(dirname "$0")/lib.sh"

is_root || skip "the privilege drop needs root (run as root, as CI does)"
need pgrep
server_init

conf=$(grep -v '^user = ' "$DIR/sottod.conf")
echo "$conf" >"$DIR/sottod.conf"
if "$SOTTOD" run "$DIR" >"$T/root.out" 2>"$T/root.err"; then fail "sottod ran as root without a user"; fi
grep -q 'refusing to run as root: set "user = NAME"' "$T/root.err" || fail "no clear refusal: $(cat "$T/root.err")"
ok "root without a user refused: $(tail -n 1 "$T/root.err")"
for u in root no-such-user-h10; do
	echo "user = $u" >>"$DIR/sottod.conf"
	if "$SOTTOD" run "$DIR" >"$T/u.out" 2>"$T/u.err"; then fail "sottod ran with user = $u"; fi
	grep -q "cannot drop privileges" "$T/u.err" || fail "user = $u: unclear error: $(cat "$T/u.err")"
	ok "user = $u refused: $(tail -n 1 "$T/u.err")"
	echo "$conf" >"$DIR/sottod.conf"
done
echo "user = $SOTTO_TEST_USER" >>"$DIR/sottod.conf"
server_start
# The key file stays root's own, 0600: it was read before the drop.
chown root:root "$DIR/server.key"
chmod 600 "$DIR/server.key"
server_stop
: >"$T/server.out"
"$SOTTOD" run "$DIR" >"$T/server.out" 2>>"$T/server.log" &
SPID=$!
for i in $(seq 1 100); do grep -q '^listening on ' "$T/server.out" && break; sleep 0.1; done
grep -q '^listening on ' "$T/server.out" || fail "sottod did not start with a root-owned key"
want=$(id -u "$SOTTO_TEST_USER")
wantg=$(id -g "$SOTTO_TEST_USER")
n=0
for p in "$SPID" $(pgrep -P "$SPID"); do
	uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$p/status")
	gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "/proc/$p/status")
	groups=$(awk '/^Groups:/ {$1 = ""; print}' "/proc/$p/status" | xargs)
	[ "$uids" = "$want $want $want $want" ] || fail "pid $p uids: $uids"
	[ "$gids" = "$wantg $wantg $wantg $wantg" ] || fail "pid $p gids: $gids"
	[ "$groups" = "$wantg" ] || fail "pid $p supplementary groups: $groups"
	n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "expected a supervisor and workers, saw $n processes"
grep -q "event=privileges_dropped user=$SOTTO_TEST_USER" "$T/server.log" || fail "no privileges_dropped line"
ok "$n sottod processes run as $SOTTO_TEST_USER (uid $want, gid $wantg, no other groups); root-owned key used"
user_init alice
user_init bob
as alice send bob "after the drop" >/dev/null
[ "$(as bob receive --json | jq -r .body)" = "after the drop" ] || fail "no traffic after the drop"
ok "traffic flows with the privileges dropped"
server_stop
