#!/usr/bin/env python3
"""`make demo`: routegen in a real Envoy, with podinfo-like traffic, and a per-route table.

No container engine needed. The demo

1. starts a small stand-in for podinfo on 127.0.0.1 (stdlib http.server: /, /healthz, /readyz,
   /version, /env, /api/info, POST /echo, /status/{code}, /delay/{n}, POST /store, /store/{hash});
2. starts the PyPI Envoy with examples/envoy/envoy.yaml — the very file docker-compose uses,
   filter config included — rewritten only for loopback addresses on free ports, the stand-in
   upstream, the module path and the access-log path;
3. sends a fixed burst of requests (TRAFFIC in routegen_support.demo: several routes, 5xx errors, unmatched paths);
4. reads back from Envoy what the filter attributed (`read_route_stats`, the one data source)
   and prints one row per route next to what it sent; exits 1 if they differ;
5. stops everything, whatever happens (error, Ctrl-C, SIGTERM). `--linger N` keeps the stack
   up for N seconds after the table so you can curl it yourself.

The parts are routegen_support.demo (tests/support); run it with the project's .venv python.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from routegen_support.demo import ENVOY_YAML, HOST, ROOT, TRAFFIC, Stack, compare, expected_stats, read_route_stats, send_traffic
from routegen_support.envoy import EnvoyError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="routegen in a real Envoy with podinfo-like traffic")
    parser.add_argument("--envoy", default=str(ROOT / ".cache/envoy-1.40.0/bin/envoy"), help="Envoy binary")
    parser.add_argument("--wasm", default=str(ROOT / "target/routegen.wasm"), help="routegen module")
    parser.add_argument("--linger", type=float, default=0, metavar="SECONDS",
                        help="keep Envoy and the stand-in running this long after the table (Ctrl-C stops)")
    args = parser.parse_args(argv)
    for path, what in ((args.envoy, "Envoy (make envoy)"), (args.wasm, "the module (make build)")):
        if not Path(path).exists():
            print(f"demo: {path} not found: build {what} first", file=sys.stderr)
            return 2

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    started = time.monotonic()
    try:
        with Stack(args.envoy, args.wasm) as stack:
            envoy = stack.envoy
            print(f"routegen demo: Envoy {envoy.version()} (pid {envoy.proc.pid}) on {HOST}:{envoy.port}, "
                  f"admin {HOST}:{envoy.admin_port}; podinfo stand-in on {HOST}:{stack.upstream.port}")
            print(f"config: {ENVOY_YAML.relative_to(ROOT)} (its filter config is examples/envoy/routegen.json), "
                  f"module: {args.wasm}")
            t0 = time.monotonic()
            results = send_traffic(envoy.port)
            sent_s = time.monotonic() - t0
            wrong = [(k, s) for k, s in results if s != k.status]
            print(f"sent {len(results)} requests ({len(TRAFFIC)} kinds, {len(expected_stats())} routes incl. "
                  f"unmatched) in {sent_s:.2f}s")
            expected = expected_stats()
            actual = read_route_stats(envoy, expected_total=len(results))
            print("source: the filter's own metrics at Envoy's /stats/prometheus: routegen_requests_total and\n"
                  "        routegen_request_duration_milliseconds (success = not 5xx, latency from the histogram)\n")
            lines, ok = compare(expected, actual)
            print("\n".join(lines))
            print()
            for kind, status in wrong[:5]:
                print(f"unexpected status: {kind.method} {kind.path} got {status}, the stand-in answers {kind.status}")
            ok &= not wrong
            if ok:
                print(f"OK: all {len(results)} requests were attributed to the routes they were sent to")
            else:
                print("MISMATCH: Envoy's per-route counts differ from the traffic sent (see the rows marked)")
                tail = envoy.log_text().strip().splitlines()[-10:]
                if tail:
                    print("Envoy log tail:\n  " + "\n  ".join(tail))
            if args.linger > 0:
                print(f"\nstill running for {args.linger:.0f}s (Ctrl-C to stop): "
                      f"curl -i http://{HOST}:{envoy.port}/status/418 ; curl http://{HOST}:{envoy.admin_port}/stats/prometheus",
                      flush=True)
                time.sleep(args.linger)
    except EnvoyError as e:
        raise SystemExit(f"Envoy did not start:\n{e}")
    except KeyboardInterrupt:
        print("\ndemo: interrupted; Envoy and the stand-in are stopped", file=sys.stderr)
        return 130
    print(f"stopped Envoy and the stand-in ({time.monotonic() - started:.1f}s in all)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
