# SPDX-License-Identifier: ISC
# Hardening: key files are 0600 and refused when others can read them
# (server.key and the client's device.key). The privilege drop as root:
# privdrop.sh.
. "$(dirname "$0")/lib.sh"

server_init
# A server key others can read is refused.
chmod 644 "$DIR/server.key"
if "$SOTTOD" run "$DIR" >"$T/k.out" 2>"$T/k.err"; then fail "sottod used a world-readable key"; fi
grep -q "readable by others" "$T/k.err" || fail "unclear key refusal: $(cat "$T/k.err")"
ok "server.key readable by others refused: $(cat "$T/k.err")"
chmod 600 "$DIR/server.key"

# The client's device.key: made 0600, refused once others can read it.
server_start
user_init alice
server_stop
mode=$(stat -c %a "$T/home-alice/device.key")
[ "$mode" = 600 ] || fail "device.key made with mode $mode"
chmod 640 "$T/home-alice/device.key"
expect_fail "$T/e1" as alice receive
grep -qi "readable\|permission" "$T/e1" || fail "unclear device.key refusal: $(cat "$T/e1")"
ok "device.key 0600; readable by others refused: $(cat "$T/e1")"
