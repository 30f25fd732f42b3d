# SPDX-License-Identifier: ISC
# Refusals: a wrong server pin before any request is sent; TLS below 1.3; bad,
# reused and misdirected invites; a full mailbox is a clear error to the sender.
. "$(dirname "$0")/lib.sh"
need openssl

server_init
server_conf mailbox_cap 2
server_start

# A pin that is not this server's (another server's key).
"$SOTTOD" init "$T/other" --address 127.0.0.1:1 >"$T/other.out"
other_pin=$(sed -n 's/^pin: *//p' "$T/other.out")
[ "$other_pin" != "$PIN" ] || fail "two servers with the same pin"
before=$(wc -l <"$T/server.log")
code=$(invite mallory)
# Same invite, but with the other server's pin: re-encode by asking the other
# server for an invite that points at our address.
sed -i "s/^address = .*/address = $ADDR/" "$T/other/sottod.conf"
bad_code=$("$SOTTOD" invite "$T/other" mallory | tail -n 1)
expect_fail "$T/e1" as mallory init --invite "$bad_code" --handle mallory --no-passphrase
grep -qi 'pin' "$T/e1" || fail "wrong pin error does not mention the pin: $(cat "$T/e1")"
[ ! -e "$T/home-mallory/device.key" ] || fail "a refused init left a key behind"
if tail -n +"$((before + 1))" "$T/server.log" | grep -Eq 'event=(conn_open|register|auth|request)'; then
	fail "the server saw a request from a client that should have refused its key"
fi
ok "wrong pin refused before any request: $(cat "$T/e1")"

# A second sottod on the same folder is refused while the first runs (their
# copy seqs would collide), and the first keeps serving.
if timeout 10 "$SOTTOD" run "$DIR" >"$T/second.out" 2>"$T/second.err"; then
	fail "a second sottod ran on the same folder"
fi
grep -q 'already running' "$T/second.err" || fail "second sottod: no clear error: $(cat "$T/second.err")"
kill -0 "$SPID" 2>/dev/null || fail "the first sottod died when a second was started"
ok "second sottod on one folder refused: $(head -n 1 "$T/second.err")"

# TLS 1.2 is refused, TLS 1.3 works.
if echo | timeout 10 openssl s_client -connect "$ADDR" -tls1_2 >/dev/null 2>&1; then fail "TLS 1.2 accepted"; fi
echo | timeout 10 openssl s_client -connect "$ADDR" -tls1_3 2>/dev/null | grep 'TLSv1.3' >/dev/null || fail "TLS 1.3 handshake failed"
ok "TLS 1.3 only"

# Garbage invite, an invite for another handle, a reused invite.
expect_fail "$T/e2" as m1 init --invite "sotto1-garbage" --handle m1 --no-passphrase
ok "garbage invite refused: $(cat "$T/e2")"
expect_fail "$T/e3" as m2 init --invite "$code" --handle notmallory --no-passphrase
ok "invite for another handle refused: $(cat "$T/e3")"
as mallory init --invite "$code" --handle mallory --no-passphrase >/dev/null || fail "good invite refused"
expect_fail "$T/e4" as mallory2 init --invite "$code" --handle mallory --no-passphrase
ok "reused invite refused: $(cat "$T/e4")"
[ ! -e "$T/home-mallory2/sotto.db" ] || fail "refused init left a home behind"

# Full mailbox (cap 2): the third send is refused with a clear error naming bob.
user_init alice
user_init bob
as alice send bob "one" >/dev/null
as alice send bob "two" >/dev/null
expect_fail "$T/e5" as alice send bob "three"
grep -qi 'full' "$T/e5" && grep -q 'bob' "$T/e5" || fail "full mailbox error unclear: $(cat "$T/e5")"
ok "full mailbox refused: $(cat "$T/e5")"
as bob receive --json >"$T/r"
[ "$(jq -s length "$T/r")" = 2 ] || fail "bob should have exactly the two accepted messages"
as alice send bob "three, now there is room" >/dev/null || fail "send after drain"
ok "room again after bob drained his mailbox"
server_stop
