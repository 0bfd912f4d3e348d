"""routegen delivered the way istiod delivers a WasmPlugin: by ECDS (Extension Config
Discovery). The listener is static; its HTTP filter entry has `config_discovery` instead of a
`typed_config`, and the `Wasm` filter configuration (module file and plugin configuration)
arrives on its own as a `TypedExtensionConfig` named `routegen`, here from a file
(`path_config_source` with a watched directory) that `write_ecds()` replaces by atomic rename.
istio-agent likewise serves the module from a local file, which `module_variant()` imitates."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Mapping

from .envoy import wasm_filter
from .harness import Envoy

WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
EXTENSION_TYPE = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
FILTER_NAME = "routegen"
STATS_PREFIX = f"extension_config_discovery.http_filter.{FILTER_NAME}."


def module_variant(source: Path | str, target: Path | str, tag: str) -> str:
    """A byte-different copy of a module that runs the same code: `source` plus a custom
    section (id 0) named `routegen-test` holding `tag`. Envoy keys VMs by the code's hash, so a
    variant is a new module to it, as a new download is. Written by atomic rename."""
    def leb128(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    name, payload = b"routegen-test", tag.encode()
    body = leb128(len(name)) + name + payload
    target = Path(target)
    tmp = target.with_name(target.name + ".tmp")
    shutil.copyfile(source, tmp)
    with open(tmp, "ab") as f:
        f.write(b"\x00" + leb128(len(body)) + body)
    os.replace(tmp, target)
    return str(target)


class EcdsEnvoy(Envoy):
    """The harness Envoy (JSON access log, direct responses) with routegen's filter config
    from ECDS. `write_ecds(plugin_config, wasm=...)` publishes a new version; `None` as the
    initial configuration publishes no resource (the listener then waits for it, or starts with
    `default_config` when `apply_default_config_without_warming` is set)."""

    def __init__(self, envoy_bin: str, wasm: str, workdir: Path, plugin_config: str | Mapping | None, *,
                 default_config: str | Mapping | None = None, apply_default_config_without_warming: bool = False,
                 **options):
        super().__init__(envoy_bin, wasm, workdir, plugin_config if plugin_config is not None else "{}", **options)
        self.initial = plugin_config
        self.default_config = default_config
        self.without_warming = apply_default_config_without_warming
        self.ecds_dir = self.workdir / "ecds"
        self.ecds_path = self.ecds_dir / "routegen.json"
        self.module = wasm
        self.versions = 0

    def filter_config(self, plugin_config: str | Mapping, wasm: str | None = None) -> dict:
        """The `Wasm` message (the filter's typed_config) for `plugin_config` on module `wasm`."""
        return wasm_filter(wasm or self.module, plugin_config, root_id="")["typed_config"]

    def write_ecds(self, plugin_config: str | Mapping, wasm: str | None = None) -> None:
        if wasm is not None:
            self.module = wasm
        self.versions += 1
        resource = {"@type": EXTENSION_TYPE, "name": FILTER_NAME, "typed_config": self.filter_config(plugin_config)}
        self.ecds_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.ecds_dir / f".routegen.{self.versions}.tmp"
        tmp.write_text(json.dumps({"version_info": str(self.versions), "resources": [resource]}, indent=1))
        os.replace(tmp, self.ecds_path)

    def render(self) -> dict:
        self.ecds_dir.mkdir(parents=True, exist_ok=True)
        if self.initial is not None:
            self.write_ecds(self.initial)
        else:  # the path must exist: a response with no resource yet
            self.ecds_path.write_text(json.dumps({"version_info": "0", "resources": []}))
        config = super().render()
        (listener,) = config["static_resources"]["listeners"]
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        discovery: dict = {
            "config_source": {"resource_api_version": "V3", "path_config_source": {
                "path": str(self.ecds_path), "watched_directory": {"path": str(self.ecds_dir)}}},
            "type_urls": [WASM_TYPE],
        }
        if self.default_config is not None:
            discovery["default_config"] = self.filter_config(self.default_config)
        if self.without_warming:
            discovery["apply_default_config_without_warming"] = True
        hcm["http_filters"][0] = {"name": FILTER_NAME, "config_discovery": discovery}
        return {"node": {"id": "routegen-ecds", "cluster": "test"}, **config}

    def ecds_stats(self) -> dict[str, int]:
        """The ECDS counters of the routegen filter: {"config_reload": n, "config_fail": n, ...}."""
        return {k[len(STATS_PREFIX):]: v for k, v in self.stats().items() if k.startswith(STATS_PREFIX)}
