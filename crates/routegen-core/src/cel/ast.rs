//! Syntax tree of the CEL subset: only constructs whose evaluation we can reproduce exactly.

use std::fmt;
// A wasm VM is one thread, and std's `OnceLock` costs the module 1.2 KB over `OnceCell`;
// native users (CLI, fuzzers, benches) share compiled tables across threads, so need `Sync`.
#[cfg(target_arch = "wasm32")]
use std::cell::OnceCell as OnceLock;
#[cfg(not(target_arch = "wasm32"))]
use std::sync::OnceLock;

/// The Envoy attributes a condition may read (the ones attributegen configs use).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Attr {
    RequestMethod,
    RequestPath,
    RequestUrlPath,
    RequestHost,
    RequestScheme,
    RequestProtocol,
    RequestQuery,
    RequestId,
    RequestReferer,
    RequestUseragent,
    ResponseCode,
    ResponseGrpcStatus,
}

impl Attr {
    /// Every supported attribute, in declaration order.
    pub const ALL: [Attr; 12] = [
        Attr::RequestMethod,
        Attr::RequestPath,
        Attr::RequestUrlPath,
        Attr::RequestHost,
        Attr::RequestScheme,
        Attr::RequestProtocol,
        Attr::RequestQuery,
        Attr::RequestId,
        Attr::RequestReferer,
        Attr::RequestUseragent,
        Attr::ResponseCode,
        Attr::ResponseGrpcStatus,
    ];

    /// The dotted CEL name, e.g. `"request.method"`.
    pub fn name(self) -> &'static str {
        match self {
            Attr::RequestMethod => "request.method",
            Attr::RequestPath => "request.path",
            Attr::RequestUrlPath => "request.url_path",
            Attr::RequestHost => "request.host",
            Attr::RequestScheme => "request.scheme",
            Attr::RequestProtocol => "request.protocol",
            Attr::RequestQuery => "request.query",
            Attr::RequestId => "request.id",
            Attr::RequestReferer => "request.referer",
            Attr::RequestUseragent => "request.useragent",
            Attr::ResponseCode => "response.code",
            Attr::ResponseGrpcStatus => "response.grpc_status",
        }
    }

    /// Looks an attribute up by its dotted CEL name.
    pub fn from_name(name: &str) -> Option<Attr> {
        Attr::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// True for attributes only known once the response has started.
    pub fn is_response(self) -> bool {
        matches!(self, Attr::ResponseCode | Attr::ResponseGrpcStatus)
    }
}

impl fmt::Display for Attr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A runtime value. CEL `uint` literals are folded into `Int` (see `parser`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
}

impl Value {
    /// The CEL type name, used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// Relational operators (all share one precedence level in CEL, with `in`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator as written in CEL source.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// String receiver methods taking one string argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrFn {
    StartsWith,
    EndsWith,
    Contains,
}

impl StrFn {
    /// The method name as written in CEL source.
    pub fn name(self) -> &'static str {
        match self {
            StrFn::StartsWith => "startsWith",
            StrFn::EndsWith => "endsWith",
            StrFn::Contains => "contains",
        }
    }
}

/// A regex compiled once at parse time from a string literal.
#[derive(Clone)]
pub struct Matcher {
    /// The pattern exactly as written in the condition (RE2 syntax).
    pub pattern: String,
    /// The compiled pattern; may differ textually from `pattern` (see `regex::compile`).
    /// Emptied by [`Matcher::release`] where the index answers for the regex (a compiled
    /// regex is most of a lowered condition's memory), and compiled again on the rare use.
    regex: OnceLock<regex_lite::Regex>,
}

impl Matcher {
    pub fn new(pattern: String, regex: regex_lite::Regex) -> Matcher {
        Matcher { pattern, regex: OnceLock::from(regex) }
    }

    /// The compiled regex: kept, or compiled again by the same translation that accepted it.
    pub fn regex(&self) -> Result<&regex_lite::Regex, String> {
        if let Some(regex) = self.regex.get() {
            return Ok(regex);
        }
        let regex = super::regex::compile(&self.pattern)?;
        Ok(self.regex.get_or_init(|| regex))
    }

    pub fn is_compiled(&self) -> bool {
        self.regex.get().is_some()
    }

    /// Drops the compiled regex until it is needed again.
    pub fn release(&mut self) {
        self.regex = OnceLock::new();
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Matcher").field("pattern", &self.pattern).finish()
    }
}

/// Two matchers are equal when written the same; the compiled form follows from the text.
impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// A parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Lit(Value),
    Attr(Attr),
    /// `request.headers['x']` / `response.headers['x']`; `name` is lower-case.
    Header {
        response: bool,
        name: String,
    },
    /// `'x' in request.headers`: whether the header is there; `name` is lower-case.
    HasHeader {
        response: bool,
        name: String,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    /// `x in [a, b, ...]`: the right side is always a list literal.
    In(Box<Expr>, Vec<Expr>),
    /// receiver, argument
    StrFn(StrFn, Box<Expr>, Box<Expr>),
    Matches(Box<Expr>, Matcher),
    Size(Box<Expr>),
}

impl Expr {
    /// True if any `response.*` attribute or header is referenced, i.e. the condition can only
    /// be decided once the response is known.
    pub fn uses_response(&self) -> bool {
        match self {
            Expr::Lit(_) => false,
            Expr::Attr(a) => a.is_response(),
            Expr::Header { response, .. } | Expr::HasHeader { response, .. } => *response,
            Expr::Not(e) | Expr::Size(e) | Expr::Matches(e, _) => e.uses_response(),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) | Expr::StrFn(_, a, b) => {
                a.uses_response() || b.uses_response()
            }
            Expr::In(e, list) => e.uses_response() || list.iter().any(Expr::uses_response),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_names_round_trip() {
        for a in Attr::ALL {
            assert_eq!(Attr::from_name(a.name()), Some(a));
        }
        assert_eq!(Attr::from_name("request.time"), None);
        assert_eq!(Attr::RequestUrlPath.name(), "request.url_path");
    }

    #[test]
    fn response_attrs() {
        assert!(Attr::ResponseCode.is_response());
        assert!(Attr::ResponseGrpcStatus.is_response());
        assert!(!Attr::RequestMethod.is_response());
    }

    #[test]
    fn uses_response_walks_tree() {
        let req = Expr::Attr(Attr::RequestMethod);
        let hdr = Expr::Header { response: true, name: "x".into() };
        assert!(!req.uses_response());
        assert!(hdr.uses_response());
        let e = Expr::In(Box::new(req.clone()), vec![Expr::Lit(Value::Int(1)), hdr]);
        assert!(e.uses_response());
        let e = Expr::And(Box::new(req.clone()), Box::new(Expr::Attr(Attr::ResponseCode)));
        assert!(e.uses_response());
        assert!(!Expr::Not(Box::new(req)).uses_response());
    }

    #[test]
    fn value_display_and_types() {
        assert_eq!(Value::Str("a".into()).to_string(), "\"a\"");
        assert_eq!(Value::Int(-3).type_name(), "int");
        assert_eq!(Value::Bool(true).to_string(), "true");
    }
}
