# mk/ship.mk — shipping routegen: Istio manifests (istio/), the OCI image, the local Envoy example
# (examples/envoy/) and `make demo`. Included by the main Makefile (-include mk/*.mk); uses its
# PY, VENV, WASM, ENVOY_VERSION, envoy_bin and its build / venv / Envoy targets.
#
#   make demo            routegen in a real local Envoy with podinfo-like traffic: per-route table
#   make oci             target/oci/routegen-oci.tar (OCI image layout) without a container engine
#   make push IMAGE=ghcr.io/you/routegen:0.1.0   upload it (oras, crane or skopeo)
#   make istio-check     validate istio/ against the CRD schemas and routegen's config parser
#   make envoy-config    copy examples/envoy/routegen.json into examples/envoy/envoy.yaml
#   make artifacts-test  every check of the above (part of `make test`)

ROUTEGEN_CLI     := target/debug/routegen
ROUTEGEN_VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
OCI_DIR          := target/oci
OCI_TAR          := $(OCI_DIR)/routegen-oci.tar
OCI_TAG          ?= $(ROUTEGEN_VERSION)
# Raw CRD files (Istio, Gateway API) the manifests are also validated against where present; the
# npm validators of `make schemas` (mk/schemas.mk) are always used.
ROUTEGEN_SCHEMAS ?= $(abspath ../shared/schemas)
# Extra arguments for the demo, e.g. make demo DEMO_ARGS=--linger=120 (keeps it up to curl around).
DEMO_ARGS        ?=

.PHONY: demo oci push istio-check envoy-config artifacts-test ship-tools

## demo: build, run the module in the PyPI Envoy with examples/envoy's config, traffic, table
demo: build venv $(call envoy_bin,$(ENVOY_VERSION))
	$(PY) tools/demo.py --envoy $(call envoy_bin,$(ENVOY_VERSION)) --wasm $(WASM) $(DEMO_ARGS)

## oci: the module as an OCI image layout + tarball (Istio's compat variant), digest printed
oci: build
	python3 tools/oci_image.py --wasm $(WASM) --out $(OCI_DIR) --tag $(OCI_TAG)

## push: upload the OCI image: make push IMAGE=<registry>/<repo>:<tag> (DRY_RUN=1 to print only)
push: oci
	@test -n "$(IMAGE)" || { echo "usage: make push IMAGE=<registry>/<repo>:<tag>  (e.g. IMAGE=ghcr.io/your-org/routegen:$(OCI_TAG))" >&2; exit 2; }
	IMAGE="$(IMAGE)" OCI_LAYOUT=$(OCI_DIR)/layout OCI_TAG=$(OCI_TAG) bash tools/push.sh

## istio-check: every manifest in istio/ against the CRD schemas; every pluginConfig through routegen check
istio-check: cli venv schemas
	ROUTEGEN_SCHEMAS=$(ROUTEGEN_SCHEMAS) $(PY) tools/validate_manifests.py --routegen $(ROUTEGEN_CLI) istio

## envoy-config: embed examples/envoy/routegen.json in examples/envoy/envoy.yaml (after editing it)
envoy-config:
	python3 tools/sync_envoy_config.py

## ship-tools: docker-compose (validates the compose file, no engine needed) and promtool
ship-tools:
	@command -v docker-compose >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose)
	@command -v promtool >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus)

## artifacts-test: schemas, routegen check, OCI, compose, promtool, Envoy validate, dashboard, demo
artifacts-test: build cli venv ship-tools oci schemas $(call envoy_bin,$(ENVOY_VERSION))
	ROUTEGEN_WASM=$(abspath $(WASM)) ENVOY_BIN=$(abspath $(call envoy_bin,$(ENVOY_VERSION))) \
	ROUTEGEN_CLI=$(abspath $(ROUTEGEN_CLI)) ROUTEGEN_SCHEMAS=$(ROUTEGEN_SCHEMAS) \
	ROUTEGEN_OCI_TAR=$(abspath $(OCI_TAR)) \
		$(PY) -m pytest -q tests/artifacts
