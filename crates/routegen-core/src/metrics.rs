//! Per-route golden metrics for plain Envoy: what to count and how to name it.
//!
//! Outside Istio there is no `istio_requests_total`, so the filter can count requests itself,
//! Linkerd-style: a counter by route, classification and status, and a latency histogram by
//! route. Label values only ever come from configured route names (and the default), never
//! from request data, so cardinality is bounded by the config.
//!
//! Envoy's wasm stats are flat names; labels are carried in the name as `;key=value` pairs
//! and turned into Prometheus labels by Envoy's `stats_config.stats_tags` (see
//! `examples/envoy/envoy.yaml`):
//! `routegen_requests_total;route=GET /books/{id};classification=success;status_code=200`.

use crate::tally::LatencyPart;
use std::fmt;

/// The metric name prefix when the config names none (and for config errors, before any).
pub const DEFAULT_PREFIX: &str = "routegen";

/// gRPC status codes Linkerd counts as failures: Unknown, DeadlineExceeded, PermissionDenied,
/// Internal, Unavailable, DataLoss.
pub const GRPC_FAILURES: &[u32] = &[2, 4, 7, 13, 14, 15];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    pub enabled: bool,
    pub status_label: StatusLabel,
    /// Prefix of every metric name (`routegen` → `routegen_requests_total`).
    pub prefix: String,
    pub names: MetricNames,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: false,
            status_label: StatusLabel::Code,
            prefix: DEFAULT_PREFIX.to_string(),
            names: MetricNames::Routegen,
        }
    }
}

/// Which metric names the filter emits: its own (`<prefix>_requests_total{route, …}`), or
/// Linkerd's proxy route metrics (`route_response_total{dst, rt_route, …}`), so Linkerd's
/// dashboards and `linkerd viz routes` queries work against Envoy unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricNames {
    Routegen,
    Linkerd,
}

/// Where a request went: its route's name and, where the config has services, the service
/// (its first host, or `unknown`). Both are bounded by the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Labels<'a> {
    pub route: &'a str,
    pub service: Option<&'a str>,
}

/// One series a request is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Linkerd's `route_request_total` (routegen's own names count requests in `Responses`).
    Requests,
    Responses(Classification),
    Latency,
}

/// The series name, labels included (`;key=value`), for `metric` under `names`. `status` is the
/// `status_code` label value (empty: no such label).
pub fn series_name(config: &MetricsConfig, metric: Metric, labels: &Labels<'_>, status: &str) -> String {
    let linkerd = config.names == MetricNames::Linkerd;
    let mut name = String::new();
    let base = match (linkerd, metric) {
        (false, Metric::Latency) => "_request_duration_milliseconds",
        (false, _) => "_requests_total",
        (true, Metric::Requests) => "route_request_total",
        (true, Metric::Responses(_)) => "route_response_total",
        (true, Metric::Latency) => "route_response_latency_ms",
    };
    if !linkerd {
        name.push_str(&config.prefix);
    }
    name.push_str(base);
    let mut label = |key: &str, value: &str| {
        name.push(';');
        name.push_str(key);
        name.push('=');
        name.push_str(&value.replace(';', ","));
    };
    match (linkerd, labels.service) {
        (true, service) => label("dst", service.unwrap_or("unknown")),
        (false, Some(service)) => label("service", service),
        (false, None) => {}
    }
    label(if linkerd { "rt_route" } else { "route" }, labels.route);
    if let Metric::Responses(class) = metric {
        label("classification", class.as_str());
        if !status.is_empty() {
            label("status_code", status);
        }
    }
    name
}

/// The counter behind one part of the latency histogram: `series_name`'s latency name with
/// `_bucket` (and `;le=<bound>`), `_sum` or `_count` after the base name, Prometheus-style.
pub fn latency_series_name(config: &MetricsConfig, labels: &Labels<'_>, part: LatencyPart) -> String {
    let name = series_name(config, Metric::Latency, labels, "");
    let (base, tags) = name.split_at(name.find(';').unwrap_or(name.len()));
    let mut out = String::from(base);
    out.push_str(match part {
        LatencyPart::Bucket(_) => "_bucket",
        LatencyPart::Sum => "_sum",
        LatencyPart::Count => "_count",
    });
    out.push_str(tags);
    if let LatencyPart::Bucket(bound) = part {
        out.push_str(";le=");
        match bound {
            Some(bound) => out.push_str(&bound.to_string()),
            None => out.push_str("+Inf"),
        }
    }
    out
}

/// How the status appears in `status_code`: the code (bounded by HTTP itself), its class
/// (`2xx`, fewer series), or not at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusLabel {
    Code,
    Class,
    None,
}

/// An inclusive HTTP status range a route declares to be a failure (`"5xx"`, `"429"`, `"400-403"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusRange {
    pub min: u16,
    pub max: u16,
}

impl StatusRange {
    pub fn parse(text: &str) -> Result<StatusRange, String> {
        let code = |t: &str| -> Result<u16, String> {
            match t.parse::<u16>() {
                Ok(c) if (100..=599).contains(&c) => Ok(c),
                _ => Err(format!("'{text}' is not a status, a range like \"500-503\", or a class like \"5xx\"")),
            }
        };
        let range = if let Some(class) = text.strip_suffix("xx") {
            let first = code(&format!("{class}00"))?;
            StatusRange { min: first, max: first + 99 }
        } else if let Some((low, high)) = text.split_once('-') {
            StatusRange { min: code(low.trim())?, max: code(high.trim())? }
        } else {
            let c = code(text.trim())?;
            StatusRange { min: c, max: c }
        };
        if range.min > range.max {
            return Err(format!("'{text}': the range is empty"));
        }
        Ok(range)
    }

    pub fn contains(&self, status: u32) -> bool {
        (u32::from(self.min)..=u32::from(self.max)).contains(&status)
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Classification {
    Success,
    Failure,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Success => "success",
            Classification::Failure => "failure",
        }
    }
}

/// Linkerd's classification, in order:
/// 1. no response (status 0: a reset or a local abort before headers) is a failure;
/// 2. a route's declared `failure_classes` decide the HTTP status;
/// 3. a gRPC response (`grpc-status` in trailers or headers) fails on the codes above;
/// 4. otherwise 5xx is a failure.
pub fn classify(status: u32, grpc_status: Option<u32>, failure_classes: Option<&[StatusRange]>) -> Classification {
    let declared = failure_classes.map(|classes| classes.iter().any(|range| range.contains(status)));
    let failed = match (status, declared, grpc_status) {
        (0, _, _) | (_, Some(true), _) => true,
        (_, _, Some(grpc)) => GRPC_FAILURES.contains(&grpc),
        (_, Some(false), None) => false,
        (_, None, None) => status >= 500,
    };
    if failed {
        Classification::Failure
    } else {
        Classification::Success
    }
}

/// The `status_code` label value.
pub fn status_label(status: u32, mode: StatusLabel) -> String {
    match mode {
        StatusLabel::Code => status.to_string(),
        StatusLabel::Class if (100..=599).contains(&status) => format!("{}xx", status / 100),
        StatusLabel::Class => "other".to_string(),
        StatusLabel::None => String::new(),
    }
}

// Envoy stat names cannot carry our `;` separator inside a label value: `series_name` replaces
// it with `,` in route names (documented; names are the operator's own).

/// Gauge: distinct auto names admitted in this Envoy process (at most `auto.max_names`).
pub fn auto_names_name(prefix: &str) -> String {
    format!("{prefix}_auto_names")
}

/// Counter: requests that got the `auto.overflow` name because the cap was reached.
pub fn auto_overflow_name(prefix: &str) -> String {
    format!("{prefix}_auto_overflow_total")
}

/// Operator-facing error counter: `kind` is `config`, `evaluation` or `host`.
pub fn errors_name(prefix: &str, kind: &str) -> String {
    format!("{prefix}_errors_total;kind={kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges() {
        assert_eq!(StatusRange::parse("5xx").unwrap(), StatusRange { min: 500, max: 599 });
        assert_eq!(StatusRange::parse("429").unwrap(), StatusRange { min: 429, max: 429 });
        assert_eq!(StatusRange::parse("400-403").unwrap(), StatusRange { min: 400, max: 403 });
        assert!(StatusRange::parse("6xx").is_err());
        assert!(StatusRange::parse("503-500").unwrap_err().contains("empty"));
        assert!(StatusRange::parse("abc").unwrap_err().contains("not a status"));
        assert_eq!(StatusRange::parse("400-403").unwrap().to_string(), "400-403");
    }

    #[test]
    fn classification_follows_linkerd() {
        use Classification::*;
        assert_eq!(classify(200, None, None), Success);
        assert_eq!(classify(404, None, None), Success);
        assert_eq!(classify(503, None, None), Failure);
        assert_eq!(classify(0, None, None), Failure, "reset before a response");
        let classes = [StatusRange::parse("429").unwrap()];
        assert_eq!(classify(429, None, Some(&classes)), Failure);
        assert_eq!(classify(503, None, Some(&classes)), Success, "declared classes replace the 5xx rule");
        assert_eq!(classify(200, Some(14), None), Failure, "gRPC Unavailable in trailers");
        assert_eq!(classify(200, Some(5), None), Success, "gRPC NotFound is not a failure");
        assert_eq!(classify(200, Some(0), None), Success);
        assert_eq!(classify(0, Some(0), None), Failure);
    }

    #[test]
    fn names_carry_labels() {
        let ours = MetricsConfig::default();
        let books = Labels { route: "GET /books/{id}", service: None };
        let ok = Metric::Responses(Classification::Success);
        assert_eq!(
            series_name(&ours, ok, &books, "200"),
            "routegen_requests_total;route=GET /books/{id};classification=success;status_code=200"
        );
        let rg = MetricsConfig { prefix: "rg".into(), ..MetricsConfig::default() };
        let odd = Labels { route: "a;b", service: Some("books") };
        assert_eq!(
            series_name(&rg, Metric::Responses(Classification::Failure), &odd, ""),
            "rg_requests_total;service=books;route=a,b;classification=failure"
        );
        let v12 = Labels { route: "v1.2 x", service: None };
        assert_eq!(
            series_name(&ours, Metric::Latency, &v12, ""),
            "routegen_request_duration_milliseconds;route=v1.2 x"
        );
        let linkerd = MetricsConfig { names: MetricNames::Linkerd, ..MetricsConfig::default() };
        assert_eq!(
            series_name(&linkerd, Metric::Requests, &books, ""),
            "route_request_total;dst=unknown;rt_route=GET /books/{id}"
        );
        assert_eq!(
            series_name(&linkerd, ok, &Labels { service: Some("books:8080"), ..books }, "200"),
            "route_response_total;dst=books:8080;rt_route=GET /books/{id};classification=success;status_code=200"
        );
        assert_eq!(
            series_name(&linkerd, Metric::Latency, &books, ""),
            "route_response_latency_ms;dst=unknown;rt_route=GET /books/{id}"
        );
        assert_eq!(
            latency_series_name(&ours, &books, LatencyPart::Bucket(Some(5))),
            "routegen_request_duration_milliseconds_bucket;route=GET /books/{id};le=5"
        );
        assert_eq!(
            latency_series_name(&linkerd, &books, LatencyPart::Bucket(None)),
            "route_response_latency_ms_bucket;dst=unknown;rt_route=GET /books/{id};le=+Inf"
        );
        assert_eq!(
            latency_series_name(&ours, &odd, LatencyPart::Sum),
            "routegen_request_duration_milliseconds_sum;service=books;route=a,b"
        );
        assert_eq!(
            latency_series_name(&ours, &v12, LatencyPart::Count),
            "routegen_request_duration_milliseconds_count;route=v1.2 x"
        );
        assert_eq!(status_label(503, StatusLabel::Class), "5xx");
        assert_eq!(status_label(0, StatusLabel::Class), "other");
        assert_eq!(status_label(0, StatusLabel::Code), "0");
        assert_eq!(errors_name("routegen", "config"), "routegen_errors_total;kind=config");
    }
}
