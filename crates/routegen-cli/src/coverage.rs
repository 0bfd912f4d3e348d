//! `routegen coverage`: how much of the observed traffic a configuration names by its routes.

use crate::common::{self, Exit, Format, Result};
use crate::learn::tree::{Learner, Options};
use crate::traffic::attribution::{Attributor, How};
use crate::traffic::read_logs;
use crate::{EXIT_INVALID, EXIT_OK};
use routegen_core::engine::Mode;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;

/// Uncovered templates listed.
const TOP_UNCOVERED: usize = 10;

/// Show what share of the requests in access logs a configuration names by a configured
/// route, by an auto name, by the default or by the overflow name, and the busiest traffic no
/// route names (grouped as `routegen learn` would template it).
///
/// The requests are replayed in log order through the filter's own engine; auto names are
/// simulated as one Envoy process would assign them (one shared cap).
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen coverage routes.json access.log\n  routegen coverage routes.json --min-coverage 95 access.log.gz   # in CI: exit 1 below 95 %\n  routegen coverage routes.json -o json - < access.log\n\n\
Exit status: 0 printed (and at or above --min-coverage), 1 below --min-coverage or invalid configuration, 2 unreadable input."
)]
pub struct Args {
    /// The configuration (native, or a WasmPlugin holding one).
    config: PathBuf,
    /// Access logs (Envoy or Istio default format, JSON lines, METHOD PATH lines; gzip; `-` for stdin).
    #[arg(required = true, value_name = "LOG")]
    logs: Vec<PathBuf>,
    /// Exit 1 when configured routes name less than this share of the requests (percent).
    #[arg(long = "min-coverage", value_name = "PERCENT")]
    min_coverage: Option<f64>,
    /// Output format: table, json or yaml.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    output: Format,
}

#[derive(Default)]
struct Tally {
    requests: [u64; 5],
    paths: [u64; 5],
}

pub fn run(args: Args) -> Result<u8> {
    let loaded = common::load(&args.config)?;
    let Mode::Native(plan) = &loaded.engine.mode else {
        return Err(Exit::usage(
            "coverage reads native configurations; convert attributegen first (routegen import attributegen)",
        ));
    };
    let mut attributor = Attributor::new(plan);
    let mut tally = Tally::default();
    let mut seen = HashSet::new();
    let mut uncovered = Learner::default();
    let summary = read_logs(&args.logs, |o| {
        let host = o.authority.as_deref().unwrap_or_default();
        let (_, how) = attributor.name(&o.method, &o.path, host);
        let i = How::ALL.iter().position(|&h| h == how).unwrap_or(0);
        tally.requests[i] += 1;
        let path = plan.match_path(o.path.as_bytes()).into_owned();
        if seen.insert((o.method.clone(), host.to_ascii_lowercase(), path.clone())) {
            tally.paths[i] += 1;
        }
        if how != How::Route {
            uncovered.add(&o.method, &path, 1);
        }
    })?;
    eprintln!("{}", summary.describe());
    let mut top = uncovered.learn(&Options::default());
    top.sort_by_key(|r| std::cmp::Reverse(r.requests));
    top.truncate(TOP_UNCOVERED);
    let requests: u64 = tally.requests.iter().sum();
    let paths: u64 = tally.paths.iter().sum();
    let share = |n: u64, of: u64| if of == 0 { 0.0 } else { 100.0 * n as f64 / of as f64 };
    let coverage = share(tally.requests[0], requests);
    let text = match args.output {
        Format::Table => {
            let rows: Vec<Vec<String>> = How::ALL
                .iter()
                .enumerate()
                .map(|(i, how)| {
                    vec![
                        how.describe().to_string(),
                        tally.requests[i].to_string(),
                        format!("{:.1}%", share(tally.requests[i], requests)),
                        tally.paths[i].to_string(),
                        format!("{:.1}%", share(tally.paths[i], paths)),
                    ]
                })
                .collect();
            let mut text = format!("{}: {requests} requests, {paths} distinct paths; configured routes name {coverage:.1}% of the requests\n\n", args.config.display());
            text.push_str(&common::table(
                &["NAMED BY", "REQUESTS", "SHARE", "PATHS", "PATH SHARE"],
                &rows,
                &[1, 2, 3, 4],
            ));
            if !top.is_empty() {
                text.push_str("\nbusiest traffic no route names (as routegen learn would template it):\n");
                let rows: Vec<Vec<String>> =
                    top.iter().map(|r| vec![r.name(), r.requests.to_string(), r.example.clone()]).collect();
                text.push_str(&common::table(&["TEMPLATE", "REQUESTS", "EXAMPLE"], &rows, &[1]));
            }
            text
        }
        format => {
            let named_by: serde_json::Map<String, Value> = How::ALL
                .iter()
                .enumerate()
                .map(|(i, how)| {
                    (how.key().to_string(), json!({"requests": tally.requests[i], "share": share(tally.requests[i], requests), "paths": tally.paths[i]}))
                })
                .collect();
            let document = json!({
                "config": args.config.display().to_string(),
                "requests": requests,
                "paths": paths,
                "coverage": coverage,
                "named_by": named_by,
                "uncovered": top.iter().map(|r| json!({"template": r.name(), "requests": r.requests, "example": r.example})).collect::<Vec<_>>(),
            });
            common::to_text(&document, format)?
        }
    };
    print!("{text}");
    match args.min_coverage {
        Some(min) if coverage < min => {
            eprintln!("coverage {coverage:.1}% is below --min-coverage {min}%");
            Ok(EXIT_INVALID)
        }
        _ => Ok(EXIT_OK),
    }
}
