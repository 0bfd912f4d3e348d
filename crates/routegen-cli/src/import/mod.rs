//! Importers' pure logic (feature `cli`): route tables from the descriptions people already
//! have, as native routegen configurations. The `routegen import` command is a thin shell over
//! this module (it reads files and prints); the fuzz target `openapi_import` drives it with
//! arbitrary documents.
//!
//! Nothing here panics on document-derived data, and everything an importer returns as `Ok`
//! parses and compiles with the filter's own code: an importer bug surfaces as
//! [`ImportError::Internal`], never as an invalid configuration.

pub mod attributegen;
pub mod command;
pub mod envoy;
pub mod gateway;
pub mod linkerd;
pub mod openapi;
pub mod proto;

pub use command::{run, Command, OutputArgs};
pub use openapi::{openapi, Naming, OpenApiOptions};

use crate::shadow::{self, Universe};
use routegen_core::config::{self, Config};
use routegen_core::route::RouteSpec;
use serde_json::{json, Map, Value};
use std::fmt;

/// Why an import failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportError {
    /// The input is not something this importer understands (the CLI prefixes the file name).
    Invalid(String),
    /// An importer bug: it built a route the filter's parser refuses.
    Internal(String),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Invalid(message) | ImportError::Internal(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ImportError {}

/// What an importer produced.
#[derive(Debug, Clone)]
pub struct Imported {
    pub routes: Vec<Value>,
    /// Extra top-level fields (e.g. `normalize`, `services`), in order.
    pub extra: Vec<(String, Value)>,
    pub warnings: Vec<String>,
    /// The default route name when the user gave neither --default nor --no-default.
    pub default: Option<String>,
    pub output_attribute: Option<String>,
    /// One sample request per route, `(method, path, host, route index)`, to verify.
    pub samples: Vec<Sample>,
    /// A one-line summary for stderr ("imported 12 operations from 8 paths").
    pub summary: String,
}

#[derive(Debug, Clone)]
pub struct Sample {
    pub method: String,
    pub path: String,
    pub host: String,
    /// Global route id the request must land on.
    pub route: usize,
    /// What the route stands for, for messages.
    pub what: String,
}

/// The user's choices that override what the importer proposes (`--output-attribute`,
/// `--default`, `--no-default`).
#[derive(Debug, Clone, Default)]
pub struct DocumentOptions {
    pub output_attribute: Option<String>,
    pub default: Option<String>,
    pub no_default: bool,
}

impl Imported {
    /// Routes and top-level fields with no proposed default, attribute or samples.
    pub fn new(routes: Vec<Value>, extra: Vec<(String, Value)>, warnings: Vec<String>, summary: String) -> Imported {
        Imported { routes, extra, warnings, default: None, output_attribute: None, samples: Vec::new(), summary }
    }

    /// The native configuration document: `output_attribute`, `default`, the extra fields, then
    /// `routes` (left out only when there are none and `services` carries the routes).
    pub fn document(&self, options: &DocumentOptions) -> Value {
        let mut document = Map::new();
        if let Some(attribute) = options.output_attribute.clone().or(self.output_attribute.clone()) {
            document.insert("output_attribute".into(), json!(attribute));
        }
        let default = if options.no_default { None } else { options.default.clone().or(self.default.clone()) };
        if let Some(default) = default {
            document.insert("default".into(), json!(default));
        }
        for (key, value) in &self.extra {
            document.insert(key.clone(), value.clone());
        }
        if !self.routes.is_empty() || !document.contains_key("services") {
            document.insert("routes".into(), Value::Array(self.routes.clone()));
        }
        Value::Object(document)
    }
}

/// A native route: the shorthand string when the name says everything, else an object.
/// An empty `path_key` means no path condition.
pub fn route_value(name: &str, methods: &[String], path_key: &str, path: &str, failure_classes: &[String]) -> Value {
    let method_text = if methods.is_empty() { "*".to_string() } else { methods.join("|") };
    let shorthand = format!("{method_text} {path}");
    if path_key == "path"
        && failure_classes.is_empty()
        && name == shorthand
        && !path.contains(char::is_whitespace)
        && !methods.is_empty()
    {
        return json!(shorthand);
    }
    let mut route = Map::new();
    route.insert("name".into(), json!(name));
    match methods {
        [] => {}
        [one] => {
            route.insert("method".into(), json!(one));
        }
        many => {
            route.insert("method".into(), json!(many));
        }
    }
    if !path_key.is_empty() {
        route.insert(path_key.into(), json!(path));
    }
    if !failure_classes.is_empty() {
        route.insert("failure_classes".into(), json!(failure_classes));
    }
    Value::Object(route)
}

/// Parses route values the way the filter will (with default normalisation, or none with
/// `raw`), for ordering and analysis.
pub fn specs(routes: &[Value], normalize: Option<&Value>) -> Result<(Vec<RouteSpec>, Universe), ImportError> {
    let mut document = Map::new();
    document.insert("routes".into(), Value::Array(routes.to_vec()));
    if let Some(normalize) = normalize {
        document.insert("normalize".into(), normalize.clone());
    }
    match config::parse_serde(&Value::Object(document)) {
        Ok(Config::Native(native)) => {
            let universe = Universe::native(&native.normalize);
            Ok((native.routes, universe))
        }
        Ok(Config::Attributegen(_)) => {
            Err(ImportError::Internal("internal error: routes parsed as attributegen".to_string()))
        }
        Err(e) => Err(ImportError::Internal(format!(
            "internal error: an imported route is invalid ({e}); please report this"
        ))),
    }
}

/// Orders routes so that none is shadowed by an earlier one where some order avoids it
/// (`/books/new` before `/books/{id}`), otherwise keeping the input order. Returns the new
/// positions (`order[k]` = input index of the k-th route) and warnings for routes that match
/// exactly the same requests.
pub fn order_specific_first(routes: &[Value], names: &[String]) -> Result<(Vec<usize>, Vec<String>), ImportError> {
    if routes.is_empty() {
        // Nothing to order; and `{"routes": []}` alone is not a valid configuration to analyse.
        return Ok((Vec::new(), Vec::new()));
    }
    let (specs, universe) = specs(routes, None)?;
    let (order, equal) = shadow::specific_first(&specs, &universe);
    let name = |i: usize| names.get(i).map(String::as_str).unwrap_or("?");
    let warnings = equal
        .into_iter()
        .map(|(a, b)| {
            format!("'{}' and '{}' match exactly the same requests: the first one always wins", name(a), name(b))
        })
        .collect();
    Ok((order, warnings))
}

/// `{"name": NAME, ...fields}`: a route or a condition with its name first, as people write them.
pub fn named(name: &str, fields: Value) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    if let Value::Object(rest) = fields {
        out.extend(rest);
    }
    Value::Object(out)
}

/// Why the filter would refuse one native route (the reason without its `routes[0]` field), or
/// `None` if it takes it: an importer checks each route where it still knows its source.
pub fn route_refusal(route: &Value) -> Option<String> {
    let error = config::parse_serde(&json!({ "routes": [route] })).err()?.to_string();
    Some(error.strip_prefix("routes[0]").unwrap_or(&error).trim_start_matches(['.', ':', ' ']).to_string())
}

/// Whether the filter takes `host` in a service's `hosts`.
pub fn is_service_host(host: &str) -> bool {
    config::parse_serde(&json!({"services": [{"hosts": [host], "routes": ["/"]}]})).is_ok()
}

/// Regex metacharacters quoted, for literal text inside a generated `path_regex`.
pub fn quote_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits a regex at its top-level `|` (outside groups and classes). One element: no
/// top-level alternation.
pub fn top_level_alternatives(pattern: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                class_start = false;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                current.push(c);
                if chars.peek() == Some(&'^') {
                    current.push('^');
                    chars.next();
                }
                continue;
            }
            ']' if in_class && !class_start => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => depth = depth.saturating_sub(1),
            '|' if !in_class && depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        class_start = false;
        current.push(c);
    }
    parts.push(current);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives() {
        assert_eq!(top_level_alternatives("/foo|/bar"), vec!["/foo", "/bar"]);
        assert_eq!(top_level_alternatives("/(foo|bar)"), vec!["/(foo|bar)"]);
        assert_eq!(top_level_alternatives("/[|]x"), vec!["/[|]x"]);
        assert_eq!(top_level_alternatives("/[]|]x|y"), vec!["/[]|]x", "y"]);
        assert_eq!(top_level_alternatives("/a\\|b"), vec!["/a\\|b"]);
        assert_eq!(top_level_alternatives(""), vec![""]);
        assert_eq!(top_level_alternatives("|"), vec!["", ""]);
    }

    #[test]
    fn shorthand_only_when_the_name_says_it_all() {
        assert_eq!(route_value("GET /a/{id}", &["GET".into()], "path", "/a/{id}", &[]), json!("GET /a/{id}"));
        assert_eq!(
            route_value("getA", &["GET".into()], "path", "/a/{id}", &[]),
            json!({"name": "getA", "method": "GET", "path": "/a/{id}"})
        );
        assert_eq!(
            route_value("GET /a", &["GET".into()], "path", "/a", &["429".into()]),
            json!({"name": "GET /a", "method": "GET", "path": "/a", "failure_classes": ["429"]})
        );
    }

    #[test]
    fn quoting() {
        let quoted = quote_regex("/a.b/(c)*");
        assert_eq!(quoted, "/a\\.b/\\(c\\)\\*");
        assert!(routegen_core::route::PathRegex::new(&quoted, true, false).unwrap().is_match(b"/a.b/(c)*"));
    }

    #[test]
    fn document_order_and_overrides() {
        let imported = Imported {
            routes: vec![json!("GET /a")],
            extra: vec![("normalize".into(), json!({"lowercase": false}))],
            warnings: Vec::new(),
            default: Some("[DEFAULT]".into()),
            output_attribute: None,
            samples: Vec::new(),
            summary: String::new(),
        };
        let doc = imported.document(&DocumentOptions::default());
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"default":"[DEFAULT]","normalize":{"lowercase":false},"routes":["GET /a"]}"#
        );
        let doc =
            imported.document(&DocumentOptions { output_attribute: Some("r".into()), default: None, no_default: true });
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"output_attribute":"r","normalize":{"lowercase":false},"routes":["GET /a"]}"#
        );
    }
}
