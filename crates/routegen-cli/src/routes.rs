//! `routegen routes`: the `linkerd viz routes` table, from Prometheus, for Istio or Envoy.
//!
//! One row per (route, service) seen in the window, plus every route of `--config` that had no
//! traffic and the default route, like Linkerd, which lists configured routes even when idle.
//! Success is the share of requests that are not failures (Istio: not a 5xx `response_code`;
//! Envoy: routegen's own `classification`), RPS the increase over the window divided by it,
//! latencies `histogram_quantile` over the window's rate of the duration buckets.

use crate::common::{self, Exit, Format, Result};
use crate::prom::{quote, Prometheus, Sample};
use crate::EXIT_OK;
use routegen_core::engine::Mode;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Per-route success rate, RPS and latency percentiles from Prometheus.
///
/// --source istio reads `istio_requests_total{route_name}` and
/// `istio_request_duration_milliseconds_bucket` (reporter waypoint or destination; SERVICE is
/// destination_service_name, filtered by --namespace / --service). --source envoy reads
/// routegen's own `routegen_requests_total{route,classification}` and
/// `routegen_request_duration_milliseconds_bucket{route}` (SERVICE is the scrape job;
/// --namespace filters on a `namespace` label, --service on `job`). --source linkerd reads
/// Linkerd's route metrics, as Linkerd proxies and routegen with `metrics.names: linkerd` emit
/// them: `route_response_total{dst,rt_route,classification}` and
/// `route_response_latency_ms_bucket{dst,rt_route}` (SERVICE is `dst`, --service filters on it).
/// Plain http only: for a cluster Prometheus, port-forward it first.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  kubectl -n istio-system port-forward svc/prometheus 9090 &\n  routegen routes --prometheus http://localhost:9090 --namespace books --config routes.json\n  routegen routes --prometheus http://localhost:9090 --source envoy --window 5m -o json\n\n\
Columns: ROUTE SERVICE SUCCESS RPS LATENCY_P50 LATENCY_P95 LATENCY_P99; '-' means no requests in the window.\n\
Exit status: 0 table printed, 1 invalid --config, 2 Prometheus unreachable or refused a query."
)]
pub struct Args {
    /// Prometheus base URL (http://host:port[/prefix]).
    #[arg(long)]
    prometheus: String,
    /// Only this namespace (Istio: destination_service_namespace).
    #[arg(long)]
    namespace: Option<String>,
    /// Only this service (Istio: destination_service_name; Envoy: the scrape job).
    #[arg(long)]
    service: Option<String>,
    /// The time window (a Prometheus duration: 30s, 1m, 5m, 1h).
    #[arg(long, default_value = "1m")]
    window: String,
    /// Which metrics to read.
    #[arg(long, value_enum, default_value = "istio")]
    source: Source,
    /// The routegen configuration: its routes are listed even without traffic.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output format: table, json or yaml.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    output: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    Istio,
    Envoy,
    Linkerd,
}

/// Metric and label names of one source.
pub(crate) struct Schema {
    requests: String,
    duration: String,
    route: &'static str,
    service: &'static str,
    selector: Vec<String>,
    failure: String,
}

#[derive(Default, Debug, Clone)]
pub(crate) struct Row {
    pub requests: f64,
    pub failures: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

pub fn run(args: Args) -> Result<u8> {
    let seconds = window_seconds(&args.window)
        .ok_or_else(|| Exit::usage(format!("--window '{}': expected a duration like 30s, 1m, 5m, 1h", args.window)))?;
    let configured = match &args.config {
        Some(path) => Some(configured_routes(path)?),
        None => None,
    };
    let prefix = configured.as_ref().map(|c| c.prefix.clone()).unwrap_or_else(|| "routegen".to_string());
    // Each source's names; the --namespace and --service filters go on its own labels.
    let (mut schema, namespace_label) = schema(args.source, &prefix);
    schema.selector.extend(args.namespace.as_ref().map(|ns| format!("{namespace_label}={}", quote(ns))));
    schema.selector.extend(args.service.as_ref().map(|s| format!("{}={}", schema.service, quote(s))));
    let prometheus = Prometheus::new(&args.prometheus)?;
    let rows = collect(&prometheus, &schema, &args.window)?;
    let rows = with_configured(rows, configured.as_ref(), args.service.as_deref(), args.source);
    print!("{}", render(&rows, seconds, args.output)?);
    Ok(EXIT_OK)
}

/// Each source's metric and label names, and the label --namespace filters on.
pub(crate) fn schema(source: Source, prefix: &str) -> (Schema, &'static str) {
    match source {
        Source::Istio => (
            Schema {
                requests: "istio_requests_total".into(),
                duration: "istio_request_duration_milliseconds_bucket".into(),
                route: "route_name",
                service: "destination_service_name",
                selector: vec!["reporter=~\"waypoint|destination\"".to_string()],
                failure: "response_code=~\"5..\"".into(),
            },
            "destination_service_namespace",
        ),
        Source::Envoy => (
            Schema {
                requests: format!("{prefix}_requests_total"),
                duration: format!("{prefix}_request_duration_milliseconds_bucket"),
                route: "route",
                service: "job",
                selector: Vec::new(),
                failure: "classification=\"failure\"".into(),
            },
            "namespace",
        ),
        Source::Linkerd => (
            Schema {
                requests: "route_response_total".into(),
                duration: "route_response_latency_ms_bucket".into(),
                route: "rt_route",
                service: "dst",
                selector: Vec::new(),
                failure: "classification=\"failure\"".into(),
            },
            "namespace",
        ),
    }
}

/// `30s`, `1m`, `1h30m` → seconds.
pub(crate) fn window_seconds(window: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut number = String::new();
    let mut chars = window.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('s', _) => 1.0,
            ('m', _) => 60.0,
            ('h', _) => 3600.0,
            ('d', _) => 86400.0,
            ('w', _) => 604800.0,
            ('y', _) => 31536000.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    (any && number.is_empty() && total > 0.0).then_some(total)
}

pub(crate) type Key = (String, String);

fn selector(schema: &Schema, extra: Option<&str>) -> String {
    let mut parts = schema.selector.clone();
    parts.extend(extra.map(str::to_string));
    format!("{{{}}}", parts.join(","))
}

fn key(schema: &Schema, sample: &Sample) -> Key {
    let label = |name: &str| sample.labels.get(name).cloned().unwrap_or_default();
    (label(schema.route), label(schema.service))
}

pub(crate) fn collect(prometheus: &Prometheus, schema: &Schema, window: &str) -> Result<BTreeMap<Key, Row>> {
    let by = format!("{}, {}", schema.route, schema.service);
    let mut rows: BTreeMap<Key, Row> = BTreeMap::new();
    let totals = prometheus.query(&format!(
        "sum by ({by}) (increase({}{}[{window}]))",
        schema.requests,
        selector(schema, None)
    ))?;
    for sample in &totals {
        rows.entry(key(schema, sample)).or_default().requests = sample.value;
    }
    let failures = prometheus.query(&format!(
        "sum by ({by}) (increase({}{}[{window}]))",
        schema.requests,
        selector(schema, Some(&schema.failure))
    ))?;
    for sample in &failures {
        rows.entry(key(schema, sample)).or_default().failures = sample.value;
    }
    for q in [0.5, 0.95, 0.99] {
        let latency = prometheus.query(&format!(
            "histogram_quantile({q}, sum by (le, {by}) (rate({}{}[{window}])))",
            schema.duration,
            selector(schema, None)
        ))?;
        for sample in &latency {
            let Some(row) = rows.get_mut(&key(schema, sample)) else { continue };
            let value = sample.value.is_finite().then_some(sample.value);
            match q {
                0.5 => row.p50 = value,
                0.95 => row.p95 = value,
                _ => row.p99 = value,
            }
        }
    }
    Ok(rows)
}

/// The routes a configuration names, with the service each belongs to when it says so.
struct Configured {
    /// (route name, service hint)
    routes: Vec<(String, Option<String>)>,
    default: Option<String>,
    prefix: String,
}

fn configured_routes(path: &std::path::Path) -> Result<Configured> {
    let loaded = common::load(path)?;
    match &loaded.engine.mode {
        Mode::Native(plan) => {
            let mut routes: Vec<(String, Option<String>)> =
                plan.fallback.routes.iter().map(|r| (r.name.clone(), None)).collect();
            for service in &plan.services {
                // The Kubernetes service name: the first host's first label.
                let name = service.hosts.first().map(|h| h.split(['.', ':']).next().unwrap_or(h).to_string());
                routes.extend(service.table.routes.iter().map(|r| (r.name.clone(), name.clone())));
                if let Some(default) = &service.default {
                    routes.push((default.clone(), name.clone()));
                }
            }
            Ok(Configured { routes, default: plan.default.clone(), prefix: plan.metrics.prefix.clone() })
        }
        Mode::Attributegen(attributes) => {
            let routes = attributes
                .first()
                .map(|a| a.matches.iter().map(|m| (m.value.clone(), None)).collect())
                .unwrap_or_default();
            Ok(Configured { routes, default: None, prefix: "routegen".to_string() })
        }
    }
}

/// Adds a no-data row for every configured route (and the default) missing from the data.
fn with_configured(
    mut rows: BTreeMap<Key, Row>,
    configured: Option<&Configured>,
    service: Option<&str>,
    source: Source,
) -> Vec<(Key, Option<Row>)> {
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    if let Some(configured) = configured {
        names.extend(configured.routes.iter().cloned());
        let default = configured.default.clone().unwrap_or_else(|| {
            if source == Source::Istio {
                "unknown".into()
            } else {
                "[DEFAULT]".into()
            }
        });
        names.push((default, None));
    } else if rows.is_empty() {
        names.push(("[DEFAULT]".to_string(), None));
    }
    // Idle routes with no service of their own join the data's service when there is just one.
    let services: std::collections::BTreeSet<&String> = rows.keys().map(|(_, s)| s).collect();
    let only_service = if services.len() == 1 { services.into_iter().next().cloned() } else { None };
    let mut out: Vec<(Key, Option<Row>)> = Vec::new();
    for (name, hint) in names {
        if rows.keys().any(|(route, _)| *route == name) || out.iter().any(|((route, _), _)| *route == name) {
            continue;
        }
        let service = hint.or(service.map(str::to_string)).or(only_service.clone()).unwrap_or_else(|| "-".to_string());
        out.push(((name, service), None));
    }
    out.extend(std::mem::take(&mut rows).into_iter().map(|(k, v)| (k, Some(v))));
    // Linkerd's order: by service, then route, the default rows last.
    let defaults: Vec<String> = configured.map(|c| c.default.clone().into_iter().collect()).unwrap_or_default();
    let is_default = |route: &str| route == "[DEFAULT]" || route == "unknown" || defaults.iter().any(|d| d == route);
    out.sort_by(|((ra, sa), _), ((rb, sb), _)| (sa, is_default(ra), ra).cmp(&(sb, is_default(rb), rb)));
    out
}

fn render(rows: &[(Key, Option<Row>)], seconds: f64, format: Format) -> Result<String> {
    let success = |row: &Row| (row.requests > 0.0).then(|| (row.requests - row.failures).max(0.0) / row.requests);
    let ms = |v: Option<f64>| v.map(|v| format!("{}ms", v.round() as i64)).unwrap_or_else(|| "-".to_string());
    match format {
        Format::Json | Format::Yaml => {
            let list: Vec<Value> = rows
                .iter()
                .map(|((route, service), row)| {
                    let row = row.clone().unwrap_or_default();
                    json!({
                        "route": route,
                        "service": service,
                        "requests": row.requests,
                        "success": success(&row),
                        "rps": row.requests / seconds,
                        "latency_ms_p50": row.p50,
                        "latency_ms_p95": row.p95,
                        "latency_ms_p99": row.p99,
                    })
                })
                .collect();
            common::to_text(&json!({"window_seconds": seconds, "routes": list}), format)
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|((route, service), row)| {
                    let row = row.clone().unwrap_or_default();
                    vec![
                        route.clone(),
                        service.clone(),
                        success(&row).map(|s| format!("{:.2}%", s * 100.0)).unwrap_or_else(|| "-".to_string()),
                        format!("{:.1}rps", row.requests / seconds),
                        ms(row.p50),
                        ms(row.p95),
                        ms(row.p99),
                    ]
                })
                .collect();
            Ok(common::table(
                &["ROUTE", "SERVICE", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"],
                &cells,
                &[1, 2, 3, 4, 5, 6],
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(window_seconds("1m"), Some(60.0));
        assert_eq!(window_seconds("30s"), Some(30.0));
        assert_eq!(window_seconds("1h30m"), Some(5400.0));
        assert_eq!(window_seconds("500ms"), Some(0.5));
        assert_eq!(window_seconds("5"), None);
        assert_eq!(window_seconds("x"), None);
    }

    #[test]
    fn table_shape() {
        let rows = vec![
            (
                ("GET /books/{id}".to_string(), "webapp".to_string()),
                Some(Row { requests: 72.0, failures: 0.0, p50: Some(18.0), p95: Some(29.0), p99: Some(30.0) }),
            ),
            (("[DEFAULT]".to_string(), "webapp".to_string()), None),
        ];
        let text = render(&rows, 60.0, Format::Table).unwrap();
        assert_eq!(
            text,
            "ROUTE             SERVICE   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99\n\
             GET /books/{id}    webapp   100.00%   1.2rps          18ms          29ms          30ms\n\
             [DEFAULT]          webapp         -   0.0rps             -             -             -\n"
        );
    }
}
