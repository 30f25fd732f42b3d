# SPDX-License-Identifier: ISC
# A worker out of file descriptors: sottod runs with an open-file limit of 128
# and 400 TCP connections that never speak arrive (from 4 source addresses).
# accept4 fails with EMFILE while the listening socket stays readable; the
# worker must refuse what it cannot hold (closing it at once, through a spare
# descriptor; event=accept_refused, the `accept` error metric) rather than spin
# on the socket, drop the ones it holds at the pre-authentication bound, and
# then serve honest clients again.
. "$(dirname "$0")/lib.sh"

HOSTILE=${SOTTO_HOSTILE:?SOTTO_HOSTILE must name the sotto_hostile tool}
server_init
server_conf workers 1
server_conf preauth_seconds 3
# The limit is inherited by sottod (and by the clients, which need few).
ulimit -S -n 128
server_start
for u in alice bob; do user_init "$u"; done
worker=$(pgrep -P "$SPID" | head -n 1)
[ -n "$worker" ] || fail "no worker process"

# CPU ticks (user + system) the worker has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$worker/stat"; }

# A process that only spins, measured over the same window: what a worker
# spinning on accept would get of this machine, however loaded it is.
spin_ticks() { awk '{print $14 + $15}' "/proc/$spinner/stat"; }
refused_or_capped() { grep -qE "event=accept_refused|cap=preauth_conns" "$T/server.log"; }

"$HOSTILE" "$ADDR" idle 400 20 tcp 50 4 >"$T/idle.out" &
hp=$!
# The flood is in: accept has failed (or the pre-authentication cap took over).
wait_for 60 refused_or_capped
bash -c 'while :; do :; done' &
spinner=$!
BG_PIDS+=("$spinner")
t0=$(ticks)
s0=$(spin_ticks)
sleep 3	# the window measured: while the flood's connections are held
used=$(( $(ticks) - t0 ))
spun=$(( $(spin_ticks) - s0 ))
kill "$spinner"
hz=$(getconf CLK_TCK)
wait "$hp" || true
cat "$T/idle.out"
# Unauthenticated connections are capped at half the descriptors (the oldest
# goes, cap=preauth_conns), so such a flood may no longer run the worker out;
# either way it must refuse what it cannot hold and not spin.
grep -qE "event=accept_refused|cap=preauth_conns" "$T/server.log" ||
    fail "neither accept_refused nor preauth_conns in the log: $(tail -n 5 "$T/server.log")"
# Spinning on a readable listening socket would use as much as the spinner
# did (the whole 3 s, 3 * hz ticks, on an idle machine); a quarter of it is
# far more than refusing and closing a few hundred sockets takes.
[ "$spun" -gt 0 ] || fail "the reference spinner got no CPU in 3 s"
[ $((used * 4)) -lt "$spun" ] ||
    fail "the worker used $used ticks in 3 s, a spinning process $spun ($hz a second): spinning on accept"
ok "out of descriptors: the worker used $used ticks in 3 s, a spinning process $spun ($hz a second)"
line=$(grep "dropped=" "$T/idle.out")
refused=$(sed -n 's/.*refused_at_once=\([0-9]*\).*/\1/p' <<<"$line")
[ "${refused:-0}" -gt 0 ] || fail "no connection was refused at once: $line"
[[ $line == *still_open=0* ]] || fail "connections held past the pre-authentication bound: $line"
ok "$refused connections refused at once, the rest dropped unauthenticated ($line)"
logged=$(grep -c "event=accept_refused" "$T/server.log" || true)
[ "$logged" -le 25 ] || fail "accept_refused logged $logged times (one a second at most)"
ok "accept_refused logged $logged times"

[ "$(pgrep -P "$SPID" | head -n 1)" = "$worker" ] || fail "the worker died"
as alice send bob "after the flood" >/dev/null || fail "send after the flood failed"
[ "$(as bob receive --json | jq -r .body)" = "after the flood" ] || fail "bob did not get the message"
ok "after the flood, honest clients are served"
server_stop
