"""`make oci`: the OCI image-layout tarball, unpacked and checked the way a registry client and
Istio's Wasm fetcher read it (istio/istio pkg/wasm/imagefetcher.go: the last layer, a tar+gzip
of media type application/vnd.oci.image.layer.v1.tar+gzip, holding a file named plugin.wasm)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import ROOT

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
# Layer media types Istio's fetcher accepts for the compat variant (plugin.wasm in a tar.gz).
ISTIO_COMPAT_LAYERS = {"application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip"}


def build(wasm_path: str, out: Path, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools/oci_image.py"), "--wasm", wasm_path, "--out", str(out), "--tag", "1.2.3"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def image(wasm_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("oci")
    proc = build(wasm_path, out)
    with tarfile.open(out / "routegen-oci.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
        files = {name: tar.extractfile(m).read() for name, m in members.items() if m.isfile()}
    return {"out": out, "stdout": proc.stdout, "members": members, "files": files}


def blob(image, digest: str) -> bytes:
    algorithm, hexdigest = digest.split(":", 1)
    assert algorithm == "sha256"
    return image["files"][f"blobs/sha256/{hexdigest}"]


def check_descriptor(image, desc: dict, media_type: str) -> bytes:
    assert desc["mediaType"] == media_type
    assert re.fullmatch(r"sha256:[a-f0-9]{64}", desc["digest"])
    data = blob(image, desc["digest"])
    assert len(data) == desc["size"], f"size of {desc['digest']}"
    assert "sha256:" + hashlib.sha256(data).hexdigest() == desc["digest"]
    return data


def test_layout_files(image):
    assert json.loads(image["files"]["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    assert set(image["files"]) == {"oci-layout", "index.json"} | {n for n in image["files"] if n.startswith("blobs/sha256/")}
    for name, member in image["members"].items():
        assert member.uid == 0 and member.gid == 0 and member.mtime == 0, name


def test_every_blob_is_named_by_its_digest(image):
    blobs = {n: d for n, d in image["files"].items() if n.startswith("blobs/")}
    assert len(blobs) == 3  # manifest, config, layer
    for name, data in blobs.items():
        assert name == "blobs/sha256/" + hashlib.sha256(data).hexdigest()


def test_index_manifest_config_layer(image, wasm_path):
    index = json.loads(image["files"]["index.json"])
    assert index["schemaVersion"] == 2 and index["mediaType"] == MT_INDEX
    (entry,) = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "1.2.3"
    manifest = json.loads(check_descriptor(image, entry, MT_MANIFEST))
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == MT_MANIFEST
    assert manifest["annotations"]["module.wasm.image/variant"] == "compat"
    config = json.loads(check_descriptor(image, manifest["config"], MT_CONFIG))
    assert manifest["layers"], "at least one layer"
    last = manifest["layers"][-1]
    assert last["mediaType"] in ISTIO_COMPAT_LAYERS
    layer = check_descriptor(image, last, last["mediaType"])

    # Istio: gunzip the last layer, walk the tar, take the file whose base name is plugin.wasm.
    tar_bytes = gzip.decompress(layer)
    assert config["rootfs"] == {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        found = [m for m in tar.getmembers() if os.path.basename(m.name) == "plugin.wasm"]
        assert [m.name for m in tar.getmembers()] == ["plugin.wasm"], "the Dockerfile's COPY plugin.wasm ./"
        wasm = tar.extractfile(found[0]).read()
    assert wasm[:4] == b"\0asm" and wasm[4:8] == b"\x01\0\0\0", "wasm magic and version 1"
    assert wasm == Path(wasm_path).read_bytes()


def test_printed_and_recorded_digest_is_the_manifests(image):
    index = json.loads(image["files"]["index.json"])
    digest = index["manifests"][0]["digest"]
    assert (image["out"] / "manifest-digest").read_text().strip() == digest
    assert f"sha256: {digest.split(':', 1)[1]}" in image["stdout"]
    layout = image["out"] / "layout"
    for name, data in image["files"].items():
        assert (layout / name).read_bytes() == data, f"layout/{name} differs from the tarball"


def test_reproducible(image, wasm_path, tmp_path):
    """Same module → same bytes → same manifest digest (what a WasmPlugin's sha256 pins)."""
    build(wasm_path, tmp_path)
    assert (tmp_path / "routegen-oci.tar").read_bytes() == (image["out"] / "routegen-oci.tar").read_bytes()


def test_dockerfile_is_the_compat_layout(image, wasm_path):
    lines = [l.strip() for l in (ROOT / "Dockerfile").read_text().splitlines() if l.strip() and not l.lstrip().startswith("#")]
    assert lines == ["FROM scratch", "COPY plugin.wasm ./"]
    context = image["out"] / "context"
    assert (context / "Dockerfile").read_text() == (ROOT / "Dockerfile").read_text()
    assert (context / "plugin.wasm").read_bytes() == Path(wasm_path).read_bytes()


def test_refuses_a_file_that_is_not_wasm(tmp_path):
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"not wasm at all")
    proc = subprocess.run([sys.executable, str(ROOT / "tools/oci_image.py"), "--wasm", str(bogus), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "wasm magic" in proc.stderr


def test_make_oci_output(wasm_path):
    """The tarball `make oci` made (make artifacts-test builds it first and names it in
    ROUTEGEN_OCI_TAR) holds the current module."""
    if not os.environ.get("ROUTEGEN_OCI_TAR"):
        pytest.skip("ROUTEGEN_OCI_TAR not set: run through `make artifacts-test`")
    tarball = Path(os.environ["ROUTEGEN_OCI_TAR"])
    with tarfile.open(tarball) as tar:
        index = json.loads(tar.extractfile("index.json").read())
        manifest = json.loads(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]).read())
        layer = tar.extractfile("blobs/sha256/" + manifest["layers"][-1]["digest"].split(":")[1]).read()
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as inner:
        assert inner.extractfile("plugin.wasm").read() == Path(wasm_path).read_bytes()


@pytest.mark.parametrize("tool", ["oras", "crane", "skopeo"])
def test_push_command(tool, tmp_path, image):
    """`make push` (tools/push.sh) with each supported tool, as a dry run: nothing is pushed."""
    env = dict(os.environ, IMAGE="registry.example.com/team/routegen:1.2.3", PUSH_TOOL=tool, DRY_RUN="1",
               OCI_LAYOUT=str(image["out"] / "layout"))
    proc = subprocess.run(["bash", str(ROOT / "tools/push.sh")], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 0, proc.stderr
    layout = str(image["out"] / "layout")
    expected = {
        "oras": f"oras cp --from-oci-layout {layout}:1.2.3 registry.example.com/team/routegen:1.2.3",
        "crane": f"crane push {layout} registry.example.com/team/routegen:1.2.3",
        "skopeo": f"skopeo copy --preserve-digests oci:{layout}:1.2.3 docker://registry.example.com/team/routegen:1.2.3",
    }[tool]
    assert proc.stdout.strip() == expected


def test_push_needs_an_image_name(image):
    env = {k: v for k, v in os.environ.items() if k != "IMAGE"}
    env.update(DRY_RUN="1", PUSH_TOOL="oras", OCI_LAYOUT=str(image["out"] / "layout"))
    proc = subprocess.run(["bash", str(ROOT / "tools/push.sh")], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode != 0 and "make push IMAGE=" in proc.stderr
