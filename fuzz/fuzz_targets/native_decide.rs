//! Per-request work of the native format: `strip_query` + `normalize` with every option
//! combination, and `NativePlan::decide` on a fixed realistic configuration (services, templates,
//! prefixes, regexes, header conditions, a path limit) with arbitrary bytes as method, path,
//! authority and header value. The index must agree with the sequential reference scan, the
//! name must be a configured one or the default, and normalisation must be idempotent
//! (on paths without `%`, see below).
//! Input: `[options byte][method len][authority len][header len] method authority header path`.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use routegen_core::engine::{compile_bytes, Mode, NativePlan, NoHostCel, RequestLine};
use routegen_core::normalize::{normalize, strip_query, NormalizeOptions};
use std::sync::OnceLock;

const CONFIG: &str = r#"{
  "default": "[DEFAULT]",
  "limits": {"max_path_bytes": 2048},
  "routes": [
    "GET /books/new",
    "GET /books/{id}",
    "GET|HEAD /books",
    "POST /books",
    "DELETE /books/{id}/reviews/{review}",
    "/healthz",
    "GET /files/{path=**}",
    "GET /v{major}.{minor}/status",
    "GET /docs/{name}.json",
    {"name": "static", "path_prefix": "/static/"},
    {"name": "exact", "path_exact": "/exact/Path"},
    {"name": "v2 search", "method": ["GET", "POST"], "path": "/search", "headers": {"x-api-version": "2"}},
    {"name": "hdr-re", "path": "/search", "headers": [{"name": "x-api-version", "regex": "[0-9]+"}]},
    {"name": "query", "path": "/search", "query": [{"name": "v", "regex": "[0-9]+"}, {"name": "page", "present": true}]},
    {"name": "hdr-present", "path_prefix": "/h/", "headers": [{"name": "x-a", "present": true}]},
    {"name": "hdr-absent", "path_prefix": "/h/", "headers": [{"name": "x-b", "absent": true}]},
    {"name": "legacy", "path_regex": "/api/v[0-9]+/legacy/.*", "failure_classes": ["5xx", "429"]},
    {"name": "shelves", "path_regex": "/shelves/[[:alnum:]]*/books/[^/]+"},
    {"name": "any-star", "method": "*", "path": "/star/*/x"}
  ],
  "services": [
    {"hosts": ["authors", "authors.default.svc.cluster.local", "authors:8080"], "routes": ["GET /authors/{id}", "/**"]},
    {"hosts": ["*.example.com"], "default": "example-default", "routes": [{"name": "ex", "path_prefix": "/"}]}
  ]
}"#;

fn plans() -> &'static [NativePlan] {
    static PLANS: OnceLock<Vec<NativePlan>> = OnceLock::new();
    PLANS.get_or_init(|| {
        let variants = [
            CONFIG.to_string(),
            CONFIG.replacen('{', r#"{"normalize": {"case_insensitive": true},"#, 1),
            CONFIG.replacen(
                '{',
                r#"{"normalize": {"decode_unreserved": false, "merge_slashes": false, "remove_dot_segments": false, "ignore_trailing_slash": false},"#,
                1,
            ),
        ];
        variants
            .iter()
            .map(|json| match compile_bytes(json.as_bytes(), &mut NoHostCel).expect("fixed config compiles").0.mode {
                Mode::Native(plan) => plan,
                Mode::Attributegen(_) => unreachable!(),
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (head, rest) = data.split_at(4);
    let flags = head[0];
    let (method, rest) = rest.split_at((head[1] as usize % 16).min(rest.len()));
    let (authority, rest) = rest.split_at((head[2] as usize % 48).min(rest.len()));
    let (header, path) = rest.split_at((head[3] as usize % 16).min(rest.len()));

    // Normalisation alone, every option combination, and idempotence.
    let options = NormalizeOptions {
        decode_unreserved: flags & 1 != 0,
        merge_slashes: flags & 2 != 0,
        remove_dot_segments: flags & 4 != 0,
        ignore_trailing_slash: flags & 8 != 0,
        case_insensitive: flags & 16 != 0,
    };
    let cut = strip_query(path);
    assert!(cut.len() <= path.len() && !cut.contains(&b'?') && !cut.contains(&b'#'));
    let once = normalize(cut, &options).into_owned();
    assert!(once.len() <= cut.len() + 1, "normalisation grew {cut:?} to {once:?}");
    // Idempotent, where that is meant to hold: percent-decoding is deliberately single-pass
    // (`%%32e` decodes to `%2e`, not to `.`: decoding twice is the classic traversal bug), and
    // with `merge_slashes` off the trailing-slash step strips one `/` of `//` per pass.
    if !cut.contains(&b'%') && (options.merge_slashes || !options.ignore_trailing_slash) {
        let twice = normalize(&once, &options).into_owned();
        assert_eq!(once, twice, "normalisation is not idempotent on {:?} ({options:?})", String::from_utf8_lossy(cut));
    }

    // The decision on the fixed configurations.
    let header = if flags & 32 != 0 { None } else { Some(header) };
    let plan = &plans()[usize::from(flags >> 6) % 3];
    let line = RequestLine { method, path, authority };
    let mut scratch = Vec::new();
    let decision = plan.decide(&line, &mut common::FuzzHeaders(header), &mut scratch);
    let want = common::reference_route(plan, &line, &mut common::FuzzHeaders(header));
    assert_eq!(decision.route, want, "index and reference disagree on {line:?}");
    let name = decision.name.expect("the config has a default");
    let known = plan.routes().any(|r| r.name == name)
        || name == "[DEFAULT]"
        || plan.services.iter().any(|s| s.default.as_deref() == Some(name));
    assert!(known, "name {name:?} is neither a route nor a default");
});
