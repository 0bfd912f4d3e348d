# mk/readme.mk — README examples are tests (issue 15). Included by the main Makefile
# (-include mk/*.mk); uses its PY and venv target. The GitHub import example runs when
# .cache/github-api.json exists (make github-api; make test fetches it for cli-test first).
#
#   make readme-test   run every ```console block of README.md from the repository root with
#                      target/debug/routegen as `routegen`; fail if an output differs. Blocks
#                      marked `console no-run` (Envoy, Prometheus, kubectl, long runs) are counted,
#                      not run; the convention is in README.md, "Development".

.PHONY: readme-test

readme-test: cli venv
	ROUTEGEN_CLI=$(abspath $(CLI_BIN)) $(PY) -m pytest -q tests/readme

test: readme-test
