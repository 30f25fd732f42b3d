# SPDX-License-Identifier: ISC
# Fan-out: two accounts with three devices each. Every device writes once to
# the other account while every other device is offline; then each device
# receives exactly the five messages it did not write — the other account's
# three, and its own account's two others shown as outgoing — once each.
# One more message is pushed to devices waiting online.
. "$(dirname "$0")/lib.sh"

server_init
server_conf log_level debug	# event=fetch: when the waiting receives are pushed to (fetching_since)
server_start
user_init alice
user_init bob
link_device alice alice2 "alice-2"
link_device alice alice3 "alice-3"
link_device bob bob2 "bob-2"
link_device bob bob3 "bob-3"
# Every device learns both accounts' current lists (and clears link alerts).
for u in alice alice2 alice3 bob bob2 bob3; do as "$u" receive >/dev/null 2>&1; done
as alice devices bob >/dev/null; as bob devices alice >/dev/null

# Everyone offline but the sender, one at a time.
: >"$T/sent"
for u in alice alice2 alice3; do
	as "$u" send bob "from $u" >>"$T/sent" 2>/dev/null || fail "send from $u"
done
for u in bob bob2 bob3; do
	as "$u" send alice "from $u" >>"$T/sent" 2>/dev/null || fail "send from $u"
done
[ "$(wc -l <"$T/sent")" -eq 6 ] || fail "not six sends"
# 6 messages x 5 other devices each.
[ "$(sql 'SELECT count(*) FROM copies;')" -eq 30 ] || fail "copies queued: $(sql 'SELECT count(*) FROM copies;')"

for u in alice alice2 alice3 bob bob2 bob3; do
	as "$u" receive --json >"$T/r-$u"
	mine=${u%[23]}
	other=$([ "$mine" = alice ] && echo bob || echo alice)
	[ "$(jq -s length "$T/r-$u")" -eq 5 ] || fail "$u received $(jq -s length "$T/r-$u"): $(cat "$T/r-$u")"
	[ "$(jq -s 'map(.id) | unique | length' "$T/r-$u")" -eq 5 ] || fail "$u received a message twice"
	jq -e -s --arg b "from $u" 'map(select(.body == $b)) | length == 0' "$T/r-$u" >/dev/null || fail "$u received its own message"
	for v in "$other" "${other}2" "${other}3"; do
		jq -e -s --arg b "from $v" --arg f "$other" 'map(select(.body == $b and .from == $f and .outgoing == false)) | length == 1' \
		    "$T/r-$u" >/dev/null || fail "$u: message from $v missing or wrong: $(cat "$T/r-$u")"
	done
	for v in "$mine" "${mine}2" "${mine}3"; do
		[ "$v" = "$u" ] && continue
		jq -e -s --arg b "from $v" --arg f "$mine" 'map(select(.body == $b and .from == $f and .outgoing == true)) | length == 1' \
		    "$T/r-$u" >/dev/null || fail "$u: own account's message from $v missing or not outgoing: $(cat "$T/r-$u")"
	done
	as "$u" receive --json >"$T/again-$u"
	[ ! -s "$T/again-$u" ] || fail "$u received again: $(cat "$T/again-$u")"
done
[ "$(sql 'SELECT count(*) FROM copies;')" -eq 0 ] || fail "copies left after every device received"
ok "6 messages reached each of the 5 other devices exactly once (30 copies), outgoing on the sender's own devices"

# Online: five devices wait, one message, each gets it pushed: sent once all
# five have had their first Fetch answered (before, it would be fetched).
pids=()
mark=$(log_mark)
for u in alice alice2 bob bob2 bob3; do
	as "$u" receive --wait 60 --json >"$T/w-$u" 2>/dev/null &
	pids+=($!)
done
wait_for 60 fetching_since "$mark" 5
as alice3 send bob "pushed to everyone" >/dev/null 2>&1
for p in "${pids[@]}"; do wait "$p" || fail "a waiting receive failed"; done
for u in alice alice2 bob bob2 bob3; do
	jq -e -s 'map(select(.body == "pushed to everyone")) | length == 1' "$T/w-$u" >/dev/null || fail "$u (online) did not get the push: $(cat "$T/w-$u")"
done
ok "a message reaches five devices waiting online"

server_stop
