# routegen as a Wasm OCI image in the "compat" layout Istio's WasmPlugin accepts: one layer holding
# plugin.wasm. `make oci` builds the same image without a container engine (target/oci/); with
# Docker or Podman:
#   make oci && docker build -t ghcr.io/your-org/routegen:0.1.0 target/oci/context
# (target/oci/context holds this file and plugin.wasm, the built module.)
FROM scratch
COPY plugin.wasm ./
