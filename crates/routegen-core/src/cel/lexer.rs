//! Tokenizer for CEL source, following the CEL grammar's lexical rules (cel-spec `CEL.g4`).
//!
//! Tokens the subset does not support (arithmetic, `?:`, `{}`) are still produced so that the
//! parser can reject them with a precise message; floats and bytes literals are rejected here.
//! The parser pulls tokens one at a time. The lexer works on bytes: every character with a
//! meaning is ASCII, so slices taken at those bytes always fall on character boundaries.

use super::parser::{error, malformed, ParseError};

/// One lexical token; identifiers borrow the source.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok<'a> {
    Ident(&'a str),
    /// Magnitude of a signed integer literal; the parser applies any leading `-`.
    Int(u64),
    /// An unsigned (`u`-suffixed) integer literal.
    Uint(u64),
    Str(String),
    /// Operators and punctuation, as written.
    Punct(&'static str),
    Eof,
}

/// Multi-character operators first so that `<=` is not read as `<` then `=`.
const PUNCTS: [&str; 24] = [
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "-", "+", "*", "/", "%", "?", ":", "(", ")", "[", "]", "{", "}",
    ".", ",",
];

/// Simple escapes: the letter after `\` and the character it denotes, pair by pair.
const SIMPLE_ESCAPES: &[u8] = b"a\x07b\x08f\x0cn\nr\rt\tv\x0b\\\\??\"\"''``";

const FLOAT: &str = "floating-point literals are not supported";
const UNTERMINATED: &str = "unterminated string literal";

/// The character starting at byte `at` of `src`, as a string (empty at the end).
fn char_at(src: &str, at: usize) -> &str {
    let end = (at.saturating_add(1)..src.len()).find(|&i| src.is_char_boundary(i));
    src.get(at..end.unwrap_or(src.len())).unwrap_or("")
}

/// A cursor over the source; `next` yields one token at a time.
pub struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next unread byte.
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    /// The source from byte `start` up to the current position (after the last token read).
    pub fn text_from(&self, start: usize) -> &'a str {
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// The byte `n` places ahead, if any.
    fn at(&self, n: usize) -> Option<u8> {
        self.src.as_bytes().get(self.pos.saturating_add(n)).copied()
    }

    fn is_digit_at(&self, n: usize) -> bool {
        self.at(n).is_some_and(|c| c.is_ascii_digit())
    }

    fn skip(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n);
    }

    /// The next token and the byte offset where it starts; `Tok::Eof` at the end.
    /// Whitespace and `//` line comments are insignificant in CEL.
    pub fn next(&mut self) -> Result<(usize, Tok<'a>), ParseError> {
        loop {
            match self.at(0) {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') => self.skip(1),
                Some(b'/') if self.at(1) == Some(b'/') => {
                    while !matches!(self.at(0), None | Some(b'\n')) {
                        self.skip(1);
                    }
                }
                _ => break,
            }
        }
        let start = self.pos;
        let tok = self.token(start)?;
        Ok((start, tok))
    }

    fn token(&mut self, start: usize) -> Result<Tok<'a>, ParseError> {
        let Some(c) = self.at(0) else {
            return Ok(Tok::Eof);
        };
        if c == b'_' || c.is_ascii_alphabetic() {
            while self.at(0).is_some_and(|c| c == b'_' || c.is_ascii_alphanumeric()) {
                self.skip(1);
            }
            let word = self.src.get(start..self.pos).unwrap_or("");
            // A string literal may have an `r` (raw) or `b` (bytes) prefix.
            if matches!(self.at(0), Some(b'\'' | b'"')) {
                // Which of the letters r (1) and b (2), in either case, the word has (4: others).
                let letters = word.bytes().fold(0, |set, c| {
                    set | match c | 0x20 {
                        b'r' => 1,
                        b'b' => 2,
                        _ => 4,
                    }
                });
                match (word.len(), letters) {
                    (1, 1) => return self.string(start, true).map(Tok::Str),
                    (1, 2) | (2, 3) => return Err(error(start, &["bytes literals are not supported"])),
                    _ => {}
                }
            }
            return Ok(Tok::Ident(word));
        }
        if c.is_ascii_digit() {
            return self.number(start);
        }
        if c == b'.' && self.is_digit_at(1) {
            return Err(error(start, &[FLOAT]));
        }
        if c == b'\'' || c == b'"' {
            return self.string(start, false).map(Tok::Str);
        }
        let rest = self.src.get(start..).unwrap_or("");
        if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            self.skip(p.len());
            return Ok(Tok::Punct(p));
        }
        Err(error(start, &["unexpected character '", char_at(self.src, start), "'"]))
    }

    /// Decimal or hex integer, optional `u` suffix. Floats are rejected.
    fn number(&mut self, start: usize) -> Result<Tok<'a>, ParseError> {
        let hex = self.at(0) == Some(b'0')
            && matches!(self.at(1), Some(b'x' | b'X'))
            && self.at(2).is_some_and(|c| c.is_ascii_hexdigit());
        if hex {
            self.skip(2);
        }
        let (value, _) = self.digits(if hex { 16 } else { 10 }, usize::MAX);
        // After decimal digits, `.5` or `e10` / `e-3` make the literal a float.
        let exponent_digit = match self.at(1) {
            Some(b'+' | b'-') => 2,
            _ => 1,
        };
        let float = match self.at(0) {
            Some(b'.') => self.is_digit_at(1),
            Some(b'e' | b'E') => self.is_digit_at(exponent_digit),
            _ => false,
        };
        if !hex && float {
            return Err(error(start, &[FLOAT]));
        }
        let Some(value) = value else {
            return Err(error(start, &["integer literal out of range"]));
        };
        if matches!(self.at(0), Some(b'u' | b'U')) {
            self.skip(1);
            return Ok(Tok::Uint(value));
        }
        Ok(Tok::Int(value))
    }

    /// Reads up to `max` digits in `radix`: their value (`None` on overflow) and count.
    fn digits(&mut self, radix: u32, max: usize) -> (Option<u64>, usize) {
        let mut value = Some(0u64);
        let mut count = 0;
        while count < max {
            let Some(d) = self.at(0).and_then(|c| char::from(c).to_digit(radix)) else {
                break;
            };
            self.skip(1);
            count += 1;
            let (radix, d) = (u64::from(radix), u64::from(d));
            // `v * radix + d` unless that overflows (checked by division: a 64-bit
            // `checked_mul` would pull a 128-bit multiplication into the wasm module).
            value = value.filter(|&v| v <= (u64::MAX - d) / radix).map(|v| v * radix + d);
        }
        (value, count)
    }

    /// A quoted string starting at the current quote (single, double, or tripled).
    /// `start` is where the literal (including any prefix) began, for error messages.
    fn string(&mut self, start: usize, raw: bool) -> Result<String, ParseError> {
        let quote = self.at(0);
        let triple = self.at(1) == quote && self.at(2) == quote;
        let quote_len = if triple { 3 } else { 1 };
        self.skip(quote_len);
        let mut out = String::new();
        // Start of the run of plain characters not yet copied to `out`.
        let mut run = self.pos;
        loop {
            let at = self.pos;
            let c = self.at(0);
            let closes = c == quote && (!triple || (self.at(1) == quote && self.at(2) == quote));
            let escape = c == Some(b'\\') && !raw;
            if closes || escape {
                out.push_str(self.src.get(run..at).unwrap_or(""));
            }
            match c {
                None => return Err(malformed(start, &[UNTERMINATED])),
                Some(b'\n' | b'\r') if !triple => return Err(malformed(at, &["newline in string literal"])),
                _ if closes => {
                    self.skip(quote_len);
                    return Ok(out);
                }
                _ if escape => {
                    self.skip(1);
                    out.push(self.escape(at)?);
                    run = self.pos;
                }
                _ => self.skip(1),
            }
        }
    }

    /// Decodes the escape after a backslash at byte `at` (CEL escape rules: in string
    /// literals, `\x`/octal escapes denote code points, not bytes).
    fn escape(&mut self, at: usize) -> Result<char, ParseError> {
        let Some(c) = self.at(0) else {
            return Err(malformed(at, &[UNTERMINATED]));
        };
        if let Some(pair) = SIMPLE_ESCAPES.chunks(2).find(|pair| pair.first() == Some(&c)) {
            self.skip(1);
            return Ok(char::from(pair.get(1).copied().unwrap_or(c)));
        }
        let (radix, count) = match c {
            b'x' | b'X' => (16, 2),
            b'u' => (16, 4),
            b'U' => (16, 8),
            // Octal: this digit and two more.
            b'0'..=b'3' => (8, 3),
            _ => {
                let c = char_at(self.src, self.pos);
                return Err(malformed(at, &["invalid escape sequence '\\", c, "'"]));
            }
        };
        if radix == 16 {
            self.skip(1);
        }
        let (code, n) = self.digits(radix, count);
        if n < count {
            return Err(malformed(at, &["malformed escape sequence"]));
        }
        code.and_then(|code| u32::try_from(code).ok())
            .and_then(char::from_u32)
            .ok_or_else(|| malformed(at, &["invalid code point in escape sequence"]))
    }
}

/// A token and the byte offset where it starts.
#[cfg(test)]
#[derive(Debug)]
pub struct Token<'a> {
    pub tok: Tok<'a>,
    pub offset: usize,
}

/// Splits `src` into tokens, ending with `Tok::Eof`.
#[cfg(test)]
pub fn tokenize(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let mut lexer = Lexer::new(src);
    let mut out = Vec::new();
    loop {
        let (offset, tok) = lexer.next()?;
        let done = tok == Tok::Eof;
        out.push(Token { tok, offset });
        if done {
            return Ok(out);
        }
    }
}

#[cfg(test)]
// Identifiers now borrow the source; the expected tokens below were written for `String`.
#[allow(clippy::useless_conversion)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    fn one_str(src: &str) -> String {
        match toks(src).as_slice() {
            [Tok::Str(s), Tok::Eof] => s.clone(),
            other => panic!("not a single string: {other:?}"),
        }
    }

    fn err(src: &str) -> String {
        tokenize(src).unwrap_err().message
    }

    #[test]
    fn operators_and_idents() {
        assert_eq!(
            toks("a<=b && !c || d>=e != f == g < h > i"),
            vec![
                Tok::Ident("a".into()),
                Tok::Punct("<="),
                Tok::Ident("b".into()),
                Tok::Punct("&&"),
                Tok::Punct("!"),
                Tok::Ident("c".into()),
                Tok::Punct("||"),
                Tok::Ident("d".into()),
                Tok::Punct(">="),
                Tok::Ident("e".into()),
                Tok::Punct("!="),
                Tok::Ident("f".into()),
                Tok::Punct("=="),
                Tok::Ident("g".into()),
                Tok::Punct("<"),
                Tok::Ident("h".into()),
                Tok::Punct(">"),
                Tok::Ident("i".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn offsets_are_byte_offsets() {
        let t = tokenize("  ab  'é' x").unwrap();
        let offs: Vec<usize> = t.iter().map(|t| t.offset).collect();
        assert_eq!(offs, vec![2, 6, 11, 12]);
    }

    #[test]
    fn integers() {
        assert_eq!(toks("200"), vec![Tok::Int(200), Tok::Eof]);
        assert_eq!(toks("0x1F"), vec![Tok::Int(31), Tok::Eof]);
        assert_eq!(toks("0X1f"), vec![Tok::Int(31), Tok::Eof]);
        assert_eq!(toks("200u"), vec![Tok::Uint(200), Tok::Eof]);
        assert_eq!(toks("0x10U"), vec![Tok::Uint(16), Tok::Eof]);
        assert_eq!(toks("18446744073709551615"), vec![Tok::Int(u64::MAX), Tok::Eof]);
        assert_eq!(err("18446744073709551616"), "integer literal out of range");
        assert_eq!(err("0xFFFFFFFFFFFFFFFFF"), "integer literal out of range");
    }

    #[test]
    fn floats_rejected() {
        for src in ["1.5", "1e3", "1E-3", "2e+1", ".5"] {
            assert_eq!(err(src), "floating-point literals are not supported", "{src}");
        }
        // `1.size()` is an int followed by a member access, not a float.
        assert_eq!(toks("1.a")[..2], [Tok::Int(1), Tok::Punct(".")]);
    }

    #[test]
    fn string_quotes() {
        assert_eq!(one_str("'abc'"), "abc");
        assert_eq!(one_str("\"abc\""), "abc");
        assert_eq!(one_str("''"), "");
        assert_eq!(one_str("'''a'b\nc'''"), "a'b\nc");
        assert_eq!(one_str("\"\"\"x\"\"y\"\"\""), "x\"\"y");
    }

    #[test]
    fn string_escapes() {
        assert_eq!(one_str(r"'it\'s'"), "it's");
        assert_eq!(one_str(r#""a\"b""#), "a\"b");
        assert_eq!(one_str(r"'\n\t\\'"), "\n\t\\");
        assert_eq!(one_str(r"'\x41'"), "A");
        assert_eq!(one_str(r"'\X41'"), "A");
        assert_eq!(one_str(r"'\u00e9'"), "é");
        assert_eq!(one_str(r"'\U0001F600'"), "😀");
        assert_eq!(one_str(r"'\101'"), "A");
        assert_eq!(one_str(r"'\xff'"), "\u{ff}");
        assert_eq!(one_str(r"'\a\b\f\v\r\?\`'"), "\u{7}\u{8}\u{c}\u{b}\r?`");
    }

    #[test]
    fn bad_escapes() {
        assert!(err(r"'\q'").starts_with("invalid escape"));
        assert_eq!(err(r"'\x4'"), "malformed escape sequence");
        assert_eq!(err(r"'\400'"), "invalid escape sequence '\\4'");
        assert!(err(r"'\ud800'").contains("invalid code point"));
        assert!(err(r"'\U00110000'").contains("invalid code point"));
    }

    #[test]
    fn raw_strings() {
        assert_eq!(one_str(r"r'^\d+$'"), r"^\d+$");
        assert_eq!(one_str(r#"R"\n""#), r"\n");
        assert_eq!(one_str(r"r'\'"), "\\");
        assert_eq!(one_str(r"r'''a\'b'''"), r"a\'b");
    }

    #[test]
    fn string_errors() {
        assert_eq!(err("'abc"), "unterminated string literal");
        assert_eq!(err("'a\nb'"), "newline in string literal");
        assert_eq!(err("b'abc'"), "bytes literals are not supported");
        assert_eq!(err("rb'abc'"), "bytes literals are not supported");
    }

    #[test]
    fn comments_and_unknown_chars() {
        assert_eq!(toks("a // comment\n"), vec![Tok::Ident("a".into()), Tok::Eof]);
        assert!(err("a = b").contains("unexpected character '='"));
        assert!(err("a & b").contains("unexpected character '&'"));
        assert!(err("a # b").contains("unexpected character '#'"));
    }
}
