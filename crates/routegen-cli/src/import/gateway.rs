//! `routegen import gateway-api`: Gateway API `HTTPRoute`s and `GRPCRoute`s as native routes,
//! ordered so that routegen's first match is the route the spec's precedence picks.
//!
//! Which routes: with `--gateway NAMESPACE/NAME`, those attached to that Gateway (a
//! `parentRef` to it, its `sectionName` and `port` naming listeners, the listeners'
//! `allowedRoutes`), each under the hostnames its own `hostnames` share with the listener's;
//! without it, those attached to `Service`s (mesh / GAMMA, the waypoint case), each under its
//! Service's names (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`).
//!
//! Precedence (apis/v1 `httproute_types.go`), across every applicable route:
//! 1. the route whose hostname matches with the most characters (exact before wildcard): the
//!    output's `services[]`, exact hosts first, then the wildcard routes that also cover them,
//!    then the top-level routes (routes without hostnames);
//! 2. then, within one hostname: an `Exact` path, then the longest `PathPrefix`, then
//!    `RegularExpression` paths (longest first; the spec leaves regex precedence to the
//!    implementation: this is Istio's order); a method match; more header matches; more query
//!    parameter matches;
//! 3. ties: the oldest route (`metadata.creationTimestamp`), then `namespace/name`
//!    alphabetically, then rule order, then match order.
//!
//! `GRPCRoute` matches (service and method, as `POST /pkg.Service/Method`) come before the
//! `HTTPRoute` matches of the same hostname, among themselves by characters of service, of
//! method, then header matches.
//!
//! `PathPrefix` matches whole segments (`/books` covers `/books` and `/books/7`, not
//! `/booksellers`): the route is the template `/books/**`. Gateway API paths keep their trailing
//! slash, so the output turns `normalize.ignore_trailing_slash` off.
//!
//! Names are the rule's `name` when set, else Istio's `<namespace>.<route>.<rule index>` (what
//! `xds.route_name` shows); `--name method-path` names a rule of one match with one method and
//! one path after them (`GET /books/**`). Filters, backends and timeouts decide nothing about a
//! name and are ignored; a match routegen cannot express is an error naming the document, rule
//! and field.

use super::{is_service_host, named, quote_regex, route_refusal, ImportError, Imported, OutputArgs};
use crate::common::{Exit, Result};
use crate::input;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::path::PathBuf;

/// Import Gateway API HTTPRoutes and GRPCRoutes.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen import gateway-api routes.yaml > routegen.json                 # routes attached to Services (waypoint)\n  routegen import gateway-api gateway.yaml routes.yaml --gateway istio-system/ingress\n  kubectl get httproute,grpcroute -A -o yaml | routegen import gateway-api - --name method-path\n\n\
Exit status: 0 imported (warnings on stderr), 1 nothing importable or a match routegen cannot express (or warnings with --strict), 2 unreadable file."
)]
pub struct Args {
    /// YAML or JSON files (multi-document YAML and `kind: List` too; '-' for standard input).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Take the routes attached to this Gateway (NAMESPACE/NAME) instead of those attached to Services.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    gateway: Option<String>,
    /// How to name routes: the rule's name or Istio's <namespace>.<route>.<index> (rule), or
    /// `METHOD path` for rules of one method and one path (method-path).
    #[arg(long = "name", value_enum, default_value = "rule")]
    naming: Naming,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Naming {
    #[default]
    Rule,
    MethodPath,
}

#[derive(Clone, Debug, Default)]
pub struct GatewayOptions {
    /// `namespace/name` of the Gateway; `None`: routes attached to Services.
    pub gateway: Option<String>,
    pub naming: Naming,
}

pub fn import(args: &Args) -> Result<Imported> {
    let mut documents = Vec::new();
    for file in &args.files {
        let text = input::read_text(file).map_err(Exit::usage)?;
        let docs = parse_documents(&text).map_err(|e| Exit::invalid(format!("{}: {e}", file.display())))?;
        for (i, doc) in docs.into_iter().enumerate() {
            documents.push((format!("{}#{}", file.display(), i + 1), doc));
        }
    }
    let options = GatewayOptions { gateway: args.gateway.clone(), naming: args.naming };
    gateway_api(&documents, &options).map_err(|e| Exit::invalid(e.to_string()))
}

/// Every document of a file: a JSON document, or the documents of a YAML stream; `kind: List`
/// documents are opened into their items.
pub fn parse_documents(text: &str) -> std::result::Result<Vec<Value>, String> {
    let trimmed = text.trim_start();
    let mut docs = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        vec![serde_json::from_str::<Value>(text).map_err(|e| format!("invalid JSON: {e}"))?]
    } else {
        let mut docs = Vec::new();
        for document in serde_norway::Deserializer::from_str(text) {
            let value: Value = serde::Deserialize::deserialize(document).map_err(|e| format!("invalid YAML: {e}"))?;
            if !value.is_null() {
                docs.push(value);
            }
        }
        docs
    };
    fn open(doc: Value, out: &mut Vec<Value>, depth: usize) {
        match (doc.get("kind").and_then(Value::as_str), doc.get("items").and_then(Value::as_array)) {
            (Some("List") | None, Some(items)) if depth < 8 => {
                for item in items.clone() {
                    open(item, out, depth + 1);
                }
            }
            _ => out.push(doc),
        }
    }
    let mut out = Vec::new();
    for doc in docs.drain(..) {
        open(doc, &mut out, 0);
    }
    Ok(out)
}

const GROUP: &str = "gateway.networking.k8s.io";

/// Where a route applies: every host, or one hostname (exact, or `*.suffix`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Host(String),
    Any,
}

/// One match of one rule, ready to order.
#[derive(Clone, Debug)]
struct Entry {
    scopes: Vec<Scope>,
    grpc: bool,
    /// Precedence within a hostname: smaller first.
    key: Vec<i64>,
    /// Oldest first; routes without a timestamp after those with one.
    created: (bool, String),
    route: String,
    rule: usize,
    index: usize,
    value: Value,
}

/// A route document's identity, for messages.
struct RouteDoc<'a> {
    at: &'a str,
    kind: &'a str,
    namespace: String,
    name: String,
    /// `metadata.creationTimestamp` (RFC 3339, so it sorts as text).
    created: Option<String>,
    spec: &'a Value,
}

pub fn gateway_api(
    documents: &[(String, Value)],
    options: &GatewayOptions,
) -> std::result::Result<Imported, ImportError> {
    let mut routes = Vec::new();
    let mut gateways = Vec::new();
    let mut ignored = 0usize;
    for (at, doc) in documents {
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
        let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let ours = api.split_once('/').is_some_and(|(group, _)| group == GROUP);
        match kind {
            "HTTPRoute" | "GRPCRoute" if ours => {
                let namespace = meta(doc, "namespace").unwrap_or("default").to_string();
                let name = meta(doc, "name").ok_or_else(|| invalid(at, "metadata.name", "required"))?.to_string();
                let spec = doc.get("spec").ok_or_else(|| invalid(at, "spec", "required"))?;
                let created = meta(doc, "creationTimestamp").map(str::to_string);
                routes.push(RouteDoc { at, kind, namespace, name, created, spec });
            }
            "Gateway" if ours => gateways.push((at.as_str(), doc)),
            _ => ignored += 1,
        }
    }
    let gateway = match &options.gateway {
        Some(id) => {
            let (ns, name) = id
                .split_once('/')
                .ok_or_else(|| ImportError::Invalid(format!("--gateway {id}: expected NAMESPACE/NAME")))?;
            let found = gateways
                .iter()
                .find(|(_, g)| meta(g, "name") == Some(name) && meta(g, "namespace").unwrap_or("default") == ns)
                .ok_or_else(|| ImportError::Invalid(format!("--gateway {id}: no such Gateway in the input")))?;
            Some(Gateway::parse(found.0, found.1, ns, name)?)
        }
        None => None,
    };

    let mut warnings = Vec::new();
    let mut entries = Vec::new();
    let mut attached = 0usize;
    let mut left_out = Vec::new();
    for route in &routes {
        let scopes = match &gateway {
            Some(g) => g.scopes(route)?,
            None => mesh_scopes(route, &mut warnings)?,
        };
        if scopes.is_empty() {
            left_out.push(format!("{}/{}", route.namespace, route.name));
            continue;
        }
        for scope in &scopes {
            if let Scope::Host(host) = scope {
                if !is_service_host(host) {
                    return Err(ImportError::Invalid(format!(
                        "{}: {} {}/{}: '{host}' (from its hostnames or parent) is not a host name",
                        route.at, route.kind, route.namespace, route.name
                    )));
                }
            }
        }
        attached += 1;
        entries.extend(route_entries(route, &scopes, options.naming)?);
    }
    if !left_out.is_empty() {
        let why = match &options.gateway {
            Some(g) => {
                format!("not attached to Gateway {g} (parentRefs, sectionName, port, allowedRoutes or hostnames)")
            }
            None => "attached to no Service (routes of a Gateway need --gateway NAMESPACE/NAME)".to_string(),
        };
        warnings.push(format!("{} routes left out, {why}: {}", left_out.len(), left_out.join(", ")));
    }
    if entries.is_empty() {
        let parent = match &options.gateway {
            Some(g) => format!("attached to Gateway {g}"),
            None => "attached to a Service (use --gateway NAMESPACE/NAME for routes of a Gateway)".to_string(),
        };
        return Err(ImportError::Invalid(format!("no HTTPRoute or GRPCRoute {parent} in the input")));
    }

    // Top-level routes: those for every host. Services: one per hostname, its own routes,
    // then the wildcard routes that also cover it (longest wildcard first).
    let mut hosts: Vec<String> = entries
        .iter()
        .flat_map(|e| e.scopes.iter())
        .filter_map(|s| match s {
            Scope::Host(h) => Some(h.clone()),
            Scope::Any => None,
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    let mut services: Vec<(Vec<String>, Vec<Value>)> = Vec::new();
    for host in &hosts {
        let mut own: Vec<(usize, &Entry)> = Vec::new();
        for e in &entries {
            for scope in &e.scopes {
                if let Scope::Host(h) = scope {
                    if let Some(rank) = covers(h, host) {
                        own.push((rank, e));
                    }
                }
            }
        }
        own.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| precedence(a.1, b.1)));
        own.dedup_by(|a, b| std::ptr::eq(a.1, b.1));
        let table: Vec<Value> = own.iter().map(|(_, e)| e.value.clone()).collect();
        // Hostnames with the same table (a Service's four names) share one entry.
        match services.iter_mut().find(|(_, t)| *t == table) {
            Some((hosts, _)) => hosts.push(host.clone()),
            None => services.push((vec![host.clone()], table)),
        }
    }
    let services: Vec<Value> =
        services.into_iter().map(|(hosts, routes)| json!({"hosts": hosts, "routes": routes})).collect();
    let mut top: Vec<&Entry> = entries.iter().filter(|e| e.scopes.contains(&Scope::Any)).collect();
    top.sort_by(|a, b| precedence(a, b));

    let mut extra = vec![("normalize".to_string(), json!({"ignore_trailing_slash": false}))];
    if !services.is_empty() {
        extra.push(("services".to_string(), Value::Array(services)));
    }
    let matches = entries.len();
    Ok(Imported::new(
        top.iter().map(|e| e.value.clone()).collect(),
        extra,
        warnings,
        format!(
            "imported {matches} matches of {attached} routes ({} hostnames){}",
            hosts.len(),
            if ignored > 0 { format!("; {ignored} documents of other kinds ignored") } else { String::new() }
        ),
    ))
}

fn meta<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get("metadata").and_then(|m| m.get(key)).and_then(Value::as_str)
}

fn invalid(at: &str, field: &str, reason: &str) -> ImportError {
    ImportError::Invalid(format!("{at}: {field}: {reason}"))
}

/// Whether the route hostname `pattern` covers the service host `host`, and how closely
/// (0: the same; 1 + n: a wildcard, n smaller for a longer suffix).
fn covers(pattern: &str, host: &str) -> Option<usize> {
    if pattern == host {
        return Some(0);
    }
    let suffix = pattern.strip_prefix('*')?;
    let host_suffix = host.strip_prefix('*').unwrap_or(host);
    (host_suffix.len() > suffix.len() && host_suffix.ends_with(suffix)).then(|| 1 + (1000 - suffix.len().min(999)))
}

fn precedence(a: &Entry, b: &Entry) -> Ordering {
    b.grpc
        .cmp(&a.grpc)
        .then_with(|| a.key.cmp(&b.key))
        .then_with(|| a.created.cmp(&b.created))
        .then_with(|| a.route.cmp(&b.route))
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.index.cmp(&b.index))
}

/// A Gateway's listeners, as attachment needs them.
struct Gateway {
    namespace: String,
    name: String,
    listeners: Vec<Listener>,
}

struct Listener {
    name: String,
    port: Option<i64>,
    hostname: Option<String>,
    /// `Same` or `All`.
    all_namespaces: bool,
    kinds: Vec<String>,
}

impl Gateway {
    fn parse(at: &str, doc: &Value, namespace: &str, name: &str) -> std::result::Result<Gateway, ImportError> {
        let listeners = doc
            .pointer("/spec/listeners")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid(at, "spec.listeners", "required"))?;
        let mut out = Vec::new();
        for (i, l) in listeners.iter().enumerate() {
            let field = format!("spec.listeners[{i}]");
            let protocol = l.get("protocol").and_then(Value::as_str).unwrap_or("");
            if !matches!(protocol, "HTTP" | "HTTPS") {
                continue;
            }
            let from = l.pointer("/allowedRoutes/namespaces/from").and_then(Value::as_str).unwrap_or("Same");
            let all_namespaces = match from {
                "Same" => false,
                "All" => true,
                other => {
                    return Err(invalid(
                        at,
                        &format!("{field}.allowedRoutes.namespaces.from"),
                        &format!(
                            "'{other}' needs the namespaces' labels, which the input does not have: use Same or All"
                        ),
                    ))
                }
            };
            let kinds = l
                .pointer("/allowedRoutes/kinds")
                .and_then(Value::as_array)
                .map(|k| k.iter().filter_map(|k| k.get("kind").and_then(Value::as_str).map(str::to_string)).collect())
                .unwrap_or_default();
            out.push(Listener {
                name: l.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
                port: l.get("port").and_then(Value::as_i64),
                hostname: l.get("hostname").and_then(Value::as_str).map(str::to_ascii_lowercase),
                all_namespaces,
                kinds,
            });
        }
        Ok(Gateway { namespace: namespace.to_string(), name: name.to_string(), listeners: out })
    }

    /// The hostnames a route serves on this Gateway (none: not attached).
    fn scopes(&self, route: &RouteDoc<'_>) -> std::result::Result<Vec<Scope>, ImportError> {
        let route_hosts = hostnames(route)?;
        let mut scopes = Vec::new();
        for parent in parent_refs(route) {
            let group = parent.get("group").and_then(Value::as_str).unwrap_or(GROUP);
            let kind = parent.get("kind").and_then(Value::as_str).unwrap_or("Gateway");
            let ns = parent.get("namespace").and_then(Value::as_str).unwrap_or(&route.namespace);
            if group != GROUP || kind != "Gateway" || ns != self.namespace {
                continue;
            }
            if parent.get("name").and_then(Value::as_str) != Some(self.name.as_str()) {
                continue;
            }
            let section = parent.get("sectionName").and_then(Value::as_str);
            let port = parent.get("port").and_then(Value::as_i64);
            for l in &self.listeners {
                if section.is_some_and(|s| s != l.name) || port.is_some_and(|p| Some(p) != l.port) {
                    continue;
                }
                if !l.all_namespaces && route.namespace != self.namespace {
                    continue;
                }
                if !l.kinds.is_empty() && !l.kinds.iter().any(|k| k == route.kind) {
                    continue;
                }
                scopes.extend(intersect(l.hostname.as_deref(), &route_hosts));
            }
        }
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }
}

fn parent_refs<'a>(route: &'a RouteDoc<'_>) -> impl Iterator<Item = &'a Value> {
    route.spec.get("parentRefs").and_then(Value::as_array).into_iter().flatten()
}

fn hostnames(route: &RouteDoc<'_>) -> std::result::Result<Vec<String>, ImportError> {
    let Some(list) = route.spec.get("hostnames") else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| invalid(route.at, "spec.hostnames", "expected a list"))?;
    list.iter()
        .enumerate()
        .map(|(i, h)| {
            h.as_str()
                .map(str::to_ascii_lowercase)
                .ok_or_else(|| invalid(route.at, &format!("spec.hostnames[{i}]"), "expected a string"))
        })
        .collect()
}

/// Route hostnames ∩ a listener's hostname, as the spec intersects them.
fn intersect(listener: Option<&str>, route: &[String]) -> Vec<Scope> {
    match (listener, route.is_empty()) {
        (None, true) => vec![Scope::Any],
        (None, false) => route.iter().map(|h| Scope::Host(h.clone())).collect(),
        (Some(l), true) => vec![Scope::Host(l.to_string())],
        (Some(l), false) => route
            .iter()
            .filter_map(|r| {
                if r == l || covers(l, r).is_some() {
                    Some(Scope::Host(r.clone()))
                } else if covers(r, l).is_some() {
                    Some(Scope::Host(l.to_string()))
                } else {
                    None
                }
            })
            .collect(),
    }
}

/// The names of the Services a route is attached to (mesh).
fn mesh_scopes(route: &RouteDoc<'_>, warnings: &mut Vec<String>) -> std::result::Result<Vec<Scope>, ImportError> {
    let mut scopes = Vec::new();
    for parent in parent_refs(route) {
        let group = parent.get("group").and_then(Value::as_str).unwrap_or(GROUP);
        let kind = parent.get("kind").and_then(Value::as_str).unwrap_or("Gateway");
        if kind != "Service" || !(group.is_empty() || group == "core") {
            continue;
        }
        let Some(name) = parent.get("name").and_then(Value::as_str) else { continue };
        let ns = parent.get("namespace").and_then(Value::as_str).unwrap_or(&route.namespace);
        let names = [
            name.to_string(),
            format!("{name}.{ns}"),
            format!("{name}.{ns}.svc"),
            format!("{name}.{ns}.svc.cluster.local"),
        ];
        match parent.get("port").and_then(Value::as_i64) {
            Some(port) => scopes.extend(names.iter().map(|n| Scope::Host(format!("{n}:{port}")))),
            None => scopes.extend(names.into_iter().map(Scope::Host)),
        }
    }
    if !scopes.is_empty() && route.spec.get("hostnames").and_then(Value::as_array).is_some_and(|h| !h.is_empty()) {
        warnings.push(format!(
            "{}: {} {}/{}: spec.hostnames ignored (a route attached to a Service serves the Service's names)",
            route.at, route.kind, route.namespace, route.name
        ));
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

fn route_entries(
    route: &RouteDoc<'_>,
    scopes: &[Scope],
    naming: Naming,
) -> std::result::Result<Vec<Entry>, ImportError> {
    let grpc = route.kind == "GRPCRoute";
    let created = meta_created(route);
    let rules = match route.spec.get("rules") {
        None => Vec::new(),
        Some(v) => v.as_array().ok_or_else(|| invalid(route.at, "spec.rules", "expected a list"))?.clone(),
    };
    // A route without rules matches like one rule with the default match.
    let rules = if rules.is_empty() { vec![json!({})] } else { rules };
    let mut out = Vec::new();
    for (ri, rule) in rules.iter().enumerate() {
        let field = format!("spec.rules[{ri}]");
        let matches = match rule.get("matches") {
            None => vec![json!({})],
            Some(v) => {
                let list =
                    v.as_array().ok_or_else(|| invalid(route.at, &format!("{field}.matches"), "expected a list"))?;
                if list.is_empty() {
                    vec![json!({})]
                } else {
                    list.clone()
                }
            }
        };
        let default_name = match rule.get("name").and_then(Value::as_str) {
            Some(name) => name.to_string(),
            None => format!("{}.{}.{ri}", route.namespace, route.name),
        };
        for (mi, m) in matches.iter().enumerate() {
            let at = |f: &str| format!("{field}.matches[{mi}]{f}");
            let (conditions, key, short) = if grpc { grpc_match(route, m, &at)? } else { http_match(route, m, &at)? };
            let name = match (naming, short, matches.len()) {
                (Naming::MethodPath, Some(short), 1) if rule.get("name").is_none() => short,
                _ => default_name.clone(),
            };
            let value = named(&name, conditions);
            // What the filter would refuse is this match's error, with its location.
            if let Some(reason) = route_refusal(&value) {
                return Err(invalid(route.at, &at(""), &format!("cannot be expressed: {reason}")));
            }
            out.push(Entry {
                scopes: scopes.to_vec(),
                grpc,
                key,
                created: created.clone(),
                route: format!("{}/{}", route.namespace, route.name),
                rule: ri,
                index: mi,
                value,
            });
        }
    }
    Ok(out)
}

/// Oldest first; a route without a timestamp after every route with one.
fn meta_created(route: &RouteDoc<'_>) -> (bool, String) {
    match &route.created {
        Some(t) => (false, t.clone()),
        None => (true, String::new()),
    }
}

type Converted = (Value, Vec<i64>, Option<String>);

/// One HTTPRoute match: the native route (without its name), its precedence key, and its
/// `METHOD path` name when it is one method and one path.
fn http_match(
    route: &RouteDoc<'_>,
    m: &Value,
    at: &dyn Fn(&str) -> String,
) -> std::result::Result<Converted, ImportError> {
    let mut native = Map::new();
    let path = m.get("path");
    let kind = path.and_then(|p| p.get("type")).and_then(Value::as_str).unwrap_or("PathPrefix");
    let value = path.and_then(|p| p.get("value")).and_then(Value::as_str).unwrap_or("/");
    if !value.starts_with('/') && kind != "RegularExpression" {
        return Err(invalid(route.at, &at(".path.value"), "must start with '/'"));
    }
    let (rank, shown) = match kind {
        "Exact" => {
            native.insert("path_exact".into(), json!(value));
            (0, Some(value.to_string()))
        }
        "PathPrefix" => {
            let trimmed = value.trim_end_matches('/');
            if trimmed.is_empty() {
                (1, Some("/**".to_string()))
            } else if trimmed.bytes().all(|b| !matches!(b, b'{' | b'}' | b'*')) {
                let template = format!("{trimmed}/**");
                native.insert("path".into(), json!(template));
                (1, Some(template))
            } else {
                native.insert("path_regex".into(), json!(format!("{}(/.*)?", quote_regex(trimmed))));
                (1, None)
            }
        }
        "RegularExpression" => {
            native.insert("path_regex".into(), json!(value));
            (2, None)
        }
        other => return Err(invalid(route.at, &at(".path.type"), &format!("unsupported type '{other}'"))),
    };
    let method = match m.get("method") {
        None => None,
        Some(v) => {
            let method = v.as_str().ok_or_else(|| invalid(route.at, &at(".method"), "expected a string"))?;
            native.insert("method".into(), json!(method));
            Some(method.to_string())
        }
    };
    let headers = conditions(route, m.get("headers"), &at(".headers"), true)?;
    let query = conditions(route, m.get("queryParams"), &at(".queryParams"), false)?;
    let key =
        vec![rank, -(value.len() as i64), i64::from(method.is_none()), -(headers.len() as i64), -(query.len() as i64)];
    if !headers.is_empty() {
        native.insert("headers".into(), Value::Array(headers.clone()));
    }
    if !query.is_empty() {
        native.insert("query".into(), Value::Array(query.clone()));
    }
    let short = match (&method, shown) {
        (Some(method), Some(path)) if headers.is_empty() && query.is_empty() => Some(format!("{method} {path}")),
        _ => None,
    };
    Ok((Value::Object(native), key, short))
}

/// One GRPCRoute match: `POST /service/method` (a template where either is left out).
fn grpc_match(
    route: &RouteDoc<'_>,
    m: &Value,
    at: &dyn Fn(&str) -> String,
) -> std::result::Result<Converted, ImportError> {
    let mut native = Map::new();
    native.insert("method".into(), json!("POST"));
    let method_match = m.get("method");
    let kind = method_match.and_then(|p| p.get("type")).and_then(Value::as_str).unwrap_or("Exact");
    let service = method_match.and_then(|p| p.get("service")).and_then(Value::as_str);
    let method = method_match.and_then(|p| p.get("method")).and_then(Value::as_str);
    let mut short = None;
    match kind {
        "Exact" => {
            for (part, value) in [("service", service), ("method", method)] {
                if value.is_some_and(|v| v.is_empty() || v.contains(['/', '{', '}', '*'])) {
                    return Err(invalid(
                        route.at,
                        &at(&format!(".method.{part}")),
                        "not a gRPC service or method name",
                    ));
                }
            }
            match (service, method) {
                (Some(s), Some(m)) => {
                    native.insert("path_exact".into(), json!(format!("/{s}/{m}")));
                    short = Some(format!("POST /{s}/{m}"));
                }
                (Some(s), None) => {
                    native.insert("path".into(), json!(format!("/{s}/{{method}}")));
                }
                (None, Some(m)) => {
                    native.insert("path".into(), json!(format!("/{{service}}/{m}")));
                }
                (None, None) => {}
            }
        }
        "RegularExpression" => {
            let s = service.unwrap_or("[^/]+");
            let m = method.unwrap_or("[^/]+");
            native.insert("path_regex".into(), json!(format!("/(?:{s})/(?:{m})")));
        }
        other => return Err(invalid(route.at, &at(".method.type"), &format!("unsupported type '{other}'"))),
    }
    let headers = conditions(route, m.get("headers"), &at(".headers"), true)?;
    if !headers.is_empty() {
        native.insert("headers".into(), Value::Array(headers.clone()));
        short = None;
    }
    let key =
        vec![-(service.map_or(0, str::len) as i64), -(method.map_or(0, str::len) as i64), -(headers.len() as i64)];
    Ok((Value::Object(native), key, short))
}

/// Header or query parameter matches (`Exact`, the default, or `RegularExpression`). Only the
/// first entry of a name counts, as the spec says.
fn conditions(
    route: &RouteDoc<'_>,
    list: Option<&Value>,
    field: &str,
    header: bool,
) -> std::result::Result<Vec<Value>, ImportError> {
    let Some(list) = list else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| invalid(route.at, field, "expected a list"))?;
    let mut out: Vec<Value> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(route.at, &format!("{at}.name"), "required"))?;
        let value = c
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(route.at, &format!("{at}.value"), "required"))?;
        let key = if header { name.to_ascii_lowercase() } else { name.to_string() };
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        let rule = match c.get("type").and_then(Value::as_str).unwrap_or("Exact") {
            "Exact" => "exact",
            "RegularExpression" => "regex",
            other => return Err(invalid(route.at, &format!("{at}.type"), &format!("unsupported type '{other}'"))),
        };
        out.push(json!({"name": key, rule: value}));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn import(yaml: &str, gateway: Option<&str>) -> std::result::Result<Imported, ImportError> {
        let docs = parse_documents(yaml).unwrap().into_iter().enumerate().map(|(i, d)| (format!("doc#{}", i + 1), d));
        gateway_api(
            &docs.collect::<Vec<_>>(),
            &GatewayOptions { gateway: gateway.map(str::to_string), naming: Naming::Rule },
        )
    }

    const MESH: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: n}\n\
                        spec:\n  parentRefs: [{group: '', kind: Service, name: s}]\n  rules:\n";

    #[test]
    fn hostname_rules() {
        assert_eq!(covers("a.example.com", "a.example.com"), Some(0));
        assert!(covers("*.example.com", "a.b.example.com").is_some());
        assert_eq!(covers("*.example.com", "example.com"), None);
        assert!(covers("*.com", "*.example.com").unwrap() > covers("*.example.com", "a.example.com").unwrap());
        let hosts = |scopes: Vec<Scope>| scopes.into_iter().map(|s| format!("{s:?}")).collect::<Vec<_>>();
        assert_eq!(
            hosts(intersect(Some("*.example.com"), &["a.example.com".into(), "b.other.com".into()])),
            ["Host(\"a.example.com\")"]
        );
        assert_eq!(hosts(intersect(Some("a.example.com"), &["*.example.com".into()])), ["Host(\"a.example.com\")"]);
        assert_eq!(hosts(intersect(None, &[])), ["Any"]);
    }

    #[test]
    fn documents_lists_and_streams() {
        let docs = parse_documents("kind: List\nitems:\n- {kind: A}\n- {kind: B}\n---\nkind: C\n---\n").unwrap();
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        assert_eq!(kinds, ["A", "B", "C"]);
        assert!(parse_documents("{").unwrap_err().starts_with("invalid JSON"));
    }

    #[test]
    fn errors_name_document_rule_and_field() {
        let bad = format!("{MESH}  - matches: [{{path: {{type: Exact, value: /a}}}}, {{headers: [{{name: x, value: y, type: Suffix}}]}}]\n");
        assert_eq!(
            import(&bad, None).unwrap_err().to_string(),
            "doc#1: spec.rules[0].matches[1].headers[0].type: unsupported type 'Suffix'"
        );
        let relative = format!("{MESH}  - matches: [{{path: {{type: PathPrefix, value: a}}}}]\n");
        assert!(import(&relative, None).unwrap_err().to_string().ends_with("path.value: must start with '/'"));
        assert!(import(MESH, Some("x/y")).unwrap_err().to_string().contains("no such Gateway"));
        let gateway_only = MESH.replace("{group: '', kind: Service, name: s}", "{name: g}");
        assert!(import(&gateway_only, None).unwrap_err().to_string().contains("use --gateway"));
    }

    #[test]
    fn first_entry_of_a_name_counts_and_output_compiles() {
        let yaml = format!(
            "{MESH}  - matches: [{{path: {{type: PathPrefix, value: /}}, queryParams: [{{name: v, value: '1'}}, {{name: v, value: '2'}}]}}]\n"
        );
        let imported = import(&yaml, None).unwrap();
        let document = imported.document(&Default::default());
        let text = serde_json::to_string(&document).unwrap();
        assert!(
            text.contains(r#""query":[{"exact":"1","name":"v"}]"#)
                || text.contains(r#""query":[{"name":"v","exact":"1"}]"#),
            "{text}"
        );
        assert!(routegen_core::config::parse(text.as_bytes()).is_ok(), "{text}");
    }
}
