#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Runs every benchmark of issue 5 against a fresh sottod (open registration) and a
# fresh Mosquitto (TLS, persistence, QoS 1), both on 127.0.0.1, and prints the
# tables (Markdown) on stdout. Usage: bench/run.sh BUILD_DIR [loadgen options...]
# Extra loadgen options are passed through (e.g. --only ac --idle 20000).
set -euo pipefail

build=${1:?usage: bench/run.sh BUILD_DIR [loadgen options]}
shift
sottod=$build/sottod
loadgen=$build/bench/loadgen
crypto=$build/bench/crypto_bench
for b in "$sottod" "$loadgen" "$crypto"; do
	[ -x "$b" ] || { echo "run.sh: $b is missing (make bench builds it)" >&2; exit 1; }
done
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
command -v mosquitto >/dev/null || { echo "run.sh: mosquitto is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/sotto-bench.XXXXXX)
spid=""
mpid=""
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
	[ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null || true
	if [ "${KEEP_BENCH_DIR:-0}" = 1 ]; then
		echo "run.sh: kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

free_port() {
	local p=$1
	while ss -Htln "sport = :$p" | grep -q .; do p=$((p + 1)); done
	echo "$p"
}
sport=$(free_port 17443)
mport=$(free_port 18883)

# Sotto: default durability (SQLite WAL, synchronous=FULL, group commit).
"$sottod" init "$work/sottod" --open --address "127.0.0.1:$sport" >"$work/init.txt"
pin=$(awk '/^pin:/ {print $2}' "$work/init.txt")
# The load generator plays tens of thousands of devices from a handful of
# 127.0.0.x addresses: exactly what the per-address limits exist to refuse. They
# are lifted here, and so is the per-device send rate (500/s, burst 1,000): in
# (a) each of 32 devices sends 1,000 or more messages a second, which no person
# does and which the limit exists to refuse (the limiter still runs on every
# send). The other per-device limits stay at their defaults.
cat >>"$work/sottod/sottod.conf" <<'CONF'
send_rate = 1000000
send_burst = 1000000
max_conns_per_addr = 65536
addr_lookup_rate = 1000000
addr_lookup_burst = 1000000
addr_send_rate = 1000000
addr_send_burst = 1000000
CONF
# Six workers: (c) asks for 100,000 devices and a worker holds at most 20,000
# descriptors (docs/OPERATIONS.md, "How many workers"); the same node serves
# every scenario. SOTTO_BENCH_WORKERS=N overrides it.
echo "workers = ${SOTTO_BENCH_WORKERS:-6}" >>"$work/sottod/sottod.conf"
# SOTTO_BENCH_PG=CONNINFO: the node stores in that PostgreSQL instead of SQLite
# (`make bench-pg` gives it a throwaway cluster, fsync on).
storage="SQLite (WAL, synchronous=FULL)"
if [ -n "${SOTTO_BENCH_PG:-}" ]; then
	printf 'storage = postgres\npostgres_url = %s\n' "$SOTTO_BENCH_PG" >>"$work/sottod/sottod.conf"
	storage="PostgreSQL $(psql -tA "$SOTTO_BENCH_PG" -c 'SHOW server_version' 2>/dev/null || echo '?')"\
"(fsync $(psql -tA "$SOTTO_BENCH_PG" -c 'SHOW fsync' 2>/dev/null || echo '?'),"\
" synchronous_commit $(psql -tA "$SOTTO_BENCH_PG" -c 'SHOW synchronous_commit' 2>/dev/null || echo '?'))"
fi
# As root, sottod binds and reads its key, then runs as an unprivileged user
# that must own its folder (docs/OPERATIONS.md).
if [ "$(id -u)" -eq 0 ]; then
	chmod 0711 "$work"
	echo "user = nobody" >>"$work/sottod/sottod.conf"
	chown -R nobody "$work/sottod"
fi
"$sottod" run "$work/sottod" >"$work/sottod.out" 2>"$work/sottod.log" &
spid=$!

# Mosquitto: TLS 1.3 with a certificate made now, persistence on, QoS 1 limits off.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=127.0.0.1 -keyout "$work/mq.key" -out "$work/mq.crt" 2>/dev/null
mkdir -p "$work/mq"
cat >"$work/mosquitto.conf" <<EOF
listener $mport 127.0.0.1
certfile $work/mq.crt
keyfile $work/mq.key
tls_version tlsv1.3
allow_anonymous true
persistence true
persistence_location $work/mq/
autosave_interval 1800
autosave_on_changes false
max_inflight_messages 0
max_queued_messages 0
max_connections -1
set_tcp_nodelay true
log_dest file $work/mosquitto.log
log_type error
log_type warning
EOF
# As root, mosquitto would switch to user mosquitto, who cannot read this 0700 directory.
[ "$(id -u)" -eq 0 ] && echo "user root" >>"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 &
mpid=$!

for i in $(seq 1 100); do
	grep -q '^listening' "$work/sottod.out" 2>/dev/null && ss -Htln "sport = :$mport" | grep -q . && break
	sleep 0.1
done
grep -q '^listening' "$work/sottod.out" || { echo "run.sh: sottod did not start:" >&2; cat "$work/sottod.log" >&2; exit 1; }
ss -Htln "sport = :$mport" | grep -q . || { echo "run.sh: mosquitto did not start" >&2; exit 1; }

echo "## Benchmark run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"\
	"$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r),"\
	"open files $(ulimit -n) per process; mosquitto $(mosquitto -h 2>/dev/null | awk 'NR==1 {print $3}')."
echo
echo "sottod: $(sed -n 's/^workers = //p' "$work/sottod/sottod.conf" | tail -n 1) workers; storage: $storage."
echo
"$crypto" 0.5
echo
"$loadgen" --port "$sport" --pin "$pin" --server-pid "$spid" --db "$work/sottod/sottod.db" \
	--mqtt-port "$mport" --mqtt-pid "$mpid" --mqtt-ca "$work/mq.crt" "$@"
status=$?

# A server that died or logged errors under load is reported, not hidden.
if ! kill -0 "$spid" 2>/dev/null; then
	echo
	echo "**sottod exited during the run**; last log lines:"
	tail -20 "$work/sottod.log" | sed 's/^/    /'
	status=1
fi
if grep -q 'level=error' "$work/sottod.log"; then
	echo
	echo "sottod logged errors (count, message):"
	grep 'level=error' "$work/sottod.log" | sed 's/^ts=[^ ]* //; s/ pid=[0-9]*//' | sort | uniq -c |
		sort -rn | head -10 | sed 's/^/    /' || true
fi
exit $status
