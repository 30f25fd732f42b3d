#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Runs every libFuzzer harness built in DIR (fuzz_<name>) for SECONDS each, on a
# copy of its committed corpus tests/fuzz/corpus/<name>/ (so a run never adds to
# it), JOBS harnesses at a time. Fails if any harness crashes, leaks, times out
# or trips an assertion; prints each harness's executions and executions per
# second. Usage: run-fuzz.sh DIR SECONDS [JOBS]   (`make fuzz` calls it.)
set -euo pipefail

dir=${1:?usage: run-fuzz.sh DIR SECONDS [JOBS]}
secs=${2:?usage: run-fuzz.sh DIR SECONDS [JOBS]}
jobs=${3:-$(nproc 2>/dev/null || echo 2)}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$dir/work

harnesses=()
for src in "$top"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	[ "$name" = samples ] && continue
	[ -x "$dir/fuzz_$name" ] || { echo "run-fuzz: $dir/fuzz_$name not built" >&2; exit 1; }
	harnesses+=("$name")
done

run_one() {
	local name=$1 w=$work/$1
	rm -rf "$w"
	mkdir -p "$w/corpus"
	cp "$top/tests/fuzz/corpus/$name"/* "$w/corpus/"
	# -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or a blow-up.
	if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$dir/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$w/" "$w/corpus" >"$w/log" 2>&1; then
		echo ok >"$w/status"
	else
		echo "failed ($?)" >"$w/status"
	fi
}

echo "run-fuzz: ${#harnesses[@]} harnesses, ${secs}s each, $jobs at a time; logs in $work/<name>/log"
running=0
for name in "${harnesses[@]}"; do
	run_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait

failed=0
for name in "${harnesses[@]}"; do
	w=$work/$name
	status=$(cat "$w/status" 2>/dev/null || echo "did not run")
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w/log" | tail -1)
	printf 'run-fuzz: %-12s %-10s %12s runs %8s exec/s  corpus %s -> %s inputs\n' "$name" "$status" \
	    "${runs:-?}" "${rate:-?}" "$(ls "$top/tests/fuzz/corpus/$name" | wc -l)" "$(ls "$w/corpus" | wc -l)"
	if [ "$status" != ok ]; then
		failed=1
		echo "---- $name: last lines of $w/log" >&2
		tail -n 40 "$w/log" >&2
		ls "$w"/crash-* "$w"/leak-* "$w"/timeout-* "$w"/oom-* 2>/dev/null | sed 's/^/run-fuzz: reproducer: /' >&2 || true
	fi
done
exit "$failed"
