"""`routegen routes` against a real Prometheus (Debian package) on loopback.

- envoy source: Prometheus scrapes a real Envoy running the routegen module with metrics on
  (bootstrap built from `routegen render envoy` itself), in front of a loopback upstream;
- istio source: Prometheus scrapes a tiny exposition server whose `istio_requests_total` and
  `istio_request_duration_milliseconds_bucket` grow by fixed amounts per scrape, so success
  rates and latency quantiles are exact.
"""

from __future__ import annotations

import collections
import http.server
import json
import math
import shutil
import threading
import time

import pytest

from routegen_support import prom as prometheus
from routegen_support.envoy import EnvoyProcess, bootstrap, cluster_route, http_listener, static_cluster, virtual_host
from routegen_support.http import http_exchange
from routegen_support.ports import HOST, free_port
from routegen_support.tables import table_rows
from routegen_support.waiting import wait_for


def wait_until(check, timeout, what):
    return wait_for(check, timeout, 0.2, what, ignore=(OSError,))


def start_prometheus(workdir, targets):
    if not shutil.which("prometheus"):
        pytest.skip("no prometheus binary (make prometheus)")
    return prometheus.start_prometheus(workdir, targets)


prom_value = prometheus.value


def test_unreachable_prometheus_is_exit_2(run):
    proc = run("routes", "--prometheus", f"http://{HOST}:{free_port()}")
    assert proc.returncode == 2
    assert "cannot reach Prometheus at" in proc.stderr and "port-forward" in proc.stderr
    proc = run("routes", "--prometheus", "https://prometheus.example")
    assert proc.returncode == 2 and "https is not supported" in proc.stderr
    proc = run("routes", "--prometheus", f"http://{HOST}:1", "--window", "soon")
    assert proc.returncode == 2 and "--window" in proc.stderr


# ---- Istio source -------------------------------------------------------------------------------

ISTIO_SERIES = [
    # (labels, increment per scrape)
    ({"reporter": "waypoint", "destination_service_namespace": "shop", "destination_service_name": "books",
      "route_name": "GET /books/{id}", "response_code": "200"}, 9),
    ({"reporter": "waypoint", "destination_service_namespace": "shop", "destination_service_name": "books",
      "route_name": "GET /books/{id}", "response_code": "503"}, 1),
    ({"reporter": "waypoint", "destination_service_namespace": "shop", "destination_service_name": "books",
      "route_name": "POST /books", "response_code": "201"}, 4),
    ({"reporter": "waypoint", "destination_service_namespace": "shop", "destination_service_name": "books",
      "route_name": "unknown", "response_code": "404"}, 2),
    # Another namespace, and a client-side report: both filtered out.
    ({"reporter": "waypoint", "destination_service_namespace": "other", "destination_service_name": "x",
      "route_name": "GET /x", "response_code": "200"}, 100),
    ({"reporter": "source", "destination_service_namespace": "shop", "destination_service_name": "books",
      "route_name": "GET /books/{id}", "response_code": "500"}, 100),
]
# Cumulative bucket increments per scrape for GET /books/{id} (10 requests per scrape).
BUCKETS = [("10", 5), ("25", 8), ("50", 10), ("+Inf", 10)]


class Exposition(http.server.BaseHTTPRequestHandler):
    scrapes = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        Exposition.scrapes += 1
        n = Exposition.scrapes
        lines = ["# TYPE istio_requests_total counter"]
        for labels, step in ISTIO_SERIES:
            text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"istio_requests_total{{{text}}} {step * n}")
        lines.append("# TYPE istio_request_duration_milliseconds histogram")
        base = 'reporter="waypoint",destination_service_namespace="shop",destination_service_name="books",route_name="GET /books/{id}"'
        for le, step in BUCKETS:
            lines.append(f'istio_request_duration_milliseconds_bucket{{{base},le="{le}"}} {step * n}')
        lines.append(f"istio_request_duration_milliseconds_sum{{{base}}} {200 * n}")
        lines.append(f"istio_request_duration_milliseconds_count{{{base}}} {10 * n}")
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain; version=0.0.4")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_istio_source(run, tmp_path):
    server = http.server.ThreadingHTTPServer((HOST, 0), Exposition)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prom, port = start_prometheus(tmp_path, [("mesh", "/metrics", f"{HOST}:{server.server_address[1]}")])
    try:
        wait_until(lambda: prom_value(port, "count_over_time(istio_requests_total[1m])") >= 4, 40, "four scrapes")
        config = tmp_path / "routes.json"
        config.write_text(json.dumps({"default": "[DEFAULT]", "services": [{"hosts": ["books.shop.svc.cluster.local"],
                                      "routes": ["GET /books/{id}", "POST /books", "DELETE /books/{id}"]}]}))
        proc = run("routes", "--prometheus", f"http://{HOST}:{port}", "--namespace", "shop", "--config", config, "-o", "json")
        assert proc.returncode == 0, proc.stderr
        rows = {(r["route"], r["service"]): r for r in json.loads(proc.stdout)["routes"]}
        assert set(rows) == {("GET /books/{id}", "books"), ("POST /books", "books"), ("unknown", "books"),
                             ("DELETE /books/{id}", "books"), ("[DEFAULT]", "books")}
        get_book = rows[("GET /books/{id}", "books")]
        assert get_book["success"] == pytest.approx(0.9, rel=1e-3), "503s are failures; the source-reported 500s are not counted"
        assert get_book["latency_ms_p50"] == pytest.approx(10, rel=1e-2)
        assert get_book["latency_ms_p95"] == pytest.approx(43.75, rel=1e-2)
        assert get_book["latency_ms_p99"] == pytest.approx(48.75, rel=1e-2)
        assert get_book["rps"] > 0
        assert rows[("POST /books", "books")]["success"] == pytest.approx(1.0)
        assert rows[("unknown", "books")]["success"] == pytest.approx(1.0), "404 is not a failure"
        idle = rows[("DELETE /books/{id}", "books")]
        assert idle["success"] is None and idle["rps"] == 0 and idle["latency_ms_p50"] is None
        table = run("routes", "--prometheus", f"http://{HOST}:{port}", "--namespace", "shop", "--service", "books", "--config", config).stdout
        lines = table.splitlines()
        assert lines[0].split() == ["ROUTE", "SERVICE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"]
        book_line = next(line for line in lines if line.startswith("GET /books/{id}"))
        cells = book_line.split()[2:]
        # Success divides two increase() queries made at different instants: 90 % within rounding.
        assert cells[0] == "books" and abs(float(cells[1].rstrip("%")) - 90.0) <= 0.05 and cells[2].endswith("rps") and cells[3:] == ["10ms", "44ms", "49ms"]
        assert lines[-1].startswith("[DEFAULT]") or lines[-1].startswith("unknown")
        assert any(line.startswith("DELETE /books/{id}") and line.split()[2:] == ["books", "-", "0.0rps", "-", "-", "-"] for line in lines)
    finally:
        prom.stop()
        server.shutdown()


# ---- Envoy source -------------------------------------------------------------------------------

class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_GET(self):
        status = 500 if self.path == "/fail" else 200
        if self.path == "/slow":
            time.sleep(0.04)
        self.send_response(status)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


def check_linkerd_queries(prom_port, port):
    """What `linkerd viz routes` asks Prometheus, answered per route from the filter's series.
    Its latency query takes `irate` (the last two scrapes), and the filter flushes latency every
    5 s: a trickle of /ok and /slow keeps the newest flush carrying both (a bounded wait)."""
    counts = {}
    for row in prometheus.query(prom_port, LINKERD_REQUESTS):
        counts[(row["metric"]["rt_route"], row["metric"]["classification"])] = float(row["value"][1])
    assert counts.get(("GET /ok", "success"), 0) > 0 and ("GET /ok", "failure") not in counts, counts
    assert counts.get(("GET /fail", "failure"), 0) > 0 and ("GET /fail", "success") not in counts, counts

    def p50s():
        send(port, "/ok", 1)
        send(port, "/slow", 1)
        rows = prometheus.query(prom_port, LINKERD_LATENCY.format(q=0.5))
        p50 = {row["metric"]["rt_route"]: float(row["value"][1]) for row in rows}
        return p50 if all(math.isfinite(p50.get(r, math.nan)) for r in ("GET /ok", "GET /slow")) else None
    p50 = wait_until(p50s, 30, "Linkerd's irate latency query answered for /ok and /slow")
    assert 20 <= p50["GET /slow"] <= 100 and p50["GET /ok"] <= 10, p50
    for q in (0.95, 0.99):
        assert {row["metric"]["rt_route"] for row in prometheus.query(prom_port, LINKERD_LATENCY.format(q=q))} >= {"GET /ok", "GET /slow"}


# Requests sent per path by `send`, in the current test (reset at its start).
SENT: collections.Counter = collections.Counter()


def send(port, path, times):
    SENT[path] += times
    for _ in range(times):
        status, head, _ = http_exchange(port, f"GET {path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n".encode(), timeout=5)
        assert head.startswith(b"HTTP/1.1 ") and status, head[:100]


# Linkerd's names: the `linkerd viz routes` queries (REFERENCE.md §1) must answer from them.
LINKERD_REQUESTS = "sum(increase(route_response_total[1m])) by (rt_route, classification)"
LINKERD_LATENCY = "histogram_quantile({q}, sum(irate(route_response_latency_ms_bucket[1m])) by (le, rt_route))"


@pytest.mark.parametrize("names", ["routegen", "linkerd"])
def test_envoy_source_with_a_real_envoy(run, tmp_path, envoy_bin, wasm_path, names):
    SENT.clear()
    config = tmp_path / "routes.json"
    routes = ["GET /ok", "GET /fail", "GET /slow", "GET /idle/{x}"]
    document = {"default": "[DEFAULT]", "metrics": {"enabled": True, "names": names}, "routes": routes}
    if names == "linkerd":
        # The requests' Host is `app`: a service, so `dst` is its name.
        document["services"] = [{"hosts": ["app"], "routes": ["GET /svc-only"]}]
    config.write_text(json.dumps(document))
    source, service = ("envoy", "envoy") if names == "routegen" else ("linkerd", "app")
    histogram = "routegen_request_duration_milliseconds_count" if names == "routegen" else "route_response_latency_ms_count"
    snippet = json.loads(run("render", "envoy", config, "--wasm", wasm_path, "-o", "json").stdout)
    upstream = http.server.ThreadingHTTPServer((HOST, 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()

    def envoy_config(e: EnvoyProcess) -> dict:
        listener = http_listener(e.port, http_filters=snippet["http_filters"], virtual_hosts=[virtual_host([cluster_route("app")])])
        return bootstrap(e.admin_port, [listener], [static_cluster("app", upstream.server_address[1])],
                         stats_config=snippet["stats_config"])

    envoy = EnvoyProcess(envoy_bin, tmp_path, envoy_config, ready_timeout=30)
    prom = None
    try:
        envoy.start()
        port, admin = envoy.port, envoy.admin_port
        prom, prom_port = start_prometheus(tmp_path, [("envoy", "/stats/prometheus", f"{HOST}:{admin}")])
        # One request per route first, so every series exists before the measured burst.
        for path in ("/ok", "/fail", "/slow", "/nowhere"):
            send(port, path, 1)
        wait_until(lambda: prom_value(prom_port, f"sum({histogram})") >= 4, 40, "first scrape")
        time.sleep(1.5)
        send(port, "/ok", 20)
        send(port, "/fail", 10)
        send(port, "/slow", 5)
        send(port, "/nowhere", 5)
        wait_until(lambda: prom_value(prom_port, f"sum({histogram})") >= 44, 40, "the burst scraped")
        if names == "linkerd":
            check_linkerd_queries(prom_port, port)
        proc = run("routes", "--prometheus", f"http://{HOST}:{prom_port}", "--source", source, "--config", config, "-o", "json")
        assert proc.returncode == 0, proc.stderr
        rows = {r["route"]: r for r in json.loads(proc.stdout)["routes"]}
        assert set(rows) >= {"GET /ok", "GET /fail", "GET /slow", "GET /idle/{x}", "[DEFAULT]"}, rows
        assert rows["GET /ok"]["success"] == 1.0 and rows["GET /fail"]["success"] == 0.0
        assert rows["[DEFAULT]"]["success"] == 1.0
        assert all(rows[r]["service"] == service for r in ("GET /ok", "GET /fail", "GET /slow", "[DEFAULT]")), rows
        assert rows["GET /ok"]["rps"] > 0 and rows["GET /ok"]["requests"] > rows["GET /slow"]["requests"]
        assert 20 <= rows["GET /slow"]["latency_ms_p50"] <= 100, rows["GET /slow"]
        assert rows["GET /ok"]["latency_ms_p50"] <= 10
        assert rows["GET /idle/{x}"]["success"] is None and rows["GET /idle/{x}"]["rps"] == 0
        table = run("routes", "--prometheus", f"http://{HOST}:{prom_port}", "--source", source, "--config", config).stdout
        (tmp_path / "table.txt").write_text(table)
        assert "GET /fail" in table and "0.00%" in table and "100.00%" in table
        # `top` from the same Prometheus (the last minute) and from Envoy's admin (totals).
        top = run("top", "--prometheus", f"http://{HOST}:{prom_port}", "--source", source, "--once")
        assert top.returncode == 0, top.stderr
        top_rows = table_rows(top.stdout)
        # increase() extrapolates, and differently at each query's instant: close, not equal.
        assert abs(int(top_rows[f"GET /ok ({service})"][0]) - rows["GET /ok"]["requests"]) <= 3, top.stdout
        assert top_rows[f"GET /fail ({service})"][2] == "0.00%"
        label = (lambda r: r) if names == "routegen" else (lambda r: f"{r} ({service})")
        expected = {"GET /ok": SENT["/ok"], "GET /fail": SENT["/fail"], "GET /slow": SENT["/slow"], "[DEFAULT]": SENT["/nowhere"]}

        def admin_counts():
            admin_rows = table_rows(run("top", "--envoy-admin", f"http://{HOST}:{admin}", "--once", "--interval", "0.2").stdout)
            return {r: int(admin_rows[label(r)][0]) for r in expected}, admin_rows

        # Counters reach Envoy at the filter's next flush (every second): a bounded wait.
        wait_until(lambda: admin_counts()[0] == expected, 15, f"top --envoy-admin counting {expected}")
        assert 20 <= float(admin_counts()[1][label("GET /slow")][3].rstrip("ms")) <= 100
    finally:
        if prom:
            prom.stop()
        envoy.stop()
        upstream.shutdown()
