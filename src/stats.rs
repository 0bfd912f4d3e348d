//! Envoy stats for the filter's own metrics. Each series is defined once per VM and its ids
//! cached; a request only adds to this worker's pending counts (no host call), and the root
//! context's timer flushes them as counter increments (see `routegen_core::tally`).

use crate::host;
use log::warn;
use routegen_core::metrics::{self, Classification, Labels, Metric, MetricNames, MetricsConfig};
use routegen_core::tally::{self, Latency, LATENCY_SERIES};
use std::cell::RefCell;

/// Which route a request is counted under: a global route id, the default, an auto name (its
/// slot in this worker's namer) or the auto overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteKey {
    Route(usize),
    Default,
    Auto(u32),
    Overflow,
}

/// One request's facts at log time.
pub struct Observation<'a> {
    pub route: RouteKey,
    /// The `route` label: the route's name, the default's, or `unknown`.
    pub label: &'a str,
    /// The matched service (index, and its label: its first host), where the config has
    /// services; `Some((None, "unknown"))` for a request no service took.
    pub service: Option<(Option<usize>, &'a str)>,
    pub classification: Classification,
    pub status: u32,
    pub duration_ms: u64,
}

/// Which series of a route (and service): Linkerd's request counter, the response counter for a
/// classification and status, or the latency histogram.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Series {
    Requests(Option<usize>),
    Responses(Option<usize>, Classification, u32),
    Duration(Option<usize>),
    /// `<prefix>_auto_overflow_total` (kept with the overflow name's series).
    AutoOverflow,
}

/// A series' Envoy counter ids and what this worker has counted since the last flush.
enum Tally {
    Counter { id: u32, pending: u64 },
    Latency(Box<([u32; LATENCY_SERIES], Latency)>),
}

impl Tally {
    fn flush(&mut self, latency: bool) {
        match self {
            Tally::Counter { id, pending } => {
                if *pending > 0 {
                    host::add(*id, std::mem::take(pending));
                }
            }
            Tally::Latency(tally) if latency => tally.1.drain(|index, delta| {
                if let Some(&id) = tally.0.get(index) {
                    host::add(id, delta);
                }
            }),
            Tally::Latency(_) => {}
        }
    }
}

type Tallied = Vec<(Series, Tally)>;

/// Each series' ids and pending counts, per route, auto name, the default and the overflow
/// (indexed by `slot`). A route has a handful of series, so a short scan finds one; no hashing
/// on the request path.
#[derive(Default)]
struct Tallies(Vec<Tallied>);

/// One index space for every `RouteKey`: routes and auto names interleaved after the default
/// and the overflow.
fn slot(route: RouteKey) -> usize {
    match route {
        RouteKey::Default => 0,
        RouteKey::Overflow => 1,
        RouteKey::Route(id) => 2 * id + 2,
        RouteKey::Auto(slot) => 2 * slot as usize + 3,
    }
}

/// This worker's metrics: a request only adds to VM memory; `flush` (on the root context's
/// tick and at VM teardown) turns the pending counts into counter increments.
#[derive(Default)]
pub struct Stats {
    tallies: RefCell<Tallies>,
}

impl Stats {
    pub fn record(&self, config: &MetricsConfig, seen: &Observation<'_>) {
        let Ok(mut tallies) = self.tallies.try_borrow_mut() else { return };
        let status_key = match config.status_label {
            metrics::StatusLabel::Code => seen.status,
            metrics::StatusLabel::Class => seen.status / 100,
            metrics::StatusLabel::None => 0,
        };
        let service = seen.service.and_then(|(index, _)| index);
        let labels = Labels { route: seen.label, service: seen.service.map(|(_, label)| label) };
        let Some(known) = tallies.series(seen.route) else { return };
        if config.names == MetricNames::Linkerd {
            let name = || metrics::series_name(config, Metric::Requests, &labels, "");
            count(known, Series::Requests(service), &name);
        }
        let name = || {
            let status = metrics::status_label(seen.status, config.status_label);
            metrics::series_name(config, Metric::Responses(seen.classification), &labels, &status)
        };
        count(known, Series::Responses(service, seen.classification, status_key), &name);
        let series = Series::Duration(service);
        if let Some(Tally::Latency(latency)) = find_or_define(known, series, &|| latency(config, &labels)) {
            latency.1.record(seen.duration_ms);
        }
    }

    /// Sends the pending counts to Envoy, one increment per counter that moved; the latency
    /// histograms' only with `latency` (up to 28 increments per series: flushed less often).
    pub fn flush(&self, latency: bool) {
        let Ok(mut tallies) = self.tallies.try_borrow_mut() else { return };
        for list in &mut tallies.0 {
            list.iter_mut().for_each(|(_, tally)| tally.flush(latency));
        }
    }

    /// Counts a request that got the overflow name (a flood is when it is busiest).
    pub fn count_overflow(&self, prefix: &str) {
        if let Some(list) = self.tallies.try_borrow_mut().ok().as_mut().and_then(|t| t.series(RouteKey::Overflow)) {
            count(list, Series::AutoOverflow, &|| metrics::auto_overflow_name(prefix));
        }
    }
}

impl Tallies {
    fn series(&mut self, route: RouteKey) -> Option<&mut Tallied> {
        let index = slot(route);
        if self.0.len() <= index {
            self.0.resize_with(index + 1, Vec::new);
        }
        self.0.get_mut(index)
    }
}

/// Adds one to a counter series (defined on its first use).
fn count(known: &mut Tallied, series: Series, name: &dyn Fn() -> String) {
    if let Some(Tally::Counter { pending, .. }) = find_or_define(known, series, &|| counter(&name())) {
        *pending += 1;
    }
}

/// `define` is a `dyn` closure: one copy of this function in the module, not one per call site.
fn find_or_define<'a>(
    known: &'a mut Tallied,
    series: Series,
    define: &dyn Fn() -> Option<Tally>,
) -> Option<&'a mut Tally> {
    let index = match known.iter().position(|(s, _)| *s == series) {
        Some(index) => index,
        None => {
            known.push((series, define()?));
            known.len() - 1
        }
    };
    known.get_mut(index).map(|(_, tally)| tally)
}

fn define(kind: u32, name: &str) -> Option<u32> {
    let id = host::define_metric(kind, name).ok();
    if id.is_none() {
        warn!("routegen: cannot define metric {name}");
    }
    id
}

fn counter(name: &str) -> Option<Tally> {
    Some(Tally::Counter { id: define(host::COUNTER, name)?, pending: 0 })
}

/// The latency histogram's counters (every bucket, `_sum`, `_count`), all defined or none.
fn latency(config: &MetricsConfig, labels: &Labels<'_>) -> Option<Tally> {
    let mut ids = [0u32; LATENCY_SERIES];
    for (index, id) in ids.iter_mut().enumerate() {
        *id = define(host::COUNTER, &metrics::latency_series_name(config, labels, tally::latency_part(index)))?;
    }
    Some(Tally::Latency(Box::new((ids, Latency::default()))))
}

/// Sets `<prefix>_auto_names` to the process-wide count of admitted auto names (on each
/// admission, so rare).
pub fn set_auto_names(prefix: &str, count: u32) {
    if let Some(id) = define(host::GAUGE, &metrics::auto_names_name(prefix)) {
        let _ = host::record_metric(id, u64::from(count));
    }
}

/// Bumps `<prefix>_errors_total;kind=<kind>`. Rare, so defined on use (Envoy returns the same
/// id for a name it already knows).
pub fn count_error(prefix: &str, kind: &str) {
    if let Some(id) = define(host::COUNTER, &metrics::errors_name(prefix, kind)) {
        host::add(id, 1);
    }
}
