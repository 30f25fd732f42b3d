# SPDX-License-Identifier: ISC
# The server as the adversary. Between client operations the test stops the
# real sottod, edits its real SQLite database the way whoever controls it
# could (lists forged by tests/tools/sotto_forge.c, which holds no key of the
# account), and starts it again. S is the sender, R the recipient (devices r
# and r2). For each attack: what S and R see (alert kind and the reason in its
# text, the refusal's exact one-line error), and the check that matters most:
# nothing S encrypted went to a key R's devices did not sign — either the send
# was refused before anything was sealed (the copies table did not grow and
# holds no row for the phantom), or the copies of the message went to exactly
# the devices of a list R's devices signed. G is the one attack that yields a
# copy for a new device, by design (the account key signed it), with warnings.
# P is a user's validly signed copy the receiver cannot store: it must not
# block the mail behind it.
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init r
user_init s
user_init m      # an account the attacker holds: its device plays the phantom
user_init s2     # a sender who never saw R before the attack
rcode=$(sed -n 's/^recovery code: //p' "$T/init-r.out")
link_device r r2 "r-phone"
r1=$(own_device_id r)
r2=$(own_device_id r2)
m1=$(own_device_id m)
as s send r "hello r" >/dev/null 2>&1
as r receive >/dev/null 2>&1
as r2 receive >/dev/null 2>&1
# R's real safety number with s2, taken before any attack (D compares with it);
# s2 itself has still never looked R up.
as r safety-number s2 >"$T/real-r-s2" || fail "R's safety number with s2"
snap base
hex=$(sqlite3 -batch -noheader "$T/snap-base/sottod.db" \
    "SELECT hex(list) FROM device_lists WHERE handle = 'r' ORDER BY version DESC LIMIT 1;")
[ -n "$hex" ] || fail "no list for r"

# The exact one-line refusal of anything sent to (or trusted for) r while its
# identity is reset (cli/util.c, cli_fail_err). R's own sends get the same line.
RESET_LINE='sotto: the identity of r was reset; check it, then run `sotto trust r`'
# R's warning on receive and its account_changed_unsigned text
# (lib/client/client_lists.c, identity_reset) around the reason WHY.
own_alarm() { echo "YOUR ACCOUNT's device list changed in a way no device of yours signed ($1): someone may be adding a device to your account; sending is refused until \`sotto trust r\`"; }
# S's identity_reset text around the reason WHY.
reset_text() { echo "the device list of r no longer chains to the one verified ($1): messages to r are refused until \`sotto trust r\`"; }
# Reasons the client gives (lib/client/client_lists.c).
WHY_BADSIG="bad signature"
WHY_CHAIN="different account key or broken chain"
WHY_FORK="the server shows a different list for a version already verified"
WHY_ACCOUNT_KEY="a new version was signed by the account key, as in a recovery"

# line_is FILE TEXT TAG: FILE holds exactly one line, TEXT.
line_is() {
	[ "$(wc -l <"$1")" -eq 1 ] && [ "$(cat "$1")" = "$2" ] ||
	    fail "$3: expected the line '$2', got: $(cat "$1")"
}
# alerts_text USER KIND: the texts of USER's alerts of that kind, one a line.
alerts_text() { as "$1" alerts --json | jq -r --arg k "$2" 'select(.kind == $k) | .text'; }
# alerts_all USER: how many alerts USER's device holds, of any kind.
alerts_all() { as "$1" alerts --json | jq -s 'length'; }
# alert_is USER KIND N TEXT TAG: USER holds exactly N alerts of KIND, each with TEXT.
alert_is() {
	local got
	[ "$(alerts_of "$1" "$2")" -eq "$3" ] || fail "$5: $1 holds $(alerts_of "$1" "$2") $2 alerts, not $3: $(as "$1" alerts)"
	got=$(alerts_text "$1" "$2" | sort -u)
	[ "$got" = "$4" ] || fail "$5: $1's $2 alert says: $got (expected: $4)"
}
# copies_of MSGID: the devices holding a copy of that message, sorted, lower case.
copies_of() { sql "SELECT lower(hex(device_id)) FROM copies WHERE hex(msg_id) = upper('$1') ORDER BY 1;"; }
# copies_exactly TAG MSGID DEVICE...: the message's copies went to exactly these devices.
copies_exactly() {
	local tag=$1 id=$2 want got
	shift 2
	want=$(printf '%s\n' "$@" | tr 'A-F' 'a-f' | sort)
	got=$(copies_of "$id")
	[ "$got" = "$want" ] || fail "$tag: copies of $id went to [$(tr '\n' ' ' <<<"$got")], not to [$(tr '\n' ' ' <<<"$want")]"
}
# sent_id FILE: the message id `sotto send` printed.
sent_id() { sed -n 's/^sent \([0-9a-f]\{32\}\)$/\1/p' "$1"; }
# received_once USER BODY TAG: USER's next receive shows BODY exactly once.
received_once() {
	as "$1" receive --json >"$T/$3-$1-recv" 2>"$T/$3-$1-recv.err" || fail "$3: $1's receive: $(cat "$T/$3-$1-recv.err")"
	[ "$(jq -s --arg b "$2" 'map(select(.body == $b)) | length' "$T/$3-$1-recv")" -eq 1 ] ||
	    fail "$3: $1 did not get '$2' exactly once: $(cat "$T/$3-$1-recv")"
}
# restore_db NAME: put back only sottod's database from snap NAME (sottod
# stopped); every client keeps what it has seen.
restore_db() {
	rm -f "$DIR/sottod.db" "$DIR/sottod.db-wal" "$DIR/sottod.db-shm"
	db_files_copy "$T/snap-$1" "$DIR"
}

# s_refused TAG WHY: S's send to R is refused as an identity reset before
# anything is sealed (no copy anywhere), S holds one identity_reset alert
# giving WHY, and the refusal sticks (a second send, no second alert).
s_refused() {
	local before
	before=$(sql "SELECT count(*) FROM copies;")
	expect_fail "$T/$1-s" as s send r "secret-$1"
	line_is "$T/$1-s" "$RESET_LINE" "$1: S's send"
	alert_is s identity_reset 1 "$(reset_text "$2")" "$1"
	[ "$(sql "SELECT count(*) FROM copies;")" -eq "$before" ] || fail "$1: S's refused send queued a copy"
	# Sanity only: the envelope is encrypted anyway, so this grep cannot tell
	# whether a copy went to a phantom key (the copies checks do that).
	if grep -a -q "secret-$1" "$DIR"/sottod.db*; then fail "$1: plaintext in the server's database"; fi
	expect_fail "$T/$1-s2" as s send r "again"
	line_is "$T/$1-s2" "$RESET_LINE" "$1: S's second send"
	[ "$(alerts_of s identity_reset)" -eq 1 ] || fail "$1: the second refusal raised another alert"
	[ "$(sql "SELECT count(*) FROM copies;")" -eq "$before" ] || fail "$1: S's second send queued a copy"
}

# r_alarmed TAG WHY [r2]: R's next receive warns with WHY, R holds one
# account_changed_unsigned alert giving WHY, and R's sends are refused with the
# reset line. With "r2", R's second device raises the same alarm.
r_alarmed() {
	local d devs=r
	[ "${3:-}" = r2 ] && devs="r r2"
	for d in $devs; do
		as "$d" receive >/dev/null 2>"$T/$1-$d-rw" || true
		grep -qxF "sotto: warning: $(own_alarm "$2")" "$T/$1-$d-rw" ||
		    fail "$1: $d's receive did not warn: $(cat "$T/$1-$d-rw")"
		alert_is "$d" account_changed_unsigned 1 "$(own_alarm "$2")" "$1"
		expect_fail "$T/$1-$d-rs" as "$d" send s "from $d"
		line_is "$T/$1-$d-rs" "$RESET_LINE" "$1: $d's own send"
	done
}

# ---- A: a device inserted into R's list (bytes edited: the signature fails) ----
restore base
forged=$(forge next "$hex" --add "phantom" --signer "$r1")
phantom=$(forge ids "$forged" | grep -v -e "$r1" -e "$r2" -e '^version')
sql "INSERT INTO device_lists(handle, version, list) VALUES ('r', 3, X'$forged');"
server_start
s_refused A "$WHY_BADSIG"
# `trust` starts again from version 1 and meets the same bad signature: refused,
# saying why, and all or nothing — S's state (and its one alert) as before.
expect_fail "$T/A-trust" as s trust r --yes
line_is "$T/A-trust" "sotto: the device lists the server shows for r do not verify either ($WHY_BADSIG): nothing was trusted" "A: S's trust"
alert_is s identity_reset 1 "$(reset_text "$WHY_BADSIG")" "A (after trust)"
# S can still look: the identity it verified, and that nothing the server shows verifies.
as s safety-number r >"$T/A-sn" 2>&1 || fail "A: S's safety-number: $(cat "$T/A-sn")"
grep -q "^old: [0-9 ]*  (not verified)$" "$T/A-sn" && ! grep -q "^new: " "$T/A-sn" &&
    grep -q "^the identity of r was reset, and the device lists the server shows for r do not verify either ($WHY_BADSIG): nothing can be trusted now$" "$T/A-sn" ||
    fail "A: S's safety-number during the attack: $(cat "$T/A-sn")"
[ "$(as s safety-number r --json | jq -r '[.old.version, .new] | map(tostring) | join("|")')" = "2|null" ] ||
    fail "A: S's safety-number --json: $(as s safety-number r --json)"
alert_is s identity_reset 1 "$(reset_text "$WHY_BADSIG")" "A (after safety-number)"
expect_fail "$T/A-s3" as s send r "after trust"
line_is "$T/A-s3" "$RESET_LINE" "A: S's send after the refused trust"
# Nothing encrypted to the phantom: refused before sealing, no copy at all.
[ "$(copies_for "$phantom")" -eq 0 ] && [ "$(sql "SELECT count(*) FROM copies;")" -eq 0 ] ||
    fail "A: a copy was queued ($(copies_for "$phantom") for the phantom)"
r_alarmed A "$WHY_BADSIG" r2
snap A
ok "A inserted device: S refused (identity_reset: bad signature), trust refused too, 0 copies; r and r2 alarmed (account_changed_unsigned: bad signature), R's sends refused"

# ---- B: R's list replaced by one signed by a key not in the chain ----
restore base
forged=$(forge next "$hex" --add "phantom")
phantom=$(forge ids "$forged" | grep -v -e "$r1" -e "$r2" -e '^version')
sql "INSERT INTO device_lists(handle, version, list) VALUES ('r', 3, X'$forged');"
server_start
s_refused B "$WHY_CHAIN"
[ "$(copies_for "$phantom")" -eq 0 ] || fail "B: a copy for the phantom"
r_alarmed B "$WHY_CHAIN" r2
snap B
ok "B foreign signer: S refused (identity_reset: broken chain), 0 copies for the phantom; r and r2 alarmed"

# ---- C: R's list rolled back to an older version (re-admitting a removed device) ----
restore base
server_start
as r remove-device "$r2" >/dev/null
as s send r "after the removal" >/dev/null 2>"$T/C-warn" || fail "C: send after removal"
grep -q "removed \"r-phone\"" "$T/C-warn" || fail "C: S not told of the removal"
as r receive >/dev/null 2>&1
snap C0
restore C0
sql "DELETE FROM device_lists WHERE handle = 'r' AND version = 3;"
server_start
s_refused C "the server no longer shows version 3, verified before: rolled back"
# Nothing encrypted to the re-admitted device.
[ "$(copies_for "$r2")" -eq 0 ] || fail "C: a copy for the removed device"
r_alarmed C "the server no longer shows version 3, verified before: rolled back"
snap C
ok "C rollback: S refused (identity_reset: rolled back), 0 copies for the re-admitted device; R alarmed"

# ---- D: a different account key served for R, to S only ----
# The database edit is seen by whoever asks; "to S only" is played by running
# only the senders while the fake list is served, and R only once it is gone.
restore base
base_alerts_r=$(alerts_all r)
fake=$(forge account r)
fake_dev=$(forge ids "$fake" | head -n 1)
sql "DELETE FROM device_lists WHERE handle = 'r'; INSERT INTO device_lists(handle, version, list) VALUES ('r', 1, X'$fake');"
server_start
# S had verified R up to version 2 and asks from there: the server, holding
# only the fake version 1, no longer shows version 2. The client names it a
# rollback (docs/THREAT-MODEL.md says "fork at version 1"): either way a chain
# break, and the send is refused.
s_refused D "the server no longer shows version 2, verified before: rolled back"
# s2 has never seen R: trust on first use. Its client accepts the forged
# version 1 (it chains to nothing it knew), so s2 would encrypt to the fake
# key if it sent now (even after the failed `verify` below: a mismatch blocks
# nothing) — the limit of TOFU that the threat model names. What
# closes it: the safety number differs from R's real one and `verify` with
# R's real number fails; and the split view is caught as soon as s2 is shown
# R's real list (below). s2 sends nothing while the fake list is served.
as s2 safety-number r >"$T/D-fake" || fail "D: s2 (first contact) could not look up r"
[ "$(as s2 devices r --json | jq -r .id)" = "$fake_dev" ] || fail "D: s2 was not shown the forged list"
[ "$(cat "$T/D-fake")" != "$(cat "$T/real-r-s2")" ] || fail "D: the fake key gives R's real safety number"
expect_fail "$T/D-verify" as s2 verify r "$(cat "$T/real-r-s2")"
line_is "$T/D-verify" "sotto: safety number does not match for r" "D: s2's verify"
[ "$(alerts_all s2)" -eq 0 ] || fail "D: s2 alerted on first sight: $(as s2 alerts)"
# A trust that fails changes nothing: S's trust fails while the server is
# down; back up, still serving the fake list, S's send is still refused — the
# fake version 1 is not taken as a first sight of R.
server_stop
expect_fail "$T/D-trust-down" as s trust r --yes
server_start
expect_fail "$T/D-s-fake" as s send r "after the failed trust"
line_is "$T/D-s-fake" "$RESET_LINE" "D: S's send after a failed trust"
# Nothing encrypted to the fake key: S refused before sealing, s2 sent nothing.
[ "$(copies_for "$fake_dev")" -eq 0 ] && [ "$(sql "SELECT count(*) FROM copies;")" -eq 0 ] ||
    fail "D: a copy was queued"
server_stop
restore_db base   # the real list is served again; every client keeps what it saw
server_start
# R was never shown the fake list: nothing new on its side.
as r receive >/dev/null 2>"$T/D-r" || fail "D: R's receive: $(cat "$T/D-r")"
[ ! -s "$T/D-r" ] || fail "D: R was warned: $(cat "$T/D-r")"
[ "$(alerts_all r)" -eq "$base_alerts_r" ] || fail "D: R has a new alert: $(as r alerts)"
# s2 now sees R's real version 1, not the one it accepted: a fork. The split
# view is caught; the send is refused before sealing.
expect_fail "$T/D-s2" as s2 send r "to the real r"
line_is "$T/D-s2" "$RESET_LINE" "D: s2's send after the restore"
alert_is s2 identity_reset 1 "$(reset_text "$WHY_FORK")" "D (s2 after the restore)"
[ "$(sql "SELECT count(*) FROM copies;")" -eq 0 ] || fail "D: s2's refused send queued a copy"
# S's reset sticks even though the real list is back: only `trust` lifts it.
expect_fail "$T/D-s-after" as s send r "after the restore"
line_is "$T/D-s-after" "$RESET_LINE" "D: S's send after the restore"
# r writes to s2 while s2 holds r's identity as reset: s2 cannot verify the
# message now, and must not lose it either: held (acknowledged, kept on the
# device), with a warning, until s2 decides.
as r send s2 "from r during the reset" >/dev/null 2>&1 || fail "D: r's send to s2"
as s2 receive >"$T/D-held" 2>"$T/D-held.err" || fail "D: s2's receive: $(cat "$T/D-held.err")"
[ ! -s "$T/D-held" ] || fail "D: s2 showed a message it cannot verify: $(cat "$T/D-held")"
grep -q "^sotto: warning: messages from r are held: r's identity was reset" "$T/D-held.err" ||
    fail "D: no held warning: $(cat "$T/D-held.err")"
[ "$(alerts_of s2 held_message)" -eq 1 ] || fail "D: s2 has no held_message alert"
[ "$(copies_for "$(own_device_id s2)")" -eq 0 ] || fail "D: the held copy was not acknowledged"
[ "$(sqlite3 "$T/home-s2/sotto.db" "SELECT count(*) FROM held_messages;")" -eq 1 ] || fail "D: nothing held on s2"

# ---- the trust success path: s2 checks and accepts R's (real) identity ----
as s2 trust r --yes >"$T/D-trust" 2>"$T/D-trust.err" || fail "D: s2's trust: $(cat "$T/D-trust.err")"
# It shows what it replaces (the fake key s2 accepted) and what it trusts (R's
# real list, both devices), and that one held message will be opened.
[ "$(tail -n 1 "$T/D-trust")" = "trusted r: safety number $(cat "$T/real-r-s2"), not verified" ] ||
    fail "D: s2's trust: $(cat "$T/D-trust")"
grep -q "^trusted until now: list version 1, 1 device, safety number $(cat "$T/D-fake") (not verified)$" "$T/D-trust" &&
    grep -q "^to be trusted: list version 2, 2 devices, safety number $(cat "$T/real-r-s2") (not verified)$" "$T/D-trust" &&
    grep -q "^  $fake_dev " "$T/D-trust" && grep -q "^  $r1 " "$T/D-trust" && grep -q "^  $r2 " "$T/D-trust" &&
    grep -q "^1 message that arrived during the reset is held: trusting opens it as from r" "$T/D-trust" ||
    fail "D: s2's trust did not show what it trusts: $(cat "$T/D-trust")"
# Trusted: the held message is verified against the list now trusted and shown.
as s2 receive --json >"$T/D-released" || fail "D: s2's receive after trust"
[ "$(jq -s 'map(select(.body == "from r during the reset" and .from == "r")) | length' "$T/D-released")" -eq 1 ] ||
    fail "D: the held message was not shown once after trust: $(cat "$T/D-released")"
[ "$(sqlite3 "$T/home-s2/sotto.db" "SELECT count(*) FROM held_messages;")" -eq 0 ] || fail "D: still held after trust"
[ ! -s "$T/D-trust.err" ] || fail "D: s2's trust wrote to stderr: $(cat "$T/D-trust.err")"
# What s2 trusts now is R's real account: the numbers agree and verify passes.
[ "$(as s2 safety-number r)" = "$(cat "$T/real-r-s2")" ] || fail "D: after trust, s2's safety number is not R's"
as s2 verify r "$(cat "$T/real-r-s2")" >"$T/D-verify2" || fail "D: verify after trust"
line_is "$T/D-verify2" "verified r" "D: s2's verify after trust"
trusted=$(as s2 devices r --json | jq -r .id | sort)
[ "$trusted" = "$(printf '%s\n' "$r1" "$r2" | sort)" ] || fail "D: s2 trusts [$(tr '\n' ' ' <<<"$trusted")], not r1 and r2"
as s2 send r "secret-D-trusted" >"$T/D-send" 2>"$T/D-send.err" || fail "D: s2's send after trust: $(cat "$T/D-send.err")"
id=$(sent_id "$T/D-send")
[ -n "$id" ] || fail "D: s2's send printed no id: $(cat "$T/D-send")"
# Its copies went to exactly the devices of the list now trusted.
copies_exactly D "$id" $trusted
[ "$(copies_for "$fake_dev")" -eq 0 ] || fail "D: a copy for the fake device"
# The alert history keeps the reset.
alert_is s2 identity_reset 1 "$(reset_text "$WHY_FORK")" "D (s2 after trust)"
received_once r "secret-D-trusted" D
received_once r2 "secret-D-trusted" D
[ "$(alerts_all r)" -eq "$base_alerts_r" ] || fail "D: R has a new alert after the exchange: $(as r alerts)"
snap D
ok "D split view: S (who knew R) refused (identity_reset: rolled back); first-time s2 accepts the fake key (TOFU) but its number differs and verify fails; restored, s2 sees a fork, holds r's message, trusts, shows it, and its copies go to exactly r1 and r2; R sees nothing"

# ---- E: a copy for a phantom device queued by the server ----
restore base
server_start
base_alerts_s=$(alerts_all s)
base_alerts_r=$(alerts_all r)
base_alerts_r2=$(alerts_all r2)
as s send r "secret-E" >"$T/E-send" 2>&1 || fail "E: S's send: $(cat "$T/E-send")"
idE=$(sent_id "$T/E-send")
# S encrypted to exactly R's signed devices.
copies_exactly E "$idE" "$r1" "$r2"
# Second message, to R and to m: m is named among its recipients, so only the
# wrap can keep it from reading r1's copy.
as s send r m "secret-E2" >"$T/E2-send" 2>&1 || fail "E: S's send to r and m: $(cat "$T/E2-send")"
idE2=$(sent_id "$T/E2-send")
copies_exactly E "$idE2" "$r1" "$r2" "$m1"
server_stop
unknown=$(forge ids "$(forge account x)" | head -n 1)
# r1's copy of secret-E queued for m (its account is not a recipient) and for a
# device id no account has (no device can ever fetch it: it is there only to
# show that R's delivery is unaffected); m's copy of secret-E2 given r1's wrap.
# (A queue is (account, device): the copy for m goes into m's.)
# Rejections are grouped per claimed sender while unseen: m lists its alerts
# between the two, so each keeps its own text (its own check).
sql "INSERT INTO copies(account, device_id, msg_id, envelope, wrap, stored_at, expires_at)
     SELECT 'm', X'$m1', msg_id, envelope, wrap, stored_at, expires_at FROM copies WHERE hex(device_id) = upper('$r1') AND hex(msg_id) = upper('$idE');
     INSERT INTO copies(device_id, msg_id, envelope, wrap, stored_at, expires_at)
     SELECT X'$unknown', msg_id, envelope, wrap, stored_at, expires_at FROM copies WHERE hex(device_id) = upper('$r1') AND hex(msg_id) = upper('$idE');
     CREATE TABLE e2_hold AS SELECT * FROM copies WHERE hex(device_id) = upper('$m1') AND hex(msg_id) = upper('$idE2');
     DELETE FROM copies WHERE hex(device_id) = upper('$m1') AND hex(msg_id) = upper('$idE2');"
[ "$(copies_for "$m1")" -eq 1 ] || fail "E: the attack did not queue m's first copy"
server_start
as m receive --json >"$T/E-m" 2>&1 || true
# secret-E: refused at the recipient check, before any unwrap.
alerts_text m rejected_message | grep -qxF "a message from s was rejected: message is not addressed to this account" ||
    fail "E: m's rejection of secret-E: $(alerts_text m rejected_message)"
server_stop
sql "INSERT INTO copies SELECT * FROM e2_hold; DROP TABLE e2_hold;
     UPDATE copies SET wrap = (SELECT c.wrap FROM copies c WHERE c.msg_id = copies.msg_id AND hex(c.device_id) = upper('$r1'))
     WHERE hex(device_id) = upper('$m1') AND hex(msg_id) = upper('$idE2');"
[ "$(copies_for "$m1")" -eq 1 ] || fail "E: the attack did not queue m's second copy"
server_start
as m receive --json >>"$T/E-m" 2>&1 || true
if grep -q "secret-E" "$T/E-m"; then fail "E: the phantom read a message: $(cat "$T/E-m")"; fi
[ "$(alerts_of m rejected_message)" -eq 2 ] || fail "E: m's copies were not both rejected: $(as m alerts)"
# secret-E2: m is a recipient, but r1's wrap does not open with m's key and id.
alerts_text m rejected_message | grep -qxF "a message from s was rejected: decryption failed (message altered or not for this device)" ||
    fail "E: m's rejection of r1's wrap: $(alerts_text m rejected_message)"
received_once r "secret-E" E
received_once r2 "secret-E" E
# S and R saw nothing to alert about.
[ "$(alerts_all s)" -eq "$base_alerts_s" ] || fail "E: S has a new alert: $(as s alerts)"
[ "$(alerts_all r)" -eq "$base_alerts_r" ] || fail "E: r has a new alert: $(as r alerts)"
[ "$(alerts_all r2)" -eq "$base_alerts_r2" ] || fail "E: r2 has a new alert: $(as r2 alerts)"
snap E
ok "E phantom copy: S's copies went to exactly r1 and r2; m rejects r's copy (not addressed to it) and r1's wrap (decryption failed); R gets it once per device; no new alert for S or R"

# ---- F: one of R's devices silently dropped from the list S receives ----
restore base
forged=$(forge same "$hex" --drop "$r2" --signer "$r1")
sql "UPDATE device_lists SET list = X'$forged' WHERE handle = 'r' AND version = 2;"
server_start
# S had verified version 2: the edited version 2 is a fork.
s_refused F "$WHY_FORK"
# S did not leave r2 out silently: nothing went out on the edited list at all.
[ "$(copies_for "$r1")" -eq 0 ] && [ "$(sql "SELECT count(*) FROM copies;")" -eq 0 ] ||
    fail "F: a copy went out on the edited list"
# s2 (first contact) accepts version 1, then the edited version 2 fails its signature.
expect_fail "$T/F-s2" as s2 send r "first contact"
line_is "$T/F-s2" "$RESET_LINE" "F: s2's send"
alert_is s2 identity_reset 1 "$(reset_text "$WHY_BADSIG")" "F (s2)"
[ "$(sql "SELECT count(*) FROM copies;")" -eq 0 ] || fail "F: s2's refused send queued a copy"
r_alarmed F "$WHY_FORK"
# The dropped device is refused by the server (it authenticates against the list).
expect_fail "$T/F-r2" as r2 receive
line_is "$T/F-r2" "sotto: the server refused this device: it is not in its account's device list (removed, or the account was recovered elsewhere)" "F: r2's receive"
snap F
ok "F dropped device: S refused (identity_reset: fork), first-time s2 refused (identity_reset: bad signature), 0 copies; r alarmed (fork), r2 refused by the server"

# ---- G: the account key itself (a stolen recovery code) adds a device ----
restore base
forged=$(forge next "$hex" --add "phantom" --account-code "$rcode")
phantom=$(forge ids "$forged" | grep -v -e "$r1" -e "$r2" -e '^version')
sql "INSERT INTO device_lists(handle, version, list) VALUES ('r', 3, X'$forged');"
server_start
as s send r "to a recovered account" >"$T/G-send" 2>"$T/G-warn" || fail "G: S's send: $(cat "$T/G-warn")"
grep -q "^sotto: warning: r's devices changed: added \"phantom\" (fingerprint [0-9a-f ]*) (signed by the account key: the account was recovered)$" "$T/G-warn" ||
    fail "G: S not warned: $(cat "$T/G-warn")"
[ "$(alerts_of s contact_devices_changed)" -eq 1 ] && alerts_text s contact_devices_changed | grep -q "account was recovered) (list version 3)$" ||
    fail "G: S's contact_devices_changed alert: $(as s alerts)"
# What the account key yields, by design: the list is signed by R's account
# key, so S encrypts to the added device too — with the warning above.
copies_exactly G "$(sent_id "$T/G-send")" "$r1" "$r2" "$phantom"
r_alarmed G "$WHY_ACCOUNT_KEY" r2
ok "G account key used by someone else: S warned (contact_devices_changed, recovery) and encrypts to the 3 devices of the account-signed list; r and r2 alarmed (account_changed_unsigned: signed by the account key)"

# ---- P: a validly signed copy whose header the receiver cannot take ----
# sottod does not parse envelopes, so any user's send would queue this copy:
# m signs an envelope to r with a sent time of 2^63 (out of range), as its
# own device. Before the fix every later receive of r1 failed ("invalid
# argument") until the copy expired; now it is set aside, named, acknowledged.
server_stop
restore base
forge envelope "$T/home-m" "$hex" 9223372036854775808 "poison" >"$T/P-forge" || fail "P: forge: $(cat "$T/P-forge")"
p_id=$(sed -n 1p "$T/P-forge"); p_dev=$(sed -n 2p "$T/P-forge")
[ "$p_dev" = "$r1" ] || fail "P: the forged copy is not for r1 ($p_dev)"
now_ms=$(($(date +%s) * 1000))
sql "INSERT INTO copies(account, device_id, msg_id, envelope, wrap, stored_at, expires_at)
     VALUES ('r', X'$p_dev', X'$p_id', X'$(sed -n 3p "$T/P-forge")', X'$(sed -n 4p "$T/P-forge")', $now_ms, $((now_ms + 86400000)));"
server_start
as s send r "after the poison" >"$T/P-send" 2>&1 || fail "P: S's send: $(cat "$T/P-send")"
as r receive --json >"$T/P-r" 2>&1 || fail "P: r's receive failed: $(cat "$T/P-r")"
[ "$(jq -r 'select(.from == "s") | .body' "$T/P-r")" = "after the poison" ] || fail "P: r did not get the good message: $(cat "$T/P-r")"
alert_is r rejected_message 1 "a message from m was rejected: invalid format" "P"
[ "$(copies_for "$r1")" -eq 0 ] || fail "P: r1's queue still holds $(copies_for "$r1") copies"
as r receive >"$T/P-r-again" 2>&1 || fail "P: r's next receive: $(cat "$T/P-r-again")"
ok "P poisoned header: r's receive shows the good message behind it, the poison is one rejected_message alert naming m, and r1's queue is empty"

server_stop
