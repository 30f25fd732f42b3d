# SPDX-License-Identifier: ISC
# Issue 11 item 7, found by the attack pass: list_publishes_per_hour did not
# bound recovery. The holder of an account's recovery code published one
# version per RecoverRequest without limit (each stored for ever, handed to
# every contact's client, hinted to every follower): with the cap at 3, every
# recovery in a row was taken. Now a recovery counts like a publish, against
# twice the cap, so that a thief's device spending the cap (device publishes
# stop at it) never locks the owner's recovery out.
. "$(dirname "$0")/lib.sh"

server_init
server_conf list_publishes_per_hour 3
server_start
user_init alice
code=$(sed -n 's/^recovery code: //p' "$T/init-alice.out")
[ ${#code} -eq 43 ] || fail "init showed no recovery code"

# A thief's device spends the cap: versions 2 and 3 taken (1 was the
# registration), the 4th refused.
rc=0
forge bump "$T/home-alice" 3 >"$T/bump" 2>&1 || rc=$?
cat "$T/bump"
[ "$(grep -c ': ok$' "$T/bump")" -eq 2 ] && grep -q "^publish 4: refused: too many device list publishes" "$T/bump" ||
    fail "device publishes not capped at 3 an hour: $(cat "$T/bump")"
ok "a device's publishes stop at the cap"

# The owner still recovers, but not in a loop: versions 4, 5 and 6, then refused.
taken=0
for i in 1 2 3 4 5; do
	if as "rec$i" recover --handle alice --code "$code" --server "$ADDR" --pin "$PIN" \
	    --device-name "rec$i" --no-passphrase >"$T/rec$i" 2>&1; then
		taken=$((taken + 1))
	fi
done
v=$(sql "SELECT max(version) FROM device_lists WHERE handle = 'alice';")
echo "recoveries taken: $taken of 5, alice at version $v"
[ "$taken" -eq 3 ] && [ "$v" -eq 6 ] || fail "recoveries past twice the cap: $taken taken, version $v"
grep -q "rate limited" "$T/rec4" || fail "4th recovery: $(cat "$T/rec4")"
[ ! -e "$T/home-rec4/sotto.db" ] || fail "a refused recovery left a device behind"
# (cap_exceeded lines of one cap are kept to one a second: the device's
# refusal may have used it; recover_fail is logged every time.)
ok "recovery is taken after the device spent the cap, and capped at twice it"

grep -q 'reason="too many device list publishes for this account' "$T/server.log" || fail "no recover_fail line"
# The last recovered device is the account's.
as rec3 devices --json | jq -e 'select(.this_device)' >/dev/null || fail "rec3 does not see itself"
server_stop
