# mk/reliability.mk — issue 7: fuzzing, hostile traffic, live reconfiguration, soak.
# Included by the main Makefile (-include mk/*.mk); uses its PY, VENV, WASM, ENVOY_VERSION,
# ENVOY_OLDEST, envoy_bin and its build / venv / Envoy targets.
#
#   make fuzz               every fuzz target for FUZZ_SECONDS (default 60) each; executions recorded
#   make fuzz-smoke         every fuzz target FUZZ_SMOKE_SECONDS (default 5) each (part of make test)
#   make fuzz FUZZ_TARGETS=openapi_import   one target only (any subset of FUZZ_TARGETS)
#   make reliability-test   hostile traffic + live reconfiguration in real Envoys (part of make test)
#   make soak               >= SOAK_REQUESTS requests through Envoy + routegen with wrk; memory report
#   make soak SOAK_MINUTES=10   mixed traffic for that long instead; RSS and wasm memory every 30 s, plotted
#   make attack             >= ATTACK_REQUESTS random requests against auto names (cardinality attack)
#
# cargo-fuzz needs a nightly toolchain; both are installed here if missing (rustup, crates.io).

FUZZ_DIR            := fuzz
FUZZ_TARGETS        := config cel native_decide attributegen_eval route_table openapi_import auto_names gateway_import envoy_import access_log
FUZZ_SECONDS        ?= 60
FUZZ_SMOKE_SECONDS  ?= 4
# Per-input timeout (seconds) and RSS cap (MB): a slow or memory-hungry input is a finding.
FUZZ_INPUT_TIMEOUT  ?= 10
FUZZ_RSS_MB         ?= 2048
FUZZ_LOG_DIR        := target/fuzz-logs
SOAK_REQUESTS       ?= 1000000
SOAK_ARGS           ?=
SOAK_MINUTES        ?=
ATTACK_REQUESTS     ?= 1000000
ATTACK_ARGS         ?=

.PHONY: fuzz fuzz-smoke fuzz-tools fuzz-corpus reliability-test soak attack wrk

test: fuzz-smoke reliability-test

## fuzz-tools: nightly toolchain and cargo-fuzz
fuzz-tools:
	@rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

## fuzz-corpus: committed seeds (fuzz/seeds/<target>) into the working corpus (fuzz/corpus, ignored)
fuzz-corpus:
	@for t in $(FUZZ_TARGETS); do mkdir -p $(FUZZ_DIR)/corpus/$$t; cp -n $(FUZZ_DIR)/seeds/$$t/* $(FUZZ_DIR)/corpus/$$t/ 2>/dev/null || true; done

# $(call run_fuzz,SECONDS): builds every target, runs each for SECONDS, prints executions per target.
define run_fuzz
	cd $(FUZZ_DIR) && cargo +nightly fuzz build --release
	@mkdir -p $(FUZZ_LOG_DIR); status=0; \
	for t in $(FUZZ_TARGETS); do \
	  log=$(FUZZ_LOG_DIR)/$$t.log; \
	  ( cd $(FUZZ_DIR) && cargo +nightly fuzz run --release $$t corpus/$$t seeds/$$t -- \
	      -max_total_time=$(1) -timeout=$(FUZZ_INPUT_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) \
	      -max_len=8192 -print_final_stats=1 ) >$$log 2>&1 || { status=1; echo "FUZZ FAILURE in $$t (log: $$log):"; tail -n 40 $$log; }; \
	  printf '%-18s %12s executions in %ss (%s)\n' $$t \
	    "$$(sed -n 's/^stat::number_of_executed_units: *//p' $$log | tail -n 1)" $(1) \
	    "$$(grep -E 'DONE' $$log | tail -n 1 | grep -oE '(cov|corp|exec/s|rss): [^ ]+' | tr '\n' ' ' | sed 's/ $$//')"; \
	done; exit $$status
endef

## fuzz: FUZZ_SECONDS per target
fuzz: fuzz-tools fuzz-corpus
	$(call run_fuzz,$(FUZZ_SECONDS))

## fuzz-smoke: FUZZ_SMOKE_SECONDS per target (part of make test)
fuzz-smoke: fuzz-tools fuzz-corpus
	$(call run_fuzz,$(FUZZ_SMOKE_SECONDS))

## reliability-test: hostile traffic and live reconfiguration, on the newest and the oldest Envoy
reliability-test: build venv wrk $(call envoy_bin,$(ENVOY_VERSION)) $(call envoy_bin,$(ENVOY_OLDEST))
	ROUTEGEN_WASM=$(abspath $(WASM)) ENVOY_BIN=$(abspath $(call envoy_bin,$(ENVOY_VERSION))) \
	ENVOY_BIN_OLDEST=$(abspath $(call envoy_bin,$(ENVOY_OLDEST))) \
		$(PY) -m pytest -q tests/reliability

## wrk: the load generator for the soak (Debian package)
wrk:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

## soak: SOAK_REQUESTS requests (or SOAK_MINUTES minutes) of mixed traffic through Envoy + routegen;
## memory sampled per phase and plotted (target/soak/), errors and counts checked
soak: build venv wrk $(call envoy_bin,$(ENVOY_VERSION))
	$(PY) tools/soak.py --envoy $(call envoy_bin,$(ENVOY_VERSION)) --wasm $(WASM) \
		--requests $(SOAK_REQUESTS) $(if $(SOAK_MINUTES),--minutes $(SOAK_MINUTES)) $(SOAK_ARGS)

## attack: ATTACK_REQUESTS random requests against auto names (max_names 500, 2 workers); bounds,
## RSS start/peak/end, plot in target/attack/
attack: build venv wrk $(call envoy_bin,$(ENVOY_VERSION))
	$(PY) tools/attack.py --envoy $(call envoy_bin,$(ENVOY_VERSION)) --wasm $(WASM) \
		--requests $(ATTACK_REQUESTS) $(ATTACK_ARGS)
