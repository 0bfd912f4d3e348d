//! Compiles CEL `matches()` patterns (RE2 syntax) with regex-lite, refusing every pattern on
//! which the two engines could disagree.
//!
//! regex-lite's syntax is close to RE2's, but not equal. Patterns on which they could answer
//! differently are refused, so the caller falls back to Envoy's own CEL engine. Differences
//! handled here:
//! - RE2 rejects stacked repetitions (`a**`, `a*+`, `a{2}{3}`), counts above 1000, and nested
//!   counted repetitions whose product exceeds 1000; regex-lite accepts them.
//! - `\<`, `\>` are literals in RE2 but word boundaries in regex-lite; `\b{start}` likewise;
//!   `\u`/`\U` escapes do not exist in RE2. All refused.
//! - Flags `x` and `R` do not exist in RE2; `i` folds Unicode case in RE2 but only ASCII in
//!   regex-lite. Refused.
//! - Capture names: RE2 allows only word characters.
//! - `\s` is `[\t\n\f\r ]` in RE2 but also includes `\v` in regex-lite: rewritten outside
//!   classes, refused inside classes.
//!
//! Not reproduced: Envoy builds its CEL runtime with `regex_max_program_size = 100`, so a
//! regex whose RE2 program exceeds 100 instructions evaluates to an error there. RE2's
//! program size cannot be computed without RE2; such patterns match normally here.

use regex_lite::{Regex, RegexBuilder};

/// Upper bound on the compiled program (regex-lite's approximate heap bytes).
const SIZE_LIMIT: usize = 64 * 1024;
/// Upper bound on group nesting inside a pattern.
const NEST_LIMIT: u32 = 64;
/// RE2's `kMaxRepeat`.
const MAX_REPEAT: u64 = 1000;

/// Reasons a pattern is refused (see the module documentation).
const ESCAPE: &str = "escape differs from RE2";
const CLASS_ESCAPE: &str = "escape inside a class differs from RE2";
const COUNT: &str = "repetition count above 1000";
const NAME: &str = "invalid capture group name";
const FLAGS: &str = "unsupported group flags";

/// RE2's `\s`, which unlike regex-lite's excludes `\v`.
const RE2_SPACE: &[u8] = br"[\t\n\f\r ]";
const RE2_NOT_SPACE: &[u8] = br"[^\t\n\f\r ]";

/// Checks RE2 compatibility, then compiles. The error text names the regex problem.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let (kind, why) = match translate(pattern) {
        Ok(translated) => match RegexBuilder::new(&translated).size_limit(SIZE_LIMIT).nest_limit(NEST_LIMIT).build() {
            Ok(regex) => return Ok(regex),
            Err(e) => ("invalid", e.to_string()),
        },
        Err(why) => ("unsupported", why.to_string()),
    };
    Err([kind, " regex \"", pattern, "\": ", &why].concat())
}

/// What the previous element was, to detect repetition operators RE2 would reject.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    /// Start of pattern, after `(`, `|` or a flag group: nothing to repeat.
    Nothing,
    Atom,
    /// A greedy repetition operator; a `?` may still follow to make it lazy.
    Repeat,
    /// A repetition that already has its `?`.
    LazyRepeat,
}

/// A cursor over the pattern's bytes. Every construct the check looks at is ASCII.
struct Scan<'a> {
    pattern: &'a [u8],
    /// Index of the next unread byte.
    pos: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.pattern.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Consumes the next byte if `want` accepts it.
    fn eat(&mut self, want: impl Fn(u8) -> bool) -> bool {
        let found = self.peek().is_some_and(want);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Consumes bytes through the first occurrence of `end` (or to the end of input).
    fn skip_past(&mut self, end: &[u8]) {
        let start = self.pos;
        while self.next().is_some() {
            let read = self.pattern.get(start..self.pos).unwrap_or_default();
            if read.ends_with(end) {
                return;
            }
        }
    }
}

/// Walks the pattern once, refusing RE2-incompatible constructs, and rewrites `\s`/`\S`
/// (everything else is kept as written).
fn translate(pattern: &str) -> Result<String, &'static str> {
    let bytes = pattern.as_bytes();
    let mut s = Scan { pattern: bytes, pos: 0 };
    // The rewritten pattern up to `copied`; the rest is still to be copied from `pattern`.
    let mut out = Vec::new();
    let mut copied = 0;
    let mut prev = Prev::Nothing;
    // Count product of the most recent atom (1 for a plain atom, a group's maximum for groups).
    let mut last_product: u64 = 1;
    // Per open group: the largest count product of any path inside it so far.
    let mut groups: Vec<u64> = vec![1];
    while let Some(c) = s.next() {
        // The count product of the atom this element forms; elements that are not atoms
        // `continue` instead.
        let mut product = 1;
        match c {
            b'\\' => match s.next() {
                None => return Err("trailing backslash"),
                // `\<`, `\>` are literals in RE2 but word boundaries in regex-lite, and so is
                // `\b{start}`; `\u`/`\U` escapes do not exist in RE2.
                Some(b'<' | b'>' | b'u' | b'U') => return Err(ESCAPE),
                Some(b'b') if s.peek() == Some(b'{') => return Err(ESCAPE),
                Some(e @ (b's' | b'S')) => {
                    let escape = s.pos.saturating_sub(2);
                    out.extend_from_slice(bytes.get(copied..escape).unwrap_or_default());
                    out.extend_from_slice(if e == b's' { RE2_SPACE } else { RE2_NOT_SPACE });
                    copied = s.pos;
                }
                // `\x{41}` is skipped whole so that it is not mistaken for a counted repetition;
                // `\x41` takes two hex digits (regex-lite validates them).
                Some(b'x') => {
                    if s.peek() == Some(b'{') {
                        s.skip_past(b"}");
                    } else {
                        for _ in 0..2 {
                            s.eat(|d| d.is_ascii_hexdigit());
                        }
                    }
                }
                Some(_) => {}
            },
            // A bracketed class, up to its closing `]`.
            b'[' => {
                s.eat(|c| c == b'^');
                // A `]` right after `[` or `[^` is a literal in both engines.
                s.eat(|c| c == b']');
                loop {
                    match s.next() {
                        None => return Err("missing closing ']'"),
                        Some(b']') => break,
                        Some(b'\\') => match s.next() {
                            None => return Err("trailing backslash"),
                            Some(b's' | b'S') => return Err(CLASS_ESCAPE),
                            Some(b'<' | b'>' | b'u' | b'U') => return Err(CLASS_ESCAPE),
                            Some(_) => {}
                        },
                        // POSIX classes such as `[:alnum:]` contain no `]` until their `:]`.
                        Some(b'[') if s.peek() == Some(b':') => s.skip_past(b":]"),
                        Some(_) => {}
                    }
                }
            }
            b'(' => {
                prev = Prev::Nothing;
                // `(?flags)` applies to the rest of the enclosing group and is not a group.
                if !s.eat(|c| c == b'?') || group_prefix(&mut s)? {
                    groups.push(1);
                }
                continue;
            }
            // An unbalanced `)` is left for regex-lite to reject.
            b')' if groups.len() > 1 => {
                product = groups.pop().unwrap_or(1);
            }
            b'|' => {
                prev = Prev::Nothing;
                continue;
            }
            b'*' | b'+' | b'?' | b'{' => {
                let count = if c == b'{' { brace(&mut s)? } else { 1 };
                prev = match (prev, c) {
                    (Prev::Repeat, b'?') => Prev::LazyRepeat,
                    (Prev::Atom, _) => Prev::Repeat,
                    (Prev::Nothing, _) => return Err("missing argument to repetition operator"),
                    _ => return Err("stacked repetition operator"),
                };
                // RE2's limit: along any nesting path, counted repetitions multiply to <= 1000.
                if count > MAX_REPEAT {
                    return Err(COUNT);
                }
                // Both factors are at most 1000.
                last_product *= count.max(1);
                if last_product > MAX_REPEAT {
                    return Err(COUNT);
                }
                product = last_product;
            }
            _ => {}
        }
        if !matches!(c, b'*' | b'+' | b'?' | b'{') {
            prev = Prev::Atom;
            last_product = product;
        }
        if let Some(max) = groups.last_mut() {
            *max = (*max).max(product);
        }
    }
    out.extend_from_slice(bytes.get(copied..).unwrap_or_default());
    String::from_utf8(out).map_err(|_| "invalid UTF-8")
}

/// After `(?`: a capture name or flags. Returns false for a bare `(?flags)` (no group body).
fn group_prefix(s: &mut Scan<'_>) -> Result<bool, &'static str> {
    s.eat(|c| c == b'P');
    if s.eat(|c| c == b'<') {
        // Capture names: RE2 allows only word characters.
        loop {
            match s.next() {
                None => return Err(NAME),
                Some(b'>') => return Ok(true),
                Some(c) if c == b'_' || c.is_ascii_alphanumeric() => {}
                Some(_) => return Err(NAME),
            }
        }
    }
    let mut last = b'?';
    while let Some(c) = s.next() {
        match c {
            // RE2 rejects `(?)`, `(?:` is fine, and a `-` must be followed by a flag.
            b':' | b')' if last == b'-' || (c == b')' && last == b'?') => return Err(FLAGS),
            b':' => return Ok(true),
            b')' => return Ok(false),
            b'm' | b's' | b'U' | b'-' => {}
            // `i` folds Unicode case in RE2 but only ASCII in regex-lite; `x` and `R` are not RE2.
            _ => return Err(FLAGS),
        }
        last = c;
    }
    Err(FLAGS)
}

/// After `{`: the count of a counted repetition `{n}`, `{n,}`, `{n,m}`, through its `}`.
/// Any other `{` is a literal in RE2, which regex-lite may read differently, so such patterns
/// are refused.
fn brace(s: &mut Scan<'_>) -> Result<u64, &'static str> {
    let rest = s.pattern.get(s.pos..).unwrap_or_default();
    let end = rest.iter().take(34).position(|&c| c == b'}');
    let body = end.and_then(|end| rest.get(..end));
    let count = body
        .and_then(|body| std::str::from_utf8(body).ok())
        .and_then(repeat_count)
        .ok_or("literal '{' is not supported")?;
    s.pos += end.unwrap_or(0) + 1;
    Ok(count)
}

/// The count RE2 checks for `{n}`, `{n,}`, `{n,m}` bodies: `m` when given, else `n`.
/// Numbers have no leading zeros (RE2 reads `{01}` as a literal; regex-lite as a count).
/// Absurd counts saturate; they are rejected against `MAX_REPEAT` anyway.
fn repeat_count(body: &str) -> Option<u64> {
    // The number being read, and `n` once the comma is seen.
    let mut number: Option<u64> = None;
    let mut min = None;
    for c in body.bytes() {
        match c {
            b',' if min.is_none() => {
                min = Some(number?);
                number = None;
            }
            b'0'..=b'9' if number != Some(0) => {
                let n = number.unwrap_or(0);
                // Saturating `n * 10 + digit`, without a 128-bit multiplication.
                let tens = if n > u64::MAX / 10 { u64::MAX } else { n * 10 };
                number = Some(tens.saturating_add(u64::from(c - b'0')));
            }
            _ => return None,
        }
    }
    number.or(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) -> Regex {
        compile(p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn refused(p: &str) -> String {
        compile(p).expect_err(p)
    }

    #[test]
    fn posix_classes_work() {
        let re = ok("^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$");
        assert!(re.is_match("/shelves/s1/books/b2"));
        assert!(!re.is_match("/shelves/s-1/books/b2"));
        assert!(ok("[[:^digit:]]").is_match("a"));
        assert!(ok("[^[:alpha:]]x").is_match("1x"));
    }

    #[test]
    fn literal_brackets_like_re2() {
        // Outside `[...]`, `[:alpha:]` is a plain class of the characters `:alph`.
        assert!(ok("^[:alpha:]$").is_match("a"));
        assert!(!ok("^[:alpha:]$").is_match("b"));
        assert!(ok("a}").is_match("a}"));
        assert!(ok("]").is_match("]"));
    }

    #[test]
    fn unanchored_search() {
        assert!(ok("a").is_match("/x/a/b"));
        assert!(ok("^/x").is_match("/x/y"));
        assert!(!ok("^/y").is_match("/x/y"));
    }

    #[test]
    fn common_syntax_accepted() {
        for p in [
            r"^\d+$",
            r"curl/.*",
            r"[^/]+",
            r"a{2}",
            r"a{2,}",
            r"a{2,5}?",
            r"a*?",
            r"a??",
            r"(?:ab)+",
            r"(?P<id>\w+)",
            r"(?m-s:a)",
            r"\x{41}{2}",
            r"[\x{41}-\x{5A}]",
            r"(?<id>\w+)",
            r"(?s).",
            r"(?m)^a$",
            r"(?U)a*",
            r"\.json$",
            r"\/\-\_",
            r"[]a]",
            r"[^]a]",
            r"[a\]b]",
            r"(a|b)|",
            r"\x41\x{263a}",
            r"(a{10}){100}",
            r"^/repos/[^/]+/[^/]+/actions/runs/[^/]+/attempts/[^/]+/jobs/[^/]+/logs$",
            r"^/(?:[a-z0-9_-]+/){1,20}[a-z0-9_.-]{1,200}$",
            r"^*",
            r"\bfoo\B",
            r"\A\z",
        ] {
            ok(p);
        }
    }

    #[test]
    fn space_class_matches_re2() {
        assert!(!ok(r"\s").is_match("\u{b}"));
        assert!(ok(r"a\sb").is_match("a b"));
        assert!(ok(r"\S").is_match("\u{b}"));
        assert!(!ok(r"^\S$").is_match(" "));
        assert!(refused(r"[\s]").contains("inside a class"));
        // The POSIX class includes \v in both engines.
        assert!(ok(r"[[:space:]]").is_match("\u{b}"));
    }

    #[test]
    fn re2_incompatible_refused() {
        for p in [
            r"a**",
            r"a*+",
            r"a+*",
            r"a*??",
            r"a{2}{3}",
            r"a{2}*",
            r"a{1001}",
            r"a{1,1001}",
            r"(a{30}){40}",
            r"((a{10}b){10}){11}",
            r"\<a",
            r"a\>",
            r"\bx\b{end}",
            r"\u0041",
            r"\U00000041",
            r"(?i)abc",
            r"(?x) a",
            r"(?R)a",
            r"(?P<a.b>x)",
            r"a{,5}",
            r"a{x}",
            r"a{",
            r"a{5",
            r"*a",
            r"(*a)",
            r"[a\<]",
            r"(?)a",
            r"(?m-)a",
            r"(?-:a)",
            r"(?m)*",
            r"(?:(a{10})){200}",
            r"(?=a)",
            r"a|*",
            r"x{01}",
        ] {
            refused(p);
        }
    }

    #[test]
    fn invalid_regex_error_names_problem() {
        let e = refused("a(b");
        assert!(e.starts_with("invalid regex \"a(b\""), "{e}");
        assert!(refused(r"\pL").contains("Unicode"));
        assert!(refused("[z-a]").contains("invalid regex"));
        assert!(refused("a**").contains("stacked repetition"));
    }

    #[test]
    fn size_and_nest_limits() {
        assert!(refused(r"\w{1000}\w{1000}\w{1000}").contains("invalid regex"));
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(refused(&deep).contains("invalid regex"));
    }

    #[test]
    fn repeat_count_parsing() {
        assert_eq!(repeat_count("3"), Some(3));
        assert_eq!(repeat_count("3,"), Some(3));
        assert_eq!(repeat_count("3,7"), Some(7));
        assert_eq!(repeat_count(",7"), None);
        assert_eq!(repeat_count("01"), None);
        assert_eq!(repeat_count("0"), Some(0));
        assert_eq!(repeat_count("1,02"), None);
        assert_eq!(repeat_count(""), None);
        assert_eq!(repeat_count("99999999999999999999999"), Some(u64::MAX));
    }
}
