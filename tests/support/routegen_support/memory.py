"""Memory of a running Envoy, sampled from /proc: its RSS, and the wasm VMs' linear memories
(V8 reserves an 8 GiB region per Wasm memory and commits the memory's pages at its start, so
each linear memory is the read-write mapping that ends where such a reservation begins).
`Sampler` records both every `interval` seconds in a thread; `svg_plot` draws the samples."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

_MAPPING = re.compile(r"([0-9a-f]+)-([0-9a-f]+) (\S+)")
RESERVATION = 1 << 30  # a PROT_NONE mapping this large follows each V8 wasm memory


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class WasmMemory:
    vms: int            # linear memories found
    committed_kb: int   # their sizes (memory.grow pages)
    resident_kb: int    # how much of them is in RAM


def wasm_memory(pid: int) -> WasmMemory:
    maps: list[list] = []  # [start, end, perms, rss_kb]
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        m = _MAPPING.match(line)
        if m:
            maps.append([int(m.group(1), 16), int(m.group(2), 16), m.group(3), 0])
        elif line.startswith("Rss:") and maps:
            maps[-1][3] = int(line.split()[1])
    found = [prev for prev, cur in zip(maps, maps[1:])
             if cur[2] == "---p" and cur[1] - cur[0] >= RESERVATION and prev[1] == cur[0] and prev[2].startswith("rw")]
    return WasmMemory(len(found), sum((m[1] - m[0]) >> 10 for m in found), sum(m[3] for m in found))


@dataclass
class Sample:
    t: float            # seconds since the sampler started
    rss_mb: float
    wasm: WasmMemory
    note: str = ""


class Sampler:
    """Samples `pid` now, then every `interval` seconds until stopped (and once more then).
    Bounded: at most `max_samples`."""

    def __init__(self, pid: int, interval: float, max_samples: int = 10_000):
        self.pid, self.interval, self.max_samples = pid, interval, max_samples
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def sample(self, note: str = "") -> Sample | None:
        try:
            s = Sample(time.monotonic() - self._t0, rss_kb(self.pid) / 1024, wasm_memory(self.pid), note)
        except OSError:  # the process is gone
            return None
        self.samples.append(s)
        return s

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and len(self.samples) < self.max_samples:
            self.sample()

    def __enter__(self) -> "Sampler":
        self.sample("start")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.sample("end")

    def peak(self) -> Sample:
        return max(self.samples, key=lambda s: s.rss_mb)


def svg_plot(samples: Sequence[Sample], path: Path | str, title: str) -> None:
    """A line chart (no plotting library): Envoy RSS and wasm resident memory in MB over time."""
    width, height, left, right, top, bottom = 760, 360, 60, 20, 40, 40
    t_max = max((s.t for s in samples), default=1) or 1
    series = [("Envoy RSS", "#1f77b4", [s.rss_mb for s in samples]),
              ("wasm VMs resident", "#d62728", [s.wasm.resident_kb / 1024 for s in samples]),
              ("wasm VMs committed", "#ff7f0e", [s.wasm.committed_kb / 1024 for s in samples])]
    y_max = max((max(v, default=0) for _, _, v in series), default=1) * 1.1 or 1
    x = lambda t: left + (width - left - right) * t / t_max  # noqa: E731
    y = lambda v: height - bottom - (height - top - bottom) * v / y_max  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14">{title}</text>',
           f'<line x1="{left}" y1="{y(0)}" x2="{width - right}" y2="{y(0)}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{y(0)}" stroke="black"/>']
    for i in range(6):
        v, t = y_max * i / 5, t_max * i / 5
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
        out.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="middle">{t:.0f}</text>')
    out.append(f'<text x="{(width + left) / 2}" y="{height - 6}" text-anchor="middle">seconds</text>')
    out.append(f'<text x="14" y="{(height + top) / 2}" transform="rotate(-90 14 {(height + top) / 2})" text-anchor="middle">MB</text>')
    for i, (label, colour, values) in enumerate(series):
        points = " ".join(f"{x(s.t):.1f},{y(v):.1f}" for s, v in zip(samples, values))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        out.append(f'<text x="{width - right - 150}" y="{top + 16 * i}" fill="{colour}">{label}</text>')
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")
