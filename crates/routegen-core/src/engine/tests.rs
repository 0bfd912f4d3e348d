use super::native::strip_port;
use super::*;
use crate::cel::{Activation, Attr, Value};
use crate::config::Phase;
use crate::reference;
use crate::route::{MethodSet, PathMatch, RouteSpec};
use crate::template::Template;

fn native(json: &str) -> NativePlan {
    match compile_bytes(json.as_bytes(), &mut NoHostCel).unwrap().0.mode {
        Mode::Native(plan) => plan,
        Mode::Attributegen(_) => panic!("not native"),
    }
}

fn name<'a>(plan: &'a NativePlan, method: &str, path: &str, authority: &str) -> Option<&'a str> {
    let line = RequestLine { method: method.as_bytes(), path: path.as_bytes(), authority: authority.as_bytes() };
    plan.decide(&line, &mut HashMap::new(), &mut Vec::new()).name
}

#[test]
fn malformed_cel_is_rejected_with_or_without_a_host_engine() {
    let config = r#"{"attributes": [{"output_attribute": "o", "match": [{"value": "v", "condition": "request.url_path == "}]}]}"#;
    let e = compile_bytes(config.as_bytes(), &mut NoHostCel).unwrap_err();
    assert_eq!(e.field, "attributes[0].match[0].condition");
    assert!(e.reason.starts_with("invalid CEL: column 21: expected an operand"), "{e}");
}

#[test]
fn repeated_headers_are_joined_as_envoy_joins_them() {
    let plan = native(r#"{"routes": [{"name": "j", "path": "/h", "headers": {"x-a": "1,2"}}]}"#);
    let mut headers = JoinedHeaders::default();
    headers.add("X-A", b"1");
    headers.add("x-a", b"2");
    assert_eq!(headers.get("x-a"), Some(&b"1,2"[..]));
    let line = RequestLine { method: b"GET", path: b"/h", authority: b"" };
    assert_eq!(plan.decide(&line, &mut headers, &mut Vec::new()).name, Some("j"));
}

#[test]
fn matchable_path_is_none_past_the_limit() {
    let plan = native(r#"{"routes": ["GET /aaaaaaaa/{id}"], "default": "d", "limits": {"max_path_bytes": 10}}"#);
    assert!(plan.matchable_path(b"/aaaaaaaa/1").is_none());
    assert_eq!(plan.matchable_path(b"/aaaaaaaa").as_deref(), Some(&b"/aaaaaaaa"[..]));
    assert_eq!(name(&plan, "GET", "/aaaaaaaa/1", ""), Some("d"));
}

#[test]
fn first_matching_route_wins() {
    let plan = native(
        r#"{"default": "[DEFAULT]", "routes": [
            "GET /books/new", "GET /books/{id}", "POST /books", "/books/**",
            {"name": "prefix", "path_prefix": "/static"},
            {"name": "regex", "method": "DELETE", "path_regex": "/authors/[0-9]+"}
        ]}"#,
    );
    assert_eq!(name(&plan, "GET", "/books/new", ""), Some("GET /books/new"));
    assert_eq!(name(&plan, "GET", "/books/42?x=1", ""), Some("GET /books/{id}"));
    assert_eq!(name(&plan, "POST", "/books", ""), Some("POST /books"));
    assert_eq!(name(&plan, "PUT", "/books/42/x", ""), Some("/books/**"));
    assert_eq!(name(&plan, "GET", "/static/app.js", ""), Some("prefix"));
    assert_eq!(name(&plan, "DELETE", "/authors/7", ""), Some("regex"));
    assert_eq!(name(&plan, "DELETE", "/authors/x", ""), Some("[DEFAULT]"));
    assert_eq!(name(&plan, "GET", "/nothing", ""), Some("[DEFAULT]"));
}

#[test]
fn normalisation_applies_before_matching() {
    let plan = native(r#"{"routes": ["GET /books/{id}", "GET /admin"]}"#);
    assert_eq!(name(&plan, "GET", "//books//42/", ""), Some("GET /books/{id}"));
    assert_eq!(name(&plan, "GET", "/books/%34%32", ""), Some("GET /books/{id}"));
    assert_eq!(name(&plan, "GET", "/books/%2e%2e/admin", ""), Some("GET /admin"));
    assert_eq!(name(&plan, "GET", "/books", ""), None, "no default: unset");
    let raw = native(
        r#"{"normalize": {"merge_slashes": false, "ignore_trailing_slash": false}, "routes": ["GET /books/{id}"]}"#,
    );
    assert_eq!(name(&raw, "GET", "//books/42", ""), None);
    assert_eq!(name(&raw, "GET", "/books/42/", ""), None);
}

#[test]
fn paths_past_the_limit_are_not_examined() {
    let plan = native(r#"{"default": "[DEFAULT]", "limits": {"max_path_bytes": 16}, "routes": ["/**"]}"#);
    assert_eq!(name(&plan, "GET", "/short", ""), Some("/**"));
    assert_eq!(name(&plan, "GET", &format!("/{}", "a".repeat(16)), ""), Some("[DEFAULT]"));
}

#[test]
fn header_conditions() {
    let plan = native(r#"{"routes": [{"name": "v2", "path": "/api", "headers": {"x-api-version": "2"}}, "/api"]}"#);
    let line = RequestLine { method: b"GET", path: b"/api", authority: b"" };
    let mut headers = HashMap::from([("x-api-version".to_string(), b"2".to_vec())]);
    assert_eq!(plan.decide(&line, &mut headers, &mut Vec::new()).name, Some("v2"));
    assert_eq!(plan.decide(&line, &mut HashMap::new(), &mut Vec::new()).name, Some("/api"));
}

#[test]
fn services_scope_by_authority() {
    let plan = native(
        r#"{"default": "[DEFAULT]", "routes": ["GET /healthz"], "services": [
            {"hosts": ["books", "books.default.svc.cluster.local"], "routes": ["GET /books"], "default": "books [DEFAULT]"},
            {"hosts": ["authors:8080", "*.authors.example"], "routes": ["GET /authors"]}
        ]}"#,
    );
    assert_eq!(name(&plan, "GET", "/books", "books"), Some("GET /books"));
    assert_eq!(name(&plan, "GET", "/books", "Books.Default.svc.cluster.local:9080"), Some("GET /books"));
    assert_eq!(name(&plan, "GET", "/healthz", "books:80"), Some("GET /healthz"), "fallback table after the service's");
    assert_eq!(name(&plan, "GET", "/nope", "books"), Some("books [DEFAULT]"));
    assert_eq!(name(&plan, "GET", "/books", "other"), Some("[DEFAULT]"), "another host never sees books' routes");
    assert_eq!(name(&plan, "GET", "/authors", "authors:8080"), Some("GET /authors"));
    assert_eq!(name(&plan, "GET", "/authors", "authors:9090"), Some("[DEFAULT]"), "port-qualified host");
    assert_eq!(name(&plan, "GET", "/authors", "eu.authors.example"), Some("GET /authors"));
    assert_eq!(name(&plan, "GET", "/authors", "authors.example"), Some("[DEFAULT]"));
    let line = RequestLine { method: b"GET", path: b"/authors", authority: b"authors:8080" };
    let decision = plan.decide(&line, &mut HashMap::new(), &mut Vec::new());
    assert_eq!((decision.route, decision.service), (Some(2), Some(1)), "global ids: fallback, then services");
    assert_eq!(plan.routes().count(), 3);
    assert_eq!(plan.route(2).map(|r| r.name.as_str()), Some("GET /authors"));
    assert_eq!(plan.route(0).map(|r| r.name.as_str()), Some("GET /healthz"));
    assert!(plan.route(3).is_none());
}

#[test]
fn port_stripping() {
    assert_eq!(strip_port("a:80"), "a");
    assert_eq!(strip_port("a"), "a");
    assert_eq!(strip_port("[::1]:80"), "[::1]");
    assert_eq!(strip_port("[::1]"), "[::1]");
    assert_eq!(strip_port("a:b"), "a:b");
}

/// A tiny deterministic PRNG so the differential test needs no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &["a", "b", "books", "1", "x.json", "", "new"];
const METHODS: &[&str] = &["GET", "POST", "HEAD"];

fn random_route(rng: &mut Rng, n: usize) -> RouteSpec {
    let depth = 1 + rng.next() % 4;
    let mut text = String::new();
    for d in 0..depth {
        text.push('/');
        let piece = match rng.next() % 9 {
            0 => "{id}".to_string(),
            1 => "*".to_string(),
            2 if d + 1 == depth => "**".to_string(),
            3 => "{name}.json".to_string(),
            _ => rng.pick(WORDS).to_string(),
        };
        text.push_str(&piece);
    }
    let path = match rng.next() % 7 {
        0 => PathMatch::Prefix(text.replace(['{', '}', '*'], "").into_bytes()),
        6 => PathMatch::DirPrefix(format!("{}/", text.replace(['{', '}', '*'], "")).into_bytes()),
        1 => PathMatch::Exact(text.replace(['{', '}', '*'], "").into_bytes()),
        2 => PathMatch::Regex(Box::new(
            crate::route::PathRegex::new(
                &format!("{}[a-z0-9]*", text.replace(['{', '}', '*', '.'], "")),
                rng.next() % 2 == 0,
                false,
            )
            .unwrap(),
        )),
        3 if rng.next() % 3 == 0 => PathMatch::Any,
        _ => PathMatch::Template(Template::parse(&text).unwrap()),
    };
    let methods = if rng.next() % 3 == 0 { MethodSet::any() } else { MethodSet::only(&[rng.pick(METHODS)]) };
    RouteSpec { name: format!("r{n}"), methods, path, headers: Vec::new(), query: Vec::new(), failure_classes: None }
}

fn random_path(rng: &mut Rng) -> String {
    let depth = rng.next() % 5;
    let mut path = String::new();
    for _ in 0..depth {
        path.push('/');
        path.push_str(rng.pick(WORDS));
    }
    if path.is_empty() {
        path.push('/');
    }
    path
}

#[test]
fn index_agrees_with_sequential_scan_on_random_tables() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut checked = 0;
    let mut matched = 0;
    for _ in 0..300 {
        let size = 1 + (rng.next() % 40) as usize;
        let routes: Vec<RouteSpec> = (0..size).map(|n| random_route(&mut rng, n)).collect();
        let table = Table::new(routes, 0);
        let mut scratch = Vec::new();
        for _ in 0..60 {
            let path = random_path(&mut rng);
            let method = rng.pick(METHODS).as_bytes();
            let expected = reference::first_match(&table.routes, method, path.as_bytes(), b"", &mut HashMap::new());
            let actual = table.first_match(method, path.as_bytes(), b"", &mut HashMap::new(), &mut scratch);
            assert_eq!(actual, expected, "path {path:?} method {method:?} routes {:#?}", table.routes);
            checked += 1;
            matched += usize::from(expected.is_some());
        }
    }
    assert_eq!(checked, 18_000);
    assert!(matched > checked / 5, "the random tables should match often enough to be a real test ({matched})");
}

// --- attributegen ------------------------------------------------------------------------------

/// A request as the CEL activation sees it.
#[derive(Default)]
struct Req {
    attrs: HashMap<Attr, Value>,
    headers: HashMap<String, String>,
    response_headers: HashMap<String, String>,
}

impl Req {
    fn new(method: &str, path: &str) -> Req {
        let mut req = Req::default();
        req.attrs.insert(Attr::RequestMethod, Value::Str(method.into()));
        req.attrs.insert(Attr::RequestPath, Value::Str(path.into()));
        let url_path = path.split('?').next().unwrap_or("");
        req.attrs.insert(Attr::RequestUrlPath, Value::Str(url_path.into()));
        req
    }
    fn code(mut self, code: i64) -> Req {
        self.attrs.insert(Attr::ResponseCode, Value::Int(code));
        self
    }
    fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.insert(name.into(), value.into());
        self
    }
    fn line(&self) -> (Vec<u8>, Vec<u8>) {
        let text = |a: Attr| match self.attrs.get(&a) {
            Some(Value::Str(s)) => s.clone().into_bytes(),
            _ => Vec::new(),
        };
        (text(Attr::RequestMethod), text(Attr::RequestPath))
    }
}

impl Activation for Req {
    fn attr(&mut self, attr: Attr) -> Option<Value> {
        self.attrs.get(&attr).cloned()
    }
    fn header(&mut self, response: bool, name: &str) -> Option<String> {
        if response {
            self.response_headers.get(name).cloned()
        } else {
            self.headers.get(name).cloned()
        }
    }
}

/// A fake host CEL: tokens are indices into the sources it accepted; a source evaluates to
/// true when it is the literal text "host-true", false for "host-false", and errors otherwise.
#[derive(Default)]
struct FakeHost {
    sources: Vec<String>,
}

impl HostCel for FakeHost {
    fn create(&mut self, source: &str) -> Result<u32, String> {
        if source.contains("syntax error") {
            return Err("ERROR: <input>:1:1: Syntax error".to_string());
        }
        self.sources.push(source.to_string());
        Ok(self.sources.len() as u32 - 1)
    }
    fn evaluate(&mut self, token: u32) -> Result<bool, String> {
        match self.sources.get(token as usize).map(String::as_str) {
            Some(s) if s.contains("host-true") => Ok(true),
            Some(s) if s.contains("host-false") => Ok(false),
            _ => Err("host evaluation failed".to_string()),
        }
    }
}

fn attributes(json: &str, host: &mut dyn HostCel) -> (Vec<AttributePlan>, Vec<Note>) {
    let (engine, notes) = compile_bytes(json.as_bytes(), host).unwrap();
    match engine.mode {
        Mode::Attributegen(plans) => (plans, notes),
        Mode::Native(_) => panic!("not attributegen"),
    }
}

/// Evaluates through the index and checks the in-order reference agrees.
fn run<'a>(plan: &'a AttributePlan, req: &mut Req, host: &mut dyn HostCel) -> Outcome<'a> {
    let (method, path) = req.line();
    let fast = plan.evaluate(Some((&method, &path)), req, host, &mut Vec::new());
    let slow = plan.evaluate_in_order(req, host);
    assert_eq!(fast, slow, "index and in-order evaluation disagree");
    fast
}

const OPERATIONS: &str = r#"{"attributes": [{"output_attribute": "istio_operationId", "match": [
    {"value": "ListBooks", "condition": "request.url_path == '/books' && request.method == 'GET'"},
    {"value": "GetBook", "condition": "request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$') && request.method == 'GET'"},
    {"value": "CreateBook", "condition": "request.url_path == '/books/' && request.method == 'POST'"}]}]}"#;

#[test]
fn attributegen_operation_example() {
    let (plans, notes) = attributes(OPERATIONS, &mut NoHostCel);
    assert!(notes.is_empty());
    let plan = &plans[0];
    assert_eq!(plan.indexed_len(), 3);
    assert_eq!(run(plan, &mut Req::new("GET", "/books?x=1"), &mut NoHostCel), Outcome::Set("ListBooks"));
    assert_eq!(run(plan, &mut Req::new("GET", "/shelves/s1/books/b2"), &mut NoHostCel), Outcome::Set("GetBook"));
    assert_eq!(run(plan, &mut Req::new("POST", "/books/"), &mut NoHostCel), Outcome::Set("CreateBook"));
    assert_eq!(run(plan, &mut Req::new("POST", "/books"), &mut NoHostCel), Outcome::NoMatch);
    assert_eq!(
        run(plan, &mut Req::new("GET", "//books"), &mut NoHostCel),
        Outcome::NoMatch,
        "no normalisation in the drop-in"
    );
}

const RESPONSE_CODES: &str = r#"{"attributes": [{"output_attribute": "istio_responseClass", "match": [
    {"value": "2xx", "condition": "response.code >= 200 && response.code <= 299"},
    {"value": "404", "condition": "response.code == 404"},
    {"value": "401", "condition": "response.code == 401"},
    {"value": "403", "condition": "response.code == 403"},
    {"value": "429", "condition": "response.code == 429"},
    {"value": "503", "condition": "response.code == 503"},
    {"value": "5xx", "condition": "response.code >= 500 && response.code <= 599"},
    {"value": "4xx", "condition": "response.code >= 400 && response.code <= 499"}]}]}"#;

#[test]
fn attributegen_response_code_example() {
    let (plans, _) = attributes(RESPONSE_CODES, &mut NoHostCel);
    let plan = &plans[0];
    assert_eq!(plan.phase, Phase::AfterResponse);
    for (code, expected) in
        [(200, "2xx"), (204, "2xx"), (404, "404"), (418, "4xx"), (503, "503"), (500, "5xx"), (429, "429")]
    {
        assert_eq!(
            run(plan, &mut Req::new("GET", "/").code(code), &mut NoHostCel),
            Outcome::Set(expected),
            "code {code}"
        );
    }
    assert_eq!(run(plan, &mut Req::new("GET", "/").code(302), &mut NoHostCel), Outcome::NoMatch);
}

#[test]
fn empty_condition_is_a_catch_all_and_attributes_are_independent() {
    let json = r#"{"attributes": [
        {"output_attribute": "a", "match": [{"value": "books", "condition": "request.url_path.startsWith('/books')"}, {"value": "other"}]},
        {"output_attribute": "b", "phase": "ON_REQUEST", "match": [{"value": "get", "condition": "request.method == 'GET'"}]}]}"#;
    let (plans, _) = attributes(json, &mut NoHostCel);
    assert_eq!(run(&plans[0], &mut Req::new("POST", "/books/1"), &mut NoHostCel), Outcome::Set("books"));
    assert_eq!(run(&plans[0], &mut Req::new("POST", "/x"), &mut NoHostCel), Outcome::Set("other"));
    assert_eq!(run(&plans[1], &mut Req::new("POST", "/x"), &mut NoHostCel), Outcome::NoMatch);
    assert_eq!(plans[1].phase, Phase::OnRequest);
}

#[test]
fn an_evaluation_error_abandons_the_attribute() {
    let json = r#"{"attributes": [{"output_attribute": "a", "match": [
        {"value": "early", "condition": "request.url_path == '/early'"},
        {"value": "header", "condition": "request.headers['x-a'] == 'a'"},
        {"value": "late", "condition": "request.url_path == '/late'"},
        {"value": "guarded", "condition": "request.method == 'PUT' && request.headers['x-b'] == 'b'"}]}]}"#;
    let (plans, _) = attributes(json, &mut NoHostCel);
    let plan = &plans[0];
    assert_eq!(
        run(plan, &mut Req::new("GET", "/early"), &mut NoHostCel),
        Outcome::Set("early"),
        "decided before the error"
    );
    assert!(matches!(run(plan, &mut Req::new("GET", "/late"), &mut NoHostCel), Outcome::Error { position: 1, .. }));
    assert_eq!(run(plan, &mut Req::new("GET", "/late").header("x-a", "z"), &mut NoHostCel), Outcome::Set("late"));
    assert_eq!(run(plan, &mut Req::new("GET", "/x").header("x-a", "a"), &mut NoHostCel), Outcome::Set("header"));
    // The indexed part of "guarded" is false for GET, so its missing header is no error (CEL &&).
    assert_eq!(run(plan, &mut Req::new("GET", "/x").header("x-a", "z"), &mut NoHostCel), Outcome::NoMatch);
    assert!(matches!(
        run(plan, &mut Req::new("PUT", "/x").header("x-a", "z"), &mut NoHostCel),
        Outcome::Error { position: 3, .. }
    ));
}

#[test]
fn host_cel_fallback() {
    let json = r#"{"attributes": [{"output_attribute": "a", "match": [
        {"value": "first", "condition": "request.url_path == '/a'"},
        {"value": "host", "condition": "connection.mtls && 'host-true' != ''"},
        {"value": "never", "condition": "request.url_path == '/b'"}]}]}"#;
    let mut host = FakeHost::default();
    let (plans, notes) = attributes(json, &mut host);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].field, "attributes[0].match[1].condition");
    assert!(notes[0].message.contains("evaluated by Envoy's CEL"));
    assert_eq!(run(&plans[0], &mut Req::new("GET", "/a"), &mut host), Outcome::Set("first"));
    assert_eq!(run(&plans[0], &mut Req::new("GET", "/b"), &mut host), Outcome::Set("host"));

    // Without a host engine it compiles with a note and can only error.
    let (plans, notes) = attributes(json, &mut NoHostCel);
    assert!(notes[0].message.contains("needs Envoy's CEL at run time"));
    assert!(matches!(run(&plans[0], &mut Req::new("GET", "/b"), &mut NoHostCel), Outcome::Error { position: 1, .. }));

    // Rejected by both: a config error naming the field.
    let bad =
        r#"{"attributes": [{"output_attribute": "a", "match": [{"value": "x", "condition": "syntax error ("}]}]}"#;
    let err = compile_bytes(bad.as_bytes(), &mut FakeHost::default()).unwrap_err();
    assert_eq!(err.field, "attributes[0].match[0].condition");
    assert!(err.reason.starts_with("invalid CEL: "), "{}", err.reason);
}

#[test]
fn missing_pseudo_headers_fall_back_to_in_order_evaluation() {
    let (plans, _) = attributes(OPERATIONS, &mut NoHostCel);
    let mut req = Req::default();
    // No method, no path: CEL errors on the first condition that reads them.
    assert!(matches!(
        plans[0].evaluate(None, &mut req, &mut NoHostCel, &mut Vec::new()),
        Outcome::Error { position: 0, .. }
    ));
}

#[test]
fn indexed_and_in_order_evaluation_agree_on_random_conditions() {
    let conditions: [&str; 12] = [
        "request.method == 'GET'",
        "request.url_path == '/a'",
        "request.url_path.startsWith('/a')",
        "request.url_path.matches('^/a/[^/]+$')",
        "request.url_path.matches('b')",
        "request.headers['x'] == '1'",
        "request.method in ['GET', 'POST'] && request.url_path.startsWith('/b')",
        "request.method == 'POST' && request.headers['x'] == '1'",
        "request.url_path.endsWith('/')",
        "",
        "response.code == 200",
        "!(request.method == 'GET') || request.url_path == '/a/b'",
    ];
    let paths: [&str; 7] = ["/a", "/a/b", "/b", "/b/a/", "/", "/a/b?q=1", "/c"];
    let mut rng = Rng(42);
    for _ in 0..300 {
        let n = 1 + rng.next() % 8;
        let matches: Vec<String> =
            (0..n).map(|i| format!(r#"{{"value": "v{i}", "condition": {:?}}}"#, rng.pick(&conditions))).collect();
        let json = format!(r#"{{"attributes": [{{"output_attribute": "a", "match": [{}]}}]}}"#, matches.join(","));
        let (plans, _) = attributes(&json, &mut NoHostCel);
        for _ in 0..10 {
            let mut req = Req::new(rng.pick(METHODS), rng.pick(&paths));
            if rng.next() % 2 == 0 {
                req = req.header("x", "1");
            }
            if rng.next() % 2 == 0 {
                req = req.code(200);
            }
            run(&plans[0], &mut req, &mut NoHostCel); // asserts agreement
        }
    }
}

#[test]
fn the_longest_wildcard_wins_whatever_the_order() {
    let plan = native(
        r#"{"services": [
            {"hosts": ["*.example.com"], "routes": [{"name": "wide", "path_prefix": "/"}]},
            {"hosts": ["*.b.example.com"], "routes": [{"name": "narrow", "path_prefix": "/"}]}
        ]}"#,
    );
    assert_eq!(name(&plan, "GET", "/", "x.b.example.com"), Some("narrow"));
    assert_eq!(name(&plan, "GET", "/", "x.c.example.com:80"), Some("wide"));
}
