# The two commands a user needs are `make demo` and `make test`; both install what is missing
# (scripts/setup.sh, Debian packages), configure and build first.
.PHONY: all setup build release test unit fuzz demo bench clean

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

fuzz: setup
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz
	@mkdir -p build/fuzz/corpus
	@echo "fuzz: engine/wire decoder for $(FUZZ_SECONDS) s"
	@./build/fuzz/engine/wire/wire_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	  -max_len=4096 -print_final_stats=1 build/fuzz/corpus 2>build/fuzz/fuzz.log || \
	  { tail -n 60 build/fuzz/fuzz.log; echo "fuzz: FAILED (crash input saved in the working directory)"; exit 1; }
	@grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" build/fuzz/fuzz.log | tr '\n' ' '; echo

demo: release
	@./scripts/demo.sh build/release

bench: release
	@./scripts/bench.sh build/release
	@./scripts/bench-engine.sh build/release

clean:
	rm -rf build
