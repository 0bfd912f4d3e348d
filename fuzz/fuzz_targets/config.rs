//! Both configuration formats: `config::parse` and `engine::compile_bytes` on arbitrary bytes.
//! A configuration that compiles is then asked a few requests (each route's own witness path),
//! and the index must agree with the sequential reference scan.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use routegen_cli::shadow::witness;
use routegen_core::engine::{compile_bytes, Mode, NoHostCel, RequestLine};

fuzz_target!(|data: &[u8]| {
    let _ = routegen_core::config::parse(data);
    let Ok((engine, _notes)) = compile_bytes(data, &mut NoHostCel) else { return };
    match &engine.mode {
        Mode::Native(plan) => {
            let mut scratch = Vec::new();
            let mut paths: Vec<Vec<u8>> = plan.routes().take(32).filter_map(|r| witness(&r.path)).collect();
            paths.push(b"/".to_vec());
            paths.push(b"/books/1".to_vec());
            let hosts: Vec<&[u8]> =
                plan.services.iter().take(4).filter_map(|s| s.hosts.first()).map(|h| h.as_bytes()).collect();
            for path in &paths {
                for method in [&b"GET"[..], b"POST"] {
                    for authority in std::iter::once(&b""[..]).chain(hosts.iter().copied()) {
                        let line = RequestLine { method, path, authority };
                        let got = plan.decide(&line, &mut common::FuzzHeaders(Some(b"v")), &mut scratch);
                        let want = common::reference_route(plan, &line, &mut common::FuzzHeaders(Some(b"v")));
                        assert_eq!(got.route, want, "index and reference disagree on {line:?}");
                    }
                }
            }
        }
        Mode::Attributegen(attributes) => {
            let mut scratch = Vec::new();
            for attribute in attributes {
                let mut act = common::FuzzActivation::from_pieces(&[b"GET", b"/books/1", b"/books/1"]);
                let _ = attribute.evaluate(Some((b"GET", b"/books/1")), &mut act, &mut NoHostCel, &mut scratch);
            }
        }
    }
});
