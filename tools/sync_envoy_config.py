#!/usr/bin/env python3
"""Copies examples/envoy/routegen.json into examples/envoy/envoy.yaml.

Envoy cannot read a wasm plugin's configuration from a file, so envoy.yaml embeds it as a YAML
block scalar between the `# BEGIN routegen.json` and `# END routegen.json` comment lines. The JSON
file is the one to edit (and the one `routegen check` and the tests read); this script rewrites the
embedded copy, leaving every other line of envoy.yaml as it is.

    tools/sync_envoy_config.py            rewrite the copy
    tools/sync_envoy_config.py --check    exit 1 if the copy differs (what the tests run)

Standard library only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENVOY_YAML = ROOT / "examples/envoy/envoy.yaml"
ROUTEGEN_JSON = ROOT / "examples/envoy/routegen.json"
STATS_CONFIG = ROOT / "examples/envoy/stats-config.yaml"
BEGIN = "# BEGIN routegen.json"
END = "# END routegen.json"
STATS_BEGIN = "# BEGIN stats-config.yaml"
STATS_END = "# END stats-config.yaml"


def render_stats(envoy_text: str, stats_text: str) -> str:
    """The top-level `stats_config` block, copied (minus its comment header) from stats-config.yaml."""
    lines = envoy_text.splitlines(keepends=True)
    begin = [i for i, line in enumerate(lines) if line.startswith(STATS_BEGIN)]
    end = [i for i, line in enumerate(lines) if line.startswith(STATS_END)]
    if len(begin) != 1 or len(end) != 1 or end[0] < begin[0]:
        raise SystemExit(f"{ENVOY_YAML}: expected one '{STATS_BEGIN}' line and one later '{STATS_END}' line")
    body = [line if line.endswith("\n") else line + "\n"
            for line in stats_text.splitlines(keepends=True) if not line.startswith("#")]
    return "".join(lines[: begin[0] + 1] + body + lines[end[0]:])


def render(envoy_text: str, plugin_text: str) -> str:
    lines = envoy_text.splitlines(keepends=True)
    begin = [i for i, line in enumerate(lines) if line.strip().startswith(BEGIN)]
    end = [i for i, line in enumerate(lines) if line.strip().startswith(END)]
    if len(begin) != 1 or len(end) != 1 or end[0] < begin[0]:
        raise SystemExit(f"{ENVOY_YAML}: expected one '{BEGIN}' line and one later '{END}' line")
    start = next(
        (i for i in range(begin[0] + 1, end[0]) if lines[i].lstrip().startswith("value:")), None
    )
    if start is None:
        raise SystemExit(f"{ENVOY_YAML}: no 'value:' line between the {BEGIN!r} and {END!r} markers")
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    block = [f"{indent}value: |\n"]
    block += [f"{indent}  {line}".rstrip() + "\n" for line in plugin_text.rstrip("\n").split("\n")]
    return "".join(lines[:start] + block + lines[end[0]:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether the copy is current")
    args = parser.parse_args()
    current = ENVOY_YAML.read_text()
    wanted = render_stats(render(current, ROUTEGEN_JSON.read_text()), STATS_CONFIG.read_text())
    if current == wanted:
        print(f"{ENVOY_YAML.relative_to(ROOT)} embeds {ROUTEGEN_JSON.relative_to(ROOT)} as it is")
        return 0
    if args.check:
        print(
            f"{ENVOY_YAML.relative_to(ROOT)} does not embed the current {ROUTEGEN_JSON.relative_to(ROOT)}: "
            "run `make envoy-config`"
        )
        return 1
    ENVOY_YAML.write_text(wanted)
    print(f"updated {ENVOY_YAML.relative_to(ROOT)} from {ROUTEGEN_JSON.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
