//! `routegen check`: is this configuration valid, and does it do what its author meant?
//!
//! Validity is the filter's own verdict (same parser, same compiler). On top of it come the
//! findings a config review would make: routes that can never match because an earlier route
//! takes all their requests (proven for exact, prefix and template paths, sampled for
//! regexes), duplicate names, unanchored `matches()` regexes, response conditions in an
//! ON_REQUEST attribute, and conditions only Envoy's CEL can evaluate.

use crate::common::{self, Format, Result};
use crate::shadow::{self, Cover, Universe};
use crate::{EXIT_INVALID, EXIT_OK};
use routegen_core::cel::{Attr, Expr};
use routegen_core::config::Phase;
use routegen_core::engine::{AttributePlan, Condition, Engine, Mode, NativePlan, Note};
use routegen_core::lower::lower;
use routegen_core::route::{MethodSet, PathMatch, RouteSpec};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Parse and compile a configuration exactly as the filter does, then review it.
///
/// CONFIG is a native or attributegen configuration (JSON or YAML), or a whole WasmPlugin
/// manifest (its spec.pluginConfig is checked). Errors name the field (`routes[3].path: …`).
/// Warnings: routes that can never match (an earlier route matches all their requests),
/// routes that may be shadowed (regexes: sampled, not proven), duplicate route names,
/// unanchored `request.url_path.matches()` regexes, response conditions in an ON_REQUEST
/// attribute, and conditions that need Envoy's own CEL at run time.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen check routes.json\n  routegen check istio/generic/20-wasmplugin.yaml\n  routegen check --strict -o json routes.yaml\n  kubectl get wasmplugin routegen -o yaml | routegen check -\n\n\
Exit status: 0 valid (warnings allowed), 1 invalid (or warnings with --strict), 2 unreadable file."
)]
pub struct Args {
    /// The configuration file ('-' for standard input).
    config: PathBuf,
    /// Exit 1 when there are warnings, not only errors.
    #[arg(long)]
    strict: bool,
    /// Output format: table (readable lines), json or yaml.
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    output: Format,
}

/// One finding of the review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Field path of the route or condition concerned.
    pub field: String,
    /// Stable identifier for scripts: shadowed, may-be-shadowed, duplicate-name,
    /// unanchored-regex, response-on-request, host-cel.
    pub kind: &'static str,
    pub message: String,
}

pub fn run(args: Args) -> Result<u8> {
    let name = args.config.display().to_string();
    let document = crate::input::load_config(&args.config)?;
    let (engine, notes) = match common::compile_value(&document) {
        Ok(compiled) => compiled,
        Err(e) => {
            match args.output {
                Format::Json | Format::Yaml => print!(
                    "{}",
                    common::to_text(
                        &json!({"file": name, "valid": false, "errors": [{"field": e.field, "message": e.reason}], "warnings": []}),
                        args.output
                    )?
                ),
                _ => println!("error: {e}"),
            }
            return Ok(EXIT_INVALID);
        }
    };
    let findings = review(&engine, &notes);
    let (format, routes) = summary(&engine);
    match args.output {
        Format::Json | Format::Yaml => {
            let warnings: Vec<Value> =
                findings.iter().map(|f| json!({"field": f.field, "kind": f.kind, "message": f.message})).collect();
            let auto = match &engine.mode {
                Mode::Native(NativePlan { auto: Some(auto), .. }) => json!({
                    "max_names": auto.max_names, "overflow": auto.overflow, "fanout": auto.fanout, "max_depth": auto.max_depth,
                }),
                _ => Value::Null,
            };
            let report = json!({"file": name, "valid": true, "format": format, "routes": routes, "auto": auto, "errors": [], "warnings": warnings});
            print!("{}", common::to_text(&report, args.output)?);
        }
        _ => {
            for finding in &findings {
                println!("warning: {}: {}", finding.field, finding.message);
            }
            let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            let auto = match &engine.mode {
                Mode::Native(NativePlan { auto: Some(auto), .. }) => format!(
                    ", auto names on (max_names {}, fanout {}, max_depth {})",
                    auto.max_names, auto.fanout, auto.max_depth
                ),
                _ => String::new(),
            };
            println!(
                "ok: {name} is a valid routegen configuration ({format}, {}{auto}, {})",
                plural(routes, if format == "native" { "route" } else { "condition" }),
                plural(findings.len(), "warning")
            );
        }
    }
    Ok(if args.strict && !findings.is_empty() { EXIT_INVALID } else { EXIT_OK })
}

fn summary(engine: &Engine) -> (&'static str, usize) {
    match &engine.mode {
        Mode::Native(plan) => ("native", plan.routes().count()),
        Mode::Attributegen(attributes) => ("attributegen", attributes.iter().map(|a| a.matches.len()).sum()),
    }
}

/// Every finding for a compiled configuration, in field order. Duplicate names are reported
/// only when not adjacent: consecutive routes with one name are one route written in pieces.
pub fn review(engine: &Engine, notes: &[Note]) -> Vec<Finding> {
    let mut findings = match &engine.mode {
        Mode::Native(plan) => review_native(plan),
        Mode::Attributegen(attributes) => {
            attributes.iter().enumerate().flat_map(|(i, a)| review_attribute(a, &format!("attributes[{i}]"))).collect()
        }
    };
    findings.extend(notes.iter().map(|note| Finding {
        field: note.field.clone(),
        kind: "host-cel",
        message: note.message.clone(),
    }));
    findings
}

/// A route as a message shows it: its name, plus its conditions when the name does not say them.
pub fn describe(route: &RouteSpec) -> String {
    format!("'{}'", route.name)
}

fn review_native(plan: &NativePlan) -> Vec<Finding> {
    let universe = Universe::native(&plan.normalize);
    let mut findings = review_table(&plan.fallback.routes, "routes", &universe);
    for (s, service) in plan.services.iter().enumerate() {
        findings.extend(review_table(&service.table.routes, &format!("services[{s}].routes"), &universe));
    }
    if plan.auto.is_some() {
        let defaults = std::iter::once(("default".to_string(), plan.default.is_some())).chain(
            plan.services.iter().enumerate().map(|(s, svc)| (format!("services[{s}].default"), svc.default.is_some())),
        );
        for (field, _) in defaults.filter(|(_, set)| *set) {
            findings.push(Finding {
                field,
                kind: "auto-default",
                message: format!(
                    "with auto on, a default names only requests whose path is longer than limits.max_path_bytes ({}); every other unmatched request gets an auto name",
                    plan.max_path_bytes
                ),
            });
        }
    }
    findings
}

fn review_table(routes: &[RouteSpec], field: &str, universe: &Universe) -> Vec<Finding> {
    let mut findings = Vec::new();
    for shadowed in shadow::shadowed_routes(routes, universe) {
        let (earlier, later) = (&routes[shadowed.earlier], &routes[shadowed.later]);
        let message = match shadowed.cover {
            Cover::Always => format!(
                "{} can never match: {field}[{}] {} matches every request it would",
                describe(later),
                shadowed.earlier,
                describe(earlier)
            ),
            _ => format!(
                "{} may be shadowed by {field}[{}] {}: every sampled path of it matched that earlier route (regexes are compared by sampling, not proven); move it earlier if it is more specific",
                describe(later),
                shadowed.earlier,
                describe(earlier)
            ),
        };
        let kind = if shadowed.cover == Cover::Always { "shadowed" } else { "may-be-shadowed" };
        findings.push(Finding { field: format!("{field}[{}]", shadowed.later), kind, message });
    }
    for (i, route) in routes.iter().enumerate() {
        // Consecutive routes sharing a name are one route written in pieces (as the importers
        // split `any`/`||` conditions): only a name used again further down is a mistake.
        if i > 0 && routes[i - 1].name == route.name {
            continue;
        }
        if let Some(first) = routes[..i].iter().position(|r| r.name == route.name) {
            findings.push(Finding {
                field: format!("{field}[{i}]"),
                kind: "duplicate-name",
                message: format!(
                    "the name '{}' is also used by {field}[{first}]: their metrics are merged",
                    route.name
                ),
            });
        }
    }
    findings.sort_by_key(|f| index_of(&f.field));
    findings
}

/// `routes[12]` → 12, for sorting findings in table order.
fn index_of(field: &str) -> usize {
    field.rsplit('[').next().and_then(|s| s.trim_end_matches(']').parse().ok()).unwrap_or(0)
}

/// The indexable part of an attributegen condition as a route, when the condition is exactly
/// that (no residual): what the shadowing analysis can reason about.
fn condition_route(condition: &Condition, value: &str) -> Option<(RouteSpec, bool)> {
    let (methods, path, exact) = match condition {
        Condition::Always => (MethodSet::any(), PathMatch::Any, true),
        Condition::Cel(expr) => {
            let lowered = lower(expr)?;
            let exact = lowered.residual.is_none();
            (lowered.methods, lowered.path, exact)
        }
        Condition::Host { .. } => return None,
    };
    Some((
        RouteSpec {
            name: value.to_string(),
            methods,
            path,
            headers: Vec::new(),
            query: Vec::new(),
            failure_classes: None,
        },
        exact,
    ))
}

fn review_attribute(attribute: &AttributePlan, field: &str) -> Vec<Finding> {
    let universe = Universe::raw();
    let mut findings = Vec::new();
    let routes: Vec<Option<(RouteSpec, bool)>> =
        attribute.matches.iter().map(|m| condition_route(&m.condition, &m.value)).collect();
    for (j, entry) in attribute.matches.iter().enumerate() {
        let at = format!("{field}.match[{j}]");
        if let Condition::Cel(expr) = &entry.condition {
            unanchored(expr, &format!("{at}.condition"), &mut findings);
            if attribute.phase == Phase::OnRequest && expr.uses_response() {
                findings.push(Finding {
                    field: format!("{at}.condition"),
                    kind: "response-on-request",
                    message: "reads the response, but this attribute is computed at request time (phase ON_REQUEST): the condition always fails and abandons the attribute".to_string(),
                });
            }
        }
        let Some((later, _)) = &routes[j] else { continue };
        let mut maybe = None;
        for (i, earlier) in routes[..j].iter().enumerate() {
            // Only an earlier condition that is *exactly* its method/path part can be compared.
            let Some((earlier, true)) = earlier else { continue };
            match shadow::route_covers(earlier, later, &universe) {
                Cover::Always => {
                    maybe = Some((i, Cover::Always));
                    break;
                }
                Cover::Maybe if maybe.is_none() => maybe = Some((i, Cover::Maybe)),
                _ => {}
            }
        }
        match maybe {
            Some((i, Cover::Always)) => findings.push(Finding {
                field: at,
                kind: "shadowed",
                message: format!("'{}' can never match: {field}.match[{i}] '{}' is true for every request this one is", entry.value, attribute.matches[i].value),
            }),
            Some((i, _)) => findings.push(Finding {
                field: at,
                kind: "may-be-shadowed",
                message: format!("'{}' may be shadowed by {field}.match[{i}] '{}': every sampled path of it matched that earlier condition (regexes are compared by sampling, not proven)", entry.value, attribute.matches[i].value),
            }),
            None => {}
        }
    }
    findings
}

/// `request.url_path.matches('/books/[0-9]+')` searches anywhere in the path (RE2 partial
/// match): `/x/books/1` and `/books/1/delete` match too. Almost always a missing `^`.
fn unanchored(expr: &Expr, field: &str, out: &mut Vec<Finding>) {
    match expr {
        Expr::Matches(subject, matcher) => {
            if matches!(subject.as_ref(), Expr::Attr(Attr::RequestUrlPath | Attr::RequestPath))
                && !matcher.pattern.starts_with('^')
            {
                let suggestion = if matcher.pattern.ends_with('$') {
                    format!("^{}", matcher.pattern)
                } else {
                    format!("^{}$", matcher.pattern)
                };
                out.push(Finding {
                    field: field.to_string(),
                    kind: "unanchored-regex",
                    message: format!(
                        "matches('{}') is unanchored: it matches anywhere in the path (e.g. '/x{}'); anchor it as '{}'",
                        matcher.pattern,
                        example_path(&matcher.pattern),
                        suggestion
                    ),
                });
            }
            unanchored(subject, field, out);
        }
        Expr::Not(e) | Expr::Size(e) => unanchored(e, field, out),
        Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) | Expr::StrFn(_, a, b) => {
            unanchored(a, field, out);
            unanchored(b, field, out);
        }
        Expr::In(e, list) => {
            unanchored(e, field, out);
            list.iter().for_each(|e| unanchored(e, field, out));
        }
        Expr::Lit(_) | Expr::Attr(_) | Expr::Header { .. } | Expr::HasHeader { .. } => {}
    }
}

/// The literal start of a pattern, for the example in the unanchored warning.
fn example_path(pattern: &str) -> String {
    let literal: String = pattern.chars().take_while(|c| c.is_ascii_alphanumeric() || "/-_.".contains(*c)).collect();
    if literal.starts_with('/') {
        literal
    } else {
        format!("/{literal}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(json: &str) -> Vec<(String, &'static str)> {
        let document: Value = serde_json::from_str(json).unwrap();
        let (engine, notes) = common::compile_value(&document).unwrap();
        review(&engine, &notes).into_iter().map(|f| (f.field, f.kind)).collect()
    }

    #[test]
    fn native_shadowing_and_duplicates() {
        let got = findings(
            r#"{"routes": ["GET /books/{id}", "GET /books/new", "POST /books/new", "GET /books/{id}",
            {"name": "r", "method": "GET", "path_regex": "/books/[0-9]+"}, {"name": "s", "path_prefix": "/static/"}, "GET /static/{f}"]}"#,
        );
        assert_eq!(
            got,
            vec![
                ("routes[1]".to_string(), "shadowed"),
                ("routes[3]".to_string(), "shadowed"),
                ("routes[3]".to_string(), "duplicate-name"),
                ("routes[4]".to_string(), "may-be-shadowed"),
                ("routes[6]".to_string(), "shadowed"),
            ]
        );
    }

    #[test]
    fn services_are_separate_tables() {
        let got = findings(
            r#"{"routes": ["GET /x/{id}"], "services": [{"hosts": ["a"], "routes": ["GET /x/new", "GET /{p}/new", "GET /x/new"]}]}"#,
        );
        assert_eq!(
            got,
            vec![
                ("services[0].routes[2]".to_string(), "shadowed"),
                ("services[0].routes[2]".to_string(), "duplicate-name")
            ]
        );
    }

    #[test]
    fn attributegen_findings() {
        let got = findings(
            r#"{"attributes": [{"output_attribute": "op", "phase": "ON_REQUEST", "match": [
            {"value": "a", "condition": "request.url_path.startsWith('/a')"},
            {"value": "b", "condition": "request.method == 'GET' && request.url_path == '/a/b'"},
            {"value": "c", "condition": "request.url_path.matches('/c/[0-9]+')"},
            {"value": "d", "condition": "response.code >= 500"},
            {"value": "e", "condition": "request.url_path.startsWith('/e') && request.headers['x'] == 'y'"},
            {"value": "f", "condition": "request.url_path == '/e/f'"},
            {"value": "g", "condition": "request.time > 1"},
            {"value": "h", "condition": ""},
            {"value": "i", "condition": "request.method == 'GET'"}]}]}"#,
        );
        assert_eq!(
            got,
            vec![
                ("attributes[0].match[1]".to_string(), "shadowed"),
                ("attributes[0].match[2].condition".to_string(), "unanchored-regex"),
                ("attributes[0].match[3].condition".to_string(), "response-on-request"),
                ("attributes[0].match[8]".to_string(), "shadowed"),
                ("attributes[0].match[6].condition".to_string(), "host-cel"),
            ]
        );
    }
}
