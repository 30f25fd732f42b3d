#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# Banned functions in lib/, server/ and cli/ (every .c and .h; not tests, not
# the generated protobuf code, which lives in the build tree):
#   sprintf vsprintf strcpy strcat atoi atol atoll gets strtok
# (use snprintf, a bounded copy, strtoull with checks, fgets, strtok_r), and
# memcmp, which is not constant time: compare secrets with sc_memeq. A memcmp on
# public bytes (magic numbers, ids, public keys, ordering) is allowed when its
# line says why:   memcmp(a, b, n) /* not secret: <why> */
# Comments and string literals are ignored when looking for calls. Prints
# file:line: text for each breach and exits 1 if there is any.
#
# Usage: check-banned.sh [ROOT]        check ROOT (default: the repository),
#                                      after the self-test
#        check-banned.sh --self-test   prove it catches each kind of breach
set -euo pipefail

scan() {
	# $@: files. Perl is in every Debian base system; one pass per file keeps
	# the state of a /* comment */ across lines, so line numbers stay exact.
	perl -e '
		my $bad = 0;
		my $banned = qr/\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|atoll|gets|strtok)\s*\(/;
		for my $file (@ARGV) {
			open(my $fh, "<", $file) or die "$file: $!\n";
			my $in_comment = 0;
			while (my $line = <$fh>) {
				chomp $line;
				my $code = "";
				my $rest = $line;
				while (length $rest) {
					if ($in_comment) {
						if ($rest =~ s/^.*?\*\///) { $in_comment = 0; } else { $rest = ""; }
					} elsif ($rest =~ s/^\/\*//) {
						$in_comment = 1;
					} elsif ($rest =~ s/^\/\/.*//) {
					} elsif ($rest =~ s/^"(?:[^"\\]|\\.)*"// || $rest =~ s/^\x27(?:[^\x27\\]|\\.)*\x27//) {
						$code .= "\"\"";
					} else {
						$rest =~ s/^(.)//s;
						$code .= $1;
					}
				}
				if ($code =~ $banned) {
					print "$file:$.: $1: $line\n";
					$bad = 1;
				}
				if ($code =~ /\bmemcmp\s*\(/ && $line !~ /\/\*\s*not secret:\s*\S[^*]*\*\//) {
					print "$file:$.: memcmp without /* not secret: <why> */ (use sc_memeq for secrets): $line\n";
					$bad = 1;
				}
			}
			close($fh);
		}
		exit $bad;
	' "$@"
}

self_test() {
	local dir out n
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' RETURN
	cat >"$dir/bad.c" <<-'EOF'
	/* sprintf(x) and strcpy(a, b) in a comment are fine,
	 * and so is memcmp(a, b, 1) across lines of one */
	void f(char *d, const char *s, const unsigned char *k1, const unsigned char *k2) {
		sprintf(d, "%s", s);
		strcpy(d, s);
		strcat (d, s);
		int n = atoi(s) + (int)atol(s);
		(void)memcmp(k1, k2, 32);
		(void)memcmp(k1, k2, 32); /* not secret: */
		(void)memcmp(k1, k2, 4); /* not secret: magic bytes */
		snprintf(d, 4, "sprintf(");
		(void)strtok_r(d, ",", &d);
		(void)strtok(d, ",");
		(void)fgets(d, 4, 0);
		gets(d);
	}
	EOF
	if out=$(scan "$dir/bad.c"); then
		echo "check-banned: self-test: the sample passed" >&2
		return 1
	fi
	# lines 4, 5, 6, 7, 8, 9, 13, 15 break the rules; 1, 2, 10, 11, 12, 14 do not
	n=$(printf '%s\n' "$out" | sed -n 's/^[^:]*:\([0-9]*\):.*/\1/p' | sort -un | tr '\n' ' ')
	if [ "$n" != "4 5 6 7 8 9 13 15 " ]; then
		echo "check-banned: self-test: flagged lines [$n], expected [4 5 6 7 8 9 13 15 ]" >&2
		printf '%s\n' "$out" >&2
		return 1
	fi
	echo "check-banned: self-test ok"
}

if [ "${1:-}" = --self-test ]; then
	self_test
	exit $?
fi

self_test
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
mapfile -t files < <(cd "$root" && find lib server cli -type f \( -name '*.c' -o -name '*.h' \) | sort)
[ ${#files[@]} -gt 0 ] || { echo "check-banned: no sources under $root" >&2; exit 1; }
if ! (cd "$root" && scan "${files[@]}"); then
	echo "check-banned: banned functions above" >&2
	exit 1
fi
echo "check-banned: ${#files[@]} files clean"
