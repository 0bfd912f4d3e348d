//! Recursive-descent parser for the CEL subset.
//!
//! Grammar (CEL precedence, lowest first):
//! ```text
//! expr     = and ("||" and)*
//! and      = relation ("&&" relation)*
//! relation = operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand | "in" list)*
//! operand  = "!"* member | "-"+ int-literal
//! member   = primary ("." method "(" args ")")*
//! primary  = literal | "(" expr ")" | attribute | header | "size" "(" expr ")"
//! list     = "[" (expr ("," expr)* ","?)? "]"
//! ```
//! Everything outside this grammar is a `ParseError`, so the caller can hand the condition
//! to Envoy's own CEL engine instead of evaluating it wrongly.
//!
//! Depth is bounded twice: parser recursion (parentheses, lists, call arguments) and the
//! depth of the built tree (which the evaluator and `Drop` walk recursively) are both
//! limited to `MAX_DEPTH`. Long `&&`/`||` chains are built as balanced trees, as cel-cpp's
//! parser does, so they stay shallow. Nodes are boxed as soon as they are built and the
//! recursion goes through few functions, to keep the stack used per nesting level small.
//!
//! Parsing functions return `None` on failure after recording the error (see
//! `Parser::fail`); the first error recorded, including one from the lexer, is reported.

use std::fmt;

use super::ast::{Attr, CmpOp, Expr, Matcher, StrFn, Value};
use super::lexer::{Lexer, Tok};
use super::regex;

/// Maximum parser nesting and maximum depth of the resulting tree.
pub const MAX_DEPTH: usize = 64;
const TOO_DEEP: &str = "condition nests too deeply (limit 64)";
const _: () = assert!(MAX_DEPTH == 64, "update TOO_DEEP");
const OUT_OF_RANGE: &str = "integer literal out of range";

/// Why a condition is outside the supported subset (or not CEL at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the source where the problem was found.
    pub offset: usize,
    pub message: String,
    /// Not CEL at all, so Envoy's CEL rejects it too: the condition stops in the middle of an
    /// expression, or a string literal is broken. Other errors may be valid CEL outside the
    /// subset, which only Envoy can decide.
    pub malformed: bool,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.offset.saturating_add(1), self.message)
    }
}

impl std::error::Error for ParseError {}

/// The one way errors are built: the message is the concatenation of `parts`.
#[cold]
#[inline(never)]
pub(super) fn error(offset: usize, parts: &[&str]) -> ParseError {
    ParseError { offset, message: parts.concat(), malformed: false }
}

/// An error that makes the text no CEL at all (see [`ParseError::malformed`]).
#[cold]
#[inline(never)]
pub(super) fn malformed(offset: usize, parts: &[&str]) -> ParseError {
    ParseError { malformed: true, ..error(offset, parts) }
}

/// Parses a condition. Empty (or whitespace-only) source is an error: the caller decides
/// what an empty condition means.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let mut parser = Parser { lexer: Lexer::new(source), tok: Tok::Eof, offset: 0, err: None, depth: 0 };
    parser.bump();
    let expr = parser.expr(0);
    if !matches!(parser.tok, Tok::Eof) {
        parser.unexpected::<()>("expected end of condition");
    }
    match (expr, parser.err) {
        (Some(expr), None) => Ok(*expr),
        // Stopped at the end of the text: an expression was left unfinished.
        (_, Some(e)) if e.offset >= source.trim_end().len() => Err(ParseError { malformed: true, ..e }),
        (_, Some(e)) => Err(e),
        (None, None) => Err(error(0, &["invalid condition"])),
    }
}

/// What parsing functions return: the boxed tree (its depth is in `Parser::depth`), or
/// `None` after recording an error.
type Parsed = Option<Box<Expr>>;

/// Methods on strings taking one string argument (besides `size` and `matches`).
const STR_FNS: [StrFn; 3] = [StrFn::StartsWith, StrFn::EndsWith, StrFn::Contains];

const CMP_OPS: [CmpOp; 6] = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];

struct Parser<'a> {
    /// Positioned just after the current token.
    lexer: Lexer<'a>,
    /// The current token and its byte offset.
    tok: Tok<'a>,
    offset: usize,
    /// The first error; once set, parsing fails.
    err: Option<ParseError>,
    /// The depth of the tree a parsing function last returned, so that depth is checked as
    /// the tree is built.
    depth: usize,
}

impl<'a> Parser<'a> {
    // ----- tokens -----

    /// Moves to the next token and returns the current one. A lexer error is recorded and
    /// read as the end of input, which no rule accepts.
    fn bump(&mut self) -> Tok<'a> {
        let (offset, next) = match self.lexer.next() {
            Ok(next) => next,
            Err(e) => {
                let offset = e.offset;
                self.record(e);
                (offset, Tok::Eof)
            }
        };
        self.offset = offset;
        std::mem::replace(&mut self.tok, next)
    }

    fn is(&self, p: &str) -> bool {
        matches!(self.tok, Tok::Punct(q) if q == p)
    }

    fn eat(&mut self, p: &str) -> bool {
        let found = self.is(p);
        if found {
            self.bump();
        }
        found
    }

    fn expect_punct(&mut self, p: &str) -> Option<()> {
        if self.eat(p) {
            return Some(());
        }
        self.unexpected(&["expected '", p, "'"].concat())
    }

    // ----- errors -----

    fn record(&mut self, e: ParseError) {
        self.err.get_or_insert(e);
    }

    /// Records an error (see `error`) and fails.
    fn fail<T>(&mut self, offset: usize, parts: &[&str]) -> Option<T> {
        self.record(error(offset, parts));
        None
    }

    /// Fails at the current token, which cannot continue the condition: unsupported
    /// operators are named, anything else is reported as `<context>, found <token>`.
    fn unexpected<T>(&mut self, context: &str) -> Option<T> {
        self.report_unexpected(context);
        None
    }

    #[cold]
    #[inline(never)]
    fn report_unexpected(&mut self, context: &str) {
        let offset = self.offset;
        let text = self.lexer.text_from(offset);
        let parts: &[&str] = match text.as_bytes() {
            b"?" => &["'?:' is not supported"],
            [b'+' | b'-' | b'*' | b'/' | b'%'] => &["arithmetic operator '", text, "' is not supported"],
            [] => &[context, ", found end of condition"],
            _ => &[context, ", found '", text, "'"],
        };
        self.record(error(offset, parts));
    }

    /// Boxes `expr`, whose deepest child has depth `child_depth`, enforcing `MAX_DEPTH`.
    fn node(&mut self, offset: usize, expr: Expr, child_depth: usize) -> Parsed {
        if child_depth >= MAX_DEPTH {
            return self.fail(offset, &[TOO_DEEP]);
        }
        self.depth = child_depth + 1;
        Some(Box::new(expr))
    }

    fn leaf(&mut self, expr: Expr) -> Parsed {
        self.node(0, expr, 0)
    }

    // ----- grammar -----

    /// `||` over `&&` groups; both levels in one function to save a stack frame per nesting.
    fn expr(&mut self, nesting: usize) -> Parsed {
        let offset = self.offset;
        if nesting > MAX_DEPTH {
            return self.fail(offset, &[TOO_DEEP]);
        }
        let mut alternatives = Vec::new();
        loop {
            let and_offset = self.offset;
            let mut conjuncts = Vec::new();
            loop {
                let relation = self.relation(nesting)?;
                self.push_balanced(and_offset, &mut conjuncts, relation, true)?;
                if !self.eat("&&") {
                    break;
                }
            }
            let and = self.finish_balanced(and_offset, conjuncts, true)?;
            self.push_balanced(offset, &mut alternatives, and, false)?;
            if !self.eat("||") {
                break;
            }
        }
        self.finish_balanced(offset, alternatives, false)
    }

    /// Long `&&` (or `||`) chains become balanced trees, keeping their left-to-right order:
    /// adjacent operands are joined in pairs, then adjacent pairs, and so on. As the operands
    /// arrive, `stack` keeps complete subtrees (with depth and operand count) of strictly
    /// decreasing size, like the digits of a binary counter; equal neighbours are joined.
    fn push_balanced(
        &mut self,
        offset: usize,
        stack: &mut Vec<(Box<Expr>, usize, usize)>,
        tree: Box<Expr>,
        and: bool,
    ) -> Option<()> {
        let (mut tree, mut size) = (tree, 1);
        while stack.last().is_some_and(|top| top.2 == size) {
            let (left, left_depth, _) = stack.pop()?;
            tree = self.join(offset, left, left_depth, tree, and)?;
            size *= 2;
        }
        stack.push((tree, self.depth, size));
        Some(())
    }

    /// The whole chain: the remaining subtrees joined from the right.
    fn finish_balanced(&mut self, offset: usize, mut stack: Vec<(Box<Expr>, usize, usize)>, and: bool) -> Parsed {
        let (mut tree, depth, _) = stack.pop()?;
        self.depth = depth;
        while let Some((left, left_depth, _)) = stack.pop() {
            tree = self.join(offset, left, left_depth, tree, and)?;
        }
        Some(tree)
    }

    /// `left && right` (or `||`); the depth of `right` is `self.depth`.
    fn join(&mut self, offset: usize, left: Box<Expr>, left_depth: usize, right: Box<Expr>, and: bool) -> Parsed {
        let expr = if and { Expr::And(left, right) } else { Expr::Or(left, right) };
        self.node(offset, expr, left_depth.max(self.depth))
    }

    /// Relations are left-associative, as in CEL: `a == b == c` is `(a == b) == c`.
    fn relation(&mut self, nesting: usize) -> Parsed {
        let mut left = self.operand(nesting)?;
        loop {
            let left_depth = self.depth;
            let offset = self.offset;
            let op = CMP_OPS.into_iter().find(|op| self.is(op.symbol()));
            if op.is_none() && !matches!(self.tok, Tok::Ident("in")) {
                return Some(left);
            }
            self.bump();
            let expr = match op {
                Some(op) => Expr::Cmp(op, left, self.operand(nesting)?),
                None if self.eat("[") => Expr::In(left, self.list(nesting)?),
                None => match (*left, self.header_map()) {
                    (Expr::Lit(Value::Str(name)), Some(response)) => {
                        // Envoy lower-cases header names.
                        Expr::HasHeader { response, name: name.to_ascii_lowercase() }
                    }
                    _ => return self.fail(offset, &["'in' needs a list literal, or a string and request.headers"]),
                },
            };
            left = self.node(offset, expr, left_depth.max(self.depth))?;
        }
    }

    /// `!`/`-` prefixes and a member. As in cel-cpp's parser, an even run of `!` cancels out
    /// (`!!x` is `x`).
    fn operand(&mut self, nesting: usize) -> Parsed {
        let offset = self.offset;
        let (mut nots, mut negate) = (false, false);
        while self.eat("!") {
            (nots, negate) = (true, !negate);
        }
        let (mut minuses, mut negative) = (false, false);
        while self.eat("-") {
            (minuses, negative) = (true, !negative);
        }
        if nots && minuses {
            return self.fail(offset, &["'!' and '-' cannot be combined"]);
        }
        let expr = if minuses {
            // `-` is only supported as the sign of an integer literal (there is no arithmetic).
            let Tok::Int(magnitude) = self.tok else {
                return self.fail(offset, &["unary '-' is only supported on integer literals"]);
            };
            self.bump();
            self.int(offset, magnitude, negative, OUT_OF_RANGE)?
        } else {
            self.member(nesting)?
        };
        if !negate {
            return Some(expr);
        }
        self.node(offset, Expr::Not(expr), self.depth)
    }

    /// An integer literal: `magnitude`, negated if `negative`, must fit in an i64.
    fn int(&mut self, offset: usize, magnitude: u64, negative: bool, overflow: &str) -> Parsed {
        let value = if negative { 0i64.checked_sub_unsigned(magnitude) } else { i64::try_from(magnitude).ok() };
        match value {
            Some(v) => self.leaf(Expr::Lit(Value::Int(v))),
            None => self.fail(offset, &[overflow]),
        }
    }

    /// A primary followed by method calls.
    fn member(&mut self, nesting: usize) -> Parsed {
        let mut expr = self.primary(nesting)?;
        loop {
            if self.is("[") {
                return self.fail(self.offset, &["indexing is only supported on headers"]);
            }
            if !self.eat(".") {
                return Some(expr);
            }
            let offset = self.offset;
            let Tok::Ident(name) = self.tok else {
                return self.unexpected("expected a name after '.'");
            };
            self.bump();
            if !self.is("(") {
                return self.fail(offset, &["field selection '.", name, "' is not supported"]);
            }
            expr = self.call(nesting, offset, name, Some(expr))?;
        }
    }

    /// `name(args)` at the current `(`: a method on `receiver` (whose depth is `self.depth`),
    /// or the function `size`.
    fn call(&mut self, nesting: usize, offset: usize, name: &str, receiver: Parsed) -> Parsed {
        let is_method = receiver.is_some();
        let mut depth = if is_method { self.depth } else { 0 };
        let mut args = Vec::new();
        if let Some(receiver) = receiver {
            args.push(receiver);
        }
        self.expect_punct("(")?;
        if !self.eat(")") {
            loop {
                args.push(self.expr(nesting + 1)?);
                depth = depth.max(self.depth);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return self.unexpected("expected ',' or ')'");
                }
            }
        }
        let str_fn = STR_FNS.into_iter().find(|f| f.name() == name);
        if str_fn.is_none() && name != "size" && name != "matches" {
            return self.fail(offset, &["method '", name, "' is not supported"]);
        }
        // Arguments including the receiver: `size` takes one, the others two.
        let want = if name == "size" { 1 } else { 2 };
        if args.len() != want {
            let takes = if want == 1 + usize::from(is_method) { "() takes 1 argument" } else { "() takes 0 arguments" };
            return self.fail(offset, &[name, takes]);
        }
        let second = if want == 2 { args.pop() } else { None };
        let first = args.pop()?;
        let Some(second) = second else {
            return self.node(offset, Expr::Size(first), depth);
        };
        if let Some(f) = str_fn {
            return self.node(offset, Expr::StrFn(f, first, second), depth);
        }
        // `matches`: the pattern must be a string literal so it is compiled once, here.
        let Expr::Lit(Value::Str(pattern)) = *second else {
            return self.fail(offset, &["matches() needs a string literal pattern"]);
        };
        match regex::compile(&pattern) {
            Ok(regex) => {
                let matcher = Matcher::new(pattern, regex);
                self.node(offset, Expr::Matches(first, matcher), depth)
            }
            Err(message) => self.fail(offset, &[&message]),
        }
    }

    fn primary(&mut self, nesting: usize) -> Parsed {
        let offset = self.offset;
        let message = match self.tok {
            Tok::Int(_) | Tok::Uint(_) | Tok::Str(_) | Tok::Punct("(" | "[") => "",
            Tok::Ident(name) if name != "in" && name != "null" => "",
            Tok::Punct("{") => "map literals are not supported",
            Tok::Punct(".") => "leading '.' is not supported",
            Tok::Ident("null") => "null is not supported",
            _ => return self.unexpected("expected an operand"),
        };
        if !message.is_empty() {
            return self.fail(offset, &[message]);
        }
        match self.bump() {
            Tok::Int(n) => self.int(offset, n, false, OUT_OF_RANGE),
            // uint is folded into int: comparisons with ints agree under CEL's numeric
            // cross-type equality/ordering; values beyond i64 are refused.
            Tok::Uint(n) => self.int(offset, n, false, "unsigned literal out of range"),
            Tok::Str(s) => self.leaf(Expr::Lit(Value::Str(s))),
            Tok::Ident(name) => self.ident(nesting, offset, name),
            Tok::Punct("(") => {
                let inner = self.expr(nesting + 1)?;
                self.expect_punct(")")?;
                Some(inner)
            }
            // A list, parsed (for its errors and nesting limit) only to be refused.
            _ => {
                self.list(nesting)?;
                self.fail(offset, &["list literals are only supported after 'in'"])
            }
        }
    }

    /// The items of a list literal after its `[` (their largest depth goes to `self.depth`);
    /// a trailing comma is allowed, as in CEL.
    fn list(&mut self, nesting: usize) -> Option<Vec<Expr>> {
        let mut items = Vec::new();
        let mut depth = 0;
        while !self.eat("]") {
            items.push(*self.expr(nesting + 1)?);
            depth = depth.max(self.depth);
            if !self.eat(",") {
                self.expect_punct("]")?;
                break;
            }
        }
        self.depth = depth;
        Some(items)
    }

    /// `true`, `false`, `size(x)`, attributes and headers.
    fn ident(&mut self, nesting: usize, offset: usize, name: &str) -> Parsed {
        if name == "true" || name == "false" {
            return self.leaf(Expr::Lit(Value::Bool(name == "true")));
        }
        if self.is("(") {
            if name != "size" {
                return self.fail(offset, &["function '", name, "' is not supported"]);
            }
            return self.call(nesting, offset, name, None);
        }
        // The dotted path, up to a method call (`request.path.size()`).
        let mut path = name.to_string();
        while self.eat(".") {
            let segment_offset = self.offset;
            let Tok::Ident(segment) = self.tok else {
                return self.unexpected("expected a name after '.'");
            };
            self.bump();
            if self.is("(") {
                let receiver = self.attribute(offset, &path)?;
                return self.call(nesting, segment_offset, segment, Some(receiver));
            }
            path.push('.');
            path.push_str(segment);
        }
        self.attribute(offset, &path)
    }

    fn attribute(&mut self, offset: usize, path: &str) -> Parsed {
        let response = path.starts_with("response.");
        let headers = if response { "response.headers" } else { "request.headers" };
        if let Some(rest) = path.strip_prefix(headers) {
            let name = if rest.is_empty() {
                Some(self.header_index()?)
            } else {
                // CEL field selection on a map is a key lookup: `request.headers.host`.
                let key = rest.strip_prefix('.').filter(|k| !k.contains('.'));
                key.map(str::to_string)
            };
            if let Some(name) = name {
                // Envoy lower-cases header names.
                let name = name.to_ascii_lowercase();
                return self.leaf(Expr::Header { response, name });
            }
        }
        for a in Attr::ALL {
            match path.strip_prefix(a.name()) {
                Some("") => return self.leaf(Expr::Attr(a)),
                Some(field) if field.starts_with('.') => {
                    return self.fail(offset, &["field selection '", field, "' is not supported"])
                }
                _ => {}
            }
        }
        self.fail(offset, &["attribute '", path, "' is not supported"])
    }

    /// `request.headers` / `response.headers` as a whole map (the right side of
    /// `'name' in request.headers`): `Some(response)`, or `None` for anything else.
    fn header_map(&mut self) -> Option<bool> {
        let response = match self.tok {
            Tok::Ident("request") => false,
            Tok::Ident("response") => true,
            _ => return None,
        };
        self.bump();
        if !self.eat(".") || !matches!(self.tok, Tok::Ident("headers")) {
            return None;
        }
        self.bump();
        (!self.is("[") && !self.is(".")).then_some(response)
    }

    /// `['name']` after `request.headers`.
    fn header_index(&mut self) -> Option<String> {
        if !self.eat("[") {
            return self.fail(self.offset, &["headers must be indexed with a string literal"]);
        }
        let key_offset = self.offset;
        if let Tok::Str(name) = self.bump() {
            if self.eat("]") {
                return Some(name);
            }
        }
        self.fail(key_offset, &["header index must be a string literal"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> Expr {
        parse(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn err(src: &str) -> ParseError {
        match parse(src) {
            Ok(e) => panic!("{src} parsed as {e:?}"),
            Err(e) => e,
        }
    }

    fn lit_s(s: &str) -> Box<Expr> {
        Box::new(Expr::Lit(Value::Str(s.into())))
    }

    fn lit_i(i: i64) -> Box<Expr> {
        Box::new(Expr::Lit(Value::Int(i)))
    }

    fn attr(a: Attr) -> Box<Expr> {
        Box::new(Expr::Attr(a))
    }

    fn depth(e: &Expr) -> usize {
        match e {
            Expr::Lit(_) | Expr::Attr(_) | Expr::Header { .. } | Expr::HasHeader { .. } => 1,
            Expr::Not(e) | Expr::Size(e) | Expr::Matches(e, _) => 1 + depth(e),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) | Expr::StrFn(_, a, b) => 1 + depth(a).max(depth(b)),
            Expr::In(e, l) => 1 + l.iter().map(depth).max().unwrap_or(0).max(depth(e)),
        }
    }

    #[test]
    fn literals() {
        assert_eq!(p("200"), *lit_i(200));
        assert_eq!(p("-1"), *lit_i(-1));
        assert_eq!(p("- 1"), *lit_i(-1));
        assert_eq!(p("--1"), *lit_i(1));
        assert_eq!(p("0x1F"), *lit_i(31));
        assert_eq!(p("-0x1F"), *lit_i(-31));
        assert_eq!(p("200u"), *lit_i(200));
        assert_eq!(p("true"), Expr::Lit(Value::Bool(true)));
        assert_eq!(p("false"), Expr::Lit(Value::Bool(false)));
        assert_eq!(p("'it\\'s'"), *lit_s("it's"));
        assert_eq!(p("9223372036854775807"), *lit_i(i64::MAX));
        assert_eq!(p("-9223372036854775808"), *lit_i(i64::MIN));
    }

    #[test]
    fn integer_overflow_is_parse_error() {
        assert_eq!(err("9223372036854775808").message, "integer literal out of range");
        assert_eq!(err("--9223372036854775808").message, "integer literal out of range");
        assert_eq!(err("99999999999999999999").message, "integer literal out of range");
        assert!(err("18446744073709551615u").message.contains("unsigned"));
        assert!(err("-1u").message.contains("integer literals"));
    }

    #[test]
    fn attributes_and_headers() {
        for a in Attr::ALL {
            assert_eq!(p(a.name()), Expr::Attr(a));
        }
        assert_eq!(
            p("request.headers['X-Api-Version']"),
            Expr::Header { response: false, name: "x-api-version".into() }
        );
        assert_eq!(
            p("response.headers[\"Content-Type\"]"),
            Expr::Header { response: true, name: "content-type".into() }
        );
        assert_eq!(p("request.headers.Host"), Expr::Header { response: false, name: "host".into() });
        assert_eq!(p(" request . method "), Expr::Attr(Attr::RequestMethod));
    }

    #[test]
    fn header_index_must_be_string_literal() {
        assert!(err("request.headers[request.method] == 'a'").message.contains("string literal"));
        assert!(err("request.headers[1]").message.contains("string literal"));
        assert!(err("request.headers['a' + 'b']").message.contains("string literal"));
        assert!(err("request.headers").message.contains("indexed"));
        assert!(err("request.headers.size()").message.contains("indexed"));
        assert!(err("request.headers['a']['b']").message.contains("indexing"));
    }

    #[test]
    fn precedence_or_below_and_below_relation() {
        let m = || attr(Attr::RequestMethod);
        let eq = |v: &str| Box::new(Expr::Cmp(CmpOp::Eq, m(), lit_s(v)));
        assert_eq!(
            p("request.method == 'a' || request.method == 'b' && request.method == 'c'"),
            Expr::Or(eq("a"), Box::new(Expr::And(eq("b"), eq("c"))))
        );
        assert_eq!(
            p("(request.method == 'a' || request.method == 'b') && request.method == 'c'"),
            Expr::And(Box::new(Expr::Or(eq("a"), eq("b"))), eq("c"))
        );
    }

    #[test]
    fn precedence_unary_binds_tighter_than_relation() {
        // `!a == b` is `(!a) == b` in CEL.
        assert_eq!(
            p("!true == false"),
            Expr::Cmp(
                CmpOp::Eq,
                Box::new(Expr::Not(Box::new(Expr::Lit(Value::Bool(true))))),
                Box::new(Expr::Lit(Value::Bool(false)))
            )
        );
        assert_eq!(p("!!true"), Expr::Lit(Value::Bool(true)));
        assert_eq!(p("!!!true"), Expr::Not(Box::new(Expr::Lit(Value::Bool(true)))));
    }

    #[test]
    fn relations_left_associative() {
        assert_eq!(
            p("1 < 2 == true"),
            Expr::Cmp(
                CmpOp::Eq,
                Box::new(Expr::Cmp(CmpOp::Lt, lit_i(1), lit_i(2))),
                Box::new(Expr::Lit(Value::Bool(true)))
            )
        );
        let ops = [
            ("==", CmpOp::Eq),
            ("!=", CmpOp::Ne),
            ("<", CmpOp::Lt),
            ("<=", CmpOp::Le),
            (">", CmpOp::Gt),
            (">=", CmpOp::Ge),
        ];
        for (s, op) in ops {
            assert_eq!(p(&format!("1 {s} 2")), Expr::Cmp(op, lit_i(1), lit_i(2)));
        }
    }

    #[test]
    fn membership() {
        assert_eq!(
            p("request.method in ['GET', 'HEAD',]"),
            Expr::In(attr(Attr::RequestMethod), vec![*lit_s("GET"), *lit_s("HEAD")])
        );
        assert_eq!(p("1 in []"), Expr::In(lit_i(1), vec![]));
        assert!(matches!(p("1 in [1] == true"), Expr::Cmp(CmpOp::Eq, _, _)));
        assert!(err("request.method in request.headers['a']").message.contains("list literal"));
        assert!(err("['a'] == request.method").message.contains("list literal"));
        assert!(err("size(['a']) == 1").message.contains("list literal"));
        assert!(err("['a'].size() == 1").message.contains("list literal"));
        assert!(err("!['a']").message.contains("list"));
    }

    #[test]
    fn methods_and_size() {
        assert_eq!(
            p("request.url_path.startsWith('/a')"),
            Expr::StrFn(StrFn::StartsWith, attr(Attr::RequestUrlPath), lit_s("/a"))
        );
        assert_eq!(p("'ab'.endsWith('b')"), Expr::StrFn(StrFn::EndsWith, lit_s("ab"), lit_s("b")));
        assert_eq!(p("('ab').contains('b')"), Expr::StrFn(StrFn::Contains, lit_s("ab"), lit_s("b")));
        assert_eq!(p("size('ab')"), Expr::Size(lit_s("ab")));
        assert_eq!(p("'X-B' in request.headers"), Expr::HasHeader { response: false, name: "x-b".to_string() });
        assert_eq!(p("'a' in response.headers"), Expr::HasHeader { response: true, name: "a".to_string() });
        assert!(parse("request.method in request.headers").is_err());
        assert!(parse("'a' in request.headers['b']").is_err());
        assert_eq!(p("request.path.size()"), Expr::Size(attr(Attr::RequestPath)));
        assert_eq!(p("'a'.size().size()"), Expr::Size(Box::new(Expr::Size(lit_s("a")))));
        let Expr::Matches(_, m) = p("request.path.matches('^/x')") else { panic!() };
        assert_eq!(m.pattern, "^/x");
    }

    #[test]
    fn method_errors() {
        assert!(err("request.path.startsWith()").message.contains("takes 1 argument"));
        assert!(err("request.path.startsWith('a', 'b')").message.contains("takes 1 argument"));
        assert!(err("request.path.size(1)").message.contains("takes 0 argument"));
        assert!(err("size()").message.contains("takes 1 argument"));
        assert!(err("request.path.lowerAscii() == 'a'").message.contains("method 'lowerAscii'"));
        assert!(err("request.path.matches(request.method)").message.contains("string literal pattern"));
        assert!(err("request.path.matches('a(')").message.contains("invalid regex"));
        assert!(err("request.path.matches('a**')").message.contains("stacked repetition"));
        assert!(err("request.method.foo").message.contains("field selection"));
    }

    #[test]
    fn unsupported_constructs() {
        let cases = [
            ("request.method == 'GET' ? true : false", "'?:'"),
            ("(true ? 1 : 2) == 1", "'?:'"),
            ("response.code + 1 == 201", "arithmetic operator '+'"),
            ("response.code - 1 == 199", "arithmetic operator '-'"),
            ("response.code * 2 == 400", "arithmetic operator '*'"),
            ("response.code / 2 == 100", "arithmetic operator '/'"),
            ("response.code % 2 == 0", "arithmetic operator '%'"),
            ("1 == 1 + 1", "arithmetic operator '+'"),
            ("-response.code == -200", "unary '-'"),
            ("has(request.headers.x)", "function 'has'"),
            ("int(request.method) == 1", "function 'int'"),
            ("matches(request.path, 'a')", "function 'matches'"),
            ("filter_state['wasm.x'] == 'a'", "attribute 'filter_state'"),
            ("connection.mtls", "attribute 'connection.mtls'"),
            ("source.address == 'a'", "attribute 'source.address'"),
            ("upstream.address == 'a'", "attribute 'upstream.address'"),
            ("request.time > 1", "attribute 'request.time'"),
            ("request.size > 1", "attribute 'request.size'"),
            ("response.flags == 0", "attribute 'response.flags'"),
            ("request", "attribute 'request'"),
            ("{'a': 1}['a'] == 1", "map literals"),
            ("null == request.method", "null"),
            ("1.5 > 1", "floating-point"),
            ("b'a' == 'a'", "bytes literals"),
            (".request.method == 'a'", "leading '.'"),
            ("request.method == ", "expected an operand"),
            ("request.method == 'a' request.path", "expected end of condition"),
            ("(request.method == 'a'", "expected ')'"),
            ("!-1", "cannot be combined"),
        ];
        for (src, want) in cases {
            let e = err(src);
            assert!(e.message.contains(want), "{src}: got {e}");
        }
    }

    #[test]
    fn empty_source_is_error() {
        assert!(err("").message.contains("expected an operand"));
        assert!(err("   ").message.contains("expected an operand"));
    }

    #[test]
    fn error_offsets() {
        assert_eq!(err("request.method == 'a' ? 1 : 2").offset, 22);
        assert_eq!(err("request.method == request.time").offset, 18);
        assert_eq!(
            err("request.method == request.time").to_string(),
            "column 19: attribute 'request.time' is not supported"
        );
    }

    #[test]
    fn nesting_limit_parentheses() {
        let ok = format!("{}true{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(p(&ok), Expr::Lit(Value::Bool(true)));
        let deep = format!("{}true{}", "(".repeat(MAX_DEPTH + 1), ")".repeat(MAX_DEPTH + 1));
        assert!(err(&deep).message.contains("nests too deeply"));
        // Hostile inputs far beyond the limit fail cleanly instead of overflowing the stack.
        let hostile = "(".repeat(100_000);
        assert!(err(&hostile).message.contains("nests too deeply"));
        let hostile = "[".repeat(100_000);
        assert!(err(&hostile).message.contains("nests too deeply"));
        let hostile = "size(".repeat(100_000);
        assert!(err(&hostile).message.contains("nests too deeply"));
    }

    #[test]
    fn nesting_limit_tree_depth() {
        let chain = format!("'a'{}", ".size()".repeat(MAX_DEPTH - 1));
        assert_eq!(depth(&p(&chain)), MAX_DEPTH);
        let chain = format!("'a'{}", ".size()".repeat(MAX_DEPTH));
        assert!(err(&chain).message.contains("nests too deeply"));
        let rel = format!("1{}", " == 1".repeat(1000));
        assert!(err(&rel).message.contains("nests too deeply"));
        // Unary runs collapse, so they never deepen the tree.
        let nots = format!("{}true", "!".repeat(100_001));
        assert_eq!(p(&nots), Expr::Not(Box::new(Expr::Lit(Value::Bool(true)))));
    }

    /// The deepest accepted inputs must parse, evaluate and drop on a small stack (debug
    /// frames are larger than release wasm ones, whose default stack is 1 MiB).
    #[test]
    fn worst_case_nesting_fits_small_stack() {
        let run = || {
            let n = MAX_DEPTH;
            let parens = format!("{}true{}", "(".repeat(n), ")".repeat(n));
            let sizes = format!("{}'a'{} == 1", "size(".repeat(n - 2), ")".repeat(n - 2));
            let lists = format!("1 in [{}1{}]", "(".repeat(n - 1), ")".repeat(n - 1));
            let nots = format!("{}true", "!(".repeat(n / 2 - 1)) + &")".repeat(n / 2 - 1);
            for src in [parens, sizes, lists, nots] {
                let e = parse(&src).unwrap_or_else(|e| panic!("{e}"));
                let mut act = crate::cel::testing::MapActivation::new();
                let _ = crate::cel::eval(&e, &mut act);
            }
            for src in ["(".repeat(10_000), "size(".repeat(10_000), "[".repeat(10_000)] {
                assert!(parse(&src).is_err());
            }
        };
        let handle = std::thread::Builder::new().stack_size(512 * 1024).spawn(run).unwrap();
        handle.join().unwrap();
    }

    #[test]
    fn long_or_chains_are_balanced() {
        let src = (0..1000).map(|i| format!("request.url_path == '/p{i}'")).collect::<Vec<_>>().join(" || ");
        let e = p(&src);
        assert!(depth(&e) <= 12, "depth {}", depth(&e));
        let src = (0..1000).map(|i| format!("response.code != {i}")).collect::<Vec<_>>().join(" && ");
        assert!(depth(&p(&src)) <= 12);
        // Order is kept: the leftmost leaf is the first operand.
        let mut e = &p("1 == 1 || 2 == 2 || 3 == 3");
        while let Expr::Or(l, _) = e {
            e = l;
        }
        assert_eq!(*e, Expr::Cmp(CmpOp::Eq, lit_i(1), lit_i(1)));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        for src in [
            "'",
            "\"",
            "r'",
            "'''",
            "\\",
            "request.",
            "request.headers[",
            "request.headers['a'",
            "size(",
            "a.b.c.d.e(",
            "[1,",
            "!",
            "-",
            "--",
            "1 in",
            "1 in [",
            "')'",
            "\u{0}",
            "é",
            "request.method == '\\",
            "0x",
            "0xg",
            "1u2",
            "request.path.matches(",
            "''.matches('\\",
        ] {
            let _ = parse(src);
        }
    }
}
