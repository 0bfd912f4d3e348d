#!/usr/bin/env python3
"""`make oci`: the routegen module as an OCI image, without a container engine.

    tools/oci_image.py --wasm routegen.wasm --out target/oci --tag 0.1.0

Builds the image the Dockerfile describes (`FROM scratch` + `COPY plugin.wasm ./`: Istio's
"compat" Wasm image variant) and writes

    OUT/layout/                an OCI image layout (oci-layout, index.json, blobs/sha256/...)
    OUT/routegen-oci.tar       the same layout as one tar file (`skopeo copy oci-archive:...`)
    OUT/context/               Dockerfile + plugin.wasm, if you do want `docker build OUT/context`
    OUT/manifest-digest        the image's manifest digest (sha256:<64 hex>)

The image: an OCI manifest (application/vnd.oci.image.manifest.v1+json, annotated
module.wasm.image/variant=compat), an image config (application/vnd.oci.image.config.v1+json)
and one layer (application/vnd.oci.image.layer.v1.tar+gzip) that holds `plugin.wasm`, which is
what Istio's fetcher reads from the last layer. Byte-for-byte reproducible: fixed timestamps
(SOURCE_DATE_EPOCH, default 0), owners and modes, so the same module always gives the same
manifest digest. That digest is what a WasmPlugin's `sha256` must hold for an `oci://` url.

Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OCI_LAYOUT_VERSION = "1.0.0"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
WASM_MAGIC = b"\0asm\x01\0\0\0"


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, annotations: dict | None = None) -> dict:
    out = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
    if annotations:
        out["annotations"] = annotations
    return out


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes | None, mtime: int, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))


def layer_tar(wasm: bytes, mtime: int) -> bytes:
    """What `COPY plugin.wasm ./` onto scratch puts in the image: one file at the root."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _tar_add(tar, "plugin.wasm", wasm, mtime, 0o644)
    return buf.getvalue()


def build_image(wasm: bytes, *, tag: str, version: str, mtime: int = 0) -> tuple[dict[str, bytes], dict, bytes]:
    """Returns (blobs by digest, index, manifest bytes)."""
    if not wasm.startswith(WASM_MAGIC):
        raise SystemExit("the module does not start with the wasm magic and version 1 (\\0asm\\1\\0\\0\\0)")
    tar = layer_tar(wasm, mtime)
    layer = gzip.compress(tar, compresslevel=9, mtime=mtime)
    config = canonical_json({
        # A wasm module, not a Linux binary: container tools that care about the platform see it.
        "architecture": "wasm",
        "os": "wasip1",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar)]},
        "history": [{"created_by": "COPY plugin.wasm ./ # routegen " + version}],
    })
    manifest = canonical_json({
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": descriptor(MT_CONFIG, config),
        "layers": [descriptor(MT_LAYER, layer)],
        "annotations": {
            # Istio's "compat" variant with the OCI layer media type carries this annotation.
            "module.wasm.image/variant": "compat",
            "org.opencontainers.image.title": "routegen",
            "org.opencontainers.image.description": "Per-route names for Envoy and Istio metrics (proxy-wasm filter)",
            "org.opencontainers.image.version": version,
            "org.opencontainers.image.licenses": "Apache-2.0",
        },
    })
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [descriptor(MT_MANIFEST, manifest, {"org.opencontainers.image.ref.name": tag})],
    }
    blobs = {sha256(b): b for b in (layer, config, manifest)}
    return blobs, index, manifest


def layout_files(blobs: dict[str, bytes], index: dict) -> list[tuple[str, bytes | None]]:
    files: list[tuple[str, bytes | None]] = [
        ("oci-layout", canonical_json({"imageLayoutVersion": OCI_LAYOUT_VERSION})),
        ("index.json", canonical_json(index)),
        ("blobs", None),
        ("blobs/sha256", None),
    ]
    files += [(f"blobs/sha256/{d.split(':', 1)[1]}", blobs[d]) for d in sorted(blobs)]
    return files


def write(out: Path, wasm_path: Path, tag: str, version: str, mtime: int) -> dict:
    wasm = wasm_path.read_bytes()
    blobs, index, manifest = build_image(wasm, tag=tag, version=version, mtime=mtime)
    files = layout_files(blobs, index)
    layout = out / "layout"
    if layout.exists():
        shutil.rmtree(layout)
    for name, data in files:
        target = layout / name
        if data is None:
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files:
            _tar_add(tar, name, data, mtime, 0o644)
    (out / "routegen-oci.tar").write_bytes(buf.getvalue())
    context = out / "context"
    context.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "Dockerfile", context / "Dockerfile")
    (context / "plugin.wasm").write_bytes(wasm)
    digest = sha256(manifest)
    (out / "manifest-digest").write_text(digest + "\n")
    return {"digest": digest, "wasm_sha256": sha256(wasm), "wasm_size": len(wasm), "tag": tag}


def cargo_version() -> str:
    for line in (ROOT / "Cargo.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    return "0.0.0"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build routegen's OCI image layout without a container engine")
    parser.add_argument("--wasm", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--tag", default=None, help="the layout's tag (default: the Cargo.toml version)")
    args = parser.parse_args(argv)
    version = cargo_version()
    tag = args.tag or version
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    args.out.mkdir(parents=True, exist_ok=True)
    info = write(args.out, args.wasm, tag, version, mtime)
    hexdigest = info["digest"].split(":", 1)[1]
    print(f"built {args.out / 'routegen-oci.tar'} (and {args.out / 'layout'}/, tag {tag})")
    print(f"  plugin.wasm  {info['wasm_size']} bytes, {info['wasm_sha256']}")
    print(f"  manifest     {info['digest']}")
    print("For a WasmPlugin pulling this image (after `make push IMAGE=<registry>/<repo>:" + tag + "`):")
    print(f"  url: oci://<registry>/<repo>:{tag}")
    print(f"  sha256: {hexdigest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
