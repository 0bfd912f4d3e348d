#!/usr/bin/env python3
"""Soak test (issue 7, part 5; issue 14, part 4): at least --requests requests (or, with
--minutes, that long) through a real Envoy running routegen twice on every request: the native
format with configured routes, auto names and its own metrics on, then the attributegen format
(a second filter writing `wasm.soak_ag`). wrk on 127.0.0.1 cycles a Lua list of requests
(templates, prefixes, a regex, host-scoped routes, the default, non-ASCII and traversal paths,
and ID- and word-shaped paths no route covers, for auto names). Envoy's RSS and the wasm VMs'
linear memory are sampled after every phase (--phase-seconds, 30 with --minutes) and plotted
as an SVG (--out); the access log must hold one line per request with both names set.

Reports Envoy's RSS (/proc), Envoy's heap (admin /memory) and the wasm stats before, in the
middle and after; fails (exit 1) on any non-2xx response, socket error, wasm VM failure,
routegen_errors_total > 0, a routegen_requests_total sum that does not account for every
request sent (wrk's count, plus at most one in flight per connection at each phase end), or memory growth beyond --max-growth-mb between the middle and the end (the first half
warms caches, so "flat" is judged on the second half).

    make soak                            # 1,000,000 requests (SOAK_REQUESTS), ~1-3 minutes
    make soak SOAK_MINUTES=10            # ten minutes, memory sampled every 30 s
    .venv/bin/python tools/soak.py --envoy .cache/envoy-1.40.0/bin/envoy --wasm target/routegen.wasm

Standard library and routegen_support (tests/support, in the project's .venv: run it with the
venv's python); every loop bounded (phases, wall-clock cap).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from routegen_support import prom, wrk
from routegen_support.memory import Sample, rss_kb, svg_plot, wasm_memory
from routegen_support.envoy import (EnvoyError, EnvoyProcess, bootstrap as envoy_bootstrap, direct_route,
                                    http_listener, virtual_host, wasm_filter)
from routegen_support.ports import HOST
from routegen_support.waiting import wait_for

CONFIG = {
    "default": "[DEFAULT]",
    "metrics": {"enabled": True, "status_label": "code"},
    "routes": [
        "GET /books/new",
        "GET /books/{id}",
        "GET|HEAD /books",
        "DELETE /books/{id}/reviews/{review}",
        "GET /files/{path=**}",
        {"name": "static", "path_prefix": "/static/"},
        {"name": "legacy", "path_regex": "/api/v[0-9]+/legacy/.*"},
        {"name": "v2 search", "path": "/search", "headers": {"x-api-version": "2"}},
    ],
    "services": [{"hosts": ["authors", "authors:8080"], "routes": ["GET /authors/{id}"]}],
    "auto": {"max_names": 500},
}

# The second filter: attributegen's format (conditions in routegen's CEL subset).
ATTRIBUTEGEN = {"attributes": [{"output_attribute": "soak_ag", "match": [
    {"value": "GetBook", "condition": "request.method == 'GET' && request.url_path.matches('^/books/[^/]+$')"},
    {"value": "Static", "condition": "request.url_path.startsWith('/static/')"},
    {"value": "Other", "condition": ""},
]}]}

# (method, path, host) cycled by wrk; every one answered 200 by a direct response.
REQUESTS = [
    ("GET", "/books/1", "books"),
    ("GET", "/books/new", "books"),
    ("GET", "/books?limit=10", "books"),
    ("DELETE", "/books/7/reviews/9", "books"),
    ("GET", "/files/a/b/c.txt", "books"),
    ("GET", "/static/app.js", "books"),
    ("GET", "/api/v2/legacy/thing", "books"),
    ("GET", "/search", "books"),
    ("GET", "/authors/42", "authors:8080"),
    ("GET", "/unknown/path", "books"),
    ("GET", "/books/%2e%2e/admin", "books"),
    ("GET", "//books//2/", "books"),
    ("GET", "/books/caf%C3%A9", "books"),
    ("GET", "/" + "x/" * 200, "books"),
]


def auto_requests(n: int = 60) -> list[tuple[str, str, str]]:
    """Paths no route covers, for auto names: IDs, UUIDs and words under a few resources."""
    rng = random.Random(14)
    words = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    shapes = [
        lambda: ("GET", f"/orders/{rng.randrange(10 ** 6)}/items"),
        lambda: ("POST", f"/carts/{uuid.UUID(int=rng.getrandbits(128), version=4)}/checkout"),
        lambda: ("GET", f"/users/{rng.choice(words)}/repos"),
        lambda: ("DELETE", f"/api/v1/sessions/{rng.getrandbits(64):016x}"),
        lambda: ("GET", f"/reports/20{rng.randrange(10, 30)}-0{rng.randrange(1, 10)}-1{rng.randrange(0, 9)}"),
    ]
    return [(*rng.choice(shapes)(), "shop") for _ in range(n)]

# The shipped tag extractors (service, route, le, ...): the soak's config has services.
STATS_CONFIG = Path(__file__).resolve().parent.parent / "examples/envoy/stats-config.yaml"


def bootstrap(envoy: EnvoyProcess, wasm: str, access_log: Path) -> dict:
    logger = {"name": "envoy.access_loggers.file", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", "path": str(access_log),
        "log_format": {"text_format_source": {"inline_string":
                                              "%FILTER_STATE(wasm.istio_operationId:PLAIN)%\t%FILTER_STATE(wasm.soak_ag:PLAIN)%\n"}}}}
    filters = [wasm_filter(wasm, CONFIG, failure_policy="FAIL_RELOAD"),
               wasm_filter(wasm, ATTRIBUTEGEN, name="routegen_ag", failure_policy="FAIL_RELOAD")]
    listener = http_listener(envoy.port, http_filters=filters, virtual_hosts=[virtual_host([direct_route()])],
                             access_log=[logger])
    return envoy_bootstrap(envoy.admin_port, [listener], **yaml.safe_load(STATS_CONFIG.read_text()))


def sample(envoy: EnvoyProcess) -> dict:
    status, body = envoy.admin("/memory", timeout=10)
    memory = json.loads(body)
    stats = {k: v for k, v in envoy.stats().items() if k.startswith("wasm.") and v >= 0}
    return {
        "rss_mb": rss_kb(envoy.pid) / 1024,
        "vm": wasm_memory(envoy.pid),
        "heap_allocated_mb": int(memory.get("allocated", 0)) / 2**20,
        "heap_size_mb": int(memory.get("heap_size", 0)) / 2**20,
        "wasm": stats,
    }


def prometheus_sums(envoy: EnvoyProcess) -> tuple[int, int, dict[str, int]]:
    """(sum of routegen_requests_total, sum of routegen_errors_total, requests per route)."""
    status, body = envoy.admin("/stats/prometheus", timeout=10)
    total, errors, per_route = 0, 0, {}
    for s in prom.parse(body.decode(errors="replace")):
        if s.name == "routegen_requests_total":
            value = int(s.value)
            total += value
            key = s.labels.get("route", "?")
            per_route[key] = per_route.get(key, 0) + value
        elif s.name == "routegen_errors_total":
            errors += int(s.value)
    return total, errors, per_route


def run_wrk(port: int, script: Path, seconds: int, threads: int, connections: int) -> dict:
    out = wrk.run(f"http://{HOST}:{port}/", script, seconds=seconds, threads=threads, connections=connections,
                  extra_args=["--latency"])
    if out.requests is None or out.rps is None:
        raise SystemExit(f"cannot read wrk's output:\n{out.stdout}")
    return {"requests": out.requests, "non2xx": out.non2xx, "socket_errors": out.socket_errors, "rps": out.rps, "p99": out.p99}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envoy", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--phase-seconds", type=int, default=12, help="wrk run length between memory samples")
    ap.add_argument("--max-seconds", type=int, default=240, help="wall-clock cap for the load")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--max-growth-mb", type=float, default=16.0, help="allowed RSS growth, middle to end")
    ap.add_argument("--minutes", type=float, default=0, help="run this long instead of --requests (phases of 30 s)")
    ap.add_argument("--out", default="target/soak", help="directory for the memory plot")
    args = ap.parse_args()
    if args.minutes:
        args.phase_seconds = 30
        args.max_seconds = int(args.minutes * 60) + args.phase_seconds

    work = Path(tempfile.mkdtemp(prefix="routegen-soak-"))
    script = work / "cycle.lua"
    wrk.write_script(script, [(m, p, {"Host": h}) for m, p, h in REQUESTS + auto_requests()], "generated by tools/soak.py")
    wasm = str(Path(args.wasm).resolve())
    access_log = work / "names.log"
    envoy = EnvoyProcess(args.envoy, work, lambda e: bootstrap(e, wasm, access_log), log_level="warning",
                         ready_timeout=30, file_flush_ms=1000)
    failures: list[str] = []
    try:
        try:
            envoy.start()
        except EnvoyError as e:
            raise SystemExit(f"Envoy did not start:\n{e}")
        port = envoy.port

        t0 = time.monotonic()
        samples = [("start", 0, sample(envoy), 0.0)]
        warm = run_wrk(port, script, 2, args.threads, args.connections)
        samples.append(("after warm-up", warm["requests"], sample(envoy), time.monotonic() - t0))
        sent, phases, started = warm["requests"], [warm], time.monotonic()

        def more() -> bool:
            if time.monotonic() - started >= args.max_seconds:
                return False
            if args.minutes:
                return time.monotonic() - started < args.minutes * 60
            return sent < args.requests + warm["requests"]

        while more():
            phase = run_wrk(port, script, args.phase_seconds, args.threads, args.connections)
            phases.append(phase)
            sent += phase["requests"]
            samples.append((f"after {sent:,}", sent, sample(envoy), time.monotonic() - t0))
            print(f"  phase {len(phases) - 1}: {phase['requests']:,} requests, {phase['rps']:,.0f}/s, p99 {phase['p99']}, "
                  f"non-2xx {phase['non2xx']}, socket errors {phase['socket_errors']}, RSS {samples[-1][2]['rss_mb']:.1f} MB",
                  flush=True)
        elapsed = time.monotonic() - started
        # The worker flushes its counts every second: wait (bounded) until they account for
        # every response wrk read.
        try:
            wait_for(lambda: prometheus_sums(envoy)[0] >= sent, 10, 0.2, "the last counts flushed")
        except AssertionError:
            pass  # the exact check below reports the shortfall
        time.sleep(1.5)  # the access log's flush interval
        total, errors, per_route = prometheus_sums(envoy)
        log_text = envoy.log_text()
    finally:
        envoy.stop(timeout=15)

    measured = sent - warm["requests"]
    non2xx = sum(p["non2xx"] for p in phases)
    socket_errors = sum(p["socket_errors"] for p in phases)
    middle = samples[len(samples) // 2][2]
    before, after = samples[1][2], samples[-1][2]
    logged = both = 0
    with open(access_log, "rb") as f:
        for line in f:
            logged += 1
            native, _, ag = line.rstrip(b"\n").partition(b"\t")
            both += native not in (b"", b"-") and ag not in (b"", b"-")
    print(f"\nsoak: {measured:,} requests in {elapsed:.0f} s ({measured / elapsed:,.0f}/s) after a {warm['requests']:,}-request warm-up;"
          f" Envoy {args.envoy}, one worker, routegen (routes, auto names, metrics) + routegen (attributegen format)")
    print(f"{'sample':<22}{'s':>6}{'RSS MB':>9}{'heap alloc MB':>15}{'heap size MB':>14}{'wasm res/committed MB':>23}  VMs (active/created)")
    for label, _, s, t in samples:
        w, vm = s["wasm"], s["vm"]
        print(f"{label:<22}{t:>6.0f}{s['rss_mb']:>9.1f}{s['heap_allocated_mb']:>15.1f}{s['heap_size_mb']:>14.1f}"
              f"{vm.resident_kb / 1024:>12.1f} / {vm.committed_kb / 1024:<8.1f}  "
              f"{w.get('wasm.envoy.wasm.runtime.v8.active', '?')}/{w.get('wasm.envoy.wasm.runtime.v8.created', '?')}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot = out / "soak-memory.svg"
    svg_plot([Sample(t, s["rss_mb"], s["vm"], label) for label, _, s, t in samples], plot,
             f"soak: {measured:,} requests in {elapsed / 60:.1f} min, one worker, two routegen filters")
    print(f"plot: {plot}")
    print(f"access log: {logged:,} lines, {both:,} with both names set")
    print(f"routegen_requests_total (sum) = {total:,} (wrk read {sent:,} responses, + requests in flight at phase ends); "
          f"routegen_errors_total = {errors}")
    print("per route: " + ", ".join(f"{k}={v:,}" for k, v in sorted(per_route.items())))
    print(f"non-2xx = {non2xx}, socket errors = {socket_errors}")

    if not args.minutes and measured < args.requests:
        failures.append(f"only {measured:,} requests within {args.max_seconds} s")
    if args.minutes and elapsed < args.minutes * 60:
        failures.append(f"ran {elapsed:.0f} s, not {args.minutes} min")
    if not sent <= logged <= sent + args.connections * len(phases) or both != logged:
        failures.append(f"{logged:,} access-log lines ({both:,} with both names) for {sent:,} requests")
    if non2xx or socket_errors:
        failures.append(f"{non2xx} non-2xx responses, {socket_errors} socket errors")
    if errors:
        failures.append(f"routegen_errors_total = {errors}")
    # wrk counts the responses it read; requests still in flight when a phase ends (at most one
    # per connection) are answered, and counted by routegen, but not by wrk.
    in_flight = args.connections * len(phases)
    if not sent <= total <= sent + in_flight:
        failures.append(f"routegen_requests_total sums to {total:,}, not the {sent:,} requests sent (+ at most {in_flight} in flight)")
    for plugin in ("routegen", "routegen_ag"):
        for name in ("vm_reload", "vm_reload_backoff", "vm_reload_failure"):
            if after["wasm"].get(f"wasm.{plugin}.{name}", 0):
                failures.append(f"wasm.{plugin}.{name} = {after['wasm'][f'wasm.{plugin}.{name}']}: the VM failed")
    if any(m in log_text for m in ("panicked", "wasm trap", "Function: proxy_on_")):
        failures.append("wasm VM failure in Envoy's log")
    growth = after["rss_mb"] - middle["rss_mb"]
    if growth > args.max_growth_mb:
        failures.append(f"RSS grew {growth:.1f} MB from the middle to the end (limit {args.max_growth_mb} MB)")
    print(f"RSS growth: before→after {after['rss_mb'] - before['rss_mb']:+.1f} MB, middle→after {growth:+.1f} MB")
    if failures:
        print("SOAK FAILED: " + "; ".join(failures))
        return 1
    print("soak OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
