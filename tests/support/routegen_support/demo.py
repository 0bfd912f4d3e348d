"""`make demo`'s parts (tools/demo.py is its command line; tests/artifacts reuses them):
podinfo-like traffic (TRAFFIC), a stdlib stand-in for podinfo, examples/envoy/envoy.yaml in a
real Envoy rewritten for loopback (`Stack`), the filter's per-route metrics read back from
Envoy (`read_route_stats`) and the table comparing them with the traffic sent (`compare`).

Needs PyYAML (the project's .venv has it).
"""

from __future__ import annotations

import collections
import http.client
import http.server
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import prom
from .envoy import EnvoyProcess, version as envoy_version
from .paths import ROOT
from .ports import HOST

ENVOY_YAML = ROOT / "examples/envoy/envoy.yaml"
UNMATCHED = "[DEFAULT]"  # the `default` of examples/envoy/routegen.json


# ---- the traffic ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """`count` requests `method path`, which routegen must name `route` and the stand-in answers
    with `status`."""

    count: int
    method: str
    path: str
    route: str
    status: int
    body: bytes = b""


TRAFFIC: tuple[Kind, ...] = (
    Kind(40, "GET", "/", "GET /", 200),
    Kind(35, "GET", "/healthz", "GET /healthz", 200),
    Kind(5, "GET", "/healthz?probe=kubelet", "GET /healthz", 200),  # the query is not the path
    Kind(20, "GET", "/readyz", "GET /readyz", 200),
    Kind(20, "GET", "/version", "GET /version", 200),
    Kind(10, "GET", "/env", "GET /env", 200),
    Kind(20, "GET", "/api/info", "GET /api/info", 200),
    Kind(30, "POST", "/echo", "POST /echo", 202, b'{"hello": "routegen"}'),
    Kind(20, "GET", "/status/200", "GET /status/{code}", 200),
    Kind(10, "GET", "/status/404", "GET /status/{code}", 404),
    Kind(12, "GET", "/status/500", "GET /status/{code}", 500),
    Kind(8, "GET", "/status/503", "GET /status/{code}", 503),
    Kind(4, "GET", "/delay/1", "GET /delay/{seconds}", 200),
    Kind(4, "GET", "/delay/3", "GET /delay/{seconds}", 200),
    Kind(2, "GET", "/delay/5", "GET /delay/{seconds}", 200),
    Kind(10, "POST", "/store", "POST /store", 202, b"some data"),
    Kind(10, "GET", "/store/0ff1ce", "GET /store/{hash}", 200),
    # No route for these: they count under the configured default.
    Kind(10, "GET", "/nope", UNMATCHED, 404),
    Kind(6, "GET", "/favicon.ico", UNMATCHED, 404),
    Kind(4, "DELETE", "/healthz", UNMATCHED, 405),
    Kind(4, "GET", "/status/500/extra", UNMATCHED, 404),
)


def is_success(status: int) -> bool:
    """Linkerd's rule, and routegen's metrics' `classification`: only 5xx is a failure."""
    return not 500 <= status <= 599


@dataclass
class RouteStats:
    requests: int = 0
    successes: int = 0
    codes: collections.Counter = field(default_factory=collections.Counter)
    durations_ms: list = field(default_factory=list)
    # Cumulative latency histogram from routegen_request_duration_milliseconds_bucket: le -> count.
    buckets: dict = field(default_factory=dict)

    def quantile(self, q: float) -> float | None:
        """Like PromQL's histogram_quantile: linear interpolation inside the bucket."""
        if not self.buckets:
            return percentile(self.durations_ms, q)
        bounds = sorted(self.buckets)
        total = self.buckets[bounds[-1]]
        if total == 0:
            return None
        rank, lower, below = q * total, 0.0, 0
        for bound in bounds:
            count = self.buckets[bound]
            if count >= rank:
                if bound == float("inf"):
                    return lower
                return lower + (bound - lower) * (rank - below) / max(count - below, 1)
            lower, below = bound, count
        return lower

    def add(self, status: int, duration_ms: float | None = None) -> None:
        self.requests += 1
        self.successes += is_success(status)
        self.codes[status] += 1
        if duration_ms is not None:
            self.durations_ms.append(duration_ms)

    @property
    def success_pct(self) -> float:
        return 100.0 * self.successes / self.requests if self.requests else 0.0


def expected_stats(traffic=TRAFFIC) -> dict[str, RouteStats]:
    out: dict[str, RouteStats] = {}
    for kind in traffic:
        stats = out.setdefault(kind.route, RouteStats())
        for _ in range(kind.count):
            stats.add(kind.status)
    return out


# ---- the podinfo stand-in --------------------------------------------------------------------


class PodinfoHandler(http.server.BaseHTTPRequestHandler):
    """The podinfo routes the demo uses, answering as podinfo does (but /delay/{n} waits n×10 ms,
    not n seconds)."""

    protocol_version = "HTTP/1.1"
    server_version = "podinfo-standin/6.7.1"

    def setup(self) -> None:
        super().setup()
        # No Nagle: headers and body go out in two writes, and delayed ACKs would add ~40 ms to each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args) -> None:  # quiet
        pass

    def _reply(self, status: int, payload) -> None:
        body = (json.dumps(payload) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        info = {"hostname": "podinfo-standin", "version": "6.7.1", "message": "greetings from podinfo"}
        if path in ("/", "/api/info"):
            return self._reply(200, info)
        if path in ("/healthz", "/readyz"):
            return self._reply(200, {"status": "OK"})
        if path == "/version":
            return self._reply(200, {"version": "6.7.1", "commit": "standin"})
        if path == "/env":
            return self._reply(200, ["PODINFO_DEMO=1"])
        m = re.fullmatch(r"/status/(\d{3})", path)
        if m:
            return self._reply(int(m.group(1)), {"status": int(m.group(1))})
        m = re.fullmatch(r"/delay/(\d+)", path)
        if m:
            time.sleep(min(int(m.group(1)), 50) * 0.01)
            return self._reply(200, {"delay": int(m.group(1))})
        if re.fullmatch(r"/store/[0-9a-f]+", path):
            return self._reply(200, {"data": "some data"})
        return self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        path, body = self.path.split("?", 1)[0], self._body()
        if path == "/echo":
            return self._reply(202, {"echo": body.decode(errors="replace")})
        if path == "/store":
            return self._reply(202, {"hash": "0ff1ce"})
        return self._reply(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        self._body()
        return self._reply(405, {"error": "method not allowed"})


class Upstream:
    """The stand-in on 127.0.0.1:<free port>, served from a thread of this process."""

    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer((HOST, 0), PodinfoHandler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(timeout=5)
        self.server.server_close()


# ---- Envoy -------------------------------------------------------------------------------------


def _only(items: list, what: str):
    if len(items) != 1:
        raise SystemExit(f"{ENVOY_YAML}: expected exactly one {what}, found {len(items)}")
    return items[0]


def local_config(
    config: dict, *, wasm: str, listener_port: int, admin_port: int, upstream_port: int, access_log: str
) -> dict:
    """examples/envoy/envoy.yaml, rewritten for loopback. Everything not named here (the filter's
    configuration, stats settings, the access-log format, ...) is left exactly as it is."""
    config["admin"]["address"]["socket_address"].update(address=HOST, port_value=admin_port)
    listener = _only(config["static_resources"]["listeners"], "listener")
    listener["address"]["socket_address"].update(address=HOST, port_value=listener_port)
    filters = [f for chain in listener["filter_chains"] for f in chain["filters"]]
    hcm = _only([f for f in filters if f["name"] == "envoy.filters.network.http_connection_manager"], "HTTP connection manager")
    loggers = hcm["typed_config"].get("access_log", [])
    _only(loggers, "access log")["typed_config"]["path"] = access_log
    wasm_filters = [f for f in hcm["typed_config"]["http_filters"] if f["name"] == "envoy.filters.http.wasm"]
    _only(wasm_filters, "wasm filter")["typed_config"]["config"]["vm_config"]["code"]["local"]["filename"] = os.path.abspath(wasm)
    cluster = _only([c for c in config["static_resources"]["clusters"] if c["name"] == "podinfo"], "podinfo cluster")
    cluster["type"] = "STATIC"
    endpoint = _only(
        [e for group in cluster["load_assignment"]["endpoints"] for e in group["lb_endpoints"]], "podinfo endpoint"
    )
    endpoint["endpoint"]["address"]["socket_address"].update(address=HOST, port_value=upstream_port)
    return config


class Envoy(EnvoyProcess):
    """examples/envoy/envoy.yaml in Envoy, rewritten by `local_config` for `upstream_port`."""

    def __init__(self, envoy_bin: str, wasm: str, upstream_port: int, workdir: Path, envoy_yaml: Path = ENVOY_YAML) -> None:
        super().__init__(envoy_bin, workdir, log_level="warning", ready_timeout=30.0)
        self.wasm = str(Path(wasm).resolve())
        self.upstream_port = upstream_port
        self.envoy_yaml = Path(envoy_yaml)
        self.access_log = self.workdir / "access.log"

    def render(self) -> dict:
        return local_config(
            yaml.safe_load(self.envoy_yaml.read_text()),
            wasm=self.wasm,
            listener_port=self.port,
            admin_port=self.admin_port,
            upstream_port=self.upstream_port,
            access_log=str(self.access_log),
        )

    def version(self) -> str:
        return envoy_version(self.envoy_bin)


class Stack:
    """The upstream stand-in and Envoy; `with Stack(...) as stack:` stops both on the way out."""

    def __init__(self, envoy_bin: str, wasm: str, workdir: Path | None = None) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="routegen-demo-"))
        self.upstream = Upstream()
        self.envoy = Envoy(envoy_bin, wasm, self.upstream.port, self.workdir)

    def __enter__(self) -> "Stack":
        try:
            self.envoy.start()  # before the upstream thread: no fork while threads run
            self.upstream.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.envoy.stop()
        self.upstream.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def send_traffic(port: int, traffic=TRAFFIC) -> list[tuple[Kind, int]]:
    """Sends every request of `traffic` (interleaved, in a fixed order) over one keep-alive
    connection; returns the status each got."""
    # A fixed interleaving, so routes are not sent in blocks: round-robin over the kinds.
    remaining = {kind: kind.count for kind in traffic}
    queue = []
    while any(remaining.values()):
        for kind in traffic:
            if remaining[kind]:
                queue.append(kind)
                remaining[kind] -= 1
    results = []
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        for kind in queue:
            headers = {"Host": "podinfo:9898", "User-Agent": "routegen-demo"}
            # No retries: a retried request could be counted twice, and the counts are the point.
            try:
                conn.request(kind.method, kind.path, body=kind.body or None, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (http.client.HTTPException, OSError) as e:
                raise SystemExit(f"demo: {kind.method} {kind.path} through Envoy failed: {e!r}") from e
            results.append((kind, resp.status))
    finally:
        conn.close()
    return results


# ---- what Envoy says ---------------------------------------------------------------------------


def read_route_stats(envoy: Envoy, expected_total: int, timeout: float = 15.0) -> dict[str, RouteStats]:
    """THE data source of the table: the filter's own per-route metrics, as Envoy exposes them at
    /stats/prometheus (examples/envoy/routegen.json turns them on; envoy.yaml's stats_config turns
    `;route=...` into labels): `routegen_requests_total{route, classification, status_code}` and
    `routegen_request_duration_milliseconds_bucket{route, le}`. Waits until every request is
    counted and the histograms flushed (the filter flushes counters every second, latency every 5 s)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = envoy.admin("/stats/prometheus")
        if status != 200:
            raise SystemExit(f"Envoy admin /stats/prometheus answered {status}")
        stats = parse_route_metrics(body.decode(errors="replace"))
        counted = sum(s.requests for s in stats.values())
        flushed = sum(max(s.buckets.values(), default=0) for s in stats.values())
        if (counted >= expected_total and flushed >= expected_total) or time.monotonic() > deadline:
            return stats
        time.sleep(0.1)


def parse_route_metrics(text: str) -> dict[str, RouteStats]:
    stats: dict[str, RouteStats] = {}
    for sample in prom.parse(text):
        if sample.name not in ("routegen_requests_total", "routegen_request_duration_milliseconds_bucket"):
            continue
        labels = sample.labels
        route = stats.setdefault(labels.get("route", "(unset)"), RouteStats())
        if sample.name == "routegen_requests_total":
            count = int(sample.value)
            route.requests += count
            route.successes += count if labels.get("classification") == "success" else 0
            route.codes[int(labels.get("status_code") or 0)] += count
        else:
            route.buckets[float(labels["le"])] = int(sample.value)
    return stats


# ---- the table ---------------------------------------------------------------------------------


def percentile(values: list, q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def compare(expected: dict[str, RouteStats], actual: dict[str, RouteStats]) -> tuple[list[str], bool]:
    """The table (lines) and whether every route's requests and successes are as sent."""
    order = [route for route in expected] + sorted(set(actual) - set(expected))
    header = ("ROUTE", "REQUESTS", "SUCCESS", "P50_MS", "P99_MS", "EXPECTED", "EXP_SUCCESS", "")
    rows, ok = [], True
    for route in order:
        exp, act = expected.get(route, RouteStats()), actual.get(route, RouteStats())
        good = exp.requests == act.requests and exp.successes == act.successes
        ok &= good
        p50, p99 = act.quantile(0.50), act.quantile(0.99)
        rows.append((
            route,
            str(act.requests),
            f"{act.success_pct:.1f}%" if act.requests else "-",
            "-" if p50 is None else f"{p50:.0f}",
            "-" if p99 is None else f"{p99:.0f}",
            str(exp.requests),
            f"{exp.success_pct:.1f}%" if exp.requests else "-",
            "ok" if good else "MISMATCH",
        ))
    total_act = sum(s.requests for s in actual.values())
    total_exp = sum(s.requests for s in expected.values())
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5, 6}

    def fmt(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    lines = [fmt(header)] + [fmt(r) for r in rows]
    lines.append(fmt(("TOTAL", str(total_act), "", "", "", str(total_exp), "", "ok" if total_act == total_exp else "MISMATCH")))
    return lines, ok and total_act == total_exp
