# mk/bench.mk — benchmarks (issue 6). Included by the main Makefile (-include mk/*.mk); uses its
# WASM, CARGO_WASM, WASM_OPT_FLAGS, TARGET, GITHUB_API, ENVOY_VERSION, envoy_bin and its build,
# wasm-target, wasm-opt, github-api and Envoy targets. Results and a real run: bench/RESULTS.md.
#
#   make bench          core benchmark: ns per attribution (engine vs sequential regex scan),
#                       compile time, heap, allocations per request (~40 s run; first build ~70 s),
#                       then bench-auto
#   make bench-auto     auto-name quality: routegen beside re-implemented peers (Datadog, Beyla,
#                       OBI, plain fan-out) on four workloads of 3,000 requests (~5 s once built)
#   make bench-envoy    real Envoy, one worker: CPU µs per request for no filter, the floor filter
#                       (and the floor reading :authority too), routegen at 10/100/1,000/10,000
#                       routes, metrics on, attributegen format, auto names on unmatched traffic
#                       (10 variants x 3 rounds x 5 s plus startup, pre-check and warm-up: about 3
#                       minutes, well under 10)
#   make bench-sweep    route-count sweep 10 -> 100,000: Envoy CPU per request and Envoy memory for
#                       routegen native (synthetic, GitHub), attributegen format and Envoy's native
#                       route table (both capped at 10,000), the floor and no filter; writes
#                       bench/sweep.svg (bounded: no new size after BENCH_SWEEP_BUDGET s, ~10 min)
#   make bench-vm       the filter module in Node's V8 behind a JS stub host: ns and host calls per
#                       request for the same variants, far less noisy than a whole Envoy (~1 min)
#   make bench-profile  callgrind profile of NativePlan::decide at 1,000 GitHub routes, then
#                       instructions, L1D and LL data misses (simulated, fixed geometry) per decide
#                       at 10 and 10,000 synthetic and 10 and 1,000 GitHub routes, twice each
#                       (~3 min); BENCH_PROFILE_ARGS="--baseline <older bench binary>" profiles
#                       that binary too, in the same run
#   make bench-flatness `decide` on 10 and 10,000 synthetic routes in alternation, BENCH_ROUNDS
#                       (11) pairs of BENCH_MS: the flatness ratio's median and spread (~10 s)
#   make bench-wasm     the core benchmark as wasm in Node's V8 (Envoy's engine): decide as the
#                       filter runs it (~50 s; needs node, which `make github-api` needs anyway)
#   make bench-size     module size: cargo's output vs after wasm-opt
#   make bench-smoke    both benchmarks with tiny sizes and durations (~10 s once built): proves
#                       they run, measures nothing worth reading
#
# Knobs: BENCH_RUNS, BENCH_MS, BENCH_SIZES, BENCH_SYNTHETIC, BENCH_SAMPLE (see benches/attribution.rs),
# BENCH_ENVOY_ARGS (see tools/bench/envoy.py --help), e.g. make bench-envoy BENCH_ENVOY_ARGS="--rounds 5".

# The bench builds in its own target dir (no lock contention with `cargo test`, no rebuild churn),
# without the CLI's dependencies, keeping symbols and line tables so callgrind can name functions.
BENCH_TARGET_DIR := target/bench
BENCH_CARGO      := CARGO_PROFILE_BENCH_STRIP=none CARGO_PROFILE_BENCH_DEBUG=line-tables-only \
                    cargo bench -p routegen --bench attribution --target-dir $(BENCH_TARGET_DIR)
BENCH_FLOOR_DIR  := target/bench-floor
BENCH_FLOOR      := $(BENCH_FLOOR_DIR)/routegen_bench_floor.wasm
BENCH_ENVOY_ARGS ?=
BENCH_PROFILE_ARGS ?=
BENCH_ENVOY_RUN   = $(PY) tools/bench/envoy.py --envoy $(call envoy_bin,$(ENVOY_VERSION)) --wasm $(WASM) \
                    --floor $(BENCH_FLOOR) --api $(GITHUB_API)

.PHONY: bench-sweep
BENCH_SWEEP_BUDGET ?= 600
BENCH_SWEEP_ARGS   ?=

## bench-sweep: CPU and memory by route-table size, every variant, plotted into bench/sweep.svg
bench-sweep: build bench-floor bench-tools github-api venv $(call envoy_bin,$(ENVOY_VERSION))
	$(PY) tools/bench/sweep.py --envoy $(call envoy_bin,$(ENVOY_VERSION)) --wasm $(WASM) --floor $(BENCH_FLOOR) \
		--api $(GITHUB_API) --budget $(BENCH_SWEEP_BUDGET) --json $(BENCH_TARGET_DIR)/sweep.json --svg bench/sweep.svg $(BENCH_SWEEP_ARGS)

.PHONY: bench bench-flatness bench-vm bench-auto bench-envoy bench-profile bench-size bench-smoke bench-floor bench-tools bench-wasm

## bench: the core benchmark (markdown tables on stdout)
bench: github-api bench-auto
	BENCH_GITHUB_API=$(GITHUB_API) $(BENCH_CARGO)

## bench-flatness: 10,000 vs 10 synthetic routes, alternating in one process (BENCH_FLATNESS=a,b to change)
BENCH_FLATNESS ?= 10,10000
bench-flatness:
	BENCH_FLATNESS=$(BENCH_FLATNESS) $(BENCH_CARGO)

## bench-auto: auto-name quality tables (markdown on stdout); BENCH_SEEDS=1,2,3 for more seeds
bench-auto:
	CARGO_PROFILE_BENCH_STRIP=none cargo bench -p routegen --bench auto_quality --target-dir $(BENCH_TARGET_DIR)

## bench-envoy: Envoy CPU per request, every variant, alternating rounds (markdown table on stdout)
bench-envoy: build bench-floor bench-tools github-api venv $(call envoy_bin,$(ENVOY_VERSION))
	$(BENCH_ENVOY_RUN) --json $(BENCH_TARGET_DIR)/envoy.json $(BENCH_ENVOY_ARGS)

## bench-floor: the floor filter (bench/floor), built and wasm-opt'ed like routegen
bench-floor: wasm-target wasm-opt
	cd bench/floor && cargo build --quiet --release --target $(TARGET) --target-dir ../../$(BENCH_FLOOR_DIR)
	wasm-opt $(WASM_OPT_FLAGS) $(BENCH_FLOOR_DIR)/$(TARGET)/release/routegen_bench_floor.wasm -o $(BENCH_FLOOR)

bench-tools:
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

## bench-profile: instruction-level profile of decide (callgrind: top functions, then instructions and
## simulated cache misses per decide at small and large tables)
bench-profile: github-api
	@command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
	bin=$$($(BENCH_CARGO) --no-run --message-format=json | python3 -c 'import json, sys; \
		print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])') && \
	python3 tools/bench/profile.py --bin $$bin --api $(abspath $(GITHUB_API)) --out $(BENCH_TARGET_DIR)/profile \
		$(BENCH_PROFILE_ARGS)

## bench-wasm: the core benchmark compiled to wasm32-wasip1, run in Node's V8 (Envoy's wasm engine)
bench-wasm: github-api wasm-target
	bin=$$(CARGO_PROFILE_BENCH_STRIP=none cargo bench -p routegen --bench attribution \
		--target $(TARGET) --target-dir $(BENCH_TARGET_DIR) --no-run --message-format=json | python3 -c 'import json, sys; \
		print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])') && \
	node --no-warnings tools/bench/wasm_core.mjs $$bin $(GITHUB_API)

## bench-vm: the module in V8 without Envoy (tools/bench/vm.py; BENCH_VM_ARGS, e.g. "--repeats 5")
bench-vm: build bench-floor github-api venv
	$(PY) tools/bench/vm.py --wasm $(WASM) --floor $(BENCH_FLOOR) --api $(GITHUB_API) $(BENCH_VM_ARGS)

## bench-size: the module's size before and after wasm-opt
bench-size: build
	@echo "cargo output $(CARGO_WASM): $$(stat -c %s $(CARGO_WASM)) bytes"
	@echo "shipped      $(WASM): $$(stat -c %s $(WASM)) bytes (wasm-metadce keeping $(WASM_EXPORTS), then wasm-opt $(WASM_OPT_FLAGS))"

## bench-smoke: both benchmarks, tiny and fast, to prove they work (for make test)
bench-smoke: build bench-floor bench-tools github-api venv bench-auto $(call envoy_bin,$(ENVOY_VERSION))
	BENCH_GITHUB_API=$(GITHUB_API) BENCH_RUNS=1 BENCH_MS=5 BENCH_SIZES=10,100 BENCH_SYNTHETIC=10,1000 \
		BENCH_SAMPLE=512 $(BENCH_CARGO)
	$(BENCH_ENVOY_RUN) --variants none,floor,rg-10000,ag-100,auto-100,envoy-100 --synthetic 1000 --rounds 1 --seconds 1 \
		--warmup 0 --check 50 --sample 200 --workdir $(BENCH_TARGET_DIR)/envoy-smoke
	$(PY) tools/bench/vm.py --wasm $(WASM) --floor $(BENCH_FLOOR) --api $(GITHUB_API) --variants floor,rg-100,rg-100-metrics,auto-100 \
		--repeats 1 --requests 2000 --runs 1 --sample 200
