//! The subset of Google CEL that Istio attributegen `condition` strings use.
//!
//! `parse` accepts only what `eval` can reproduce exactly as Envoy's CEL (cel-cpp) would;
//! anything else is a `ParseError`, so the caller can fall back to Envoy's own engine
//! rather than evaluate a condition wrongly. Nothing here panics on any input.
//!
//! ```ignore
//! let expr = cel::parse("request.method == 'GET' && request.url_path.startsWith('/books')")?;
//! let ok: bool = cel::eval_bool(&expr, &mut activation)?;
//! ```

mod ast;
mod eval;
mod lexer;
mod parser;
mod regex;

pub use ast::{Attr, CmpOp, Expr, Matcher, StrFn, Value};
pub use eval::{eval, eval_bool, Activation, EvalError};
pub use parser::{parse, ParseError, MAX_DEPTH};

/// Compiles an RE2 pattern with regex-lite, refusing patterns the engines would read
/// differently (the same check `matches()` literals get). Reuse it instead of compiling
/// `Matcher::pattern` again, which would lose that translation.
pub use regex::compile as compile_re2;

#[cfg(test)]
pub(crate) mod testing {
    //! A map-backed `Activation` for tests.
    use super::{Activation, Attr, Value};
    use std::collections::HashMap;

    #[derive(Default)]
    pub struct MapActivation {
        pub attrs: HashMap<Attr, Value>,
        pub request_headers: HashMap<String, String>,
        pub response_headers: HashMap<String, String>,
        /// Every lookup, to check short-circuiting.
        pub lookups: Vec<String>,
    }

    impl MapActivation {
        pub fn new() -> Self {
            Self::default()
        }

        pub fn with(mut self, attr: Attr, v: Value) -> Self {
            self.attrs.insert(attr, v);
            self
        }

        pub fn s(self, attr: Attr, v: &str) -> Self {
            self.with(attr, Value::Str(v.to_string()))
        }

        pub fn i(self, attr: Attr, v: i64) -> Self {
            self.with(attr, Value::Int(v))
        }

        pub fn req_header(mut self, name: &str, v: &str) -> Self {
            self.request_headers.insert(name.to_string(), v.to_string());
            self
        }

        pub fn resp_header(mut self, name: &str, v: &str) -> Self {
            self.response_headers.insert(name.to_string(), v.to_string());
            self
        }
    }

    impl Activation for MapActivation {
        fn attr(&mut self, attr: Attr) -> Option<Value> {
            self.lookups.push(attr.name().to_string());
            self.attrs.get(&attr).cloned()
        }

        fn header(&mut self, response: bool, name: &str) -> Option<String> {
            self.lookups.push(format!("header:{name}"));
            let map = if response { &self.response_headers } else { &self.request_headers };
            map.get(name).cloned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::MapActivation;
    use super::*;

    #[test]
    fn malformed_is_not_cel_at_all() {
        let malformed = |src: &str| parse(src).unwrap_err().malformed;
        assert!(malformed("request.url_path == "));
        assert!(malformed("request.url_path == \"/a"));
        assert!(malformed("(request.method == \"GET\""));
        assert!(malformed("request.path == \"a\\qb\""));
        // Valid CEL outside the subset: only Envoy can tell.
        assert!(!malformed("request.path.startsWith(\"/a\") ? true : false"));
        assert!(!malformed("request.size > 10"));
    }

    fn run(src: &str, act: &mut MapActivation) -> Result<bool, EvalError> {
        let expr = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        eval_bool(&expr, act)
    }

    fn books_request() -> MapActivation {
        MapActivation::new()
            .s(Attr::RequestMethod, "GET")
            .s(Attr::RequestUrlPath, "/books")
            .s(Attr::RequestPath, "/books?debug=1")
            .s(Attr::RequestQuery, "debug=1")
            .s(Attr::RequestId, "abc-123")
            .i(Attr::ResponseCode, 200)
            .i(Attr::ResponseGrpcStatus, 14)
            .req_header("x-api-version", "v2")
            .req_header("user-agent", "curl/8.1")
            .resp_header("content-type", "application/json")
    }

    /// The condition shapes from the brief and from attributegen's documentation.
    #[test]
    fn attributegen_examples() {
        let mut act = books_request();
        let cases: &[(&str, bool)] = &[
            ("request.method == 'GET' && request.url_path == '/books'", true),
            ("request.url_path.startsWith('/status') || request.url_path.endsWith(\".json\")", false),
            ("request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$')", false),
            ("request.method in ['GET', 'HEAD']", true),
            ("!(response.code >= 500)", true),
            ("response.code >= 200 && response.code <= 299", true),
            ("request.headers['x-api-version'] == \"v2\"", true),
            ("response.headers['content-type'].contains('json')", true),
            ("size(request.path) > 10", true),
            ("request.path.size() < 5", false),
            ("request.headers[\"user-agent\"].matches(\"curl/.*\")", true),
            ("response.grpc_status == 14", true),
            ("request.query.contains(\"debug=1\")", true),
            ("request.id != ''", true),
            ("response.code == 200u", true),
            ("request.url_path.matches(r'^/b\\w+$')", true),
        ];
        for (src, want) in cases {
            assert_eq!(run(src, &mut act), Ok(*want), "{src}");
        }
    }

    #[test]
    fn shelves_regex_matches() {
        let mut act = MapActivation::new().s(Attr::RequestUrlPath, "/shelves/s1/books/b2");
        let src = "request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$')";
        assert_eq!(run(src, &mut act), Ok(true));
    }

    /// attributegen's responseCode.json ordering: first true condition wins.
    #[test]
    fn response_code_classes() {
        let conditions = [
            ("2xx", "response.code >= 200 && response.code <= 299"),
            ("404", "response.code == 404"),
            ("401", "response.code == 401"),
            ("403", "response.code == 403"),
            ("429", "response.code == 429"),
            ("503", "response.code == 503"),
            ("5xx", "response.code >= 500 && response.code <= 599"),
            ("4xx", "response.code >= 400 && response.code <= 499"),
        ];
        let exprs: Vec<(&str, Expr)> = conditions.iter().map(|(v, c)| (*v, parse(c).unwrap())).collect();
        for (code, want) in [(204, "2xx"), (404, "404"), (418, "4xx"), (503, "503"), (502, "5xx")] {
            let mut act = MapActivation::new().i(Attr::ResponseCode, code);
            let got = exprs.iter().find(|(_, e)| eval_bool(e, &mut act) == Ok(true)).map(|(v, _)| *v);
            assert_eq!(got, Some(want), "code {code}");
        }
    }

    #[test]
    fn uses_response_after_parse() {
        assert!(parse("response.code == 200").unwrap().uses_response());
        assert!(parse("request.method == 'GET' || response.headers['a'] == 'b'").unwrap().uses_response());
        assert!(!parse("request.headers['a'] == 'b'").unwrap().uses_response());
    }

    #[test]
    fn errors_display() {
        let e = parse("request.time > 1").unwrap_err();
        assert_eq!(e.to_string(), "column 1: attribute 'request.time' is not supported");
        let err: &dyn std::error::Error = &e;
        assert!(!err.to_string().is_empty());
        let mut act = MapActivation::new();
        let e = run("request.headers['X-A'] == 'a'", &mut act).unwrap_err();
        assert_eq!(e.to_string(), "no such key: 'x-a'");
    }
}
