//! Envoy stats for the filter's own metrics. Each series is defined once per VM and its id
//! cached, so a request costs one map lookup and one increment per metric, not a definition.

use crate::host;
use log::warn;
use routegen_core::metrics::{self, Classification, MetricsConfig};
use std::cell::{Cell, RefCell};

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
    pub classification: Classification,
    pub status: u32,
    pub duration_ms: u64,
}

/// Which series of a route: the request counter for a classification and status, or the
/// latency histogram.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Series {
    Requests(Classification, u32),
    Duration,
}

/// Metric ids per route (index: route id), per auto name (index: slot), and for the default
/// and the overflow. A route has a handful of series, so a short scan finds one; no hashing on
/// the request path.
#[derive(Default)]
pub struct Stats {
    routes: RefCell<Vec<Vec<(Series, u32)>>>,
    auto: RefCell<Vec<Vec<(Series, u32)>>>,
    default: RefCell<Vec<(Series, u32)>>,
    overflow: RefCell<Vec<(Series, u32)>>,
    overflow_counter: Cell<Option<u32>>,
}

impl Stats {
    pub fn record(&self, config: &MetricsConfig, seen: &Observation<'_>) {
        let status_key = match config.status_label {
            metrics::StatusLabel::Code => seen.status,
            metrics::StatusLabel::Class => seen.status / 100,
            metrics::StatusLabel::None => 0,
        };
        let counter = self.cached(
            (seen.route, Series::Requests(seen.classification, status_key)),
            || {
                let status = metrics::status_label(seen.status, config.status_label);
                metrics::requests_name(&config.prefix, seen.label, seen.classification, &status)
            },
            host::COUNTER,
        );
        if let Some(id) = counter {
            let _ = host::increment_metric(id, 1);
        }
        let histogram = self.cached(
            (seen.route, Series::Duration),
            || metrics::duration_name(&config.prefix, seen.label),
            host::HISTOGRAM,
        );
        if let Some(id) = histogram {
            let _ = host::record_metric(id, seen.duration_ms);
        }
    }
}

impl Stats {
    fn cached(&self, (route, series): (RouteKey, Series), name: impl FnOnce() -> String, kind: u32) -> Option<u32> {
        let mut routes = self.routes.try_borrow_mut().ok()?;
        let mut auto = self.auto.try_borrow_mut().ok()?;
        let mut default = self.default.try_borrow_mut().ok()?;
        let mut overflow = self.overflow.try_borrow_mut().ok()?;
        let grow = |list: &mut Vec<Vec<(Series, u32)>>, index: usize| {
            if list.len() <= index {
                list.resize_with(index + 1, Vec::new);
            }
        };
        let known = match route {
            RouteKey::Route(id) => {
                grow(&mut routes, id);
                routes.get_mut(id)?
            }
            RouteKey::Auto(slot) => {
                let slot = slot as usize;
                grow(&mut auto, slot);
                auto.get_mut(slot)?
            }
            RouteKey::Default => &mut *default,
            RouteKey::Overflow => &mut *overflow,
        };
        if let Some(&(_, id)) = known.iter().find(|(s, _)| *s == series) {
            return Some(id);
        }
        let name = name();
        match host::define_metric(kind, &name) {
            Ok(id) => {
                known.push((series, id));
                Some(id)
            }
            Err(status) => {
                warn!("routegen: cannot define metric {name} (status {status})");
                None
            }
        }
    }
}

impl Stats {
    /// Counts a request that got the overflow name (its counter id cached: a flood is when it
    /// is busiest).
    pub fn count_overflow(&self, prefix: &str) {
        let id = match self.overflow_counter.get() {
            Some(id) => Some(id),
            None => host::define_metric(host::COUNTER, &metrics::auto_overflow_name(prefix)).ok(),
        };
        if let Some(id) = id {
            self.overflow_counter.set(Some(id));
            let _ = host::increment_metric(id, 1);
        }
    }
}

/// Sets `<prefix>_auto_names` to the process-wide count of admitted auto names (on each
/// admission, so rare).
pub fn set_auto_names(prefix: &str, count: u32) {
    if let Ok(id) = host::define_metric(host::GAUGE, &metrics::auto_names_name(prefix)) {
        let _ = host::record_metric(id, u64::from(count));
    }
}

/// Bumps `<prefix>_errors_total;kind=<kind>`. Rare, so defined on use (Envoy returns the same
/// id for a name it already knows).
pub fn count_error(prefix: &str, kind: &str) {
    if let Ok(id) = host::define_metric(host::COUNTER, &metrics::errors_name(prefix, kind)) {
        let _ = host::increment_metric(id, 1);
    }
}
