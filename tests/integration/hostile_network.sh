# SPDX-License-Identifier: ISC
# Hostile network input against the running server (tests/tools/sotto_hostile):
# garbage and truncated TLS records, garbage and oversized WebSocket frames,
# valid frames with garbage protobuf, valid protobuf with absurd lengths and
# counts, thousands of connections that never speak (from several source
# addresses, and from one address past its cap), slow readers that never
# drain, and handle enumeration. Throughout, honest clients (the real sotto)
# keep sending and receiving; every one of their sends must succeed and
# arrive exactly once. Memory: the RSS of every sottod process (supervisor and
# workers) is summed before and after each attack; each attack may add at most
# RSS_BOUND_KB (64 MiB) and the whole run at most the same again.
. "$(dirname "$0")/lib.sh"

HOSTILE=${SOTTO_HOSTILE:?SOTTO_HOSTILE must name the sotto_hostile tool}
RSS_BOUND_KB=$((64 * 1024))
# Under ASan the allocator keeps freed memory in quarantine and never gives it
# back, so RSS measures ASan, not sottod: the 64 MiB bound is asserted by the
# plain build; the sanitizer build only catches a runaway (1 GiB).
if ldd "$SOTTOD" 2>/dev/null | grep 'libasan' >/dev/null; then  # not -q: an early grep exit would SIGPIPE ldd and fail the pipe under pipefail
	RSS_BOUND_KB=$((1024 * 1024))
	echo "sanitizer build: RSS bound relaxed to $RSS_BOUND_KB KiB (the plain build asserts 64 MiB)"
fi
PREAUTH=3
server_init
server_conf workers 2
server_conf preauth_seconds "$PREAUTH"
server_conf max_recipients 8
server_start
for u in alice bob mallory; do user_init "$u"; done

# RSS of the supervisor and its workers, in KiB.
rss_kb() {
	local p sum=0 kb
	for p in "$SPID" $(pgrep -P "$SPID" || true); do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		sum=$((sum + ${kb:-0}))
	done
	echo "$sum"
}
hostile() { "$HOSTILE" "$ADDR" "$@"; }

# Honest traffic in the background: alice sends, bob receives, all along.
honest() {
	local i=0 out
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		if out=$(as alice send bob "honest-$i" 2>>"$T/honest.err"); then
			echo "${out#sent }" >>"$T/honest-acked"
		else
			echo "send $i failed at $(date +%s.%N)" >>"$T/honest-failed"
		fi
		as bob receive --json >>"$T/honest-got" 2>>"$T/honest.err" || echo "receive failed" >>"$T/honest-failed"
		sleep 0.1
	done
}
: >"$T/honest-acked"
: >"$T/honest-failed"
: >"$T/honest-got"
honest & BG_PIDS+=($!)

START_KB=$(rss_kb)
printf '%-34s %10s %10s %8s\n' attack "rss_before" "rss_after" "delta" >"$T/rss"
attack() {
	local name=$1; shift
	local before after
	before=$(rss_kb)
	"$@" >"$T/out-$name" 2>&1 || { cat "$T/out-$name" >&2; fail "$name: the server misbehaved (above)"; }
	sleep 1	# sottod returns a flood's memory 0.5 s after its connections end
	after=$(rss_kb)
	sed "s/^/  $name: /" "$T/out-$name"
	printf '%-34s %8s KiB %8s KiB %+6s KiB\n' "$name" "$before" "$after" "$((after - before))" | tee -a "$T/rss"
	kill -0 "$SPID" 2>/dev/null || fail "sottod died during $name"
	[ $((after - before)) -le "$RSS_BOUND_KB" ] || fail "$name: RSS grew by $((after - before)) KiB (bound $RSS_BOUND_KB)"
	ok "$name: server alive, RSS delta $((after - before)) KiB"
}

attack tcp_garbage hostile tcp-garbage 200
attack tls_garbage hostile tls-garbage 200
attack ws_garbage hostile ws-garbage 150
attack ws_oversize hostile ws-oversize 100
attack pb_garbage hostile pb-garbage 200
attack pb_absurd hostile pb-absurd "$T/home-mallory"
grep -q 'case=recipients_20 status=9 text="too many recipients (at most 8)"' "$T/out-pb_absurd" ||
    fail "max_recipients breach not answered TOO_LARGE with a clear text"
grep -q 'case=recipients_10^6 status=9 text="frame too large" closed=1' "$T/out-pb_absurd" ||
    fail "a frame over max_frame not answered TOO_LARGE and closed"

# Thousands of connections that never speak, over 8 source addresses (under
# the per-address cap): every one dropped within the pre-authentication time
# (TLS and WebSocket: preauth_seconds plus the 5 s close grace; bare TCP that
# never starts TLS: lws's accept timeout, 10 s).
attack idle_tcp_3000 hostile idle 3000 30 tcp 10 8
attack idle_tls_1000 hostile idle 1000 30 tls 20 8
attack idle_ws_1000 hostile idle 1000 30 ws 30 8
for s in tcp tls ws; do
	line=$(grep "mode=idle stage=$s dropped" "$T"/out-idle_"$s"_*)
	[[ $line == *still_open=0* ]] || fail "idle $s connections kept: $line"
	held=$(sed 's/.*max_held_s=\([0-9]*\).*/\1/' <<<"$line")
	[ "$held" -le $((PREAUTH + 10)) ] || fail "idle $s connections held ${held}s"
done
grep -q 'event=cap_exceeded cap=preauth_seconds' "$T/server.log" || fail "no cap_exceeded line for preauth_seconds"
ok "silent connections all dropped; the pre-authentication cap is logged"

# From one address, past max_conns_per_addr (default 1000: 500 per worker):
# the rest are closed at once, before any TLS, and logged.
attack conns_per_addr_1500 hostile idle 1500 30 tcp 40 1
refused=$(sed -n 's/.*refused_at_once=\([0-9]*\).*/\1/p' "$T/out-conns_per_addr_1500")
[ "${refused:-0}" -ge 400 ] || fail "only ${refused:-0} of 1500 connections from one address refused (cap 1000)"
grep -q 'event=cap_exceeded cap=max_conns_per_addr' "$T/server.log" || fail "no cap_exceeded line for max_conns_per_addr"
ok "per-address cap: $refused of 1500 refused at once"

# Slow readers: mallory's queue holds ~1 MiB; two connections ask for it over
# and over and never read. The server cuts each off at its output cap.
for i in $(seq 1 16); do as alice send mallory "$(head -c 45000 /dev/urandom | base64 -w0)" >/dev/null; done
slow_readers() {
	hostile slow-reader "$T/home-mallory" 400 & local a=$!
	hostile slow-reader "$T/home-mallory" 400 & local b=$!
	wait "$a" && wait "$b"
}
attack slow_readers slow_readers
grep -q 'event=slow_reader' "$T/server.log" || fail "slow readers were not cut off"

# Pipelining: a ping and 50 requests in one TCP segment, each its own TLS
# record. The server reads them all at once (TLS read-ahead) and must answer
# every one without waiting for more bytes from the peer.
attack pipeline hostile pipeline "$T/home-mallory" 50
grep -q 'mode=pipeline requests=50 answered=50 in_order=1' "$T/out-pipeline" ||
    fail "pipelined requests not all answered: $(cat "$T/out-pipeline")"

# Enumeration: lookups of handles that do not exist, as fast as answered.
attack enumerate hostile enumerate "$T/home-mallory" 1000
line=$(grep 'mode=enumerate' "$T/out-enumerate")
miss=$(sed 's/.*no_such_handle=\([0-9]*\).*/\1/' <<<"$line")
limited=$(sed 's/.* rate_limited=\([0-9]*\).*/\1/' <<<"$line")
[ "$miss" -le 60 ] && [ "$limited" -ge 900 ] || fail "enumeration not limited: $line"
grep -q 'text="rate limited: too many lookups from this device' <<<"$line" || fail "no clear rate-limit text: $line"
as alice devices bob >/dev/null || fail "an honest lookup failed while mallory was limited"
ok "enumeration refused after $miss misses; alice's own lookups unaffected"

touch "$T/stop"
for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
BG_PIDS=()
END_KB=$(rss_kb)
cat "$T/rss"
echo "sottod RSS: start $START_KB KiB, end $END_KB KiB, delta $((END_KB - START_KB)) KiB (bound $RSS_BOUND_KB KiB)"
[ $((END_KB - START_KB)) -le "$RSS_BOUND_KB" ] || fail "RSS grew by $((END_KB - START_KB)) KiB over the run"

# The honest side: every send succeeded and arrived exactly once.
as bob receive --json >>"$T/honest-got"
sent=$(wc -l <"$T/honest-acked")
[ "$sent" -ge 20 ] || fail "too little honest traffic ($sent sends)"
[ ! -s "$T/honest-failed" ] || fail "honest operations failed during the attacks: $(head -5 "$T/honest-failed") $(tail -3 "$T/honest.err")"
jq -r .id "$T/honest-got" | sort >"$T/honest-ids"
[ -z "$(uniq -d "$T/honest-ids")" ] || fail "an honest message was shown twice"
[ -z "$(sort "$T/honest-acked" | comm -23 - "$T/honest-ids")" ] || fail "an honest message was lost"
ok "honest clients: $sent sends during the attacks, none failed, each received exactly once"
server_stop
