//! `routegen explain`: which route a request gets, and why every earlier route did not.
//!
//! The verdict is the engine's own (`NativePlan::decide`, `AttributePlan::evaluate`); the
//! explanation walks the same routes in order with the core's one-route checks
//! (`MethodSet::allows`, `PathMatch::matches`, `ValueMatch::matches`, CEL `eval_bool`) and
//! says which condition failed. The two are compared, so an explanation that disagrees with
//! the filter is reported as a bug instead of printed as truth.

use crate::common::{self, Exit, Format, Result};
use crate::EXIT_OK;
use routegen_core::cel::{self, Activation, Attr, Expr, Value as CelValue};
use routegen_core::config::Phase;
use routegen_core::engine::{
    AttributePlan, Condition, JoinedHeaders, Mode, NativePlan, NoHostCel, Outcome, RequestLine,
};
use routegen_core::lower::flatten_and;
use routegen_core::metrics;
use routegen_core::route::{query_value, raw_query, RouteSpec, ValueRule};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Show which route a request gets, and why each earlier route did not match.
///
/// Native configs: the normalised path, the service chosen by --host, every earlier route with
/// the reason it did not match (method, path, header, host scope), the winner or the default,
/// and with --status the success/failure classification. attributegen configs: each
/// attribute's matches in order, evaluated with the CEL subset from the arguments; conditions
/// only Envoy's CEL can evaluate are reported as such.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen explain routes.json GET /books/12\n  routegen explain routes.json GET '/books//12/?x=1' --host books.default.svc.cluster.local\n  routegen explain attributegen.json GET /status --status 503\n  routegen explain routes.json POST /api --header x-api-version=2 -o json\n  routegen explain auto.json GET /users/alice/repos --history traffic.txt\n\n\
Exit status: 0 explained, 1 invalid configuration, 2 unreadable file or bad arguments."
)]
pub struct Args {
    /// The configuration file (native, attributegen, or a WasmPlugin).
    config: PathBuf,
    /// The request method, e.g. GET.
    method: String,
    /// The request path as sent (`:path`, query included).
    path: String,
    /// The request's Host / :authority (selects the `services` entry).
    #[arg(long)]
    host: Option<String>,
    /// The response status, for classification and attributegen `response.code`.
    #[arg(long)]
    status: Option<u16>,
    /// The gRPC status (`grpc-status`), for classification and `response.grpc_status`.
    #[arg(long = "grpc-status")]
    grpc_status: Option<u32>,
    /// A request header NAME=VALUE (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// With `auto` on: earlier traffic to replay first, one `METHOD /path` per line (which
    /// words become `{param}` depends on what one Envoy process has seen).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Output format: table (readable lines), json or yaml.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    output: Format,
}

pub fn run(args: Args) -> Result<u8> {
    let loaded = common::load(&args.config)?;
    let mut joined = JoinedHeaders::default();
    for header in &args.headers {
        let (name, value) =
            header.split_once('=').ok_or_else(|| Exit::usage(format!("--header '{header}': expected NAME=VALUE")))?;
        joined.add(name, value.as_bytes());
    }
    let request = Request { args: &args, headers: joined };
    let report = match &loaded.engine.mode {
        Mode::Native(plan) => explain_native(plan, &request)?,
        Mode::Attributegen(attributes) => explain_attributegen(attributes, &request)?,
    };
    match args.output {
        Format::Json | Format::Yaml => print!("{}", common::to_text(&report.json, args.output)?),
        _ => print!("{}", report.text),
    }
    Ok(EXIT_OK)
}

struct Request<'a> {
    args: &'a Args,
    /// As the filter reads them: lower-case names, a repeated header's values joined with ','.
    headers: JoinedHeaders,
}

impl Request<'_> {
    /// A request header as text, for messages and CEL.
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

struct Report {
    text: String,
    json: Value,
}

// ---------------------------------------------------------------------------------------------
// Native

/// Why a route did not take the request, or `None` if it did.
fn mismatch(route: &RouteSpec, method: &str, path: &[u8], query: &[u8], headers: &JoinedHeaders) -> Option<String> {
    if !route.methods.allows(method.as_bytes()) {
        return Some(format!("method {method} is not {}", route.methods));
    }
    if !route.path.matches(path) {
        return Some(format!("path does not match {}", describe_path(&route.path)));
    }
    let values = route.headers.iter().map(|h| ("header", h, headers.get(&h.name)));
    let params = route.query.iter().map(|q| ("query parameter", q, query_value(query, &q.name)));
    for (what, condition, value) in values.chain(params) {
        if !condition.matches(value) {
            let want = match &condition.rule {
                ValueRule::Present => "present".to_string(),
                ValueRule::Absent => "absent".to_string(),
                ValueRule::Exact(v) => format!("'{v}'"),
                ValueRule::Prefix(p) => format!("starting with '{p}'"),
                ValueRule::Regex(r) => format!("matching {}", r.as_str()),
            };
            let got = value.map(|v| format!("'{}'", common::text(v))).unwrap_or_else(|| "absent".to_string());
            return Some(format!("{what} {} must be {want}, is {got}", condition.name));
        }
    }
    None
}

pub fn describe_path(path: &routegen_core::route::PathMatch) -> String {
    use routegen_core::route::PathMatch;
    match path {
        PathMatch::Any => "any path".to_string(),
        PathMatch::Exact(p) => format!("exactly {}", common::text(p)),
        PathMatch::Prefix(p) => format!("prefix {}", common::text(p)),
        PathMatch::DirPrefix(p) => {
            format!("prefix {} (or {})", common::text(p), common::text(p.strip_suffix(b"/").unwrap_or(p)))
        }
        PathMatch::Template(t) => format!("template {}", template_text(t)),
        PathMatch::Regex(r) => format!("regex {}", r.regex.as_str()),
    }
}

/// A compiled template written back (`*` for each variable: their names are not kept).
fn template_text(template: &routegen_core::template::Template) -> String {
    use routegen_core::template::{GlobPart, Segment};
    let mut out = String::new();
    for segment in &template.segments {
        out.push('/');
        match segment {
            Segment::Literal(bytes) => out.push_str(&common::text(bytes)),
            Segment::Any { .. } => out.push('*'),
            Segment::Glob(glob) => {
                for part in &glob.parts {
                    match part {
                        GlobPart::Literal(bytes) => out.push_str(&common::text(bytes)),
                        GlobPart::Any | GlobPart::AnyOrEmpty => out.push('*'),
                    }
                }
            }
        }
    }
    if template.rest {
        out.push_str("/**");
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn explain_native(plan: &NativePlan, request: &Request<'_>) -> Result<Report> {
    let args = request.args;
    let authority = args.host.clone().unwrap_or_default();
    let matchable = plan.matchable_path(args.path.as_bytes()).map(|p| p.into_owned());
    let path = matchable.clone().unwrap_or_default();
    let mut text = String::new();
    let mut candidates = Vec::new();
    text.push_str(&format!(
        "request:    {} {}{}\n",
        args.method,
        args.path,
        args.host.as_ref().map(|h| format!("  (host {h})")).unwrap_or_default()
    ));
    match &matchable {
        Some(path) => {
            text.push_str(&format!("path:       {} (as matched: query cut, normalised)\n", common::text(path)))
        }
        None => text.push_str(&format!(
            "path:       {} bytes, longer than limits.max_path_bytes ({}): not examined, the default applies\n",
            args.path.len(),
            plan.max_path_bytes
        )),
    }
    let service = plan.service_for(authority.as_bytes());
    let mut tables: Vec<(String, &[RouteSpec], usize)> = Vec::new();
    match service {
        Some(s) => {
            let svc = &plan.services[s];
            text.push_str(&format!("service:    services[{s}] (hosts: {})\n", svc.hosts.join(", ")));
            tables.push((format!("services[{s}].routes"), &svc.table.routes, svc.table.first_id));
        }
        None if plan.services.is_empty() => {}
        None if authority.is_empty() => text.push_str("service:    no --host given: services[] (chosen by host) are out of scope, only the top-level routes apply\n"),
        None => text.push_str(&format!(
            "service:    none of the {} services lists host '{}': their routes are out of scope, only the top-level routes apply\n",
            plan.services.len(),
            authority
        )),
    }
    tables.push(("routes".to_string(), &plan.fallback.routes, 0));
    let mut winner: Option<(usize, String)> = None;
    text.push_str("candidates, in order:\n");
    if matchable.is_none() {
        tables.clear();
    }
    'tables: for (field, routes, first_id) in &tables {
        for (i, route) in routes.iter().enumerate() {
            let at = format!("{field}[{i}]");
            match mismatch(route, &args.method, &path, raw_query(args.path.as_bytes()), &request.headers) {
                Some(reason) => {
                    text.push_str(&format!("  {at:<22} {:<34} no: {reason}\n", format!("'{}'", route.name)));
                    candidates.push(json!({"field": at, "name": route.name, "matched": false, "reason": reason}));
                }
                None => {
                    text.push_str(&format!("  {at:<22} {:<34} MATCH\n", format!("'{}'", route.name)));
                    candidates.push(json!({"field": at, "name": route.name, "matched": true}));
                    winner = Some((first_id + i, at));
                    break 'tables;
                }
            }
        }
    }
    // The filter's own answer, through the index.
    let mut headers = request.headers.clone();
    let line =
        RequestLine { method: args.method.as_bytes(), path: args.path.as_bytes(), authority: authority.as_bytes() };
    let decision = plan.decide(&line, &mut headers, &mut Vec::new());
    if decision.route != winner.as_ref().map(|(id, _)| *id) {
        return Err(Exit::invalid(format!("internal error: the explanation ({winner:?}) disagrees with the filter's decision ({decision:?}); please report this")));
    }
    let mut auto_json = Value::Null;
    let auto = match (&winner, &matchable) {
        (None, Some(path)) => crate::auto::Simulation::new(plan).map(|mut sim| {
            let replayed = args.history.as_deref().map(|file| sim.replay(file)).transpose()?;
            let (named, steps) = sim.explain(&args.method, path);
            let (auto_text, json) = crate::auto::report(&named, &steps, replayed);
            text.push_str(&auto_text);
            auto_json = json;
            Ok::<_, Exit>(named)
        }),
        _ => None,
    }
    .transpose()?;
    let (result_text, result_json) = match (&winner, decision.name) {
        (None, _) if auto.is_some() => {
            let name = auto.as_ref().map(|a| &*a.name).unwrap_or_default();
            (format!("auto name '{name}'"), json!({"route": name, "field": null, "default": false, "auto": true}))
        }
        (Some((_, at)), Some(name)) => {
            (format!("route '{name}' ({at})"), json!({"route": name, "field": at, "default": false}))
        }
        (None, Some(name)) => {
            (format!("no route matched: the default '{name}'"), json!({"route": name, "field": null, "default": true}))
        }
        (_, None) => (
            "no route matched and no default: the attribute is left unset (Istio shows route_name=\"unknown\")"
                .to_string(),
            json!({"route": null, "field": null, "default": true}),
        ),
    };
    text.push_str(&format!("result:     {result_text} → filter_state['wasm.{}']\n", plan.output_attribute));
    let mut classification = Value::Null;
    if let Some(status) = args.status {
        let route = decision.route.and_then(|id| plan.route(id));
        let classes = route.and_then(|r| r.failure_classes.as_deref());
        let class = metrics::classify(u32::from(status), args.grpc_status, classes);
        let why = match (classes, args.grpc_status) {
            (Some(c), _) if c.iter().any(|r| r.contains(u32::from(status))) => {
                "in the route's failure_classes".to_string()
            }
            (_, Some(g)) => format!("grpc-status {g}"),
            (Some(c), None) => format!(
                "not in the route's failure_classes ({})",
                c.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
            ),
            (None, None) => "5xx is a failure, anything else a success".to_string(),
        };
        text.push_str(&format!("status:     {status}: {} ({why})\n", class.as_str()));
        classification = json!(class.as_str());
    }
    let json = json!({
        "format": "native",
        "request": {"method": args.method, "path": args.path, "host": args.host, "matched_path": common::text(&path)},
        "service": service.map(|s| format!("services[{s}]")),
        "candidates": candidates,
        "result": result_json,
        "auto": auto_json,
        "classification": classification,
    });
    Ok(Report { text, json })
}

// ---------------------------------------------------------------------------------------------
// attributegen

/// The request as Envoy's CEL attributes, from the command line.
struct CliActivation<'a> {
    request: &'a Request<'a>,
    /// Response attributes exist only after the response (phase AFTER_RESPONSE).
    response: bool,
}

impl Activation for CliActivation<'_> {
    fn attr(&mut self, attr: Attr) -> Option<CelValue> {
        let args = self.request.args;
        let (url_path, query) = match args.path.split_once('?') {
            Some((p, q)) => (p, q),
            None => (args.path.as_str(), ""),
        };
        let header = |name: &str| self.request.header(name);
        let value = match attr {
            Attr::RequestMethod => CelValue::Str(args.method.clone()),
            Attr::RequestPath => CelValue::Str(args.path.clone()),
            Attr::RequestUrlPath => CelValue::Str(url_path.to_string()),
            Attr::RequestQuery => CelValue::Str(query.to_string()),
            Attr::RequestHost => CelValue::Str(args.host.clone().or_else(|| header("host"))?),
            Attr::RequestScheme => CelValue::Str("http".to_string()),
            Attr::RequestProtocol => CelValue::Str("HTTP/1.1".to_string()),
            Attr::RequestId => CelValue::Str(header("x-request-id")?),
            Attr::RequestReferer => CelValue::Str(header("referer")?),
            Attr::RequestUseragent => CelValue::Str(header("user-agent")?),
            Attr::ResponseCode if self.response => CelValue::Int(i64::from(args.status?)),
            Attr::ResponseGrpcStatus if self.response => CelValue::Int(i64::from(args.grpc_status?)),
            Attr::ResponseCode | Attr::ResponseGrpcStatus => return None,
        };
        Some(value)
    }

    fn header(&mut self, response: bool, name: &str) -> Option<String> {
        if response {
            return None;
        }
        self.request.header(name)
    }
}

fn explain_attributegen(attributes: &[AttributePlan], request: &Request<'_>) -> Result<Report> {
    let args = request.args;
    let mut text = format!(
        "request:    {} {}{}\n",
        args.method,
        args.path,
        args.host.as_ref().map(|h| format!("  (host {h})")).unwrap_or_default()
    );
    text.push_str(&format!(
        "url_path:   {} (attributegen sees request.url_path as sent: nothing normalised)\n",
        args.path.split('?').next().unwrap_or("")
    ));
    let mut attributes_json = Vec::new();
    for (a, attribute) in attributes.iter().enumerate() {
        let after = attribute.phase == Phase::AfterResponse;
        text.push_str(&format!(
            "attributes[{a}] → filter_state['wasm.{}'] ({})\n",
            attribute.output_attribute,
            if after { "AFTER_RESPONSE: response.code is --status" } else { "ON_REQUEST: no response attributes" }
        ));
        let mut activation = CliActivation { request, response: after };
        let mut steps = Vec::new();
        let mut decided: Option<String> = None;
        let mut undetermined: Option<usize> = None;
        for (j, entry) in attribute.matches.iter().enumerate() {
            let at = format!("attributes[{a}].match[{j}]");
            let (verdict, detail) = match &entry.condition {
                Condition::Always => ("true", "empty condition (always true)".to_string()),
                Condition::Cel(expr) => match cel::eval_bool(expr, &mut activation) {
                    Ok(true) => ("true", show(expr)),
                    Ok(false) => ("false", why_false(expr, &mut activation)),
                    Err(e) => (
                        "error",
                        format!(
                            "{e}: attributegen abandons the attribute (nothing is written){}",
                            hint(&e.to_string(), after, args.status.is_some())
                        ),
                    ),
                },
                Condition::Host { source, .. } => {
                    ("needs Envoy's CEL", format!("{source} (outside routegen's subset: cannot be evaluated here)"))
                }
            };
            text.push_str(&format!("  {at:<28} {:<24} {verdict}: {detail}\n", format!("'{}'", entry.value)));
            steps.push(json!({"field": at, "value": entry.value, "verdict": verdict, "detail": detail}));
            match verdict {
                "true" | "error" if decided.is_none() => {
                    decided = Some(verdict.to_string());
                    if undetermined.is_none() {
                        break;
                    }
                }
                "needs Envoy's CEL" if undetermined.is_none() && decided.is_none() => {
                    undetermined = Some(j);
                    text.push_str("  (the matches below apply only if that condition is false)\n");
                }
                _ => {}
            }
            if decided.is_some() {
                break;
            }
        }
        // The filter's own verdict through its index, unless Envoy's CEL had to decide.
        let engine = attribute.evaluate(
            Some((args.method.as_bytes(), args.path.as_bytes())),
            &mut activation,
            &mut NoHostCel,
            &mut Vec::new(),
        );
        let in_order = attribute.evaluate_in_order(&mut activation, &mut NoHostCel);
        let result = match (&undetermined, &engine) {
            (Some(j), _) => format!("undetermined: depends on match[{j}], which only Envoy's CEL can evaluate"),
            (None, Outcome::Set(value)) => format!("'{value}'"),
            (None, Outcome::NoMatch) => "no match: nothing is written (Istio shows route_name=\"unknown\")".to_string(),
            (None, Outcome::Error { position, message }) => {
                format!("abandoned: match[{position}] failed to evaluate ({message}); nothing is written")
            }
        };
        if undetermined.is_none() && engine != in_order {
            return Err(Exit::invalid(format!("internal error: indexed evaluation ({engine:?}) disagrees with in-order evaluation ({in_order:?}); please report this")));
        }
        text.push_str(&format!("  result: {result}\n"));
        attributes_json
            .push(json!({"output_attribute": attribute.output_attribute, "matches": steps, "result": result}));
    }
    let json = json!({
        "format": "attributegen",
        "request": {"method": args.method, "path": args.path, "host": args.host, "status": args.status},
        "attributes": attributes_json,
    });
    Ok(Report { text, json })
}

/// What the user can do about an evaluation error. Response attributes exist only after the
/// response (`AFTER_RESPONSE`): in an `ON_REQUEST` attribute they are an error in the filter
/// too, whatever --status says.
fn hint(error: &str, after_response: bool, status_given: bool) -> &'static str {
    if error.contains("response.code") || error.contains("response.grpc_status") {
        match (after_response, status_given) {
            (false, _) => " — response attributes are not available ON_REQUEST (use phase AFTER_RESPONSE)",
            (true, false) => " — pass --status (and --grpc-status) to evaluate response conditions",
            (true, true) => "",
        }
    } else if error.contains("no such key") {
        " — pass the header with --header NAME=VALUE"
    } else {
        ""
    }
}

/// For a false `a && b && …`: the first conjunct that is false.
fn why_false(expr: &Expr, activation: &mut dyn Activation) -> String {
    let mut conjuncts = Vec::new();
    flatten_and(expr, &mut conjuncts);
    if conjuncts.len() > 1 {
        for conjunct in conjuncts {
            if cel::eval_bool(conjunct, activation) == Ok(false) {
                return format!("{} is false", show(conjunct));
            }
        }
    }
    show(expr)
}

/// CEL source for an expression (the parser keeps no text; this prints an equivalent).
pub fn show(expr: &Expr) -> String {
    match expr {
        Expr::Lit(CelValue::Str(s)) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Expr::Lit(v) => v.to_string(),
        Expr::Attr(a) => a.name().to_string(),
        Expr::Header { response, name } => {
            format!("{}.headers['{name}']", if *response { "response" } else { "request" })
        }
        Expr::HasHeader { response, name } => {
            format!("'{name}' in {}.headers", if *response { "response" } else { "request" })
        }
        Expr::Not(e) => format!("!({})", show(e)),
        Expr::And(a, b) => format!("{} && {}", paren(a), paren(b)),
        Expr::Or(a, b) => format!("{} || {}", paren(a), paren(b)),
        Expr::Cmp(op, a, b) => format!("{} {} {}", show(a), op.symbol(), show(b)),
        Expr::In(e, list) => format!("{} in [{}]", show(e), list.iter().map(show).collect::<Vec<_>>().join(", ")),
        Expr::StrFn(f, recv, arg) => format!("{}.{}({})", show(recv), f.name(), show(arg)),
        Expr::Matches(recv, m) => format!("{}.matches('{}')", show(recv), m.pattern),
        Expr::Size(e) => format!("size({})", show(e)),
    }
}

fn paren(expr: &Expr) -> String {
    match expr {
        Expr::And(..) | Expr::Or(..) => format!("({})", show(expr)),
        _ => show(expr),
    }
}
