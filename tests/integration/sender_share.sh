# SPDX-License-Identifier: ISC
# Issue 11 item 3 against a real sottod (two workers): one sender floods a
# recipient until it is refused, with an error about its own share naming the
# recipient; a second sender still gets through and the recipient gets that
# message; the refusals and the stored bytes show in /metrics; the flooder may
# send again once the recipient has received. Then one account's byte rate
# holds: flooding as fast as answered, its stored bytes stay under burst +
# rate * elapsed (plus one send per worker), measured against the clock of the
# same run, while it was refused at least once and accepted more than its burst.
. "$(dirname "$0")/lib.sh"

command -v curl >/dev/null || fail "curl is needed (scripts/install-deps.sh)"
scrape() { curl -sk --max-time 5 "https://$ADDR/metrics"; }
value() { awk -v s="$1" '$1 == s { print $2 }' "$2"; }
now_ns() { date +%s%N; }

share=5
server_init
server_conf workers 2
server_conf mailbox_sender_cap "$share"
server_conf account_byte_rate 65536
server_conf account_byte_burst 131072
server_start
user_init mallory
user_init carol
user_init bob
user_init alice

scrape >"$T/m0"
sent=0
refused=
for i in $(seq 1 $((share * 4))); do
	if as mallory send bob "flood $i" >/dev/null 2>"$T/e"; then
		sent=$((sent + 1))
	else
		refused=$i
		break
	fi
done
[ -n "$refused" ] || fail "mallory was never refused ($sent sends)"
[ "$sent" = "$share" ] || fail "mallory was refused after $sent sends, want $share"
grep -q "share" "$T/e" && grep -q "bob" "$T/e" || fail "share refusal unclear: $(cat "$T/e")"
ok "one sender flooding bob is refused after its share ($share): $(cat "$T/e")"

as carol send bob "carol gets through" >/dev/null || fail "carol was refused: bob's mailbox is locked"
ok "a second sender still gets through"
scrape >"$T/m1"
r0=$(value 'sottod_send_refusals_total{reason="sender_share"}' "$T/m0")
r1=$(value 'sottod_send_refusals_total{reason="sender_share"}' "$T/m1")
[ $((r1 - r0)) -eq 1 ] || fail "sender_share refusals moved by $((r1 - r0)), want 1"
stored=$(value sottod_stored_bytes "$T/m1")
want=$(sql "SELECT sum(size) FROM copies")
[ "$stored" = "$want" ] && [ "$stored" -gt 0 ] || fail "stored_bytes $stored, the copies hold $want"
[ "$(sql "SELECT count(*) FROM copies WHERE sender = 'mallory'")" = "$share" ] || fail "mallory's copies"
ok "/metrics: one sender_share refusal, stored_bytes $stored"

as bob receive --json >"$T/r"
jq -e -s 'map(select(.from == "carol" and .body == "carol gets through")) | length == 1' "$T/r" >/dev/null ||
	fail "bob did not get carol's message: $(cat "$T/r")"
[ "$(jq -s 'map(select(.from == "mallory")) | length' "$T/r")" = "$share" ] || fail "bob's messages from mallory"
ok "bob got carol's message (and mallory's $share)"
as mallory send bob "after bob received" >/dev/null || fail "mallory still refused after bob received"
[ "$(sql "SELECT coalesce(sum(bytes), 0) FROM account_usage WHERE sender = 'carol'")" = 0 ] ||
	fail "carol's stored bytes not given back after bob received"
ok "room again for mallory once bob has received; carol's bytes given back"

# The byte rate: alice floods bob with 60,000-byte envelopes for 5 s through
# sotto_hostile (as fast as answered: the CLI alone is slower than the rate),
# bob's share raised so that only the rate can hold her. The node allows
# 64 KiB/s and a 128 KiB burst, split over its 2 workers.
server_stop
server_conf mailbox_sender_cap 1000
server_start
rate=65536
burst=131072
workers=2
t0=$(now_ns)
"${SOTTO_HOSTILE:?SOTTO_HOSTILE must name the sotto_hostile tool}" "$ADDR" send-flood "$T/home-alice" bob 60000 5 \
    >"$T/flood" || fail "flood: $(cat "$T/flood")"
t1=$(now_ns)
elapsed_ms=$(( (t1 - t0) / 1000000 ))
stored=$(sql "SELECT coalesce(sum(size), 0) FROM copies WHERE sender = 'alice'")
one=$(sql "SELECT coalesce(max(size), 0) FROM copies WHERE sender = 'alice'")
accepted=$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' "$T/flood")
refusals=$(sed -n 's/.*(bytes \([0-9]*\)).*/\1/p' "$T/flood")
bound=$(( burst + rate * elapsed_ms / 1000 + workers * one ))
echo "byte rate: alice stored $stored bytes in $elapsed_ms ms ($accepted sends accepted, $refusals refused" \
    "for bytes); bound $bound ($((stored * 1000 / elapsed_ms)) bytes/s against $rate)"
[ "${refusals:-0}" -ge 1 ] || fail "alice was never refused for her byte rate: $(cat "$T/flood")"
[ "$stored" -gt "$burst" ] || fail "alice stored only $stored bytes: the test did not reach the rate"
[ "$stored" -le "$bound" ] || fail "alice stored $stored bytes in $elapsed_ms ms, more than $bound"
scrape >"$T/m2"
[ "$(value 'sottod_send_refusals_total{reason="byte_rate"}' "$T/m2")" -ge "$refusals" ] ||
	fail "byte_rate refusals not counted"
ok "one account's byte rate holds: $stored bytes in $elapsed_ms ms"
server_stop
