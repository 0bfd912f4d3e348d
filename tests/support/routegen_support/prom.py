"""Prometheus: the text exposition format (Envoy's /stats/prometheus), a Prometheus server on
loopback, and its HTTP query API."""

from __future__ import annotations

import json
import re
import shutil
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .http import fetch
from .ports import HOST, free_port
from .process import Process
from .waiting import wait_for

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"')
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict = field(hash=False)
    value: float

    def key(self) -> tuple[str, tuple]:
        """(name, sorted label pairs): a hashable series identity."""
        return self.name, tuple(sorted(self.labels.items()))


def _unescape(value: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse(text: str) -> Iterator[Sample]:
    """Every sample of a Prometheus text exposition (comments and blank lines skipped; label
    values unescaped; `+Inf`, `NaN` as floats)."""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = {k: _unescape(v) for k, v in _LABEL.findall(m.group(2) or "")}
        yield Sample(m.group(1), labels, float(m.group(3)))


def series(text: str, prefix: str = "") -> dict[tuple[str, tuple], float]:
    """{(name, sorted label pairs): value} for the samples whose name starts with `prefix`."""
    return {s.key(): s.value for s in parse(text) if s.name.startswith(prefix)}


# ---- a Prometheus server ----------------------------------------------------------------------


def start_prometheus(workdir: Path, targets: Iterable[tuple[str, str, str]], *, binary: str | None = None,
                     ready_timeout: float = 30.0) -> tuple[Process, int]:
    """Prometheus (the Debian package's binary) on a free loopback port, scraping every second
    each (job, metrics_path, host:port) of `targets`; returns (process, port) once /-/ready."""
    binary = binary or shutil.which("prometheus") or "prometheus"
    workdir = Path(workdir)
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": job, "metrics_path": path, "static_configs": [{"targets": [target]}]}
                           for job, path, target in targets],
    }, indent=1))
    prom = Process([binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                    f"--web.listen-address={HOST}:{port}"], workdir / "prometheus.log")
    try:
        wait_for(lambda: b"Ready" in fetch(f"http://{HOST}:{port}/-/ready"), ready_timeout, 0.2,
                 "Prometheus ready", ignore=(OSError,))
    except BaseException:
        prom.stop()
        raise
    return prom, port


def query(port: int, promql: str, host: str = HOST) -> list[dict]:
    """An instant query through the HTTP API: the result vector."""
    url = f"http://{host}:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    data = json.loads(fetch(url))
    assert data["status"] == "success", data
    return data["data"]["result"]


def value(port: int, promql: str) -> float:
    """The first element's value of an instant query, 0 when the result is empty."""
    result = query(port, promql)
    return float(result[0]["value"][1]) if result else 0.0


def by_label(result: Sequence[dict], label: str) -> dict[str, float]:
    """{the label's value: sample value} of an instant query's result."""
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}
