# SPDX-License-Identifier: ISC
# Two users exchange messages both ways through the real sottod over real TLS;
# a message to several handles reaches each; an unknown handle is a clear error;
# the server's database never holds the plaintext.
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init alice
user_init bob
user_init carol

as alice send bob "hello bob, from alice" >"$T/send1" || fail "alice send"
grep -Eq '^sent [0-9a-f]{32}$' "$T/send1" || fail "send output: $(cat "$T/send1")"
as bob receive --json >"$T/bob1"
[ "$(jq -r .body "$T/bob1")" = "hello bob, from alice" ] || fail "bob got: $(cat "$T/bob1")"
[ "$(jq -r .from "$T/bob1")" = alice ] || fail "from"
[ "$(jq -c .to "$T/bob1")" = '["bob"]' ] || fail "to: $(jq -c .to "$T/bob1")"
[ "$(jq -r .outgoing "$T/bob1")" = false ] || fail "outgoing"
[ "$(jq -r .id "$T/bob1")" = "$(cut -d' ' -f2 "$T/send1")" ] || fail "msg id differs from the sent one"
[ "$(jq -r .device "$T/bob1")" = "$(device_id_of alice)" ] || fail "device is not alice's device"
jq -e '.sent_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' "$T/bob1" >/dev/null || fail "sent_at not ISO 8601"
ok "alice -> bob"

as bob send alice "hi alice" >/dev/null
as alice receive --json >"$T/alice1"
[ "$(jq -r .body "$T/alice1")" = "hi alice" ] && [ "$(jq -r .from "$T/alice1")" = bob ] || fail "alice got: $(cat "$T/alice1")"
ok "bob -> alice"

# Nothing more is waiting, and a second receive shows nothing twice.
as bob receive --json >"$T/bob2"
[ ! -s "$T/bob2" ] || fail "bob received again: $(cat "$T/bob2")"
ok "no duplicate on a second receive"

# One message to several handles at once, body from stdin.
printf 'to both of you\n' | as alice send bob carol - >/dev/null
for u in bob carol; do
	as "$u" receive --json >"$T/$u-multi"
	[ "$(jq -r .body "$T/$u-multi")" = "to both of you" ] || fail "$u got: $(cat "$T/$u-multi")"
	[ "$(jq -c '.to | sort' "$T/$u-multi")" = '["bob","carol"]' ] || fail "$u to: $(jq -c .to "$T/$u-multi")"
done
ok "one message to two handles"

# Unknown handle: one clear error line, and nothing is delivered to anyone.
expect_fail "$T/err" as alice send bob nobody-here "lost?"
grep -q 'nobody-here' "$T/err" || fail "error does not name the handle: $(cat "$T/err")"
grep -qi 'no such handle' "$T/err" || fail "error does not say no such handle: $(cat "$T/err")"
as bob receive --json >"$T/bob3"
[ ! -s "$T/bob3" ] || fail "a refused send delivered something: $(cat "$T/bob3")"
ok "unknown handle refused: $(cat "$T/err")"

# The server stores only ciphertext.
as alice send bob "secret-marker-7731" >/dev/null
if grep -a -q "secret-marker-7731" "$DIR"/sottod.db*; then fail "plaintext found in the server database"; fi
as bob receive --json | jq -e -s 'any(.body == "secret-marker-7731")' >/dev/null || fail "marker not received"
ok "server database holds no plaintext"

server_stop
ok "server stopped cleanly on SIGTERM"
