//! The Envoy route-table importer (`routegen_cli::import::envoy`) on arbitrary JSON/YAML
//! documents, with and without `--skip-unsupported`. It must never panic, an
//! `ImportError::Internal` is a finding, and whatever it imports must be a configuration the
//! filter accepts (`config::parse_serde`, then `engine::compile`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use routegen_cli::import::envoy::{envoy_routes, EnvoyOptions};
use routegen_cli::import::{DocumentOptions, ImportError};
use routegen_core::config::parse_serde;
use routegen_core::engine::{compile, NoHostCel};
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
        match envoy_routes(&doc, &EnvoyOptions { route_config: None, skip_unsupported }) {
            Ok(imported) => {
                let document = imported.document(&DocumentOptions::default());
                let config = parse_serde(&document)
                    .unwrap_or_else(|e| panic!("imported config does not parse: {e}\n{document}"));
                compile(config, &mut NoHostCel)
                    .unwrap_or_else(|e| panic!("imported config does not compile: {e}\n{document}"));
            }
            Err(ImportError::Internal(message)) => panic!("internal error: {message}"),
            Err(ImportError::Invalid(_)) => {}
        }
    }
});
