//! What a route is, independent of how it was written (native JSON, shorthand string,
//! an attributegen CEL condition, an OpenAPI operation).

use crate::metrics::StatusRange;
use crate::template::Template;
use regex_lite::{Regex, RegexBuilder};
use std::fmt;

/// Compiled size cap for one regex (bytes of regex-lite program); hostile or accidental
/// huge patterns are refused at config time instead of eating VM memory.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Nesting cap for one regex, bounding the parser's recursion.
pub const REGEX_NEST_LIMIT: u32 = 64;

/// Builds a regex with the project's limits. regex-lite never backtracks, so matching stays
/// linear in the input whatever the pattern.
pub fn build_regex(pattern: &str) -> Result<Regex, String> {
    build_regex_with_limit(pattern, REGEX_SIZE_LIMIT)
}

/// As [`build_regex`], with the compiled-size cap from the config's `limits.max_regex_bytes`.
pub fn build_regex_with_limit(pattern: &str, size_limit: usize) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(size_limit)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex '{pattern}': {e}"))
}

/// One named route: the first route whose every condition holds wins.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    pub name: String,
    pub methods: MethodSet,
    pub path: PathMatch,
    pub headers: Vec<ValueMatch>,
    /// Query parameter conditions (all must hold), on [`query_value`]s.
    pub query: Vec<ValueMatch>,
    /// Statuses this route counts as failures; `None`: the default (5xx, failing gRPC codes).
    pub failure_classes: Option<Vec<StatusRange>>,
}

/// Allowed request methods; `None` means any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MethodSet(pub Option<Vec<String>>);

impl MethodSet {
    pub fn any() -> MethodSet {
        MethodSet(None)
    }

    pub fn only(methods: &[&str]) -> MethodSet {
        MethodSet(Some(methods.iter().map(|m| m.to_string()).collect()))
    }

    pub fn allows(&self, method: &[u8]) -> bool {
        match &self.0 {
            None => true,
            Some(list) => list.iter().any(|m| m.as_bytes() == method),
        }
    }

    pub fn is_any(&self) -> bool {
        self.0.is_none()
    }

    /// The set as [`method_bit`]s; `u16::MAX` for any method. A set naming a method outside
    /// the standard nine has [`OTHER_METHOD`], and then only [`Self::allows`] can tell.
    pub fn mask(&self) -> u16 {
        match &self.0 {
            None => u16::MAX,
            Some(list) => list.iter().fold(0, |mask, m| mask | method_bit(m.as_bytes())),
        }
    }
}

/// The bit of a method outside [`STANDARD_METHODS`] (case matters: `get` is one).
pub const OTHER_METHOD: u16 = 1 << 15;
pub const STANDARD_METHODS: [&[u8]; 9] =
    [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH"];

/// A request method as one bit, so checking a candidate route's methods is one AND on a dense
/// array instead of a walk through its `RouteSpec` (two dependent loads, an L1 miss per route
/// on large tables).
pub fn method_bit(method: &[u8]) -> u16 {
    STANDARD_METHODS.iter().position(|m| *m == method).map_or(OTHER_METHOD, |i| 1 << i)
}

/// Whether a set with this `mask` (from [`MethodSet::mask`]) allows the method of `bit`;
/// `set` decides only for a method outside the standard nine.
pub fn mask_allows(mask: u16, bit: u16, set: &MethodSet, method: &[u8]) -> bool {
    mask & bit != 0 && (bit != OTHER_METHOD || mask == u16::MAX || set.allows(method))
}

impl fmt::Display for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("*"),
            Some(list) => f.write_str(&list.join("|")),
        }
    }
}

/// How a route constrains the path (always the path without query or fragment).
#[derive(Clone, Debug)]
pub enum PathMatch {
    /// No path condition.
    Any,
    Exact(Vec<u8>),
    /// Plain byte prefix, like Envoy's route `prefix` and CEL `startsWith`.
    Prefix(Vec<u8>),
    /// A prefix ending in `/` that also matches the directory itself without the slash
    /// (native `path_prefix` when trailing slashes are ignored: `/api/` covers `/api`).
    DirPrefix(Vec<u8>),
    Template(Template),
    /// Boxed: a `PathRegex` is 104 bytes, four times every other kind, and every route pays
    /// for the largest kind.
    Regex(Box<PathRegex>),
}

impl PathMatch {
    /// Whether this condition holds for `path` (already cut at the query and normalised).
    /// The one-route check, for the reference scan and `explain`; requests go through the index.
    pub fn matches(&self, path: &[u8]) -> bool {
        match self {
            PathMatch::Any => true,
            PathMatch::Exact(bytes) => bytes.as_slice() == path,
            PathMatch::Prefix(bytes) => path.starts_with(bytes),
            PathMatch::DirPrefix(bytes) => path.starts_with(bytes) || Some(path) == bytes.strip_suffix(b"/"),
            PathMatch::Template(template) => template.matches(path),
            PathMatch::Regex(regex) => regex.is_match(path),
        }
    }
}

/// A path regex with what the matcher needs to avoid running it.
#[derive(Clone, Debug)]
pub struct PathRegex {
    /// The pattern as the user wrote it (for messages).
    pub source: String,
    /// The pattern actually compiled (anchored for native `path_regex`).
    pub regex: Regex,
    /// Every path this regex can match starts with these bytes; empty if unknown.
    pub literal_prefix: Vec<u8>,
}

impl PathRegex {
    /// `anchored`: whole-path match (native `path_regex`, like Envoy's `safe_regex`);
    /// otherwise a search anywhere in the path (CEL `matches`, RE2 partial match).
    pub fn new(source: &str, anchored: bool, case_insensitive: bool) -> Result<PathRegex, String> {
        PathRegex::with_limit(source, anchored, case_insensitive, REGEX_SIZE_LIMIT)
    }

    pub fn with_limit(
        source: &str,
        anchored: bool,
        case_insensitive: bool,
        size_limit: usize,
    ) -> Result<PathRegex, String> {
        let mut compiled = if anchored { format!("^(?:{source})$") } else { source.to_string() };
        if case_insensitive {
            compiled = format!("(?i){compiled}");
        }
        let regex = build_regex_with_limit(&compiled, size_limit)?;
        let literal_prefix = if case_insensitive { Vec::new() } else { literal_prefix(&compiled) };
        Ok(PathRegex { source: source.to_string(), regex, literal_prefix })
    }

    /// Wraps a regex compiled elsewhere (the CEL parser's RE2-compatible compile) for a
    /// search anywhere in the path.
    pub fn from_search(source: &str, regex: Regex) -> PathRegex {
        PathRegex { source: source.to_string(), regex, literal_prefix: literal_prefix(source) }
    }

    pub fn is_match(&self, path: &[u8]) -> bool {
        match std::str::from_utf8(path) {
            Ok(text) => self.regex.is_match(text),
            // Non-UTF-8 bytes can only be matched by regexes that do not care about them.
            Err(_) => self.regex.is_match(&String::from_utf8_lossy(path)),
        }
    }
}

/// The literal text every match must start with, for a pattern anchored at `^`.
/// Conservative: any construct it does not understand ends the prefix, and alternation
/// anywhere (which could escape the anchor) gives no prefix at all.
pub fn literal_prefix(pattern: &str) -> Vec<u8> {
    let body = pattern.strip_prefix("^(?:").or_else(|| pattern.strip_prefix('^'));
    let Some(body) = body else { return Vec::new() };
    if pattern.contains('|') {
        return Vec::new();
    }
    let bytes = body.as_bytes();
    let mut prefix = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let (literal, width) = match bytes[i] {
            b'\\' => match bytes.get(i + 1) {
                Some(&b) if b.is_ascii_punctuation() => (b, 2),
                _ => break,
            },
            b'.' | b'+' | b'*' | b'?' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'^' | b'$' | b'|' => break,
            b if b.is_ascii() => (b, 1),
            _ => break,
        };
        // A quantifier after this literal makes it optional or repeatable: stop before it.
        if matches!(bytes.get(i + width), Some(b'?' | b'*' | b'{')) {
            break;
        }
        prefix.push(literal);
        i += width;
    }
    prefix
}

/// A condition on a named request value: a header (names lower-case, as HTTP/2 and Envoy use
/// them) or a query parameter (names as sent).
#[derive(Clone, Debug)]
pub struct ValueMatch {
    pub name: String,
    pub rule: ValueRule,
}

#[derive(Clone, Debug)]
pub enum ValueRule {
    Present,
    Absent,
    Exact(String),
    Prefix(String),
    /// Whole-value match.
    Regex(Regex),
}

impl ValueMatch {
    pub fn matches(&self, value: Option<&[u8]>) -> bool {
        match (&self.rule, value) {
            (ValueRule::Absent, value) => value.is_none(),
            (_, None) => false,
            (ValueRule::Present, Some(_)) => true,
            (ValueRule::Exact(expected), Some(v)) => expected.as_bytes() == v,
            (ValueRule::Prefix(prefix), Some(v)) => v.starts_with(prefix.as_bytes()),
            (ValueRule::Regex(regex), Some(v)) => regex.is_match(&String::from_utf8_lossy(v)),
        }
    }
}

/// The raw query of a `:path`: after the first `?`, up to a `#` (empty if there is none).
pub fn raw_query(path: &[u8]) -> &[u8] {
    let Some(start) = path.iter().position(|&b| b == b'?') else { return &[] };
    let query = &path[start + 1..];
    query.iter().position(|&b| b == b'#').map_or(query, |end| &query[..end])
}

/// The first value of parameter `name` in a raw query, as sent; `None` if it is not there.
/// Like Envoy's `query_parameters`: names and values are compared raw, not percent-decoded
/// (`v=%32` is not `v=2`, `x+y` is not `x y`), and a parameter without `=` has the empty value.
pub fn query_value<'q>(query: &'q [u8], name: &str) -> Option<&'q [u8]> {
    query.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        (key == name.as_bytes()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_first_and_raw() {
        assert_eq!(raw_query(b"/a?x=1&y=2#frag"), b"x=1&y=2");
        assert_eq!(raw_query(b"/a"), b"");
        assert_eq!(query_value(b"x=1&x=2", "x"), Some(&b"1"[..]));
        assert_eq!(query_value(b"a%20b=c+d", "a%20b"), Some(&b"c+d"[..]));
        assert_eq!(query_value(b"a%20b=c", "a b"), None);
        assert_eq!(query_value(b"flag&y=", "flag"), Some(&b""[..]));
        assert_eq!(query_value(b"flag&y=", "y"), Some(&b""[..]));
        assert_eq!(query_value(b"x==1", "x"), Some(&b"=1"[..]));
        assert_eq!(query_value(b"xx=1", "x"), None);
        assert_eq!(query_value(b"", "x"), None);
        let v2 = ValueMatch { name: "v".into(), rule: ValueRule::Exact("2".into()) };
        assert!(v2.matches(query_value(b"a=1&v=2", "v")));
        assert!(!v2.matches(query_value(b"v=20", "v")));
        assert!(!v2.matches(query_value(b"a=1", "v")));
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix("^/repos/[^/]+$"), b"/repos/");
        assert_eq!(literal_prefix("^(?:/repos/[^/]+)$"), b"/repos/");
        assert_eq!(literal_prefix("^/a\\.b/c"), b"/a.b/c");
        assert_eq!(literal_prefix("^/ab?"), b"/a");
        assert_eq!(literal_prefix("^/ab*"), b"/a");
        assert_eq!(literal_prefix("^/a{2}"), b"/");
        assert_eq!(literal_prefix("/repos"), b"", "unanchored");
        assert_eq!(literal_prefix("^/a|/b"), b"", "alternation escapes the anchor");
        assert_eq!(literal_prefix("^\\d+"), b"");
    }

    #[test]
    fn path_regex_anchoring() {
        let anchored = PathRegex::new("/books/[0-9]+", true, false).unwrap();
        assert!(anchored.is_match(b"/books/12"));
        assert!(!anchored.is_match(b"/books/12/x"));
        assert_eq!(anchored.literal_prefix, b"/books/");
        let search = PathRegex::new("books", false, false).unwrap();
        assert!(search.is_match(b"/x/books/y"));
        let insensitive = PathRegex::new("/Books", true, true).unwrap();
        assert!(insensitive.is_match(b"/books"));
        assert!(insensitive.literal_prefix.is_empty());
    }

    #[test]
    fn regex_limits() {
        assert!(build_regex("(").unwrap_err().contains("invalid regex '('"));
        let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
        assert!(build_regex(&deep).is_err());
        assert!(build_regex("[[:alnum:]]+").is_ok());
    }

    #[test]
    fn methods_and_headers() {
        let m = MethodSet::only(&["GET", "HEAD"]);
        assert!(m.allows(b"GET") && m.allows(b"HEAD") && !m.allows(b"POST") && !m.allows(b"get"));
        assert!(MethodSet::any().allows(b"ANYTHING"));
        assert_eq!(m.to_string(), "GET|HEAD");
        for (set, method) in [(&m, &b"GET"[..]), (&m, b"POST"), (&m, b"get"), (&MethodSet::any(), b"get")] {
            assert_eq!(
                mask_allows(set.mask(), method_bit(method), set, method),
                set.allows(method),
                "{set} {method:?}"
            );
        }
        let custom = MethodSet::only(&["PURGE", "GET"]);
        for method in [&b"PURGE"[..], b"GET", b"MOVE", b"POST", b""] {
            let allowed = mask_allows(custom.mask(), method_bit(method), &custom, method);
            assert_eq!(allowed, custom.allows(method), "{method:?}");
        }
        let exact = ValueMatch { name: "x".into(), rule: ValueRule::Exact("v2".into()) };
        assert!(exact.matches(Some(b"v2")) && !exact.matches(Some(b"v3")) && !exact.matches(None));
        let absent = ValueMatch { name: "x".into(), rule: ValueRule::Absent };
        assert!(absent.matches(None) && !absent.matches(Some(b"")));
        let regex = ValueMatch { name: "x".into(), rule: ValueRule::Regex(build_regex("^v[0-9]$").unwrap()) };
        assert!(regex.matches(Some(b"v7")) && !regex.matches(Some(b"v77")));
    }
}
