//! Reading a plugin configuration: JSON in either routegen's native format or attributegen's.
//!
//! Every error names the field it is about, as a path into the document
//! (`routes[3].path: unclosed '{' (at byte 7)`), because the person reading it is looking at a
//! YAML `pluginConfig` with dozens of routes.

pub mod attributegen;
pub mod document;
pub mod native;

use document::{Json as Value, Object};
use std::fmt;

pub use attributegen::{AttributegenAttribute, AttributegenConfig, AttributegenMatch, Phase};
pub use document::Json;
pub use native::{NativeConfig, ServiceSpec};

/// Upper bound on routes in one configuration (all services together).
pub const MAX_ROUTES: usize = 100_000;

/// A configuration in one of the two accepted formats.
#[derive(Debug)]
pub enum Config {
    Native(NativeConfig),
    Attributegen(AttributegenConfig),
}

/// A rejected configuration: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Path of the offending field, e.g. `routes[3].path`; empty for the whole document.
    pub field: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError { field: field.into(), reason: reason.into() }
    }
}

/// Parses configuration bytes. An empty configuration is an error: a filter with nothing to
/// do is almost always a mistake in the `pluginConfig`.
pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| ConfigError::new("", format!("configuration is not UTF-8: {e}")))?;
    if text.trim().is_empty() {
        return Err(ConfigError::new(
            "",
            "configuration is empty (expected a JSON object with 'routes' or 'attributes')",
        ));
    }
    let value = Value::parse(text).map_err(|e| ConfigError::new("", e))?;
    parse_value(&value)
}

/// Parses a document the CLI read (JSON or YAML) into a `serde_json::Value`.
pub fn parse_serde(value: &serde_json::Value) -> Result<Config, ConfigError> {
    parse_value(&Value::from_value(value).map_err(|e| ConfigError::new("", e))?)
}

/// Parses an already-decoded JSON document.
pub fn parse_value(value: &Value) -> Result<Config, ConfigError> {
    let object = value
        .as_object()
        .ok_or_else(|| ConfigError::new("", format!("expected a JSON object, found {}", kind(value))))?;
    if object.contains_key("attributes") {
        // attributegen ignores fields it does not know, so a native field here would be
        // dropped without a word: say so instead.
        if let Some(native) = object.keys().find(|k| *k != "debug" && native::TOP_FIELDS.contains(k)) {
            return Err(ConfigError::new(
                native,
                format!("a native routegen field in an attributegen configuration ('attributes'): use one format, not both (native '{native}' would be ignored)"),
            ));
        }
        attributegen::parse(object).map(Config::Attributegen)
    } else {
        native::parse(object).map(Config::Native)
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Field paths: `join("routes[3]", "path")` → `routes[3].path`.
pub(crate) fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

pub(crate) fn expect_str<'a>(value: &'a Value, field: &str) -> Result<&'a str, ConfigError> {
    value.as_str().ok_or_else(|| ConfigError::new(field, format!("expected a string, found {}", kind(value))))
}

pub(crate) fn expect_bool(value: &Value, field: &str) -> Result<bool, ConfigError> {
    value.as_bool().ok_or_else(|| ConfigError::new(field, format!("expected true or false, found {}", kind(value))))
}

pub(crate) fn expect_array<'a>(value: &'a Value, field: &str) -> Result<&'a Vec<Value>, ConfigError> {
    value.as_array().ok_or_else(|| ConfigError::new(field, format!("expected an array, found {}", kind(value))))
}

/// Parses each element of an array field with `parse(element, "field[i]")`. A plain loop:
/// `iter().map().collect::<Result<_, _>>()` costs several times the code in the module.
pub(crate) fn each<T>(
    value: &Value,
    field: &str,
    mut parse: impl FnMut(&Value, &str) -> Result<T, ConfigError>,
) -> Result<Vec<T>, ConfigError> {
    let list = expect_array(value, field)?;
    let mut out = Vec::with_capacity(list.len());
    for (i, element) in list.iter().enumerate() {
        out.push(parse(element, &format!("{field}[{i}]"))?);
    }
    Ok(out)
}

pub(crate) fn expect_object<'a>(value: &'a Value, field: &str) -> Result<&'a Object, ConfigError> {
    value.as_object().ok_or_else(|| ConfigError::new(field, format!("expected an object, found {}", kind(value))))
}

/// Rejects fields a strict object does not know, naming the ones it does (typos are the
/// commonest config error, and a silently ignored `path_regx` would match every request).
pub(crate) fn reject_unknown(object: &Object, parent: &str, known: &[&str]) -> Result<(), ConfigError> {
    for key in object.keys() {
        if !known.contains(&key) {
            return Err(ConfigError::new(
                join(parent, key),
                format!("unknown field (expected one of: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// An output attribute name becomes the filter-state key `wasm.<name>`.
pub(crate) fn check_attribute_name(name: &str, field: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::new(field, "must not be empty"));
    }
    if let Some(bare) = name.strip_prefix("wasm.") {
        return Err(ConfigError::new(
            field,
            format!("write the bare name '{bare}': Envoy adds the 'wasm.' prefix itself"),
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        return Err(ConfigError::new(field, "use letters, digits, '_', '-' and '.' only"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(json: &str) -> String {
        parse(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn detects_the_format() {
        assert!(matches!(parse(br#"{"routes": ["/"]}"#).unwrap(), Config::Native(_)));
        assert!(matches!(parse(br#"{"attributes": []}"#).unwrap(), Config::Attributegen(_)));
    }

    #[test]
    fn one_format_per_document() {
        let e = parse(br#"{"attributes": [], "routes": ["GET /a"]}"#).unwrap_err();
        assert_eq!(e.field, "routes");
        assert!(e.reason.contains("use one format"), "{e}");
        assert!(parse(br#"{"attributes": [], "services": []}"#).is_err());
        assert!(parse(br#"{"attributes": [], "debug": true}"#).is_ok());
    }

    #[test]
    fn document_level_errors() {
        assert!(error("").contains("configuration is empty"));
        assert!(error("[1]").contains("expected a JSON object, found an array"));
        assert!(error("{\"routes\": [}").contains("invalid JSON at line 1"));
        assert!(parse(&[0xff, 0xfe]).unwrap_err().reason.contains("not UTF-8"));
    }

    #[test]
    fn attribute_names() {
        assert!(check_attribute_name("istio_operationId", "f").is_ok());
        assert!(check_attribute_name("", "f").unwrap_err().reason.contains("empty"));
        assert!(check_attribute_name("wasm.x", "f").unwrap_err().reason.contains("bare name 'x'"));
        assert!(check_attribute_name("a b", "f").is_err());
    }
}
