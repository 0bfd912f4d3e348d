"""Where the repository is (the package is installed editable from tests/support)."""

from __future__ import annotations

import os
from pathlib import Path


def _find_root() -> Path:
    env = os.environ.get("ROUTEGEN_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for d in (start, *start.parents):
            if (d / "Cargo.toml").is_file() and (d / "tests" / "support").is_dir():
                return d
    raise RuntimeError("cannot find the routegen repository (set ROUTEGEN_ROOT)")


ROOT = _find_root()
