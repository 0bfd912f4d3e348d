# mk/schemas.mk — what istio/ and `routegen render` are validated against. Included by the main
# Makefile (-include mk/*.mk); uses its CACHE.
#
#   make schemas   the JSON Schema validators that @kubernetes-models/istio (Istio 1.29.2's
#                  crd-all.gen.yaml) and @kubernetes-models/gateway-api (Gateway API v1.5 types)
#                  generate from the CRDs, pinned by tools/schemas/package-lock.json and installed
#                  from npm into .cache/schemas (never committed). tools/validate_manifests.py runs
#                  them through tools/schemas/validate.mjs and adds its own unknown-field,
#                  ObjectMeta and scope checks.
#
# Where ../shared/schemas (or ROUTEGEN_SCHEMAS) holds the raw CRD YAML files, the strict raw-CRD
# check (CEL rules, list types, unknown fields) runs as well; `make schemas` is needed either way.

SCHEMA_MODELS := $(CACHE)/schemas

.PHONY: schemas

## schemas: the CRD-generated validators from npm, in .cache/schemas (idempotent)
schemas: $(SCHEMA_MODELS)/.ready
$(SCHEMA_MODELS)/.ready: tools/schemas/package.json tools/schemas/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	mkdir -p $(SCHEMA_MODELS)
	cp tools/schemas/package.json tools/schemas/package-lock.json $(SCHEMA_MODELS)/
	cd $(SCHEMA_MODELS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	touch $@
