#!/usr/bin/env python3
"""The filter module in V8 without Envoy: ns per request and host calls per request, per variant.

`make bench-vm`. Each variant's module runs in Node (the V8 that Envoy embeds) behind a minimal
JS host (tools/bench/wasm_filter.mjs), driven through the same proxy-wasm calls Envoy makes per
request. Host calls here cost a JS function, not Envoy's C++, so the figures price the module's
own work, with little of the noise a whole Envoy on a shared 2-core VM shows; the host calls
each variant makes per request in its steady state are counted beside them (what `make
bench-envoy` adds on top is their price in Envoy). Variants, tables and samples as
tools/bench/envoy.py has them; every variant runs `--repeats` times, alternating. Noise on a
shared VM only ever adds time, so the best run is the figure compared; the median is beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import envoy as bench  # the Envoy bench beside this script: its tables, samples and configs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--wasm", default=os.path.join(ROOT, "target/routegen.wasm"))
    p.add_argument("--floor", default=os.path.join(ROOT, "target/bench-floor/routegen_bench_floor.wasm"))
    p.add_argument("--api", default=os.path.join(ROOT, ".cache/github-api.json"))
    p.add_argument("--variants", default="floor,floor-authority,rg-10,rg-100,rg-1000,rg-10000,rg-1000-metrics,ag-1000,"
                                         "auto-100,auto-1000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--requests", type=int, default=100000, help="requests per timed run")
    p.add_argument("--runs", type=int, default=7, help="timed runs per repeat (median kept)")
    p.add_argument("--sample", type=int, default=1000)
    p.add_argument("--per-tick", type=int, default=10000,
                   help="requests between two root-context ticks (the metrics flush): ~a worker's requests per second")
    p.add_argument("--synthetic", type=int, default=10000)
    args = p.parse_args()

    github = bench.github_ops(args.api)
    work = tempfile.mkdtemp(prefix="routegen-bench-vm-")

    def table(n):
        ops = bench.synthetic_ops(args.synthetic) if n == "synthetic" else bench.spread(github, n)
        return ops, bench.sample(ops, args.sample)

    def variant(key):
        """(label, module, configuration text, requests)."""
        if key in ("floor", "floor-authority"):
            label = "floor filter" + (" reading :authority too" if key == "floor-authority" else "")
            return label, args.floor, "authority" if key == "floor-authority" else "", table(1000)[1]
        kind, _, rest = key.partition("-")
        metrics = rest.endswith("-metrics")
        n = int(rest.split("-")[0])
        if kind == "auto":
            _, requests = table(n)
            return "auto names only, traffic of %d GitHub operations" % n, args.wasm, json.dumps({"auto": {}}), requests
        source = "synthetic" if n == 10000 else n
        ops, requests = table(source)
        if kind == "ag":
            return "attributegen format, %d conditions" % len(ops), args.wasm, json.dumps(bench.attributegen_config(ops)), requests
        label = "%d %s routes%s" % (len(ops), "synthetic" if source == "synthetic" else "GitHub", ", metrics on" if metrics else "")
        return label, args.wasm, json.dumps(bench.native_config(ops, metrics)), requests

    variants = []
    for key in [k.strip() for k in args.variants.split(",") if k.strip()]:
        label, module, configuration, requests = variant(key)
        config_path = os.path.join(work, key + ".cfg")
        sample_path = os.path.join(work, key + ".txt")
        with open(config_path, "w") as f:
            f.write(configuration)
        with open(sample_path, "w") as f:
            f.writelines("%s %s\n" % (m, path) for m, path in requests)
        variants.append({"key": key, "label": label, "module": module, "config": config_path,
                         "sample": sample_path, "ns": [], "best": [], "calls": None})

    node = [os.environ.get("NODE", "node"), "--no-warnings", os.path.join(ROOT, "tools/bench/wasm_filter.mjs")]
    for repeat in range(args.repeats):
        for v in variants:
            out = subprocess.run(node + [v["module"], v["config"], v["sample"], str(args.requests), str(args.runs),
                                         str(args.per_tick)],
                                 capture_output=True, text=True, timeout=600)
            if out.returncode != 0:
                raise SystemExit("%s failed:\n%s%s" % (v["key"], out.stdout, out.stderr))
            result = json.loads(out.stdout)
            v["ns"].append(result["ns_per_request"])
            v["best"].append(result["best_ns_per_request"])
            v["calls"] = result["host_calls_per_request"]
            print("  repeat %d %-16s %7.0f ns/request" % (repeat + 1, v["key"], v["ns"][-1]), file=sys.stderr)

    floor = next((min(v["best"]) for v in variants if v["key"] == "floor"), None)
    print()
    print("| variant | best ns/request | median of repeats | vs floor (best) | host calls per request (steady state) |")
    print("|---|---:|---:|---:|---|")
    for v in variants:
        best = min(v["best"])
        vs = "%+.0f ns" % (best - floor) if floor is not None and v["key"] != "floor" else "–"
        calls = ", ".join("%s %.2g" % (k, c) for k, c in sorted(v["calls"].items()))
        print("| %s | %.0f | %.0f | %s | %s |" % (v["label"], best, statistics.median(v["ns"]), vs, calls))
    print("\nns/request: context create, request headers, response headers, log, done and delete, as Envoy "
          "calls them, in Node %s's V8; host calls answered by a JS stub (Envoy's price for them is not in "
          "these figures)." % subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
