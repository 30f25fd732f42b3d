# SPDX-License-Identifier: ISC
# The server as the adversary. Between client operations the test stops the
# real sottod, edits its real SQLite database the way whoever controls it
# could (lists forged by tests/tools/sotto_forge.c, which holds no key of the
# account), and starts it again. S is the sender, R the recipient (devices r
# and r2). For each attack: what S and R see, and that nothing S encrypted went
# to a key R's devices did not sign.
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
snap base
hex=$(sqlite3 -batch -noheader "$T/snap-base/sottod.db" \
    "SELECT hex(list) FROM device_lists WHERE handle = 'r' ORDER BY version DESC LIMIT 1;")
[ -n "$hex" ] || fail "no list for r"

# No copy of a send S made may exist for a device outside R's signed list.
only_signed_copies() {
	local bad
	bad=$(sql "SELECT count(*) FROM copies WHERE hex(device_id) NOT IN (upper('$r1'), upper('$r2'), upper('$(own_device_id s 2>/dev/null || true)'));")
	[ "$bad" -eq 0 ] || fail "$1: $bad copies for a device R did not sign"
}

# s_refused TAG: S's send to R fails as an identity reset; no copy anywhere.
s_refused() {
	local before
	before=$(sql "SELECT count(*) FROM copies;")
	expect_fail "$T/$1-s" as s send r "secret-$1"
	grep -q "identity of r was reset" "$T/$1-s" || fail "$1: S's error: $(cat "$T/$1-s")"
	[ "$(alerts_of s identity_reset)" -eq 1 ] || fail "$1: S has no identity_reset alert"
	[ "$(sql "SELECT count(*) FROM copies;")" -eq "$before" ] || fail "$1: a copy was queued"
	if grep -a -q "secret-$1" "$DIR"/sottod.db*; then fail "$1: plaintext on the server"; fi
	expect_fail "$T/$1-s2" as s send r "again"
}

# r_alarmed TAG: R's next receive raises account_changed_unsigned and R's sends stop.
r_alarmed() {
	as r receive >/dev/null 2>"$T/$1-rw" || true
	[ "$(alerts_of r account_changed_unsigned)" -eq 1 ] || fail "$1: R has no account_changed_unsigned: $(as r alerts)"
	grep -q "YOUR ACCOUNT" "$T/$1-rw" || fail "$1: R's receive did not warn: $(cat "$T/$1-rw")"
	expect_fail "$T/$1-rs" as r send s "from r"
}

# ---- A: a device inserted into R's list (bytes edited: the signature fails) ----
restore base
forged=$(forge next "$hex" --add "phantom" --signer "$r1")
phantom=$(forge ids "$forged" | grep -v -e "$r1" -e "$r2" -e '^version')
sql "INSERT INTO device_lists(handle, version, list) VALUES ('r', 3, X'$forged');"
server_start
s_refused A
[ "$(copies_for "$phantom")" -eq 0 ] || fail "A: a copy for the phantom"
expect_fail "$T/A-trust" as s trust r
r_alarmed A
snap A
ok "A inserted device: S refuses to send (identity reset; trust cannot accept it), R alarmed (account_changed_unsigned)"

# ---- B: R's list replaced by one signed by a key not in the chain ----
restore base
forged=$(forge next "$hex" --add "phantom")
phantom=$(forge ids "$forged" | grep -v -e "$r1" -e "$r2" -e '^version')
sql "INSERT INTO device_lists(handle, version, list) VALUES ('r', 3, X'$forged');"
server_start
s_refused B
grep -q . "$T/B-s" && as s alerts | grep "different account key or broken chain" >/dev/null || fail "B: S's alert does not say why"
[ "$(copies_for "$phantom")" -eq 0 ] || fail "B: a copy for the phantom"
r_alarmed B
snap B
ok "B foreign signer: S refuses (broken chain), R alarmed"

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
s_refused C
as s alerts | grep "rolled back" >/dev/null || fail "C: S's alert does not say rolled back"
[ "$(copies_for "$r2")" -eq 0 ] || fail "C: a copy for the removed device"
r_alarmed C
snap C
ok "C rollback: S refuses to encrypt to the re-admitted device, R alarmed"

# ---- D: a different account key served for R, to S only ----
restore base
fake=$(forge account r)
sql "DELETE FROM device_lists WHERE handle = 'r'; INSERT INTO device_lists(handle, version, list) VALUES ('r', 1, X'$fake');"
server_start
s_refused D
as s2 safety-number r >"$T/D-fake" || fail "D: s2 (first contact) could not look up r"
server_stop
restore base   # R is shown the real list: it sees nothing wrong
server_start
as r receive >/dev/null 2>&1
[ "$(alerts_of r account_changed_unsigned)" -eq 0 ] && [ "$(alerts_of r identity_reset)" -eq 0 ] || fail "D: R saw an alert"
as r safety-number s2 >"$T/D-real"
server_stop
restore base
sql "DELETE FROM device_lists WHERE handle = 'r'; INSERT INTO device_lists(handle, version, list) VALUES ('r', 1, X'$fake');"
server_start
[ "$(as s2 safety-number r)" = "$(cat "$T/D-fake")" ] || fail "D: s2's number is not stable"
[ "$(cat "$T/D-fake")" != "$(cat "$T/D-real")" ] || fail "D: the fake key gives the same safety number"
expect_fail "$T/D-verify" as s2 verify r "$(cat "$T/D-real")"
grep -q "does not match" "$T/D-verify" || fail "D: verify: $(cat "$T/D-verify")"
snap D
ok "D split view: S (who knew R) refuses; a first-time sender's safety number differs from R's and verify fails"

# ---- E: a copy for a phantom device queued by the server ----
restore base
server_start
as s send r "secret-E" >/dev/null 2>&1
only_signed_copies E
snap E0
restore E0
phantom=$(forge ids "$(forge account x)" | head -n 1)
sql "INSERT INTO copies(device_id, msg_id, envelope, wrap, stored_at, expires_at)
     SELECT X'$m1', msg_id, envelope, wrap, stored_at, expires_at FROM copies WHERE hex(device_id) = upper('$r1');
     INSERT INTO copies(device_id, msg_id, envelope, wrap, stored_at, expires_at)
     SELECT X'$phantom', msg_id, envelope, wrap, stored_at, expires_at FROM copies WHERE hex(device_id) = upper('$r1');"
server_start
as m receive --json >"$T/E-m" 2>&1 || true
if grep -q "secret-E" "$T/E-m"; then fail "E: the phantom read the message"; fi
[ "$(alerts_of m rejected_message)" -eq 1 ] || fail "E: the phantom's copy was not rejected: $(as m alerts)"
as r receive --json >"$T/E-r"
[ "$(jq -s 'map(select(.body == "secret-E")) | length' "$T/E-r")" -eq 1 ] || fail "E: R did not get it once"
snap E
ok "E phantom copy: the phantom device (m) gets nothing it can open (rejected_message); R gets the message once"

# ---- F: one of R's devices silently dropped from the list S receives ----
restore base
forged=$(forge same "$hex" --drop "$r2" --signer "$r1")
sql "UPDATE device_lists SET list = X'$forged' WHERE handle = 'r' AND version = 2;"
server_start
s_refused F
[ "$(copies_for "$r1")" -eq 0 ] || fail "F: a copy went out on the edited list"
as s2 send r "first contact" >/dev/null 2>"$T/F-s2" && fail "F: a first-time sender accepted the edited list"
r_alarmed F
snap F
ok "F dropped device: S refuses (a different list at a verified version), a new sender refuses too, R alarmed"

# ---- G: the account key itself (a stolen recovery code) adds a device ----
restore base
forged=$(forge next "$hex" --add "phantom" --account-code "$rcode")
phantom=$(forge ids "$forged" | grep -v -e "$r1" -e "$r2" -e '^version')
sql "INSERT INTO device_lists(handle, version, list) VALUES ('r', 3, X'$forged');"
server_start
as s send r "to a recovered account" >/dev/null 2>"$T/G-warn" || fail "G: S's send: $(cat "$T/G-warn")"
grep -q "r's devices changed: added \"phantom\".*account was recovered" "$T/G-warn" || fail "G: S not warned: $(cat "$T/G-warn")"
# What the account key yields: S did encrypt to the added device, with a warning.
[ "$(copies_for "$phantom")" -eq 1 ] || fail "G: expected the account key's device to get a copy"
r_alarmed G
as r alerts | grep "signed by the account key" >/dev/null || fail "G: R's alert does not say the account key signed"
ok "G account key used by someone else: S is warned (recovery), R's devices raise account_changed_unsigned"

server_stop
