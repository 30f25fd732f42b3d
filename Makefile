# SPDX-License-Identifier: ISC
# The two commands of the README: `make demo` and `make check`. Both install
# missing Debian packages first (scripts/install-deps.sh), then build with CMake.
BUILD      ?= build
BUILD_SAN  ?= build-sanitize
BUILD_FUZZ ?= build-fuzz
BUILD_BENCH ?= build-bench
BENCH_ARGS ?=
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX     ?= /usr/local

.PHONY: all deps build check check-plain check-sanitize check-valgrind fuzz bench bench-pg demo install clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Every test: the plain build, then the same tests under ASan + UBSan. The
# PostgreSQL tests use $SOTTO_TEST_PG, or a throwaway cluster (with-test-pg.sh,
# as root or not); with no PostgreSQL installed they show as Skipped. The
# mutation pass (scripts/mutate.sh) is not part of check: a rebuild per mutant.
check: check-plain check-sanitize

check-plain: build
	./scripts/with-test-pg.sh sh -c 'cd $(BUILD) && ctest --output-on-failure -j$(JOBS)'

check-sanitize: deps
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DSOTTO_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_SAN) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		./scripts/with-test-pg.sh sh -c 'cd $(BUILD_SAN) && ctest --output-on-failure -j$(JOBS)'

# The unit tests under valgrind memcheck: any error or leak (definite, indirect
# or possible) fails. Not part of `check` (the sanitizer build covers leaks).
check-valgrind: build
	@command -v valgrind >/dev/null || { echo "check-valgrind: install valgrind" >&2; exit 1; }
	@set -e; for t in $(BUILD)/tests/test_*; do \
		echo "valgrind $$t"; \
		valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
			--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 $$t >/dev/null; \
	done

# Every libFuzzer harness (tests/fuzz/) for FUZZ_SECONDS on a copy of its
# corpus; fails on any crash, leak or hang. Needs clang (scripts/install-deps.sh).
fuzz: deps
	@cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DSOTTO_FUZZ=ON -DSOTTO_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_FUZZ) -j$(JOBS) --target fuzz_all
	./scripts/run-fuzz.sh $(BUILD_FUZZ)/tests/fuzz $(FUZZ_SECONDS) $(JOBS)

# Every benchmark of bench/README.md against a fresh sottod and Mosquitto (about
# 12 minutes); never part of `check`. BENCH_ARGS go to bench/loadgen.
bench: deps
	@./bench/deps.sh
	@cmake -S . -B $(BUILD_BENCH) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOTTO_BENCH=ON -DSOTTO_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_BENCH) -j$(JOBS) --target sottod loadgen crypto_bench
	./bench/run.sh $(BUILD_BENCH) $(BENCH_ARGS)

# (a) and (f) with the node on PostgreSQL (a throwaway cluster, fsync on; about
# 4 minutes). BENCH_PG_ARGS go to bench/loadgen.
BENCH_PG_ARGS ?= --only af --queue 256000 --rounds 1
bench-pg: deps
	@./bench/deps.sh
	@cmake -S . -B $(BUILD_BENCH) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOTTO_BENCH=ON -DSOTTO_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_BENCH) -j$(JOBS) --target sottod loadgen crypto_bench
	./scripts/with-test-pg.sh sh -c 'SOTTO_BENCH_PG="$$SOTTO_TEST_PG" ./bench/run.sh $(BUILD_BENCH) $(BENCH_PG_ARGS)'

demo: build
	@SOTTOD=$(BUILD)/sottod SOTTO=$(BUILD)/sotto ./scripts/demo.sh

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ) $(BUILD_BENCH)
