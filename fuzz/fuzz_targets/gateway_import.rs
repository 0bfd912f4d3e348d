//! The Gateway API importer (`routegen_cli::import::gateway`) on arbitrary YAML/JSON streams, in
//! mesh mode and for a Gateway named in the input. It must never panic, an
//! `ImportError::Internal` is a finding, no route may be bigger than the input (JSON-escaped, plus a
//! generated name), and whatever it imports must be a configuration the
//! filter accepts (`config::parse_serde`, then `engine::compile`).
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use routegen_cli::import::gateway::{gateway_api, parse_documents, GatewayOptions, Naming};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(docs) = parse_documents(text) else { return };
    let docs: Vec<(String, serde_json::Value)> =
        docs.into_iter().enumerate().map(|(i, d)| (format!("#{i}"), d)).collect();
    let naming = if data.len() % 2 == 0 { Naming::Rule } else { Naming::MethodPath };
    let gateways =
        docs.iter().filter(|(_, d)| d.get("kind").and_then(|k| k.as_str()) == Some("Gateway")).filter_map(|(_, d)| {
            let meta = d.get("metadata")?;
            let name = meta.get("name")?.as_str()?;
            let ns = meta.get("namespace").and_then(|n| n.as_str()).unwrap_or("default");
            Some(format!("{ns}/{name}"))
        });
    for gateway in std::iter::once(None).chain(gateways.map(Some)).take(3) {
        common::assert_imported_compiles(gateway_api(&docs, &GatewayOptions { gateway, naming }), data.len());
    }
});
