//! Envoy stats for the filter's own metrics. Each series is defined once per VM and its id
//! cached, so a request costs one map lookup and one increment per metric, not a definition.

use crate::host;
use log::warn;
use routegen_core::metrics::{self, Classification, Labels, Metric, MetricNames, MetricsConfig};
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
        let service = seen.service.and_then(|(index, _)| index);
        let labels = Labels { route: seen.label, service: seen.service.map(|(_, label)| label) };
        let name = |metric: Metric| {
            let status = match metric {
                Metric::Responses(_) => metrics::status_label(seen.status, config.status_label),
                _ => String::new(),
            };
            metrics::series_name(config, metric, &labels, &status)
        };
        if config.names == MetricNames::Linkerd {
            if let Some(id) =
                self.cached((seen.route, Series::Requests(service)), &|| name(Metric::Requests), host::COUNTER)
            {
                let _ = host::increment_metric(id, 1);
            }
        }
        let responses = Series::Responses(service, seen.classification, status_key);
        if let Some(id) =
            self.cached((seen.route, responses), &|| name(Metric::Responses(seen.classification)), host::COUNTER)
        {
            let _ = host::increment_metric(id, 1);
        }
        if let Some(id) =
            self.cached((seen.route, Series::Duration(service)), &|| name(Metric::Latency), host::HISTOGRAM)
        {
            let _ = host::record_metric(id, seen.duration_ms);
        }
    }
}

impl Stats {
    /// `name` is a `dyn` closure: one copy of this function in the module, not one per call site.
    fn cached(&self, (route, series): (RouteKey, Series), name: &dyn Fn() -> String, kind: u32) -> Option<u32> {
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
