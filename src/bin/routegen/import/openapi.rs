//! `routegen import openapi`: one route per operation of an OpenAPI 3.x or Swagger 2.0 spec.
//!
//! - Name: `"METHOD /path/{param}"` (what `linkerd profile --open-api` names them), or the
//!   operation's `operationId` with `--name operation-id`.
//! - Path: the server's base path (OpenAPI 3: the path part of the first `servers` URL, its
//!   variables filled with their defaults, path-item and operation `servers` taking precedence;
//!   Swagger 2: `basePath`), then the spec path as a template. `--base-path` overrides,
//!   `--no-base-path` drops it.
//! - Order: the spec's, except that a route is moved before any route that would shadow it
//!   (`/books/new` before `/books/{id}`), decided by the same analysis as `routegen check`.
//! - Failure classes (documented rule): routegen already counts every 5xx as a failure, so
//!   declaring 5xx responses (numeric codes >= 500, or `5XX`) changes nothing and produces no
//!   `failure_classes`. A response marked `x-routegen-failure: true` (e.g. `429`, `4XX`) adds
//!   its code(s) to the failures, and `x-routegen-failure: false` on a 5xx response removes
//!   it (e.g. a 503 that a health check returns by design). Only an operation whose failures
//!   then differ from the default gets `failure_classes`: 5xx minus the removed codes, plus the
//!   added ones.

use super::{order_specific_first, quote_regex, route_value, Imported, OutputArgs, Sample};
use crate::common::{Exit, Result};
use crate::input;
use serde_json::Value;
use std::path::PathBuf;

/// Import an OpenAPI 3.x or Swagger 2.0 spec (JSON or YAML): one route per operation.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  routegen import openapi petstore.yaml > routes.json\n  routegen import openapi api.github.com.json --name operation-id -o yaml\n  routegen import openapi spec.json --base-path /api/v2\n\n\
Failure classes: declared 5xx responses are already failures by default and produce nothing;\n\
`x-routegen-failure: true` on a response adds its code (e.g. 429), `false` on a 5xx removes it.\n\n\
Exit status: 0 imported, 1 not an OpenAPI document (or warnings with --strict), 2 unreadable file.")]
pub struct Args {
    /// The OpenAPI / Swagger file ('-' for standard input).
    spec: PathBuf,
    /// How to name routes.
    #[arg(long, value_enum, default_value = "method-path")]
    name: Naming,
    /// Prefix every path with this base path instead of the spec's.
    #[arg(long = "base-path", value_name = "PATH", conflicts_with = "no_base_path")]
    base_path: Option<String>,
    /// Ignore the spec's servers / basePath.
    #[arg(long = "no-base-path")]
    no_base_path: bool,
    /// Keep the spec's order even where an earlier route shadows a later one.
    #[arg(long = "keep-order")]
    keep_order: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Naming {
    /// "GET /books/{id}"
    MethodPath,
    /// The operation's operationId ("getBook"); "METHOD /path" where it has none.
    OperationId,
}

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// One operation, before ordering.
struct Operation {
    name: String,
    method: String,
    route: Value,
    sample: String,
}

pub fn import(args: &Args) -> Result<Imported> {
    let text = input::read_text(&args.spec).map_err(Exit::usage)?;
    let doc = input::parse_document(&text).map_err(|e| Exit::invalid(format!("{}: {e}", args.spec.display())))?;
    let swagger = match (doc.get("openapi").and_then(Value::as_str), doc.get("swagger").and_then(Value::as_str)) {
        (Some(v), _) if v.starts_with("3.") => false,
        (_, Some("2.0")) => true,
        (Some(v), _) => return Err(Exit::invalid(format!("{}: openapi version '{v}' is not supported (3.x or Swagger 2.0)", args.spec.display()))),
        _ => return Err(Exit::invalid(format!("{}: not an OpenAPI 3.x or Swagger 2.0 document (no 'openapi' or 'swagger' field)", args.spec.display()))),
    };
    let paths = doc.get("paths").and_then(Value::as_object).ok_or_else(|| Exit::invalid(format!("{}: no 'paths' object", args.spec.display())))?;
    let root_base = if swagger { doc.get("basePath").and_then(Value::as_str).map(clean_base).unwrap_or_default() } else { server_base(doc.get("servers")) };
    let mut warnings = Vec::new();
    let mut operations: Vec<Operation> = Vec::new();
    let mut path_count = 0;
    for (raw_path, item) in paths {
        if raw_path.starts_with("x-") {
            continue;
        }
        let item = match resolve(&doc, item) {
            Ok(item) => item,
            Err(e) => {
                warnings.push(format!("paths['{raw_path}']: {e}; skipped"));
                continue;
            }
        };
        path_count += 1;
        for (key, operation) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&key.as_str()) {
                continue;
            }
            let method = key.to_ascii_uppercase();
            let base = match (&args.base_path, args.no_base_path) {
                (Some(base), _) => clean_base(base),
                (None, true) => String::new(),
                (None, false) if swagger => root_base.clone(),
                (None, false) => [operation.get("servers"), item.get("servers")]
                    .into_iter()
                    .flatten()
                    .find(|s| s.as_array().is_some_and(|a| !a.is_empty()))
                    .map(|s| server_base(Some(s)))
                    .unwrap_or_else(|| root_base.clone()),
            };
            let full = format!("{base}{raw_path}");
            let default_name = format!("{method} {full}");
            let name = match (args.name, operation.get("operationId").and_then(Value::as_str)) {
                (Naming::OperationId, Some(id)) if !id.is_empty() => id.to_string(),
                (Naming::OperationId, _) => {
                    warnings.push(format!("{default_name}: no operationId; named '{default_name}'"));
                    default_name.clone()
                }
                (Naming::MethodPath, _) => default_name.clone(),
            };
            let failure_classes = failure_classes(&doc, operation.get("responses"));
            let (path_key, path) = match template_path(&full) {
                Ok(template) => ("path", template),
                Err(why) => {
                    warnings.push(format!("{default_name}: '{full}' is not a routegen template ({why}); imported as a path_regex"));
                    ("path_regex", regex_path(&full))
                }
            };
            let route = route_value(&name, std::slice::from_ref(&method), path_key, &path, &failure_classes);
            operations.push(Operation { name, method, route, sample: sample_path(&full) });
        }
    }
    let mut seen = std::collections::HashMap::new();
    for op in &operations {
        if let Some(first) = seen.insert(op.name.clone(), op.method.clone()) {
            let _ = first;
            warnings.push(format!("the route name '{}' is used by more than one operation: their metrics are merged", op.name));
        }
    }
    let routes: Vec<Value> = operations.iter().map(|o| o.route.clone()).collect();
    let names: Vec<String> = operations.iter().map(|o| o.name.clone()).collect();
    let (order, equal) = if args.keep_order { ((0..routes.len()).collect(), Vec::new()) } else { order_specific_first(&routes, &names)? };
    warnings.extend(equal);
    // Routes now ahead of a route that preceded them in the spec.
    let mut position = vec![0; order.len()];
    for (k, &i) in order.iter().enumerate() {
        position[i] = k;
    }
    let mut latest = 0;
    let mut moved = 0;
    for (i, &p) in position.iter().enumerate() {
        if i > 0 && p < latest {
            moved += 1;
        }
        latest = latest.max(p);
    }
    let samples = order
        .iter()
        .enumerate()
        .map(|(k, &i)| Sample { method: operations[i].method.clone(), path: operations[i].sample.clone(), host: String::new(), route: k, what: format!("'{}'", operations[i].name) })
        .collect();
    let routes = order.iter().map(|&i| operations[i].route.clone()).collect();
    Ok(Imported {
        routes,
        extra: Vec::new(),
        warnings,
        default: Some("[DEFAULT]".to_string()),
        output_attribute: None,
        samples,
        summary: format!(
            "imported {} operations from {} paths ({}; {} moved before a route that would shadow them)",
            operations.len(),
            path_count,
            if swagger { "Swagger 2.0" } else { "OpenAPI 3" },
            moved
        ),
    })
}

/// A local `$ref` (`#/components/pathItems/x`) resolved, repeatedly; other values as they are.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> std::result::Result<&'a Value, String> {
    for _ in 0..32 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else { return Ok(value) };
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(format!("external $ref '{reference}' is not supported (bundle the spec first)"));
        };
        let pointer = pointer.split('/').map(|p| p.replace("~1", "/").replace("~0", "~")).collect::<Vec<_>>().join("/");
        value = doc.pointer(&pointer).ok_or_else(|| format!("$ref '{reference}' points nowhere"))?;
    }
    Err("$ref chain too long (a cycle?)".to_string())
}

/// The path part of the first server URL, variables replaced by their defaults.
fn server_base(servers: Option<&Value>) -> String {
    let Some(server) = servers.and_then(Value::as_array).and_then(|a| a.first()) else { return String::new() };
    let mut url = server.get("url").and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(variables) = server.get("variables").and_then(Value::as_object) {
        for (name, variable) in variables {
            if let Some(default) = variable.get("default").and_then(Value::as_str) {
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
    }
    let path = match url.find("://") {
        Some(scheme_end) => url[scheme_end + 3..].find('/').map(|i| url[scheme_end + 3 + i..].to_string()).unwrap_or_default(),
        None => url,
    };
    clean_base(&path)
}

/// `/api/v2/` → `/api/v2`, `api` → `/api`, `/` → ``.
fn clean_base(base: &str) -> String {
    let base = base.split(['?', '#']).next().unwrap_or("").trim_end_matches('/');
    if base.is_empty() {
        String::new()
    } else if base.starts_with('/') {
        base.to_string()
    } else {
        format!("/{base}")
    }
}

/// The spec path as a routegen template: variable names made valid (`{user.id}` → `{user_id}`).
fn template_path(path: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').ok_or("unclosed '{'")? + open;
        out.push_str(&rest[..open]);
        let name: String = rest[open + 1..close].chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
        out.push('{');
        out.push_str(if name.is_empty() { "param" } else { &name });
        out.push('}');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    routegen::template::Template::parse(&out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Fallback for paths the template syntax refuses: literals quoted, `{x}` → `[^/]+`.
fn regex_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| c + open) else { break };
        out.push_str(&quote_regex(&rest[..open]));
        out.push_str("[^/]+");
        rest = &rest[close + 1..];
    }
    out.push_str(&quote_regex(rest));
    out
}

/// A concrete request path for the operation: every `{param}` filled with `x1`.
fn sample_path(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| c + open) else { break };
        out.push_str(&rest[..open]);
        out.push_str("x1");
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The documented rule (module doc): only differences from "every 5xx is a failure".
fn failure_classes(doc: &Value, responses: Option<&Value>) -> Vec<String> {
    let Some(responses) = responses.and_then(Value::as_object) else { return Vec::new() };
    let mut failed = [false; 600];
    for (status, flag) in failed.iter_mut().enumerate() {
        *flag = status >= 500;
    }
    let default = failed;
    for (code, response) in responses {
        let mark = resolve(doc, response).ok().and_then(|r| r.get("x-routegen-failure")).and_then(Value::as_bool);
        let Some(mark) = mark else { continue };
        let range = match code.to_ascii_uppercase().as_str() {
            c if c.len() == 3 && c.ends_with("XX") => c[..1].parse::<usize>().ok().map(|d| (d * 100, d * 100 + 99)),
            c => c.parse::<usize>().ok().map(|n| (n, n)),
        };
        if let Some((low, high)) = range.filter(|(low, high)| *low >= 100 && *high <= 599) {
            failed[low..=high].iter_mut().for_each(|f| *f = mark);
        }
    }
    if failed == default {
        return Vec::new();
    }
    ranges(&failed)
}

/// Status flags → `"500-502"`-style ranges (`"5xx"` for a whole class).
pub fn ranges(failed: &[bool; 600]) -> Vec<String> {
    let mut out = Vec::new();
    let mut status = 100;
    while status < 600 {
        if !failed[status] {
            status += 1;
            continue;
        }
        let start = status;
        while status < 600 && failed[status] {
            status += 1;
        }
        let end = status - 1;
        // Whole classes read better as "5xx"; split a run into classes where it covers them.
        let mut s = start;
        while s <= end {
            if s % 100 == 0 && s + 99 <= end {
                out.push(format!("{}xx", s / 100));
                s += 100;
            } else {
                let stop = end.min(s - s % 100 + 99);
                out.push(if s == stop { s.to_string() } else { format!("{s}-{stop}") });
                s = stop + 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bases() {
        assert_eq!(server_base(Some(&json!([{"url": "https://api.example.com/v1/"}]))), "/v1");
        assert_eq!(server_base(Some(&json!([{"url": "https://api.github.com"}]))), "");
        assert_eq!(server_base(Some(&json!([{"url": "/api"}]))), "/api");
        assert_eq!(server_base(Some(&json!([{"url": "{scheme}://x/{base}", "variables": {"base": {"default": "v2"}}}]))), "/v2");
        assert_eq!(clean_base("/"), "");
    }

    #[test]
    fn templates_and_fallbacks() {
        assert_eq!(template_path("/users/{user.id}/x").unwrap(), "/users/{user_id}/x");
        assert!(template_path("/a/{x}{y}").is_err());
        assert_eq!(regex_path("/a/{x}{y}.json"), "/a/[^/]+[^/]+\\.json");
        assert_eq!(sample_path("/repos/{owner}/{repo}"), "/repos/x1/x1");
    }

    #[test]
    fn failure_rule() {
        let doc = json!({});
        assert!(failure_classes(&doc, Some(&json!({"200": {}, "500": {}, "5XX": {}}))).is_empty());
        assert_eq!(failure_classes(&doc, Some(&json!({"429": {"x-routegen-failure": true}}))), vec!["429", "5xx"]);
        assert_eq!(failure_classes(&doc, Some(&json!({"503": {"x-routegen-failure": false}}))), vec!["500-502", "504-599"]);
        assert_eq!(failure_classes(&doc, Some(&json!({"4XX": {"x-routegen-failure": true}}))), vec!["4xx", "5xx"]);
    }
}
