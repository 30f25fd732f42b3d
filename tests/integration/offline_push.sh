# SPDX-License-Identifier: ISC
# Store and forward: an offline receiver gets the message when it comes back; a
# connected receiver gets it pushed at once; a copy stays on the server until
# acknowledged and is gone after.
. "$(dirname "$0")/lib.sh"

server_init
server_conf log_level debug	# event=fetch: when the waiting receive is pushed to (fetching_since)
server_start
user_init alice
user_init bob
bob_dev=$(device_id_of bob)

# bob is offline: the copy waits on the server.
as alice send bob "while you were away" >/dev/null
[ "$(copies_for "$bob_dev")" = 1 ] || fail "expected 1 queued copy for bob, got $(copies_for "$bob_dev")"
ok "copy queued for offline bob"
as bob receive --json >"$T/r1"
[ "$(jq -r .body "$T/r1")" = "while you were away" ] || fail "bob got: $(cat "$T/r1")"
[ "$(copies_for "$bob_dev")" = 0 ] || fail "copy still on the server after acknowledgement"
ok "delivered when bob came back, deleted after ack"

# bob is connected and waiting: the message is pushed to him while he waits.
# It is sent once his first Fetch is answered: sent before, it would be in that
# answer, and no push would be tested.
mark=$(log_mark)
as bob receive --wait 60 --json >"$T/r2" &
waiter=$!
BG_PIDS+=("$waiter")
wait_for 30 fetching_since "$mark" 1
start=$(date +%s)
as alice send bob "pushed to you" >/dev/null
wait "$waiter" || fail "bob's receive --wait failed"
end=$(date +%s)
[ "$(jq -r .body "$T/r2")" = "pushed to you" ] || fail "waiting bob got: $(cat "$T/r2")"
[ $((end - start)) -lt 10 ] || fail "push took $((end - start)) s, not at once"
[ "$(copies_for "$bob_dev")" = 0 ] || fail "pushed copy not deleted after ack"
ok "pushed to a connected device"

# receive --wait with nothing coming returns after the wait, with nothing.
as bob receive --wait 1 --json >"$T/r3"
[ ! -s "$T/r3" ] || fail "unexpected: $(cat "$T/r3")"
ok "receive --wait times out quietly"
