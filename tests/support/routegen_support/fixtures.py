"""Small helpers for the suites' conftest.py files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def resolve(var: str, fallback: Path, make_target: str) -> str:
    """The file named by environment variable `var`, else `fallback`; a pytest usage error
    (naming the make target that sets it) when it does not exist."""
    import pytest

    value = os.environ.get(var)
    path = Path(value) if value else fallback
    if not path.exists():
        raise pytest.UsageError(f"{var}={path} does not exist (run the suite through `make {make_target}`)")
    return str(path.resolve())


def private_copy(source: str, tmp_path_factory) -> str:
    """A private copy of the module: a rebuild during the run cannot swap it under a test."""
    copy = tmp_path_factory.mktemp("module") / Path(source).name
    shutil.copyfile(source, copy)
    return str(copy)
