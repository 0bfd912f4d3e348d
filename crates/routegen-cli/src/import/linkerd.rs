//! `routegen import linkerd`: a Linkerd ServiceProfile's routes as native routes.
//!
//! Linkerd semantics reproduced, and made visible:
//! - `pathRegex` is anchored by pasting `^`/`$` around it and searched (Go RE2) in the path.
//!   Native `path_regex` is a whole-path match, which is the same thing unless the regex has a
//!   top-level `|`: Linkerd reads `/foo|/bar` as `^/foo` OR `/bar$`. Such regexes are
//!   converted to the explicit equivalent (`(?:/foo)(?s:.*)|(?s:.*)(?:/bar)`) with a warning.
//! - An invalid regex makes Linkerd drop the route's path condition silently (the route then
//!   matches every request of its method): reported, and the route skipped.
//! - Conditions (`all`, `any`, `not`, `method`, `pathRegex`; several fields in one match are
//!   ANDed) are brought to a disjunction of conjunctions; each conjunction becomes one route
//!   under the route's name, which is exact under first-match. `not` of a method next to a
//!   positive method, and contradictions, are folded; negated paths and method complements
//!   cannot be expressed (reported, route skipped).
//! - `responseClasses` (first matching class decides; no class: 5xx fails) become the route's
//!   `failure_classes`, omitted when they equal routegen's default (every 5xx).
//! - Linkerd does not normalise paths, so neither does the output (`normalize` all off) unless
//!   `--normalize` asks for routegen's defaults.

use super::{route_value, top_level_alternatives, Imported, OutputArgs};
use crate::common::{Exit, Result};
use crate::input;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Import a Linkerd ServiceProfile's routes.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen import linkerd webapp-profile.yaml > routes.json\n  kubectl get sp -n booksapp webapp.booksapp.svc.cluster.local -o yaml | routegen import linkerd - --scope-by-host\n\n\
Exit status: 0 imported (warnings on stderr), 1 not a ServiceProfile (or warnings with --strict), 2 unreadable file."
)]
pub struct Args {
    /// The ServiceProfile YAML or JSON ('-' for standard input).
    profile: PathBuf,
    /// Put the routes under `services[].hosts` named after the profile (for a waypoint that
    /// serves several services), instead of the top-level table.
    #[arg(long = "scope-by-host")]
    scope_by_host: bool,
    /// Normalise request paths with routegen's defaults (Linkerd matches paths as sent).
    #[arg(long)]
    normalize: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One conjunction of request conditions.
#[derive(Clone, Debug, Default, PartialEq)]
struct Conj {
    method: Option<String>,
    not_methods: Vec<String>,
    regexes: Vec<String>,
    not_regexes: Vec<String>,
    unsatisfiable: bool,
}

impl Conj {
    fn and(&self, other: &Conj) -> Conj {
        let mut out = self.clone();
        match (&out.method, &other.method) {
            (Some(a), Some(b)) if a != b => out.unsatisfiable = true,
            (None, Some(b)) => out.method = Some(b.clone()),
            _ => {}
        }
        out.not_methods.extend(other.not_methods.iter().cloned());
        out.regexes.extend(other.regexes.iter().cloned());
        out.not_regexes.extend(other.not_regexes.iter().cloned());
        out.unsatisfiable |= other.unsatisfiable;
        if let Some(m) = &out.method {
            if out.not_methods.contains(m) {
                out.unsatisfiable = true;
            }
        }
        out.regexes.dedup();
        out
    }
}

const MAX_CONJUNCTIONS: usize = 64;

fn cross(a: Vec<Conj>, b: Vec<Conj>) -> std::result::Result<Vec<Conj>, String> {
    let out: Vec<Conj> = a.iter().flat_map(|x| b.iter().map(move |y| x.and(y))).collect();
    if out.len() > MAX_CONJUNCTIONS {
        return Err(format!("the condition expands to more than {MAX_CONJUNCTIONS} alternatives"));
    }
    Ok(out)
}

/// A RequestMatch as a disjunction of conjunctions.
fn dnf(m: &Value) -> std::result::Result<Vec<Conj>, String> {
    let object = m.as_object().ok_or("a condition must be an object")?;
    let mut result = vec![Conj::default()];
    let mut fields = 0;
    for (key, value) in object {
        let part = match key.as_str() {
            "method" => vec![Conj {
                method: Some(value.as_str().ok_or("method must be a string")?.to_ascii_uppercase()),
                ..Conj::default()
            }],
            "pathRegex" => vec![Conj {
                regexes: vec![value.as_str().ok_or("pathRegex must be a string")?.to_string()],
                ..Conj::default()
            }],
            "all" => {
                let mut acc = vec![Conj::default()];
                for child in value.as_array().ok_or("all must be a list")? {
                    acc = cross(acc, dnf(child)?)?;
                }
                acc
            }
            "any" => {
                let mut acc = Vec::new();
                for child in value.as_array().ok_or("any must be a list")? {
                    acc.extend(dnf(child)?);
                }
                acc
            }
            "not" => negate(value)?,
            other => return Err(format!("unknown condition field '{other}'")),
        };
        fields += 1;
        result = cross(result, part)?;
    }
    if fields == 0 {
        return Err("empty condition (Linkerd rejects it)".to_string());
    }
    Ok(result)
}

fn negate(m: &Value) -> std::result::Result<Vec<Conj>, String> {
    let object = m.as_object().ok_or("not: expected an object")?;
    match (object.len(), object.get("method"), object.get("pathRegex"), object.get("not")) {
        (1, Some(method), _, _) => {
            Ok(vec![Conj { not_methods: vec![method.as_str().unwrap_or("").to_ascii_uppercase()], ..Conj::default() }])
        }
        (1, _, Some(regex), _) => {
            Ok(vec![Conj { not_regexes: vec![regex.as_str().unwrap_or("").to_string()], ..Conj::default() }])
        }
        (1, _, _, Some(inner)) => dnf(inner),
        _ => Err("'not' of a compound condition cannot be expressed".to_string()),
    }
}

/// Linkerd's `^` + pattern + `$` (searched) as a native whole-path regex, and whether the
/// pattern had a top-level alternation that made the anchoring surprising.
fn anchored(pattern: &str) -> (String, bool) {
    let parts = top_level_alternatives(pattern);
    if parts.len() == 1 {
        return (pattern.to_string(), false);
    }
    let last = parts.len() - 1;
    let alternatives: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| match i {
            0 => format!("(?:{p})(?s:.*)"),
            i if i == last => format!("(?s:.*)(?:{p})"),
            _ => format!("(?s:.*)(?:{p})(?s:.*)"),
        })
        .collect();
    (alternatives.join("|"), true)
}

/// Failure statuses per Linkerd: the first response class whose condition matches decides;
/// with none, 5xx fails.
fn failure_statuses(classes: &[Value]) -> std::result::Result<[bool; 600], String> {
    let mut failed = [false; 600];
    for (status, flag) in failed.iter_mut().enumerate().skip(100) {
        let mut decided = None;
        for class in classes {
            let condition = class.get("condition").ok_or("a response class has no condition")?;
            if response_matches(condition, status as u64)? {
                decided = Some(class.get("isFailure").and_then(Value::as_bool).unwrap_or(false));
                break;
            }
        }
        *flag = decided.unwrap_or(status >= 500);
    }
    Ok(failed)
}

fn response_matches(m: &Value, status: u64) -> std::result::Result<bool, String> {
    let object = m.as_object().ok_or("a response condition must be an object")?;
    let mut result = true;
    for (key, value) in object {
        let holds = match key.as_str() {
            "status" => {
                let min = value.get("min").and_then(Value::as_u64).unwrap_or(0);
                let max = value.get("max").and_then(Value::as_u64).unwrap_or(0);
                (min == 0 || status >= min) && (max == 0 || status <= max)
            }
            "all" => value
                .as_array()
                .ok_or("all must be a list")?
                .iter()
                .map(|c| response_matches(c, status))
                .collect::<std::result::Result<Vec<_>, _>>()?
                .into_iter()
                .all(|b| b),
            "any" => value
                .as_array()
                .ok_or("any must be a list")?
                .iter()
                .map(|c| response_matches(c, status))
                .collect::<std::result::Result<Vec<_>, _>>()?
                .into_iter()
                .any(|b| b),
            "not" => !response_matches(value, status)?,
            other => return Err(format!("unknown response condition field '{other}'")),
        };
        result &= holds;
    }
    Ok(result)
}

pub fn import(args: &Args) -> Result<Imported> {
    let text = input::read_text(&args.profile).map_err(Exit::usage)?;
    let doc = input::parse_document(&text).map_err(|e| Exit::invalid(format!("{}: {e}", args.profile.display())))?;
    if doc.get("kind").and_then(Value::as_str) != Some("ServiceProfile") {
        return Err(Exit::invalid(format!("{}: not a ServiceProfile (kind: ServiceProfile)", args.profile.display())));
    }
    let profile_name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    let list = doc.pointer("/spec/routes").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut warnings = Vec::new();
    let mut routes = Vec::new();
    let mut skipped = 0;
    for (i, route) in list.iter().enumerate() {
        let at = format!("spec.routes[{i}]");
        let Some(name) = route.get("name").and_then(Value::as_str) else {
            warnings.push(format!("{at}: no name; skipped"));
            skipped += 1;
            continue;
        };
        let at = format!("{at} '{name}'");
        match convert_route(route, name, &at, &mut warnings) {
            Ok(converted) => routes.extend(converted),
            Err(why) => {
                warnings.push(format!("{at}: {why}; skipped"));
                skipped += 1;
            }
        }
        for ignored in ["isRetryable", "timeout"] {
            if route.get(ignored).is_some() {
                warnings.push(format!(
                    "{at}: {ignored} ignored (a Linkerd proxy policy; routegen only names and classifies routes)"
                ));
            }
        }
    }
    if doc.pointer("/spec/retryBudget").is_some() {
        warnings.push("spec.retryBudget ignored (a Linkerd proxy policy)".to_string());
    }
    let mut extra = Vec::new();
    if !args.normalize {
        extra.push(("normalize".to_string(), json!({"decode_unreserved": false, "merge_slashes": false, "remove_dot_segments": false, "ignore_trailing_slash": false})));
    }
    let count = routes.len();
    let routes = if args.scope_by_host && !profile_name.is_empty() {
        extra.push(("services".to_string(), json!([{"hosts": host_names(&profile_name), "routes": routes}])));
        Vec::new()
    } else {
        routes
    };
    Ok(Imported {
        routes,
        extra,
        warnings,
        default: Some("[DEFAULT]".to_string()),
        output_attribute: None,
        samples: Vec::new(),
        summary: format!(
            "imported {} of {} ServiceProfile routes as {count} native routes ({skipped} skipped)",
            list.len() - skipped,
            list.len()
        ),
    })
}

/// `webapp.booksapp.svc.cluster.local` → itself, `webapp.booksapp.svc`, `webapp.booksapp`, `webapp`.
fn host_names(fqdn: &str) -> Vec<String> {
    let mut hosts = vec![fqdn.to_string()];
    if let Some(short) = fqdn.strip_suffix(".svc.cluster.local") {
        hosts.push(format!("{short}.svc"));
        hosts.push(short.to_string());
        if let Some((service, _)) = short.split_once('.') {
            hosts.push(service.to_string());
        }
    }
    hosts
}

fn convert_route(
    route: &Value,
    name: &str,
    at: &str,
    warnings: &mut Vec<String>,
) -> std::result::Result<Vec<Value>, String> {
    let condition = route.get("condition").ok_or("no condition")?;
    let failure_classes = match route.get("responseClasses").and_then(Value::as_array) {
        Some(classes) => {
            let failed = failure_statuses(classes)?;
            let mut default = [false; 600];
            default[500..].iter_mut().for_each(|f| *f = true);
            if failed == default {
                Vec::new()
            } else {
                crate::import::openapi::ranges(&failed)
            }
        }
        None => Vec::new(),
    };
    let conjunctions: Vec<Conj> = dnf(condition)?.into_iter().filter(|c| !c.unsatisfiable).collect();
    if conjunctions.is_empty() {
        warnings.push(format!("{at}: its condition can never hold (contradictory methods)"));
    }
    // (regex, methods) per conjunction, merging adjacent ones with the same path.
    let mut pieces: Vec<(Option<String>, Vec<String>)> = Vec::new();
    for conj in conjunctions {
        if !conj.not_regexes.is_empty() {
            return Err(format!(
                "'not pathRegex {}' cannot be expressed (routes only match paths positively)",
                conj.not_regexes[0]
            ));
        }
        if conj.method.is_none() && !conj.not_methods.is_empty() {
            return Err(format!(
                "'not method {}' without a method cannot be expressed (routes list the methods they allow)",
                conj.not_methods[0]
            ));
        }
        if conj.regexes.len() > 1 {
            return Err(format!(
                "two path regexes in one condition ({} and {}) cannot be expressed",
                conj.regexes[0], conj.regexes[1]
            ));
        }
        let regex = match conj.regexes.first() {
            Some(pattern) => Some(convert_regex(pattern, at, warnings)?),
            None => None,
        };
        let methods: Vec<String> = conj.method.into_iter().collect();
        match pieces.last_mut() {
            Some((last_regex, last_methods))
                if *last_regex == regex && !last_methods.is_empty() && !methods.is_empty() =>
            {
                last_methods.extend(methods);
            }
            _ => pieces.push((regex, methods)),
        }
    }
    Ok(pieces
        .into_iter()
        .map(|(regex, methods)| match regex {
            Some(regex) => route_value(name, &methods, "path_regex", &regex, &failure_classes),
            None => route_value(name, &methods, "", "", &failure_classes),
        })
        .collect())
}

fn convert_regex(pattern: &str, at: &str, warnings: &mut Vec<String>) -> std::result::Result<String, String> {
    match routegen_core::cel::compile_re2(pattern) {
        Ok(_) => {}
        Err(e) if e.starts_with("invalid") => {
            return Err(format!(
                "pathRegex '{pattern}' is invalid ({e}); Linkerd silently drops such a condition, so this route matched every request of its method"
            ))
        }
        Err(e) => return Err(format!("pathRegex '{pattern}' cannot be expressed ({e})")),
    }
    let (regex, surprising) = anchored(pattern);
    if surprising {
        warnings.push(format!(
            "{at}: pathRegex '{pattern}' has a top-level '|': Linkerd anchors it as '^{pattern}$', i.e. '^{}' OR '{}$' (prefix/suffix matches, probably not what was meant); converted literally to '{regex}' — write '(?:{pattern})' for whole paths",
            top_level_alternatives(pattern).first().map(String::as_str).unwrap_or(""),
            top_level_alternatives(pattern).last().map(String::as_str).unwrap_or("")
        ));
    }
    let translated = routegen_core::cel::compile_re2(&regex)
        .map_err(|e| format!("pathRegex '{pattern}' cannot be expressed ({e})"))?;
    routegen_core::route::PathRegex::new(translated.as_str(), true, false)
        .map_err(|e| format!("pathRegex '{pattern}' cannot be expressed ({e})"))?;
    Ok(translated.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchoring() {
        assert_eq!(anchored("/books/\\d+"), ("/books/\\d+".to_string(), false));
        let (regex, surprising) = anchored("/foo|/bar");
        assert!(surprising);
        let compiled = routegen_core::route::PathRegex::new(&regex, true, false).unwrap();
        // Linkerd's ^/foo|/bar$: starts with /foo, or ends with /bar.
        for (path, want) in [("/foo", true), ("/foo/x", true), ("/x/bar", true), ("/bar/x", false), ("/x/foo", false)] {
            assert_eq!(compiled.is_match(path.as_bytes()), want, "{path}");
        }
    }

    #[test]
    fn conditions() {
        let conj = dnf(&json!({"all": [{"method": "GET"}, {"not": {"method": "POST"}}], "pathRegex": "/a"})).unwrap();
        assert_eq!(conj.len(), 1);
        assert_eq!(conj[0].method.as_deref(), Some("GET"));
        let conj = dnf(&json!({"any": [{"method": "GET"}, {"method": "HEAD"}], "pathRegex": "/a"})).unwrap();
        assert_eq!(conj.len(), 2);
        assert!(dnf(&json!({"all": [{"method": "GET"}, {"method": "POST"}]})).unwrap()[0].unsatisfiable);
        assert!(negate(&json!({"all": [{"method": "GET"}]})).is_err());
    }

    #[test]
    fn response_classes() {
        let failed = failure_statuses(&[
            json!({"condition": {"status": {"min": 500, "max": 504}}, "isFailure": false}),
            json!({"condition": {"status": {"min": 429, "max": 429}}, "isFailure": true}),
        ])
        .unwrap();
        assert_eq!(crate::import::openapi::ranges(&failed), vec!["429", "505-599"]);
    }
}
