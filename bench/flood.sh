#!/bin/bash
# SPDX-License-Identifier: ISC
# The floods of issue 11 item 3 against one sottod at its defaults, for the
# figures in docs/OPERATIONS.md: (1) mallory floods bob's mailbox with small
# messages for 25 s; then carol sends bob one message; (2) alice, one device,
# sends 130,000-byte envelopes to dave for 20 s: bytes stored per second.
#   SOTTOD=... SOTTO=... SOTTO_HOSTILE=... bench/flood.sh
# (the binaries of the build to measure; sotto_hostile from tests/tools).
. "$(dirname "$0")/../tests/integration/lib.sh"

server_init
server_start
for u in mallory carol bob alice dave; do user_init "$u"; done
"$SOTTO_HOSTILE" "$ADDR" send-flood "$T/home-mallory" bob 200 25 | tee "$T/flood1"
if as carol send bob "carol after the flood" >/dev/null 2>"$T/e"; then
	echo "carol -> bob: delivered"
else
	echo "carol -> bob: refused: $(cat "$T/e")"
fi
echo "bob's copies: $(sql "SELECT count(*) FROM copies WHERE hex(device_id) = upper('$(device_id_of bob)')")"
"$SOTTO_HOSTILE" "$ADDR" flood "$T/home-alice" dave 130000 20 | tee "$T/flood2"
server_stop
