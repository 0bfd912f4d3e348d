#!/usr/bin/env python3
"""Regenerates fuzz/seeds/<target>/ from the unit tests' own inputs (run by hand, output committed).

- config:            every JSON document written as a raw string (r#"{...}"#) in src/ tests,
                     plus the README's examples and examples/envoy/routegen.json
- cel:               every quoted condition in src/cel and src/lower.rs / src/engine tests that
                     parses as a `request.`/`response.` expression, with a sample activation
- native_decide:     realistic and hostile request lines in the target's binary layout
- attributegen_eval: the same paths in that target's layout
- route_table:       small tables from the README's route examples
"""
from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"


def write(target: str, data: bytes) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def rust_sources() -> list[str]:
    return [p.read_text() for p in sorted((ROOT / "src").rglob("*.rs")) if "bin" not in p.parts]


def configs() -> list[bytes]:
    out = []
    for text in rust_sources():
        for m in re.finditer(r'r#"(\{.*?\})"#', text, re.S):
            body = m.group(1)
            if "{{" in body:  # a format! string, not a document
                continue
            out.append(body.encode())
    readme = (ROOT / "README.md").read_text()
    for m in re.finditer(r"```json\n(.*?)```", readme, re.S):
        out.append(m.group(1).encode())
    example = ROOT / "examples" / "envoy" / "routegen.json"
    if example.exists():
        out.append(example.read_bytes())
    return out


def conditions() -> list[str]:
    out = set()
    for text in rust_sources():
        for m in re.finditer(r'"((?:[^"\\]|\\.)*)"', text):
            s = m.group(1)
            if ("request." in s or "response." in s) and len(s) < 300:
                try:
                    s = json.loads('"' + s + '"')
                except ValueError:
                    continue
                out.add(s)
    return sorted(out)


PATHS = [
    b"/books", b"/books/42", b"/books/new", b"/books/42?x=1#f", b"//books///42/", b"/books/%2e%2e/admin",
    b"/a/./b/../c", b"/%62ooks/%7E", b"/a%2Fb", b"/static/app.js", b"/api/v2/legacy/x", b"/shelves/s1/books/b2",
    b"/repos/o/r", b"/files/a/b/c", b"/v1.2/status", b"/docs/x.json", b"/search", b"/h/1", b"/Books/ABC",
    b"/books/\xff\xfe", b"/books/caf\xc3\xa9", b"/a\x00b", b"*", b"", b"http://host/books/1", b"/../../x",
    b"/authors/7", b"/status/404", b"/exact/Path",
]


def main() -> int:
    for doc in configs():
        write("config", doc)
    for cond in conditions():
        write("cel", cond.encode() + b"\0GET\0/books?debug=1\0/books\0test.local\0http\0HTTP/1.1\0debug=1\0abc\0ref\0curl/8\0\xc8\0\x0e\0v2\0json")
    methods = [b"GET", b"POST", b"HEAD", b"DELETE", b"g\xffT", b""]
    authorities = [b"", b"authors", b"authors:8080", b"a.example.com", b"AUTHORS.default.svc.cluster.local:80"]
    for i, path in enumerate(PATHS):
        method = methods[i % len(methods)]
        authority = authorities[i % len(authorities)]
        header = b"2" if i % 2 else b"\xff"
        flags = (i * 37) & 0xFF
        write("native_decide", bytes([flags, len(method), len(authority), len(header)]) + method + authority + header + path)
        write("attributegen_eval", bytes([len(method), len(header)]) + method + header + path)
    tables = [
        b"/books/42\nGET /books/new\nGET /books/{id}\nGET|HEAD /books\nPOST /books\n/healthz",
        b"/static/app.js\nP /static/\nE /exact\nR /api/v[0-9]+/.*\nH /h\n/**",
        b"/v1.2/status\nGET /v{major}.{minor}/status\nGET /docs/{name}.json\nGET /files/{path=**}\n* /star/*/x",
        b"C/BOOKS/1/\nGET /books/{id}\nP /Static/",
    ]
    for t in tables:
        write("route_table", t)
    for target in sorted(p.name for p in SEEDS.iterdir()):
        print(f"{target}: {len(list((SEEDS / target).iterdir()))} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
