//! Structure-aware table fuzzing: the input is a small route table (one route per line; a line
//! starting with `P ` is a `path_prefix`, `E ` a `path_exact`, `R ` a `path_regex`, `H ` a
//! template with a header condition, anything else a shorthand `"[METHODS] template"`) and,
//! on the first line, a request path. Whatever compiles must answer every request exactly as
//! the sequential first-match scan does: the request path, and each route's witness path.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use routegen_cli::shadow::witness;
use routegen_core::engine::{compile_bytes, Mode, NoHostCel, RequestLine};

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n');
    let Some(path) = lines.next() else { return };
    let mut routes = Vec::new();
    for (i, line) in lines.take(24).enumerate() {
        let route = match line {
            [b'P', b' ', rest @ ..] => format!(r#"{{"name": "r{i}", "path_prefix": {}}}"#, common::json_string(rest)),
            [b'E', b' ', rest @ ..] => format!(r#"{{"name": "r{i}", "path_exact": {}}}"#, common::json_string(rest)),
            [b'R', b' ', rest @ ..] => format!(r#"{{"name": "r{i}", "path_regex": {}}}"#, common::json_string(rest)),
            [b'H', b' ', rest @ ..] => {
                format!(r#"{{"name": "r{i}", "path": {}, "headers": {{"x-a": "v"}}}}"#, common::json_string(rest))
            }
            other => common::json_string(other),
        };
        routes.push(route);
    }
    let case = if path.first() == Some(&b'C') { r#""normalize": {"case_insensitive": true}, "# } else { "" };
    let json = format!(r#"{{{case}"default": "[DEFAULT]", "routes": [{}]}}"#, routes.join(", "));
    let Ok((engine, _)) = compile_bytes(json.as_bytes(), &mut NoHostCel) else { return };
    let Mode::Native(plan) = &engine.mode else { return };
    let mut paths: Vec<Vec<u8>> = plan.routes().filter_map(|r| witness(&r.path)).collect();
    paths.push(path.to_vec());
    let mut scratch = Vec::new();
    for path in &paths {
        for method in [&b"GET"[..], b"POST", b"HEAD"] {
            for header in [None, Some(&b"v"[..])] {
                let line = RequestLine { method, path, authority: b"" };
                let got = plan.decide(&line, &mut common::FuzzHeaders(header), &mut scratch).route;
                let want = common::reference_route(plan, &line, &mut common::FuzzHeaders(header));
                assert_eq!(got, want, "index and reference disagree on {line:?} with table {json}");
            }
        }
    }
});
