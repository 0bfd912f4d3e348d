//! Metric increments accumulated in VM memory between flushes, so a request makes no metric
//! host call: the filter adds to a tally and its timer flushes the deltas as counter increments.
//!
//! Latency is a Prometheus classic histogram made of counters (`_bucket;le=…`, `_sum`, `_count`):
//! Envoy's histogram ABI records one sample per call and has no batch form, so exact Envoy
//! histograms would cost a host call per request however they were deferred. Cumulative bucket
//! counters cost at most `LATENCY_SERIES` calls per series per flush, whatever the traffic.

/// Linkerd's latency buckets (upper bounds, milliseconds), then `+Inf`.
pub const LATENCY_BUCKETS_MS: [u64; 25] = [
    1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000,
    40000, 50000,
];

/// Counters behind one latency histogram: each bucket, `+Inf`, then `_sum` and `_count`.
pub const LATENCY_SERIES: usize = LATENCY_BUCKETS_MS.len() + 3;
const BUCKETS: usize = LATENCY_BUCKETS_MS.len() + 1;
/// Indices of `_sum` and `_count` among the `LATENCY_SERIES`.
pub const SUM: usize = BUCKETS;
pub const COUNT: usize = BUCKETS + 1;

/// One part of a latency histogram, by its index in `0..LATENCY_SERIES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyPart {
    /// `_bucket` with this upper bound (`None`: `+Inf`).
    Bucket(Option<u64>),
    Sum,
    Count,
}

pub fn latency_part(index: usize) -> LatencyPart {
    match index {
        SUM => LatencyPart::Sum,
        COUNT => LatencyPart::Count,
        i => LatencyPart::Bucket(LATENCY_BUCKETS_MS.get(i).copied()),
    }
}

/// Latency samples since the last flush: a count per bucket (not yet cumulative) and their sum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Per flush period, so u32 is plenty.
    pending: [u32; BUCKETS],
    sum: u64,
}

impl Latency {
    /// Prometheus `le` semantics: a sample counts in every bucket whose bound is >= it.
    pub fn record(&mut self, ms: u64) {
        let bucket = LATENCY_BUCKETS_MS.iter().take_while(|&&bound| bound < ms).count();
        if let Some(n) = self.pending.get_mut(bucket) {
            *n = n.saturating_add(1);
        }
        self.sum = self.sum.saturating_add(ms);
    }

    /// Hands every non-zero delta since the last drain to `emit(series index, delta)`: the
    /// cumulative bucket counts, the sum and the count; then starts afresh.
    pub fn drain(&mut self, mut emit: impl FnMut(usize, u64)) {
        let mut running = 0u64;
        for (index, n) in self.pending.iter().enumerate() {
            running = running.saturating_add(u64::from(*n));
            if running > 0 {
                emit(index, running);
            }
        }
        if self.sum > 0 {
            emit(SUM, self.sum);
        }
        if running > 0 {
            emit(COUNT, running);
        }
        *self = Latency::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(latency: &mut Latency) -> Vec<(LatencyPart, u64)> {
        let mut out = Vec::new();
        latency.drain(|i, d| out.push((latency_part(i), d)));
        out
    }

    #[test]
    fn buckets_are_cumulative_with_inclusive_bounds() {
        let mut latency = Latency::default();
        for ms in [0, 1, 2, 45, 60_000] {
            latency.record(ms);
        }
        let out = drained(&mut latency);
        let bucket = |le: Option<u64>| out.iter().find(|(p, _)| *p == LatencyPart::Bucket(le)).map(|(_, d)| *d);
        assert_eq!(bucket(Some(1)), Some(2), "0 and 1 ms are <= 1");
        assert_eq!(bucket(Some(2)), Some(3));
        assert_eq!(bucket(Some(40)), Some(3));
        assert_eq!(bucket(Some(50)), Some(4));
        assert_eq!(bucket(Some(50000)), Some(4));
        assert_eq!(bucket(None), Some(5));
        assert!(out.contains(&(LatencyPart::Sum, 60_048)));
        assert!(out.contains(&(LatencyPart::Count, 5)));
        assert_eq!(out.len(), LATENCY_SERIES);
    }

    #[test]
    fn a_drain_empties_and_skips_zero_deltas() {
        let mut latency = Latency::default();
        latency.record(300);
        let out = drained(&mut latency);
        assert_eq!(out.first(), Some(&(LatencyPart::Bucket(Some(300)), 1)), "no delta for buckets below the sample");
        assert!(drained(&mut latency).is_empty(), "nothing pending after a drain");
        latency.record(0);
        assert!(!drained(&mut latency).iter().any(|(p, _)| *p == LatencyPart::Sum), "a zero sum is not emitted");
    }

    #[test]
    fn parts_cover_every_index() {
        assert_eq!(latency_part(0), LatencyPart::Bucket(Some(1)));
        assert_eq!(latency_part(BUCKETS - 2), LatencyPart::Bucket(Some(50000)));
        assert_eq!(latency_part(BUCKETS - 1), LatencyPart::Bucket(None));
        assert_eq!(latency_part(SUM), LatencyPart::Sum);
        assert_eq!(latency_part(COUNT), LatencyPart::Count);
    }
}
