//! The configuration document as read by serde_json, in the shape the format parsers need.
//!
//! Why not `serde_json::Value`: its objects are sorted maps that keep the last of two equal
//! keys, so a configuration with two `routes` would silently lose one. Here objects keep
//! document order and a repeated key is an error (with its line and column). serde_json does
//! the reading: strict RFC 8259, nesting bounded by its recursion limit (128).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeSet;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Object),
}

/// An object's members in document order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object(pub Vec<(String, Json)>);

impl Object {
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl Json {
    /// Reads a JSON text. Errors read `invalid JSON at line L column C: what`.
    pub fn parse(text: &str) -> Result<Json, String> {
        serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            let position = format!(" at line {} column {}", e.line(), e.column());
            let what = message.strip_suffix(&position).unwrap_or(&message);
            format!("invalid JSON at line {} column {}: {what}", e.line(), e.column())
        })
    }

    /// The same model from a `serde_json::Value` (the CLI reads YAML and JSON into one).
    pub fn from_value(value: &serde_json::Value) -> Result<Json, String> {
        Json::deserialize(value).map_err(|e| e.to_string())
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&Vec<Json>> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// A non-negative integer that fits in `u64` (`200` or `200.0`; not `-1` or `2.5`).
    pub fn as_u64(&self) -> Option<u64> {
        let Json::Number(n) = self else { return None };
        n.as_u64().or_else(|| {
            let f = n.as_f64()?;
            // 2^64 as f64: anything below it and whole converts exactly.
            ((0.0..18_446_744_073_709_551_616.0).contains(&f) && f.fract() == 0.0).then_some(f as u64)
        })
    }
    /// The member `key` of an object (None for non-objects).
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object().and_then(|o| o.get(key))
    }
}

/// Objects up to this size check duplicates by scanning; larger ones keep a sorted set.
const SCAN_KEYS: usize = 32;

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
        serde_json::Number::from_f64(n).map(Json::Number).ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let repeated = if members.len() < SCAN_KEYS {
                members.iter().any(|(k, _)| *k == key)
            } else {
                if seen.is_empty() {
                    seen.extend(members.iter().map(|(k, _)| k.clone()));
                }
                !seen.insert(key.clone())
            };
            if repeated {
                return Err(de::Error::custom(format_args!("duplicate key '{key}' in object")));
            }
            let value = map.next_value()?;
            members.push((key, value));
        }
        Ok(Json::Object(Object(members)))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let doc =
            Json::parse(r#" {"a": [1, -2.5e2, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"], "b": {}} "#)
                .unwrap();
        let a = doc.get("a").unwrap().as_array().unwrap();
        assert_eq!(a[0].as_u64(), Some(1));
        assert_eq!(a[1].as_u64(), None);
        assert_eq!(Json::parse("200.0").unwrap().as_u64(), Some(200));
        assert_eq!(Json::parse("-1").unwrap().as_u64(), None);
        assert_eq!(Json::parse("2.5").unwrap().as_u64(), None);
        assert_eq!(a[2].as_bool(), Some(true));
        assert_eq!(a[4], Json::Null);
        assert_eq!(a[5].as_str(), Some("x\"\\/\u{8}\u{c}\n\r\té😀"));
        assert_eq!(doc.get("b").unwrap().as_object().unwrap().0.len(), 0);
        assert_eq!(doc.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["a", "b"]);
    }

    #[test]
    fn keeps_document_order() {
        let doc = Json::parse(r#"{"z": 1, "a": 2, "m": 3}"#).unwrap();
        assert_eq!(doc.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["z", "a", "m"]);
    }

    #[test]
    fn errors_have_positions() {
        let e = |t: &str| Json::parse(t).unwrap_err();
        assert_eq!(e("{\"a\": }"), "invalid JSON at line 1 column 7: expected value");
        assert!(
            e("{\n  \"a\": 1,\n  \"a\": 2}").starts_with("invalid JSON at line 3 column"),
            "{}",
            e("{\"a\":1,\"a\":2}")
        );
        assert!(e("{\n  \"a\": 1,\n  \"a\": 2}").ends_with("duplicate key 'a' in object"));
        assert!(e("[1,]").contains("trailing comma"));
        assert!(e("{a: 1}").contains("key must be a string"));
        assert!(e("\"abc").contains("EOF while parsing a string"));
        assert!(e("\"a\nb\"").contains("control character"));
        assert!(e("01").contains("invalid number") || e("01").contains("trailing characters"));
        assert!(e("{} x").contains("trailing characters"));
        assert!(e("\"\\ud800\"").contains("escape"), "{}", e("\"\\ud800\""));
    }

    #[test]
    fn duplicate_keys_in_large_objects() {
        let mut text = String::from("{");
        for i in 0..100 {
            text.push_str(&format!("\"k{i}\": {i},"));
        }
        text.push_str("\"k7\": 0}");
        assert!(Json::parse(&text).unwrap_err().contains("duplicate key 'k7'"));
        assert!(Json::parse(&text.replace("\"k7\": 0}", "\"k100\": 0}")).is_ok());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(100_000);
        assert!(Json::parse(&deep).unwrap_err().contains("recursion limit exceeded"));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(Json::parse(&ok).is_ok());
    }

    #[test]
    fn from_a_serde_value() {
        let value: serde_json::Value = serde_json::from_str(r#"{"routes": ["GET /a"], "n": 3}"#).unwrap();
        let doc = Json::from_value(&value).unwrap();
        assert_eq!(doc.get("n").unwrap().as_u64(), Some(3));
        assert_eq!(doc.get("routes").unwrap().as_array().unwrap()[0].as_str(), Some("GET /a"));
    }
}
