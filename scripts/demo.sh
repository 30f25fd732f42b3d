#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# `make demo`: the real system on this machine. A sottod on its SQLite default
# with real TLS in a temporary folder, two users enrolled by invite, a
# conversation in which bob is offline for a while, and what each side saw.
set -euo pipefail
SOTTOD=$(readlink -f "${SOTTOD:-build/sottod}")
SOTTO=$(readlink -f "${SOTTO:-build/sotto}")
D=$(mktemp -d "${TMPDIR:-/tmp}/sotto-demo.XXXXXX")
SPID=
cleanup() {
	[ -n "$SPID" ] && kill -TERM "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null || true
	rm -rf "$D"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s#$D#\$D#g; s#$SOTTO#sotto#; s#$SOTTOD#sottod#"; "$@"; }

port=
for i in $(seq 1 100); do
	p=$((20000 + RANDOM % 40000))
	if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "demo: no free port" >&2; exit 1; }

say "A server: key pair, self-signed certificate, SQLite database"
run "$SOTTOD" init "$D/server" --address "127.0.0.1:$port" | tee "$D/init.out"
pin=$(sed -n 's/^pin: *//p' "$D/init.out" | tail -n 1)
if [ "$(id -u)" -eq 0 ]; then
	# sottod refuses to run as root: it binds the port and reads its key, then
	# becomes this user, who must own the folder.
	chmod 711 "$D"
	run sh -c "echo 'user = nobody' >>\"$D/server/sottod.conf\""
	run chown -R nobody "$D/server"
fi
"$SOTTOD" run "$D/server" >"$D/server.out" 2>"$D/server.log" &
SPID=$!
for i in $(seq 1 100); do grep -q '^listening on' "$D/server.out" && break; sleep 0.1; done
cat "$D/server.out"

say "Invites for alice and bob (each carries the address, the key pin and a one-time secret)"
alice_code=$("$SOTTOD" invite "$D/server" alice | tail -n 1)
bob_code=$("$SOTTOD" invite "$D/server" bob | tail -n 1)
echo "alice: $alice_code"
echo "bob:   $bob_code"

say "alice and bob set up their devices (keys made on the device; the demo skips the passphrase)"
run "$SOTTO" --home "$D/alice" init --invite "$alice_code" --handle alice --device-name "alice-laptop" --no-passphrase
run "$SOTTO" --home "$D/bob" init --invite "$bob_code" --handle bob --device-name "bob-phone" --no-passphrase

say "bob is offline; alice writes to him (the server stores only ciphertext)"
run "$SOTTO" --home "$D/alice" send bob "Hi Bob - are we still on for Thursday?"
run "$SOTTO" --home "$D/alice" send bob "I'll bring the maps."
echo "copies waiting on the server for bob: $(sqlite3 "$D/server/sottod.db" 'SELECT count(*) FROM copies;' 2>/dev/null || echo '?')"

say "bob comes back online and receives"
run "$SOTTO" --home "$D/bob" receive

say "alice waits online; bob's reply is pushed to her at once"
"$SOTTO" --home "$D/alice" receive --wait 15 >"$D/alice.out" &
waiter=$!
sleep 1
run "$SOTTO" --home "$D/bob" send alice "Thursday works. See you at 7!"
wait "$waiter"
echo "alice saw:"
cat "$D/alice.out"

say "Safety numbers: the same on both sides, to compare in person"
run "$SOTTO" --home "$D/alice" safety-number bob
run "$SOTTO" --home "$D/bob" safety-number alice

say "bob's devices as alice verified them"
run "$SOTTO" --home "$D/alice" devices bob

say "alice links a second device: it makes its own keys and shows a one-time code"
"$SOTTO" --home "$D/alice-phone" link --server "127.0.0.1:$port" \
    --pin "$pin" \
    --handle alice --device-name "alice-phone" --no-passphrase --timeout 60 >"$D/link.out" 2>"$D/link.err" &
linker=$!
for i in $(seq 1 100); do grep -q fingerprint "$D/link.err" 2>/dev/null && break; sleep 0.1; done
code=$(head -n 1 "$D/link.out")
echo "alice-phone shows: $code"
echo "           and:   $(grep fingerprint "$D/link.err")"

say "On her laptop alice approves it (the demo skips the question with --yes)"
run "$SOTTO" --home "$D/alice" approve "$code" --yes
wait "$linker"
sed -n '2,$p' "$D/link.out"

say "The laptop's alerts: the device added to alice's account"
run "$SOTTO" --home "$D/alice" alerts

say "alice's devices, as her phone verified them itself (chain from version 1)"
run "$SOTTO" --home "$D/alice-phone" devices

say "bob writes again: his client warns him that alice's devices changed"
run "$SOTTO" --home "$D/bob" send alice "Saw your new phone - this reaches both of your devices."

say "The message arrives on the laptop and on the phone"
run "$SOTTO" --home "$D/alice" receive
run "$SOTTO" --home "$D/alice-phone" receive

say "alice replies from the phone; the laptop shows it as sent by her account"
run "$SOTTO" --home "$D/alice-phone" send bob "Yes! Both of them get everything."
run "$SOTTO" --home "$D/bob" receive
run "$SOTTO" --home "$D/alice" receive --json

say "Stopping the server"
kill -TERM "$SPID"
wait "$SPID"
SPID=
echo "sottod exited cleanly"
