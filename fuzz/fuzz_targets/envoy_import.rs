//! The Envoy route-table importer (`routegen_cli::import::envoy`) on arbitrary JSON/YAML
//! documents, with and without `--skip-unsupported`. It must never panic, an
//! `ImportError::Internal` is a finding, no route may be bigger than the input (JSON-escaped, plus a
//! generated name), and whatever it imports must be a configuration the
//! filter accepts (`config::parse_serde`, then `engine::compile`).
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use routegen_cli::import::envoy::{envoy_routes, EnvoyOptions};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let doc = match serde_json::from_slice::<Value>(data) {
        Ok(doc) => doc,
        Err(_) => match serde_norway::from_slice::<Value>(data) {
            Ok(doc) => doc,
            Err(_) => return,
        },
    };
    for skip_unsupported in [false, true] {
        common::assert_imported_compiles(
            envoy_routes(&doc, &EnvoyOptions { route_config: None, skip_unsupported }),
            data.len(),
        );
    }
});
