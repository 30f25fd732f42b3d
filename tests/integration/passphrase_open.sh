# SPDX-License-Identifier: ISC
# Keys at rest under a passphrase, and open registration, through the real
# binaries. `sotto init` with SOTTO_PASSPHRASE writes a key file (mode 0600)
# that says it is protected (mode byte 1, Argon2id salt and cost) and does not
# hold the private key in clear, where an unprotected one (--no-passphrase)
# does; the right passphrase sends and receives; a wrong one is exactly
# `sotto: wrong passphrase`, prints nothing on stdout and leaves the queued copy
# on the server; no passphrase and no terminal is one clear error, not a hang,
# and a refused init spends no invite and leaves no home. The history is
# sealed: no body in the database files, nothing read without the passphrase. `sottod init` is not
# open by default and then refuses `sotto init --server --pin` without an invite
# (no home left); `sottod init --open` lets it register and exchange messages.
. "$(dirname "$0")/lib.sh"

# Whatever the caller's environment holds, each command below says its own.
unset SOTTO_PASSPHRASE
PASS='correct horse battery staple 42'

# nt USER ARGS...: sotto for USER with stdin from /dev/null and no controlling
# terminal (setsid), so that a passphrase prompt cannot read anything; bounded.
nt() {
	local u=$1; shift
	timeout 60 setsid -w "$SOTTO" --home "$T/home-$u" "$@" </dev/null
}

# refused OUT USER ARGS...: `nt USER ARGS...` must end in time with a non-zero
# exit, nothing on stdout and exactly one `sotto: ` line on stderr (in OUT).
refused() {
	local out=$1 rc=0; shift
	nt "$@" >"$out.stdout" 2>"$out" || rc=$?
	[ $rc -ne 124 ] || fail "timed out (a prompt waiting?): sotto $*"
	[ $rc -ne 0 ] || fail "expected failure: sotto $*"
	[ ! -s "$out.stdout" ] || fail "a refused sotto $* printed on stdout: $(cat "$out.stdout")"
	grep -q '^sotto: ' "$out" || fail "no 'sotto: ' error line from: sotto $* ($(cat "$out"))"
	[ "$(wc -l <"$out")" -eq 1 ] || fail "more than one stderr line from: sotto $* ($(cat "$out"))"
}

# got FILE BODY FROM: FILE (a receive --json) holds that one message from FROM.
got() {
	[ "$(jq -r .body "$1")" = "$2" ] && [ "$(jq -r .from "$1")" = "$3" ] || fail "expected '$2' from $3: $(cat "$1")"
}

# hexof FILE: the file's bytes as one line of lower-case hex.
hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }
# field HEX OFFSET LEN: LEN bytes at byte OFFSET of HEX.
field() { echo "${1:$(($2 * 2)):$(($3 * 2))}"; }
zeros() { [ -z "$(echo "$1" | tr -d 0)" ]; }
sig_pub_of() { sql "SELECT lower(hex(sig_pub)) FROM devices WHERE lower(hex(device_id)) = '$1';"; }

# ---- 1. keys at rest under a passphrase (invite mode, the default) ----

server_init
grep -qx 'registration: invite' "$T/init.out" || fail "sottod init does not say invite: $(cat "$T/init.out")"
grep -qx 'registration = invite' "$DIR/sottod.conf" || fail "default sottod.conf is not invite-only"
ok "sottod init defaults to invite-only registration"
server_start
user_init alice		# unprotected key file (--no-passphrase), for comparison
ALICE_ID=$(device_id_of alice)

# No passphrase and no terminal: init refuses at once, spends no invite, makes no home.
code=$(invite dave)
refused "$T/e-init-noterm" dave init --invite "$code" --handle dave --device-name dave-laptop
grep -q 'SOTTO_PASSPHRASE' "$T/e-init-noterm" || fail "no-terminal init error unclear: $(cat "$T/e-init-noterm")"
[ ! -e "$T/home-dave" ] || fail "a refused init left a home behind: $(ls -la "$T/home-dave")"
ok "init without passphrase or terminal refused: $(cat "$T/e-init-noterm")"

# The same invite still works (it was not spent), now under a passphrase.
SOTTO_PASSPHRASE=$PASS nt dave init --invite "$code" --handle dave --device-name dave-laptop \
    >"$T/init-dave.out" 2>"$T/init-dave.err" || fail "init dave: $(cat "$T/init-dave.out" "$T/init-dave.err")"
DAVE_ID=$(sed -n 's/^device id: *//p' "$T/init-dave.out")
[ ${#DAVE_ID} -eq 32 ] || fail "init dave printed no device id: $(cat "$T/init-dave.out")"
ok "init under SOTTO_PASSPHRASE with the invite a refused init left unspent"

# The key file: 0600, says it is protected, holds no private key in clear.
KP="$T/home-dave/device.key"
KU="$T/home-alice/device.key"
[ -f "$KP" ] && [ -f "$KU" ] || fail "no device.key in the homes: $(ls "$T/home-dave" "$T/home-alice")"
for f in "$KP" "$KU"; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), not 600"
done
hp=$(hexof "$KP")
hu=$(hexof "$KU")
# Header (lib/crypto/keyfile.h): "SOTTOKEY", format 1, mode, salt 16, u64 opslimit,
# u64 memlimit, u32 n, then n bytes.
for h in "$hp" "$hu"; do
	[ "$(field "$h" 0 9)" = 534f54544f4b455901 ] || fail "key file does not start with SOTTOKEY, format 1: ${h:0:20}"
done
[ "$(field "$hp" 9 1)" = 01 ] || fail "protected key file has mode byte $(field "$hp" 9 1), not 01 (Argon2id)"
[ "$(field "$hu" 9 1)" = 00 ] || fail "unprotected key file has mode byte $(field "$hu" 9 1), not 00"
zeros "$(field "$hu" 10 32)" || fail "unprotected key file has a salt or cost: $(field "$hu" 10 32)"
! zeros "$(field "$hp" 10 16)" || fail "protected key file has an all-zero salt"
! zeros "$(field "$hp" 26 8)" && ! zeros "$(field "$hp" 34 8)" || fail "protected key file has a zero Argon2id cost"
np=$((16#$(field "$hp" 42 4)))
nu=$((16#$(field "$hu" 42 4)))
[ $np -eq $((nu + 16)) ] || fail "protected body is $np bytes, want the unprotected $nu + a 16-byte tag"
[ ${#hp} -eq $(((46 + np) * 2)) ] && [ ${#hu} -eq $(((46 + nu) * 2)) ] || fail "key file has bytes after its body"
# An Ed25519 secret key embeds its public half: the device's public key (the one
# the server holds) is in the unprotected file, so this check would see a key in
# clear; it must not be in the protected one, nor the passphrase.
spu=$(sig_pub_of "$ALICE_ID")
spp=$(sig_pub_of "$DAVE_ID")
[ ${#spu} -eq 64 ] && [ ${#spp} -eq 64 ] || fail "no signing keys in the server's devices table"
[[ "$hu" == *"$spu"* ]] || fail "unprotected key file does not hold the Ed25519 key (the check below would prove nothing)"
[[ "$hp" != *"$spp"* ]] || fail "protected key file holds the device's Ed25519 key in clear"
if grep -a -q -F "$PASS" "$KP"; then fail "the passphrase is in the key file"; fi
ok "key file: mode 0600, mode byte 1 with salt and cost, body sealed (n=$np vs $nu), no key in clear"
cp -p "$KP" "$T/dave.key.orig"

# A copy waits for dave; wrong, missing and empty passphrases cannot take it.
as alice send dave "locked but delivered" >/dev/null || fail "alice send dave"
[ "$(copies_for "$DAVE_ID")" = 1 ] || fail "no queued copy for dave"

SOTTO_PASSPHRASE='not the passphrase' refused "$T/e-wrong" dave receive --json
[ "$(cat "$T/e-wrong")" = "sotto: wrong passphrase" ] || fail "wrong passphrase error: $(cat "$T/e-wrong")"
[ "$(copies_for "$DAVE_ID")" = 1 ] || fail "a receive with a wrong passphrase consumed the copy"
ok "wrong passphrase refused, copy kept: $(cat "$T/e-wrong")"

refused "$T/e-noterm" dave receive --json
grep -q 'SOTTO_PASSPHRASE' "$T/e-noterm" || fail "no-terminal receive error unclear: $(cat "$T/e-noterm")"
[ "$(copies_for "$DAVE_ID")" = 1 ] || fail "a receive without passphrase consumed the copy"
ok "no passphrase and no terminal refused, copy kept: $(cat "$T/e-noterm")"

SOTTO_PASSPHRASE= refused "$T/e-empty" dave receive --json
grep -q 'SOTTO_PASSPHRASE' "$T/e-empty" || fail "empty passphrase error unclear: $(cat "$T/e-empty")"
[ "$(copies_for "$DAVE_ID")" = 1 ] || fail "a receive with an empty passphrase consumed the copy"
ok "empty SOTTO_PASSPHRASE refused: $(cat "$T/e-empty")"

# A wrong passphrase sends nothing either.
SOTTO_PASSPHRASE='not the passphrase' refused "$T/e-wrong-send" dave send alice "must not leave"
[ "$(cat "$T/e-wrong-send")" = "sotto: wrong passphrase" ] || fail "wrong passphrase on send: $(cat "$T/e-wrong-send")"
[ "$(copies_for "$ALICE_ID")" = 0 ] || fail "a send with a wrong passphrase queued something"
cmp -s "$KP" "$T/dave.key.orig" || fail "the refused commands changed the key file"
ok "wrong passphrase on send refused, nothing queued, key file untouched"

# The right passphrase: the copy arrives and is acknowledged; dave can answer.
SOTTO_PASSPHRASE=$PASS nt dave receive --json >"$T/dave1" 2>"$T/dave1.err" || fail "dave receive: $(cat "$T/dave1.err")"
got "$T/dave1" "locked but delivered" alice
[ "$(copies_for "$DAVE_ID")" = 0 ] || fail "dave's copy still queued after a good receive"
SOTTO_PASSPHRASE=$PASS nt dave send alice "reply from a locked device" >"$T/dsend" 2>"$T/dsend.err" ||
    fail "dave send: $(cat "$T/dsend.err")"
grep -Eq '^sent [0-9a-f]{32}$' "$T/dsend" || fail "send output: $(cat "$T/dsend")"
as alice receive --json >"$T/alice1"
got "$T/alice1" "reply from a locked device" dave
ok "right passphrase: receive and send work"

# History at rest: a copy of dave's home (the database and its WAL as they are
# on disk) holds neither body, and without the passphrase nothing reads them.
mkdir "$T/stolen" && cp -p "$T/home-dave"/sotto.db* "$T/home-dave/device.key" "$T/stolen/"
for b in "locked but delivered" "reply from a locked device"; do
	if grep -a -q -F "$b" "$T/stolen"/sotto.db*; then fail "'$b' is in dave's database in the clear"; fi
done
[ "$(sqlite3 "$T/stolen/sotto.db" "PRAGMA user_version;")" = 1 ] || fail "dave's store is not at schema version 1"
SOTTO_PASSPHRASE='not the passphrase' refused "$T/e-hist" dave history --json
[ "$(cat "$T/e-hist")" = "sotto: wrong passphrase" ] || fail "history with a wrong passphrase: $(cat "$T/e-hist")"
refused "$T/e-hist2" dave history --json
SOTTO_PASSPHRASE=$PASS nt dave history --json >"$T/dhist" || fail "dave history"
[ "$(jq -rs 'map(.body) | join("|")' "$T/dhist")" = "locked but delivered|reply from a locked device" ] ||
    fail "dave's history: $(cat "$T/dhist")"
ok "history at rest: no body in dave's sotto.db or -wal; history refused without the passphrase, shown with it"

# A stored message altered on disk is named and skipped; the others are shown
# and a receive still goes on (a new message arrives and is stored).
sqlite3 "$T/home-dave/sotto.db" "UPDATE messages SET sealed = substr(sealed, 1, 30) || CASE WHEN substr(sealed, 31, 1) = X'00' THEN X'01' ELSE X'00' END || substr(sealed, 32) WHERE id = (SELECT min(id) FROM messages);"
SOTTO_PASSPHRASE=$PASS nt dave history --json >"$T/dhist2" 2>"$T/dhist2.err" || fail "history with an altered row: $(cat "$T/dhist2.err")"
[ "$(jq -rs 'map(.body) | join("|")' "$T/dhist2")" = "reply from a locked device" ] || fail "history with an altered row: $(cat "$T/dhist2")"
grep -q "^sotto: warning: 1 stored message could not be read (row [0-9]*): altered in the database, or sealed under another key; skipped$" "$T/dhist2.err" ||
    fail "no warning for the altered row: $(cat "$T/dhist2.err")"
as alice send dave "after the damage" >/dev/null || fail "alice send dave (after the damage)"
SOTTO_PASSPHRASE=$PASS nt dave receive --json >"$T/dave2" 2>"$T/dave2.err" || fail "dave receive after the damage: $(cat "$T/dave2.err")"
got "$T/dave2" "after the damage" alice
ok "an altered stored message: named and skipped by history; receive goes on"

# ---- 2. open registration ----

# Not open: `init --server --pin` without an invite is refused, leaving nothing.
refused "$T/e-notopen" mallory init --server "$ADDR" --pin "$PIN" --handle mallory --no-passphrase
grep -qi 'invite' "$T/e-notopen" || fail "not-open refusal does not mention invites: $(cat "$T/e-notopen")"
[ ! -e "$T/home-mallory" ] || fail "a refused init left a home behind: $(ls -la "$T/home-mallory")"
[ "$(sql "SELECT count(*) FROM accounts WHERE handle = 'mallory';")" = 0 ] || fail "mallory registered"
ok "invite-only server refuses init without an invite: $(cat "$T/e-notopen")"
server_stop

# An open server (sottod init --open) on a new folder and port.
mv "$T/server" "$T/server-invite"
server_init --open
grep -qx 'registration: open' "$T/init.out" || fail "sottod init --open does not say open: $(cat "$T/init.out")"
grep -qx 'registration = open' "$DIR/sottod.conf" || fail "sottod init --open wrote no 'registration = open'"
server_start
nt carol init --server "$ADDR" --pin "$PIN" --handle carol --device-name carol-laptop --no-passphrase \
    >"$T/init-carol.out" 2>"$T/init-carol.err" || fail "open init carol: $(cat "$T/init-carol.out" "$T/init-carol.err")"
grep -q '^device id: ' "$T/init-carol.out" || fail "init carol output: $(cat "$T/init-carol.out")"
grep -q 'event=register .*handle=carol.*mode=open' "$T/server.log" || fail "server log shows no open registration of carol"
ok "open server registers carol without an invite"

user_init erin		# invited, on the same open server
as carol send erin "hello erin, from open carol" >/dev/null || fail "carol send erin"
as erin receive --json >"$T/erin1"
got "$T/erin1" "hello erin, from open carol" carol
as erin send carol "hi carol" >/dev/null || fail "erin send carol"
as carol receive --json >"$T/carol1"
got "$T/carol1" "hi carol" erin
ok "open-registered carol and invited erin exchange messages"

# Open is not a takeover: a taken handle stays taken.
refused "$T/e-taken" carol2 init --server "$ADDR" --pin "$PIN" --handle carol --no-passphrase
grep -q 'carol' "$T/e-taken" || fail "taken handle error does not name it: $(cat "$T/e-taken")"
[ ! -e "$T/home-carol2" ] || fail "a refused init left a home behind"
ok "open server still refuses a taken handle: $(cat "$T/e-taken")"

server_stop
ok "server stopped cleanly on SIGTERM"
