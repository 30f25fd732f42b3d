#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The benchmark's extra Debian packages (the peer broker and its client library),
# installed only by `make bench`, only those missing; sudo when not root.
set -euo pipefail

BENCH_PACKAGES=(mosquitto libmosquitto-dev)

missing=()
for p in "${BENCH_PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bench/deps.sh: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "bench/deps.sh: need root or sudo to install ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
	"${sudo[@]}" apt-get update
	"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
# Debian starts the packaged broker as a service; the benchmark runs its own.
if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
	"${sudo[@]}" systemctl stop mosquitto || true
fi
