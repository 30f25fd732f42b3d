#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Installs the Debian 12 packages Sotto needs to build, test and run its demo,
# only those missing; uses sudo when not root. The one place the list is kept.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	libsodium-dev libssl-dev openssl
	libwebsockets-dev libev-dev libwebsockets-evlib-ev libprotobuf-c-dev protobuf-c-compiler
	libsqlite3-dev sqlite3 jq
	libpq-dev postgresql curl
	libcmocka-dev
	clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
	"${sudo[@]}" apt-get update
	"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
