//! Recursive-descent parser for the CEL subset.
//!
//! Grammar (CEL precedence, lowest first):
//! ```text
//! expr     = and ("||" and)*
//! and      = relation ("&&" relation)*
//! relation = operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand | "in" list)*
//! operand  = "!"* member | "-"+ int-literal
//! member   = primary ("." method "(" args ")")*
//! primary  = literal | "(" expr ")" | "[" list "]" | attribute | header | "size" "(" expr ")"
//! ```
//! Everything outside this grammar is a `ParseError`, so the caller can hand the condition
//! to Envoy's own CEL engine instead of evaluating it wrongly.
//!
//! Depth is bounded twice: parser recursion (parentheses, lists, call arguments) and the
//! depth of the built tree (which the evaluator and `Drop` walk recursively) are both
//! limited to `MAX_DEPTH`. Long `&&`/`||` chains are built as balanced trees, as cel-cpp's
//! parser does, so they stay shallow. Nodes are boxed as soon as they are built and the
//! recursion goes through few functions, to keep the stack used per nesting level small.

use std::fmt;

use super::ast::{Attr, CmpOp, Expr, Matcher, StrFn, Value};
use super::lexer::{tokenize, Tok, Token};
use super::regex;

/// Maximum parser nesting and maximum depth of the resulting tree.
pub const MAX_DEPTH: usize = 64;

/// Why a condition is outside the supported subset (or not CEL at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the source where the problem was found.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column {}: {}",
            self.offset.saturating_add(1),
            self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Parses a condition. Empty (or whitespace-only) source is an error: the caller decides
/// what an empty condition means.
pub fn parse(source: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(source)?;
    let mut parser = Parser { tokens, pos: 0 };
    let node = parser.expr(0)?;
    parser.expect_end()?;
    Ok(*node.expr)
}

type PResult<T> = Result<T, ParseError>;

/// An error result; cold so that message formatting stays out of the parsing frames.
#[cold]
#[inline(never)]
fn fail<T>(offset: usize, message: impl Into<String>) -> PResult<T> {
    Err(ParseError {
        offset,
        message: message.into(),
    })
}

#[cold]
#[inline(never)]
fn too_deep<T>(offset: usize) -> PResult<T> {
    fail(
        offset,
        format!("condition nests too deeply (limit {MAX_DEPTH})"),
    )
}

/// A boxed expression with the depth of its tree, so that depth is checked as it is built.
struct Node {
    expr: Box<Expr>,
    depth: usize,
}

impl Node {
    fn leaf(expr: Expr) -> Node {
        Node {
            expr: Box::new(expr),
            depth: 1,
        }
    }

    /// Wraps `expr` whose deepest child has depth `child_depth`, enforcing `MAX_DEPTH`.
    fn new(offset: usize, expr: Expr, child_depth: usize) -> PResult<Node> {
        let depth = child_depth.saturating_add(1);
        if depth > MAX_DEPTH {
            return too_deep(offset);
        }
        Ok(Node {
            expr: Box::new(expr),
            depth,
        })
    }
}

/// A parsed operand: list literals are only legal on the right of `in`.
enum Operand {
    Expr(Node),
    List(Vec<Node>, usize),
}

impl Operand {
    /// The operand as a plain expression, refusing a list literal.
    fn into_expr(self, offset: usize) -> PResult<Node> {
        match self {
            Operand::Expr(node) => Ok(node),
            Operand::List(..) => fail(
                offset,
                "list literals are only supported on the right of 'in'",
            ),
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    // ----- token access -----

    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let i = self.pos.saturating_add(ahead);
        self.tokens.get(i).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn offset(&self) -> usize {
        match self.tokens.get(self.pos) {
            Some(t) => t.offset,
            None => self.tokens.last().map_or(0, |t| t.offset),
        }
    }

    fn advance(&mut self) -> Tok {
        let tok = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos = self.pos.saturating_add(1);
        }
        tok
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        let found = self.is_punct(p);
        if found {
            self.advance();
        }
        found
    }

    fn expect_punct(&mut self, p: &str) -> PResult<()> {
        if self.eat_punct(p) {
            return Ok(());
        }
        self.unexpected(&format!("expected '{p}'"))
    }

    /// An error at the current token, naming it.
    #[cold]
    #[inline(never)]
    fn unexpected<T>(&self, context: &str) -> PResult<T> {
        fail(
            self.offset(),
            format!("{context}, found {}", describe(self.peek())),
        )
    }

    /// After a complete condition only the end may follow; name the likely culprit.
    fn expect_end(&mut self) -> PResult<()> {
        match self.peek() {
            Tok::Eof => Ok(()),
            _ => self.reject_operator("expected end of condition"),
        }
    }

    /// Explains why the current token cannot continue an expression.
    #[cold]
    #[inline(never)]
    fn reject_operator<T>(&self, context: &str) -> PResult<T> {
        match self.peek() {
            Tok::Punct("?") => fail(self.offset(), "conditional operator '?:' is not supported"),
            Tok::Punct(p @ ("+" | "-" | "*" | "/" | "%")) => fail(
                self.offset(),
                format!("arithmetic operator '{p}' is not supported"),
            ),
            _ => self.unexpected(context),
        }
    }

    /// Combines operands of one associative operator into a balanced tree, keeping their
    /// left-to-right order (evaluation order is unchanged; only grouping differs).
    fn balanced(
        offset: usize,
        mut items: Vec<Node>,
        make: fn(Box<Expr>, Box<Expr>) -> Expr,
    ) -> PResult<Node> {
        while items.len() > 1 {
            let mut next = Vec::with_capacity(items.len().div_ceil(2));
            let mut iter = items.into_iter();
            while let Some(left) = iter.next() {
                match iter.next() {
                    Some(right) => {
                        let depth = left.depth.max(right.depth);
                        next.push(Node::new(offset, make(left.expr, right.expr), depth)?);
                    }
                    None => next.push(left),
                }
            }
            items = next;
        }
        match items.pop() {
            Some(node) => Ok(node),
            None => fail(offset, "empty expression"),
        }
    }

    // ----- grammar -----

    /// `||` over `&&` groups; both levels in one function to save a stack frame per nesting.
    fn expr(&mut self, nesting: usize) -> PResult<Node> {
        if nesting > MAX_DEPTH {
            return too_deep(self.offset());
        }
        let offset = self.offset();
        let mut alternatives = Vec::new();
        loop {
            let and_offset = self.offset();
            let mut conjuncts = vec![self.relation(nesting)?];
            while self.eat_punct("&&") {
                conjuncts.push(self.relation(nesting)?);
            }
            alternatives.push(Self::balanced(and_offset, conjuncts, Expr::And)?);
            if !self.eat_punct("||") {
                break;
            }
        }
        if self.is_punct("?") {
            return self.reject_operator("");
        }
        Self::balanced(offset, alternatives, Expr::Or)
    }

    /// Relations are left-associative, as in CEL: `a == b == c` is `(a == b) == c`.
    fn relation(&mut self, nesting: usize) -> PResult<Node> {
        let offset = self.offset();
        let mut left = self.operand(nesting)?.into_expr(offset)?;
        loop {
            let offset = self.offset();
            let op = match self.peek() {
                Tok::Ident(w) if w == "in" => None,
                tok => match cmp_op(tok) {
                    Some(op) => Some(op),
                    None => return Ok(left),
                },
            };
            self.advance();
            let right_offset = self.offset();
            let right = self.operand(nesting)?;
            left = match op {
                Some(op) => {
                    let right = right.into_expr(right_offset)?;
                    let depth = left.depth.max(right.depth);
                    Node::new(offset, Expr::Cmp(op, left.expr, right.expr), depth)?
                }
                None => membership(offset, left, right)?,
            };
        }
    }

    /// `!`/`-` prefixes and a member; arithmetic right after it is refused by name.
    /// As in cel-cpp's parser, an even run of `!` cancels out (`!!x` is `x`).
    fn operand(&mut self, nesting: usize) -> PResult<Operand> {
        let offset = self.offset();
        let mut nots = 0usize;
        while self.eat_punct("!") {
            nots = nots.saturating_add(1);
        }
        let mut minuses = 0usize;
        while self.eat_punct("-") {
            minuses = minuses.saturating_add(1);
        }
        if nots > 0 && (minuses > 0 || self.is_punct("!")) {
            return fail(offset, "'!' and '-' cannot be combined");
        }
        let operand = if minuses > 0 {
            Operand::Expr(self.negative_literal(offset, minuses)?)
        } else {
            self.member(nesting)?
        };
        if let Tok::Punct("+" | "-" | "*" | "/" | "%") = self.peek() {
            return self.reject_operator("");
        }
        if nots % 2 == 0 {
            return Ok(operand);
        }
        let Operand::Expr(node) = operand else {
            return fail(offset, "'!' cannot be applied to a list");
        };
        Node::new(offset, Expr::Not(node.expr), node.depth).map(Operand::Expr)
    }

    /// `-` is only supported as the sign of an integer literal (there is no arithmetic).
    fn negative_literal(&mut self, offset: usize, minuses: usize) -> PResult<Node> {
        let Tok::Int(magnitude) = *self.peek() else {
            return fail(offset, "unary '-' is only supported on integer literals");
        };
        self.advance();
        let value = if minuses % 2 == 1 {
            negate(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        match value {
            Some(v) => Ok(Node::leaf(Expr::Lit(Value::Int(v)))),
            None => fail(offset, "integer literal out of range"),
        }
    }

    /// A primary followed by method calls.
    fn member(&mut self, nesting: usize) -> PResult<Operand> {
        let mut operand = self.primary(nesting)?;
        while self.is_punct(".") || self.is_punct("[") {
            let offset = self.offset();
            let receiver = operand.into_expr(offset)?;
            if self.is_punct("[") {
                return fail(
                    offset,
                    "indexing is only supported on request.headers and response.headers",
                );
            }
            self.advance();
            operand = Operand::Expr(self.method_call(nesting, receiver)?);
        }
        Ok(operand)
    }

    /// `name(args)` after a receiver and its `.`.
    fn method_call(&mut self, nesting: usize, receiver: Node) -> PResult<Node> {
        let offset = self.offset();
        let Tok::Ident(name) = self.advance() else {
            return fail(offset, "expected a method name after '.'");
        };
        if !self.is_punct("(") {
            return fail(
                offset,
                format!("field selection '.{name}' is not supported here"),
            );
        }
        let args = self.call_args(nesting)?;
        let f = match name.as_str() {
            "startsWith" => StrFn::StartsWith,
            "endsWith" => StrFn::EndsWith,
            "contains" => StrFn::Contains,
            "matches" => return matches(offset, receiver, args),
            "size" => {
                arity(offset, "size", &args, 0)?;
                return Node::new(offset, Expr::Size(receiver.expr), receiver.depth);
            }
            _ => return fail(offset, format!("method '{name}' is not supported")),
        };
        let [arg] = single(offset, f.name(), args)?;
        let depth = receiver.depth.max(arg.depth);
        Node::new(offset, Expr::StrFn(f, receiver.expr, arg.expr), depth)
    }

    /// `( expr, ... )` starting at the current `(`.
    fn call_args(&mut self, nesting: usize) -> PResult<Vec<Node>> {
        self.expect_punct("(")?;
        let mut args = Vec::new();
        if self.eat_punct(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr(nesting.saturating_add(1))?);
            if self.eat_punct(")") {
                return Ok(args);
            }
            if !self.eat_punct(",") {
                return self.unexpected("expected ',' or ')' in argument list");
            }
        }
    }

    fn primary(&mut self, nesting: usize) -> PResult<Operand> {
        let offset = self.offset();
        let node = match self.advance() {
            Tok::Int(n) => int_literal(offset, n, "integer literal out of range")?,
            // uint is folded into int: comparisons with ints agree under CEL's numeric
            // cross-type equality/ordering; values beyond i64 are refused.
            Tok::Uint(n) => int_literal(
                offset,
                n,
                "unsigned literal beyond the int range is not supported",
            )?,
            Tok::Str(s) => Node::leaf(Expr::Lit(Value::Str(s))),
            Tok::Punct("(") => {
                let inner = self.expr(nesting.saturating_add(1))?;
                self.expect_punct(")")?;
                inner
            }
            Tok::Punct("[") => return self.list(nesting, offset),
            Tok::Ident(name) => self.ident(nesting, offset, name)?,
            tok => return bad_operand(offset, &tok),
        };
        Ok(Operand::Expr(node))
    }

    /// `[a, b, ...]` after its `[`; a trailing comma is allowed, as in CEL.
    fn list(&mut self, nesting: usize, offset: usize) -> PResult<Operand> {
        let mut items = Vec::new();
        let mut depth = 0;
        while !self.eat_punct("]") {
            let item = self.expr(nesting.saturating_add(1))?;
            depth = depth.max(item.depth);
            items.push(item);
            if !self.eat_punct(",") {
                self.expect_punct("]")?;
                break;
            }
        }
        if depth >= MAX_DEPTH {
            return too_deep(offset);
        }
        Ok(Operand::List(items, depth))
    }

    /// Keywords, `size(x)`, attributes and headers.
    fn ident(&mut self, nesting: usize, offset: usize, name: String) -> PResult<Node> {
        match name.as_str() {
            "true" => return Ok(Node::leaf(Expr::Lit(Value::Bool(true)))),
            "false" => return Ok(Node::leaf(Expr::Lit(Value::Bool(false)))),
            "null" => return fail(offset, "null is not supported"),
            "in" => return fail(offset, "expected an operand, found 'in'"),
            _ => {}
        }
        if self.is_punct("(") {
            if name != "size" {
                return fail(offset, format!("function '{name}' is not supported"));
            }
            let args = self.call_args(nesting)?;
            let [arg] = single(offset, "size", args)?;
            return Node::new(offset, Expr::Size(arg.expr), arg.depth);
        }
        let path = self.dotted_path(name);
        self.attribute(offset, &path)
    }

    /// Extends `first` with `.ident` segments that are not method calls.
    fn dotted_path(&mut self, first: String) -> String {
        let mut path = first;
        while self.is_punct(".") {
            let Tok::Ident(seg) = self.peek_at(1) else {
                break;
            };
            if matches!(self.peek_at(2), Tok::Punct("(")) {
                break;
            }
            path.push('.');
            path.push_str(seg);
            self.pos = self.pos.saturating_add(2);
        }
        path
    }

    fn attribute(&mut self, offset: usize, path: &str) -> PResult<Node> {
        if let Some(attr) = Attr::from_name(path) {
            return Ok(Node::leaf(Expr::Attr(attr)));
        }
        for (prefix, response) in [("request.headers", false), ("response.headers", true)] {
            if path == prefix {
                let name = self.header_index()?;
                return Ok(Node::leaf(Expr::Header { response, name }));
            }
            // CEL field selection on a map is a key lookup: `request.headers.host`.
            if let Some(key) = path.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                if !key.contains('.') {
                    let name = key.to_ascii_lowercase();
                    return Ok(Node::leaf(Expr::Header { response, name }));
                }
            }
        }
        unknown_attribute(offset, path)
    }

    /// `['name']` after `request.headers`; the name is lower-cased as Envoy does.
    fn header_index(&mut self) -> PResult<String> {
        let offset = self.offset();
        if !self.eat_punct("[") {
            return fail(
                offset,
                "headers must be indexed with a string literal, e.g. request.headers['x']",
            );
        }
        let key_offset = self.offset();
        let Tok::Str(name) = self.advance() else {
            return fail(key_offset, "header index must be a string literal");
        };
        if !self.eat_punct("]") {
            return fail(key_offset, "header index must be a string literal");
        }
        Ok(name.to_ascii_lowercase())
    }
}

/// `left in [list]`; the right operand must be a list literal.
fn membership(offset: usize, left: Node, right: Operand) -> PResult<Node> {
    let Operand::List(items, list_depth) = right else {
        return fail(
            offset,
            "'in' is only supported with a list literal on its right",
        );
    };
    let depth = left.depth.max(list_depth);
    let list = items.into_iter().map(|n| *n.expr).collect();
    Node::new(offset, Expr::In(left.expr, list), depth)
}

/// `.matches(re)`: the pattern must be a string literal so it is compiled once, here.
fn matches(offset: usize, receiver: Node, args: Vec<Node>) -> PResult<Node> {
    let [arg] = single(offset, "matches", args)?;
    let Expr::Lit(Value::Str(pattern)) = *arg.expr else {
        return fail(
            offset,
            "matches() is only supported with a string literal pattern",
        );
    };
    let regex = match regex::compile(&pattern) {
        Ok(regex) => regex,
        Err(message) => return fail(offset, message),
    };
    Node::new(
        offset,
        Expr::Matches(receiver.expr, Matcher { pattern, regex }),
        receiver.depth,
    )
}

fn int_literal(offset: usize, n: u64, overflow: &str) -> PResult<Node> {
    match i64::try_from(n) {
        Ok(v) => Ok(Node::leaf(Expr::Lit(Value::Int(v)))),
        Err(_) => fail(offset, overflow),
    }
}

#[cold]
#[inline(never)]
fn bad_operand<T>(offset: usize, tok: &Tok) -> PResult<T> {
    match tok {
        Tok::Punct("{") => fail(offset, "map literals are not supported"),
        Tok::Punct(".") => fail(offset, "leading '.' in identifiers is not supported"),
        _ => fail(
            offset,
            format!("expected an operand, found {}", describe(tok)),
        ),
    }
}

#[cold]
#[inline(never)]
fn unknown_attribute<T>(offset: usize, path: &str) -> PResult<T> {
    let field_of = |a: &&Attr| {
        path.strip_prefix(a.name())
            .is_some_and(|r| r.starts_with('.'))
    };
    if let Some(a) = Attr::ALL.iter().find(field_of) {
        let field = path.get(a.name().len()..).unwrap_or("");
        return fail(
            offset,
            format!("field selection '{field}' on {a} is not supported"),
        );
    }
    fail(offset, format!("attribute '{path}' is not supported"))
}

/// Maps a token to its relational operator.
fn cmp_op(tok: &Tok) -> Option<CmpOp> {
    match tok {
        Tok::Punct("==") => Some(CmpOp::Eq),
        Tok::Punct("!=") => Some(CmpOp::Ne),
        Tok::Punct("<") => Some(CmpOp::Lt),
        Tok::Punct("<=") => Some(CmpOp::Le),
        Tok::Punct(">") => Some(CmpOp::Gt),
        Tok::Punct(">=") => Some(CmpOp::Ge),
        _ => None,
    }
}

/// `-magnitude` as i64; `magnitude` may be 2^63 (for `i64::MIN`).
fn negate(magnitude: u64) -> Option<i64> {
    if magnitude == i64::MIN.unsigned_abs() {
        return Some(i64::MIN);
    }
    i64::try_from(magnitude).ok().and_then(i64::checked_neg)
}

fn arity(offset: usize, name: &str, args: &[Node], want: usize) -> PResult<()> {
    if args.len() == want {
        return Ok(());
    }
    fail(
        offset,
        format!("{name}() takes {want} argument(s), got {}", args.len()),
    )
}

/// Exactly one argument.
fn single(offset: usize, name: &str, args: Vec<Node>) -> PResult<[Node; 1]> {
    arity(offset, name, &args, 1)?;
    <[Node; 1]>::try_from(args).or_else(|_| fail(offset, "expected 1 argument"))
}

/// A token as shown in error messages.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Int(n) => format!("'{n}'"),
        Tok::Uint(n) => format!("'{n}u'"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Punct(p) => format!("'{p}'"),
        Tok::Eof => "end of condition".to_string(),
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
            Expr::Lit(_) | Expr::Attr(_) | Expr::Header { .. } => 1,
            Expr::Not(e) | Expr::Size(e) | Expr::Matches(e, _) => 1 + depth(e),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) | Expr::StrFn(_, a, b) => {
                1 + depth(a).max(depth(b))
            }
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
        assert_eq!(
            err("9223372036854775808").message,
            "integer literal out of range"
        );
        assert_eq!(
            err("--9223372036854775808").message,
            "integer literal out of range"
        );
        assert_eq!(
            err("99999999999999999999").message,
            "integer literal out of range"
        );
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
            Expr::Header {
                response: false,
                name: "x-api-version".into()
            }
        );
        assert_eq!(
            p("response.headers[\"Content-Type\"]"),
            Expr::Header {
                response: true,
                name: "content-type".into()
            }
        );
        assert_eq!(
            p("request.headers.Host"),
            Expr::Header {
                response: false,
                name: "host".into()
            }
        );
        assert_eq!(p(" request . method "), Expr::Attr(Attr::RequestMethod));
    }

    #[test]
    fn header_index_must_be_string_literal() {
        assert!(err("request.headers[request.method] == 'a'")
            .message
            .contains("string literal"));
        assert!(err("request.headers[1]").message.contains("string literal"));
        assert!(err("request.headers['a' + 'b']")
            .message
            .contains("string literal"));
        assert!(err("request.headers").message.contains("indexed"));
        assert!(err("request.headers.size()").message.contains("indexed"));
        assert!(err("request.headers['a']['b']")
            .message
            .contains("indexing"));
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
        assert_eq!(
            p("!!!true"),
            Expr::Not(Box::new(Expr::Lit(Value::Bool(true))))
        );
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
            Expr::In(
                attr(Attr::RequestMethod),
                vec![*lit_s("GET"), *lit_s("HEAD")]
            )
        );
        assert_eq!(p("1 in []"), Expr::In(lit_i(1), vec![]));
        assert!(matches!(p("1 in [1] == true"), Expr::Cmp(CmpOp::Eq, _, _)));
        assert!(err("request.method in request.headers['a']")
            .message
            .contains("list literal"));
        assert!(err("['a'] == request.method")
            .message
            .contains("list literal"));
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
        assert_eq!(
            p("'ab'.endsWith('b')"),
            Expr::StrFn(StrFn::EndsWith, lit_s("ab"), lit_s("b"))
        );
        assert_eq!(
            p("('ab').contains('b')"),
            Expr::StrFn(StrFn::Contains, lit_s("ab"), lit_s("b"))
        );
        assert_eq!(p("size('ab')"), Expr::Size(lit_s("ab")));
        assert_eq!(
            p("request.path.size()"),
            Expr::Size(attr(Attr::RequestPath))
        );
        assert_eq!(
            p("'a'.size().size()"),
            Expr::Size(Box::new(Expr::Size(lit_s("a"))))
        );
        let Expr::Matches(_, m) = p("request.path.matches('^/x')") else {
            panic!()
        };
        assert_eq!(m.pattern, "^/x");
    }

    #[test]
    fn method_errors() {
        assert!(err("request.path.startsWith()")
            .message
            .contains("takes 1 argument"));
        assert!(err("request.path.startsWith('a', 'b')")
            .message
            .contains("takes 1 argument"));
        assert!(err("request.path.size(1)")
            .message
            .contains("takes 0 argument"));
        assert!(err("size()").message.contains("takes 1 argument"));
        assert!(err("request.path.lowerAscii() == 'a'")
            .message
            .contains("method 'lowerAscii'"));
        assert!(err("request.path.matches(request.method)")
            .message
            .contains("string literal pattern"));
        assert!(err("request.path.matches('a(')")
            .message
            .contains("invalid regex"));
        assert!(err("request.path.matches('a**')")
            .message
            .contains("stacked repetition"));
        assert!(err("request.method.foo")
            .message
            .contains("field selection"));
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
            (
                "request.method == 'a' request.path",
                "expected end of condition",
            ),
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
        let deep = format!(
            "{}true{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
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
            for src in [
                "(".repeat(10_000),
                "size(".repeat(10_000),
                "[".repeat(10_000),
            ] {
                assert!(parse(&src).is_err());
            }
        };
        let handle = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(run)
            .unwrap();
        handle.join().unwrap();
    }

    #[test]
    fn long_or_chains_are_balanced() {
        let src = (0..1000)
            .map(|i| format!("request.url_path == '/p{i}'"))
            .collect::<Vec<_>>()
            .join(" || ");
        let e = p(&src);
        assert!(depth(&e) <= 12, "depth {}", depth(&e));
        let src = (0..1000)
            .map(|i| format!("response.code != {i}"))
            .collect::<Vec<_>>()
            .join(" && ");
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
