"""wrk, the HTTP load generator: a Lua script cycling through a request sample, and one run."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .process import pinned


def write_script(path: Path | str, requests: Sequence[tuple], comment: str = "") -> None:
    """A wrk script sending `requests` in order, round and round; each is (method, path) or
    (method, path, {header: value}). Requests are formatted once per thread, in `init`."""
    def entry(r: tuple) -> str:
        method, target, *rest = r
        headers: Mapping[str, str] = rest[0] if rest else {}
        lua_headers = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
        return "{%s, %s, {%s}}" % (json.dumps(method), json.dumps(target), lua_headers)

    with open(path, "w") as f:
        if comment:
            f.write(f"-- {comment}\n")
        f.write("local sample = {\n%s\n}\n" % ",\n".join(entry(r) for r in requests))
        f.write(
            "local formatted = {}\n"
            "local i = 0\n"
            "init = function(args)\n"
            "  for k, r in ipairs(sample) do formatted[k] = wrk.format(r[1], r[2], r[3]) end\n"
            "end\n"
            "request = function()\n"
            "  i = i + 1\n"
            "  if i > #formatted then i = 1 end\n"
            "  return formatted[i]\n"
            "end\n"
        )


@dataclass
class WrkResult:
    requests: int | None     # responses wrk read (None: its output had no count)
    non2xx: int              # "Non-2xx or 3xx responses"
    socket_errors: int       # connect + read + write + timeout
    rps: float | None
    p99: str                 # with --latency, else "?"
    returncode: int
    stdout: str
    stderr: str


def run(url: str, script: Path | str, *, seconds: int, connections: int, threads: int = 1,
        extra_args: Sequence[str] = (), cpu: int | None = None) -> WrkResult:
    """One wrk run of `seconds` against `url` (optionally pinned to `cpu`)."""
    argv = pinned(cpu, ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", *extra_args,
                        "-s", str(script), url])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    text = out.stdout
    m = re.search(r"(\d+) requests in", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p99 = re.search(r"\s99%\s+(\S+)", text)
    return WrkResult(
        requests=int(m.group(1)) if m else None,
        non2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
        rps=float(rps.group(1)) if rps else None,
        p99=p99.group(1) if p99 else "?",
        returncode=out.returncode,
        stdout=text,
        stderr=out.stderr,
    )
