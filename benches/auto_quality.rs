//! How good auto names are, beside peers' published rules re-implemented (our code, from their
//! documented behaviour), on the same four workloads of 3,000 requests (issue 16).
//!
//! For each namer and workload: distinct names / purity / names per true template. Purity is
//! the share of requests whose name belongs to their own template (the template with the most
//! requests under that name). The flood has no templates: only its name count matters.
//!
//! `cargo bench -p routegen --bench auto_quality` (`make bench-auto`); `BENCH_SEEDS=1,2,3`.

#[path = "../crates/routegen-core/tests/workloads/mod.rs"]
mod workloads;

use routegen_core::auto::{classify, AutoConfig, AutoNamer, MemoryStore};
use std::collections::HashMap;
use workloads::{score, Workload};

trait Namer {
    fn name(&mut self, method: &str, path: &str) -> String;
}

/// routegen, one Envoy process (the filter's own namer over an in-memory store).
struct Routegen(AutoNamer, MemoryStore);

impl Namer for Routegen {
    fn name(&mut self, method: &str, path: &str) -> String {
        self.0.name(method.as_bytes(), path.as_bytes(), &mut self.1).name.to_string()
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('/').split('/')
}

/// Datadog tracers' `http.endpoint` rules (dd-trace-py's resource renaming), tried in order:
/// `[1-9][0-9]+` → int; 3+ of `[0-9._-]` with a digit → int_id; 6+ hex with a digit → hex;
/// 6+ of hex and `._-` with a digit → hex_id; 20+ characters or URL punctuation → str; first 8
/// segments; no cap.
struct Datadog;

impl Namer for Datadog {
    fn name(&mut self, method: &str, path: &str) -> String {
        let parts: Vec<String> = segments(path)
            .take(8)
            .map(|s| {
                let b = s.as_bytes();
                let digit = b.iter().any(u8::is_ascii_digit);
                let hex_or = |extra: &[u8]| b.iter().all(|c| c.is_ascii_hexdigit() || extra.contains(c));
                if b.len() >= 2 && b[0] != b'0' && b.iter().all(u8::is_ascii_digit) {
                    "{param:int}".into()
                } else if b.len() >= 3 && digit && b.iter().all(|c| c.is_ascii_digit() || b"._-".contains(c)) {
                    "{param:int_id}".into()
                } else if b.len() >= 6 && digit && hex_or(b"") {
                    "{param:hex}".into()
                } else if b.len() >= 6 && digit && hex_or(b"._-") {
                    "{param:hex_id}".into()
                } else if b.len() >= 20 || b.iter().any(|c| b"%&'()*+,:=@".contains(c)) {
                    "{param:str}".into()
                } else {
                    s.to_string()
                }
            })
            .collect();
        format!("{method} /{}", parts.join("/"))
    }
}

/// Beyla's heuristic route classifier, without its word model: a segment with any character
/// that is not a letter becomes `*`, except `v1`-style versions.
struct BeylaHeuristic;

impl Namer for BeylaHeuristic {
    fn name(&mut self, method: &str, path: &str) -> String {
        let parts: Vec<&str> = segments(path)
            .map(|s| {
                let version = s.len() >= 2 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit());
                if version || s.bytes().all(|b| b.is_ascii_alphabetic()) {
                    s
                } else {
                    "*"
                }
            })
            .collect();
        format!("{method} /{}", parts.join("/"))
    }
}

/// OBI's low-cardinality mode: a tree of segments; a node with more than 10 children collapses
/// to `*` (all its children, known and new).
#[derive(Default)]
struct LowCardinalityTree {
    nodes: Vec<(HashMap<String, usize>, bool)>,
}

impl Namer for LowCardinalityTree {
    fn name(&mut self, method: &str, path: &str) -> String {
        if self.nodes.is_empty() {
            self.nodes.push(Default::default());
        }
        let mut node = 0;
        let mut parts = Vec::new();
        for s in segments(path) {
            let label = if self.nodes[node].1 { "*" } else { s };
            let next = match self.nodes[node].0.get(label) {
                Some(&n) => n,
                None => {
                    self.nodes.push(Default::default());
                    let n = self.nodes.len() - 1;
                    self.nodes[node].0.insert(label.to_string(), n);
                    n
                }
            };
            if !self.nodes[node].1 && self.nodes[node].0.len() > 10 {
                self.nodes[node].1 = true;
            }
            parts.push(label.to_string());
            node = next;
        }
        format!("{method} /{}", parts.join("/"))
    }
}

/// The plain rule: routegen's segment classifier, and a word stays literal until its position
/// (the name so far) has seen 20 distinct words, then `{param}`.
#[derive(Default)]
struct PlainFanout {
    seen: HashMap<String, Vec<String>>,
}

impl Namer for PlainFanout {
    fn name(&mut self, method: &str, path: &str) -> String {
        let mut prefix = String::new();
        for s in segments(path).take(8) {
            let class = classify(s.as_bytes());
            let piece = match class.placeholder {
                Some(p) => format!("{}{}", p.as_str(), &s[s.len() - class.extension..]),
                None => {
                    let words = self.seen.entry(prefix.clone()).or_default();
                    if words.iter().any(|w| w == s) {
                        s.to_string()
                    } else if words.len() >= 20 {
                        "{param}".to_string()
                    } else {
                        words.push(s.to_string());
                        s.to_string()
                    }
                }
            };
            prefix.push('/');
            prefix.push_str(&piece);
        }
        format!("{method} {}", if prefix.is_empty() { "/" } else { &prefix })
    }
}

fn namers() -> Vec<(&'static str, Box<dyn Namer>)> {
    vec![
        ("routegen", Box::new(Routegen(AutoNamer::new(AutoConfig::default()), MemoryStore::default()))),
        ("Datadog rules", Box::new(Datadog)),
        ("Beyla heuristic (no word model)", Box::new(BeylaHeuristic)),
        ("OBI low-cardinality tree (10 children)", Box::new(LowCardinalityTree::default())),
        ("plain fan-out (literal until 20 words)", Box::new(PlainFanout::default())),
    ]
}

fn cell(workload: &Workload, names: &[String]) -> String {
    let s = score(workload, names);
    if workload.name == "random flood" {
        format!("{} names", s.names)
    } else {
        format!("{} / {:.3} / {:.2}", s.names, s.purity, s.names_per_template)
    }
}

/// Words for slugs and usernames that no rule can tell from resource names.
const WORDS: [&str; 12] =
    ["alpha", "bravo", "delta", "echo", "golf", "hotel", "india", "kilo", "lima", "mike", "oscar", "papa"];

/// What each namer calls a few telling requests; the last two after 60 different values at
/// the same place (a fresh namer each).
fn examples() {
    let pairs = || WORDS.iter().flat_map(|a| WORDS.iter().map(move |b| format!("{a}-{b}")));
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        ("a one-digit ID", vec![], "/users/7"),
        ("a dotted RPC-style name", vec![], "/api/hello.world"),
        ("a UUID v7", vec![], "/orders/018f6b1c-7d2e-7a3b-9c4d-5e6f70819203"),
        ("a date", vec![], "/reports/2024-01-31"),
        ("a new slug, after 60 others", pairs().take(60).map(|p| format!("/blog/{p}")).collect(), "/blog/zulu-yankee"),
        (
            "a new username, after 60 others",
            pairs().take(60).map(|p| format!("/users/{}/repos", p.replace('-', ""))).collect(),
            "/users/zoe/repos",
        ),
    ];
    println!("\n### What each namer calls a request (GET)\n");
    let labels: Vec<&str> = namers().iter().map(|(l, _)| *l).collect();
    println!("| request | {} |", labels.join(" | "));
    println!("| --- |{}", " --- |".repeat(labels.len()));
    for (what, before, path) in cases {
        let cells: Vec<String> = namers()
            .into_iter()
            .map(|(_, mut namer)| {
                for p in &before {
                    namer.name("GET", p);
                }
                format!("`{}`", namer.name("GET", path).trim_start_matches("GET "))
            })
            .collect();
        println!("| {what}: `{path}` | {} |", cells.join(" | "));
    }
}

fn main() {
    let seeds: Vec<u64> = std::env::var("BENCH_SEEDS")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1]);
    for seed in seeds {
        let workloads = workloads::all(seed);
        println!("\n### Auto-name quality, seed {seed}: names / purity / names per template\n");
        let header: Vec<String> = workloads
            .iter()
            .map(
                |w| if w.name == "random flood" { w.name.to_string() } else { format!("{} ({})", w.name, w.templates) },
            )
            .collect();
        println!("| namer | {} |", header.join(" | "));
        println!("| --- |{}", " --- |".repeat(workloads.len()));
        for (label, _) in namers() {
            let cells: Vec<String> = workloads
                .iter()
                .map(|w| {
                    // A fresh namer (a fresh process) per workload.
                    let mut namer = namers().into_iter().find(|(l, _)| *l == label).map(|(_, n)| n).unwrap();
                    let names: Vec<String> = w.requests.iter().map(|r| namer.name(&r.method, &r.path)).collect();
                    cell(w, &names)
                })
                .collect();
            println!("| {label} | {} |", cells.join(" | "));
        }
    }
    examples();
    println!("\nroutegen's targets: IDs ≥ 0.99 purity and ≤ 1.05 names/template; word parameters ≥ 0.99 and ≤ 1.5; RPC names ≥ 0.99 and ≤ 1.1; the flood ≤ max_names (500) + the overflow name.");
}
