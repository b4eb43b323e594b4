# The two commands a user needs are `make demo` and `make test`; both install what is missing
# (scripts/setup.sh, Debian packages), configure and build first.
.PHONY: all setup build release test unit fuzz demo bench tidy clean

FUZZ_SECONDS ?= 60
CTEST_ARGS ?=

all: build

setup:
	@./scripts/setup.sh

build: setup
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev

release: setup
	@cmake --preset release >/dev/null
	@cmake --build --preset release

# Everything CI runs: the wire fuzzer for FUZZ_SECONDS, then every ctest test (unit, sim,
# integration) in the dev build (ASan + UBSan). ctest's summary is the last thing printed.
test: build fuzz
	@ctest --preset dev $(CTEST_ARGS)

# Only the fast tests: make unit
unit: build
	@ctest --preset dev -L unit

# Each libFuzzer target runs FUZZ_SECONDS from a fresh corpus: the wire decoder, a node (region
# member, senders, GMS client) and the GMS, each fed arbitrary datagrams. A crash prints the tail
# of the log and fails.
fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz
	@for target in wire/wire_fuzz node/node_fuzz node/gms_fuzz; do \
	  name=$$(basename $$target); mkdir -p build/fuzz/corpus-$$name; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	  ./build/fuzz/engine/$$target -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=8192 -print_final_stats=1 -artifact_prefix=build/fuzz/ build/fuzz/corpus-$$name \
	    2>build/fuzz/$$name.log || \
	    { tail -n 60 build/fuzz/$$name.log; echo "fuzz: $$name FAILED (input saved under build/fuzz/)"; exit 1; }; \
	  grep -E "^stat::number_of_executed_units" build/fuzz/$$name.log; \
	done

demo: release
	@./scripts/demo.sh build/release

bench: release
	@./scripts/bench.sh build/release
	@./scripts/bench-engine.sh build/release
	@./scripts/bench-scrape.sh build/release

# clang-tidy 16 (.clang-tidy: bugprone, performance, modernize subsets, functions <= 120 lines)
# over engine/, with the dev build's compile commands. Not part of `make test` (it takes minutes).
tidy: build
	@./scripts/tidy.sh build/dev

clean:
	rm -rf build
