"""A label-cardinality attack on auto names (issue 14, part 2), the short variant: ~50,000
random requests (random depth and segments, custom and random methods, percent-encoded hostile
bytes; routegen_support.attack) across 2 workers with `max_names` 500 and metrics on. The long
variant (1,000,000 requests) is `make attack`.

Bounded: distinct names in the access log (≤ max_names + overflow + default), the route labels
of routegen_requests_total (the same bound), the auto-names gauge (≤ max_names). Every request
answered 200, counted once in the access log and once in routegen_requests_total; no VM failure,
no routegen error; Envoy's RSS does not keep growing once the cap is reached.
"""

from __future__ import annotations

from routegen_support import attack

REQUESTS = 50_000
MAX_NAMES = 500
# The cap fills within the first seconds; afterwards only the overflow name is added. RSS from
# the sample after the first phase to the end may move by allocator noise only.
MAX_GROWTH_MB = 8.0


def test_cardinality_attack(newest_envoy_bin, wasm_path, tmp_path):
    report = attack.run(newest_envoy_bin, wasm_path, tmp_path, requests=REQUESTS, max_names=MAX_NAMES, workers=2,
                        phase_seconds=4, max_seconds=90, sample_interval=1.0)
    print("\nattack: " + report.summary())
    assert not report.failures(REQUESTS), report.failures(REQUESTS)
    # Slots all taken by the flood, and most requests overflowed: the cap, not luck, bounded it.
    assert report.auto_names_gauge == MAX_NAMES
    assert report.names[attack.OVERFLOW] > REQUESTS // 2
    assert report.overflow_total == report.names[attack.OVERFLOW]
    # Warm-up is the first few seconds (the cap fills); RSS is flat after it.
    warm = [s for s in report.samples if s.t >= 5.0]
    assert len(warm) >= 2, "the run was too short to judge RSS after warm-up"
    growth = report.samples[-1].rss_mb - warm[0].rss_mb
    assert growth <= MAX_GROWTH_MB, f"RSS grew {growth:.1f} MB after warm-up"
