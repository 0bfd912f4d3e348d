"""Fixtures for the reliability suite (issue 7): hostile traffic and live reconfiguration.

Reuses the integration suite's real-Envoy harness (tests/integration/envoy_harness.py, imported,
not copied). `make reliability-test` sets ROUTEGEN_WASM, ENVOY_BIN (newest Envoy) and
ENVOY_BIN_OLDEST; every Envoy a test starts is stopped at the end of its module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _resolve(var: str, fallback: Path) -> str:
    value = os.environ.get(var)
    path = Path(value) if value else fallback
    if not path.exists():
        raise pytest.UsageError(f"{var}={path} does not exist (run the suite through `make reliability-test`)")
    return str(path.resolve())


@pytest.fixture(scope="session")
def wasm_path(tmp_path_factory) -> str:
    """A private copy of the module: a rebuild during the run cannot swap it under a test."""
    source = _resolve("ROUTEGEN_WASM", ROOT / "target/routegen.wasm")
    copy = tmp_path_factory.mktemp("module") / "routegen.wasm"
    shutil.copyfile(source, copy)
    return str(copy)


def _version(envoy_bin: str) -> tuple[int, int, int]:
    out = subprocess.run([envoy_bin, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"/(\d+)\.(\d+)\.(\d+)/", out)
    assert m, f"cannot read the Envoy version from {out!r}"
    return tuple(int(x) for x in m.groups())


def _envoys() -> list[str]:
    bins = [_resolve("ENVOY_BIN", ROOT / ".cache/envoy-1.40.0/bin/envoy")]
    oldest = os.environ.get("ENVOY_BIN_OLDEST") or str(ROOT / ".cache/envoy-1.36.4/bin/envoy")
    if Path(oldest).exists() and Path(oldest).resolve() != Path(bins[0]).resolve():
        bins.append(str(Path(oldest).resolve()))
    return bins


ENVOYS = _envoys()


@pytest.fixture(scope="session", params=ENVOYS, ids=lambda p: "envoy-" + ".".join(map(str, _version(p))))
def envoy_bin(request) -> str:
    """Each Envoy version the suite runs on (newest, and the oldest published)."""
    return request.param


@pytest.fixture(scope="session")
def newest_envoy_bin() -> str:
    return ENVOYS[0]


def pytest_report_header(config):
    return [f"envoys: {', '.join(ENVOYS)}", f"ROUTEGEN_WASM={os.environ.get('ROUTEGEN_WASM', '(unset)')}"]
