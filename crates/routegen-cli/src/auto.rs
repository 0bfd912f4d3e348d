//! Auto names in the CLI: the filter's namer over an in-memory store, optionally fed the
//! traffic a proxy would have seen first (fan-out depends on it), with each segment's reason.

use crate::common::{Exit, Result};
use crate::traffic::attribution::How;
use routegen_core::auto::{AutoName, AutoNamer, MemoryStore, Step};
use routegen_core::engine::{NativePlan, RequestLine};
use serde_json::{json, Value};
use std::path::Path;

/// One Envoy process's auto state, as the CLI simulates it.
pub struct Simulation<'p> {
    plan: &'p NativePlan,
    namer: AutoNamer,
    store: MemoryStore,
}

impl<'p> Simulation<'p> {
    /// `None` when the configuration has no `auto`.
    pub fn new(plan: &'p NativePlan) -> Option<Simulation<'p>> {
        let config = plan.auto.clone()?;
        Some(Simulation { plan, namer: AutoNamer::new(config), store: MemoryStore::default() })
    }

    /// Runs one request the way the filter does: configured routes first, then the namer.
    pub fn request(&mut self, method: &str, path: &str, host: &str) -> Option<AutoName> {
        let line = RequestLine { method: method.as_bytes(), path: path.as_bytes(), authority: host.as_bytes() };
        let mut headers = routegen_core::engine::JoinedHeaders::default();
        let (_, auto) =
            self.plan.decide_or_auto(&line, &mut headers, &mut Vec::new(), &mut self.namer, &mut self.store);
        auto
    }

    /// One request's name and how it got it: the configured route, else the auto name (which
    /// replaces the defaults), else the default.
    pub fn attribute(&mut self, method: &str, path: &str, host: &str) -> (Option<String>, How) {
        let line = RequestLine { method: method.as_bytes(), path: path.as_bytes(), authority: host.as_bytes() };
        let mut headers = routegen_core::engine::JoinedHeaders::default();
        let (decision, auto) =
            self.plan.decide_or_auto(&line, &mut headers, &mut Vec::new(), &mut self.namer, &mut self.store);
        let how = How::of(decision.route, decision.name, auto.as_ref().map(|a| a.slot));
        let name = match (&auto, decision.route) {
            (Some(auto), None) => Some(auto.name.to_string()),
            _ => decision.name.map(str::to_string),
        };
        (name, how)
    }

    /// Replays `METHOD PATH` lines (blank lines and `#` comments skipped).
    pub fn replay(&mut self, file: &Path) -> Result<usize> {
        let text = std::fs::read_to_string(file).map_err(|e| Exit::usage(format!("{}: {e}", file.display())))?;
        let mut count = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (method, path) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| Exit::usage(format!("{}:{}: expected 'METHOD /path'", file.display(), n + 1)))?;
            self.request(method, path.trim(), "");
            count += 1;
        }
        Ok(count)
    }

    /// The auto name of a (normalised, query-cut) path with every segment's reason.
    pub fn explain(&mut self, method: &str, matched_path: &[u8]) -> (AutoName, Vec<Step>) {
        let mut steps = Vec::new();
        let named = self.namer.name_traced(method.as_bytes(), matched_path, &mut self.store, &mut steps);
        (named, steps)
    }
}

/// The text lines and JSON for one explained auto name.
pub fn report(named: &AutoName, steps: &[Step], replayed: Option<usize>) -> (String, Value) {
    let mut text = format!("auto:       no route matched: auto name '{}'\n", named.name);
    for step in steps {
        let segment = if step.segment.is_empty() { "''".to_string() } else { step.segment.clone() };
        text.push_str(&format!("  {segment:<28} → {:<16} {}\n", step.became, step.why));
    }
    match replayed {
        Some(n) => text.push_str(&format!("history:    {n} earlier requests replayed first (--history)\n")),
        None => text.push_str(
            "history:    none: words become {param} from the traffic one Envoy process has seen; replay some with --history FILE\n",
        ),
    }
    let json = json!({
        "name": &*named.name,
        "overflow": matches!(named.slot, routegen_core::auto::Slot::Overflow),
        "segments": steps.iter().map(|s| json!({"segment": s.segment, "became": s.became, "why": s.why})).collect::<Vec<_>>(),
        "history": replayed,
    });
    (text, json)
}
