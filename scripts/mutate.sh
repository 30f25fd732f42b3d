#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# mutate.sh [-k] [LIST]: the mutation pass over the security checks. Each
# mutation of LIST (default tests/mutation/mutations.txt) is applied alone to
# a scratch copy of this tree, which is rebuilt and runs that mutation's
# tests: a mutation the tests do not catch is a check nothing tests. Prints
# one line per mutation (caught by which tests, SURVIVED, or did not apply /
# build) and exits 1 if any survived or no longer applies. -k keeps the
# scratch copy. Slow (a rebuild per mutation): never part of `make check`.
# PostgreSQL tests in a list need SOTTO_TEST_PG (run under with-test-pg.sh).
#
# LIST holds records, each starting with "@ ID"; then "file PATH", "tests
# CTEST-REGEX", and one or more "from TEXT" / "to TEXT" pairs, each TEXT an
# exact piece of PATH (found exactly once) and its replacement, with \n and
# \t for newline and tab. Lines starting with # are comments.
set -euo pipefail

keep=0
if [ "${1:-}" = -k ]; then keep=1; shift; fi
root=$(cd "$(dirname "$0")/.." && pwd)
list=$(readlink -f "${1:-$root/tests/mutation/mutations.txt}")
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
[ -r "$list" ] || { echo "mutate: cannot read $list" >&2; exit 2; }
command -v perl >/dev/null || { echo "mutate: needs perl" >&2; exit 2; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/sotto-mutate.XXXXXX")
chmod 0755 "$scratch"
cleanup() {
	if [ "$keep" = 1 ]; then echo "mutate: kept $scratch" >&2; else rm -rf "$scratch"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The tree as it is (committed or not), without build folders.
src=$scratch/tree
mkdir "$src"
(cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$src" -xf -
bld=$scratch/build
echo "mutate: building a scratch copy in $scratch" >&2
cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$scratch/cmake.log" 2>&1 ||
    { cat "$scratch/cmake.log" >&2; exit 2; }
cmake --build "$bld" -j"$jobs" >"$scratch/build.log" 2>&1 || { tail -n 30 "$scratch/build.log" >&2; exit 2; }

# ---- the list ----
ids=() files=() tests=() pairs=()
cur=-1
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	'' | '#'*) continue ;;
	'@ '*) cur=$((cur + 1)); ids[cur]=${line#@ }; files[cur]=; tests[cur]=; pairs[cur]=0 ;;
	'file '*) files[cur]=${line#file } ;;
	'tests '*) tests[cur]=${line#tests } ;;
	'from '*) n=${pairs[cur]}; printf '%s' "${line#from }" >"$scratch/m$cur.from$n" ;;
	'to '*) n=${pairs[cur]}; printf '%s' "${line#to }" >"$scratch/m$cur.to$n"; pairs[cur]=$((n + 1)) ;;
	*) echo "mutate: $list: cannot read: $line" >&2; exit 2 ;;
	esac
done <"$list"
total=$((cur + 1))
[ "$total" -gt 0 ] || { echo "mutate: no mutations in $list" >&2; exit 2; }

# apply FILE FROM TO: replace the one occurrence of FROM's text by TO's.
apply() {
	perl -e '
		my ($file, $from, $to) = @ARGV;
		local $/;
		open(my $f, "<", $from) or die; my $a = <$f>; close $f;
		open($f, "<", $to) or die; my $b = <$f>; close $f;
		for ($a, $b) { s/\\n/\n/g; s/\\t/\t/g; }
		open($f, "<", $file) or die "$file: $!"; my $s = <$f>; close $f;
		my $at = index($s, $a);
		exit 3 if $at < 0 || index($s, $a, $at + 1) >= 0;
		substr($s, $at, length($a)) = $b;
		open($f, ">", $file) or die; print $f $s; close $f;
	' "$@"
}

# ---- the tests, unmutated: they must pass (or skip) first ----
all=$(printf '%s\n' "${tests[@]}" | sort -u | sed 's/.*/(&)/' | paste -sd '|')
echo "mutate: baseline: ctest -R '$all'" >&2
if ! (cd "$bld" && ctest -R "$all" -j"$jobs" >"$scratch/baseline.log" 2>&1); then
	grep -A 40 'tests FAILED' "$scratch/baseline.log" >&2 || tail -n 30 "$scratch/baseline.log" >&2
	echo "mutate: the tests fail without any mutation" >&2
	exit 2
fi

survived=0 broken=0
for ((i = 0; i < total; i++)); do
	f=$src/${files[i]}
	cp -p "$f" "$scratch/orig"
	status=
	for ((p = 0; p < ${pairs[i]}; p++)); do
		if ! apply "$f" "$scratch/m$i.from$p" "$scratch/m$i.to$p"; then
			status="NOT APPLIED (the 'from' text of pair $((p + 1)) is not in ${files[i]} exactly once)"
			break
		fi
	done
	if [ -z "$status" ] && ! cmake --build "$bld" -j"$jobs" >"$scratch/build-$i.log" 2>&1; then
		status="DID NOT BUILD: $(grep -m 1 'error' "$scratch/build-$i.log" | cut -c 1-160)"
	fi
	if [ -z "$status" ]; then
		if (cd "$bld" && ctest -R "${tests[i]}" -j"$jobs" >"$scratch/test-$i.log" 2>&1); then
			status="SURVIVED (${tests[i]} all passed)"
			survived=$((survived + 1))
		else
			caught=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*/\1/p' "$scratch/test-$i.log" | tr '\n' ' ')
			status="caught by ${caught:-? (see $scratch/test-$i.log with -k)}"
		fi
	else
		broken=$((broken + 1))
	fi
	# Back as it was, newer than the mutated build so that make rebuilds it.
	cp "$scratch/orig" "$f"
	touch "$f"
	printf '%-34s %s\n' "${ids[i]}" "$status"
done
cmake --build "$bld" -j"$jobs" >/dev/null 2>&1 || true
echo "mutate: $total mutations, $survived survived, $broken did not apply or build" >&2
[ "$survived" -eq 0 ] && [ "$broken" -eq 0 ]
