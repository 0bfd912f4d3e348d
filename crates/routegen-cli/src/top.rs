//! `routegen top`: a live per-route table in the terminal, like `linkerd top`.
//!
//! Three sources: an access log being written (`--follow`), Envoy's `/stats/prometheus` (the
//! filter's own metrics), or Prometheus. Each refresh redraws the table in the terminal's
//! alternate screen; Ctrl-C leaves it and restores the cursor. `--once`, or an output that is
//! not a terminal, prints one snapshot instead.

mod sources;
mod stats;

use crate::common::{Exit, Result};
use crate::EXIT_OK;
use sources::Source;
use stats::Table;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Live per-route requests, RPS, success and latency percentiles, refreshed every second.
///
/// From an access log (--follow: what is in it, then what is appended; names from --config
/// as the filter would give them, else the log's `route` field, else auto names), from
/// Envoy's admin endpoint (the filter's own metrics: --envoy-admin), or from Prometheus
/// (--prometheus, with --source as in `routegen routes`). Sorted by RPS. Ctrl-C quits.
#[derive(clap::Args)]
#[command(
    group(clap::ArgGroup::new("from").required(true).args(["follow", "envoy_admin", "prometheus"])),
    after_help = "Examples:\n  routegen top --follow /var/log/envoy/access.log --config routes.json\n  routegen top --envoy-admin http://127.0.0.1:9901\n  routegen top --prometheus http://localhost:9090 --source istio\n  routegen top --follow access.log --once        # one snapshot of the whole log\n\n\
Columns: ROUTE REQS (since start) RPS (last 10 s; with --once on a log, over the log's time span) SUCCESS (not 5xx / not a failure) P50 P95 P99."
)]
pub struct Args {
    /// An access log to read and follow (Envoy or Istio default format, JSON lines, METHOD PATH lines).
    #[arg(long, value_name = "FILE")]
    follow: Option<PathBuf>,
    /// Envoy's admin address (http://host:port): reads the filter's metrics from /stats/prometheus.
    #[arg(long = "envoy-admin", value_name = "URL")]
    envoy_admin: Option<String>,
    /// Prometheus base URL (http://host:port).
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// With --prometheus: which metrics (istio, envoy, linkerd).
    #[arg(long, value_enum, default_value = "istio")]
    source: crate::routes::Source,
    /// With --follow: name requests with this configuration, as the filter would.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print one snapshot and exit (what a non-terminal output gets anyway).
    #[arg(long)]
    once: bool,
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Rows shown.
    #[arg(long, default_value_t = 30)]
    rows: usize,
}

pub fn run(args: Args) -> Result<u8> {
    if !(0.05..=3600.0).contains(&args.interval) {
        return Err(Exit::usage("--interval: between 0.05 and 3600 seconds"));
    }
    let interval = Duration::from_secs_f64(args.interval);
    let mut source = Source::open(&args)?;
    let live = !args.once && std::io::stdout().is_terminal();
    if !live {
        let table = source.snapshot(interval, true)?;
        print!("{}", table.render(args.rows, &source.describe()));
        return Ok(EXIT_OK);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| Exit::usage(format!("cannot catch Ctrl-C: {e}")))?;
    let screen = Screen::enter();
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let table: Table = source.snapshot(interval, false)?;
        let header = format!("{}   {}   Ctrl-C quits", source.describe(), clock());
        screen.draw(&table.render(args.rows, &header));
        while started.elapsed() < interval && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    drop(screen);
    Ok(EXIT_OK)
}

/// The alternate screen with the cursor hidden, for as long as this lives.
struct Screen;

impl Screen {
    fn enter() -> Screen {
        print!("\x1b[?1049h\x1b[?25l");
        let _ = std::io::stdout().flush();
        Screen
    }

    fn draw(&self, text: &str) {
        // Home, draw, clear what the previous frame left below.
        print!("\x1b[H{}\x1b[J", text.replace('\n', "\x1b[K\n"));
        let _ = std::io::stdout().flush();
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        print!("\x1b[?25h\x1b[?1049l");
        let _ = std::io::stdout().flush();
    }
}

/// `HH:MM:SS` UTC.
fn clock() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{:02}:{:02}:{:02} UTC", seconds / 3600 % 24, seconds / 60 % 60, seconds % 60)
}

/// Shared with the sources: a table cell for an optional number of milliseconds.
fn ms(value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(v) if v < 10.0 => format!("{v:.1}ms"),
        Some(v) => format!("{}ms", v.round() as i64),
    }
}

fn percent(value: Option<f64>) -> String {
    value.map(|v| format!("{:.2}%", 100.0 * v)).unwrap_or_else(|| "-".to_string())
}
