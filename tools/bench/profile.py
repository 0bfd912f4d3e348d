#!/usr/bin/env python3
"""Callgrind profile of `NativePlan::decide` (make bench-profile).

Runs the core benchmark binary in its profile mode (BENCH_PROFILE) under callgrind, collecting
only inside `decide`, with callgrind's cache simulator on a fixed cache geometry (32 KiB 8-way
L1s, 8 MiB 16-way last level, 64-byte lines: the VM's hardware counters are not available, and
a fixed geometry makes the misses repeatable on any machine):
1. at 1,000 GitHub routes, exclusive instruction counts per file:function from
   `callgrind_annotate` (inlined code is filed under its source file and the function it was
   inlined into), as top functions and a breakdown by what the instructions do;
2. per decision, instructions, L1 data misses and last-level data misses for small and large
   tables, each run `--repeats` times (callgrind is deterministic: the runs must agree), and,
   with `--baseline <older bench binary>`, the same for that binary in the same run;
3. instructions to compile the 10,000-route synthetic configuration (one `compile_bytes`).

usage: profile.py --bin <bench binary> --api <github-api.json> --out <dir> [--baseline <bin>]
"""

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict

# First match wins; tested against "file:function".
CATEGORIES = [
    ("hash lookups: hashing + probing (interned strings, trie edges)", r"sip\.rs|hash/mod\.rs|hash/random\.rs|DefaultHasher|hash_one|hashbrown|core::hash|Hasher|HashMap|HashIndex|Interner|Edges|stable_hash|auto/mod\.rs|auto/index\.rs|matcher/flat\.rs"),
    ("allocator: malloc/realloc/free, Vec growth", r"malloc\.c|raw_vec|__rust_(alloc|realloc|dealloc)|Counting|finish_grow|box_new|do_reserve|grow_one|grow_amortized|deallocate|with_capacity"),
    ("query strip + normalize (match_path)", r"normalize|match_path|strip_query"),
    ("split_segments (Vec of segments)", r"split_segments|Split<"),
    ("candidates: extend, sort, dedup", r"candidates|spec_extend|sort|dedup|Vec<T,A>::push|Vec<T,A>::reserve"),
    ("trie walks (byte trie, segment trie)", r"collect|SegmentTrie|ByteTrie|segment_trie|byte_trie"),
    ("first_match: method check, confirm", r"first_match|MethodSet|confirm|allows|mask_allows|method_bit"),
    ("memcmp / memchr", r"memcmp|memchr|cmp\.rs"),
]


# Fixed simulated caches (see the docstring).
CACHES = ["--cache-sim=yes", "--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64"]
TABLES = ["synthetic:10", "synthetic:10000", "10", "1000"]


def callgrind(binary, api, table, iterations, out, collect="*NativePlan::decide"):
    env = dict(os.environ, BENCH_GITHUB_API=api, BENCH_PROFILE=table, BENCH_PROFILE_ITERS=str(iterations))
    subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=" + collect, *CACHES,
                    "--callgrind-out-file=" + out, binary], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return out


def annotate(out):
    """(totals by event name, [(Ir, file:function)])."""
    text = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", out], capture_output=True, text=True, check=True).stdout
    events = []
    totals = {}
    rows = []
    for line in text.splitlines():
        if line.startswith("Events shown:"):
            events = line.split(":", 1)[1].split()
            continue
        cells = re.sub(r"\(\s*[\d.]+%\)", "", line).split()
        n = len(events)
        if not events or len(cells) <= n or not all(re.fullmatch(r"[\d,.]+", c) for c in cells[:n]):
            continue
        values = [int(c.replace(",", "")) if c != "." else 0 for c in cells[:n]]
        what = " ".join(cells[n:])
        what = re.sub(r"\s+\[.*\]$", "", what)
        if what.startswith("PROGRAM TOTALS"):
            totals = dict(zip(events, values))
        else:
            rows.append((values[0], what))
    if not totals:
        totals = {"Ir": sum(ir for ir, _ in rows)}
    return totals, rows


def per_decision(totals, n):
    """Instructions, L1 data misses, last-level data misses and estimated cycles per decision.

    The estimate is valgrind's own (cg_annotate's): Ir + 10 per L1 miss + 100 per last-level
    miss. Crude, but it prices the cache misses instruction counts cannot see, deterministically.
    """
    get = lambda *names: sum(totals.get(name, 0) for name in names)
    cycles = get("Ir") + 10 * get("I1mr", "D1mr", "D1mw") + 100 * get("ILmr", "DLmr", "DLmw")
    return get("Ir") / n, get("D1mr", "D1mw") / n, get("DLmr", "DLmw") / n, cycles / n


def label(table):
    return table.replace(":", " ") if ":" in table else "GitHub " + table


def sizes(args, binary, tag):
    """{table: [(instr, D1, LL) per repeat]} for one bench binary."""
    results = {}
    for table in TABLES:
        for r in range(args.repeats):
            out = os.path.join(args.out, "callgrind-%s-%s-%d.out" % (tag, table.replace(":", "-"), r))
            totals, _ = annotate(callgrind(binary, args.api, table, args.per_table, out))
            results.setdefault(table, []).append(per_decision(totals, args.per_table))
    return results


def spread(values):
    return "%.1f" % values[0] if max(values) - min(values) < 0.05 else "%.1f–%.1f" % (min(values), max(values))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--api", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--baseline", help="an older bench binary, profiled the same way in the same run")
    p.add_argument("--requests", type=int, default=200000, help="decisions for the top-function profile")
    p.add_argument("--per-table", type=int, default=50000, help="decisions per table for the size sweep")
    p.add_argument("--repeats", type=int, default=2, help="runs per table (they must agree)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    requests = args.requests
    totals, rows = annotate(callgrind(args.bin, args.api, "1000", requests, os.path.join(args.out, "callgrind.out")))
    total = totals.get("Ir", 0)
    instr, d1, ll, _ = per_decision(totals, requests)
    print("%d instructions, %.1f L1D misses, %.2f LL data misses per decide (%d requests, 1,000 GitHub routes)\n"
          % (instr, d1, ll, requests))

    by_function = defaultdict(int)
    for ir, what in rows:
        function = what.split(":", 1)[-1]
        function = re.sub(r"/rustc/[0-9a-f]+/library/", "std:", function)
        by_function[function] += ir
    print("| function (inlined code counted in its caller) | instr/req | share |")
    print("|---|---:|---:|")
    for function, ir in sorted(by_function.items(), key=lambda kv: -kv[1])[:15]:
        print("| `%s` | %d | %.1f%% |" % (function[:90], ir // requests, 100 * ir / total))

    groups = defaultdict(int)
    for ir, what in rows:
        for name, pattern in CATEGORIES:
            if re.search(pattern, what):
                groups[name] += ir
                break
        else:
            groups["other"] += ir
    print("\n| what (by source of the instruction) | instr/req | share |")
    print("|---|---:|---:|")
    for name, ir in sorted(groups.items(), key=lambda kv: -kv[1]):
        print("| %s | %d | %.1f%% |" % (name, ir // requests, 100 * ir / total))

    runs = [("this tree", sizes(args, args.bin, "new"))]
    if args.baseline:
        runs.insert(0, ("baseline", sizes(args, args.baseline, "base")))
    print("\nPer decision, %d decisions per table, %d runs each (a range means the runs differed):\n"
          % (args.per_table, args.repeats))
    print("| table | " + " | ".join("%s: instructions | L1D misses | LL misses | est. cycles" % n for n, _ in runs) + " |")
    print("|---|" + "---:|---:|---:|---:|" * len(runs))
    for table in TABLES:
        cells = []
        for _, results in runs:
            values = results[table]
            cells += [spread([v[0] for v in values]), spread([v[1] for v in values]), "%.2f" % values[0][2],
                      spread([v[3] for v in values])]
        print("| %s | %s |" % (label(table), " | ".join(cells)))
    print("\n| config compile, 10,000 synthetic routes (`engine::compile_bytes`) | instructions |")
    print("|---|---:|")
    binaries = [("baseline", args.baseline)] if args.baseline else []
    for name, binary in binaries + [("this tree", args.bin)]:
        out = os.path.join(args.out, "callgrind-compile-%s.out" % name.replace(" ", "-"))
        totals, _ = annotate(callgrind(binary, args.api, "synthetic:10000", 1, out, collect="*engine::compile_bytes"))
        print("| %s | %d |" % (name, totals.get("Ir", 0)))
    for name, results in runs:
        small, large = results["synthetic:10"][0], results["synthetic:10000"][0]
        print("\n%s: synthetic 10,000 ÷ 10 routes: %.2f× the instructions, %.2f× the estimated cycles, L1D misses "
              "%.1f → %.1f per decision" % (name, large[0] / small[0], large[3] / small[3], small[1], large[1]))


if __name__ == "__main__":
    main()
