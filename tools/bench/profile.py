#!/usr/bin/env python3
"""Callgrind profile of `NativePlan::decide` (make bench-profile).

Runs the core benchmark binary in its profile mode (BENCH_PROFILE) under callgrind, collecting
only inside `decide`: first at 1,000 GitHub routes, summarised from `callgrind_annotate`
(exclusive instruction counts per file:function, where inlined code is filed under its source
file and the function it was inlined into) as top functions and a breakdown by what the
instructions do; then instructions per request for small and large tables, a noise-free view of
how flat the cost is (it does not see cache misses).

usage: profile.py --bin <bench binary> --api <github-api.json> --out <dir>
"""

import argparse
import os
import re
import subprocess
import sys
from collections import defaultdict

# First match wins; tested against "file:function".
CATEGORIES = [
    ("HashMap lookups: hashing + probing (exact map, segment-trie literal edges)", r"sip\.rs|hash/mod\.rs|hash/random\.rs|DefaultHasher|hash_one|hashbrown|core::hash|Hasher|HashMap"),
    ("allocator: malloc/realloc/free, Vec growth", r"malloc\.c|raw_vec|__rust_(alloc|realloc|dealloc)|Counting|finish_grow|box_new|do_reserve|grow_one|grow_amortized|deallocate|with_capacity"),
    ("query strip + normalize (match_path)", r"normalize|match_path|strip_query"),
    ("split_segments (Vec of segments)", r"split_segments|Split<"),
    ("candidates: extend, sort, dedup", r"candidates|spec_extend|sort|dedup|Vec<T,A>::push|Vec<T,A>::reserve"),
    ("trie walks (byte trie, segment trie)", r"collect|SegmentTrie|ByteTrie"),
    ("first_match: method check, confirm", r"first_match|MethodSet|confirm|allows"),
    ("memcmp / memchr", r"memcmp|memchr|cmp\.rs"),
]


def callgrind(binary, api, table, iterations, out):
    env = dict(os.environ, BENCH_GITHUB_API=api, BENCH_PROFILE=table, BENCH_PROFILE_ITERS=str(iterations))
    subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=routegen::engine::NativePlan::decide*",
                    "--callgrind-out-file=" + out, binary], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def annotate(out):
    text = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", out], capture_output=True, text=True, check=True).stdout
    rows = []
    total = None
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)(?:\s+\[.*\])?$", line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        what = m.group(2)
        if what == "PROGRAM TOTALS":
            total = ir
        else:
            rows.append((ir, what))
    return total or sum(ir for ir, _ in rows), rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--api", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--requests", type=int, default=200000)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    requests = args.requests
    out = callgrind(args.bin, args.api, "1000", requests, os.path.join(args.out, "callgrind.out"))
    total, rows = annotate(out)
    print("%d instructions per decide (%d requests, 1,000 GitHub routes)\n" % (total // requests, requests))

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
        for label, pattern in CATEGORIES:
            if re.search(pattern, what):
                groups[label] += ir
                break
        else:
            groups["other"] += ir
    print("\n| what (by source of the instruction) | instr/req | share |")
    print("|---|---:|---:|")
    for label, ir in sorted(groups.items(), key=lambda kv: -kv[1]):
        print("| %s | %d | %.1f%% |" % (label, ir // requests, 100 * ir / total))

    print("\n| table | instructions per decide |")
    print("|---|---:|")
    for table in ["10", "100", "1000", "1223", "synthetic:10", "synthetic:10000"]:
        n = 50000
        t, _ = annotate(callgrind(args.bin, args.api, table, n, os.path.join(args.out, "callgrind-%s.out" % table.replace(":", "-"))))
        print("| %s | %d |" % (table.replace(":", " ") if ":" in table else "GitHub " + table, t // n))


if __name__ == "__main__":
    main()
