"""The wasm-metadce graph that keeps exactly the exports listed in a file (one per line,
`#` comments): each is a root, so every other export, and the code only it reaches, goes.

    python3 tools/metadce_graph.py tools/module-exports.txt > graph.json
"""

import json
import sys


def exports(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]


if __name__ == "__main__":
    json.dump([{"name": name, "export": name, "root": True} for name in exports(sys.argv[1])], sys.stdout, indent=1)
    print()
