# SPDX-License-Identifier: ISC
# Shared helpers for the integration tests: a real sottod on 127.0.0.1 with a
# free port and real TLS, and real `sotto` clients, each in a temporary folder.
# Source it; SOTTOD and SOTTO name the binaries (ctest sets them).
set -euo pipefail
SKIP_RC=77	# exit code of a skipped test (skip, below)

: "${SOTTOD:?SOTTOD must name the sottod binary}"
: "${SOTTO:?SOTTO must name the sotto binary}"
SOTTOD=$(readlink -f "$SOTTOD")
SOTTO=$(readlink -f "$SOTTO")

T=$(mktemp -d "${TMPDIR:-/tmp}/sotto-it.XXXXXX")
SPID=
BG_PIDS=()

# Sanitizer builds (make check-sanitize): every sottod's and sotto's ASan, LSan
# and UBSan report goes to $T/sanitizer.<pid> rather than to a stderr the test
# may not read, and any report fails the test (sanitizer_check, at exit).
# The folder is writable by all (sticky): sottod's workers write theirs after
# dropping root (server_dir_prepare).
mkdir -m 1777 "$T/san"
chmod 1777 "$T/san"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T/san/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T/san/sanitizer"

sanitizer_check() {
	local f bad=0
	for f in "$T"/san/sanitizer.*; do
		[ -e "$f" ] || continue
		# LeakSanitizer's tracer writes only this when the process it checks
		# at exit is SIGKILLed under it (crash tests kill on purpose): the
		# leak check never ran; it is not a finding.
		if ! grep -qv 'Unable to get registers from thread' "$f"; then
			echo "--- ignored: leak check of a killed process ($f) ---" >&2
			continue
		fi
		bad=1
		echo "--- sanitizer report $f ---" >&2
		head -n 60 "$f" >&2
	done
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/server.log" 2>/dev/null; then
		bad=1
		echo "--- sanitizer report in the server log ---" >&2
		grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$T/server.log" | head -n 60 >&2
	fi
	return $bad
}

cleanup() {
	local rc=$?
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$SPID" ]; then kill -TERM "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
	if ! sanitizer_check; then
		echo "FAIL: a sanitizer reported an error or a leak (above)" >&2
		{ [ $rc -ne 0 ] && [ $rc -ne $SKIP_RC ]; } || rc=1
	fi
	if [ $rc -ne 0 ] && [ $rc -ne $SKIP_RC ]; then
		echo "--- server log (last 40 lines) ---" >&2
		tail -n 40 "$T/server.log" 2>/dev/null >&2 || true
	fi
	[ -n "${SOTTO_KEEP_TMP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

# skip WHY: this test cannot run here; CTest shows it as Skipped, never Passed
# (SKIP_RETURN_CODE 77 in tests/CMakeLists.txt). Only from the test's own
# shell, before anything is checked: a skip inside $(...) would end the
# subshell alone.
skip() { echo "SKIPPED: $*"; exit $SKIP_RC; }

# need TOOL...: skip unless every TOOL is on PATH. A missing tool must not
# turn a check into one that cannot fail (`if tool ...; then fail` passes).
need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "needs $t (scripts/install-deps.sh installs it)"
	done
}
# What the helpers below use, in every test.
need jq sqlite3 timeout awk

# A TCP port on 127.0.0.1 that nothing listens on (bounded attempts), below the
# kernel's ephemeral range: a port the tests' own outgoing connections may hold
# as their local port would refuse sottod's bind (EADDRINUSE) though nothing
# listens there.
free_port() {
	local p i lo
	lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "${lo:-0}" -gt 12000 ] || lo=32768
	for i in $(seq 1 100); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# server_init [extra init args]: makes $T/server, sets PORT, ADDR, PIN, DIR.
server_init() {
	DIR="$T/server"
	PORT=$(free_port)
	ADDR="127.0.0.1:$PORT"
	"$SOTTOD" init "$DIR" --address "$ADDR" "$@" >"$T/init.out"
	PIN=$(sed -n 's/^pin: *//p' "$T/init.out" | tail -n 1)
	[ ${#PIN} -eq 43 ] || fail "sottod init printed no pin: $(cat "$T/init.out")"
	server_dir_prepare "$DIR"
}

# Run as root (CI is): sottod refuses root without `user = NAME` and then runs
# as NAME, which must own its folder. The tests use SOTTO_TEST_USER (default
# nobody); $T is opened for traversal (0711) so that user can reach the folder.
SOTTO_TEST_USER=${SOTTO_TEST_USER:-nobody}
is_root() { [ "$(id -u)" -eq 0 ]; }

# server_dir_prepare DIR: as root, configure the user and give it DIR (again
# after any file was put back there as root: server_start calls it).
server_dir_prepare() {
	is_root || return 0
	chmod 711 "$T"
	grep -q "^user = " "$1/sottod.conf" || echo "user = $SOTTO_TEST_USER" >>"$1/sottod.conf"
	chown -R "$SOTTO_TEST_USER" "$1"
}

# server_conf KEY VALUE: override a config value (later lines win).
server_conf() { echo "$1 = $2" >>"$DIR/sottod.conf"; }

server_start() {
	server_dir_prepare "$DIR"
	: >"$T/server.out"
	"$SOTTOD" run "$DIR" >"$T/server.out" 2>>"$T/server.log" &
	SPID=$!
	local i
	for i in $(seq 1 100); do
		grep -q "^listening on " "$T/server.out" && return 0
		kill -0 "$SPID" 2>/dev/null || fail "sottod exited: $(tail -n 5 "$T/server.log")"
		sleep 0.1
	done
	fail "sottod did not print 'listening on' within 10 s"
}

# server_stop: SIGTERM, and sottod must exit 0.
server_stop() {
	kill -TERM "$SPID"
	local rc=0
	wait "$SPID" || rc=$?
	SPID=
	[ $rc -eq 0 ] || fail "sottod exited $rc on SIGTERM"
}

server_kill() { kill -KILL "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=; }

invite() { "$SOTTOD" invite "$DIR" "$1" | tail -n 1; }

# as USER sotto-args...: run sotto with USER's home.
as() { local u=$1; shift; "$SOTTO" --home "$T/home-$u" "$@"; }

# user_init USER: registers USER with a fresh invite (unprotected key file).
user_init() {
	as "$1" init --invite "$(invite "$1")" --handle "$1" --device-name "$1-laptop" --no-passphrase >"$T/init-$1.out" ||
	    fail "init $1: $(cat "$T/init-$1.out")"
}

# sql QUERY: read sottod's database (as an operator or an attacker could).
sql() { sqlite3 -batch -noheader "$DIR/sottod.db" "$1"; }

# device_id_of USER: the hex device id of USER's (first) device.
device_id_of() { as "$1" devices --json | jq -r .id | head -n 1; }

copies_for() { sql "SELECT count(*) FROM copies WHERE hex(device_id) = upper('$1');"; }

# expect_fail OUTFILE CMD...: CMD must exit non-zero with one `sotto: ...` line on stderr.
expect_fail() {
	local out=$1; shift
	if "$@" >"$out.stdout" 2>"$out"; then fail "expected failure: $*"; fi
	grep -q '^sotto: ' "$out" || fail "no 'sotto: ' error line from: $* ($(cat "$out"))"
	[ "$(wc -l <"$out")" -eq 1 ] || fail "more than one stderr line from: $* ($(cat "$out"))"
}

# ---- several devices per account (h8) ----

# link_device USER NEW NAME [APPROVER]: a new device of USER's account in
# home-NEW (device name NAME), approved with --yes on APPROVER's home (default
# USER). Sets LINK_CODE; fails the test unless both sides succeed.
link_device() {
	local u=$1 new=$2 name=$3 approver=${4:-$1} lp i
	"$SOTTO" --home "$T/home-$new" link --server "$ADDR" --pin "$PIN" --handle "$u" \
	    --device-name "$name" --no-passphrase --timeout 60 >"$T/link-$new.out" 2>"$T/link-$new.err" &
	lp=$!
	for i in $(seq 1 100); do
		[ -s "$T/link-$new.out" ] && break
		kill -0 "$lp" 2>/dev/null || break
		sleep 0.1
	done
	LINK_CODE=$(head -n 1 "$T/link-$new.out")
	[ ${#LINK_CODE} -eq 43 ] || { kill "$lp" 2>/dev/null; fail "link printed no code: $(cat "$T/link-$new.out" "$T/link-$new.err")"; }
	as "$approver" approve "$LINK_CODE" --yes >"$T/approve-$new.out" 2>"$T/approve-$new.err" ||
	    { kill "$lp" 2>/dev/null; fail "approve $new: $(cat "$T/approve-$new.out" "$T/approve-$new.err")"; }
	wait "$lp" || fail "link $new: $(cat "$T/link-$new.out" "$T/link-$new.err")"
}

# own_device_id USER: the id of the device in home-USER itself.
own_device_id() { as "$1" devices --json | jq -r 'select(.this_device) | .id'; }

# alerts_of USER KIND: how many alerts of that kind USER's device holds.
alerts_of() { as "$1" alerts --json | jq -s --arg k "$2" '[.[] | select(.kind == $k)] | length'; }

# sotto_forge ARGS...: the test tool that forges device lists (tests/tools).
forge() { "${SOTTO_FORGE:?SOTTO_FORGE must name the sotto_forge tool}" "$@"; }

# db_save NAME / db_restore NAME: copy sottod's database while it is stopped.
# The -wal file goes along: what it holds is part of the database until the
# last connection checkpoints it, which a stop does not promise.
db_files_copy() { local f; for f in "$1"/sottod.db "$1"/sottod.db-wal; do [ -e "$f" ] && cp -p "$f" "$2/"; done; return 0; }
db_save() { mkdir -p "$T/db-$1"; db_files_copy "$DIR" "$T/db-$1"; }
db_restore() { rm -f "$DIR/sottod.db" "$DIR/sottod.db-wal" "$DIR/sottod.db-shm"; db_files_copy "$T/db-$1" "$DIR"; }

# latest_list_hex HANDLE: the newest signed list of HANDLE in sottod's database.
latest_list_hex() { sql "SELECT hex(list) FROM device_lists WHERE handle = '$1' ORDER BY version DESC LIMIT 1;"; }

# snap NAME: stop sottod and keep its database and every home; restore NAME
# puts them back (sottod stays stopped). The server is the adversary: tests
# edit its real database between client operations.
snap() {
	server_stop
	rm -rf "$T/snap-$1"
	mkdir "$T/snap-$1"
	db_files_copy "$DIR" "$T/snap-$1"
	local h
	for h in "$T"/home-*; do cp -a "$h" "$T/snap-$1/"; done
}
restore() {
	rm -f "$DIR/sottod.db" "$DIR/sottod.db-wal" "$DIR/sottod.db-shm"
	db_files_copy "$T/snap-$1" "$DIR"
	rm -rf "$T"/home-*
	cp -a "$T/snap-$1"/home-* "$T/"
}

# ---- waiting for a condition, never for a fixed time ----

# wait_for SECS CMD...: run CMD every 0.1 s until it succeeds; at SECS (set
# generously: the bound must hold on a loaded machine) fail the test naming
# CMD. Time passing is never the condition itself: CMD names what it is for.
wait_for() {
	local secs=$1 end
	shift
	end=$(($(date +%s) + secs))
	until "$@"; do
		[ "$(date +%s)" -lt "$end" ] || fail "not within $secs s: $*"
		sleep 0.1
	done
}

# log_mark [LOG]: LOG's length in lines now (default the server log), for
# fetching_since.
log_mark() { wc -l <"${1:-$T/server.log}"; }

# fetching_since MARK N [LOG [WHO]]: at least N connections that authenticated
# after line MARK of LOG (and whose auth_ok line holds WHO, e.g. "handle=bob ")
# have had their first Fetch answered. From then on a copy committed for their
# device is pushed to them (mbox_fetch starts the pushes before it reads the
# store), so a send now tests the push, not the fetch. Needs `log_level =
# debug` (event=fetch). Connections are told apart by worker pid and serial
# (each worker counts its own serials).
fetching_since() {
	awk -v m="$1" -v n="$2" -v who="${4:-}" '
	    NR <= m { next }
	    {
		pid = ""; conn = ""
		if (match($0, / pid=[0-9]+ /)) pid = substr($0, RSTART + 5, RLENGTH - 6)
		if (match($0, / conn=[0-9]+/)) conn = substr($0, RSTART + 6, RLENGTH - 6)
	    }
	    / event=auth_ok / && (who == "" || index($0, who)) { authed[pid "/" conn] = 1 }
	    / event=fetch / && ((pid "/" conn) in authed) && !((pid "/" conn) in seen) { seen[pid "/" conn] = 1; got++ }
	    END { exit !(got >= n) }' "${3:-$T/server.log}"
}
