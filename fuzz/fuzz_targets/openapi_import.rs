//! The OpenAPI importer (`routegen_cli::import::openapi`) on arbitrary documents, parsed as JSON and
//! as YAML (the two ways `routegen import openapi` reads a file). It must never panic (`$ref`
//! cycles included), an `ImportError::Internal` is a finding, and whatever it imports must be a
//! configuration the filter accepts: `config::parse_value` then `engine::compile`, as
//! `routegen check` does. Each route's sample request is then decided by the compiled matcher.
//! The importer's options come from the input's length, so the seeds stay plain documents.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use routegen_cli::import::{openapi, DocumentOptions, ImportError, Imported, Naming, OpenApiOptions};
use routegen_core::config::parse_serde;
use routegen_core::engine::{compile, Mode, NoHostCel, RequestLine};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let options = options(data.len());
    let json = serde_json::from_slice::<Value>(data).ok();
    if let Some(doc) = &json {
        check(doc, &options);
    }
    // Most JSON is also YAML, with the same value: import only what YAML reads differently.
    if let Ok(doc) = serde_norway::from_slice::<Value>(data) {
        if json.as_ref() != Some(&doc) {
            check(&doc, &options);
        }
    }
});

/// Every combination of the CLI's flags, one per input length modulo 16.
fn options(len: usize) -> OpenApiOptions {
    OpenApiOptions {
        naming: if len & 1 != 0 { Naming::OperationId } else { Naming::MethodPath },
        keep_order: len & 2 != 0,
        base_path: match len & 12 {
            4 => Some("/v9/".to_string()),
            8 => Some("api/{v}.x*(".to_string()),
            _ => None,
        },
        no_base_path: len & 12 == 12,
    }
}

/// The importer's ordering (`shadow::specific_first`, as `routegen check`) compares every two
/// routes with the same method: quadratic by design, and a regex pair is compared by sampling.
/// Fast enough natively (GitHub's 1,223 operations, in `make cli-test`), but a few hundred
/// routes would make single inputs time out under the sanitizer. So the ordering runs on
/// imports of at most this many routes; larger ones are checked in the spec's order.
const MAX_ORDERED_ROUTES: usize = 64;

fn check(doc: &Value, options: &OpenApiOptions) {
    let in_spec_order = OpenApiOptions { keep_order: true, ..options.clone() };
    let Some(imported) = import(doc, &in_spec_order) else { return };
    if options.keep_order || imported.routes.len() > MAX_ORDERED_ROUTES {
        return verify(&imported);
    }
    if let Some(ordered) = import(doc, options) {
        let text = |i: &Imported| {
            let mut routes: Vec<String> = i.routes.iter().map(Value::to_string).collect();
            routes.sort();
            routes
        };
        assert_eq!(text(&ordered), text(&imported), "ordering must only permute the routes");
        verify(&ordered);
    }
}

fn import(doc: &Value, options: &OpenApiOptions) -> Option<Imported> {
    match openapi(doc, options) {
        Ok(imported) => Some(imported),
        Err(ImportError::Invalid(_)) => None,
        Err(ImportError::Internal(message)) => panic!("importer bug: {message}"),
    }
}

fn verify(imported: &Imported) {
    assert_eq!(imported.samples.len(), imported.routes.len(), "one sample per route");
    let document = imported.document(&DocumentOptions::default());
    let config =
        parse_serde(&document).unwrap_or_else(|e| panic!("the imported configuration does not parse: {e}\n{document}"));
    let (engine, _notes) = compile(config, &mut NoHostCel)
        .unwrap_or_else(|e| panic!("the imported configuration does not compile: {e}\n{document}"));
    let Mode::Native(plan) = &engine.mode else { panic!("an imported configuration compiled as attributegen") };
    let mut scratch = Vec::new();
    for sample in imported.samples.iter().take(64) {
        let line = RequestLine {
            method: sample.method.as_bytes(),
            path: sample.path.as_bytes(),
            authority: sample.host.as_bytes(),
        };
        let decision = plan.decide(&line, &mut common::FuzzHeaders(None), &mut scratch);
        // Not asserted to be the sample's own route: a miss is a warning the CLI reports
        // (e.g. two operations that match exactly the same requests).
        if let Some(route) = decision.route {
            assert!(route < imported.routes.len(), "decided route {route} of {}", imported.routes.len());
        }
    }
    // What the CLI prints.
    let _ = serde_json::to_string_pretty(&document);
    let _ = serde_norway::to_string(&document);
}
