#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Runs every benchmark of issue 5 against a fresh sottod (open registration) and a
# fresh Mosquitto (TLS, persistence, QoS 1), both on 127.0.0.1, and prints the
# tables (Markdown) on stdout. Usage: bench/run.sh BUILD_DIR [loadgen options...]
# Extra loadgen options are passed through (e.g. --only ac --idle 20000).
#
# Two phases, each with its own fresh pair of servers:
#  1. (a) and (b) against sottod as installed: `workers` unset, one worker per
#     core (SOTTO_BENCH_WORKERS_AB=N sets it);
#  2. (c), (d), (e), (f), and (a) once more, against a node of 6 workers: (c)
#     asks for 100,000 devices and a worker holds at most 20,000 descriptors
#     (docs/OPERATIONS.md, "How many workers"). SOTTO_BENCH_WORKERS=N sets it.
# --only picks scenarios as before; each goes to its phase.
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
stop_servers() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null || true
	[ -n "$mpid" ] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null || true
	spid=""
	mpid=""
}
cleanup() {
	stop_servers
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

# start_servers DIR WORKERS: a fresh sottod (WORKERS empty: its default) in
# $work/DIR and a fresh Mosquitto; sets node, sport, pin, spid, mport, mpid.
start_servers() {
	node=$work/$1
	local workers=$2 storage
	mkdir -p "$node"
	sport=$(free_port 17443)
	mport=$(free_port 18883)

	# Sotto: default durability (SQLite WAL, synchronous=FULL, group commit).
	"$sottod" init "$node/sottod" --open --address "127.0.0.1:$sport" >"$node/init.txt"
	pin=$(awk '/^pin:/ {print $2}' "$node/init.txt")
	# The load generator plays tens of thousands of devices from a handful of
	# 127.0.0.x addresses: exactly what the per-address limits exist to refuse.
	# They are lifted here, and so is the per-device send rate (500/s, burst
	# 1,000): in (a) each of 32 devices sends 1,000 or more messages a second,
	# which no person does and which the limit exists to refuse (the limiter
	# still runs on every send). The other per-device limits stay at their
	# defaults.
	cat >>"$node/sottod/sottod.conf" <<'CONF'
send_rate = 1000000
send_burst = 1000000
max_conns_per_addr = 65536
addr_lookup_rate = 1000000
addr_lookup_burst = 1000000
addr_send_rate = 1000000
addr_send_burst = 1000000
CONF
	if [ -n "$workers" ]; then echo "workers = $workers" >>"$node/sottod/sottod.conf"; fi
	# SOTTO_BENCH_PG=CONNINFO: the node stores in that PostgreSQL instead of
	# SQLite (`make bench-pg` gives it a throwaway cluster, fsync on).
	storage="SQLite (WAL, synchronous=FULL)"
	if [ -n "${SOTTO_BENCH_PG:-}" ]; then
		printf 'storage = postgres\npostgres_url = %s\n' "$SOTTO_BENCH_PG" >>"$node/sottod/sottod.conf"
		storage="PostgreSQL $(psql -tA "$SOTTO_BENCH_PG" -c 'SHOW server_version' 2>/dev/null || echo '?')"\
" (fsync $(psql -tA "$SOTTO_BENCH_PG" -c 'SHOW fsync' 2>/dev/null || echo '?'),"\
" synchronous_commit $(psql -tA "$SOTTO_BENCH_PG" -c 'SHOW synchronous_commit' 2>/dev/null || echo '?'))"
	fi
	# As root, sottod binds and reads its key, then runs as an unprivileged user
	# that must own its folder (docs/OPERATIONS.md).
	if [ "$(id -u)" -eq 0 ]; then
		chmod 0711 "$work" "$node"
		echo "user = nobody" >>"$node/sottod/sottod.conf"
		chown -R nobody "$node/sottod"
	fi
	"$sottod" run "$node/sottod" >"$node/sottod.out" 2>"$node/sottod.log" &
	spid=$!

	# Mosquitto: TLS 1.3 with a certificate made now, persistence on, QoS 1 limits off.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=127.0.0.1 -keyout "$node/mq.key" -out "$node/mq.crt" 2>/dev/null
	mkdir -p "$node/mq"
	cat >"$node/mosquitto.conf" <<EOF
listener $mport 127.0.0.1
certfile $node/mq.crt
keyfile $node/mq.key
tls_version tlsv1.3
allow_anonymous true
persistence true
persistence_location $node/mq/
autosave_interval 1800
autosave_on_changes false
max_inflight_messages 0
max_queued_messages 0
max_connections -1
set_tcp_nodelay true
log_dest file $node/mosquitto.log
log_type error
log_type warning
EOF
	# As root, mosquitto would switch to user mosquitto, who cannot read this 0700 directory.
	if [ "$(id -u)" -eq 0 ]; then echo "user root" >>"$node/mosquitto.conf"; fi
	mosquitto -c "$node/mosquitto.conf" >/dev/null 2>&1 &
	mpid=$!

	for i in $(seq 1 100); do
		grep -q '^listening' "$node/sottod.out" 2>/dev/null && ss -Htln "sport = :$mport" | grep -q . && break
		sleep 0.1
	done
	grep -q '^listening' "$node/sottod.out" || { echo "run.sh: sottod did not start:" >&2; cat "$node/sottod.log" >&2; exit 1; }
	ss -Htln "sport = :$mport" | grep -q . || { echo "run.sh: mosquitto did not start" >&2; exit 1; }
	echo "sottod: ${workers:-$(nproc) (its default: one per core)} workers; storage: $storage."
	echo
}

# run_loadgen ONLY [ARGS...]: the load generator against the servers started
# last; a server that died or logged errors under load is reported, not hidden.
run_loadgen() {
	local only=$1 rc=0
	shift
	"$loadgen" --port "$sport" --pin "$pin" --server-pid "$spid" --db "$node/sottod/sottod.db" \
		--mqtt-port "$mport" --mqtt-pid "$mpid" --mqtt-ca "$node/mq.crt" "$@" --only "$only" || rc=1
	if ! kill -0 "$spid" 2>/dev/null; then
		echo
		echo "**sottod exited during the run**; last log lines:"
		tail -20 "$node/sottod.log" | sed 's/^/    /'
		rc=1
	fi
	if grep -q 'level=error' "$node/sottod.log"; then
		echo
		echo "sottod logged errors (count, message):"
		grep 'level=error' "$node/sottod.log" | sed 's/^ts=[^ ]* //; s/ pid=[0-9]*//' | sort | uniq -c |
			sort -rn | head -10 | sed 's/^/    /' || true
	fi
	return $rc
}

# The scenarios asked for (--only) go to their phase; other options to both.
only=abcdef
args=()
while [ $# -gt 0 ]; do
	if [ "$1" = --only ] && [ $# -ge 2 ]; then
		only=$2
		shift 2
	else
		args+=("$1")
		shift
	fi
done
only1=$(tr -cd 'ab' <<<"$only")
only2=$(tr -cd 'cdef' <<<"$only")
# (a) once more on the 6-worker node: what the workers (c) needs cost.
if [ -n "$only2" ] && [ "${only1#*a}" != "$only1" ]; then only2="a$only2"; fi

echo "## Benchmark run $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"\
	"$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r),"\
	"open files $(ulimit -n) per process; mosquitto $(mosquitto -h 2>/dev/null | awk 'NR==1 {print $3}')."
echo
"$crypto" 0.5
echo
status=0
if [ -n "$only1" ]; then
	echo "## Phase 1: ($only1) against sottod with its default worker count"
	echo
	start_servers ab "${SOTTO_BENCH_WORKERS_AB:-}"
	run_loadgen "$only1" ${args[@]+"${args[@]}"} || status=1
	stop_servers
fi
if [ -n "$only2" ]; then
	echo
	echo "## Phase 2: ($only2) against a node of ${SOTTO_BENCH_WORKERS:-6} workers"
	echo
	start_servers cdef "${SOTTO_BENCH_WORKERS:-6}"
	run_loadgen "$only2" ${args[@]+"${args[@]}"} || status=1
	stop_servers
fi
exit $status
