#!/usr/bin/env python3
"""Cardinality attack, long variant (issue 14, part 2): at least --requests random requests
(routegen_support.attack: random depth, segments, custom and random methods, percent-encoded
hostile bytes) through a real Envoy with auto names (`max_names` --max-names) and metrics on,
across --workers workers. Prints the counts and RSS start/peak/end, writes the RSS samples as
an SVG plot, and exits 1 if a bound is broken, a request failed, the VM failed, or RSS grew by
more than --max-growth-mb after warm-up (the first --warmup-seconds).

    make attack                          # 1,000,000 requests (ATTACK_REQUESTS), ~4 minutes
    .venv/bin/python tools/attack.py --envoy .cache/envoy-1.40.0/bin/envoy --wasm target/routegen.wasm
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from routegen_support import attack
from routegen_support.memory import svg_plot


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--envoy", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--max-names", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--phase-seconds", type=int, default=20, help="wrk run length")
    ap.add_argument("--max-seconds", type=int, default=900, help="wall-clock cap for the load")
    ap.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling interval")
    ap.add_argument("--warmup-seconds", type=float, default=20.0)
    ap.add_argument("--max-growth-mb", type=float, default=16.0)
    ap.add_argument("--out", default="target/attack", help="directory for the plot and the name counts")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="routegen-attack-"))
    report = attack.run(args.envoy, args.wasm, work, requests=args.requests, max_names=args.max_names,
                        workers=args.workers, connections=args.connections, phase_seconds=args.phase_seconds,
                        max_seconds=args.max_seconds, sample_interval=args.sample_seconds,
                        progress=lambda text: print(text, flush=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    svg_plot(report.samples, out / "attack-memory.svg",
             f"cardinality attack: {report.requests:,} requests, {args.workers} workers, max_names {args.max_names}")
    (out / "attack-names.txt").write_text("".join(f"{n}\t{name}\n" for name, n in report.names.most_common()))
    print("\nattack: " + report.summary())
    failures = report.failures(args.requests)
    warm = [s for s in report.samples if s.t >= args.warmup_seconds]
    if len(warm) < 2:
        failures.append("the run was too short to judge RSS after warm-up")
    else:
        growth = report.samples[-1].rss_mb - warm[0].rss_mb
        print(f"RSS after warm-up ({warm[0].t:.0f} s): {warm[0].rss_mb:.1f} MB → {report.samples[-1].rss_mb:.1f} MB ({growth:+.1f})")
        if growth > args.max_growth_mb:
            failures.append(f"RSS grew {growth:.1f} MB after warm-up (limit {args.max_growth_mb} MB)")
    print(f"plot: {out / 'attack-memory.svg'}; names and counts: {out / 'attack-names.txt'}")
    if failures:
        print("ATTACK FAILED: " + "; ".join(failures))
        return 1
    print("attack OK: every bound held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
