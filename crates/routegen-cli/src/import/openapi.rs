//! OpenAPI 3.x and Swagger 2.0: one route per operation (`routegen import openapi`).
//!
//! - Name: `"METHOD /path/{param}"` (what `linkerd profile --open-api` names them), or the
//!   operation's `operationId` with [`Naming::OperationId`].
//! - Path: the server's base path (OpenAPI 3: the path part of the first `servers` URL, its
//!   variables filled with their defaults, path-item and operation `servers` taking precedence;
//!   Swagger 2: `basePath`), then the spec path as a template. [`OpenApiOptions::base_path`]
//!   overrides, [`OpenApiOptions::no_base_path`] drops it.
//! - Order: the spec's, except that a route is moved before any route that would shadow it
//!   (`/books/new` before `/books/{id}`), decided by the same analysis as `routegen check`.
//! - Failure classes (documented rule): routegen already counts every 5xx as a failure, so
//!   declaring 5xx responses (numeric codes >= 500, or `5XX`) changes nothing and produces no
//!   `failure_classes`. A response marked `x-routegen-failure: true` (e.g. `429`, `4XX`) adds
//!   its code(s) to the failures, and `x-routegen-failure: false` on a 5xx response removes
//!   it (e.g. a 503 that a health check returns by design). Only an operation whose failures
//!   then differ from the default gets `failure_classes`: 5xx minus the removed codes, plus the
//!   added ones.
//!
//! Local `$ref`s are followed at most [`MAX_REF_HOPS`] times (a cycle is reported and the
//! path item skipped); external ones are refused.

use super::{order_specific_first, quote_regex, route_value, ImportError, Imported, Sample};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// How to name routes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Naming {
    /// "GET /books/{id}"
    #[default]
    MethodPath,
    /// The operation's operationId ("getBook"); "METHOD /path" where it has none.
    OperationId,
}

/// The importer's options (the CLI's flags).
#[derive(Clone, Debug, Default)]
pub struct OpenApiOptions {
    pub naming: Naming,
    /// Prefix every path with this base path instead of the spec's.
    pub base_path: Option<String>,
    /// Ignore the spec's servers / basePath (when `base_path` is `None`).
    pub no_base_path: bool,
    /// Keep the spec's order even where an earlier route shadows a later one.
    pub keep_order: bool,
}

/// The longest chain of local `$ref`s followed before giving up (a cycle, most likely).
pub const MAX_REF_HOPS: usize = 32;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// One operation, before ordering.
struct Operation {
    name: String,
    method: String,
    route: Value,
    sample: String,
}

/// Imports an OpenAPI 3.x or Swagger 2.0 document (already parsed: see
/// [`crate::input::parse_document`]): one route per operation. [`ImportError::Invalid`] when it is not
/// such a document; its message does not name the file.
pub fn openapi(doc: &Value, options: &OpenApiOptions) -> Result<Imported, ImportError> {
    let swagger = match (doc.get("openapi").and_then(Value::as_str), doc.get("swagger").and_then(Value::as_str)) {
        (Some(v), _) if v.starts_with("3.") => false,
        (_, Some("2.0")) => true,
        (Some(v), _) => {
            return Err(ImportError::Invalid(format!("openapi version '{v}' is not supported (3.x or Swagger 2.0)")))
        }
        _ => {
            return Err(ImportError::Invalid(
                "not an OpenAPI 3.x or Swagger 2.0 document (no 'openapi' or 'swagger' field)".to_string(),
            ))
        }
    };
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| ImportError::Invalid("no 'paths' object".to_string()))?;
    let root_base = if swagger {
        doc.get("basePath").and_then(Value::as_str).map(clean_base).unwrap_or_default()
    } else {
        server_base(doc.get("servers"))
    };
    let mut warnings = Vec::new();
    let mut operations: Vec<Operation> = Vec::new();
    let mut path_count = 0;
    for (raw_path, item) in paths {
        if raw_path.starts_with("x-") {
            continue;
        }
        let item = match resolve(doc, item) {
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
            let base = match (&options.base_path, options.no_base_path) {
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
            let name = match (options.naming, operation.get("operationId").and_then(Value::as_str)) {
                (Naming::OperationId, Some(id)) if !id.is_empty() => id.to_string(),
                (Naming::OperationId, _) => {
                    warnings.push(format!("{default_name}: no operationId; named '{default_name}'"));
                    default_name.clone()
                }
                (Naming::MethodPath, _) => default_name.clone(),
            };
            let failure_classes = failure_classes(doc, operation.get("responses"));
            let (path_key, path) = match template_path(&full) {
                Ok(template) => ("path", template),
                Err(why) => {
                    warnings.push(format!(
                        "{default_name}: '{full}' is not a routegen template ({why}); imported as a path_regex"
                    ));
                    ("path_regex", regex_path(&full))
                }
            };
            let route = route_value(&name, std::slice::from_ref(&method), path_key, &path, &failure_classes);
            operations.push(Operation { name, method, route, sample: sample_path(&full) });
        }
    }
    let mut seen = HashMap::new();
    for op in &operations {
        if seen.insert(op.name.clone(), ()).is_some() {
            warnings.push(format!(
                "the route name '{}' is used by more than one operation: their metrics are merged",
                op.name
            ));
        }
    }
    let routes: Vec<Value> = operations.iter().map(|o| o.route.clone()).collect();
    let names: Vec<String> = operations.iter().map(|o| o.name.clone()).collect();
    let (order, equal) = if options.keep_order {
        ((0..routes.len()).collect(), Vec::new())
    } else {
        order_specific_first(&routes, &names)?
    };
    warnings.extend(equal);
    let ordered: Vec<&Operation> = order.iter().filter_map(|&i| operations.get(i)).collect();
    if ordered.len() != operations.len() {
        return Err(ImportError::Internal(
            "internal error: route ordering lost or repeated a route; please report this".to_string(),
        ));
    }
    // Routes now ahead of a route that preceded them in the spec.
    let mut position = vec![0; order.len()];
    for (k, &i) in order.iter().enumerate() {
        if let Some(p) = position.get_mut(i) {
            *p = k;
        }
    }
    let mut latest = 0;
    let mut moved = 0;
    for (i, &p) in position.iter().enumerate() {
        if i > 0 && p < latest {
            moved += 1;
        }
        latest = latest.max(p);
    }
    let samples = ordered
        .iter()
        .enumerate()
        .map(|(k, op)| Sample {
            method: op.method.clone(),
            path: op.sample.clone(),
            host: String::new(),
            route: k,
            what: format!("'{}'", op.name),
        })
        .collect();
    let routes = ordered.iter().map(|op| op.route.clone()).collect();
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

/// A local `$ref` (`#/components/pathItems/x`) resolved, repeatedly (at most
/// [`MAX_REF_HOPS`] times: a cycle is an error, not a hang); other values as they are.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> Result<&'a Value, String> {
    for _ in 0..MAX_REF_HOPS {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else { return Ok(value) };
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(format!("external $ref '{reference}' is not supported (bundle the spec first)"));
        };
        // A URI fragment: percent-decode it; `pointer` itself undoes the JSON-pointer `~1`/`~0`.
        let pointer = percent_decode(pointer);
        value = doc.pointer(&pointer).ok_or_else(|| format!("$ref '{reference}' points nowhere"))?;
    }
    Err("$ref chain too long (a cycle?)".to_string())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path part of the first server URL, variables replaced by their defaults.
fn server_base(servers: Option<&Value>) -> String {
    let Some(server) = servers.and_then(Value::as_array).and_then(|a| a.first()) else { return String::new() };
    let url = server.get("url").and_then(Value::as_str).unwrap_or("");
    let url = match server.get("variables").and_then(Value::as_object) {
        Some(variables) => substitute(url, variables),
        None => url.to_string(),
    };
    let path = match url.find("://") {
        Some(scheme_end) => url
            .get(scheme_end + 3..)
            .and_then(|rest| rest.find('/').and_then(|i| rest.get(i..)))
            .unwrap_or("")
            .to_string(),
        None => url,
    };
    clean_base(&path)
}

/// `{name}` in a server URL replaced by the variable's string default, in one pass: a default
/// is not itself expanded (so a document cannot make the URL grow exponentially). Names without
/// a string default stay as they are.
fn substitute(url: &str, variables: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let default = after.find(['{', '}']).filter(|&end| after[end..].starts_with('}')).and_then(|end| {
            variables.get(&after[..end]).and_then(|v| v.get("default")).and_then(Value::as_str).map(|d| (end, d))
        });
        match default {
            Some((end, default)) => {
                out.push_str(default);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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
fn template_path(path: &str) -> Result<String, String> {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').ok_or("unclosed '{'")? + open;
        out.push_str(&rest[..open]);
        let name: String = rest[open + 1..close]
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
            .collect();
        out.push('{');
        out.push_str(if name.is_empty() { "param" } else { &name });
        out.push('}');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    routegen_core::template::Template::parse(&out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Fallback for paths the template syntax refuses: literals quoted, `{x}` → `[^/]+`. Without a
/// trailing slash: requests lose theirs before matching (`normalize.ignore_trailing_slash`), so
/// the filter refuses a regex that needs one.
fn regex_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let path = if trimmed.is_empty() && !path.is_empty() { "/" } else { trimmed };
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
        let code = code.to_ascii_uppercase();
        let range = match code.strip_suffix("XX") {
            Some(class) if class.len() == 1 => class.parse::<usize>().ok().map(|d| (d * 100, d * 100 + 99)),
            _ => code.parse::<usize>().ok().map(|n| (n, n)),
        };
        if let Some((low, high)) = range.filter(|(low, high)| *low >= 100 && *high <= 599) {
            if let Some(codes) = failed.get_mut(low..=high) {
                codes.iter_mut().for_each(|f| *f = mark);
            }
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

// ---------------------------------------------------------------------------------------------
// `routegen import openapi`: flags, reading the file, the file name in error messages.

pub use shell::{import, Args};

mod shell {
    use super::{openapi, ImportError, Imported, Naming, OpenApiOptions};
    use crate::common::{Exit, Result};
    use crate::import::OutputArgs;
    use crate::input;
    use std::path::PathBuf;

    /// Import an OpenAPI 3.x or Swagger 2.0 spec (JSON or YAML): one route per operation.
    #[derive(clap::Args)]
    #[command(
        after_help = "Examples:\n  routegen import openapi petstore.yaml > routes.json\n  routegen import openapi api.github.com.json --name operation-id -o yaml\n  routegen import openapi spec.json --base-path /api/v2\n\n\
    Failure classes: declared 5xx responses are already failures by default and produce nothing;\n\
    `x-routegen-failure: true` on a response adds its code (e.g. 429), `false` on a 5xx removes it.\n\n\
    Exit status: 0 imported, 1 not an OpenAPI document (or warnings with --strict), 2 unreadable file."
    )]
    pub struct Args {
        /// The OpenAPI / Swagger file ('-' for standard input).
        spec: PathBuf,
        /// How to name routes.
        #[arg(long, value_enum, default_value = "method-path")]
        name: NamingArg,
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
    enum NamingArg {
        /// "GET /books/{id}"
        MethodPath,
        /// The operation's operationId ("getBook"); "METHOD /path" where it has none.
        OperationId,
    }

    pub fn import(args: &Args) -> Result<Imported> {
        let text = input::read_text(&args.spec).map_err(Exit::usage)?;
        let doc = input::parse_document(&text).map_err(|e| Exit::invalid(format!("{}: {e}", args.spec.display())))?;
        let options = OpenApiOptions {
            naming: match args.name {
                NamingArg::MethodPath => Naming::MethodPath,
                NamingArg::OperationId => Naming::OperationId,
            },
            base_path: args.base_path.clone(),
            no_base_path: args.no_base_path,
            keep_order: args.keep_order,
        };
        openapi(&doc, &options).map_err(|e| match e {
            ImportError::Invalid(message) => Exit::invalid(format!("{}: {message}", args.spec.display())),
            ImportError::Internal(message) => Exit::invalid(message),
        })
    }
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
        assert_eq!(
            server_base(Some(&json!([{"url": "{scheme}://x/{base}", "variables": {"base": {"default": "v2"}}}]))),
            "/v2"
        );
        assert_eq!(clean_base("/"), "");
    }

    #[test]
    fn refs_into_paths_use_json_pointer_escapes() {
        let doc = json!({"paths": {"/books/{id}": {"get": {"operationId": "getBook"}}},
                         "x": {"$ref": "#/paths/~1books~1%7Bid%7D/get"}});
        let resolved = resolve(&doc, doc.get("x").unwrap()).unwrap();
        assert_eq!(resolved.get("operationId").and_then(Value::as_str), Some("getBook"));
        assert!(resolve(&doc, &json!({"$ref": "#/nowhere"})).unwrap_err().contains("points nowhere"));
    }

    #[test]
    fn server_variables_are_substituted_once() {
        let vars = json!({"a": {"default": "{b}{b}"}, "b": {"default": "x"}, "c": {}});
        let vars = vars.as_object().unwrap();
        assert_eq!(substitute("/{a}/{b}/{c}/{d}", vars), "/{b}{b}/x/{c}/{d}");
        assert_eq!(substitute("{{b}}", vars), "{x}");
        assert_eq!(substitute("/{b", vars), "/{b");
        assert_eq!(substitute("é{b}é{", vars), "éxé{");
    }

    #[test]
    fn templates_and_fallbacks() {
        assert_eq!(template_path("/users/{user.id}/x").unwrap(), "/users/{user_id}/x");
        assert!(template_path("/a/{x}{y}").is_err());
        assert_eq!(regex_path("/a/{x}{y}.json"), "/a/[^/]+[^/]+\\.json");
        assert_eq!(regex_path("/a/{x}{y}//"), "/a/[^/]+[^/]+");
        assert_eq!(regex_path("//"), "/");
        assert_eq!(sample_path("/repos/{owner}/{repo}"), "/repos/x1/x1");
    }

    #[test]
    fn failure_rule() {
        let doc = json!({});
        assert!(failure_classes(&doc, Some(&json!({"200": {}, "500": {}, "5XX": {}}))).is_empty());
        assert_eq!(failure_classes(&doc, Some(&json!({"429": {"x-routegen-failure": true}}))), vec!["429", "5xx"]);
        assert_eq!(
            failure_classes(&doc, Some(&json!({"503": {"x-routegen-failure": false}}))),
            vec!["500-502", "504-599"]
        );
        assert_eq!(failure_classes(&doc, Some(&json!({"4XX": {"x-routegen-failure": true}}))), vec!["4xx", "5xx"]);
        assert!(failure_classes(
            &doc,
            Some(&json!({"éXX": {"x-routegen-failure": true}, "+XX": {"x-routegen-failure": true}}))
        )
        .is_empty());
    }

    #[test]
    fn ref_cycles_are_reported_not_followed_forever() {
        let doc = json!({
            "openapi": "3.0.0",
            "paths": {
                "/loop": {"$ref": "#/components/pathItems/a"},
                "/self": {"$ref": "#/paths/~1self"},
                "/ok": {"get": {"responses": {"429": {"$ref": "#/components/responses/r"}}}}
            },
            "components": {
                "pathItems": {"a": {"$ref": "#/components/pathItems/b"}, "b": {"$ref": "#/components/pathItems/a"}},
                "responses": {"r": {"$ref": "#/components/responses/r"}}
            }
        });
        let imported = openapi(&doc, &OpenApiOptions::default()).unwrap();
        assert_eq!(imported.routes, vec![json!("GET /ok")]);
        assert!(
            imported.warnings.iter().any(|w| w.contains("paths['/loop']") && w.contains("cycle")),
            "{:?}",
            imported.warnings
        );
    }

    #[test]
    fn a_fallback_regex_never_ends_in_a_slash() {
        let doc = json!({"swagger": "2.0", "paths": {"/a/{x}{y}/": {"get": {}}, "/b/{x/": {"get": {}}}});
        for keep_order in [false, true] {
            let imported = openapi(&doc, &OpenApiOptions { keep_order, ..Default::default() }).unwrap();
            assert_eq!(imported.routes[0]["path_regex"], json!("/a/[^/]+[^/]+"));
            assert_eq!(imported.routes[1]["path_regex"], json!("/b/\\{x"));
            let config = routegen_core::config::parse_serde(&imported.document(&Default::default()));
            assert!(config.is_ok(), "{:?}", config.err());
        }
    }

    #[test]
    fn no_operations_is_an_empty_import_with_or_without_ordering() {
        for keep_order in [false, true] {
            let imported =
                openapi(&json!({"swagger": "2.0", "paths": {}}), &OpenApiOptions { keep_order, ..Default::default() })
                    .unwrap();
            assert!(imported.routes.is_empty() && imported.samples.is_empty());
        }
    }

    #[test]
    fn not_openapi() {
        assert!(matches!(openapi(&json!({"kind": "x"}), &OpenApiOptions::default()), Err(ImportError::Invalid(_))));
        assert!(matches!(
            openapi(&json!({"openapi": "3.1.0"}), &OpenApiOptions::default()),
            Err(ImportError::Invalid(_))
        ));
        assert!(matches!(
            openapi(&json!({"swagger": "1.2", "paths": {}}), &OpenApiOptions::default()),
            Err(ImportError::Invalid(_))
        ));
    }
}
