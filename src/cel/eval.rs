//! Evaluator with cel-cpp semantics for the subset: errors are values that `&&`/`||` can
//! absorb, equality is heterogeneous (different types are simply unequal), ordering across
//! types is an error, and a missing attribute or header is a "no such key" error.

use std::cmp::Ordering;
use std::fmt;

use super::ast::{Attr, CmpOp, Expr, Matcher, StrFn, Value};

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

/// Evaluates `expr`. Recursion follows the tree, whose depth the parser bounds.
pub fn eval(expr: &Expr, act: &mut dyn Activation) -> Result<Value> {
    match expr {
        Expr::Lit(v) => Ok(v.clone()),
        Expr::Attr(a) => act
            .attr(*a)
            .ok_or_else(|| EvalError(format!("no such attribute: '{}'", a.name()))),
        Expr::Header { response, name } => act
            .header(*response, name)
            .map(Value::Str)
            .ok_or_else(|| EvalError(format!("no such key: '{name}'"))),
        Expr::Not(e) => eval_not(e, act),
        Expr::And(a, b) => eval_logic(a, b, false, act),
        Expr::Or(a, b) => eval_logic(a, b, true, act),
        Expr::Cmp(op, a, b) => {
            let left = eval(a, act)?;
            let right = eval(b, act)?;
            compare(*op, &left, &right).map(Value::Bool)
        }
        Expr::In(e, list) => eval_in(e, list, act),
        Expr::StrFn(f, recv, arg) => eval_str_fn(*f, recv, arg, act),
        Expr::Matches(recv, m) => eval_matches(recv, m, act),
        Expr::Size(e) => eval_size(e, act),
    }
}

/// Evaluates `expr` as a condition: a non-bool result is an error.
pub fn eval_bool(expr: &Expr, act: &mut dyn Activation) -> Result<bool> {
    match eval(expr, act)? {
        Value::Bool(b) => Ok(b),
        other => Err(EvalError(format!(
            "condition evaluated to {}, not bool",
            other.type_name()
        ))),
    }
}

fn no_overload(op: &str, args: &[&Value]) -> EvalError {
    let types: Vec<&str> = args.iter().map(|v| v.type_name()).collect();
    EvalError(format!(
        "no matching overload for '{op}' on {}",
        types.join(" and ")
    ))
}

fn eval_not(e: &Expr, act: &mut dyn Activation) -> Result<Value> {
    match eval(e, act)? {
        Value::Bool(b) => Ok(Value::Bool(!b)),
        other => Err(no_overload("!", &[&other])),
    }
}

/// An operand of `&&`/`||` as a bool; a non-bool behaves like an error value (cel-cpp's
/// logical steps absorb both the same way).
fn logic_operand(e: &Expr, op: &str, act: &mut dyn Activation) -> Result<bool> {
    match eval(e, act)? {
        Value::Bool(b) => Ok(b),
        other => Err(no_overload(op, &[&other])),
    }
}

/// `&&` (absorbing = false) and `||` (absorbing = true), commutative over errors:
/// the absorbing value on either side wins; otherwise the first error propagates.
fn eval_logic(a: &Expr, b: &Expr, absorbing: bool, act: &mut dyn Activation) -> Result<Value> {
    let op = if absorbing { "||" } else { "&&" };
    let left = logic_operand(a, op, act);
    if left == Ok(absorbing) {
        return Ok(Value::Bool(absorbing));
    }
    let right = logic_operand(b, op, act);
    match (left, right) {
        (_, Ok(r)) if r == absorbing => Ok(Value::Bool(absorbing)),
        (Err(e), _) | (_, Err(e)) => Err(e),
        (Ok(_), Ok(_)) => Ok(Value::Bool(!absorbing)),
    }
}

/// Heterogeneous equality: values of different types are unequal, never an error.
fn equal(a: &Value, b: &Value) -> bool {
    a == b
}

/// Same-type ordering; strings compare bytewise (as Rust `str` does), bools false < true.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> Result<bool> {
    let ord = match op {
        CmpOp::Eq => return Ok(equal(a, b)),
        CmpOp::Ne => return Ok(!equal(a, b)),
        _ => order(a, b).ok_or_else(|| no_overload(op.symbol(), &[a, b]))?,
    };
    Ok(match op {
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
        CmpOp::Eq | CmpOp::Ne => false,
    })
}

/// `x in [..]`: like cel-cpp, the element and the whole list are evaluated first (an error
/// in any element is an error), then membership uses heterogeneous equality.
fn eval_in(e: &Expr, list: &[Expr], act: &mut dyn Activation) -> Result<Value> {
    let needle = eval(e, act)?;
    let items = list
        .iter()
        .map(|item| eval(item, act))
        .collect::<Result<Vec<_>>>()?;
    Ok(Value::Bool(items.iter().any(|v| equal(&needle, v))))
}

fn eval_str_fn(f: StrFn, recv: &Expr, arg: &Expr, act: &mut dyn Activation) -> Result<Value> {
    let r = eval(recv, act)?;
    let a = eval(arg, act)?;
    let (Value::Str(s), Value::Str(p)) = (&r, &a) else {
        return Err(no_overload(f.name(), &[&r, &a]));
    };
    let result = match f {
        StrFn::StartsWith => s.starts_with(p.as_str()),
        StrFn::EndsWith => s.ends_with(p.as_str()),
        StrFn::Contains => s.contains(p.as_str()),
    };
    Ok(Value::Bool(result))
}

/// Unanchored search, like RE2::PartialMatch in cel-cpp.
fn eval_matches(recv: &Expr, m: &Matcher, act: &mut dyn Activation) -> Result<Value> {
    match eval(recv, act)? {
        Value::Str(s) => Ok(Value::Bool(m.regex.is_match(&s))),
        other => Err(no_overload(
            "matches",
            &[&other, &Value::Str(String::new())],
        )),
    }
}

/// CEL string size counts Unicode code points, not bytes.
fn eval_size(e: &Expr, act: &mut dyn Activation) -> Result<Value> {
    match eval(e, act)? {
        Value::Str(s) => i64::try_from(s.chars().count())
            .map(Value::Int)
            .map_err(|_| EvalError("string size out of range".into())),
        other => Err(no_overload("size", &[&other])),
    }
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
        assert!(
            t("1 < 2") && t("2 <= 2") && t("3 > 2") && t("2 >= 2") && t("1 == 1") && t("1 != 2")
        );
        assert!(
            !t("2 < 1")
                && !t("3 <= 2")
                && !t("1 > 2")
                && !t("1 >= 2")
                && !t("1 == 2")
                && !t("1 != 1")
        );
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
        assert_eq!(
            e("request.method < 1"),
            "no matching overload for '<' on string and int"
        );
        assert_eq!(
            e("1 >= 'a'"),
            "no matching overload for '>=' on int and string"
        );
        assert_eq!(
            e("true > 0"),
            "no matching overload for '>' on bool and int"
        );
    }

    #[test]
    fn logical_operators() {
        assert!(
            t("true && true") && !t("true && false") && !t("false && true") && !t("false && false")
        );
        assert!(
            t("true || false") && t("false || true") && t("true || true") && !t("false || false")
        );
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
        assert_eq!(
            e("request.headers['missing'] == 'x' && true"),
            "no such key: 'missing'"
        );
        assert_eq!(
            e("true && request.headers['missing'] == 'x'"),
            "no such key: 'missing'"
        );
        assert_eq!(
            e("request.headers['missing'] == 'x' || false"),
            "no such key: 'missing'"
        );
        assert_eq!(
            e("false || request.headers['missing'] == 'x'"),
            "no such key: 'missing'"
        );
        // With two errors the left one is reported.
        assert_eq!(
            e("request.headers['m1'] == 'x' || request.headers['m2'] == 'x'"),
            "no such key: 'm1'"
        );
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
        assert_eq!(
            a.lookups,
            vec!["header:m".to_string(), "request.method".to_string()]
        );
    }

    #[test]
    fn missing_attribute_and_header() {
        assert_eq!(
            e("request.referer == 'x'"),
            "no such attribute: 'request.referer'"
        );
        assert_eq!(
            e("request.headers['X-Missing'] == 'a'"),
            "no such key: 'x-missing'"
        );
        assert_eq!(e("response.headers['x-a'] == 'a'"), "no such key: 'x-a'");
        assert!(t("request.headers['X-A'] == 'a'"));
    }

    #[test]
    fn membership() {
        assert!(t("request.method in ['GET', 'HEAD']"));
        assert!(!t("request.method in ['POST']"));
        assert!(!t("request.method in []"));
        assert!(t("response.code in [500, 503]"));
        assert_eq!(
            e("request.method in ['GET', request.headers['m']]"),
            "no such key: 'm'"
        );
        assert_eq!(
            e("request.referer in ['a']"),
            "no such attribute: 'request.referer'"
        );
    }

    #[test]
    fn string_functions() {
        assert!(t("request.url_path.startsWith('/a')") && !t("request.url_path.startsWith('/b')"));
        assert!(t("request.url_path.endsWith('/b')") && !t("request.url_path.endsWith('/a')"));
        assert!(t("request.url_path.contains('a/')") && !t("request.url_path.contains('c')"));
        assert!(t("''.startsWith('')") && t("'x'.contains('')"));
        assert_eq!(
            e("response.code.startsWith('5')"),
            "no matching overload for 'startsWith' on int and string"
        );
        assert_eq!(
            e("request.method.contains(1)"),
            "no matching overload for 'contains' on string and int"
        );
    }

    #[test]
    fn regex_matching_is_unanchored() {
        assert!(t("request.url_path.matches('a')"));
        assert!(t("request.url_path.matches('/b$')"));
        assert!(!t("request.url_path.matches('^/b')"));
        assert!(t(
            "request.url_path.matches('^/[[:alnum:]]+/[[:alnum:]]+$')"
        ));
        assert!(t("request.url_path.matches(r'^/\\w/\\w$')"));
        assert!(t("request.host.matches('^h.llo$')"));
        assert_eq!(
            e("response.code.matches('5')"),
            "no matching overload for 'matches' on int and string"
        );
    }

    #[test]
    fn size_counts_code_points() {
        assert_eq!(ev("size(request.host)"), Ok(Value::Int(5)));
        assert_eq!(ev("request.host.size()"), Ok(Value::Int(5)));
        assert_eq!(ev("size('')"), Ok(Value::Int(0)));
        assert_eq!(ev("'\\u00e9'.size()"), Ok(Value::Int(1)));
        assert_eq!(
            e("size(response.code)"),
            "no matching overload for 'size' on int"
        );
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
