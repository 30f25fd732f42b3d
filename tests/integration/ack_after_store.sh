# SPDX-License-Identifier: ISC
# Ack after store: `sotto receive` acknowledges a copy to the server only once
# it is committed to the device's own database (lib/client/client_receive.c:
# store_batch, then ack), so a receive whose store fails loses nothing. Bob has
# one copy queued; his store is made to refuse the write while he receives:
#  1. another process holds the write lock on home-bob/sotto.db (BEGIN
#     EXCLUSIVE; the client's busy timeout, 5 s, runs out);
#  2. a trigger makes the INSERT into messages fail inside the transaction
#     (as a full disk would; deterministic, and works as root, where a
#     read-only file would not stop the write).
# Each time: receive fails with one `sotto: ...` line and prints nothing, the
# message is not in bob's history, and the copy is STILL on the server; once
# the store works again, the next receive shows it once and the copy is gone.
# An ack sent before the store (or despite its failure) deletes the copy, and
# the message is lost: this test fails.
. "$(dirname "$0")/lib.sh"

BOB_DB="$T/home-bob/sotto.db"	# CLIENT_DB_NAME (lib/client/client.h)

server_init
server_start
user_init alice
user_init bob
[ -f "$BOB_DB" ] || fail "no client database at $BOB_DB"
bob_dev=$(device_id_of bob)

# bob learns alice's list first: with it stored, the receives below write to
# his database only to store the message (and the best-effort directory check
# time), so the failure comes from the store step, after the fetch.
as alice send bob "first, to learn alice's list" >/dev/null
as bob receive --json >"$T/r0"
[ "$(jq -r .body "$T/r0")" = "first, to learn alice's list" ] || fail "bob got: $(cat "$T/r0")"
[ "$(copies_for "$bob_dev")" = 0 ] || fail "first copy not deleted after the ack"

# bob_history_has BODY: how many of bob's stored messages have that body.
bob_history_has() { as bob history --json | jq -s --arg b "$1" '[.[] | select(.body == $b)] | length'; }

# received_once BODY TAG: a receive now succeeds, shows BODY exactly once and
# nothing else, and deletes the copy.
received_once() {
	timeout 60 "$SOTTO" --home "$T/home-bob" receive --json >"$T/ok-$2" 2>"$T/ok-$2.err" ||
	    fail "receive after $2 failed: $(cat "$T/ok-$2.err")"
	[ "$(jq -s length "$T/ok-$2")" = 1 ] && [ "$(jq -r .body "$T/ok-$2")" = "$1" ] ||
	    fail "receive after $2 did not show the message exactly once: $(cat "$T/ok-$2")"
	[ "$(copies_for "$bob_dev")" = 0 ] || fail "copy still on the server after the receive that stored it ($2)"
	[ "$(bob_history_has "$1")" = 1 ] || fail "message not stored exactly once in bob's history ($2)"
	timeout 60 "$SOTTO" --home "$T/home-bob" receive --json >"$T/again-$2" ||
	    fail "receive after $2 (again) failed"
	[ ! -s "$T/again-$2" ] || fail "shown again after $2: $(cat "$T/again-$2")"
}

# failed_receive TAG BODY: receive fails without showing, storing or acking.
failed_receive() {
	local t0=$SECONDS
	expect_fail "$T/fail-$1.err" timeout 60 "$SOTTO" --home "$T/home-bob" receive --json
	[ ! -s "$T/fail-$1.err.stdout" ] || fail "receive ($1) printed: $(cat "$T/fail-$1.err.stdout")"
	echo "receive ($1) failed after $((SECONDS - t0)) s: $(cat "$T/fail-$1.err")"
	[ "$(copies_for "$bob_dev")" = 1 ] ||
	    fail "($1) the copy was acknowledged though bob's store failed: message lost (copies left: $(copies_for "$bob_dev"))"
}

# ---- 1. the database is locked by another process ----
msg1="kept while bob's store is locked"
as alice send bob "$msg1" >/dev/null
[ "$(copies_for "$bob_dev")" = 1 ] || fail "expected 1 queued copy for bob, got $(copies_for "$bob_dev")"

# probe_locked: 0 if another connection holds bob's write lock (no waiting).
probe_locked() {
	local out
	if out=$(sqlite3 -batch -cmd ".timeout 0" "$BOB_DB" "BEGIN IMMEDIATE; ROLLBACK;" 2>&1); then return 1; fi
	case $out in *"database is locked"*) return 0 ;; esac
	fail "lock probe failed otherwise: $out"
}
probe_locked && fail "bob's database is locked before the test locks it"

mkfifo "$T/lock.fifo"
sqlite3 -batch "$BOB_DB" <"$T/lock.fifo" >"$T/lock.out" 2>&1 &
LOCK_PID=$!
BG_PIDS+=("$LOCK_PID")
exec 7>"$T/lock.fifo"
echo "BEGIN EXCLUSIVE; SELECT 'locked';" >&7
for i in $(seq 1 100); do
	grep -qx locked "$T/lock.out" && break
	kill -0 "$LOCK_PID" 2>/dev/null || fail "the lock holder exited: $(cat "$T/lock.out")"
	sleep 0.05
done
grep -qx locked "$T/lock.out" || fail "the lock holder did not take the lock within 5 s: $(cat "$T/lock.out")"
probe_locked || fail "bob's database is not locked though BEGIN EXCLUSIVE said so"
ok "bob's database write-locked by another process (1 copy queued)"

failed_receive locked
kill -0 "$LOCK_PID" 2>/dev/null || fail "the lock holder exited during the receive"
probe_locked || fail "the lock was gone before the receive ended: the test proved nothing"
ok "receive with the store locked: fails, shows nothing, the copy stays on the server"

echo "ROLLBACK;" >&7
exec 7>&-
for i in $(seq 1 100); do kill -0 "$LOCK_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$LOCK_PID" 2>/dev/null && fail "the lock holder did not exit within 5 s"
wait "$LOCK_PID" 2>/dev/null || true
probe_locked && fail "bob's database still locked after the release"
[ "$(bob_history_has "$msg1")" = 0 ] || fail "message in bob's history though its store failed"
received_once "$msg1" lock
ok "lock released: the next receive shows the message once and the copy is deleted"

# ---- 2. the INSERT fails inside the store's transaction ----
msg2="kept while bob's store refuses the insert"
as alice send bob "$msg2" >/dev/null
[ "$(copies_for "$bob_dev")" = 1 ] || fail "expected 1 queued copy for bob, got $(copies_for "$bob_dev")"
sqlite3 -batch "$BOB_DB" "CREATE TRIGGER aas_full BEFORE INSERT ON messages
    BEGIN SELECT RAISE(ABORT, 'database or disk is full (test)'); END;"
ok "bob's store made to refuse new messages (trigger)"

failed_receive insert
[ "$(bob_history_has "$msg2")" = 0 ] || fail "message in bob's history though its insert failed"
ok "receive with the insert refused: fails, shows nothing, the copy stays on the server"

sqlite3 -batch "$BOB_DB" "DROP TRIGGER aas_full;"
received_once "$msg2" insert
ok "store repaired: the next receive shows the message once and the copy is deleted"
server_stop
