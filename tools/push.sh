#!/usr/bin/env bash
# `make push IMAGE=<registry>/<repo>:<tag>`: uploads the image `make oci` built (target/oci/layout)
# to a registry, with the first of these tools found on PATH (none needs a container engine):
#   oras    oras cp --from-oci-layout <layout>:<tag> <IMAGE>
#   crane   crane push <layout> <IMAGE>
#   skopeo  skopeo copy --preserve-digests oci:<layout>:<tag> docker://<IMAGE>
# Log in first the tool's way (`oras login ghcr.io`, `crane auth login ghcr.io`, `skopeo login ghcr.io`).
# All three upload the manifest byte for byte, so its digest (target/oci/manifest-digest) is the
# one the registry serves: put it, without "sha256:", in the WasmPlugin's `sha256`.
#
# Environment: IMAGE (required), OCI_LAYOUT (default target/oci/layout), OCI_TAG (the layout's
# tag, default: the only one in index.json), PUSH_TOOL (force oras|crane|skopeo),
# DRY_RUN=1 (print the command instead of running it).
set -euo pipefail

: "${IMAGE:?usage: make push IMAGE=<registry>/<repo>:<tag>, e.g. IMAGE=ghcr.io/your-org/routegen:0.1.0}"
layout=${OCI_LAYOUT:-target/oci/layout}
[ -f "$layout/index.json" ] || { echo "push: no OCI layout at $layout (run make oci)" >&2; exit 2; }
tag=${OCI_TAG:-$(sed -n 's/.*"org.opencontainers.image.ref.name":"\([^"]*\)".*/\1/p' "$layout/index.json")}
digest=$(cat "$(dirname "$layout")/manifest-digest" 2>/dev/null || echo unknown)

tool=${PUSH_TOOL:-}
if [ -z "$tool" ]; then
  for candidate in oras crane skopeo; do
    if command -v "$candidate" >/dev/null 2>&1; then tool=$candidate; break; fi
  done
fi
case "$tool" in
  oras)   cmd=(oras cp --from-oci-layout "$layout:$tag" "$IMAGE") ;;
  crane)  cmd=(crane push "$layout" "$IMAGE") ;;
  skopeo) cmd=(skopeo copy --preserve-digests "oci:$layout:$tag" "docker://$IMAGE") ;;
  "")     echo "push: install one of oras (https://oras.land), crane (go-containerregistry) or skopeo" >&2; exit 2 ;;
  *)      echo "push: PUSH_TOOL=$tool is not one of oras, crane, skopeo" >&2; exit 2 ;;
esac

if [ "${DRY_RUN:-0}" = 1 ]; then
  printf '%q ' "${cmd[@]}"; echo
  exit 0
fi
"${cmd[@]}"
echo "pushed $IMAGE (manifest $digest)"
echo "WasmPlugin:  url: oci://$IMAGE"
echo "             sha256: ${digest#sha256:}"
