# SPDX-License-Identifier: ISC
# The client speaks TLS 1.3 only, to the pinned key only: against OpenSSL's
# s_server holding sottod's own key, a TLS 1.2-only server and a TLS 1.3
# server with another key are refused before the client sends a byte of HTTP;
# the same s_server with TLS 1.3 and the pinned key (the control) sees the
# client's WebSocket upgrade, so a refusal is the client's and not the setup's.
. "$(dirname "$0")/lib.sh"
need openssl

server_init			# keys and pin; sottod itself never runs here
"$SOTTOD" init "$T/other" --address "$ADDR" >/dev/null

# tls_try NAME KEYDIR VERSION: one connection of `sotto init` to an s_server
# with KEYDIR's key speaking only VERSION (tls1_2 | tls1_3); its output in
# $T/s-NAME.out. s_server reads stdin: a sleep keeps it open.
tls_try() {
	local name=$1 keydir=$2 version=$3 port sp i
	port=$(free_port)
	openssl s_server -accept "127.0.0.1:$port" -cert "$keydir/server.crt" -key "$keydir/server.key" \
	    "-$version" -naccept 1 >"$T/s-$name.out" 2>&1 < <(sleep 60) &
	sp=$!
	BG_PIDS+=("$sp")
	for i in $(seq 1 100); do
		grep -q '^ACCEPT' "$T/s-$name.out" && break
		kill -0 "$sp" 2>/dev/null || fail "s_server ($name) exited: $(cat "$T/s-$name.out")"
		sleep 0.1
	done
	grep -q '^ACCEPT' "$T/s-$name.out" || fail "s_server ($name) did not listen within 10 s"
	if timeout 30 "$SOTTO" --home "$T/home-$name" init --server "127.0.0.1:$port" --pin "$PIN" \
	    --handle "$name" --no-passphrase >"$T/c-$name.out" 2>"$T/c-$name.err"; then
		fail "sotto init ($name) succeeded against s_server"
	fi
	kill "$sp" 2>/dev/null || true
	wait "$sp" 2>/dev/null || true
}

tls_try control "$DIR" tls1_3
grep -q '^GET / HTTP/1.1' "$T/s-control.out" || fail "control: no upgrade request seen: $(cat "$T/s-control.out")"
grep -q '^Sec-WebSocket-Protocol: sotto.v1' "$T/s-control.out" || fail "control: not the sotto subprotocol"
ok "control: over TLS 1.3 with the pinned key the client sends its upgrade"

tls_try tls12 "$DIR" tls1_2
if grep -q '^GET ' "$T/s-tls12.out"; then fail "the client spoke HTTP over TLS 1.2"; fi
grep -q 'unsupported protocol\|no protocols available\|version' "$T/s-tls12.out" ||
    fail "tls12: no version refusal in the s_server log: $(cat "$T/s-tls12.out")"
ok "a TLS 1.2-only server is refused in the handshake: $(cat "$T/c-tls12.err")"

tls_try otherkey "$T/other" tls1_3
if grep -q '^GET ' "$T/s-otherkey.out"; then fail "the client spoke HTTP to a server with another key"; fi
ok "a TLS 1.3 server with another key than the pin is refused: $(cat "$T/c-otherkey.err")"
