//! Evaluator with cel-cpp semantics for the subset: errors are values that `&&`/`||` can
//! absorb, equality is heterogeneous (different types are simply unequal), ordering across
//! types is an error, and a missing attribute or header is a "no such key" error.

use std::fmt;

use super::ast::{Attr, CmpOp, Expr, StrFn, Value};

/// Supplies attribute and header values for one evaluation.
pub trait Activation {
    /// `None` when the attribute is not available (an evaluation error, as in Envoy).
    fn attr(&mut self, attr: Attr) -> Option<Value>;
    /// `None` when the header is absent. `name` is lower-case.
    fn header(&mut self, response: bool, name: &str) -> Option<String>;
}

/// A runtime error (cel-cpp would produce an error value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

type Result<T> = std::result::Result<T, EvalError>;

/// The one way errors are built: the message is the concatenation of `parts`.
#[cold]
#[inline(never)]
fn error(parts: &[&str]) -> EvalError {
    EvalError(parts.concat())
}

/// `op` applied to a value of type `first` (and `second`, unless empty) has no overload.
fn no_overload(op: &str, first: &Value, second: &str) -> EvalError {
    let and = if second.is_empty() { "" } else { " and " };
    error(&["no matching overload for '", op, "' on ", first.type_name(), and, second])
}

/// Evaluates `expr`. Recursion follows the tree, whose depth the parser bounds.
pub fn eval(expr: &Expr, act: &mut dyn Activation) -> Result<Value> {
    // Operators on one or two evaluated operands: the name (for errors) and the operands.
    let (op, first, second) = match expr {
        Expr::Lit(v) => return Ok(v.clone()),
        Expr::Attr(a) => return act.attr(*a).ok_or_else(|| error(&["no such attribute: '", a.name(), "'"])),
        Expr::Header { response, name } => {
            return act.header(*response, name).map(Value::Str).ok_or_else(|| error(&["no such key: '", name, "'"]))
        }
        Expr::HasHeader { response, name } => return Ok(Value::Bool(act.header(*response, name).is_some())),
        Expr::And(a, b) => return logic(a, b, false, act),
        Expr::Or(a, b) => return logic(a, b, true, act),
        // Like cel-cpp, the element and the whole list are evaluated first (an error in any
        // element is an error), then membership uses heterogeneous equality.
        Expr::In(e, list) => {
            let needle = eval(e, act)?;
            let mut found = false;
            for item in list {
                found |= eval(item, act)? == needle;
            }
            return Ok(Value::Bool(found));
        }
        Expr::Not(e) => ("!", e, None),
        Expr::Size(e) => ("size", e, None),
        Expr::Matches(e, _) => ("matches", e, None),
        Expr::Cmp(op, a, b) => (op.symbol(), a, Some(b)),
        Expr::StrFn(f, a, b) => (f.name(), a, Some(b)),
    };
    let x = eval(first, act)?;
    let y = match second {
        Some(e) => Some(eval(e, act)?),
        None => None,
    };
    let result = match (expr, &x, &y) {
        (Expr::Not(_), Value::Bool(b), _) => Some(Value::Bool(!b)),
        // CEL string size counts Unicode code points, not bytes.
        (Expr::Size(_), Value::Str(s), _) => i64::try_from(s.chars().count()).ok().map(Value::Int),
        // Unanchored search, like RE2::PartialMatch in cel-cpp.
        (Expr::Matches(_, m), Value::Str(s), _) => Some(Value::Bool(m.regex().map_err(|e| error(&[&e]))?.is_match(s))),
        (Expr::Cmp(op, ..), x, Some(y)) => compare(*op, x, y).map(Value::Bool),
        (Expr::StrFn(f, ..), Value::Str(s), Some(Value::Str(p))) => Some(Value::Bool(match f {
            StrFn::StartsWith => s.starts_with(p.as_str()),
            StrFn::EndsWith => s.ends_with(p.as_str()),
            StrFn::Contains => contains(s.as_bytes(), p.as_bytes()),
        })),
        _ => None,
    };
    result.ok_or_else(|| {
        // `matches` has a second (string) argument, compiled at parse time.
        let second = match (&y, expr) {
            (Some(y), _) => y.type_name(),
            (None, Expr::Matches(..)) => "string",
            (None, _) => "",
        };
        no_overload(op, &x, second)
    })
}

/// Evaluates `expr` as a condition: a non-bool result is an error.
pub fn eval_bool(expr: &Expr, act: &mut dyn Activation) -> Result<bool> {
    truth(expr, "", act)
}

/// `&&` (absorbing = false) and `||` (absorbing = true), commutative over errors:
/// the absorbing value on either side wins; otherwise the first error propagates.
fn logic(a: &Expr, b: &Expr, absorbing: bool, act: &mut dyn Activation) -> Result<Value> {
    let op = if absorbing { "||" } else { "&&" };
    let left = truth(a, op, act);
    if matches!(left, Ok(v) if v == absorbing) {
        return Ok(Value::Bool(absorbing));
    }
    let right = truth(b, op, act);
    if matches!(right, Ok(v) if v == absorbing) {
        return Ok(Value::Bool(absorbing));
    }
    left?;
    right?;
    Ok(Value::Bool(!absorbing))
}

/// `e` as a bool: a condition (`op` empty) or an operand of `op` (`&&`, `||`). For `&&`/`||`
/// a non-bool behaves like an error value (cel-cpp's logical steps absorb both the same way).
fn truth(e: &Expr, op: &str, act: &mut dyn Activation) -> Result<bool> {
    match eval(e, act)? {
        Value::Bool(b) => Ok(b),
        other if op.is_empty() => Err(error(&["condition evaluated to ", other.type_name(), ", not bool"])),
        other => Err(no_overload(op, &other, "")),
    }
}

/// `==`/`!=` use heterogeneous equality (values of different types are unequal, never an
/// error). Ordering needs equal types (`None` otherwise); strings compare bytewise, bools
/// false < true.
fn compare(op: CmpOp, a: &Value, b: &Value) -> Option<bool> {
    let ord = match (op, a, b) {
        (CmpOp::Eq, ..) => return Some(a == b),
        (CmpOp::Ne, ..) => return Some(a != b),
        (_, Value::Int(x), Value::Int(y)) => x.cmp(y),
        (_, Value::Str(x), Value::Str(y)) => x.cmp(y),
        (_, Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => return None,
    };
    Some(match op {
        CmpOp::Lt => ord.is_lt(),
        CmpOp::Le => ord.is_le(),
        CmpOp::Gt => ord.is_gt(),
        _ => ord.is_ge(),
    })
}

/// Substring search. Quadratic in the worst case, like the `std::string::find` that
/// cel-cpp's `contains` uses, but small (the standard two-way searcher is not).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::super::parser::parse;
    use super::super::testing::MapActivation;
    use super::*;

    fn act() -> MapActivation {
        MapActivation::new()
            .s(Attr::RequestMethod, "GET")
            .s(Attr::RequestUrlPath, "/a/b")
            .s(Attr::RequestHost, "héllo")
            .i(Attr::ResponseCode, 503)
            .req_header("x-a", "a")
    }

    fn ev(src: &str) -> Result<Value> {
        let expr = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        eval(&expr, &mut act())
    }

    fn t(src: &str) -> bool {
        match ev(src) {
            Ok(Value::Bool(b)) => b,
            other => panic!("{src}: {other:?}"),
        }
    }

    fn e(src: &str) -> String {
        match ev(src) {
            Err(EvalError(m)) => m,
            other => panic!("{src} did not fail: {other:?}"),
        }
    }

    #[test]
    fn comparisons() {
        assert!(t("1 < 2") && t("2 <= 2") && t("3 > 2") && t("2 >= 2") && t("1 == 1") && t("1 != 2"));
        assert!(!t("2 < 1") && !t("3 <= 2") && !t("1 > 2") && !t("1 >= 2") && !t("1 == 2") && !t("1 != 1"));
        assert!(t("'a' < 'b'") && t("'B' < 'a'") && t("'ab' > 'a'") && t("'é' > 'z'"));
        assert!(t("false < true") && !t("true < true"));
        assert!(t("-1 < 0") && t("0x10 == 16") && t("16u == 16"));
    }

    #[test]
    fn heterogeneous_equality() {
        assert!(!t("1 == '1'"));
        assert!(t("1 != '1'"));
        assert!(!t("true == 1"));
        assert!(t("response.code != '503'"));
        assert!(t("request.method in [1, true, 'GET']"));
        assert!(!t("1 in ['1']"));
    }

    #[test]
    fn ordering_type_mismatch_is_error() {
        assert_eq!(e("request.method < 1"), "no matching overload for '<' on string and int");
        assert_eq!(e("1 >= 'a'"), "no matching overload for '>=' on int and string");
        assert_eq!(e("true > 0"), "no matching overload for '>' on bool and int");
    }

    #[test]
    fn logical_operators() {
        assert!(t("true && true") && !t("true && false") && !t("false && true") && !t("false && false"));
        assert!(t("true || false") && t("false || true") && t("true || true") && !t("false || false"));
        assert!(t("!false") && !t("!true") && t("!(1 == 2)"));
        assert!(t("!(response.code >= 500) == false"));
    }

    #[test]
    fn error_absorption_both_orders() {
        // request.headers['missing'] is an error; the other side decides when it can.
        assert!(!t("request.headers['missing'] == 'x' && false"));
        assert!(!t("false && request.headers['missing'] == 'x'"));
        assert!(t("request.headers['missing'] == 'x' || true"));
        assert!(t("true || request.headers['missing'] == 'x'"));
        assert_eq!(e("request.headers['missing'] == 'x' && true"), "no such key: 'missing'");
        assert_eq!(e("true && request.headers['missing'] == 'x'"), "no such key: 'missing'");
        assert_eq!(e("request.headers['missing'] == 'x' || false"), "no such key: 'missing'");
        assert_eq!(e("false || request.headers['missing'] == 'x'"), "no such key: 'missing'");
        // With two errors the left one is reported.
        assert_eq!(e("request.headers['m1'] == 'x' || request.headers['m2'] == 'x'"), "no such key: 'm1'");
    }

    #[test]
    fn non_bool_logic_operands() {
        assert_eq!(e("'a' && true"), "no matching overload for '&&' on string");
        assert!(t("true || 1"));
        assert!(!t("'a' && false"));
        assert!(t("1 || true"));
        assert_eq!(e("false || 1"), "no matching overload for '||' on int");
        assert_eq!(e("!'a'"), "no matching overload for '!' on string");
        assert_eq!(e("!1"), "no matching overload for '!' on int");
    }

    #[test]
    fn short_circuit_skips_right_side() {
        let expr = parse("request.method == 'POST' && request.url_path == '/x'").unwrap();
        let mut a = act();
        assert_eq!(eval_bool(&expr, &mut a), Ok(false));
        assert_eq!(a.lookups, vec!["request.method".to_string()]);
        // An erroring left side still lets the right side absorb.
        let expr = parse("request.headers['m'] == 'a' && request.method == 'POST'").unwrap();
        let mut a = act();
        assert_eq!(eval_bool(&expr, &mut a), Ok(false));
        assert_eq!(a.lookups, vec!["header:m".to_string(), "request.method".to_string()]);
    }

    #[test]
    fn missing_attribute_and_header() {
        assert_eq!(e("request.referer == 'x'"), "no such attribute: 'request.referer'");
        assert_eq!(e("request.headers['X-Missing'] == 'a'"), "no such key: 'x-missing'");
        assert_eq!(e("response.headers['x-a'] == 'a'"), "no such key: 'x-a'");
        assert!(t("request.headers['X-A'] == 'a'"));
    }

    #[test]
    fn membership() {
        assert!(t("request.method in ['GET', 'HEAD']"));
        assert!(!t("request.method in ['POST']"));
        assert!(!t("request.method in []"));
        assert!(t("response.code in [500, 503]"));
        assert_eq!(e("request.method in ['GET', request.headers['m']]"), "no such key: 'm'");
        assert_eq!(e("request.referer in ['a']"), "no such attribute: 'request.referer'");
    }

    #[test]
    fn string_functions() {
        assert!(t("request.url_path.startsWith('/a')") && !t("request.url_path.startsWith('/b')"));
        assert!(t("request.url_path.endsWith('/b')") && !t("request.url_path.endsWith('/a')"));
        assert!(t("request.url_path.contains('a/')") && !t("request.url_path.contains('c')"));
        assert!(t("''.startsWith('')") && t("'x'.contains('')"));
        assert_eq!(e("response.code.startsWith('5')"), "no matching overload for 'startsWith' on int and string");
        assert_eq!(e("request.method.contains(1)"), "no matching overload for 'contains' on string and int");
    }

    #[test]
    fn regex_matching_is_unanchored() {
        assert!(t("request.url_path.matches('a')"));
        assert!(t("request.url_path.matches('/b$')"));
        assert!(!t("request.url_path.matches('^/b')"));
        assert!(t("request.url_path.matches('^/[[:alnum:]]+/[[:alnum:]]+$')"));
        assert!(t("request.url_path.matches(r'^/\\w/\\w$')"));
        assert!(t("request.host.matches('^h.llo$')"));
        assert_eq!(e("response.code.matches('5')"), "no matching overload for 'matches' on int and string");
    }

    #[test]
    fn size_counts_code_points() {
        assert_eq!(ev("size(request.host)"), Ok(Value::Int(5)));
        assert_eq!(ev("request.host.size()"), Ok(Value::Int(5)));
        assert_eq!(ev("size('')"), Ok(Value::Int(0)));
        assert_eq!(ev("'\\u00e9'.size()"), Ok(Value::Int(1)));
        assert_eq!(e("size(response.code)"), "no matching overload for 'size' on int");
        assert_eq!(e("size(true)"), "no matching overload for 'size' on bool");
    }

    #[test]
    fn eval_bool_requires_bool() {
        let expr = parse("request.method").unwrap();
        assert_eq!(eval(&expr, &mut act()), Ok(Value::Str("GET".into())));
        let err = eval_bool(&expr, &mut act()).unwrap_err();
        assert_eq!(err.to_string(), "condition evaluated to string, not bool");
        assert!(eval_bool(&parse("response.code").unwrap(), &mut act()).is_err());
    }

    #[test]
    fn attribute_value_types_come_from_activation() {
        // The evaluator trusts whatever type the activation supplies.
        let mut a = MapActivation::new().s(Attr::ResponseCode, "200");
        let expr = parse("response.code == 200").unwrap();
        assert_eq!(eval_bool(&expr, &mut a), Ok(false));
    }
}
