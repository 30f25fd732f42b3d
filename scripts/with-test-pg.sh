#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# with-test-pg.sh CMD...: run CMD with SOTTO_TEST_PG naming a PostgreSQL server
# the tests may create databases on. If SOTTO_TEST_PG is already set (CI sets up
# Debian's cluster), it is used as is; otherwise a throwaway cluster is made in a
# temporary folder (unix socket only, no TCP), used, then stopped and removed.
set -euo pipefail

if [ -n "${SOTTO_TEST_PG:-}" ]; then
	exec "$@"
fi
# Debian's layout first, then whatever PATH holds (another distribution's).
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
	pgbin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
fi
if [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pg_ctl" ]; then
	echo "with-test-pg: PostgreSQL server not installed; its tests show as Skipped" >&2
	exec "$@"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/sotto-pg.XXXXXX")
chmod 0755 "$dir"
# initdb and postgres refuse to run as root: then the cluster runs as Debian's
# postgres account, or SOTTO_TEST_USER (the integration tests' user, default
# nobody) where there is none. The tests, root or not, reach it through the
# socket in $dir (0755, the socket 0777).
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	pguser=postgres
	id -u "$pguser" >/dev/null 2>&1 || pguser=${SOTTO_TEST_USER:-nobody}
	chown "$pguser:" "$dir"
	as_pg=(runuser -u "$pguser" --)
	if ! "${as_pg[@]}" test -w "$dir"; then
		echo "with-test-pg: $pguser cannot write $dir (is ${TMPDIR:-/tmp} closed to others?); set TMPDIR" >&2
		rm -rf "$dir"
		exit 1
	fi
fi
stop() {
	"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
# A signal must still stop the cluster: exit, which runs the EXIT trap.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
port=$((40000 + RANDOM % 20000))
"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -A trust -U sotto --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses='' -k $dir -p $port -c fsync=on" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
export SOTTO_TEST_PG="host=$dir port=$port user=sotto dbname=postgres"
echo "with-test-pg: throwaway PostgreSQL at $dir (port $port)" >&2
rc=0
"$@" || rc=$?
exit $rc
