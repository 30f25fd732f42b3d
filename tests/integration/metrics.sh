# SPDX-License-Identifier: ISC
# GET /metrics on sottod's TLS port: Prometheus text format, every series
# named in docs/OPERATIONS.md, summed over the workers, and counters that move
# with traffic. Any other path is 404.
. "$(dirname "$0")/lib.sh"

server_init
server_conf workers 2
server_start
need curl
scrape() { curl -sk --max-time 5 "https://$ADDR/metrics"; }
value() { awk -v s="$1" '$1 == s { print $2 }' "$2"; }

scrape >"$T/m1" || fail "GET /metrics failed"
for s in sottod_connections sottod_workers sottod_sends_total sottod_deliveries_total sottod_queue_depth \
    'sottod_commit_seconds_bucket{le="+Inf"}' sottod_commit_seconds_sum sottod_commit_seconds_count \
    'sottod_errors_total{kind="storage"}' 'sottod_errors_total{kind="worker_restart"}' sottod_stored_bytes \
    'sottod_send_refusals_total{reason="mailbox_full"}' 'sottod_send_refusals_total{reason="sender_share"}' \
    'sottod_send_refusals_total{reason="account_quota"}' 'sottod_send_refusals_total{reason="byte_rate"}'; do
	[ -n "$(value "$s" "$T/m1")" ] || fail "no $s in: $(cat "$T/m1")"
done
grep -q '^# TYPE sottod_commit_seconds histogram$' "$T/m1" || fail "commit_seconds is not a histogram"
grep -q '^# TYPE sottod_sends_total counter$' "$T/m1" || fail "sends_total is not a counter"
[ "$(value sottod_workers "$T/m1")" = 2 ] || fail "sottod_workers is not 2"
ct=$(curl -sk -o /dev/null -w '%{content_type}' "https://$ADDR/metrics")
case "$ct" in "text/plain; version=0.0.4"*) ;; *) fail "content type: $ct" ;; esac
code=$(curl -sk -o /dev/null -w '%{http_code}' "https://$ADDR/nothing-here")
[ "$code" = 404 ] || fail "GET /nothing-here answered $code"
ok "every series present, text format 0.0.4, other paths 404"

user_init alice
user_init bob
scrape >"$T/m2"
as alice send bob "one" >/dev/null
as alice send bob "two" >/dev/null
scrape >"$T/m3"
[ "$(value sottod_queue_depth "$T/m3")" = 2 ] || fail "queue_depth $(value sottod_queue_depth "$T/m3"), want 2"
as bob receive --json >/dev/null
scrape >"$T/m4"
sends=$(( $(value sottod_sends_total "$T/m4") - $(value sottod_sends_total "$T/m2") ))
dels=$(( $(value sottod_deliveries_total "$T/m4") - $(value sottod_deliveries_total "$T/m2") ))
commits=$(( $(value sottod_commit_seconds_count "$T/m4") - $(value sottod_commit_seconds_count "$T/m2") ))
[ "$sends" = 2 ] || fail "sends_total moved by $sends, want 2"
[ "$dels" = 2 ] || fail "deliveries_total moved by $dels, want 2"
[ "$commits" -ge 2 ] || fail "commit_seconds_count moved by $commits"
[ "$(value sottod_queue_depth "$T/m4")" = 0 ] || fail "queue_depth not 0 after the ack"
ok "sends, deliveries, commits and queue depth follow the traffic"

# connections: a waiting receiver is counted, whichever worker holds it.
as bob receive --wait 5 >/dev/null 2>&1 &
waiter=$!
BG_PIDS+=("$waiter")
for _ in $(seq 1 50); do
	scrape >"$T/m5"
	[ "$(value sottod_connections "$T/m5")" -ge 1 ] && break
	sleep 0.1
done
[ "$(value sottod_connections "$T/m5")" -ge 1 ] || fail "connections gauge did not count a waiting device"
ok "connections gauge counts an open device connection"
wait "$waiter" || true
server_stop
