"""Fixtures for the `routegen` CLI suite (`make cli-test`).

ROUTEGEN_CLI is the binary under test (default target/debug/routegen); ENVOY_BIN, ROUTEGEN_WASM
and GITHUB_API point at the real Envoy, the built module and GitHub's OpenAPI description for
the tests that need them (they are skipped, saying why, when one is missing).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"


def _path(var: str, default: Path) -> Path:
    return Path(os.environ.get(var) or default).resolve()


@pytest.fixture(scope="session")
def routegen() -> Path:
    path = _path("ROUTEGEN_CLI", ROOT / "target/debug/routegen")
    if not path.exists():
        raise pytest.UsageError(f"{path} does not exist: run `cargo build --bin routegen` (or `make cli-test`)")
    return path


@pytest.fixture(scope="session")
def run(routegen):
    """`run(*args, input=None, cwd=FIXTURES)` → CompletedProcess (text)."""

    def call(*args, input: str | None = None, cwd: Path = FIXTURES, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(routegen), *map(str, args)], input=input, capture_output=True, text=True, cwd=cwd, timeout=timeout)

    return call


@pytest.fixture(scope="session")
def envoy_bin() -> Path:
    path = _path("ENVOY_BIN", ROOT / ".cache/envoy-1.40.0/bin/envoy")
    if not path.exists():
        pytest.skip(f"no Envoy at {path} (make envoy)")
    return path


@pytest.fixture(scope="session")
def wasm_path() -> Path:
    path = _path("ROUTEGEN_WASM", ROOT / "target/routegen.wasm")
    if not path.exists():
        pytest.skip(f"no module at {path} (make build)")
    return path


@pytest.fixture(scope="session")
def github_api() -> Path:
    path = _path("GITHUB_API", ROOT / ".cache/github-api.json")
    if not path.exists():
        pytest.skip(f"no GitHub API description at {path} (make github-api)")
    return path
