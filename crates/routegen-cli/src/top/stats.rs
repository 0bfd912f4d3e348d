//! The table `top` shows, and per-route accumulation of observed requests.

use super::{ms, percent};
use std::collections::{BTreeMap, VecDeque};

/// One row: a route and its figures (`None`: not known from this source).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub route: String,
    pub requests: u64,
    pub rps: Option<f64>,
    pub success: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Clone, Debug, Default)]
pub struct Table {
    pub rows: Vec<Row>,
    /// A line under the header (what was read, what was skipped).
    pub note: String,
}

impl Table {
    /// Busiest first: by RPS, then requests, then name.
    pub fn sort(&mut self) {
        self.rows.sort_by(|a, b| {
            let rps = b.rps.unwrap_or(0.0).partial_cmp(&a.rps.unwrap_or(0.0)).unwrap_or(std::cmp::Ordering::Equal);
            rps.then(b.requests.cmp(&a.requests)).then(a.route.cmp(&b.route))
        });
    }

    pub fn render(&self, max_rows: usize, header: &str) -> String {
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .take(max_rows)
            .map(|r| {
                vec![
                    r.route.clone(),
                    r.requests.to_string(),
                    r.rps.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".to_string()),
                    percent(r.success),
                    ms(r.p50),
                    ms(r.p95),
                    ms(r.p99),
                ]
            })
            .collect();
        let mut text = format!("{header}\n");
        if !self.note.is_empty() {
            text.push_str(&self.note);
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&crate::common::table(
            &["ROUTE", "REQS", "RPS", "SUCCESS", "P50", "P95", "P99"],
            &rows,
            &[1, 2, 3, 4, 5, 6],
        ));
        if self.rows.len() > max_rows {
            text.push_str(&format!("… and {} more routes (--rows)\n", self.rows.len() - max_rows));
        }
        text
    }
}

/// Latency samples kept per route; past it, a uniform reservoir (so memory stays bounded).
const SAMPLES: usize = 10_000;
/// Seconds the live RPS is averaged over.
pub const RATE_WINDOW: u64 = 10;

/// What is known about one route from individual requests.
#[derive(Debug, Default)]
struct RouteStats {
    requests: u64,
    failures: u64,
    durations: Vec<f64>,
    timed: u64,
    /// (second, requests) of recent arrivals, for the live RPS.
    recent: VecDeque<(u64, u64)>,
}

/// Requests from a log, per route.
#[derive(Debug, Default)]
pub struct Tally {
    routes: BTreeMap<String, RouteStats>,
    /// Earliest and latest logged start time (seconds), for RPS over a whole log.
    span: Option<(f64, f64)>,
    rng: u64,
}

impl Tally {
    /// One request. `second`: when it arrived (for the live RPS), `None` for history.
    pub fn add(
        &mut self,
        route: &str,
        status: Option<u16>,
        duration_ms: Option<f64>,
        start: Option<f64>,
        second: Option<u64>,
    ) {
        if let Some(start) = start {
            self.span = Some(self.span.map_or((start, start), |(a, b)| (a.min(start), b.max(start))));
        }
        let next = self.next_random();
        let stats = self.routes.entry(route.to_string()).or_default();
        stats.requests += 1;
        // Linkerd's rule for HTTP: a 5xx, or no response at all, is a failure.
        if status.map_or(true, |s| s >= 500 || s == 0) {
            stats.failures += 1;
        }
        if let Some(d) = duration_ms.filter(|d| d.is_finite() && *d >= 0.0) {
            stats.timed += 1;
            if stats.durations.len() < SAMPLES {
                stats.durations.push(d);
            } else if let Some(slot) = usize::try_from(next % stats.timed).ok().filter(|&i| i < SAMPLES) {
                stats.durations[slot] = d;
            }
        }
        if let Some(second) = second {
            match stats.recent.back_mut() {
                Some((s, n)) if *s == second => *n += 1,
                _ => stats.recent.push_back((second, 1)),
            }
            while stats.recent.front().is_some_and(|(s, _)| s + RATE_WINDOW <= second) {
                stats.recent.pop_front();
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64: deterministic, so a snapshot of the same log is the same.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The table. `now`/`elapsed`: the live RPS over the last window; `None`: RPS over the
    /// logged time span (one snapshot of a whole log).
    pub fn table(&self, now: Option<(u64, f64)>) -> Table {
        let mut rows = Vec::new();
        for (route, stats) in &self.routes {
            let rps = match now {
                Some((second, elapsed)) => {
                    let recent: u64 =
                        stats.recent.iter().filter(|(s, _)| s + RATE_WINDOW > second).map(|(_, n)| n).sum();
                    Some(recent as f64 / elapsed.clamp(1.0, RATE_WINDOW as f64))
                }
                None => self.span.filter(|(a, b)| b > a).map(|(a, b)| stats.requests as f64 / (b - a)),
            };
            let mut sorted = stats.durations.clone();
            sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            rows.push(Row {
                route: route.clone(),
                requests: stats.requests,
                rps,
                success: (stats.requests > 0).then(|| 1.0 - stats.failures as f64 / stats.requests as f64),
                p50: nearest_rank(&sorted, 0.50),
                p95: nearest_rank(&sorted, 0.95),
                p99: nearest_rank(&sorted, 0.99),
            });
        }
        let mut table = Table { rows, note: String::new() };
        table.sort();
        table
    }
}

/// The nearest-rank percentile of sorted samples.
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// A quantile from cumulative histogram buckets `(upper bound, count)` sorted by bound, as
/// Prometheus' `histogram_quantile` computes it (linear within the bucket).
pub fn bucket_quantile(buckets: &[(f64, f64)], q: f64) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return Some(previous.0);
            }
            let inside = count - previous.1;
            let fraction = if inside > 0.0 { (rank - previous.1) / inside } else { 1.0 };
            return Some(previous.0 + (bound - previous.0) * fraction);
        }
        previous = (bound, count);
    }
    Some(previous.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_fails_and_ranks() {
        let mut tally = Tally::default();
        for i in 1..=100u16 {
            let status = if i % 10 == 0 { 503 } else { 200 };
            tally.add("GET /a", Some(status), Some(f64::from(i)), Some(f64::from(i)), None);
        }
        tally.add("GET /b", None, None, Some(200.0), None);
        let table = tally.table(None);
        let a = &table.rows[0];
        assert_eq!((a.route.as_str(), a.requests, a.success), ("GET /a", 100, Some(0.9)));
        assert_eq!((a.p50, a.p95, a.p99), (Some(50.0), Some(95.0), Some(99.0)));
        assert_eq!(a.rps, Some(100.0 / 199.0));
        let b = &table.rows[1];
        assert_eq!((b.requests, b.success, b.p50), (1, Some(0.0), None), "no response is a failure");
    }

    #[test]
    fn live_rate_is_over_the_last_window() {
        let mut tally = Tally::default();
        for second in 0..20 {
            for _ in 0..(if second < 10 { 1 } else { 5 }) {
                tally.add("r", Some(200), None, None, Some(second));
            }
        }
        tally.add("old", Some(200), None, None, None);
        let table = tally.table(Some((19, 20.0)));
        assert_eq!(table.rows[0].rps, Some(5.0));
        assert_eq!((table.rows[1].route.as_str(), table.rows[1].rps), ("old", Some(0.0)));
    }

    #[test]
    fn reservoir_stays_bounded() {
        let mut tally = Tally::default();
        for i in 0..(3 * SAMPLES) {
            tally.add("r", Some(200), Some(i as f64), None, None);
        }
        assert_eq!(tally.routes["r"].durations.len(), SAMPLES);
        let p50 = tally.table(None).rows[0].p50.unwrap();
        assert!((0.3..0.7).contains(&(p50 / (3 * SAMPLES) as f64)), "{p50}");
    }

    #[test]
    fn bucket_quantiles_like_prometheus() {
        let buckets = [(1.0, 10.0), (10.0, 90.0), (100.0, 100.0), (f64::INFINITY, 100.0)];
        assert_eq!(bucket_quantile(&buckets, 0.5), Some(1.0 + 9.0 * 40.0 / 80.0));
        assert_eq!(bucket_quantile(&buckets, 0.95), Some(10.0 + 90.0 * 0.5));
        assert_eq!(bucket_quantile(&[(1.0, 0.0), (f64::INFINITY, 0.0)], 0.5), None);
        assert_eq!(bucket_quantile(&[(5.0, 1.0), (f64::INFINITY, 4.0)], 0.99), Some(5.0));
    }
}
