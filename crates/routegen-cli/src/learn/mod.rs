//! `routegen learn`: a route table from access logs, for review before it ships.
//!
//! The tree and its rules are in [`tree`]; this is the command: reading logs, leaving what
//! `--config` already names alone, one table per host with `--by-host`, proving every learned
//! route is reachable (each one's example request lands on it with the filter's matcher), and
//! writing JSON or YAML with each learned route's request count as a comment.

pub mod tree;

use crate::common::{self, DocFormat, Exit, Result};
use crate::traffic::read_logs;
use crate::EXIT_OK;
use routegen_core::engine::{Mode, NativePlan, RequestLine};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use tree::{Learned, Learner, Options};

/// Learn a route table from access logs (Envoy or Istio default format, JSON lines, or
/// `METHOD PATH` lines; gzip is read as such; `-` is stdin).
///
/// IDs (numbers, UUIDs, hashes, dates, ...) become parameters by their shape; words become a
/// parameter where many distinct, mostly rare words share one position (user names, slugs),
/// and stay literal where a few are used often (resource names). With --config, requests its
/// routes already name are left out and the learned routes are appended after its own,
/// which stay exactly as they were.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen learn access.log > routes.yaml\n  routegen learn --config routes.json --min-requests 5 -o json access.log.1.gz access.log > routes.new.json\n  kubectl logs deploy/books -c istio-proxy | routegen learn --by-host -"
)]
pub struct Args {
    /// Access logs; `-` reads standard input.
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<PathBuf>,
    /// An existing configuration: its routes come first, unchanged; only traffic they do not name is learned.
    #[arg(long)]
    config: Option<PathBuf>,
    /// One `services` entry per host (the :authority, port dropped) instead of one table.
    #[arg(long = "by-host")]
    by_host: bool,
    /// Drop learned routes with fewer requests.
    #[arg(long = "min-requests", default_value_t = 1, value_name = "N")]
    min_requests: u64,
    /// Keep only the N busiest learned routes (per host with --by-host).
    #[arg(long = "max-routes", value_name = "N")]
    max_routes: Option<usize>,
    /// Distinct words at one position before they can be a parameter.
    #[arg(long, default_value_t = 8, value_name = "N")]
    fanout: usize,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    output: DocFormat,
}

pub fn run(args: Args) -> Result<u8> {
    let (document, engine) = match &args.config {
        Some(path) => {
            let loaded = common::load(path)?;
            (loaded.document, loaded.engine)
        }
        None => {
            // Only for its normalisation: an empty table is no valid configuration by itself.
            let base = json!({"routes": [], "default": "unused"});
            let (engine, _) = common::compile_value(&base).map_err(|e| Exit::invalid(e.to_string()))?;
            (json!({"routes": []}), engine)
        }
    };
    let Mode::Native(plan) = &engine.mode else {
        return Err(Exit::usage(
            "--config: learn extends native configurations; convert attributegen first (routegen import attributegen)",
        ));
    };
    let mut learners: BTreeMap<Option<String>, Learner> = BTreeMap::new();
    let mut named = 0u64;
    let mut too_long = 0u64;
    let summary = read_logs(&args.logs, |o| {
        let host = o.authority.as_deref().unwrap_or_default();
        let line = RequestLine { method: o.method.as_bytes(), path: o.path.as_bytes(), authority: host.as_bytes() };
        if args.config.is_some()
            && plan.decide(&line, &mut HashMap::<String, Vec<u8>>::new(), &mut Vec::new()).route.is_some()
        {
            named += 1;
            return;
        }
        let Some(path) = plan.matchable_path(o.path.as_bytes()) else {
            too_long += 1;
            return;
        };
        let key = if args.by_host && !host.is_empty() { Some(host_of(host)) } else { None };
        learners.entry(key).or_default().add(&o.method, &path, 1);
    })?;
    eprintln!("{}", summary.describe());
    let options = Options { fanout: args.fanout.max(2), min_requests: args.min_requests, max_routes: args.max_routes };
    let mut skipped = too_long;
    let mut tables: Vec<(Option<String>, Vec<Learned>)> = Vec::new();
    for (host, learner) in learners {
        skipped += learner.skipped;
        tables.push((host, learner.learn(&options)));
    }
    let document = extend(document, &tables)?;
    let learned: Vec<&Learned> = tables.iter().flat_map(|(_, routes)| routes).collect();
    let (engine, notes) = common::compile_value(&document).map_err(|e| {
        Exit::invalid(format!("internal error: the learned configuration is invalid ({e}); please report this"))
    })?;
    let Mode::Native(new_plan) = &engine.mode else {
        return Err(Exit::invalid("internal error: not a native configuration"));
    };
    verify(new_plan, &tables);
    for finding in crate::check::review(&engine, &notes) {
        eprintln!("warning: {}: {}", finding.field, finding.message);
    }
    let requests: u64 = learned.iter().map(|r| r.requests).sum();
    let mut line = format!("learned {} routes for {requests} requests", learned.len());
    let left_out = summary.requests - named - skipped - requests;
    if left_out > 0 {
        line.push_str(&format!(" ({left_out} more in routes left out by --min-requests / --max-routes)"));
    }
    if args.config.is_some() {
        line.push_str(&format!("; {named} requests already named by --config's routes"));
    }
    if skipped > 0 {
        line.push_str(&format!(
            "; {skipped} requests not learnable (an empty segment, a method that is not upper case, or longer than limits.max_path_bytes)"
        ));
    }
    eprintln!("{line}");
    let text = common::to_text(&document, args.output.into())?;
    print!("{}", if args.output == DocFormat::Yaml { annotate(&text, &learned) } else { text });
    Ok(EXIT_OK)
}

/// `api.example.com:8080` → `api.example.com` (services match a host on any port), the way
/// the filter strips it when it picks a service.
fn host_of(authority: &str) -> String {
    routegen_core::engine::strip_port(&authority.to_ascii_lowercase()).to_string()
}

fn route_value(route: &Learned) -> Value {
    crate::import::route_value(&route.name(), std::slice::from_ref(&route.method), "path", &route.template, &[])
}

/// The existing document with the learned routes appended: host-less ones to the top-level
/// `routes`, the others to the service of that host (a new one at the end if none has it).
fn extend(document: Value, tables: &[(Option<String>, Vec<Learned>)]) -> Result<Value> {
    let Value::Object(mut document) = document else { return Err(Exit::invalid("--config: not a JSON object")) };
    for (host, routes) in tables {
        if routes.is_empty() {
            continue;
        }
        let values = routes.iter().map(route_value);
        match host {
            None => append(&mut document, "routes", values)?,
            Some(host) => {
                let services = document.entry("services").or_insert_with(|| json!([]));
                let Value::Array(services) = services else {
                    return Err(Exit::invalid("--config: services is not a list"));
                };
                let existing = services.iter_mut().find(|s| {
                    s.get("hosts")
                        .and_then(Value::as_array)
                        .is_some_and(|hosts| hosts.iter().any(|h| h.as_str() == Some(host.as_str())))
                });
                match existing {
                    Some(Value::Object(service)) => append(service, "routes", values)?,
                    _ => services.push(json!({"hosts": [host], "routes": values.collect::<Vec<_>>()})),
                }
            }
        }
    }
    Ok(Value::Object(document))
}

fn append(object: &mut Map<String, Value>, key: &str, values: impl Iterator<Item = Value>) -> Result<()> {
    match object.entry(key).or_insert_with(|| json!([])) {
        Value::Array(list) => {
            list.extend(values);
            Ok(())
        }
        _ => Err(Exit::invalid(format!("--config: {key} is not a list"))),
    }
}

/// Every learned route's example request must land on it (else the table order is wrong).
fn verify(plan: &NativePlan, tables: &[(Option<String>, Vec<Learned>)]) {
    let mut total = 0;
    let mut failed = Vec::new();
    for (host, routes) in tables {
        for route in routes {
            total += 1;
            let line = RequestLine {
                method: route.method.as_bytes(),
                path: route.example.as_bytes(),
                authority: host.as_deref().unwrap_or_default().as_bytes(),
            };
            let decision = plan.decide(&line, &mut HashMap::<String, Vec<u8>>::new(), &mut Vec::new());
            if decision.name != Some(route.name().as_str()) {
                failed.push(format!(
                    "{} {} lands on {:?}, not on its route '{}'",
                    route.method,
                    route.example,
                    decision.name,
                    route.name()
                ));
            }
        }
    }
    eprintln!(
        "verified: {}/{total} learned routes are where their example request lands (the filter's matcher)",
        total - failed.len()
    );
    for failure in failed {
        eprintln!("warning: {failure}");
    }
}

/// YAML with `# N requests, e.g. PATH` after each learned route's line.
fn annotate(yaml: &str, learned: &[&Learned]) -> String {
    let mut pending: Vec<(String, String)> = learned
        .iter()
        .map(|r| {
            let scalar = serde_norway::to_string(&route_value(r)).unwrap_or_default().trim_end().to_string();
            let example: String = r.example.chars().filter(|c| !c.is_control()).take(80).collect();
            (scalar, format!("# {} request{}, e.g. {example}", r.requests, if r.requests == 1 { "" } else { "s" }))
        })
        .collect();
    // Learned routes come after any existing ones: match from the end.
    let mut lines: Vec<String> = yaml.lines().map(str::to_string).collect();
    for line in lines.iter_mut().rev() {
        let item = line.trim_start().strip_prefix("- ").unwrap_or_default();
        if let Some(i) = pending.iter().rposition(|(scalar, _)| scalar == item) {
            let (_, comment) = pending.remove(i);
            line.push_str("  ");
            line.push_str(&comment);
        }
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lose_their_port() {
        assert_eq!(host_of("API.example.com:8080"), "api.example.com");
        assert_eq!(host_of("books"), "books");
        assert_eq!(host_of("[::1]:80"), "[::1]");
    }

    #[test]
    fn existing_routes_stay_in_front_and_hosts_join_their_service() {
        let existing = json!({"default": "other", "routes": ["GET /health"], "services": [{"hosts": ["a"], "routes": ["GET /x"]}]});
        let route = |t: &str| Learned { method: "GET".into(), template: t.into(), requests: 3, example: t.into() };
        let tables = vec![
            (None, vec![route("/b")]),
            (Some("a".to_string()), vec![route("/y")]),
            (Some("c".to_string()), vec![route("/z")]),
        ];
        let extended = extend(existing, &tables).unwrap();
        assert_eq!(
            extended,
            json!({"default": "other", "routes": ["GET /health", "GET /b"], "services": [{"hosts": ["a"], "routes": ["GET /x", "GET /y"]}, {"hosts": ["c"], "routes": ["GET /z"]}]})
        );
        let yaml = annotate(
            &serde_norway::to_string(&extended).unwrap(),
            &tables.iter().flat_map(|(_, r)| r).collect::<Vec<_>>(),
        );
        assert!(yaml.contains("- GET /b  # 3 requests, e.g. /b\n"), "{yaml}");
        assert!(yaml.contains("- GET /health\n"), "{yaml}");
    }
}
