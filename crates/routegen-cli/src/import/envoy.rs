//! `routegen import envoy`: an Envoy route table's named routes as native routes, so that the
//! filter names every request as Envoy's own `%ROUTE_NAME%` does.
//!
//! Input: a `RouteConfiguration`, a bootstrap (each HTTP connection manager's inline
//! `route_config`) or an admin `/config_dump` (static and dynamic route configurations); JSON or
//! YAML. With several route configurations, `--route-config NAME` picks one.
//!
//! Virtual hosts: Envoy picks one by `:authority` (exact domain, then the longest `*.suffix`,
//! then `*`) and only its routes apply. Exact and `*.suffix` domains become `services[]`
//! (routegen's host order is the same); the `*` virtual host's routes are the top-level ones.
//! Since routegen falls back to the top-level routes where Envoy would not, each service then
//! ends with a catch-all named `[NO_ROUTE]`: Envoy chose that virtual host and none of its routes
//! matched (Envoy logs `%ROUTE_NAME%` as `-`). `prefix.*` domains have no routegen equivalent.
//!
//! Routes: `name`, else `<virtual host>/<index>`. Matches: `prefix`, `path`, `safe_regex`,
//! `path_separated_prefix`, `path_match_policy` (`envoy.path.match.uri_template`),
//! `case_sensitive: false` (as an `(?i)` regex), `headers` (`:method` exact → the method; string
//! matchers exact/prefix/suffix/contains/safe_regex, `present_match`, `invert_match` of a
//! presence), `query_parameters` (exact/prefix/safe_regex, `present_match`). Anything else
//! (runtime fractions, `grpc`, `tls_context`, dynamic metadata, …) is an error naming the route,
//! or with `--skip-unsupported` a warning and the route left out.
//!
//! Envoy has already normalised the path the filter sees, so the output turns routegen's own
//! normalisation off.

use super::{is_service_host, named, quote_regex, route_refusal, ImportError, Imported, OutputArgs};
use crate::common::{Exit, Result};
use crate::input;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// Import an Envoy route configuration.
#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  routegen import envoy route-config.yaml > routegen.json\n  curl -s localhost:15000/config_dump | routegen import envoy - --route-config http.8080\n\n\
Exit status: 0 imported (warnings on stderr), 1 nothing to import or a route routegen cannot express (or warnings with --strict), 2 unreadable file."
)]
pub struct Args {
    /// A RouteConfiguration, bootstrap or /config_dump (JSON or YAML; '-' for standard input).
    file: PathBuf,
    /// The route configuration to import, by name, when the input holds several.
    #[arg(long = "route-config", value_name = "NAME")]
    route_config: Option<String>,
    /// Leave out, with a warning, routes whose matches routegen cannot express.
    #[arg(long = "skip-unsupported")]
    skip_unsupported: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The catch-all that ends each service: Envoy selected this virtual host and no route matched.
pub const NO_ROUTE: &str = "[NO_ROUTE]";

#[derive(Clone, Debug, Default)]
pub struct EnvoyOptions {
    pub route_config: Option<String>,
    pub skip_unsupported: bool,
}

pub fn import(args: &Args) -> Result<Imported> {
    let text = input::read_text(&args.file).map_err(Exit::usage)?;
    let doc = input::parse_document(&text).map_err(|e| Exit::invalid(format!("{}: {e}", args.file.display())))?;
    let options = EnvoyOptions { route_config: args.route_config.clone(), skip_unsupported: args.skip_unsupported };
    envoy_routes(&doc, &options).map_err(|e| Exit::invalid(format!("{}: {e}", args.file.display())))
}

/// Every route configuration in the document: (name, value).
fn route_configs(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    collect(doc, &mut out, 0);
    out
}

fn collect<'a>(value: &'a Value, out: &mut Vec<(String, &'a Value)>, depth: usize) {
    if depth > 16 {
        return;
    }
    match value {
        Value::Object(map) => {
            if map.contains_key("virtual_hosts") {
                let name = map.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                out.push((name, value));
                return;
            }
            for v in map.values() {
                collect(v, out, depth + 1);
            }
        }
        Value::Array(list) => list.iter().for_each(|v| collect(v, out, depth + 1)),
        _ => {}
    }
}

pub fn envoy_routes(doc: &Value, options: &EnvoyOptions) -> std::result::Result<Imported, ImportError> {
    let configs = route_configs(doc);
    let chosen = match (&options.route_config, configs.as_slice()) {
        (_, []) => return Err(ImportError::Invalid("no route configuration (virtual_hosts) in the input".into())),
        (Some(name), all) => all.iter().find(|(n, _)| n == name).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
            ImportError::Invalid(format!("no route configuration named '{name}' (there are: {})", names.join(", ")))
        })?,
        (None, [one]) => one,
        (None, all) => {
            let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
            return Err(ImportError::Invalid(format!(
                "{} route configurations: pick one with --route-config NAME ({})",
                all.len(),
                names.join(", ")
            )));
        }
    };
    let vhosts = chosen.1.get("virtual_hosts").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut warnings = Vec::new();
    let mut top = Vec::new();
    let mut services = Vec::new();
    let mut count = 0usize;
    let has_catch_all = vhosts.iter().any(|v| domains(v).iter().any(|d| d == "*"));
    for (vi, vhost) in vhosts.iter().enumerate() {
        let vname = vhost.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        let at = format!("virtual_hosts[{vi}] '{vname}'");
        let mut routes = Vec::new();
        for (ri, route) in vhost.get("routes").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let name = match route.get("name").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => format!("{vname}/{ri}"),
            };
            let route_at = format!("{at}.routes[{ri}] '{name}'");
            match convert(route, &name) {
                Ok(value) => match route_refusal(&value) {
                    None => routes.push(value),
                    Some(reason) => unsupported(&route_at, &reason, options, &mut warnings)?,
                },
                Err(reason) => unsupported(&route_at, &reason, options, &mut warnings)?,
            }
        }
        let mut hosts = Vec::new();
        let mut star = false;
        for domain in domains(vhost) {
            let host = domain.to_ascii_lowercase();
            let problem = if domain == "*" {
                star = true;
                None
            } else if domain.ends_with(".*") || (domain.contains('*') && !domain.starts_with("*.")) {
                Some(format!("domain '{domain}': routegen has no prefix wildcards"))
            } else if !is_service_host(&host) {
                Some(format!("domain '{domain}' is not a host name"))
            } else {
                if !hosts.contains(&host) {
                    hosts.push(host);
                }
                None
            };
            if let Some(problem) = problem {
                unsupported(&at, &problem, options, &mut warnings)?;
            }
        }
        if star || !hosts.is_empty() {
            count += routes.len();
        }
        if star {
            top.extend(routes.iter().cloned());
        }
        if !hosts.is_empty() {
            if has_catch_all {
                routes.push(json!({"name": NO_ROUTE, "path_prefix": "/"}));
            }
            services.push(json!({"hosts": hosts, "routes": routes}));
        }
    }
    let mut extra = vec![(
        "normalize".to_string(),
        json!({"decode_unreserved": false, "merge_slashes": false, "remove_dot_segments": false, "ignore_trailing_slash": false}),
    )];
    if !services.is_empty() {
        extra.push(("services".to_string(), Value::Array(services)));
    }
    if count == 0 {
        return Err(ImportError::Invalid("no route routegen can express in the route configuration".into()));
    }
    Ok(Imported::new(
        top,
        extra,
        warnings,
        format!("imported {count} routes of {} virtual hosts (route configuration '{}')", vhosts.len(), chosen.0),
    ))
}

fn domains(vhost: &Value) -> Vec<String> {
    vhost
        .get("domains")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn unsupported(
    at: &str,
    reason: &str,
    options: &EnvoyOptions,
    warnings: &mut Vec<String>,
) -> std::result::Result<(), ImportError> {
    let message = format!("{at}: {reason}");
    if options.skip_unsupported {
        warnings.push(format!("{message} (left out)"));
        Ok(())
    } else {
        Err(ImportError::Invalid(format!("{message} (--skip-unsupported leaves such routes out)")))
    }
}

/// The `match` fields routegen expresses; any other (runtime fractions, `grpc`, `tls_context`,
/// dynamic metadata, filter state, CEL) makes the route unsupported.
const MATCH_FIELDS: [&str; 8] = [
    "prefix",
    "path",
    "safe_regex",
    "path_separated_prefix",
    "path_match_policy",
    "case_sensitive",
    "headers",
    "query_parameters",
];

/// One Envoy route as a native route.
fn convert(route: &Value, name: &str) -> std::result::Result<Value, String> {
    let m = route.get("match").and_then(Value::as_object).ok_or("no match")?;
    if let Some(key) = m.keys().find(|k| !MATCH_FIELDS.contains(&k.as_str())) {
        return Err(format!("match.{key} cannot be expressed"));
    }
    let mut native = Map::new();
    native.insert("name".into(), json!(name));
    let insensitive = m.get("case_sensitive").and_then(Value::as_bool) == Some(false);
    let text = |key: &str| m.get(key).and_then(Value::as_str);
    if let Some(prefix) = text("prefix") {
        if insensitive {
            native.insert("path_regex".into(), json!(format!("(?i){}.*", quote_regex(prefix))));
        } else if !prefix.is_empty() {
            native.insert("path_prefix".into(), json!(prefix));
        }
    } else if let Some(path) = text("path") {
        if insensitive {
            native.insert("path_regex".into(), json!(format!("(?i){}", quote_regex(path))));
        } else {
            native.insert("path_exact".into(), json!(path));
        }
    } else if let Some(regex) = m.get("safe_regex").and_then(|r| r.get("regex")).and_then(Value::as_str) {
        native.insert("path_regex".into(), json!(regex));
    } else if let Some(prefix) = text("path_separated_prefix") {
        let flags = if insensitive { "(?i)" } else { "" };
        native.insert("path_regex".into(), json!(format!("{flags}{}(/.*)?", quote_regex(prefix))));
    } else if let Some(policy) = m.get("path_match_policy") {
        let template = policy
            .pointer("/typed_config/path_template")
            .and_then(Value::as_str)
            .ok_or("match.path_match_policy: only envoy.path.match.uri_template's path_template")?;
        if insensitive {
            return Err("case_sensitive: false with a uri_template".into());
        }
        native.insert("path".into(), json!(template));
    } else {
        return Err("match: no path specifier routegen knows".into());
    }
    let mut headers = Vec::new();
    for (i, h) in m.get("headers").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let at = format!("match.headers[{i}]");
        let hname = h.get("name").and_then(Value::as_str).ok_or(format!("{at}.name required"))?;
        let invert = h.get("invert_match").and_then(Value::as_bool) == Some(true);
        if hname == ":method" && !invert {
            if let Some(method) =
                h.pointer("/string_match/exact").or_else(|| h.get("exact_match")).and_then(Value::as_str)
            {
                native.insert("method".into(), json!(method));
                continue;
            }
        }
        let mut condition = string_condition(h, &at)?;
        if invert {
            condition = match condition.get("present") {
                Some(Value::Bool(p)) => json!({"present": !p}),
                _ => return Err(format!("{at}.invert_match of a value matcher cannot be expressed")),
            };
        }
        headers.push(named(hname, condition));
    }
    if !headers.is_empty() {
        native.insert("headers".into(), Value::Array(headers));
    }
    let mut query = Vec::new();
    for (i, q) in m.get("query_parameters").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let at = format!("match.query_parameters[{i}]");
        let qname = q.get("name").and_then(Value::as_str).ok_or(format!("{at}.name required"))?;
        query.push(named(qname, string_condition(q, &at)?));
    }
    if !query.is_empty() {
        native.insert("query".into(), Value::Array(query));
    }
    Ok(Value::Object(native))
}

/// A header or query matcher's value rule as a native condition (without its name).
fn string_condition(h: &Value, at: &str) -> std::result::Result<Value, String> {
    if let Some(present) = h.get("present_match").and_then(Value::as_bool) {
        return Ok(json!({"present": present}));
    }
    let sm = match h.get("string_match") {
        Some(sm) => sm.clone(),
        // The deprecated direct fields.
        None => match (h.get("exact_match"), h.get("prefix_match"), h.get("safe_regex_match")) {
            (Some(v), _, _) => json!({"exact": v}),
            (_, Some(v), _) => json!({"prefix": v}),
            (_, _, Some(v)) => json!({"safe_regex": v}),
            _ => return Ok(json!({"present": true})),
        },
    };
    let ignore_case = sm.get("ignore_case").and_then(Value::as_bool) == Some(true);
    let s = |k: &str| sm.get(k).and_then(Value::as_str);
    let regex = |pattern: String| json!({"regex": if ignore_case { format!("(?i){pattern}") } else { pattern }});
    Ok(match (s("exact"), s("prefix"), s("suffix"), s("contains")) {
        (Some(v), ..) if !ignore_case => json!({"exact": v}),
        (Some(v), ..) => regex(quote_regex(v)),
        (_, Some(v), ..) if !ignore_case => json!({"prefix": v}),
        (_, Some(v), ..) => regex(format!("{}.*", quote_regex(v))),
        (_, _, Some(v), _) => regex(format!(".*{}", quote_regex(v))),
        (_, _, _, Some(v)) => regex(format!(".*{}.*", quote_regex(v))),
        _ => match sm.pointer("/safe_regex/regex").and_then(Value::as_str) {
            Some(r) => regex(r.to_string()),
            None => return Err(format!("{at}: a string matcher routegen cannot express")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use routegen_core::config;

    fn import(doc: Value, skip: bool) -> std::result::Result<Imported, ImportError> {
        envoy_routes(&doc, &EnvoyOptions { route_config: None, skip_unsupported: skip })
    }

    #[test]
    fn routes_and_hosts() {
        let doc = json!({"virtual_hosts": [
            {"name": "books", "domains": ["books", "books:8080"], "routes": [
                {"name": "get-book", "match": {"path_match_policy": {"name": "envoy.path.match.uri_template",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig",
                    "path_template": "/books/{id}"}}, "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]}},
                {"match": {"prefix": "/", "headers": [{"name": "x-a", "string_match": {"suffix": ".json"}}]}}
            ]},
            {"name": "rest", "domains": ["*"], "routes": [{"name": "all", "match": {"prefix": "/"}}]}
        ]});
        let imported = import(doc, false).unwrap();
        let text = serde_json::to_string(&imported.document(&Default::default())).unwrap();
        assert!(text.contains(r#""method":"GET""#) && text.contains(r#""path":"/books/{id}""#), "{text}");
        assert!(text.contains(r#""name":"books/1""#), "unnamed routes: <vhost>/<index>: {text}");
        assert!(text.contains(r#""regex":".*\\.json""#), "{text}");
        assert!(text.contains(NO_ROUTE), "{text}");
        assert!(config::parse(text.as_bytes()).is_ok(), "{text}");
    }

    #[test]
    fn unsupported_matches_name_the_route() {
        let doc = json!({"virtual_hosts": [{"name": "v", "domains": ["*"], "routes": [
            {"name": "ok", "match": {"prefix": "/"}},
            {"name": "rt", "match": {"prefix": "/", "runtime_fraction": {}}}
        ]}]});
        let e = import(doc.clone(), false).unwrap_err().to_string();
        assert!(
            e.starts_with("virtual_hosts[0] 'v'.routes[1] 'rt': match.runtime_fraction cannot be expressed"),
            "{e}"
        );
        let imported = import(doc, true).unwrap();
        assert_eq!(imported.routes.len(), 1);
        assert!(imported.warnings[0].ends_with("(left out)"));
    }

    #[test]
    fn picks_the_route_configuration() {
        let bootstrap = json!({"static_resources": {"listeners": [
            {"filter_chains": [{"filters": [{"typed_config": {"route_config": {"name": "a", "virtual_hosts": []}}}]}]},
            {"filter_chains": [{"filters": [{"typed_config": {"route_config": {"name": "b", "virtual_hosts": [
                {"name": "v", "domains": ["*"], "routes": [{"name": "r", "match": {"path": "/x"}}]}]}}}]}]}
        ]}});
        assert!(import(bootstrap.clone(), false).unwrap_err().to_string().contains("--route-config"));
        let options = EnvoyOptions { route_config: Some("b".into()), skip_unsupported: false };
        assert_eq!(envoy_routes(&bootstrap, &options).unwrap().routes, vec![json!({"name": "r", "path_exact": "/x"})]);
    }
}
