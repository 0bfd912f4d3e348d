//! Access-log lines (`routegen_cli::traffic`) and the learner over whatever they yield. Parsing
//! must never panic and a parsed request always has a method token and a `/` path; the table
//! learned from the lines must compile with the filter's own code, be no larger than the input,
//! and land each learned route's example request on that route.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routegen_cli::import::route_value;
use routegen_cli::learn::tree::{Learner, Options};
use routegen_cli::traffic::parse;
use routegen_core::engine::{Mode, RequestLine};
use routegen_core::normalize::{normalize, strip_query, NormalizeOptions};
use serde_json::json;
use std::collections::{HashMap, HashSet};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut learner = Learner::default();
    let mut distinct = HashSet::new();
    for line in text.lines() {
        let Ok(Some((observed, _))) = parse(line) else { continue };
        assert!(!observed.method.is_empty() && observed.method.len() <= 32, "{observed:?}");
        assert!(observed.path.starts_with('/'), "{observed:?}");
        let path = normalize(strip_query(observed.path.as_bytes()), &NormalizeOptions::default()).into_owned();
        distinct.insert((observed.method.clone(), path.clone()));
        learner.add(&observed.method, &path, 1);
    }
    let routes = learner.learn(&Options { fanout: 3, ..Options::default() });
    assert!(routes.len() <= distinct.len());
    if routes.is_empty() {
        return;
    }
    let values: Vec<_> = routes
        .iter()
        .map(|r| route_value(&r.name(), std::slice::from_ref(&r.method), "path", &r.template, &[]))
        .collect();
    let document = json!({ "routes": values });
    let (engine, _) = routegen_cli::common::compile_value(&document)
        .unwrap_or_else(|e| panic!("learned table refused: {e}\n{document}"));
    let Mode::Native(plan) = &engine.mode else { panic!("not native") };
    for route in &routes {
        let line = RequestLine { method: route.method.as_bytes(), path: route.example.as_bytes(), authority: b"" };
        let decision = plan.decide(&line, &mut HashMap::<String, Vec<u8>>::new(), &mut Vec::new());
        assert_eq!(decision.name, Some(route.name().as_str()), "{route:?} in {document}");
    }
});
