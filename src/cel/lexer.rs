//! Tokenizer for CEL source, following the CEL grammar's lexical rules (cel-spec `CEL.g4`).
//!
//! Tokens the subset does not support (arithmetic, `?:`, `{}`) are still produced so that the
//! parser can reject them with a precise message; floats and bytes literals are rejected here.

use super::parser::ParseError;

/// One lexical token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Ident(String),
    /// Magnitude of a signed integer literal; the parser applies any leading `-`.
    Int(u64),
    /// An unsigned (`u`-suffixed) integer literal.
    Uint(u64),
    Str(String),
    /// Operators and punctuation, as written.
    Punct(&'static str),
    Eof,
}

/// A token and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub offset: usize,
}

/// Multi-character operators first so that `<=` is not read as `<` then `=`.
const PUNCTS: [&str; 24] = [
    "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "-", "+", "*", "/", "%", "?", ":", "(", ")",
    "[", "]", "{", "}", ".", ",",
];

/// Splits `src` into tokens, ending with `Tok::Eof`.
pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut out = Vec::new();
    loop {
        lexer.skip_trivia();
        let offset = lexer.pos;
        let tok = lexer.next_token()?;
        let done = tok == Tok::Eof;
        out.push(Token { tok, offset });
        if done {
            return Ok(out);
        }
    }
}

struct Lexer<'a> {
    src: &'a str,
    /// Byte offset of the next unread character (always on a char boundary).
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_nth(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos = self.pos.saturating_add(c.len_utf8());
        Some(c)
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            offset,
            message: message.into(),
        }
    }

    /// Skips whitespace and `//` line comments (both are insignificant in CEL).
    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\n' | '\r' | '\u{c}') => {
                    self.bump();
                }
                Some('/') if self.peek_nth(1) == Some('/') => {
                    while !matches!(self.bump(), None | Some('\n')) {}
                }
                _ => return,
            }
        }
    }

    fn next_token(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Tok::Eof);
        };
        if c == '_' || c.is_ascii_alphabetic() {
            return self.ident_or_prefixed_string();
        }
        if c.is_ascii_digit() {
            return self.number();
        }
        if c == '.' && self.peek_nth(1).is_some_and(|d| d.is_ascii_digit()) {
            return Err(self.error(start, "floating-point literals are not supported"));
        }
        if c == '\'' || c == '"' {
            return self.string(start, false).map(Tok::Str);
        }
        let rest = self.rest();
        if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            self.pos = self.pos.saturating_add(p.len());
            return Ok(Tok::Punct(p));
        }
        Err(self.error(start, format!("unexpected character {c:?}")))
    }

    /// An identifier, or a string literal with an `r`/`b` prefix.
    fn ident_or_prefixed_string(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
        {
            self.bump();
        }
        let word = self.src.get(start..self.pos).unwrap_or("");
        if !matches!(self.peek(), Some('\'' | '"')) {
            return Ok(Tok::Ident(word.to_string()));
        }
        match word {
            "r" | "R" => self.string(start, true).map(Tok::Str),
            "b" | "B" | "rb" | "rB" | "Rb" | "RB" | "br" | "bR" | "Br" | "BR" => {
                Err(self.error(start, "bytes literals are not supported"))
            }
            _ => Ok(Tok::Ident(word.to_string())),
        }
    }

    /// Decimal or hex integer, optional `u` suffix. Floats are rejected.
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.pos;
        let hex = self.peek() == Some('0')
            && matches!(self.peek_nth(1), Some('x' | 'X'))
            && self.peek_nth(2).is_some_and(|c| c.is_ascii_hexdigit());
        let radix = if hex { 16 } else { 10 };
        if hex {
            self.bump();
            self.bump();
        }
        let digits_start = self.pos;
        while self.peek().is_some_and(|c| c.is_digit(radix)) {
            self.bump();
        }
        let digits = self.src.get(digits_start..self.pos).unwrap_or("");
        if !hex && self.looks_like_float_tail() {
            return Err(self.error(start, "floating-point literals are not supported"));
        }
        let value = u64::from_str_radix(digits, radix)
            .map_err(|_| self.error(start, "integer literal out of range"))?;
        if matches!(self.peek(), Some('u' | 'U')) {
            self.bump();
            return Ok(Tok::Uint(value));
        }
        Ok(Tok::Int(value))
    }

    /// After decimal digits: `.5` or `e10` / `e-3` make the literal a float.
    fn looks_like_float_tail(&self) -> bool {
        match self.peek() {
            Some('.') => self.peek_nth(1).is_some_and(|c| c.is_ascii_digit()),
            Some('e' | 'E') => match self.peek_nth(1) {
                Some('+' | '-') => self.peek_nth(2).is_some_and(|c| c.is_ascii_digit()),
                Some(c) => c.is_ascii_digit(),
                None => false,
            },
            _ => false,
        }
    }

    /// A quoted string starting at the current quote (single, double, or tripled).
    /// `start` is where the literal (including any prefix) began, for error messages.
    fn string(&mut self, start: usize, raw: bool) -> Result<String, ParseError> {
        let quote = self.bump().unwrap_or('"');
        let triple = self.peek() == Some(quote) && self.peek_nth(1) == Some(quote);
        if triple {
            self.bump();
            self.bump();
        }
        let mut out = String::new();
        loop {
            let at = self.pos;
            let Some(c) = self.bump() else {
                return Err(self.error(start, "unterminated string literal"));
            };
            if c == quote {
                if !triple {
                    return Ok(out);
                }
                if self.peek() == Some(quote) && self.peek_nth(1) == Some(quote) {
                    self.bump();
                    self.bump();
                    return Ok(out);
                }
            }
            if !triple && (c == '\n' || c == '\r') {
                return Err(self.error(at, "newline in string literal"));
            }
            if c == '\\' && !raw {
                out.push(self.escape(at)?);
            } else {
                out.push(c);
            }
        }
    }

    /// Decodes the escape after a backslash at byte `at` (CEL escape rules: in string
    /// literals, `\x`/octal escapes denote code points, not bytes).
    fn escape(&mut self, at: usize) -> Result<char, ParseError> {
        let Some(c) = self.bump() else {
            return Err(self.error(at, "unterminated string literal"));
        };
        let simple = match c {
            '\\' | '?' | '"' | '\'' | '`' => Some(c),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(ch) = simple {
            return Ok(ch);
        }
        let code = match c {
            'x' | 'X' => self.digits(at, 2, 16)?,
            'u' => self.digits(at, 4, 16)?,
            'U' => self.digits(at, 8, 16)?,
            '0'..='3' => {
                let high = c.to_digit(8).unwrap_or(0);
                let low = self.digits(at, 2, 8)?;
                high.saturating_mul(64).saturating_add(low)
            }
            _ => return Err(self.error(at, format!("invalid escape sequence '\\{c}'"))),
        };
        char::from_u32(code).ok_or_else(|| {
            self.error(
                at,
                format!("escape denotes an invalid code point {code:#x}"),
            )
        })
    }

    /// Exactly `count` digits in `radix`, as a number.
    fn digits(&mut self, at: usize, count: usize, radix: u32) -> Result<u32, ParseError> {
        let mut value: u32 = 0;
        for _ in 0..count {
            let digit = self.peek().and_then(|c| c.to_digit(radix));
            let Some(d) = digit else {
                return Err(self.error(at, "malformed escape sequence"));
            };
            self.bump();
            value = value.saturating_mul(radix).saturating_add(d);
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
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
        assert_eq!(
            toks("18446744073709551615"),
            vec![Tok::Int(u64::MAX), Tok::Eof]
        );
        assert_eq!(err("18446744073709551616"), "integer literal out of range");
        assert_eq!(err("0xFFFFFFFFFFFFFFFFF"), "integer literal out of range");
    }

    #[test]
    fn floats_rejected() {
        for src in ["1.5", "1e3", "1E-3", "2e+1", ".5"] {
            assert_eq!(
                err(src),
                "floating-point literals are not supported",
                "{src}"
            );
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
        assert_eq!(
            toks("a // comment\n"),
            vec![Tok::Ident("a".into()), Tok::Eof]
        );
        assert!(err("a = b").contains("unexpected character '='"));
        assert!(err("a & b").contains("unexpected character '&'"));
        assert!(err("a # b").contains("unexpected character '#'"));
    }
}
