//! Path templates: `/books/{id}`, `/files/{name}.json`, `/static/*`, `/assets/**`, `/v1/{path=**}`.
//!
//! The syntax is the union of OpenAPI path templates and Envoy's `uri_template`:
//! - a literal segment matches itself, byte for byte;
//! - `{name}`, `{name=*}` and `*` match exactly one non-empty segment;
//! - a variable may share a segment with literals: `{name}.json`, `v{major}.{minor}`;
//! - `**` and `{name=**}` match any remaining segments (zero or more) and must come last.
//!
//! Segments are what lies between `/`, so a template never matches across a `/`.

use std::fmt;

/// One `/`-separated piece of a template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Matches exactly these bytes.
    Literal(Box<[u8]>),
    /// Matches any single segment; `allow_empty` also admits the empty segment (regex `[^/]*`).
    Any { allow_empty: bool },
    /// Literals and variables sharing a segment, e.g. `{name}.json`.
    Glob(Glob),
}

/// A compiled template: the segments, and whether a trailing `**` accepts any remainder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub segments: Vec<Segment>,
    pub rest: bool,
}

/// Why a template was refused; `offset` is a byte offset into the template text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

/// Limits keeping one segment's glob cheap to match whatever the request holds.
const MAX_GLOB_PARTS: usize = 16;

impl Template {
    /// Parses a template. It must start with `/`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let err = |offset: usize, message: &str| TemplateError { offset, message: message.to_string() };
        if !text.starts_with('/') {
            return Err(err(0, "a path template must start with '/'"));
        }
        let mut segments = Vec::new();
        let mut rest = false;
        let mut offset = 1;
        for raw in text[1..].split('/') {
            if rest {
                return Err(err(offset, "'**' must be the last segment"));
            }
            match parse_segment(raw).map_err(|(at, message)| err(offset + at, &message))? {
                Parsed::Segment(segment) => segments.push(segment),
                Parsed::Rest => rest = true,
            }
            offset += raw.len() + 1;
        }
        // Kept for the table's lifetime: no spare capacity from the pushes.
        segments.shrink_to_fit();
        Ok(Template { segments, rest })
    }

    /// True when the template has no variables at all (it is an exact path).
    pub fn literal_path(&self) -> Option<Vec<u8>> {
        if self.rest {
            return None;
        }
        let mut path = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(bytes) => {
                    path.push(b'/');
                    path.extend_from_slice(bytes);
                }
                _ => return None,
            }
        }
        if path.is_empty() {
            path.push(b'/');
        }
        Some(path)
    }

    /// Whether `path` (already cut at `?`) matches. Used by the reference matcher and tests;
    /// the compiled matcher walks a trie of many templates instead.
    pub fn matches(&self, path: &[u8]) -> bool {
        let Some(segments) = split_segments(path) else { return false };
        if segments.len() < self.segments.len() || (!self.rest && segments.len() != self.segments.len()) {
            return false;
        }
        self.segments.iter().zip(segments.iter()).all(|(pattern, segment)| pattern.matches(segment))
    }

    /// Lower-cases every literal, for case-insensitive matching.
    pub fn to_lowercase(&self) -> Template {
        let segments = self
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(bytes) => Segment::Literal(bytes.to_ascii_lowercase().into()),
                Segment::Glob(glob) => Segment::Glob(glob.to_lowercase()),
                other => other.clone(),
            })
            .collect();
        Template { segments, rest: self.rest }
    }
}

/// Splits an absolute path into its segments: `/a/b` → `["a", "b"]`, `/` → `[""]`.
/// Returns `None` for a path that does not start with `/` (`*`, absolute-form URIs).
pub fn split_segments(path: &[u8]) -> Option<Vec<&[u8]>> {
    let rest = path.strip_prefix(b"/")?;
    Some(rest.split(|&b| b == b'/').collect())
}

impl Segment {
    /// Whether one request segment matches this pattern segment.
    pub fn matches(&self, segment: &[u8]) -> bool {
        match self {
            Segment::Literal(bytes) => bytes.as_ref() == segment,
            Segment::Any { allow_empty } => *allow_empty || !segment.is_empty(),
            Segment::Glob(glob) => glob.matches(segment),
        }
    }
}

enum Parsed {
    Segment(Segment),
    Rest,
}

/// Parses one segment's text. Errors carry an offset within the segment.
fn parse_segment(raw: &str) -> Result<Parsed, (usize, String)> {
    match raw {
        "**" => return Ok(Parsed::Rest),
        "*" => return Ok(Parsed::Segment(Segment::Any { allow_empty: false })),
        // Most segments are plain literals: one allocation instead of three (compile time).
        _ if !raw.bytes().any(|b| matches!(b, b'{' | b'}' | b'*')) => {
            return Ok(Parsed::Segment(Segment::Literal(raw.as_bytes().into())))
        }
        _ => {}
    }
    let mut parts: Vec<GlobPart> = Vec::new();
    let mut literal = Vec::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                let close = raw[i..].find('}').ok_or((i, "unclosed '{'".to_string()))? + i;
                let inner = &raw[i + 1..close];
                let (name, pattern) = match inner.split_once('=') {
                    Some((name, pattern)) => (name, Some(pattern)),
                    None => (inner, None),
                };
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                    return Err((i, format!("bad variable name '{name}' (letters, digits, '_' and '-' only)")));
                }
                match pattern {
                    None | Some("*") => {}
                    Some("**") if i == 0 && close + 1 == raw.len() => return Ok(Parsed::Rest),
                    Some("**") => return Err((i, "'{name=**}' must be a whole segment".to_string())),
                    Some(other) => {
                        return Err((i, format!("unsupported variable pattern '{other}' (use '*' or '**')")))
                    }
                }
                if !literal.is_empty() {
                    parts.push(GlobPart::Literal(std::mem::take(&mut literal).into()));
                }
                if matches!(parts.last(), Some(GlobPart::Any)) {
                    return Err((i, "two variables side by side in one segment are ambiguous".to_string()));
                }
                parts.push(GlobPart::Any);
                i = close + 1;
            }
            b'}' => return Err((i, "unmatched '}'".to_string())),
            b'*' => return Err((i, "'*' must be a whole segment (or use '{name}')".to_string())),
            b => {
                literal.push(b);
                i += 1;
            }
        }
    }
    if !literal.is_empty() {
        parts.push(GlobPart::Literal(literal.into()));
    }
    match parts.as_slice() {
        [] => Ok(Parsed::Segment(Segment::Literal(Box::from(&b""[..])))),
        [GlobPart::Literal(bytes)] => Ok(Parsed::Segment(Segment::Literal(bytes.clone()))),
        [GlobPart::Any] => Ok(Parsed::Segment(Segment::Any { allow_empty: false })),
        _ if parts.len() > MAX_GLOB_PARTS => {
            Err((0, format!("too many parts in one segment (at most {MAX_GLOB_PARTS})")))
        }
        _ => Ok(Parsed::Segment(Segment::Glob(Glob { parts }))),
    }
}

/// Literals and non-empty variables within one segment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Glob {
    pub parts: Vec<GlobPart>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GlobPart {
    Literal(Box<[u8]>),
    /// One or more bytes (a segment never contains `/`).
    Any,
    /// Zero or more bytes (regex `[^/]*` inside a segment).
    AnyOrEmpty,
}

impl Glob {
    /// Matches with the classic single-backtrack-point wildcard algorithm: O(len × parts),
    /// never exponential. A non-empty `Any` is "one byte, then zero or more".
    pub fn matches(&self, text: &[u8]) -> bool {
        // Expand into byte-level tokens: literal bytes, one-any, star.
        let mut tokens: Vec<Token> = Vec::new();
        for part in &self.parts {
            match part {
                GlobPart::Literal(bytes) => tokens.extend(bytes.iter().map(|&b| Token::Byte(b))),
                GlobPart::Any => {
                    tokens.push(Token::One);
                    tokens.push(Token::Star);
                }
                GlobPart::AnyOrEmpty => tokens.push(Token::Star),
            }
        }
        wildcard_match(&tokens, text)
    }

    fn to_lowercase(&self) -> Glob {
        let parts = self
            .parts
            .iter()
            .map(|part| match part {
                GlobPart::Literal(bytes) => GlobPart::Literal(bytes.to_ascii_lowercase().into()),
                other => other.clone(),
            })
            .collect();
        Glob { parts }
    }
}

#[derive(Clone, Copy)]
enum Token {
    Byte(u8),
    One,
    Star,
}

fn wildcard_match(tokens: &[Token], text: &[u8]) -> bool {
    let (mut t, mut s) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while s < text.len() {
        match tokens.get(t) {
            Some(Token::Star) => {
                backtrack = Some((t, s));
                t += 1;
            }
            Some(Token::One) => {
                t += 1;
                s += 1;
            }
            Some(Token::Byte(b)) if text.get(s) == Some(b) => {
                t += 1;
                s += 1;
            }
            _ => match backtrack {
                Some((star_t, star_s)) => {
                    backtrack = Some((star_t, star_s + 1));
                    t = star_t + 1;
                    s = star_s + 1;
                }
                None => return false,
            },
        }
    }
    tokens[t.min(tokens.len())..].iter().all(|token| matches!(token, Token::Star))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(template: &str, path: &str) -> bool {
        Template::parse(template).unwrap().matches(path.as_bytes())
    }

    #[test]
    fn literal_and_variables() {
        assert!(m("/books", "/books"));
        assert!(!m("/books", "/books/"));
        assert!(!m("/books", "/book"));
        assert!(m("/books/{id}", "/books/42"));
        assert!(!m("/books/{id}", "/books/"));
        assert!(!m("/books/{id}", "/books/42/x"));
        assert!(m("/books/*", "/books/42"));
        assert!(m("/books/{id=*}/edit", "/books/7/edit"));
        assert!(m("/", "/"));
        assert!(!m("/", "/a"));
    }

    #[test]
    fn variables_inside_a_segment() {
        assert!(m("/files/{name}.json", "/files/a.json"));
        assert!(m("/files/{name}.json", "/files/a.b.json"));
        assert!(!m("/files/{name}.json", "/files/.json"));
        assert!(!m("/files/{name}.json", "/files/a.jsonx"));
        assert!(m("/v{major}.{minor}/x", "/v1.2/x"));
        assert!(!m("/v{major}.{minor}/x", "/v1./x"));
        assert!(m("/a/pre{x}", "/a/prefix"));
        assert!(!m("/a/pre{x}", "/a/pre"));
    }

    #[test]
    fn rest_matches_zero_or_more_segments() {
        assert!(m("/static/**", "/static"));
        assert!(m("/static/**", "/static/"));
        assert!(m("/static/**", "/static/a/b/c"));
        assert!(!m("/static/**", "/staticx"));
        assert!(m("/v1/{path=**}", "/v1/a/b"));
        assert!(m("/**", "/anything/at/all"));
    }

    #[test]
    fn non_absolute_paths_never_match() {
        assert!(!m("/**", "*"));
        assert!(!m("/**", "http://x/y"));
        assert!(!m("/**", ""));
    }

    #[test]
    fn literal_path_detection() {
        assert_eq!(Template::parse("/a/b").unwrap().literal_path(), Some(b"/a/b".to_vec()));
        assert_eq!(Template::parse("/").unwrap().literal_path(), Some(b"/".to_vec()));
        assert_eq!(Template::parse("/a/{b}").unwrap().literal_path(), None);
        assert_eq!(Template::parse("/a/**").unwrap().literal_path(), None);
    }

    #[test]
    fn errors_name_the_problem() {
        let e = |t: &str| Template::parse(t).unwrap_err().message;
        assert!(e("books").contains("start with '/'"));
        assert!(e("/books/{id").contains("unclosed '{'"));
        assert!(e("/books/id}").contains("unmatched '}'"));
        assert!(e("/a/**/b").contains("last segment"));
        assert!(e("/a/x{p=**}").contains("whole segment"));
        assert!(e("/a/{}").contains("bad variable name"));
        assert!(e("/a/{a}{b}").contains("ambiguous"));
        assert!(e("/a/x*").contains("whole segment"));
        assert!(e("/a/{x=[0-9]+}").contains("unsupported variable pattern"));
        assert_eq!(Template::parse("/books/{id").unwrap_err().offset, 7);
    }

    #[test]
    fn glob_matching_is_not_exponential() {
        let mut parts = Vec::new();
        for _ in 0..8 {
            parts.push(GlobPart::Any);
            parts.push(GlobPart::Literal(Box::from(&b"x"[..])));
        }
        let glob = Glob { parts };
        let text = vec![b'x'; 50_000];
        // Just needs to finish quickly; the answer is true (8 × "?*x" fits in 50k x's).
        assert!(glob.matches(&text));
        let mut text = vec![b'x'; 50_000];
        text.push(b'y');
        assert!(!glob.matches(&text));
    }
}
