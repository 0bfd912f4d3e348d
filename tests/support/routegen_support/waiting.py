"""Bounded polling."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str = "condition",
    ignore: tuple[type[BaseException], ...] = (),
    state: Callable[[], object] | None = None,
) -> T:
    """Calls `predicate` until it returns something truthy (returned) or `timeout` seconds pass
    (AssertionError, with `state()` in the message when given: what things looked like last).
    Exceptions of the types in `ignore` count as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except ignore:
            pass
        time.sleep(interval)
    detail = f"; last state:\n{state()}" if state else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
