//! Where `top` reads from: a followed access log, Envoy's admin endpoint, or Prometheus.

use super::stats::{bucket_quantile, Row, Table, Tally};
use super::Args;
use crate::common::{self, Exit, Result};
use crate::prom::Prometheus;
use crate::routes::{self, Source as PromSource};
use crate::traffic::attribution::Attributor;
use crate::traffic::read::{self, LogSummary};
use crate::traffic::Observation;
use routegen_core::engine::{Mode, NativePlan};
use std::collections::BTreeMap;
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub enum Source {
    Log(Box<LogFollower>),
    Admin(Admin),
    Prometheus { client: Prometheus, source: PromSource, url: String },
}

impl Source {
    pub fn open(args: &Args) -> Result<Source> {
        if let Some(path) = &args.follow {
            return Ok(Source::Log(Box::new(LogFollower::open(path.clone(), args.config.as_deref())?)));
        }
        if args.config.is_some() {
            return Err(Exit::usage(
                "--config names log lines: it goes with --follow (metrics carry their route names already)",
            ));
        }
        if let Some(url) = &args.envoy_admin {
            return Ok(Source::Admin(Admin {
                client: Prometheus::endpoint(url, "Envoy's admin endpoint")?,
                url: url.clone(),
                previous: None,
            }));
        }
        let url = args.prometheus.clone().unwrap_or_default();
        Ok(Source::Prometheus { client: Prometheus::new(&url)?, source: args.source, url })
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Log(log) => format!("routegen top   access log {} ({})", log.path.display(), log.naming),
            Source::Admin(admin) => {
                format!("routegen top   Envoy {} (the filter's metrics; latency since Envoy started)", admin.url)
            }
            Source::Prometheus { url, source, .. } => {
                format!("routegen top   Prometheus {url} ({source:?} metrics, last 1m)")
            }
        }
    }

    /// The table now. `once`: a single snapshot (a whole log's RPS over its time span; the
    /// admin endpoint read twice `interval` apart, for a rate).
    pub fn snapshot(&mut self, interval: Duration, once: bool) -> Result<Table> {
        match self {
            Source::Log(log) => log.snapshot(once),
            Source::Admin(admin) => {
                if once {
                    admin.snapshot()?;
                    std::thread::sleep(interval);
                }
                admin.snapshot()
            }
            Source::Prometheus { client, source, .. } => prometheus_table(client, *source),
        }
    }
}

/// An access log read to its end, then followed as it grows (truncated or replaced by
/// rotation: read again from the start).
pub struct LogFollower {
    path: PathBuf,
    file: Option<std::fs::File>,
    position: u64,
    partial: Vec<u8>,
    naming: &'static str,
    /// Names from --config win over the log's own `route` field.
    use_config: bool,
    namer: Attributor<'static>,
    tally: Tally,
    summary: LogSummary,
    started: Instant,
    /// What is in the log before the first snapshot is history: counted, not in the live RPS.
    history: bool,
}

/// Bytes read per refresh at most (a burst is caught up over several refreshes).
const MAX_READ: u64 = 64 << 20;

impl LogFollower {
    fn open(path: PathBuf, config: Option<&std::path::Path>) -> Result<LogFollower> {
        let plan = match config {
            Some(config) => native_plan(common::load(config)?.engine.mode)?,
            None => {
                let document = serde_json::json!({"routes": [], "auto": {}});
                native_plan(common::compile_value(&document).map_err(|e| Exit::invalid(e.to_string()))?.0.mode)?
            }
        };
        // The configuration lives as long as the command.
        let plan: &'static NativePlan = Box::leak(Box::new(plan));
        let naming =
            if config.is_some() { "names from --config" } else { "names from the log's route field, else auto names" };
        Ok(LogFollower {
            path,
            file: None,
            position: 0,
            partial: Vec::new(),
            naming,
            use_config: config.is_some(),
            namer: Attributor::new(plan),
            tally: Tally::default(),
            summary: LogSummary::default(),
            started: Instant::now(),
            history: true,
        })
    }

    fn snapshot(&mut self, once: bool) -> Result<Table> {
        self.read_new(once)?;
        let elapsed = self.started.elapsed();
        let mut table = self.tally.table((!once).then_some((elapsed.as_secs(), elapsed.as_secs_f64())));
        table.note = format!("{} requests read, {} bad lines", self.summary.requests, self.summary.bad);
        if once && !self.summary.examples.is_empty() {
            table.note.push_str(&format!(", e.g.\n  {}", self.summary.examples.join("\n  ")));
        }
        self.history = false;
        Ok(table)
    }

    fn read_new(&mut self, once: bool) -> Result<()> {
        let unreadable = |e: std::io::Error| Exit::usage(format!("cannot read {}: {e}", self.path.display()));
        if self.file.is_none() || self.replaced() {
            let mut file = std::fs::File::open(&self.path).map_err(unreadable)?;
            let mut magic = [0u8; 2];
            let gzip = file.read(&mut magic).map(|n| n == 2 && magic == [0x1f, 0x8b]).unwrap_or(false);
            if gzip {
                // A compressed log does not grow: read it whole, once.
                if self.position == 0 {
                    let mut reader = read::open(&self.path)?;
                    self.position = 1;
                    return self.feed(&mut reader);
                }
                return Ok(());
            }
            self.file = Some(file);
            self.position = 0;
            self.partial.clear();
        }
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        let length = file.metadata().map_err(unreadable)?.len();
        if length < self.position {
            self.position = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.position)).map_err(unreadable)?;
        let mut bytes = Vec::new();
        file.take(MAX_READ).read_to_end(&mut bytes).map_err(unreadable)?;
        self.position += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let complete = match self.partial.iter().rposition(|&b| b == b'\n') {
            Some(end) => self.partial.drain(..=end).collect(),
            // A snapshot of a log takes its last line even without a newline.
            None if once => std::mem::take(&mut self.partial),
            None => Vec::new(),
        };
        let mut rest = if once { std::mem::take(&mut self.partial) } else { Vec::new() };
        let mut complete = complete;
        complete.append(&mut rest);
        self.feed(&mut complete.as_slice())
    }

    /// Log rotation replaced the file: the path names another inode now.
    fn replaced(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let (Some(file), Ok(now)) = (&self.file, std::fs::metadata(&self.path)) else { return false };
        file.metadata().map(|open| open.ino() != now.ino() || open.dev() != now.dev()).unwrap_or(false)
    }

    fn feed(&mut self, reader: &mut dyn BufRead) -> Result<()> {
        let second = (!self.history).then(|| self.started.elapsed().as_secs());
        let (namer, tally, use_config) = (&mut self.namer, &mut self.tally, self.use_config);
        let name = self.path.display().to_string();
        read::read_lines(reader, &name, &mut self.summary, &mut |o: Observation| {
            let route = match (&o.route, use_config) {
                (Some(route), false) => route.clone(),
                _ => {
                    let host = o.authority.as_deref().unwrap_or_default();
                    namer.name(&o.method, &o.path, host).0.unwrap_or_else(|| "(unnamed)".to_string())
                }
            };
            tally.add(&route, o.status, o.duration_ms, o.start, second);
        })
    }
}

fn native_plan(mode: Mode) -> Result<NativePlan> {
    match mode {
        Mode::Native(plan) => Ok(plan),
        Mode::Attributegen(_) => Err(Exit::usage("--config: top names log lines with native configurations; convert attributegen first (routegen import attributegen)")),
    }
}

/// The filter's own metrics, scraped from Envoy's `/stats/prometheus`.
pub struct Admin {
    client: Prometheus,
    url: String,
    /// The previous scrape's request counts, for the rate.
    previous: Option<(Instant, BTreeMap<String, f64>)>,
}

#[derive(Default)]
struct Scraped {
    requests: f64,
    failures: f64,
    /// (le, cumulative count)
    buckets: Vec<(f64, f64)>,
}

impl Admin {
    fn snapshot(&mut self) -> Result<Table> {
        let (status, body) = self.client.get("/stats/prometheus")?;
        if status != 200 {
            return Err(Exit::usage(format!("{}/stats/prometheus: HTTP {status}", self.url)));
        }
        let routes = scrape(&String::from_utf8_lossy(&body));
        let now = Instant::now();
        let mut rows = Vec::new();
        for (route, scraped) in &routes {
            let mut buckets = scraped.buckets.clone();
            buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            let rps = self.previous.as_ref().map(|(then, counts)| {
                let before = counts.get(route).copied().unwrap_or(0.0);
                (scraped.requests - before).max(0.0) / now.duration_since(*then).as_secs_f64().max(1e-3)
            });
            rows.push(Row {
                route: route.clone(),
                requests: scraped.requests as u64,
                rps,
                success: (scraped.requests > 0.0).then(|| 1.0 - scraped.failures / scraped.requests),
                p50: bucket_quantile(&buckets, 0.50),
                p95: bucket_quantile(&buckets, 0.95),
                p99: bucket_quantile(&buckets, 0.99),
            });
        }
        self.previous = Some((now, routes.iter().map(|(r, s)| (r.clone(), s.requests)).collect()));
        let mut table = Table { rows, note: String::new() };
        if table.rows.is_empty() {
            let text = String::from_utf8_lossy(&body);
            table.note = if text.contains("_requests_total_route_") || text.contains("route_response_total_dst_") {
                // Without stats_tags Envoy folds the labels into the metric names.
                "routegen metrics have no route label: add the stats_tags of examples/envoy/stats-config.yaml (or `routegen render envoy`) to Envoy's bootstrap".to_string()
            } else {
                "no routegen metrics yet: is \"metrics\": {\"enabled\": true} in the filter's configuration?"
                    .to_string()
            };
        }
        table.sort();
        Ok(table)
    }
}

/// Per route (with its service, when the series have one): requests, failures and latency
/// buckets, from routegen's own names or Linkerd's.
fn scrape(text: &str) -> BTreeMap<String, Scraped> {
    let mut routes: BTreeMap<String, Scraped> = BTreeMap::new();
    for line in text.lines() {
        let Some((name, labels, value)) = sample(line) else { continue };
        let label = |key: &str| labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let (route, linkerd) = match (label("route"), label("rt_route")) {
            (Some(route), _) => (route, false),
            (None, Some(route)) => (route, true),
            _ => continue,
        };
        let key = match label(if linkerd { "dst" } else { "service" }) {
            Some(service) => format!("{route} ({service})"),
            None => route.to_string(),
        };
        let requests = if linkerd { name == "route_response_total" } else { name.ends_with("_requests_total") };
        let bucket = if linkerd {
            name == "route_response_latency_ms_bucket"
        } else {
            name.ends_with("_request_duration_milliseconds_bucket")
        };
        if requests {
            let entry = routes.entry(key).or_default();
            entry.requests += value;
            if label("classification") == Some("failure") {
                entry.failures += value;
            }
        } else if bucket {
            let Some(le) = label("le").and_then(|le| if le == "+Inf" { Some(f64::INFINITY) } else { le.parse().ok() })
            else {
                continue;
            };
            let entry = routes.entry(key).or_default();
            match entry.buckets.iter_mut().find(|(bound, _)| *bound == le) {
                Some((_, count)) => *count += value,
                None => entry.buckets.push((le, value)),
            }
        }
    }
    routes
}

type Labels = Vec<(String, String)>;

/// `name{key="value",…} value` of the Prometheus text format.
fn sample(line: &str) -> Option<(&str, Labels, f64)> {
    if line.starts_with('#') {
        return None;
    }
    let (name, rest) = match line.find('{') {
        Some(open) => (&line[..open], &line[open + 1..]),
        None => {
            let (name, value) = line.split_once(' ')?;
            return Some((name, Vec::new(), value.trim().parse().ok()?));
        }
    };
    let mut labels = Vec::new();
    let mut chars = rest.char_indices().peekable();
    let mut key = String::new();
    let end = loop {
        let (i, c) = chars.next()?;
        match c {
            '}' => break i,
            ',' | ' ' => {}
            '=' => {
                if chars.next()?.1 != '"' {
                    return None;
                }
                let mut value = String::new();
                loop {
                    match chars.next()?.1 {
                        '"' => break,
                        '\\' => match chars.next()?.1 {
                            'n' => value.push('\n'),
                            other => value.push(other),
                        },
                        other => value.push(other),
                    }
                }
                labels.push((std::mem::take(&mut key), value));
            }
            other => key.push(other),
        }
    };
    let value = rest[end + 1..].trim().split(' ').next()?.parse().ok()?;
    Some((name, labels, value))
}

fn prometheus_table(client: &Prometheus, source: PromSource) -> Result<Table> {
    let (schema, _) = routes::schema(source, "routegen");
    let window = 60.0;
    let collected = routes::collect(client, &schema, "1m")?;
    let mut rows: Vec<Row> = collected
        .into_iter()
        .map(|((route, service), row)| Row {
            route: if service.is_empty() { route } else { format!("{route} ({service})") },
            requests: row.requests.round() as u64,
            rps: Some(row.requests / window),
            success: (row.requests > 0.0).then(|| (row.requests - row.failures).max(0.0) / row.requests),
            p50: row.p50,
            p95: row.p95,
            p99: row.p99,
        })
        .collect();
    rows.retain(|r| r.requests > 0 || r.rps.unwrap_or(0.0) > 0.0);
    let mut table = Table { rows, note: "REQS: the last minute's increase".to_string() };
    table.sort();
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrapes_routegen_and_linkerd_series() {
        let text = r#"# TYPE routegen_requests_total counter
routegen_requests_total{route="GET /a",classification="success",status_code="200"} 8
routegen_requests_total{route="GET /a",classification="failure",status_code="503"} 2
routegen_request_duration_milliseconds_bucket{route="GET /a",le="1"} 5
routegen_request_duration_milliseconds_bucket{route="GET /a",le="10"} 10
routegen_request_duration_milliseconds_bucket{route="GET /a",le="+Inf"} 10
route_response_total{dst="books",rt_route="GET /b \"x\"",classification="success"} 3
envoy_cluster_upstream_rq{envoy_cluster_name="x"} 99
"#;
        let routes = scrape(text);
        let a = &routes["GET /a"];
        assert_eq!((a.requests, a.failures, a.buckets.len()), (10.0, 2.0, 3));
        assert_eq!(routes["GET /b \"x\" (books)"].requests, 3.0);
        assert_eq!(routes.len(), 2);
    }
}
