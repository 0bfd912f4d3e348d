//! `routegen import`: route tables from the descriptions people already have (OpenAPI,
//! Linkerd ServiceProfiles, .proto files, attributegen configs), as a native configuration
//! ready for `pluginConfig`.
//!
//! Every importer produces a list of native routes plus warnings; this module assembles the
//! document, compiles it with the filter's own code (an importer bug can never emit an invalid
//! config), runs `check`'s review on it, and, where the importer knows a sample request per
//! route, verifies with the filter's matcher that each sample lands on its own route.

mod attributegen;
mod linkerd;
mod openapi;
mod proto;

use crate::common::{self, DocFormat, Exit, Result};
use crate::{EXIT_INVALID, EXIT_OK};
use routegen::config::Config;
use routegen::engine::{Mode, RequestLine};
use routegen::route::RouteSpec;
use routegen::shadow::{self, Universe};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

#[derive(clap::Subcommand)]
pub enum Command {
    Openapi(openapi::Args),
    Linkerd(linkerd::Args),
    Proto(proto::Args),
    Attributegen(attributegen::Args),
}

/// Output options every importer shares.
#[derive(clap::Args, Clone)]
pub struct OutputArgs {
    /// Output format of the native configuration.
    #[arg(short = 'o', long = "output", value_enum, default_value = "json")]
    output: DocFormat,
    /// The route name for requests no route matches.
    #[arg(long = "default", value_name = "NAME")]
    default: Option<String>,
    /// Leave the attribute unset for requests no route matches.
    #[arg(long = "no-default", conflicts_with = "default")]
    no_default: bool,
    /// The filter-state attribute to write (`wasm.<NAME>`).
    #[arg(long = "output-attribute", value_name = "NAME")]
    output_attribute: Option<String>,
    /// Exit 1 when there are warnings.
    #[arg(long)]
    strict: bool,
}

pub fn run(command: Command) -> Result<u8> {
    match command {
        Command::Openapi(args) => {
            let output = args.output.clone();
            emit(openapi::import(&args)?, &output)
        }
        Command::Linkerd(args) => {
            let output = args.output.clone();
            emit(linkerd::import(&args)?, &output)
        }
        Command::Proto(args) => {
            let output = args.output.clone();
            emit(proto::import(&args)?, &output)
        }
        Command::Attributegen(args) => {
            let output = args.output.clone();
            emit(attributegen::import(&args)?, &output)
        }
    }
}

/// What an importer produced.
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

pub struct Sample {
    pub method: String,
    pub path: String,
    pub host: String,
    /// Global route id the request must land on.
    pub route: usize,
    /// What the route stands for, for messages.
    pub what: String,
}

fn emit(imported: Imported, output: &OutputArgs) -> Result<u8> {
    let mut document = Map::new();
    if let Some(attribute) = output.output_attribute.clone().or(imported.output_attribute.clone()) {
        document.insert("output_attribute".into(), json!(attribute));
    }
    let default = if output.no_default { None } else { output.default.clone().or(imported.default.clone()) };
    if let Some(default) = default {
        document.insert("default".into(), json!(default));
    }
    for (key, value) in &imported.extra {
        document.insert(key.clone(), value.clone());
    }
    if !imported.routes.is_empty() || !document.contains_key("services") {
        document.insert("routes".into(), Value::Array(imported.routes.clone()));
    }
    let document = Value::Object(document);
    let (engine, notes) = common::compile_value(&document)
        .map_err(|e| Exit::invalid(format!("internal error: the imported configuration is invalid ({e}); please report this")))?;
    let mut warnings = imported.warnings;
    warnings.extend(crate::check::review(&engine, &notes).into_iter().map(|f| format!("{}: {}", f.field, f.message)));
    if let (Mode::Native(plan), false) = (&engine.mode, imported.samples.is_empty()) {
        let mut failed = 0;
        for sample in &imported.samples {
            let line = RequestLine { method: sample.method.as_bytes(), path: sample.path.as_bytes(), authority: sample.host.as_bytes() };
            let decision = plan.decide(&line, &mut HashMap::<String, Vec<u8>>::new(), &mut Vec::new());
            if decision.route != Some(sample.route) {
                failed += 1;
                warnings.push(format!(
                    "{}: a request {} {} is attributed to {} instead",
                    sample.what,
                    sample.method,
                    sample.path,
                    decision.name.map(|n| format!("'{n}'")).unwrap_or_else(|| "no route".to_string())
                ));
            }
        }
        eprintln!(
            "verified: {}/{} sample requests (one per route, each path parameter filled with \"x1\") are attributed to their own route by the filter's matcher",
            imported.samples.len() - failed,
            imported.samples.len()
        );
    }
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    eprintln!("{}", imported.summary);
    print!("{}", common::to_text(&document, output.output.into())?);
    Ok(if output.strict && !warnings.is_empty() { EXIT_INVALID } else { EXIT_OK })
}

/// A native route: the shorthand string when the name says everything, else an object.
/// An empty `path_key` means no path condition.
pub fn route_value(name: &str, methods: &[String], path_key: &str, path: &str, failure_classes: &[String]) -> Value {
    let method_text = if methods.is_empty() { "*".to_string() } else { methods.join("|") };
    let shorthand = format!("{method_text} {path}");
    if path_key == "path" && failure_classes.is_empty() && name == shorthand && !path.contains(char::is_whitespace) && !methods.is_empty() {
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
pub fn specs(routes: &[Value], normalize: Option<&Value>) -> Result<(Vec<RouteSpec>, Universe)> {
    let mut document = json!({"routes": routes});
    if let Some(normalize) = normalize {
        document["normalize"] = normalize.clone();
    }
    match common::parse_value(&document) {
        Ok(Config::Native(native)) => {
            let universe = Universe::native(&native.normalize);
            Ok((native.routes, universe))
        }
        Ok(Config::AttributeGen(_)) => Err(Exit::invalid("internal error: routes parsed as attributegen")),
        Err(e) => Err(Exit::invalid(format!("internal error: an imported route is invalid ({e}); please report this"))),
    }
}

/// Orders routes so that none is shadowed by an earlier one where some order avoids it
/// (`/books/new` before `/books/{id}`), otherwise keeping the input order. Returns the new
/// positions (`order[k]` = input index of the k-th route) and warnings for routes that match
/// exactly the same requests.
pub fn order_specific_first(routes: &[Value], names: &[String]) -> Result<(Vec<usize>, Vec<String>)> {
    let (specs, universe) = specs(routes, None)?;
    let (order, equal) = shadow::specific_first(&specs, &universe);
    let warnings = equal
        .into_iter()
        .map(|(a, b)| format!("'{}' and '{}' match exactly the same requests: the first one always wins", names[a], names[b]))
        .collect();
    Ok((order, warnings))
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
    let mut parts = vec![String::new()];
    let mut depth = 0usize;
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let current = parts.last_mut().expect("parts is never empty");
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
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        class_start = false;
        current.push(c);
    }
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
        assert!(routegen::route::PathRegex::new(&quoted, true, false).unwrap().is_match(b"/a.b/(c)*"));
    }
}
