//! Shared helpers for the fuzz targets (not a target itself).
#![allow(dead_code)]

use routegen_core::cel::{Activation, Attr, Value};
use routegen_core::engine::{HeaderSource, NativePlan, RequestLine};
use routegen_core::reference;

/// Splits `data` into at most `n` pieces at `sep`; the last piece keeps the rest.
pub fn split(data: &[u8], sep: u8, n: usize) -> Vec<&[u8]> {
    data.splitn(n, |&b| b == sep).collect()
}

/// JSON string literal for arbitrary (lossily decoded) bytes.
pub fn json_string(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Request headers drawn from the fuzz input: every name gets the same value (or none).
pub struct FuzzHeaders<'a>(pub Option<&'a [u8]>);

impl HeaderSource for FuzzHeaders<'_> {
    fn header(&mut self, _name: &str) -> Option<Vec<u8>> {
        self.0.map(<[u8]>::to_vec)
    }
}

/// What the compiled index must answer: the sequential first-match scan over the service's
/// table, then the fallback table (paths over the limit are not examined).
pub fn reference_route(plan: &NativePlan, line: &RequestLine<'_>, headers: &mut dyn HeaderSource) -> Option<usize> {
    if line.path.len() > plan.max_path_bytes {
        return None;
    }
    let path = plan.match_path(line.path);
    let query = routegen_core::route::raw_query(line.path);
    if let Some(service) = plan.service_for(line.authority).and_then(|i| plan.services.get(i)) {
        if let Some(i) = reference::first_match(&service.table.routes, line.method, &path, query, headers) {
            return Some(service.table.first_id + i);
        }
    }
    reference::first_match(&plan.fallback.routes, line.method, &path, query, headers)
}

/// A CEL activation whose values come from the fuzz input; a piece that is absent makes the
/// attribute missing (an evaluation error, as in Envoy).
pub struct FuzzActivation {
    pub attrs: Vec<Option<Value>>,
    pub headers: Vec<Option<String>>,
}

impl FuzzActivation {
    pub fn from_pieces(pieces: &[&[u8]]) -> FuzzActivation {
        let mut attrs = Vec::with_capacity(Attr::ALL.len());
        for (i, attr) in Attr::ALL.iter().enumerate() {
            let value = pieces.get(i).map(|p| match attr {
                Attr::ResponseCode | Attr::ResponseGrpcStatus => {
                    let mut n = [0u8; 8];
                    for (k, b) in p.iter().take(8).enumerate() {
                        n[k] = *b;
                    }
                    // Mostly small, realistic codes, sometimes anything.
                    let raw = i64::from_le_bytes(n);
                    if p.len() <= 2 {
                        Value::Int(raw % 1000)
                    } else {
                        Value::Int(raw)
                    }
                }
                _ => Value::Str(String::from_utf8_lossy(p).into_owned()),
            });
            attrs.push(value);
        }
        let headers = pieces
            .iter()
            .skip(Attr::ALL.len())
            .map(|p| if p.is_empty() { None } else { Some(String::from_utf8_lossy(p).into_owned()) })
            .collect();
        FuzzActivation { attrs, headers }
    }
}

impl Activation for FuzzActivation {
    fn attr(&mut self, attr: Attr) -> Option<Value> {
        let i = Attr::ALL.iter().position(|a| *a == attr)?;
        self.attrs.get(i).cloned().flatten()
    }

    fn header(&mut self, response: bool, name: &str) -> Option<String> {
        if self.headers.is_empty() {
            return None;
        }
        let i = (name.len() + usize::from(response)) % self.headers.len();
        self.headers[i].clone()
    }
}

/// An importer's result: an `Internal` error is a finding, the output is bounded by the input
/// (each route no bigger than the whole input, JSON-escaped, plus a generated name), and an
/// import must be a configuration the filter accepts (`config::parse_serde`, then
/// `engine::compile`, as `routegen check` does).
pub fn assert_imported_compiles(
    result: Result<routegen_cli::import::Imported, routegen_cli::import::ImportError>,
    input_len: usize,
) {
    use routegen_cli::import::{DocumentOptions, ImportError};
    match result {
        Ok(imported) => {
            for route in &imported.routes {
                let size = route.to_string().len();
                assert!(size <= 6 * input_len + 256, "a {size}-byte route from {input_len} bytes of input: {route}");
            }
            let document = imported.document(&DocumentOptions::default());
            let config = routegen_core::config::parse_serde(&document)
                .unwrap_or_else(|e| panic!("imported config does not parse: {e}\n{document}"));
            routegen_core::engine::compile(config, &mut routegen_core::engine::NoHostCel)
                .unwrap_or_else(|e| panic!("imported config does not compile: {e}\n{document}"));
        }
        Err(ImportError::Internal(message)) => panic!("internal error: {message}"),
        Err(ImportError::Invalid(_)) => {}
    }
}
