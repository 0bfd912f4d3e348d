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

/// RE2's `\s`, which unlike regex-lite's excludes `\v`.
const RE2_SPACE: &str = r"[\t\n\f\r ]";
const RE2_NOT_SPACE: &str = r"[^\t\n\f\r ]";

/// Checks RE2 compatibility, then compiles. The error text names the regex problem.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    RegexBuilder::new(&translated)
        .size_limit(SIZE_LIMIT)
        .nest_limit(NEST_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex {pattern:?}: {}", last_line(&e.to_string())))
}

/// regex-lite errors are multi-line with the pattern echoed; the last line is the reason.
fn last_line(msg: &str) -> &str {
    msg.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(msg)
        .trim()
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

/// Counted-repetition bookkeeping for one group level.
struct Frame {
    /// Largest count product of any path inside this group so far.
    max_product: u64,
}

/// Walks the pattern once, refusing RE2-incompatible constructs and rewriting `\s`/`\S`.
struct Translator<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    out: String,
    prev: Prev,
    /// Count product of the most recent atom (1 for a plain atom, a group's maximum for groups).
    last_product: u64,
    frames: Vec<Frame>,
}

fn translate(pattern: &str) -> Result<String, String> {
    let mut t = Translator {
        chars: pattern.chars().peekable(),
        out: String::with_capacity(pattern.len()),
        prev: Prev::Nothing,
        last_product: 1,
        frames: vec![Frame { max_product: 1 }],
    };
    t.run()
        .map_err(|why| format!("unsupported regex {pattern:?}: {why}"))?;
    Ok(t.out)
}

impl Translator<'_> {
    fn run(&mut self) -> Result<(), String> {
        while let Some(c) = self.chars.next() {
            match c {
                '\\' => self.escape()?,
                '[' => self.class()?,
                '(' => self.open_group()?,
                ')' => self.close_group(),
                '|' => {
                    self.out.push('|');
                    self.prev = Prev::Nothing;
                }
                '*' | '+' | '?' => self.repeat_op(c)?,
                '{' => self.brace()?,
                _ => self.atom(c),
            }
        }
        Ok(())
    }

    fn atom(&mut self, c: char) {
        self.out.push(c);
        self.set_atom(1);
    }

    /// Records an atom; `product` is the count product inside it (a group's maximum).
    fn set_atom(&mut self, product: u64) {
        self.prev = Prev::Atom;
        self.last_product = product;
        if let Some(frame) = self.frames.last_mut() {
            frame.max_product = frame.max_product.max(product);
        }
    }

    fn escape(&mut self) -> Result<(), String> {
        let Some(c) = self.chars.next() else {
            return Err("trailing backslash".into());
        };
        match c {
            '<' | '>' => return Err(format!("'\\{c}' means a word boundary only outside RE2")),
            'u' | 'U' => return Err(format!("'\\{c}' escapes are not RE2 syntax")),
            'b' if self.chars.peek() == Some(&'{') => {
                return Err("'\\b{...}' boundaries are not RE2 syntax".into())
            }
            's' => self.out.push_str(RE2_SPACE),
            'S' => self.out.push_str(RE2_NOT_SPACE),
            // Copied whole so that `\x{41}` is not mistaken for a counted repetition.
            'x' => {
                self.out.push_str("\\x");
                self.hex_escape_body();
            }
            _ => {
                self.out.push('\\');
                self.out.push(c);
            }
        }
        self.set_atom(1);
        Ok(())
    }

    /// After `\x`: either `{hex}` or two hex digits (regex-lite validates them).
    fn hex_escape_body(&mut self) {
        if self.chars.peek() == Some(&'{') {
            self.copy_until("}");
            return;
        }
        for _ in 0..2 {
            if let Some(c) = self.chars.next_if(char::is_ascii_hexdigit) {
                self.out.push(c);
            }
        }
    }

    /// Copies a bracketed class verbatim up to its closing `]`.
    fn class(&mut self) -> Result<(), String> {
        self.out.push('[');
        if self.chars.peek() == Some(&'^') {
            self.chars.next();
            self.out.push('^');
        }
        // A `]` right after `[` or `[^` is a literal in both engines.
        if self.chars.peek() == Some(&']') {
            self.chars.next();
            self.out.push(']');
        }
        loop {
            let Some(c) = self.chars.next() else {
                return Err("missing closing ']'".into());
            };
            self.out.push(c);
            match c {
                ']' => break,
                '\\' => self.class_escape()?,
                // POSIX classes such as `[:alnum:]` contain no `]` until their own `:]`.
                '[' if self.chars.peek() == Some(&':') => self.copy_until(":]"),
                _ => {}
            }
        }
        self.set_atom(1);
        Ok(())
    }

    fn class_escape(&mut self) -> Result<(), String> {
        match self.chars.next() {
            None => Err("trailing backslash".into()),
            Some(c @ ('s' | 'S')) => Err(format!("'\\{c}' inside a class differs from RE2")),
            Some(c @ ('<' | '>' | 'u' | 'U')) => Err(format!("'\\{c}' is not RE2 syntax")),
            Some(c) => {
                self.out.push(c);
                Ok(())
            }
        }
    }

    /// Copies characters through the first occurrence of `end` (or to the end of input).
    fn copy_until(&mut self, end: &str) {
        for c in self.chars.by_ref() {
            self.out.push(c);
            if self.out.ends_with(end) {
                return;
            }
        }
    }

    fn open_group(&mut self) -> Result<(), String> {
        self.out.push('(');
        if self.chars.peek() == Some(&'?') {
            self.chars.next();
            self.out.push('?');
            if !self.group_prefix()? {
                // `(?flags)` applies to the rest of the enclosing group and is not an atom.
                self.prev = Prev::Nothing;
                return Ok(());
            }
        }
        self.frames.push(Frame { max_product: 1 });
        self.prev = Prev::Nothing;
        Ok(())
    }

    /// After `(?`: a capture name or flags. Returns false for a bare `(?flags)` (no group body).
    fn group_prefix(&mut self) -> Result<bool, String> {
        if self.chars.peek() == Some(&'P') {
            self.chars.next();
            self.out.push('P');
        }
        if self.chars.peek() == Some(&'<') {
            self.chars.next();
            self.out.push('<');
            return self.capture_name().map(|()| true);
        }
        let mut last = '?';
        for c in self.chars.by_ref() {
            self.out.push(c);
            match c {
                // RE2 rejects `(?)`, `(?:` is fine, and a `-` must be followed by a flag.
                ':' | ')' if last == '-' || (c == ')' && last == '?') => {
                    return Err("missing flag in group".into())
                }
                ':' => return Ok(true),
                ')' => return Ok(false),
                'm' | 's' | 'U' | '-' => {}
                'i' => return Err("case-insensitive '(?i)' folds Unicode case in RE2".into()),
                _ => return Err(format!("flag or group syntax '(?{c}' is not supported")),
            }
            last = c;
        }
        Err("missing closing ')'".into())
    }

    fn capture_name(&mut self) -> Result<(), String> {
        for c in self.chars.by_ref() {
            self.out.push(c);
            if c == '>' {
                return Ok(());
            }
            if !(c == '_' || c.is_ascii_alphanumeric()) {
                return Err(format!("invalid character {c:?} in capture group name"));
            }
        }
        Err("unterminated capture group name".into())
    }

    fn close_group(&mut self) {
        self.out.push(')');
        // An unbalanced `)` is left for regex-lite to reject.
        let inner = if self.frames.len() > 1 {
            self.frames.pop()
        } else {
            None
        };
        let product = inner.map_or(1, |f| f.max_product);
        self.set_atom(product);
    }

    fn repeat_op(&mut self, c: char) -> Result<(), String> {
        self.out.push(c);
        match (self.prev, c) {
            (Prev::Repeat, '?') => {
                self.prev = Prev::LazyRepeat;
                Ok(())
            }
            (Prev::Atom, _) => {
                self.prev = Prev::Repeat;
                Ok(())
            }
            (Prev::Nothing, _) => Err(format!("missing argument to repetition operator '{c}'")),
            _ => Err(format!("stacked repetition operator '{c}'")),
        }
    }

    /// `{n}`, `{n,}`, `{n,m}` is a counted repetition; any other `{` is a literal in RE2,
    /// which regex-lite may read differently, so such patterns are refused.
    fn brace(&mut self) -> Result<(), String> {
        let mut body = String::new();
        let mut closed = false;
        for c in self.chars.by_ref() {
            if c == '}' {
                closed = true;
                break;
            }
            if body.len() > 32 {
                break;
            }
            body.push(c);
        }
        let count = if closed { repeat_count(&body) } else { None };
        let Some(count) = count else {
            return Err("literal '{' is not supported".into());
        };
        self.out.push('{');
        self.out.push_str(&body);
        self.out.push('}');
        match self.prev {
            Prev::Atom => self.prev = Prev::Repeat,
            Prev::Nothing => return Err("missing argument to repetition operator '{'".into()),
            _ => return Err("stacked repetition operator '{'".into()),
        }
        self.count_repeat(count)
    }

    /// Applies RE2's limit: along any nesting path, counted repetitions multiply to <= 1000.
    fn count_repeat(&mut self, count: u64) -> Result<(), String> {
        if count > MAX_REPEAT {
            return Err(format!("repetition count above {MAX_REPEAT}"));
        }
        if count > 0 {
            self.last_product = self.last_product.saturating_mul(count);
        }
        if self.last_product > MAX_REPEAT {
            return Err(format!("nested repetition counts exceed {MAX_REPEAT}"));
        }
        if let Some(frame) = self.frames.last_mut() {
            frame.max_product = frame.max_product.max(self.last_product);
        }
        Ok(())
    }
}

/// The count RE2 checks for `{n}`, `{n,}`, `{n,m}` bodies: `m` when given, else `n`.
fn repeat_count(body: &str) -> Option<u64> {
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // RE2 reads `{01}` as a literal (no leading zeros); regex-lite as a count.
        if s.len() > 1 && s.starts_with('0') {
            return None;
        }
        // Saturate absurd counts; they are rejected against MAX_REPEAT anyway.
        Some(s.parse::<u64>().unwrap_or(u64::MAX))
    };
    match body.split_once(',') {
        None => number(body),
        Some((min, "")) => number(min),
        Some((min, max)) => {
            number(min)?;
            number(max)
        }
    }
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
