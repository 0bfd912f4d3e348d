"""Golden tests: the exact text of `routegen check` and `routegen explain` (stdout, stderr, exit).

Regenerate after an intended change with `UPDATE_GOLDEN=1 make cli-test` and review the diff.
"""

from __future__ import annotations

import os

import pytest

from conftest import HERE

GOLDEN = HERE / "golden"

CASES = {
    "check-native-review": ["check", "native-review.yaml"],
    "check-native-review-json": ["check", "native-review.yaml", "-o", "json"],
    "check-native-review-strict": ["check", "--strict", "native-review.yaml"],
    "check-invalid": ["check", "native-invalid.json"],
    "check-invalid-json": ["check", "native-invalid.json", "-o", "json"],
    "check-attributegen": ["check", "attributegen-response-codes.json"],
    "check-attributegen-clean": ["check", "attributegen-operations.json"],
    "check-missing-file": ["check", "no-such-file.json"],
    "explain-shadowed": ["explain", "native-review.yaml", "GET", "/books//new/?x=1"],
    "explain-service": ["explain", "native-review.yaml", "DELETE", "/books/7", "--host", "books:8080", "--status", "503"],
    "explain-service-default": ["explain", "native-review.yaml", "PATCH", "/x", "--host", "books.default.svc.cluster.local"],
    "explain-header": ["explain", "native-review.yaml", "GET", "/beta/new", "--header", "x-beta=off", "--host", "other"],
    "explain-default": ["explain", "native-review.yaml", "GET", "/nowhere", "--status", "404"],
    "explain-json": ["explain", "native-review.yaml", "HEAD", "/books/7.json", "-o", "json"],
    "explain-attributegen": ["explain", "attributegen-response-codes.json", "GET", "/books/12", "--status", "404"],
    "explain-attributegen-no-status": ["explain", "attributegen-response-codes.json", "POST", "/x/books/12"],
    "explain-attributegen-index": ["explain", "attributegen-operations.json", "HEAD", "/status/ok?verbose=1"],
    "explain-bad-header": ["explain", "native-review.yaml", "GET", "/", "--header", "novalue"],
}


def transcript(args, proc) -> str:
    out = f"$ routegen {' '.join(args)}\n{proc.stdout}"
    if proc.stderr:
        out += f"--- stderr\n{proc.stderr}"
    return out + f"--- exit {proc.returncode}\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(run, name):
    args = CASES[name]
    got = transcript(args, run(*args))
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(got)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert got == path.read_text()


def test_no_stale_golden_files():
    assert {p.stem for p in GOLDEN.glob("*.txt")} == set(CASES)
