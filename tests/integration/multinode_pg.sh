# SPDX-License-Identifier: ISC
# Two sottod nodes sharing one PostgreSQL (storage = postgres): a device
# connected to node 1 sends to a device waiting on node 2, and node 2 pushes it
# at once, woken by LISTEN/NOTIFY (no polling). Node 2 reuses node 1's server
# key, so one pin fits both (docs/OPERATIONS.md). Skipped (CTest: Skipped) only
# when SOTTO_TEST_PG (a conninfo of a role that may create databases) is unset.
. "$(dirname "$0")/lib.sh"

[ -n "${SOTTO_TEST_PG:-}" ] ||
    skip "multinode_pg needs SOTTO_TEST_PG (a PostgreSQL conninfo); make check sets one (scripts/with-test-pg.sh)"
need psql

# A database of its own, dropped at the end.
DB="sotto_it_$$_$RANDOM"
psql -q "$SOTTO_TEST_PG" -c "CREATE DATABASE $DB" || fail "cannot create database $DB"
case "$SOTTO_TEST_PG" in
	postgres://* | postgresql://*)
		case "$SOTTO_TEST_PG" in *\?*) PGURL="$SOTTO_TEST_PG&dbname=$DB" ;; *) PGURL="$SOTTO_TEST_PG?dbname=$DB" ;; esac ;;
	*) PGURL="$SOTTO_TEST_PG dbname=$DB" ;;
esac
[ "$(psql -tA "$PGURL" -c 'SELECT current_database()')" = "$DB" ] || fail "conninfo does not reach $DB"
SPID2=
drop_db() {
	[ -n "$SPID2" ] && { kill -TERM "$SPID2" 2>/dev/null || true; wait "$SPID2" 2>/dev/null || true; }
	[ -n "$SPID" ] && { kill -TERM "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=; }
	psql -q "$SOTTO_TEST_PG" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	cleanup
}
trap drop_db EXIT

pg_conf() {
	echo "storage = postgres" >>"$1/sottod.conf"
	echo "postgres_url = $PGURL" >>"$1/sottod.conf"
	echo "workers = 2" >>"$1/sottod.conf"
	# event=fetch: when a waiting receive is pushed to (fetching_since).
	echo "log_level = debug" >>"$1/sottod.conf"
}

# Node 1: lib.sh's server (DIR, ADDR, PIN, SPID).
server_init
pg_conf "$DIR"
server_start
ok "node 1 on $ADDR"

# Node 2: its own directory and port, node 1's key and certificate.
DIR2="$T/server2"
PORT2=$(free_port)
ADDR2="127.0.0.1:$PORT2"
"$SOTTOD" init "$DIR2" --address "$ADDR2" >"$T/init2.out"
cp "$DIR/server.key" "$DIR/server.crt" "$DIR2/"
chmod 600 "$DIR2/server.key"
pg_conf "$DIR2"
server_dir_prepare "$DIR2"
"$SOTTOD" run "$DIR2" >"$T/server2.out" 2>>"$T/server2.log" &
SPID2=$!
for _ in $(seq 1 100); do grep -q "^listening on " "$T/server2.out" && break; sleep 0.1; done
grep -q "^listening on 127.0.0.1:$PORT2$" "$T/server2.out" || fail "node 2 did not start: $(tail -n 5 "$T/server2.log")"
ok "node 2 on $ADDR2, same database, same key"

# alice registers on node 1, bob on node 2 (invites made by either node's
# directory land in the shared database).
user_init alice
as bob init --invite "$("$SOTTOD" invite "$DIR2" bob | tail -n 1)" --handle bob --device-name bob-laptop \
    --no-passphrase >"$T/init-bob.out" || fail "init bob: $(cat "$T/init-bob.out")"
as alice devices bob >/dev/null || fail "node 1 does not see bob, registered on node 2"
ok "alice (node 1) sees bob (node 2) in the shared directory"

# bob waits on node 2; alice sends through node 1.
# The send waits for bob's first Fetch to be answered: sent before, the message
# would be in that answer, and no push across nodes would be tested.
mark=$(log_mark "$T/server2.log")
( as bob receive --wait 60 --json >"$T/got-bob" 2>"$T/err-bob"; date +%s%N >"$T/done-bob" ) &
BG_PIDS+=($!)
wait_for 30 fetching_since "$mark" 1 "$T/server2.log"
grep -q "event=auth_ok .*handle=bob " "$T/server2.log" || fail "bob did not connect to node 2"
t0=$(date +%s%N)
as alice send bob "across nodes" >/dev/null || fail "send through node 1 failed"
t1=$(date +%s%N)
for _ in $(seq 1 100); do [ -e "$T/done-bob" ] && break; sleep 0.05; done
[ -e "$T/done-bob" ] || fail "bob (node 2) did not get the message within 5 s of the send"
[ "$(jq -r .body "$T/got-bob")" = "across nodes" ] || fail "bob got: $(cat "$T/got-bob")"
grep -q "event=auth_ok .*handle=alice " "$T/server.log" || fail "alice did not send through node 1"
! grep -q "event=auth_ok .*handle=alice " "$T/server2.log" || fail "alice reached node 2 too"
send_ms=$(( (t1 - t0) / 1000000 ))
push_ms=$(( ($(cat "$T/done-bob") - t1) / 1000000 ))
total_ms=$(( ($(cat "$T/done-bob") - t0) / 1000000 ))
[ "$total_ms" -lt 5000 ] || fail "cross-node delivery took $total_ms ms"
ok "node 1 -> node 2 pushed at once: $total_ms ms from send start ($send_ms ms sotto send, $push_ms ms after it returned)"
[ "$(psql -tA "$PGURL" -c 'SELECT count(*) FROM copies')" = 0 ] || fail "copy left in PostgreSQL after bob's ack"
ok "bob's ack through node 2 deleted the copy in the shared database"

# The other direction, and a second message on a warm connection.
mark=$(log_mark)
( as alice receive --wait 60 --json >"$T/got-alice"; date +%s%N >"$T/done-alice" ) &
BG_PIDS+=($!)
wait_for 30 fetching_since "$mark" 1
t0=$(date +%s%N)
as bob send alice "and back" >/dev/null
for _ in $(seq 1 100); do [ -e "$T/done-alice" ] && break; sleep 0.05; done
[ -e "$T/done-alice" ] || fail "alice (node 1) did not get bob's message within 5 s"
[ "$(jq -r .body "$T/got-alice")" = "and back" ] || fail "alice got: $(cat "$T/got-alice")"
ok "node 2 -> node 1 pushed at once: $(( ($(cat "$T/done-alice") - t0) / 1000000 )) ms"

kill -TERM "$SPID2"
rc=0
wait "$SPID2" || rc=$?
SPID2=
[ $rc -eq 0 ] || fail "node 2 exited $rc on SIGTERM"
server_stop
ok "both nodes stop cleanly"
