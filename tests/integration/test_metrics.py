"""routegen's own per-route metrics in a real Envoy, then scraped by a real Prometheus.

Envoy proxies to a loopback upstream that answers with 2xx, 4xx, 5xx, gRPC trailers-only
responses, gRPC responses with real trailers and slow responses; the bootstrap carries the
`stats_config` shipped in examples/envoy/stats-config.yaml. The test asserts exact counts and
labels from /stats/prometheus, then starts Prometheus on loopback and checks per-route rate,
success ratio and latency quantiles through its HTTP API.
"""

from __future__ import annotations

import http.server
import threading
import time

import pytest
import yaml

from routegen_support import prom
from routegen_support.envoy import (EnvoyProcess, bootstrap as envoy_bootstrap, cluster_route, http_listener,
                                    static_cluster, virtual_host, wasm_filter)
from routegen_support.harness import LdsEnvoy
from routegen_support.http import http_exchange
from routegen_support.paths import ROOT
from routegen_support.ports import HOST
from routegen_support.waiting import wait_for

STATS_CONFIG = ROOT / "examples/envoy/stats-config.yaml"

PLUGIN_CONFIG = {
    "default": "[DEFAULT]",
    "metrics": {"enabled": True},
    "routes": [
        "GET /ok",
        "GET /fail",
        "GET /books/{id}.json",
        {"name": "grpc v1.Books/Get", "method": "POST", "path_prefix": "/grpc/"},
        {"name": "slow", "path_exact": "/slow"},
        {"name": "limited", "path_prefix": "/limited", "failure_classes": ["429"]},
    ],
}

# (method, path, repetitions): every response is decided by the upstream below.
TRAFFIC = [
    ("GET", "/ok", 20),
    ("GET", "/fail", 5),
    ("GET", "/books/7.json", 4),
    ("GET", "/books/missing.json", 3),  # upstream 404: a success (not 5xx)
    ("POST", "/grpc/ok", 6),  # grpc-status 0 in trailers
    ("POST", "/grpc/unavailable", 3),  # trailers-only grpc-status 14: failure
    ("POST", "/grpc/internal-trailer", 2),  # grpc-status 13 in real trailers: failure
    ("POST", "/grpc/notfound", 2),  # grpc-status 5: success, like Linkerd
    ("GET", "/slow", 4),
    ("GET", "/limited/a", 3),  # 429: failure by the route's failure_classes
    ("GET", "/limited/b", 2),  # 503: success, the declared classes replace the 5xx rule
    ("GET", "/nowhere", 5),  # default route, 200
]

EXPECTED = {  # (route, classification, status_code) -> count
    ("GET /ok", "success", "200"): 20,
    ("GET /fail", "failure", "500"): 5,
    ("GET /books/{id}.json", "success", "200"): 4,
    ("GET /books/{id}.json", "success", "404"): 3,
    ("grpc v1.Books/Get", "success", "200"): 8,
    ("grpc v1.Books/Get", "failure", "200"): 5,
    ("slow", "success", "200"): 4,
    ("limited", "failure", "429"): 3,
    ("limited", "success", "503"): 2,
    ("[DEFAULT]", "success", "200"): 5,
}
SLOW_MS = 40


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per response, no Nagle: otherwise delayed ACKs add ~40 ms to every reply.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _reply(self, status, headers=(), body=b"ok", trailers=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if trailers is None:
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.send_header("trailer", ", ".join(k for k, _ in trailers))
        self.end_headers()
        self.wfile.write(b"%x\r\n%s\r\n0\r\n" % (len(body), body))
        for k, v in trailers:
            self.wfile.write(f"{k}: {v}\r\n".encode())
        self.wfile.write(b"\r\n")

    def do_GET(self):
        path = self.path
        if path == "/fail":
            return self._reply(500)
        if path == "/books/missing.json":
            return self._reply(404)
        if path == "/slow":
            time.sleep(SLOW_MS / 1000)
            return self._reply(200)
        if path == "/limited/a":
            return self._reply(429)
        if path == "/limited/b":
            return self._reply(503)
        return self._reply(200)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        grpc = [("content-type", "application/grpc")]
        if self.path == "/grpc/ok":
            return self._reply(200, grpc, trailers=[("grpc-status", "0")])
        if self.path == "/grpc/unavailable":
            return self._reply(200, grpc + [("grpc-status", "14")], body=b"")
        if self.path == "/grpc/internal-trailer":
            return self._reply(200, grpc, trailers=[("grpc-status", "13"), ("grpc-message", "boom")])
        if self.path == "/grpc/notfound":
            return self._reply(200, grpc, trailers=[("grpc-status", "5")])
        return self._reply(404)


def bootstrap(wasm: str, port: int, admin: int, upstream: int) -> dict:
    stats = yaml.safe_load(STATS_CONFIG.read_text())
    listener = http_listener(port, http_filters=[wasm_filter(wasm, PLUGIN_CONFIG)],
                             virtual_hosts=[virtual_host([cluster_route("app")])])
    app = static_cluster("app", upstream, typed_extension_protocol_options={
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http_protocol_options": {"enable_trailers": True}}}})
    return envoy_bootstrap(admin, [listener], [app], **stats)


def wait_until(check, timeout, what):
    return wait_for(check, timeout, 0.1, what, ignore=(OSError,))


@pytest.fixture(scope="module")
def stack(envoy_bin, wasm_path, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("metrics")
    server = http.server.ThreadingHTTPServer((HOST, 0), Upstream)
    envoy = EnvoyProcess(envoy_bin, workdir, lambda e: bootstrap(wasm_path, e.port, e.admin_port, server.server_address[1]))
    try:
        envoy.start()  # before the upstream thread: no fork while threads run
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield {"port": envoy.port, "admin": envoy.admin_port, "workdir": workdir, "envoy": envoy,
               "upstream": server.server_address[1]}
    finally:
        envoy.stop()
        server.shutdown()
        server.server_close()


def admin_get(envoy: EnvoyProcess, path: str) -> bytes:
    status, body = envoy.admin(path)
    assert status == 200, f"admin {path}: {status}"
    return body


def send_traffic(port: int) -> None:
    for method, path, times in TRAFFIC:
        for _ in range(times):
            body = b"\x00\x00\x00\x00\x00" if method == "POST" else b""
            raw = (f"{method} {path} HTTP/1.1\r\nHost: app\r\nContent-Length: {len(body)}\r\n"
                   f"Content-Type: application/grpc\r\nConnection: close\r\n\r\n").encode() + body
            status, _, _ = http_exchange(port, raw)
            assert status != 0, f"{method} {path}: no response"


def parse_prometheus(text: str) -> dict[tuple[str, tuple], float]:
    return prom.series(text, "routegen_")


def requests_by_labels(samples) -> dict[tuple[str, str, str], int]:
    out = {}
    for (name, labels), value in samples.items():
        if name == "routegen_requests_total":
            d = dict(labels)
            out[(d["route"], d["classification"], d["status_code"])] = int(value)
    return out


def test_exact_counts_and_labels_in_stats_prometheus(stack):
    send_traffic(stack["port"])
    total = sum(EXPECTED.values())

    def counted(samples):
        histogram = sum(v for (n, _), v in samples.items() if n == "routegen_request_duration_milliseconds_count")
        return samples if sum(requests_by_labels(samples).values()) >= total and histogram >= total else None

    # Each worker flushes its pending counts every second (src/filter.rs, METRICS_FLUSH_MS).
    samples = wait_until(
        lambda: counted(parse_prometheus(admin_get(stack["envoy"], "/stats/prometheus").decode())), 15,
        "all requests counted")
    assert requests_by_labels(samples) == EXPECTED

    counts = {dict(l)["route"]: int(v) for (n, l), v in samples.items()
              if n == "routegen_request_duration_milliseconds_count"}
    expected_counts = {}
    for (route, _, _), n in EXPECTED.items():
        expected_counts[route] = expected_counts.get(route, 0) + n
    assert counts == expected_counts
    slow_sum = next(v for (n, l), v in samples.items()
                    if n == "routegen_request_duration_milliseconds_sum" and dict(l)["route"] == "slow")
    assert slow_sum >= SLOW_MS * 4, "the slow route's latency is measured"
    buckets = {dict(l)["le"] for (n, l), _ in samples.items()
               if n == "routegen_request_duration_milliseconds_bucket" and dict(l)["route"] == "slow"}
    assert {"1", "50", "50000", "+Inf"} <= buckets, "Linkerd's latency buckets from stats-config.yaml"
    stats = stack["envoy"].stats()
    assert not [k for k in stats if "routegen_errors_total" in k], "no evaluation or host errors on this traffic"
    failures = {k: v for k, v in stats.items() if ("vm_failed" in k or "runtime_error" in k) and v != 0}
    assert not failures, failures


def latency_buckets(samples, route: str) -> dict[str, int]:
    return {dict(l)["le"]: int(v) for (n, l), v in samples.items()
            if n == "routegen_request_duration_milliseconds_bucket" and dict(l)["route"] == route}


def test_every_workers_pending_counts_are_flushed(envoy_bin, wasm_path, stack, tmp_path):
    """Two workers, each counting in its own VM's memory: once traffic stops, their flushes make
    Envoy's counters and latency buckets exact, with no request lost or counted twice."""
    envoy = EnvoyProcess(envoy_bin, tmp_path, concurrency=2,
                         bootstrap=lambda e: bootstrap(wasm_path, e.port, e.admin_port, stack["upstream"]))
    fast, slow = 60, 6
    envoy.start()
    try:
        for path, times in (("/ok", fast), ("/slow", slow)):
            for _ in range(times):  # one connection each: spread over both workers
                raw = f"GET {path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n".encode()
                assert http_exchange(envoy.port, raw)[0] == 200

        def flushed():
            samples = parse_prometheus(admin_get(envoy, "/stats/prometheus").decode())
            counts = requests_by_labels(samples)
            done = (counts.get(("GET /ok", "success", "200")) == fast and counts.get(("slow", "success", "200")) == slow
                    and latency_buckets(samples, "slow").get("+Inf") == slow)
            return samples if done else None

        samples = wait_until(flushed, 15, "both workers' counts flushed")
        workers = {k: v for k, v in envoy.stats().items() if ".worker_" in k and k.endswith("downstream_cx_total")}
        assert len(workers) == 2 and all(v > 0 for v in workers.values()), f"traffic on both workers: {workers}"
        assert requests_by_labels(samples) == {("GET /ok", "success", "200"): fast, ("slow", "success", "200"): slow}
        for route, n in (("GET /ok", fast), ("slow", slow)):
            buckets = latency_buckets(samples, route)
            assert len(buckets) == 26 and buckets["+Inf"] == n, buckets
            ordered = sorted(buckets.items(), key=lambda kv: float(kv[0]))
            assert all(a[1] <= b[1] for a, b in zip(ordered, ordered[1:])), f"cumulative: {ordered}"
            count = next(v for (m, l), v in samples.items()
                         if m == "routegen_request_duration_milliseconds_count" and dict(l)["route"] == route)
            assert count == n
        slow_buckets = latency_buckets(samples, "slow")
        assert slow_buckets["30"] == 0 and slow_buckets["30000"] == slow, f"{SLOW_MS} ms responses: {slow_buckets}"
    finally:
        envoy.stop()


def test_a_replaced_configuration_keeps_its_pending_counts(envoy_bin, wasm_path, tmp_path):
    """Counts still pending in a worker when a new configuration arrives (LDS, well within the
    1 s flush) reach Envoy all the same: none lost, none counted twice. (The old listener's root
    context keeps ticking while it drains, so its timer or its teardown flushes them.)"""
    v1 = {"default": "[V1]", "metrics": {"enabled": True, "status_label": "none"}, "routes": ["GET /books/{id}"]}
    v2 = {**v1, "default": "[V2]"}
    envoy = LdsEnvoy(envoy_bin, wasm_path, tmp_path, v1)
    envoy.start()
    try:
        sent = 25
        for i in range(sent):
            assert envoy.request("GET", f"/books/{i}").status == 200
        envoy.write_lds(v2)
        wait_for(lambda: envoy.stats().get("listener_manager.lds.update_success", 0) >= 2, 10, 0.05, "LDS took v2")
        name = "wasmcustom.routegen_requests_total;route=GET /books/{id};classification=success"

        def counted():
            value = envoy.stats("routegen_requests_total").get(name, 0)
            return value if value >= sent else None
        assert wait_until(counted, 10, "v1's requests flushed") == sent
        assert envoy.request("GET", "/nowhere").attr() == "[V2]", "the new configuration serves"
    finally:
        envoy.stop()


def prom_query(port: int, query: str) -> list[dict]:
    return prom.query(port, query)


def by_route(result) -> dict[str, float]:
    return prom.by_label(result, "route")


def test_prometheus_scrapes_rate_success_and_quantiles(stack):
    server, prom_port = prom.start_prometheus(stack["workdir"], [("envoy", "/stats/prometheus", f"{HOST}:{stack['admin']}")])
    try:
        wait_until(lambda: prom_query(prom_port, 'up{job="envoy"} == 1'), 30, "Prometheus scraping Envoy")
        before = by_route(prom_query(prom_port, "sum by (route) (routegen_requests_total)"))
        send_traffic(stack["port"])  # a second, identical burst, now with Prometheus watching
        expected_total = {}
        for (route, _, _), n in EXPECTED.items():
            expected_total[route] = expected_total.get(route, 0) + n

        def scraped_all():
            now = by_route(prom_query(prom_port, "sum by (route) (routegen_requests_total)"))
            return now if all(now.get(r, 0) - before.get(r, 0) == n for r, n in expected_total.items()) else None

        wait_until(scraped_all, 20, "Prometheus to see the second burst")

        rates = by_route(prom_query(prom_port, "sum by (route) (rate(routegen_requests_total[30s]))"))
        assert set(rates) == set(expected_total) and all(v > 0 for v in rates.values()), rates

        success = by_route(prom_query(
            prom_port,
            '(sum by (route) (routegen_requests_total{classification="success"})'
            ' or sum by (route) (routegen_requests_total) * 0) / sum by (route) (routegen_requests_total)'))
        for route, total in expected_total.items():
            ok = sum(n for (r, c, _), n in EXPECTED.items() if r == route and c == "success")
            assert success[route] == pytest.approx(ok / total), route

        def quantile(q, route):
            result = prom_query(prom_port, f'histogram_quantile({q}, sum by (le, route) '
                                           f'(routegen_request_duration_milliseconds_bucket{{route="{route}"}}))')
            return float(result[0]["value"][1])

        assert 30 <= quantile(0.5, "slow") <= 100, "40 ms responses (plus loopback overhead)"
        assert 30 <= quantile(0.99, "slow") <= 100
        assert quantile(0.5, "GET /ok") <= 5, "loopback responses take a few ms at most"
    finally:
        server.stop()
