"""The scripts of tools/ as modules, loaded from their files (no sys.path change):

    from routegen_support.tools import validate_manifests
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from .paths import ROOT

TOOLS = ROOT / "tools"


def load(name: str) -> ModuleType:
    """tools/<name>.py, imported once (as module `name`)."""
    if name in sys.modules:
        return sys.modules[name]
    path = TOOLS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or not path.is_file():
        raise ImportError(f"no tool {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def schema_validators(config, suite: str):
    """Every CRD schema validator available (tools/validate_manifests.py), announced in the
    session's summary under `suite`; a test failure, never a skip, when there is none. A
    generator for a pytest fixture: yields the validators, then closes them."""
    import pytest

    manifests = load("validate_manifests")
    store = manifests.Validators()
    manifests.announce(config, suite, store)
    if not store.validators:
        pytest.fail("no schema validator available: run `make schemas` (npm) or set ROUTEGEN_SCHEMAS to the CRD files")
    try:
        yield store
    finally:
        store.close()


def __getattr__(name: str) -> ModuleType:
    if name.startswith("_") or not (TOOLS / f"{name}.py").is_file():
        raise AttributeError(name)
    return load(name)
