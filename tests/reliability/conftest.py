"""Fixtures for the reliability suite (issue 7): hostile traffic and live reconfiguration.

Uses routegen_support's real-Envoy harness (tests/support), as the integration suite does.
`make reliability-test` sets ROUTEGEN_WASM, ENVOY_BIN (newest Envoy) and ENVOY_BIN_OLDEST; every
Envoy a test starts is stopped at the end of its module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from routegen_support.envoy import version_tuple
from routegen_support.fixtures import private_copy, resolve
from routegen_support.paths import ROOT


@pytest.fixture(scope="session")
def wasm_path(tmp_path_factory) -> str:
    """A private copy of the module: a rebuild during the run cannot swap it under a test."""
    return private_copy(resolve("ROUTEGEN_WASM", ROOT / "target/routegen.wasm", "reliability-test"), tmp_path_factory)


def _envoys() -> list[str]:
    bins = [resolve("ENVOY_BIN", ROOT / ".cache/envoy-1.40.0/bin/envoy", "reliability-test")]
    oldest = os.environ.get("ENVOY_BIN_OLDEST") or str(ROOT / ".cache/envoy-1.36.4/bin/envoy")
    if Path(oldest).exists() and Path(oldest).resolve() != Path(bins[0]).resolve():
        bins.append(str(Path(oldest).resolve()))
    return bins


ENVOYS = _envoys()


@pytest.fixture(scope="session", params=ENVOYS, ids=lambda p: "envoy-" + ".".join(map(str, version_tuple(p))))
def envoy_bin(request) -> str:
    """Each Envoy version the suite runs on (newest, and the oldest published)."""
    return request.param


@pytest.fixture(scope="session")
def newest_envoy_bin() -> str:
    return ENVOYS[0]


def pytest_report_header(config):
    return [f"envoys: {', '.join(ENVOYS)}", f"ROUTEGEN_WASM={os.environ.get('ROUTEGEN_WASM', '(unset)')}"]
