//! A small JSON reader for plugin configurations.
//!
//! Why not `serde_json::Value`: in the wasm module it costs ~23 KB (a tenth of the module's
//! budget) for a document read once per configuration. This reader is strict RFC 8259 JSON,
//! keeps object keys in order, rejects duplicate keys (a config with two `routes` is a mistake,
//! not a merge), and bounds nesting so hostile input cannot exhaust the stack.

use std::fmt;

/// Nesting limit for arrays and objects.
pub const MAX_DEPTH: usize = 128;

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text, as written: configurations only need integers, and converting to
    /// `f64` would pull the float parser (~10 KB) into the module.
    Number(String),
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
    /// A non-negative integer that fits in `u64` (`200` or `200.0`; not `2e2`).
    pub fn as_u64(&self) -> Option<u64> {
        let Json::Number(text) = self else { return None };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if !fraction.bytes().all(|b| b == b'0') {
            return None;
        }
        whole.parse().ok()
    }
    /// The member `key` of an object (None for non-objects).
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object().and_then(|o| o.get(key))
    }
}

/// A syntax error with its 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub message: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at line {} column {}: {}", self.line, self.column, self.message)
    }
}

pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut reader = Reader { bytes: text.as_bytes(), pos: 0 };
    reader.skip_space();
    let value = reader.value(0)?;
    reader.skip_space();
    if reader.pos < reader.bytes.len() {
        return Err(reader.error("trailing characters after the JSON value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, message: &'static str) -> JsonError {
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let column = 1 + String::from_utf8_lossy(&before[line_start..]).chars().count();
        JsonError { line, column, message }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect_word(&mut self, word: &[u8], value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.expect_word(b"true", Json::Bool(true)),
            Some(b'f') => self.expect_word(b"false", Json::Bool(false)),
            Some(b'n') => self.expect_word(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.pos += 1; // '{'
        let mut members: Vec<(String, Json)> = Vec::new();
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(Object(members)));
        }
        loop {
            self.skip_space();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key_pos = self.pos;
            let key = self.string()?;
            if members.iter().any(|(k, _)| *k == key) {
                self.pos = key_pos;
                return Err(self.error("duplicate key in object"));
            }
            self.skip_space();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':' after the key"));
            }
            self.pos += 1;
            self.skip_space();
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(Object(members)));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_space();
            items.push(self.value(depth)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        let digits = |r: &mut Self| {
            let from = r.pos;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.pos += 1;
            }
            r.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        if digits(self) == 0 || (self.bytes[int_start] == b'0' && self.pos - int_start > 1) {
            return Err(self.error("invalid number"));
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        let text = String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned();
        Ok(Json::Number(text))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut value = 0u32;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error("invalid \\u escape")),
            };
            value = value * 16 + u32::from(digit);
            self.pos += 1;
        }
        Ok(value)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else { return Err(self.error("unterminated string")) };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(escape) = self.peek() else { return Err(self.error("unterminated string")) };
                    self.pos += 1;
                    let simple = match escape {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let c = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.error("invalid escape"));
                        }
                    };
                    out.push(simple);
                }
                0x00..=0x1f => {
                    self.pos -= 1;
                    return Err(self.error("control character in string"));
                }
                _ => out.push(b),
            }
        }
        // The input is a &str and escapes produce whole characters, so this cannot fail.
        String::from_utf8(out).map_err(|_| self.error("invalid UTF-8 in string"))
    }

    /// After `\u`: one code point, joining a UTF-16 surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            if !self.bytes[self.pos..].starts_with(b"\\u") {
                return Err(self.error("unpaired surrogate in \\u escape"));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return Err(self.error("unpaired surrogate in \\u escape"));
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate in \\u escape"))
    }
}

#[cfg(feature = "cli")]
impl From<&serde_json::Value> for Json {
    /// The CLI reads YAML and JSON with serde; the core reads this model.
    fn from(value: &serde_json::Value) -> Json {
        use serde_json::Value;
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.to_string()),
            Value::String(s) => Json::String(s.clone()),
            Value::Array(items) => Json::Array(items.iter().map(Json::from).collect()),
            Value::Object(map) => Json::Object(Object(map.iter().map(|(k, v)| (k.clone(), Json::from(v))).collect())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let doc = parse(r#" {"a": [1, -2.5e2, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"], "b": {}} "#).unwrap();
        let a = doc.get("a").unwrap().as_array().unwrap();
        assert_eq!(a[0].as_u64(), Some(1));
        assert_eq!(a[1], Json::Number("-2.5e2".to_string()));
        assert_eq!(a[1].as_u64(), None);
        assert_eq!(parse("200.0").unwrap().as_u64(), Some(200));
        assert_eq!(parse("-1").unwrap().as_u64(), None);
        assert_eq!(a[2].as_bool(), Some(true));
        assert_eq!(a[4], Json::Null);
        assert_eq!(a[5].as_str(), Some("x\"\\/\u{8}\u{c}\n\r\té😀"));
        assert_eq!(doc.get("b").unwrap().as_object().unwrap().0.len(), 0);
        assert_eq!(doc.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(parse("[]").unwrap(), Json::Array(vec![]));
        assert_eq!(parse("\"é\"").unwrap().as_str(), Some("é"));
    }

    #[test]
    fn errors_have_positions() {
        let e = |t: &str| parse(t).unwrap_err();
        assert_eq!(e("{\"a\": }").to_string(), "invalid JSON at line 1 column 7: expected a value");
        assert_eq!(e("{\n  \"a\": 1,\n  \"a\": 2}"), JsonError { line: 3, column: 3, message: "duplicate key in object" });
        assert_eq!(e("[1,]").message, "expected a value");
        assert_eq!(e("[1 2]").message, "expected ',' or ']'");
        assert_eq!(e("{\"a\" 1}").message, "expected ':' after the key");
        assert_eq!(e("{a: 1}").message, "expected a string key");
        assert_eq!(e("\"abc").message, "unterminated string");
        assert_eq!(e("\"a\\qb\"").message, "invalid escape");
        assert_eq!(e("\"\\ud800\"").message, "unpaired surrogate in \\u escape");
        assert_eq!(e("\"a\nb\"").message, "control character in string");
        assert_eq!(e("01").message, "invalid number");
        assert_eq!(e("1.").message, "invalid number");
        assert_eq!(e("-").message, "invalid number");
        assert_eq!(e("tru").message, "expected a value");
        assert_eq!(e("{} x").message, "trailing characters after the JSON value");
        assert_eq!(e("").message, "unexpected end of input");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(&deep).unwrap_err().message, "nested too deeply");
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }
}
