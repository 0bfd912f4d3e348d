"""`make readme-test`: prints how many README console blocks were run and how many were not."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = getattr(config, "readme_counts", None)
    if counts is None:
        return
    missing = counts["missing"]
    line = (f"README console blocks: {counts['run']} run, {counts['no-run']} not run (marked no-run)")
    if missing:
        line += f", {len(missing)} skipped for a missing input (lines {', '.join(map(str, missing))})"
    terminalreporter.write_line(line)
