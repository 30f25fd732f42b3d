# SPDX-License-Identifier: ISC
# Crash safety, server side: sustained traffic between several devices while
# sottod is killed with SIGKILL at random moments (22 times) and restarted.
# Afterwards every send the server acknowledged (`sotto send` printed "sent ID")
# has been delivered to its target exactly once as the user sees it, no message
# is shown twice, and the database passes its integrity check.
. "$(dirname "$0")/lib.sh"

KILLS=${SOTTO_CRASH_KILLS:-22}
server_init
server_start
for u in s1 s2 r1 r2; do user_init "$u"; done

# Senders only send and receivers only receive, so no two sotto processes
# share a home. s1 -> r1, r2; s2 -> r1, r2 (a message to both at times).
sender() {
	local me=$1 i=0 to out
	while [ ! -e "$T/stop" ] && [ $i -lt 2000 ]; do
		i=$((i + 1))
		case $((i % 3)) in 0) to="r1" ;; 1) to="r2" ;; 2) to="r1 r2" ;; esac
		# shellcheck disable=SC2086
		if out=$("$SOTTO" --home "$T/home-$me" send $to "$me-$i" 2>/dev/null); then
			echo "$out $me-$i $to" >>"$T/acked-$me"
		fi
	done
}
receiver() {
	local me=$1 i=0
	while [ ! -e "$T/stop" ] && [ $i -lt 2000 ]; do
		i=$((i + 1))
		"$SOTTO" --home "$T/home-$me" receive --json >>"$T/got-$me" 2>/dev/null || sleep 0.05
	done
}
for s in s1 s2; do sender "$s" & BG_PIDS+=($!); done
for r in r1 r2; do receiver "$r" & BG_PIDS+=($!); done

for k in $(seq 1 "$KILLS"); do
	sleep "0.$((2 + RANDOM % 7))"
	server_kill
	sleep "0.0$((RANDOM % 10))"
	server_start
done
touch "$T/stop"
for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
BG_PIDS=()
ok "$KILLS SIGKILLs and restarts under traffic"

# Drain what is still queued.
for r in r1 r2; do
	for i in $(seq 1 50); do
		before=$(wc -l <"$T/got-$r")
		as "$r" receive --json >>"$T/got-$r"
		[ "$(wc -l <"$T/got-$r")" = "$before" ] && break
	done
done
[ "$(sql 'SELECT count(*) FROM copies;')" = 0 ] || fail "copies left on the server after draining"

total=0
for s in s1 s2; do
	while read -r _sent id body to; do
		for r in $to; do
			n=$(jq -r --arg id "$id" 'select(.id == $id) | .id' "$T/got-$r" | wc -l)
			[ "$n" = 1 ] || fail "acknowledged message $id ($body) seen $n times by $r"
			jq -e -s --arg id "$id" --arg b "$body" 'map(select(.id == $id)) | .[0].body == $b' "$T/got-$r" >/dev/null ||
			    fail "message $id arrived with another body at $r"
			total=$((total + 1))
		done
	done <"$T/acked-$s"
done
[ "$total" -gt 20 ] || fail "too little traffic got through to mean anything ($total deliveries)"
for r in r1 r2; do
	dups=$(jq -r .id "$T/got-$r" | sort | uniq -d | wc -l)
	[ "$dups" = 0 ] || fail "$r was shown $dups messages twice"
done
ok "$total acknowledged deliveries, each shown exactly once; no duplicates"
[ "$(sql 'PRAGMA integrity_check;')" = ok ] || fail "integrity check"
ok "database integrity check passes"
server_stop
