//! routegen's native configuration format.
//!
//! ```json
//! {
//!   "output_attribute": "istio_operationId",
//!   "default": "[DEFAULT]",
//!   "routes": [
//!     "GET /books/{id}",
//!     {"name": "list", "method": ["GET", "HEAD"], "path_prefix": "/books", "headers": {"x-api": "2"}}
//!   ],
//!   "services": [{"hosts": ["books", "books.default.svc.cluster.local"], "routes": ["GET /"]}]
//! }
//! ```
//! Unknown fields are errors: a misspelt `path_regx` must not silently match every request.

use super::document::{Json as Value, Object};
use super::{
    check_attribute_name, each, expect_array, expect_bool, expect_object, expect_str, join, kind, reject_unknown,
    ConfigError, MAX_ROUTES,
};
use crate::auto::AutoConfig;
use crate::metrics::{MetricNames, MetricsConfig, StatusLabel, StatusRange};
use crate::normalize::NormalizeOptions;
use crate::route::{build_regex_with_limit, MethodSet, PathMatch, PathRegex, RouteSpec, ValueMatch, ValueRule};
use crate::template::Template;

pub const DEFAULT_OUTPUT_ATTRIBUTE: &str = "istio_operationId";

#[derive(Debug)]
pub struct NativeConfig {
    pub output_attribute: String,
    /// Name for requests no route matches; `None` leaves the attribute unset.
    pub default: Option<String>,
    pub debug: bool,
    pub normalize: NormalizeOptions,
    /// The fallback table, used for every host (after a matching service's own routes).
    pub routes: Vec<RouteSpec>,
    pub services: Vec<ServiceSpec>,
    pub metrics: MetricsConfig,
    pub limits: Limits,
    /// Auto names for requests no route matches (`"auto": {}`; off when absent).
    pub auto: Option<AutoConfig>,
}

/// Resource caps (`limits` in the config). The config is trusted, but a typo'd generator or a
/// pasted spec should fail loudly at config time, and request data must never make matching
/// expensive: regex-lite matches in linear time, and paths past `max_path_bytes` are not
/// examined at all (they get the default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_routes: usize,
    /// Compiled size cap per regex (regex-lite's program size, bytes).
    pub max_regex_bytes: usize,
    pub max_path_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_routes: MAX_ROUTES, max_regex_bytes: crate::route::REGEX_SIZE_LIMIT, max_path_bytes: 8192 }
    }
}

/// Routes scoped to requests whose `:authority` is one of `hosts`.
#[derive(Debug)]
pub struct ServiceSpec {
    /// Lower-case; with a port (`books:8080`) it matches that port only.
    pub hosts: Vec<String>,
    pub routes: Vec<RouteSpec>,
    /// Overrides the top-level `default` for this service.
    pub default: Option<String>,
}

pub(super) const TOP_FIELDS: &[&str] =
    &["output_attribute", "default", "debug", "normalize", "routes", "services", "metrics", "limits", "auto"];
const AUTO_FIELDS: &[&str] = &["max_names", "overflow", "fanout", "max_depth"];
const LIMITS_FIELDS: &[&str] = &["max_routes", "max_regex_bytes", "max_path_bytes"];
const METRICS_FIELDS: &[&str] = &["enabled", "status_label", "prefix", "names"];
const SERVICE_FIELDS: &[&str] = &["hosts", "routes", "default"];
const ROUTE_FIELDS: &[&str] =
    &["name", "method", "path", "path_prefix", "path_exact", "path_regex", "headers", "query", "failure_classes"];
const NORMALIZE_FIELDS: &[&str] =
    &["decode_unreserved", "merge_slashes", "remove_dot_segments", "ignore_trailing_slash", "case_insensitive"];
const VALUE_FIELDS: &[&str] = &["name", "exact", "prefix", "regex", "present", "absent"];

pub fn parse(object: &Object) -> Result<NativeConfig, ConfigError> {
    reject_unknown(object, "", TOP_FIELDS)?;
    let output_attribute = match object.get("output_attribute") {
        Some(value) => expect_str(value, "output_attribute")?.to_string(),
        None => DEFAULT_OUTPUT_ATTRIBUTE.to_string(),
    };
    check_attribute_name(&output_attribute, "output_attribute")?;
    let default = optional_name(object.get("default"), "default")?;
    let debug = match object.get("debug") {
        Some(value) => expect_bool(value, "debug")?,
        None => false,
    };
    let normalize = match object.get("normalize") {
        Some(value) => parse_normalize(value)?,
        None => NormalizeOptions::default(),
    };
    let limits = match object.get("limits") {
        Some(value) => parse_limits(value)?,
        None => Limits::default(),
    };
    let routes = match object.get("routes") {
        Some(value) => parse_routes_with(value, "routes", &normalize, &limits)?,
        None => Vec::new(),
    };
    let services = match object.get("services") {
        Some(value) => parse_services(value, &normalize, &limits)?,
        None => Vec::new(),
    };
    let metrics = match object.get("metrics") {
        Some(value) => parse_metrics(value)?,
        None => MetricsConfig::default(),
    };
    let auto = match object.get("auto") {
        Some(value) => Some(parse_auto(value)?),
        None => None,
    };
    let total = routes.len() + services.iter().map(|s| s.routes.len()).sum::<usize>();
    if total > limits.max_routes {
        return Err(ConfigError::new(
            "routes",
            format!("{total} routes is more than limits.max_routes ({})", limits.max_routes),
        ));
    }
    if total == 0 && default.is_none() && auto.is_none() {
        return Err(ConfigError::new(
            "routes",
            "no routes, no default and no auto: this configuration would never set anything",
        ));
    }
    Ok(NativeConfig { output_attribute, default, debug, normalize, routes, services, metrics, limits, auto })
}

fn parse_auto(value: &Value) -> Result<AutoConfig, ConfigError> {
    let object = match value {
        Value::Object(object) => object,
        other => {
            return Err(ConfigError::new(
                "auto",
                format!("expected an object ({{}} for the defaults), found {}", kind(other)),
            ))
        }
    };
    reject_unknown(object, "auto", AUTO_FIELDS)?;
    let mut auto = AutoConfig::default();
    let number = |key: &str, range: std::ops::RangeInclusive<u64>| -> Result<Option<u64>, ConfigError> {
        let Some(value) = object.get(key) else { return Ok(None) };
        let field = join("auto", key);
        match value.as_u64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ConfigError::new(field, format!("expected an integer from {} to {}", range.start(), range.end()))),
        }
    };
    if let Some(n) = number("max_names", 1..=100_000)? {
        auto.max_names = n as u32;
    }
    if let Some(n) = number("fanout", 3..=1000)? {
        auto.fanout = n as u32;
    }
    if let Some(n) = number("max_depth", 1..=32)? {
        auto.max_depth = n as usize;
    }
    if let Some(value) = object.get("overflow") {
        let name = expect_str(value, "auto.overflow")?;
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            return Err(ConfigError::new("auto.overflow", "a name of 1 to 128 characters, no control characters"));
        }
        auto.overflow = name.to_string();
    }
    Ok(auto)
}

fn parse_limits(value: &Value) -> Result<Limits, ConfigError> {
    let object = expect_object(value, "limits")?;
    reject_unknown(object, "limits", LIMITS_FIELDS)?;
    let mut limits = Limits::default();
    for (key, value) in object.iter() {
        let field = join("limits", key);
        let n = value
            .as_u64()
            .filter(|&n| n > 0)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| ConfigError::new(&field, "expected a positive integer"))?;
        match key {
            "max_routes" => limits.max_routes = n,
            "max_regex_bytes" => limits.max_regex_bytes = n,
            _ => limits.max_path_bytes = n,
        }
    }
    Ok(limits)
}

fn parse_metrics(value: &Value) -> Result<MetricsConfig, ConfigError> {
    let object = expect_object(value, "metrics")?;
    reject_unknown(object, "metrics", METRICS_FIELDS)?;
    let mut metrics = MetricsConfig::default();
    if let Some(value) = object.get("enabled") {
        metrics.enabled = expect_bool(value, "metrics.enabled")?;
    }
    if let Some(value) = object.get("status_label") {
        metrics.status_label = match expect_str(value, "metrics.status_label")? {
            "code" => StatusLabel::Code,
            "class" => StatusLabel::Class,
            "none" => StatusLabel::None,
            other => {
                return Err(ConfigError::new(
                    "metrics.status_label",
                    format!("'{other}': expected \"code\", \"class\" or \"none\""),
                ))
            }
        };
    }
    if let Some(value) = object.get("prefix") {
        let prefix = expect_str(value, "metrics.prefix")?;
        if prefix.is_empty()
            || !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            || prefix.as_bytes()[0].is_ascii_digit()
        {
            return Err(ConfigError::new(
                "metrics.prefix",
                "a Prometheus name: letters, digits and '_', not starting with a digit",
            ));
        }
        metrics.prefix = prefix.to_string();
    }
    if let Some(value) = object.get("names") {
        metrics.names = match expect_str(value, "metrics.names")? {
            "routegen" => MetricNames::Routegen,
            "linkerd" => MetricNames::Linkerd,
            other => {
                return Err(ConfigError::new(
                    "metrics.names",
                    format!("'{other}': expected \"routegen\" (the filter's own names) or \"linkerd\" (Linkerd's route metrics)"),
                ))
            }
        };
    }
    Ok(metrics)
}

fn parse_failure_classes(value: &Value, field: &str) -> Result<Vec<StatusRange>, ConfigError> {
    each(value, field, |entry, entry_field| {
        let text = match entry {
            Value::Number(_) => entry.as_u64().map(|n| n.to_string()).unwrap_or_default(),
            other => expect_str(other, entry_field)?.to_string(),
        };
        StatusRange::parse(&text).map_err(|reason| ConfigError::new(entry_field, reason))
    })
}

fn optional_name(value: Option<&Value>, field: &str) -> Result<Option<String>, ConfigError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => {
            let name = expect_str(value, field)?;
            if name.is_empty() {
                return Err(ConfigError::new(field, "must not be empty (omit it to leave the attribute unset)"));
            }
            Ok(Some(name.to_string()))
        }
    }
}

fn parse_normalize(value: &Value) -> Result<NormalizeOptions, ConfigError> {
    let object = expect_object(value, "normalize")?;
    reject_unknown(object, "normalize", NORMALIZE_FIELDS)?;
    let mut options = NormalizeOptions::default();
    for (key, value) in object.iter() {
        let flag = expect_bool(value, &join("normalize", key))?;
        match key {
            "decode_unreserved" => options.decode_unreserved = flag,
            "merge_slashes" => options.merge_slashes = flag,
            "remove_dot_segments" => options.remove_dot_segments = flag,
            "ignore_trailing_slash" => options.ignore_trailing_slash = flag,
            _ => options.case_insensitive = flag,
        }
    }
    Ok(options)
}

fn parse_services(
    value: &Value,
    normalize: &NormalizeOptions,
    limits: &Limits,
) -> Result<Vec<ServiceSpec>, ConfigError> {
    let mut services: Vec<ServiceSpec> = Vec::new();
    for (i, entry) in expect_array(value, "services")?.iter().enumerate() {
        let field = format!("services[{i}]");
        let object = expect_object(entry, &field)?;
        reject_unknown(object, &field, SERVICE_FIELDS)?;
        let hosts_field = join(&field, "hosts");
        let hosts_value = object.get("hosts").ok_or_else(|| ConfigError::new(&hosts_field, "required"))?;
        let mut hosts = Vec::new();
        for (h, host) in expect_array(hosts_value, &hosts_field)?.iter().enumerate() {
            let host_field = format!("{hosts_field}[{h}]");
            let host = expect_str(host, &host_field)?.to_ascii_lowercase();
            if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
                return Err(ConfigError::new(host_field, "expected a host name, optionally with ':port'"));
            }
            if let Some(earlier) = services.iter().position(|s| s.hosts.contains(&host)) {
                return Err(ConfigError::new(host_field, format!("'{host}' is already listed by services[{earlier}]")));
            }
            if hosts.contains(&host) {
                return Err(ConfigError::new(host_field, format!("'{host}' is listed twice")));
            }
            hosts.push(host);
        }
        if hosts.is_empty() {
            return Err(ConfigError::new(hosts_field, "list at least one host"));
        }
        let routes = match object.get("routes") {
            Some(value) => parse_routes_with(value, &join(&field, "routes"), normalize, limits)?,
            None => Vec::new(),
        };
        let default = optional_name(object.get("default"), &join(&field, "default"))?;
        services.push(ServiceSpec { hosts, routes, default });
    }
    Ok(services)
}

fn parse_routes_with(
    value: &Value,
    field: &str,
    normalize: &NormalizeOptions,
    limits: &Limits,
) -> Result<Vec<RouteSpec>, ConfigError> {
    each(value, field, |entry, entry_field| parse_route(entry, entry_field, normalize, limits))
}

fn parse_route(
    value: &Value,
    field: &str,
    normalize: &NormalizeOptions,
    limits: &Limits,
) -> Result<RouteSpec, ConfigError> {
    match value {
        Value::String(text) => parse_shorthand(text, normalize).map_err(|reason| ConfigError::new(field, reason)),
        Value::Object(object) => parse_route_object(object, field, normalize, limits),
        other => Err(ConfigError::new(
            field,
            format!("expected a string like \"GET /books/{{id}}\" or an object, found {}", kind(other)),
        )),
    }
}

/// `"GET /books/{id}"`, `"GET|HEAD /books"`, `"* /health"` or just `"/health"`; the route's
/// name is the string itself.
pub fn parse_shorthand(text: &str, normalize: &NormalizeOptions) -> Result<RouteSpec, String> {
    let trimmed = text.trim();
    let (methods, path) = match trimmed.split_once(char::is_whitespace) {
        Some((method, path)) => (parse_method_token(method)?, path.trim()),
        None => (MethodSet::any(), trimmed),
    };
    if !path.starts_with('/') {
        return Err(format!("'{text}': expected \"METHOD /path/template\" or \"/path/template\""));
    }
    let path = template_path(path, normalize).map_err(|e| format!("'{text}': {e}"))?;
    Ok(RouteSpec {
        name: text.to_string(),
        methods,
        path,
        headers: Vec::new(),
        query: Vec::new(),
        failure_classes: None,
    })
}

fn parse_method_token(token: &str) -> Result<MethodSet, String> {
    if token == "*" {
        return Ok(MethodSet::any());
    }
    let methods: Vec<&str> = token.split(['|', ',']).collect();
    for method in &methods {
        check_method(method)?;
    }
    Ok(MethodSet::only(&methods))
}

/// Methods are tokens (RFC 9110); we insist on upper case, as every client sends them.
fn check_method(method: &str) -> Result<(), String> {
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_') {
        return Err(format!("'{method}' is not a method (expected upper case, like GET)"));
    }
    Ok(())
}

/// Route literals get the same normalisation as request paths, so `/a//b/` or `/%7Euser`
/// in a config still match the requests they were written for.
fn normalized_text(text: &str, options: &NormalizeOptions) -> String {
    String::from_utf8_lossy(&crate::normalize::normalize(text.as_bytes(), options)).into_owned()
}

fn template_path(text: &str, normalize: &NormalizeOptions) -> Result<PathMatch, String> {
    let template = Template::parse(&normalized_text(text, normalize)).map_err(|e| e.to_string())?;
    Ok(PathMatch::Template(template))
}

fn parse_route_object(
    object: &Object,
    field: &str,
    normalize: &NormalizeOptions,
    limits: &Limits,
) -> Result<RouteSpec, ConfigError> {
    reject_unknown(object, field, ROUTE_FIELDS)?;
    let name_field = join(field, "name");
    let name = match object.get("name") {
        Some(value) => expect_str(value, &name_field)?.to_string(),
        None => return Err(ConfigError::new(name_field, "required (the route name that metrics will show)")),
    };
    if name.is_empty() {
        return Err(ConfigError::new(name_field, "must not be empty"));
    }
    let methods = match object.get("method") {
        None => MethodSet::any(),
        Some(value) => parse_methods(value, &join(field, "method"))?,
    };
    let path_fields: Vec<&str> =
        ["path", "path_prefix", "path_exact", "path_regex"].into_iter().filter(|k| object.contains_key(k)).collect();
    if path_fields.len() > 1 {
        return Err(ConfigError::new(
            field,
            format!("give one of path, path_prefix, path_exact, path_regex (found {})", path_fields.join(" and ")),
        ));
    }
    let path = match path_fields.first() {
        None => PathMatch::Any,
        Some(&key) => {
            let key_field = join(field, key);
            let text = object
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| ConfigError::new(&key_field, "expected a string"))?;
            parse_path(key, text, normalize, limits).map_err(|reason| ConfigError::new(key_field, reason))?
        }
    };
    let headers = match object.get("headers") {
        None => Vec::new(),
        Some(value) => parse_values(Source::Header, value, &join(field, "headers"), limits)?,
    };
    let query = match object.get("query") {
        None => Vec::new(),
        Some(value) => parse_values(Source::Query, value, &join(field, "query"), limits)?,
    };
    let failure_classes = match object.get("failure_classes") {
        None => None,
        Some(value) => Some(parse_failure_classes(value, &join(field, "failure_classes"))?),
    };
    Ok(RouteSpec { name, methods, path, headers, query, failure_classes })
}

fn parse_path(key: &str, text: &str, normalize: &NormalizeOptions, limits: &Limits) -> Result<PathMatch, String> {
    if key != "path_regex" && !text.starts_with('/') {
        return Err("must start with '/'".to_string());
    }
    match key {
        "path" => template_path(text, normalize),
        "path_prefix" => {
            // A prefix keeps its trailing slash (`/api/` must not match `/apiary`); when
            // requests lose theirs, `/api/` still covers the directory `/api` itself.
            let options = NormalizeOptions { ignore_trailing_slash: false, ..normalize.clone() };
            let prefix = crate::normalize::normalize(text.as_bytes(), &options).into_owned();
            if normalize.ignore_trailing_slash && prefix.len() > 1 && prefix.ends_with(b"/") {
                Ok(PathMatch::DirPrefix(prefix))
            } else {
                Ok(PathMatch::Prefix(prefix))
            }
        }
        "path_exact" => Ok(PathMatch::Exact(crate::normalize::normalize(text.as_bytes(), normalize).into_owned())),
        _ => {
            // Requests lose their trailing slash before matching, so such a regex never matches.
            if normalize.ignore_trailing_slash && (text.ends_with('/') || text.ends_with("/$")) && text.len() > 1 {
                return Err(format!(
                    "'{text}' ends in '/', but trailing slashes are removed before matching \
                     (normalize.ignore_trailing_slash): end it with '/?' or drop the slash"
                ));
            }
            PathRegex::with_limit(text, true, normalize.case_insensitive, limits.max_regex_bytes)
                .map(|regex| PathMatch::Regex(Box::new(regex)))
        }
    }
}

fn parse_methods(value: &Value, field: &str) -> Result<MethodSet, ConfigError> {
    let single = |value: &Value, field: &str| -> Result<String, ConfigError> {
        let method = expect_str(value, field)?;
        check_method(method).map_err(|reason| ConfigError::new(field, reason))?;
        Ok(method.to_string())
    };
    match value {
        Value::String(s) if s == "*" => Ok(MethodSet::any()),
        Value::String(_) => Ok(MethodSet(Some(vec![single(value, field)?]))),
        Value::Array(list) if !list.is_empty() => Ok(MethodSet(Some(each(value, field, single)?))),
        Value::Array(_) => Err(ConfigError::new(field, "empty list (omit 'method' to allow any method)")),
        other => {
            Err(ConfigError::new(field, format!("expected \"GET\" or [\"GET\", \"HEAD\"], found {}", kind(other))))
        }
    }
}

/// Where a `headers` or `query` condition looks.
#[derive(Clone, Copy)]
enum Source {
    Header,
    Query,
}

/// `{"x-api-version": "2"}` (exact values) or a list of `{name, exact|prefix|regex|present|absent}`:
/// the same for `headers` and `query`.
fn parse_values(source: Source, value: &Value, field: &str, limits: &Limits) -> Result<Vec<ValueMatch>, ConfigError> {
    match value {
        Value::Object(map) => {
            let mut conditions = Vec::new();
            for (name, v) in map.iter() {
                let value = expect_str(v, &join(field, name))?;
                conditions.push(ValueMatch {
                    name: value_name(source, name, field)?,
                    rule: ValueRule::Exact(value.to_string()),
                });
            }
            Ok(conditions)
        }
        Value::Array(_) => each(value, field, |v, item_field| parse_value(source, v, item_field, limits)),
        other => Err(ConfigError::new(field, format!("expected an object or an array, found {}", kind(other)))),
    }
}

/// Header names are compared lower-case; query parameter names as sent.
fn value_name(source: Source, name: &str, field: &str) -> Result<String, ConfigError> {
    if name.is_empty() || name.bytes().any(|b| b <= b' ' || b >= 0x7f) {
        let what = match source {
            Source::Header => "a header name",
            Source::Query => "a query parameter name (printable ASCII, as sent: percent-encoded)",
        };
        return Err(ConfigError::new(field, format!("'{name}' is not {what}")));
    }
    Ok(match source {
        Source::Header => name.to_ascii_lowercase(),
        Source::Query => name.to_string(),
    })
}

fn parse_value(source: Source, value: &Value, field: &str, limits: &Limits) -> Result<ValueMatch, ConfigError> {
    let object = expect_object(value, field)?;
    reject_unknown(object, field, VALUE_FIELDS)?;
    let name_field = join(field, "name");
    let name = expect_str(object.get("name").ok_or_else(|| ConfigError::new(&name_field, "required"))?, &name_field)?;
    let name = value_name(source, name, &name_field)?;
    let rules: Vec<&str> =
        ["exact", "prefix", "regex", "present", "absent"].into_iter().filter(|k| object.contains_key(k)).collect();
    let rule = match rules.as_slice() {
        [] => ValueRule::Present,
        [key] => {
            let key_field = join(field, key);
            let value = object.get(key).unwrap_or(&Value::Null);
            match *key {
                "exact" => ValueRule::Exact(expect_str(value, &key_field)?.to_string()),
                "prefix" => ValueRule::Prefix(expect_str(value, &key_field)?.to_string()),
                "regex" => {
                    let pattern = format!("^(?:{})$", expect_str(value, &key_field)?);
                    ValueRule::Regex(
                        build_regex_with_limit(&pattern, limits.max_regex_bytes)
                            .map_err(|reason| ConfigError::new(&key_field, reason))?,
                    )
                }
                "present" if expect_bool(value, &key_field)? => ValueRule::Present,
                "present" => ValueRule::Absent,
                _ if expect_bool(value, &key_field)? => ValueRule::Absent,
                _ => ValueRule::Present,
            }
        }
        many => {
            return Err(ConfigError::new(
                field,
                format!("give one of exact, prefix, regex, present, absent (found {})", many.join(" and ")),
            ))
        }
    };
    Ok(ValueMatch { name, rule })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse as parse_config, Config};

    fn native(json: &str) -> NativeConfig {
        match parse_config(json.as_bytes()).unwrap() {
            Config::Native(config) => config,
            Config::Attributegen(_) => panic!("not native"),
        }
    }

    fn error(json: &str) -> String {
        parse_config(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn query_conditions() {
        let config = native(
            r#"{"routes": [
                {"name": "a", "path": "/s", "query": {"v": "2"}},
                {"name": "b", "query": [{"name": "id", "regex": "[0-9]+"}, {"name": "debug", "present": true}, {"name": "x"}]}
            ]}"#,
        );
        assert!(matches!(&config.routes[0].query[0].rule, ValueRule::Exact(v) if v == "2"));
        assert!(matches!(config.routes[1].query[0].rule, ValueRule::Regex(_)));
        assert!(matches!(config.routes[1].query[1].rule, ValueRule::Present));
        assert!(matches!(config.routes[1].query[2].rule, ValueRule::Present));
        assert!(config.routes[1].query[0].matches(Some(b"12")) && !config.routes[1].query[0].matches(Some(b"12x")));
        let case = native(r#"{"routes": [{"name": "a", "query": {"Page": "2"}}]}"#);
        assert_eq!(case.routes[0].query[0].name, "Page", "query names keep their case");
        assert_eq!(
            error(r#"{"routes": [{"name": "x", "query": [{"name": "v", "exact": "1", "regex": "1"}]}]}"#),
            "routes[0].query[0]: give one of exact, prefix, regex, present, absent (found exact and regex)"
        );
        assert!(error(r#"{"routes": [{"name": "x", "query": [{"name": "v", "suffix": "1"}]}]}"#)
            .starts_with("routes[0].query[0].suffix: unknown field"));
        assert!(error(r#"{"routes": [{"name": "x", "query": "v=2"}]}"#)
            .starts_with("routes[0].query: expected an object or an array"));
        assert!(error(r#"{"routes": [{"name": "x", "query": {"": "2"}}]}"#).contains("is not a query parameter name"));
        assert!(error(r#"{"routes": [{"name": "x", "query": [{"name": "v", "regex": "("}]}]}"#)
            .starts_with("routes[0].query[0].regex: invalid regex"));
    }

    #[test]
    fn shorthand_routes() {
        let config = native(r#"{"routes": ["GET /books/{id}", "/health", "* /x", "GET|HEAD /y"]}"#);
        assert_eq!(config.output_attribute, "istio_operationId");
        assert_eq!(config.default, None);
        let r = &config.routes;
        assert_eq!(r[0].name, "GET /books/{id}");
        assert_eq!(r[0].methods, MethodSet::only(&["GET"]));
        assert!(matches!(r[0].path, PathMatch::Template(_)));
        assert!(r[1].methods.is_any() && r[2].methods.is_any());
        assert_eq!(r[3].methods, MethodSet::only(&["GET", "HEAD"]));
    }

    #[test]
    fn object_routes() {
        let config = native(
            r#"{"default": "[DEFAULT]", "output_attribute": "route", "debug": true, "routes": [
                {"name": "a", "method": ["GET", "HEAD"], "path_prefix": "/a"},
                {"name": "b", "path_exact": "/b"},
                {"name": "c", "path_regex": "/c/[0-9]+", "headers": {"X-Api": "2"}},
                {"name": "d", "method": "*", "headers": [{"name": "x", "prefix": "v"}, {"name": "y", "absent": true}, {"name": "z"}]}
            ]}"#,
        );
        assert_eq!(config.default.as_deref(), Some("[DEFAULT]"));
        assert_eq!(config.output_attribute, "route");
        assert!(config.debug);
        assert!(matches!(&config.routes[0].path, PathMatch::Prefix(p) if p == b"/a"));
        assert!(matches!(&config.routes[1].path, PathMatch::Exact(p) if p == b"/b"));
        assert!(matches!(&config.routes[2].path, PathMatch::Regex(r) if r.is_match(b"/c/1") && !r.is_match(b"/c/1/x")));
        assert_eq!(config.routes[2].headers[0].name, "x-api");
        assert!(config.routes[3].methods.is_any());
        assert!(matches!(config.routes[3].path, PathMatch::Any));
        assert!(matches!(config.routes[3].headers[1].rule, ValueRule::Absent));
        assert!(matches!(config.routes[3].headers[2].rule, ValueRule::Present));
    }

    #[test]
    fn services() {
        let config =
            native(r#"{"services": [{"hosts": ["Books", "books:8080"], "routes": ["/"], "default": "books-other"}]}"#);
        assert_eq!(config.services[0].hosts, vec!["books", "books:8080"]);
        assert_eq!(config.services[0].default.as_deref(), Some("books-other"));
    }

    #[test]
    fn errors_carry_field_paths() {
        assert_eq!(
            error(r#"{"routes": ["GET /a", {"name": "x", "path": "/books/{id"}]}"#),
            "routes[1].path: unclosed '{' (at byte 7)"
        );
        assert_eq!(
            error(r#"{"routes": ["GET books"]}"#),
            "routes[0]: 'GET books': expected \"METHOD /path/template\" or \"/path/template\""
        );
        assert!(error(r#"{"routes": [{"name": "x", "path_regx": "/a"}]}"#)
            .starts_with("routes[0].path_regx: unknown field"));
        assert!(error(r#"{"rutes": []}"#).starts_with("rutes: unknown field"));
        assert_eq!(
            error(r#"{"routes": [{"path": "/a"}]}"#),
            "routes[0].name: required (the route name that metrics will show)"
        );
        assert!(error(r#"{"routes": [{"name": "x", "path": "/a", "path_prefix": "/b"}]}"#).contains("give one of path"));
        assert!(error(r#"{"routes": [{"name": "x", "path_regex": "("}]}"#)
            .starts_with("routes[0].path_regex: invalid regex"));
        assert!(error(r#"{"routes": [{"name": "x", "method": "get"}]}"#)
            .starts_with("routes[0].method: 'get' is not a method"));
        assert!(error(r#"{"routes": [{"name": "x", "method": []}]}"#).contains("empty list"));
        assert!(error(r#"{"routes": [{"name": "x", "path_prefix": "a"}]}"#).contains("must start with '/'"));
        assert!(error(r#"{"routes": [3]}"#).starts_with("routes[0]: expected a string like"));
        assert_eq!(error(r#"{"routes": "GET /"}"#), "routes: expected an array, found a string");
        assert!(error(r#"{"services": [{"hosts": ["a"]}, {"hosts": ["b", "A"]}]}"#)
            .starts_with("services[1].hosts[1]: 'a' is already listed by services[0]"));
        assert_eq!(error(r#"{"services": [{"hosts": []}]}"#), "services[0].hosts: list at least one host");
        assert!(error(r#"{"routes": []}"#).contains("never set anything"));
        assert!(error(r#"{"default": "", "routes": ["/"]}"#).starts_with("default: must not be empty"));
        assert!(error(r#"{"normalize": {"merge_slash": true}, "routes": ["/"]}"#)
            .starts_with("normalize.merge_slash: unknown field"));
        assert!(error(r#"{"routes": [{"name": "x", "headers": [{"name": "x", "exact": "a", "prefix": "b"}]}]}"#)
            .contains("give one of exact"));
        assert!(error(r#"{"output_attribute": "wasm.x", "routes": ["/"]}"#).contains("bare name"));
    }

    #[test]
    fn route_literals_are_normalised_like_requests() {
        let config = native(
            r#"{"routes": [{"name": "a", "path_exact": "/a//b/"}, {"name": "b", "path_exact": "/%7Euser"},
                {"name": "c", "path_prefix": "/api/v1/"}, {"name": "d", "path_prefix": "/x"}, "GET /carts/{id}/items/"]}"#,
        );
        assert!(matches!(&config.routes[0].path, PathMatch::Exact(p) if p == b"/a/b"));
        assert!(matches!(&config.routes[1].path, PathMatch::Exact(p) if p == b"/~user"));
        assert!(matches!(&config.routes[2].path, PathMatch::DirPrefix(p) if p == b"/api/v1/"));
        assert!(config.routes[2].path.matches(b"/api/v1") && config.routes[2].path.matches(b"/api/v1/x"));
        assert!(!config.routes[2].path.matches(b"/api/v1x"));
        assert!(matches!(&config.routes[3].path, PathMatch::Prefix(p) if p == b"/x"));
        assert!(config.routes[4].path.matches(b"/carts/1/items"));
        let strict = native(
            r#"{"normalize": {"ignore_trailing_slash": false}, "routes": [{"name": "c", "path_prefix": "/api/"}]}"#,
        );
        assert!(matches!(&strict.routes[0].path, PathMatch::Prefix(p) if p == b"/api/"));
    }

    #[test]
    fn metrics_and_failure_classes() {
        let config = native(
            r#"{"metrics": {"enabled": true, "status_label": "class", "prefix": "books"},
                "routes": [{"name": "a", "path": "/a", "failure_classes": ["5xx", 429, "400-403"]}, "/b"]}"#,
        );
        assert!(config.metrics.enabled);
        assert_eq!(config.metrics.status_label, StatusLabel::Class);
        assert_eq!(config.metrics.prefix, "books");
        let classes = config.routes[0].failure_classes.as_ref().unwrap();
        assert_eq!(classes.iter().map(|c| c.to_string()).collect::<Vec<_>>(), vec!["500-599", "429", "400-403"]);
        assert!(config.routes[1].failure_classes.is_none());
        assert!(!native(r#"{"routes": ["/"]}"#).metrics.enabled, "off by default");
        assert!(error(r#"{"metrics": {"enabled": "yes"}, "routes": ["/"]}"#)
            .starts_with("metrics.enabled: expected true or false"));
        assert!(error(r#"{"metrics": {"status_label": "codes"}, "routes": ["/"]}"#)
            .starts_with("metrics.status_label: 'codes'"));
        assert!(error(r#"{"metrics": {"prefix": "a-b"}, "routes": ["/"]}"#)
            .starts_with("metrics.prefix: a Prometheus name"));
        assert!(error(r#"{"metrics": {"enable": true}, "routes": ["/"]}"#).starts_with("metrics.enable: unknown field"));
        assert!(error(r#"{"routes": [{"name": "a", "failure_classes": ["6xx"]}]}"#)
            .starts_with("routes[0].failure_classes[0]: '6xx'"));
    }

    #[test]
    fn a_regex_that_needs_a_trailing_slash_is_refused() {
        assert!(error(r#"{"routes": [{"name": "r", "path_regex": "/r/[0-9]+/"}]}"#)
            .starts_with("routes[0].path_regex: '/r/[0-9]+/' ends in '/', but trailing slashes are removed"));
        assert!(parse_config(br#"{"routes": [{"name": "r", "path_regex": "/r/[0-9]+/?"}]}"#).is_ok());
        let keep =
            r#"{"normalize": {"ignore_trailing_slash": false}, "routes": [{"name": "r", "path_regex": "/r/[0-9]+/"}]}"#;
        assert!(parse_config(keep.as_bytes()).is_ok());
    }

    #[test]
    fn auto_settings_and_their_errors() {
        assert_eq!(native(r#"{"auto": {}}"#).auto, Some(AutoConfig::default()));
        let auto = native(r#"{"auto": {"max_names": 50, "overflow": "other", "fanout": 8, "max_depth": 4}}"#).auto;
        assert_eq!(auto, Some(AutoConfig { max_names: 50, overflow: "other".to_string(), fanout: 8, max_depth: 4 }));
        assert_eq!(native(r#"{"routes": ["/a"]}"#).auto, None);
        assert_eq!(
            error(r#"{"auto": {"max_name": 5}}"#),
            "auto.max_name: unknown field (expected one of: max_names, overflow, fanout, max_depth)"
        );
        assert_eq!(error(r#"{"auto": {"max_names": 0}}"#), "auto.max_names: expected an integer from 1 to 100000");
        assert_eq!(error(r#"{"auto": {"fanout": 2.5}}"#), "auto.fanout: expected an integer from 3 to 1000");
        assert_eq!(error(r#"{"auto": {"max_depth": -1}}"#), "auto.max_depth: expected an integer from 1 to 32");
        assert_eq!(
            error(r#"{"auto": {"overflow": ""}}"#),
            "auto.overflow: a name of 1 to 128 characters, no control characters"
        );
        assert_eq!(error(r#"{"auto": true}"#), "auto: expected an object ({} for the defaults), found a boolean");
    }

    #[test]
    fn limits() {
        let config = native(r#"{"limits": {"max_routes": 2, "max_path_bytes": 100}, "routes": ["/a", "/b"]}"#);
        assert_eq!(
            config.limits,
            Limits { max_routes: 2, max_regex_bytes: crate::route::REGEX_SIZE_LIMIT, max_path_bytes: 100 }
        );
        assert_eq!(
            error(r#"{"limits": {"max_routes": 1}, "routes": ["/a", "/b"]}"#),
            "routes: 2 routes is more than limits.max_routes (1)"
        );
        assert!(error(
            r#"{"limits": {"max_regex_bytes": 100}, "routes": [{"name": "r", "path_regex": "/[a-z]{1,200}"}]}"#
        )
        .starts_with("routes[0].path_regex: invalid regex"));
        assert_eq!(
            error(r#"{"limits": {"max_path_bytes": 0}, "routes": ["/"]}"#),
            "limits.max_path_bytes: expected a positive integer"
        );
        assert!(
            error(r#"{"limits": {"max_paths": 1}, "routes": ["/"]}"#).starts_with("limits.max_paths: unknown field")
        );
    }

    #[test]
    fn case_insensitive_lowers_literals() {
        let config =
            native(r#"{"normalize": {"case_insensitive": true}, "routes": [{"name": "x", "path_exact": "/Books"}]}"#);
        assert!(matches!(&config.routes[0].path, PathMatch::Exact(p) if p == b"/books"));
        assert!(config.normalize.case_insensitive && config.normalize.merge_slashes);
    }
}
