"""Reading the CLI's text tables (columns three or more spaces apart, as `routegen` prints them)."""

from __future__ import annotations

import re


def table_rows(output: str, first_column: str = "ROUTE") -> dict[str, list[str]]:
    """The rows of the table whose header starts with `first_column`, by their first cell."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_column + " "))
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip() or line.startswith("…"):
            break
        cells = re.split(r" {3,}", line.strip())
        rows[cells[0]] = cells[1:]
    return rows
