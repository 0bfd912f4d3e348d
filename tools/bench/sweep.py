#!/usr/bin/env python3
"""Route-count sweep (issue 13): Envoy CPU per request and Envoy memory from 10 to 100,000 routes.

For each table size, the variants of that size start side by side (one Envoy each, one worker,
so one wasm VM), then `--rounds` alternating rounds of `--seconds` each are measured exactly as
tools/bench/envoy.py measures (its Variant, pre-check and measure are reused): Envoy's CPU time
over the requests it completed. Memory is the Envoy process's resident set (VmRSS) after the
rounds, minus the no-filter Envoy's. Series: routegen native on the synthetic table and on
GitHub's REST API (up to its 1,223 operations), routegen with the same synthetic table in
attributegen format, Envoy's native named route table (uri_template + :method), the floor
filter and no filter (measured in every size group, so every ratio is within one group).

Sizes a variant cannot afford are capped (--max-ag, --max-envoy: Envoy's table scans linearly,
~3 ms per request at 10,000 routes, so 100,000 would take a minute per round of few requests);
a size group is skipped once --budget seconds have passed. Writes a markdown table to stdout,
JSON (--json) and an SVG plot (--svg) drawn here, without a plotting library.
"""

import argparse
import json
import os
import statistics
import sys
import time

import envoy as bench
import svgplot

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--envoy", default=os.path.join(ROOT, ".cache/envoy-1.40.0/bin/envoy"))
    p.add_argument("--wasm", default=os.path.join(ROOT, "target/routegen.wasm"))
    p.add_argument("--floor", default=os.path.join(ROOT, "target/bench-floor/routegen_bench_floor.wasm"))
    p.add_argument("--api", default=os.path.join(ROOT, ".cache/github-api.json"))
    p.add_argument("--stats-config", default=os.path.join(ROOT, "examples/envoy/stats-config.yaml"))
    p.add_argument("--sizes", default="10,100,1000,10000,100000")
    p.add_argument("--max-ag", type=int, default=10000, help="largest attributegen-format table")
    p.add_argument("--max-envoy", type=int, default=10000, help="largest Envoy-native route table")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--sample", type=int, default=1000)
    p.add_argument("--check", type=int, default=50, help="pre-check requests per variant")
    p.add_argument("--budget", type=int, default=900, help="seconds: no new size group starts after this")
    p.add_argument("--workdir", default=os.path.join(ROOT, "target/bench/sweep"))
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--svg", default=os.path.join(ROOT, "bench/sweep.svg"))
    args = p.parse_args()
    for path in (args.envoy, args.wasm, args.floor, args.api):
        if not os.path.exists(path):
            raise SystemExit("missing %s (make bench-sweep builds and fetches it)" % path)
    os.makedirs(args.workdir, exist_ok=True)
    with open(args.stats_config) as f:
        stats_config = f.read()
    github = bench.github_ops(args.api)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    def routegen(key, label, ops, ag=False):
        requests, scan = bench.sample(ops, args.sample), bench.Scan(ops)
        config = bench.attributegen_config(ops) if ag else bench.native_config(ops)
        expect = (lambda m, q: scan.first(m, q)) if ag else (lambda m, q: scan.first(m, q) or "[DEFAULT]")
        v = bench.Variant(key, label, requests, args.wasm, config, expect)
        v.routes = len(ops)
        return v

    def group(n):
        synthetic = bench.synthetic_ops(n)
        out = [bench.Variant("none", "no filter", bench.sample(synthetic, args.sample)),
               bench.Variant("floor", "floor filter", bench.sample(synthetic, args.sample), args.floor, "",
                             lambda m, q: "floor"),
               routegen("rg-synthetic", "routegen native, synthetic", synthetic)]
        if n <= len(github) or n // 10 < len(github):
            out.append(routegen("rg-github", "routegen native, GitHub", bench.spread(github, n)))
        if n <= args.max_ag:
            out.append(routegen("ag-synthetic", "routegen attributegen format, synthetic", synthetic, ag=True))
        if n <= args.max_envoy:
            ops = [op for op in synthetic if bench.uri_template(op[1])]
            scan = bench.Scan(ops)
            out.append(bench.Variant("envoy-synthetic", "Envoy native route table, synthetic",
                                     bench.sample(synthetic, args.sample),
                                     expect=lambda m, q: scan.first(m, q) or "[DEFAULT]", ops=ops))
            out[-1].routes = len(ops)
        for v in out[:2]:
            v.routes = n
        return out

    started = time.monotonic()
    rows = []  # (size, key, label, routes, median µs, min, max, rss delta KB)
    print("Envoy %s; sizes %s, %d rounds x %ds per variant" % (bench.envoy_version(args.envoy), sizes, args.rounds,
                                                                args.seconds), file=sys.stderr)
    for n in sizes:
        if time.monotonic() - started > args.budget:
            print("  size %d skipped: the %d s budget is spent" % (n, args.budget), file=sys.stderr)
            continue
        variants = group(n)
        workdir = os.path.join(args.workdir, str(n))
        try:
            loading = time.monotonic()
            for v in variants:
                v.start(args.envoy, workdir, stats_config)
            for v in variants:
                v.wait_ready()
            print("  size %d: %d Envoys ready in %.1f s" % (n, len(variants), time.monotonic() - loading), file=sys.stderr)
            for v in variants:
                bench.precheck(v, min(args.check, len(v.requests)))
                bench.run_wrk(v, 1, args.connections)  # warm-up
            for r in range(args.rounds):
                for v in variants:
                    bench.measure(v, args.seconds, args.connections)
                    print("  size %d round %d %-16s %8.1f µs/req  others %3.0f%%" % (
                        n, r + 1, v.key, v.cpu_per_req[-1], v.others[-1]), file=sys.stderr)
            rss = {v.key: rss_kb(v.proc.pid) for v in variants}
        finally:
            for v in variants:
                v.stop()
        for v in variants:
            rows.append({"size": n, "key": v.key, "label": v.label, "routes": v.routes,
                         "median_us": statistics.median(v.cpu_per_req), "min_us": min(v.cpu_per_req),
                         "max_us": max(v.cpu_per_req), "rss_kb": rss[v.key], "rss_over_none_kb": rss[v.key] - rss["none"],
                         "others_percent": statistics.median(v.others)})

    print("| routes | variant | Envoy CPU µs/req (median) | spread (min–max) | vs floor | Envoy RSS over no filter |")
    print("|---:|---|---:|---:|---:|---:|")
    for row in rows:
        floor = next(r["median_us"] for r in rows if r["size"] == row["size"] and r["key"] == "floor")
        print("| %d | %s | %.1f | %.1f–%.1f | %+.1f µs | %.1f MB |" % (
            row["size"], row["label"] + ("" if row["routes"] == row["size"] else " (%d routes)" % row["routes"]),
            row["median_us"], row["min_us"], row["max_us"], row["median_us"] - floor, row["rss_over_none_kb"] / 1024))
    load = os.getloadavg()[0]
    others = statistics.median(r["others_percent"] for r in rows) if rows else 0
    print("\n%d rounds x %ds, Envoy --concurrency 1 (one VM); total %.0f s; load average %.2f at the end; "
          "other processes used a median %.0f%% of a core during the rounds." % (
              args.rounds, args.seconds, time.monotonic() - started, load, others))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.svg and rows:
        series = {}
        for row in rows:
            series.setdefault(row["label"], []).append(row)
        cpu = {label: [(r["size"], r["median_us"]) for r in rs] for label, rs in series.items()}
        mem = {label: [(r["size"], r["rss_over_none_kb"] / 1024) for r in rs] for label, rs in series.items()
               if label != "no filter"}
        title = "Envoy %s, one worker: CPU per request and memory by route-table size" % bench.envoy_version(args.envoy)
        svgplot.write(args.svg, title, [("Envoy CPU µs per request (log)", cpu, True),
                                        ("Envoy RSS over no filter, MB (log)", mem, True)])
        print("plot: %s" % args.svg, file=sys.stderr)


if __name__ == "__main__":
    main()
