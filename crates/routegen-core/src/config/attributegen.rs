//! Istio attributegen's configuration, accepted unchanged.
//!
//! ```json
//! {"debug": false, "attributes": [{"output_attribute": "istio_operationId", "phase": "AFTER_RESPONSE",
//!   "match": [{"value": "ListBooks", "condition": "request.url_path == '/books' && request.method == 'GET'"}]}]}
//! ```
//! It is protobuf JSON: `outputAttribute` is accepted as well, unknown fields are ignored, and an
//! enum may be written by name or number. Conditions stay text here; compiling them is the
//! engine's job.

use super::document::{Json as Value, Object};
use super::{
    check_attribute_name, expect_array, expect_bool, expect_object, expect_str, join, kind, ConfigError, MAX_ROUTES,
};

#[derive(Debug)]
pub struct AttributegenConfig {
    pub debug: bool,
    pub attributes: Vec<AttributegenAttribute>,
}

#[derive(Debug)]
pub struct AttributegenAttribute {
    pub output_attribute: String,
    pub phase: Phase,
    pub matches: Vec<AttributegenMatch>,
}

#[derive(Debug)]
pub struct AttributegenMatch {
    pub value: String,
    /// CEL; empty means true.
    pub condition: String,
}

/// When an attribute is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// At log time, after the response: `response.*` is available (attributegen's default).
    AfterResponse,
    /// At request headers.
    OnRequest,
}

pub fn parse(object: &Object) -> Result<AttributegenConfig, ConfigError> {
    let debug = match object.get("debug") {
        Some(value) => expect_bool(value, "debug")?,
        None => false,
    };
    let list = expect_array(object.get("attributes").unwrap_or(&Value::Null), "attributes")?;
    let mut attributes = Vec::with_capacity(list.len());
    let mut total = 0usize;
    for (i, value) in list.iter().enumerate() {
        let attribute = parse_attribute(value, &format!("attributes[{i}]"))?;
        total += attribute.matches.len();
        attributes.push(attribute);
    }
    if total > MAX_ROUTES {
        return Err(ConfigError::new("attributes", format!("{total} matches is more than the limit of {MAX_ROUTES}")));
    }
    Ok(AttributegenConfig { debug, attributes })
}

/// A field under either its proto name or its JSON (camelCase) name.
fn field<'a>(object: &'a Object, proto: &str, json: &str) -> Option<&'a Value> {
    object.get(proto).or_else(|| object.get(json))
}

fn parse_attribute(value: &Value, at: &str) -> Result<AttributegenAttribute, ConfigError> {
    let object = expect_object(value, at)?;
    let name_field = join(at, "output_attribute");
    let output_attribute = match field(object, "output_attribute", "outputAttribute") {
        Some(value) => expect_str(value, &name_field)?.to_string(),
        None => return Err(ConfigError::new(name_field, "required")),
    };
    check_attribute_name(&output_attribute, &name_field)?;
    let phase = match object.get("phase") {
        None | Some(Value::Null) => Phase::AfterResponse,
        Some(value) => parse_phase(value, &join(at, "phase"))?,
    };
    let mut matches = Vec::new();
    if let Some(list) = object.get("match") {
        for (j, entry) in expect_array(list, &join(at, "match"))?.iter().enumerate() {
            let entry_field = format!("{at}.match[{j}]");
            let entry = expect_object(entry, &entry_field)?;
            let value = match entry.get("value") {
                Some(value) => expect_str(value, &join(&entry_field, "value"))?.to_string(),
                None => String::new(),
            };
            let condition = match entry.get("condition") {
                Some(value) => expect_str(value, &join(&entry_field, "condition"))?.to_string(),
                None => String::new(),
            };
            matches.push(AttributegenMatch { value, condition });
        }
    }
    Ok(AttributegenAttribute { output_attribute, phase, matches })
}

fn parse_phase(value: &Value, at: &str) -> Result<Phase, ConfigError> {
    match value {
        Value::String(s) if s == "AFTER_RESPONSE" => Ok(Phase::AfterResponse),
        Value::String(s) if s == "ON_REQUEST" => Ok(Phase::OnRequest),
        Value::Number(_) if value.as_u64() == Some(0) => Ok(Phase::AfterResponse),
        Value::Number(_) if value.as_u64() == Some(1) => Ok(Phase::OnRequest),
        other => Err(ConfigError::new(
            at,
            format!("expected \"AFTER_RESPONSE\" or \"ON_REQUEST\", found {}", describe(other)),
        )),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("'{s}'"),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse as parse_config, Config};

    fn ag(json: &str) -> AttributegenConfig {
        match parse_config(json.as_bytes()).unwrap() {
            Config::Attributegen(config) => config,
            Config::Native(_) => panic!("not attributegen"),
        }
    }

    #[test]
    fn reference_operation_config() {
        let config = ag(r#"{"attributes": [{"output_attribute": "istio_operationId", "match": [
            {"value": "ListBooks", "condition": "request.url_path == '/books' && request.method == 'GET'"},
            {"value": "GetBook", "condition": "request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$')"}]}]}"#);
        assert!(!config.debug);
        assert_eq!(config.attributes[0].phase, Phase::AfterResponse);
        assert_eq!(config.attributes[0].matches[1].value, "GetBook");
    }

    #[test]
    fn proto_json_spellings_and_unknown_fields() {
        let config = ag(
            r#"{"debug": true, "extra": 1, "attributes": [{"outputAttribute": "a", "phase": "ON_REQUEST", "other": [],
            "match": [{"value": "x", "unknown": 2}, {"condition": "true"}]}, {"output_attribute": "b", "phase": 1}]}"#,
        );
        assert!(config.debug);
        assert_eq!(config.attributes[0].output_attribute, "a");
        assert_eq!(config.attributes[0].phase, Phase::OnRequest);
        assert_eq!(config.attributes[0].matches[0].condition, "");
        assert_eq!(config.attributes[0].matches[1].value, "");
        assert_eq!(config.attributes[1].phase, Phase::OnRequest);
        assert!(config.attributes[1].matches.is_empty());
    }

    #[test]
    fn errors() {
        let err = |json: &str| parse_config(json.as_bytes()).unwrap_err().to_string();
        assert_eq!(err(r#"{"attributes": {}}"#), "attributes: expected an array, found an object");
        assert_eq!(err(r#"{"attributes": [{}]}"#), "attributes[0].output_attribute: required");
        assert_eq!(
            err(r#"{"attributes": [{"output_attribute": "a", "phase": "LATER"}]}"#),
            "attributes[0].phase: expected \"AFTER_RESPONSE\" or \"ON_REQUEST\", found 'LATER'"
        );
        assert_eq!(
            err(r#"{"attributes": [{"output_attribute": "a", "match": [{"condition": 1}]}]}"#),
            "attributes[0].match[0].condition: expected a string, found a number"
        );
    }
}
