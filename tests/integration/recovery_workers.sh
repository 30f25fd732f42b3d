# SPDX-License-Identifier: ISC
# Issue 11 item 10: one publish path. With workers = 2, a recovery taken by one
# worker must reach the other: the old device's connections held there are
# closed (device_removed) at once, as for any publish. Before, recovery stored
# the list without announcing it, and the old device kept its connection on
# the other worker until it went away by itself.
. "$(dirname "$0")/lib.sh"

server_init
server_conf workers 2
server_start
user_init alice
code=$(sed -n 's/^recovery code: //p' "$T/init-alice.out")
[ ${#code} -eq 43 ] || fail "init showed no recovery code"

# The old device waits for pushes on N connections (copies of its home, one
# connection each): SO_REUSEPORT spreads them, so some land on the worker
# that will not take the recovery (checked below, by pid). Four more at a time
# until both workers hold some (at most 32).
WAIT=60
N=0
# Only the receives' authentications count (init's own came before).
base=$(grep -c "event=auth_ok .*handle=alice " "$T/server.log" || true)
receive_auths() { grep "event=auth_ok .*handle=alice " "$T/server.log" | tail -n +$((base + 1)); }
authed() { receive_auths | wc -l; }
while [ $N -lt 32 ]; do
	for _ in 1 2 3 4; do
		N=$((N + 1))
		cp -a "$T/home-alice" "$T/home-old$N"
		( rc=0; as "old$N" receive --wait $WAIT >"$T/old$N.out" 2>"$T/old$N.err" || rc=$?; echo $rc >"$T/old$N.rc" ) &
		BG_PIDS+=($!)
	done
	for _ in $(seq 1 200); do
		[ "$(authed)" -ge $N ] && break
		sleep 0.05
	done
	[ "$(authed)" -ge $N ] || fail "the old device's connections did not all authenticate"
	pids=$(receive_auths | sed -n 's/.* pid=\([0-9]*\) .*/\1/p' | sort -u | wc -l)
	[ "$pids" -eq 2 ] && break
done
[ "$pids" -eq 2 ] || fail "the old device's $N connections all landed on one worker"
ok "the old device holds $N connections over both workers"

rm -rf "$T/home-alice"
t0=$(date +%s%N)
as alice-new recover --handle alice --code "$code" --server "$ADDR" --pin "$PIN" \
    --device-name "alice-new" --no-passphrase >"$T/rec" || fail "recover: $(cat "$T/rec")"
rec_pid=$(grep "event=recovered .*handle=alice " "$T/server.log" | sed -n 's/.* pid=\([0-9]*\) .*/\1/p' | tail -n 1)
[ -n "$rec_pid" ] || fail "no recovered line in the server log"

# Every old connection ends well before its --wait does (deadline: a third of it).
for i in $(seq 1 $N); do
	for _ in $(seq 1 400); do [ -e "$T/old$i.rc" ] && break; sleep 0.05; done
	[ -e "$T/old$i.rc" ] || fail "old connection $i still open 20 s after the recovery"
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
other=$(grep "event=device_removed .*handle=alice version=2 reason=\"not in the account's device list\"" \
    "$T/server.log" | grep -vc " pid=$rec_pid " || true)
[ "$other" -ge 1 ] || fail "no old connection was closed by the worker that did not take the recovery"
ok "all $N old connections closed within $ms ms of the recovery, $other of them by the other worker"
for i in $(seq 1 $N); do
	[ "$(cat "$T/old$i.rc")" -ne 0 ] || fail "old connection $i: receive ended as if nothing happened"
done
head -n 1 "$T/old1.err"
ok "the old device's receives end with an error"

server_stop
