# SPDX-License-Identifier: ISC
# `sotto trust` shows what it trusts. During an identity reset of bob (the
# server serves a list under another account key), alice can still look:
# safety-number and devices show the identity she trusted (verified) next to
# the one the server shows now; trust without --yes and without a terminal is
# refused before anything changes; with --yes it shows both, says the verified
# mark is lost, and trusts exactly what it showed.
. "$(dirname "$0")/lib.sh"

server_init
server_start
user_init alice
user_init bob
as bob send alice "hello alice" >/dev/null 2>&1
as alice receive >/dev/null 2>&1
bob1=$(own_device_id bob)
sn_real=$(as alice safety-number bob)
as alice verify bob "$sn_real" >/dev/null || fail "alice could not verify bob"
server_stop
fake=$(forge account bob)
fake_dev=$(forge ids "$fake" | head -n 1)
sql "DELETE FROM device_lists WHERE handle = 'bob'; INSERT INTO device_lists(handle, version, list) VALUES ('bob', 1, X'$fake');"
server_start
expect_fail "$T/s1" as alice send bob "during the reset"
grep -q "the identity of bob was reset" "$T/s1" || fail "send not refused as a reset: $(cat "$T/s1")"

# Looking works during the reset, and shows old and new.
as alice safety-number bob >"$T/sn" 2>"$T/sn.err" || fail "safety-number refused during the reset: $(cat "$T/sn.err")"
grep -qx "old: $sn_real  (verified)" "$T/sn" || fail "safety-number: no old number: $(cat "$T/sn")"
sn_fake=$(sed -n 's/^new: \(.*\)  (not verified)$/\1/p' "$T/sn")
[ -n "$sn_fake" ] && [ "$sn_fake" != "$sn_real" ] || fail "safety-number: no new number: $(cat "$T/sn")"
grep -q "lost if you trust the new one" "$T/sn" || fail "safety-number does not say the mark is lost: $(cat "$T/sn")"
as alice safety-number bob --json >"$T/snj" || fail "safety-number --json during the reset"
[ "$(jq -r '[.reset, .old.safety_number, .old.verified, .new.safety_number, .new.verified] | map(tostring) | join("|")' "$T/snj")" = \
    "true|$sn_real|true|$sn_fake|false" ] || fail "safety-number --json: $(cat "$T/snj")"
as alice devices bob >"$T/dv" 2>"$T/dv.err" || fail "devices refused during the reset: $(cat "$T/dv.err")"
grep -q "^old identity, list version 1, safety number verified:$" "$T/dv" && grep -q "^  $bob1 " "$T/dv" &&
    grep -q "^new identity, list version 1, safety number not verified:$" "$T/dv" && grep -q "^  $fake_dev " "$T/dv" &&
    grep -q "lost if you trust the new one" "$T/dv" || fail "devices during the reset: $(cat "$T/dv")"
as alice devices bob --json >"$T/dvj" || fail "devices --json during the reset"
[ "$(jq -rs 'map(.identity + ":" + .id + ":" + (.verified | tostring)) | join(" ")' "$T/dvj")" = \
    "old:$bob1:true new:$fake_dev:false" ] || fail "devices --json: $(cat "$T/dvj")"
ok "during the reset, safety-number and devices show old (verified) and new (not verified), text and --json"

# Without --yes and without a terminal: refused, and nothing changes.
state() { sqlite3 "$T/home-alice/sotto.db" "SELECT handle, hex(account_pub), verified, state FROM contacts ORDER BY 1; SELECT handle, version, hex(signed) FROM device_lists ORDER BY 1, 2; SELECT count(*) FROM alerts;"; }
state >"$T/before"
setsid -w "$SOTTO" --home "$T/home-alice" trust bob </dev/null >"$T/t0.out" 2>"$T/t0" && fail "trust without a terminal or --yes succeeded"
[ "$(cat "$T/t0")" = "sotto: no terminal to confirm on: use --yes" ] || fail "trust without a terminal: $(cat "$T/t0")"
[ ! -s "$T/t0.out" ] || fail "trust without a terminal printed: $(cat "$T/t0.out")"
state >"$T/after"
cmp -s "$T/before" "$T/after" || fail "trust without a terminal changed the store"
expect_fail "$T/s2" as alice send bob "still refused"
[ "$(as alice safety-number bob --json | jq -r .old.verified)" = true ] || fail "the verified mark went after a refused trust"
ok "trust without --yes and without a terminal refused before changing anything"

# A list other than the one checked is not trusted: --list names the one the
# script saw (safety-number --json); the server showing another is refused.
new_hash=$(jq -r .new.list_hash "$T/snj")
old_hash=$(jq -r .old.list_hash "$T/snj")
[ ${#new_hash} -eq 64 ] && [ "$new_hash" != "$old_hash" ] || fail "safety-number --json list hashes: $(cat "$T/snj")"
expect_fail "$T/t2" as alice trust bob --yes --list "$old_hash"
grep -q "^sotto: the server now shows another device list for bob (version 1) than the one shown: nothing was trusted" "$T/t2" ||
    fail "trust of a list not shown: $(cat "$T/t2")"
state >"$T/after2"
cmp -s "$T/before" "$T/after2" || fail "a refused trust --list changed the store"
ok "trust --list of a list the server no longer shows: refused, nothing changed"

# With --yes: it shows what it replaces and what it trusts, and that the mark is lost.
as alice trust bob --yes --list "$new_hash" >"$T/t1" 2>"$T/t1.err" || fail "trust --yes: $(cat "$T/t1.err")"
grep -q "^the identity of bob was reset$" "$T/t1" &&
    grep -q "^trusted until now: list version 1, 1 device, safety number $sn_real (verified)$" "$T/t1" &&
    grep -q "^  $bob1 " "$T/t1" &&
    grep -q "^to be trusted: list version 1, 1 device, safety number $sn_fake (not verified)$" "$T/t1" &&
    grep -q "^  $fake_dev " "$T/t1" &&
    grep -q "^the safety number of bob was verified for the identity trusted until now: trusting the new one loses that mark$" "$T/t1" ||
    fail "trust did not show what it trusts: $(cat "$T/t1")"
[ "$(tail -n 1 "$T/t1")" = "trusted bob: safety number $sn_fake, not verified (the verified mark of the identity before is lost)" ] ||
    fail "trust's last line: $(cat "$T/t1")"
[ "$(as alice devices bob --json | jq -r '.id + ":" + (.verified | tostring) + ":" + (.verified_lost | tostring)')" = \
    "$fake_dev:false:true" ] || fail "devices after trust: $(as alice devices bob --json)"
as alice devices bob | grep -q "^safety number not verified (the one verified before was lost when \`sotto trust\` accepted a new identity)" ||
    fail "devices after trust does not say the mark was lost: $(as alice devices bob)"
[ "$(as alice safety-number bob)" = "$sn_fake" ] || fail "safety-number after trust"
ok "trust --yes showed both identities and the lost mark, then trusted the one shown; devices says the mark was lost"
# Verifying the new identity ends the note.
as alice verify bob "$sn_fake" >/dev/null || fail "verify of the new identity"
[ "$(as alice devices bob --json | jq -r '(.verified | tostring) + ":" + (.verified_lost | tostring)')" = "true:null" ] ||
    fail "devices after verifying the new identity: $(as alice devices bob --json)"

server_stop
