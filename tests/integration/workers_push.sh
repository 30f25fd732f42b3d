# SPDX-License-Identifier: ISC
# Workers (SQLite): with workers = 2 both worker processes hold receivers'
# connections, and a message reaches every receiver at once, also those held
# by the worker that did not take the send (the wake-up path between workers).
# Then a worker killed with SIGKILL is restarted by the supervisor, and SIGTERM
# still stops everything with exit 0.
. "$(dirname "$0")/lib.sh"

server_init
server_conf workers 2
server_conf log_level debug	# event=fetch: when the receivers are pushed to (fetching_since)
server_start
workers=$(pgrep -P "$SPID" | wc -l)
[ "$workers" = 2 ] || fail "expected 2 worker processes under the supervisor, found $workers"
ok "supervisor runs 2 workers"

# A second sottod on the same port (same user, so SO_REUSEPORT would let it
# join the group and take half the connections) refuses to start, for one
# worker and for two.
"$SOTTOD" init "$T/dup" --address "$ADDR" >/dev/null
server_dir_prepare "$T/dup"
for w in 1 2; do
	echo "workers = $w" >>"$T/dup/sottod.conf"
	if timeout 10 "$SOTTOD" run "$T/dup" >"$T/dup.out" 2>"$T/dup.err"; then
		fail "a second sottod ($w workers) started on the port of the first"
	fi
	grep -q "cannot bind.*in use\|start_failed.*in use" "$T/dup.err" ||
	    fail "second sottod: no clear error: $(tail -n 3 "$T/dup.err")"
done
ok "a second sottod on the same port refuses to start (address in use)"

user_init sender
n=0
# receiver NAME: a device waiting for pushes; writes done-NAME when it got one.
receiver() {
	marks[$1]=$(log_mark)
	( as "$1" receive --wait 60 --json >"$T/got-$1" 2>"$T/err-$1"; date +%s%N >"$T/done-$1" ) &
	BG_PIDS+=($!)
}
declare -A marks
# The pids of the workers that authenticated the receivers so far.
receiver_pids() {
	local r
	for r in "${receivers[@]}"; do
		grep "event=auth_ok .*handle=$r " "$T/server.log" | sed -n 's/.* pid=\([0-9]*\) .*/\1/p' | tail -n 1
	done | sort -u
}
receivers=()
# Add receivers until both workers hold some (SO_REUSEPORT hashes connections).
while [ ${#receivers[@]} -lt 16 ]; do
	for _ in 1 2 3 4; do
		n=$((n + 1))
		user_init "r$n"
		receivers+=("r$n")
		receiver "r$n"
	done
	for _ in $(seq 1 100); do
		got=0
		for r in "${receivers[@]}"; do grep -q "event=auth_ok .*handle=$r " "$T/server.log" && got=$((got + 1)); done
		[ "$got" = ${#receivers[@]} ] && break
		sleep 0.1
	done
	[ "$got" = ${#receivers[@]} ] || fail "receivers did not all connect"
	spread=$(receiver_pids | wc -l)
	[ "$spread" -ge 2 ] && break
done
[ "$spread" = 2 ] || fail "receivers never spread over both workers ($spread): $(grep auth_ok "$T/server.log" | tr "\n" "|")"
ok "${#receivers[@]} waiting receivers spread over both workers"
# Sent once every receiver's first Fetch is answered: before, the message would
# be in that answer, and no push would be tested.
for r in "${receivers[@]}"; do wait_for 60 fetching_since "${marks[$r]}" 1 "$T/server.log" "handle=$r "; done

t0=$(date +%s%N)
as sender send "${receivers[@]}" "to every worker" >/dev/null
for r in "${receivers[@]}"; do
	for _ in $(seq 1 100); do [ -e "$T/done-$r" ] && break; sleep 0.05; done
	[ -e "$T/done-$r" ] || fail "$r did not get the message pushed within 5 s"
	[ "$(jq -r .body "$T/got-$r")" = "to every worker" ] || fail "$r got: $(cat "$T/got-$r")"
done
max=0
for r in "${receivers[@]}"; do
	ms=$(( ($(cat "$T/done-$r") - t0) / 1000000 ))
	[ "$ms" -gt "$max" ] && max=$ms
done
[ "$max" -lt 5000 ] || fail "slowest push took $max ms"
ok "pushed at once to receivers on both workers (send to last receipt: $max ms, sotto send included)"
for r in "${receivers[@]}"; do [ "$(copies_for "$(device_id_of "$r")")" = 0 ] || fail "copy left for $r"; done
ok "every copy acknowledged and deleted"

# A worker that dies is restarted; the port keeps serving.
victim=$(pgrep -P "$SPID" | head -n 1)
kill -KILL "$victim"
for _ in $(seq 1 50); do
	[ "$(pgrep -P "$SPID" | wc -l)" = 2 ] && ! pgrep -P "$SPID" | grep -qx "$victim" && break
	sleep 0.1
done
[ "$(pgrep -P "$SPID" | wc -l)" = 2 ] || fail "the killed worker was not restarted"
grep -q "event=worker_restarted" "$T/server.log" || fail "no worker_restarted in the log"
as sender send r1 "after a restart" >/dev/null
as r1 receive --json >"$T/after"
[ "$(jq -r .body "$T/after")" = "after a restart" ] || fail "after restart r1 got: $(cat "$T/after")"
ok "a killed worker is restarted and the node keeps serving"
server_stop
[ -z "$(pgrep -f "$SOTTOD run $DIR" || true)" ] || fail "workers left running after SIGTERM"
ok "SIGTERM stops the supervisor and every worker, exit 0"
