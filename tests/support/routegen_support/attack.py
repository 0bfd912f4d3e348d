"""A label-cardinality attack on auto names: wrk sending random requests (random depth and
segments, IDs, words, long tokens, percent-encoded hostile bytes, reserved characters, custom
and random methods) through a real Envoy with routegen's auto names and metrics on, several
workers, until `requests` responses are read. Then what must stay bounded is counted: the
distinct names in the access log, the routegen metric series (and their route labels), the
auto-names gauge; RSS is sampled throughout, and the VM must never have failed.

`run()` is shared by tests/reliability/test_attack.py (~50,000 requests) and tools/attack.py
(`make attack`, 1,000,000)."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import wrk
from .envoy import (WASM_FAILURE_STATS, EnvoyProcess, bootstrap as envoy_bootstrap, direct_route, http_listener,
                    virtual_host, wasm_filter)
from .harness import TRAP_MARKERS
from .memory import Sample, Sampler
from .ports import HOST

OVERFLOW = "[OVERFLOW]"
DEFAULT = "[DEFAULT]"
PREFIX = "wasmcustom.routegen_"

# Generated per request by wrk's LuaJIT; each thread seeds from SEED and its own number.
LUA = r"""
local SEED = %(seed)d
local HOST = "%(host)s"
local methods = {"GET", "GET", "GET", "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
                 "BREW", "PURGE", "MKCOL", "PROPFIND", "X-CUSTOM", "REPORT"}
-- Bytes that Envoy's HTTP/1 codec passes (raw NUL, '#' and non-UTF-8 bytes it refuses with a
-- 400 before any filter runs, so they are sent percent-encoded).
local hostile = {"%%FF%%FE", "%%00", "%%2F", "%%25", "%%C3%%A9", "%%E2%%80%%AE", "%%0D%%0A", ";a=b",
                 "@x", "!$'()*+,=", "~user", "..", ".", "%%2e%%2e", "a%%20b", "%%", "%%zz", ":8080"}
local letters = "abcdefghijklmnopqrstuvwxyz"
local hexdigits = "0123456789abcdef"
local headers = {["Host"] = HOST}
local counter = 0

local function pick(chars, n)
  local t = {}
  for i = 1, n do
    local k = math.random(1, #chars)
    t[i] = chars:sub(k, k)
  end
  return table.concat(t)
end

local function segment()
  local k = math.random(1, 12)
  if k <= 2 then return tostring(math.random(0, 999999999))
  elseif k == 3 then return pick(hexdigits, math.random(6, 40))
  elseif k <= 7 then return pick(letters, math.random(2, 12))
  elseif k == 8 then return hostile[math.random(#hostile)] .. pick(letters, math.random(0, 3))
  elseif k == 9 then return pick(letters .. "0123456789", math.random(65, 120))
  elseif k == 10 then
    return pick(hexdigits, 8) .. "-" .. pick(hexdigits, 4) .. "-4" .. pick(hexdigits, 3) .. "-a" ..
           pick(hexdigits, 3) .. "-" .. pick(hexdigits, 12)
  elseif k == 11 then return string.upper(pick(letters, 3)) .. math.random(0, 99)
  else return pick(letters, 3) .. "." .. pick(letters, math.random(1, 4))
  end
end

setup = function(thread)
  thread:set("thread_number", counter)
  counter = counter + 1
end

init = function(args)
  math.randomseed(SEED * 1000 + thread_number)
end

-- wrk checks the first request of each Lua state with its HTTP parser, which knows only the
-- standard methods: that one is a plain GET.
local sent = 0

request = function()
  sent = sent + 1
  if sent == 1 then return wrk.format("GET", "/", headers) end
  local depth = math.random(1, 12)
  local parts = {}
  for i = 1, depth do parts[i] = segment() end
  local method = methods[math.random(#methods)]
  if math.random(1, 20) == 1 then method = string.upper(pick(letters, math.random(3, 9))) end
  local path = "/" .. table.concat(parts, "/")
  if math.random(1, 10) == 1 then path = path .. "?q=" .. pick(letters, 5) end
  return wrk.format(method, path, headers)
end
"""


def write_script(path: Path | str, seed: int, host: str = "attack.local") -> None:
    Path(path).write_text(LUA % {"seed": seed, "host": host})


def plugin_config(max_names: int) -> dict:
    return {"default": DEFAULT, "auto": {"max_names": max_names, "overflow": OVERFLOW},
            "metrics": {"enabled": True, "status_label": "class"}}


def bootstrap(envoy: EnvoyProcess, wasm: str, config: dict, access_log: Path) -> dict:
    """One listener: routegen (FAIL_RELOAD, so a VM failure shows in the wasm.* counters),
    HTTP/1 custom methods allowed, a 200 direct response, and an access log of just the name."""
    logger = {"name": "envoy.access_loggers.file", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        "path": str(access_log),
        "log_format": {"text_format_source": {"inline_string": "%FILTER_STATE(wasm.istio_operationId:PLAIN)%\n"}}}}
    listener = http_listener(envoy.port, http_filters=[wasm_filter(wasm, config, failure_policy="FAIL_RELOAD")],
                             virtual_hosts=[virtual_host([direct_route()])], access_log=[logger],
                             http_protocol_options={"allow_custom_methods": True})
    return envoy_bootstrap(envoy.admin_port, [listener])


@dataclass
class Report:
    max_names: int
    workers: int
    requests: int = 0              # responses wrk read
    non2xx: int = 0
    socket_errors: int = 0
    seconds: float = 0.0
    logged: int = 0                # access-log lines
    names: Counter = field(default_factory=Counter)
    route_labels: set = field(default_factory=set)   # route= values of routegen_requests_total
    series: int = 0                # routegen metric series (names with their labels)
    auto_names_gauge: int = -1
    overflow_total: int = 0
    requests_total: int = 0        # sum of routegen_requests_total
    errors_total: int = 0
    wasm_failures: dict = field(default_factory=dict)
    log_failures: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    in_flight: int = 0             # answered but not read by wrk when a phase ended: at most this

    @property
    def bound(self) -> int:
        """Distinct names allowed: the cap, the overflow name, the default."""
        return self.max_names + 2

    def failures(self, min_requests: int) -> list[str]:
        out = []
        if self.requests < min_requests:
            out.append(f"only {self.requests:,} requests (wanted {min_requests:,})")
        if self.non2xx or self.socket_errors:
            out.append(f"{self.non2xx} non-2xx responses, {self.socket_errors} socket errors")
        if len(self.names) > self.bound:
            out.append(f"{len(self.names)} distinct names in the access log, over {self.bound}")
        if OVERFLOW not in self.names:
            out.append("the cap was never reached: no overflow name in the access log")
        if len(self.route_labels) > self.bound:
            out.append(f"{len(self.route_labels)} route labels in routegen_requests_total, over {self.bound}")
        if not 0 < self.auto_names_gauge <= self.max_names:
            out.append(f"routegen_auto_names = {self.auto_names_gauge} (cap {self.max_names})")
        if not self.requests <= self.logged <= self.requests + self.in_flight:
            out.append(f"{self.logged:,} access-log lines for {self.requests:,} requests (+ {self.in_flight} in flight)")
        if not self.requests <= self.requests_total <= self.requests + self.in_flight:
            out.append(f"routegen_requests_total sums to {self.requests_total:,}, not {self.requests:,}")
        if self.errors_total:
            out.append(f"routegen_errors_total = {self.errors_total}")
        if any(self.wasm_failures.values()) or self.log_failures:
            out.append(f"wasm VM failures: {self.wasm_failures} {self.log_failures[:5]}")
        return out

    def summary(self) -> str:
        start, end = self.samples[0], self.samples[-1]
        peak = max(self.samples, key=lambda s: s.rss_mb)
        return (f"{self.requests:,} requests in {self.seconds:.0f} s ({self.requests / max(self.seconds, 1e-9):,.0f}/s), "
                f"{self.workers} workers, max_names {self.max_names}: {self.non2xx} non-2xx, {self.socket_errors} socket errors; "
                f"{len(self.names)} distinct names in the access log (bound {self.bound}; "
                f"{self.names[OVERFLOW]:,} overflow, {self.names[DEFAULT]:,} default); "
                f"{len(self.route_labels)} route labels, {self.series} routegen series; "
                f"routegen_auto_names {self.auto_names_gauge}, overflow_total {self.overflow_total:,}; "
                f"requests_total {self.requests_total:,}, errors_total {self.errors_total}; "
                f"RSS start {start.rss_mb:.1f} / peak {peak.rss_mb:.1f} / end {end.rss_mb:.1f} MB; "
                f"wasm memory {end.wasm.resident_kb / 1024:.1f} MB resident in {end.wasm.vms} VMs")


def _count_stats(envoy: EnvoyProcess, report: Report) -> None:
    stats = envoy.stats("^wasmcustom\\.routegen_")
    report.series = len(stats)
    for name, value in stats.items():
        if name.startswith(PREFIX + "requests_total"):
            report.requests_total += value
            m = re.search(r";route=([^;]*)", name)
            report.route_labels.add(m.group(1) if m else "")
        elif name.startswith(PREFIX + "errors_total"):
            report.errors_total += value
        elif name == PREFIX + "auto_names":
            report.auto_names_gauge = value
        elif name == PREFIX + "auto_overflow_total":
            report.overflow_total = value


def run(envoy_bin: str, wasm: str, workdir: Path, *, requests: int, max_names: int = 500, workers: int = 2,
        seed: int = 14, connections: int = 16, threads: int = 2, phase_seconds: int = 5, max_seconds: float = 600,
        sample_interval: float = 1.0, progress=None) -> Report:
    """The attack: wrk phases of `phase_seconds` until `requests` responses (or `max_seconds`)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    script, access_log = workdir / "attack.lua", workdir / "names.log"
    write_script(script, seed)
    wasm = str(Path(wasm).resolve())
    config = plugin_config(max_names)
    envoy = EnvoyProcess(envoy_bin, workdir, lambda e: bootstrap(e, wasm, config, access_log), log_level="warning",
                         concurrency=workers, ready_timeout=30, file_flush_ms=1000)
    report = Report(max_names=max_names, workers=workers)
    envoy.start()
    try:
        started = time.monotonic()
        with Sampler(envoy.pid, sample_interval) as sampler:
            while report.requests < requests and time.monotonic() - started < max_seconds:
                out = wrk.run(f"http://{HOST}:{envoy.port}/", script, seconds=phase_seconds, connections=connections,
                              threads=threads)
                if out.requests is None:
                    raise RuntimeError(f"cannot read wrk's output:\n{out.stdout}\n{out.stderr}")
                report.requests += out.requests
                report.non2xx += out.non2xx
                report.socket_errors += out.socket_errors
                report.in_flight += connections
                if progress:
                    progress(f"{report.requests:,} requests, RSS {sampler.samples[-1].rss_mb:.1f} MB")
            report.seconds = time.monotonic() - started
            time.sleep(1.5)  # the access log's flush interval
        report.samples = list(sampler.samples)
        _count_stats(envoy, report)
        stats = envoy.stats("^wasm\\.")
        report.wasm_failures = {name: stats.get(name, 0) for name in WASM_FAILURE_STATS}
        report.log_failures = [line for line in envoy.log_text().splitlines() if any(m in line for m in TRAP_MARKERS)]
    finally:
        envoy.stop(timeout=15)
    with open(access_log, "rb") as f:
        for line in f:
            report.names[line.rstrip(b"\n").decode("utf-8", "replace")] += 1
            report.logged += 1
    return report


__all__ = ["run", "Report", "Sample", "write_script", "plugin_config", "bootstrap"]
