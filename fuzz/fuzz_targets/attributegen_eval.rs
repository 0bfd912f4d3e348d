//! attributegen's per-request work: `AttributePlan::evaluate` (indexed conditions merged with
//! interpreted ones) with arbitrary method, path and header values, which must answer exactly
//! what `evaluate_in_order` (every condition in order, attributegen's reference semantics)
//! answers with the same activation.
//! Input: `[method len][header len] method header path`.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use routegen_core::cel::{Activation, Attr, Value};
use routegen_core::engine::{compile_bytes, AttributePlan, Mode, NoHostCel};
use std::sync::OnceLock;

const CONFIG: &str = r#"{"attributes": [
  {"output_attribute": "istio_operationId", "phase": "ON_REQUEST", "match": [
    {"value": "ListBooks", "condition": "request.url_path == '/books' && request.method == 'GET'"},
    {"value": "CreateBook", "condition": "request.url_path == '/books' && request.method == 'POST'"},
    {"value": "GetShelfBook", "condition": "request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$')"},
    {"value": "Repo", "condition": "request.method in ['GET', 'HEAD'] && request.url_path.matches('^/repos/[^/]+/[^/]+$')"},
    {"value": "Status", "condition": "request.url_path.startsWith('/status')"},
    {"value": "Header", "condition": "request.url_path == '/hdr' && request.headers['x-a'] == 'v'"},
    {"value": "HeaderFirst", "condition": "request.headers['x-b'] == 'v' && request.url_path == '/hdr2'"},
    {"value": "Json", "condition": "request.url_path.endsWith('.json') || request.path.contains('format=json')"},
    {"value": "Agent", "condition": "request.useragent.startsWith('curl') && request.method == 'GET'"},
    {"value": "Sized", "condition": "size(request.path) > 300"},
    {"value": "NotGet", "condition": "!(request.method == 'GET') && request.url_path.startsWith('/w/')"},
    {"value": "Bad", "condition": "request.url_path.startsWith('/err') && request.headers['x-missing'] == 'v'"},
    {"value": "Other", "condition": ""}
  ]},
  {"output_attribute": "istio_responseClass", "match": [
    {"value": "2xx", "condition": "response.code >= 200 && response.code <= 299"},
    {"value": "404", "condition": "response.code == 404"},
    {"value": "5xx", "condition": "response.code >= 500 && response.code <= 599"},
    {"value": "4xx", "condition": "response.code >= 400 && response.code <= 499"}
  ]}
]}"#;

fn plans() -> &'static [AttributePlan] {
    static PLANS: OnceLock<Vec<AttributePlan>> = OnceLock::new();
    PLANS.get_or_init(|| {
        match compile_bytes(CONFIG.as_bytes(), &mut NoHostCel).expect("fixed config compiles").0.mode {
            Mode::Attributegen(attributes) => attributes,
            Mode::Native(_) => unreachable!(),
        }
    })
}

/// Attributes as Envoy's CEL would see this request; headers from the input.
struct Request<'a> {
    method: String,
    path: String,
    header: Option<&'a [u8]>,
    code: i64,
}

impl Activation for Request<'_> {
    fn attr(&mut self, attr: Attr) -> Option<Value> {
        let s = |v: &str| Some(Value::Str(v.to_string()));
        match attr {
            Attr::RequestMethod => s(&self.method),
            Attr::RequestPath => s(&self.path),
            Attr::RequestUrlPath => s(self.path.split('?').next().unwrap_or("")),
            Attr::RequestQuery => self.path.split_once('?').map(|(_, q)| Value::Str(q.to_string())),
            Attr::RequestUseragent => self.header.map(|h| Value::Str(String::from_utf8_lossy(h).into_owned())),
            Attr::ResponseCode => Some(Value::Int(self.code)),
            _ => None,
        }
    }

    fn header(&mut self, _response: bool, name: &str) -> Option<String> {
        if name == "x-missing" {
            return None;
        }
        self.header.map(|h| String::from_utf8_lossy(h).into_owned())
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (head, rest) = data.split_at(2);
    let (method, rest) = rest.split_at((head[0] as usize % 12).min(rest.len()));
    let (header, path) = rest.split_at((head[1] as usize % 12).min(rest.len()));
    let header = if head[1] & 0x80 != 0 { None } else { Some(header) };
    let code = i64::from(head[0]) * 3;
    let mut scratch = Vec::new();
    for plan in plans() {
        let mut act = Request {
            method: String::from_utf8_lossy(method).into_owned(),
            path: String::from_utf8_lossy(path).into_owned(),
            header,
            code,
        };
        let indexed = plan.evaluate(Some((method, path)), &mut act, &mut NoHostCel, &mut scratch);
        // The index reads raw bytes and the activation lossy text: they describe the same
        // request only when both are UTF-8 (Envoy hands the filter bytes either way).
        if std::str::from_utf8(method).is_ok() && std::str::from_utf8(path).is_ok() {
            let reference = plan.evaluate_in_order(&mut act, &mut NoHostCel);
            assert_eq!(
                indexed, reference,
                "indexed and in-order evaluation disagree on {:?} {:?}",
                act.method, act.path
            );
        }
        let _ = plan.evaluate(None, &mut act, &mut NoHostCel, &mut scratch);
    }
});
