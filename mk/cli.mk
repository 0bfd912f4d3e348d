# mk/cli.mk — the `routegen` command-line tool (issue 5). Included by the main Makefile
# (-include mk/*.mk); uses its PY, VENV, WASM, ENVOY_VERSION, envoy_bin, GITHUB_API and its
# build / venv / prometheus / github-api targets.
#
#   make cli-test        every CLI test: Rust unit tests (shadowing analysis, importers, …) and
#                        the pytest suite in tests/cli (golden check/explain output, imports incl.
#                        GitHub's 1,223 operations, render vs CRD schemas and `envoy --mode
#                        validate`, `routes` against a real Prometheus scraping a real Envoy,
#                        learn/coverage on a real Envoy's access log, top's live view in tmux)
#   make cli-install     cargo install --path crates/routegen-cli (a `routegen` binary in ~/.cargo/bin)
#   UPDATE_GOLDEN=1 make cli-test   rewrite tests/cli/golden/* after an intended change

CLI_BIN := target/debug/routegen

.PHONY: cli cli-test cli-unit cli-install tmux

## cli: the routegen command-line tool ($(CLI_BIN)), for every suite that runs it
cli:
	cargo build --quiet -p routegen-cli --bin routegen

cli-unit:
	cargo test --quiet -p routegen-cli

cli-test: cli-unit cli build venv prometheus github-api schemas tmux $(call envoy_bin,$(ENVOY_VERSION))
	ROUTEGEN_CLI=$(abspath $(CLI_BIN)) ROUTEGEN_WASM=$(abspath $(WASM)) \
	ENVOY_BIN=$(abspath $(call envoy_bin,$(ENVOY_VERSION))) GITHUB_API=$(abspath $(GITHUB_API)) \
		$(PY) -m pytest -q tests/cli

## tmux: the terminal `routegen top`'s live view is tested in (Debian package)
tmux:
	@command -v tmux >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux; }

cli-install:
	cargo install --locked --path crates/routegen-cli
