//! Turning attributegen CEL conditions into indexed routes.
//!
//! A condition is a conjunction; the conjuncts routegen can index (method equality or `in`,
//! `url_path` equality, `startsWith`, `matches`) become a route's method set and path match,
//! and whatever is left stays a *residual* CEL expression checked only when the indexed part
//! holds. This preserves CEL's meaning exactly: `&&` is commutative in CEL (a false operand
//! wins over an error on the other side), and the indexed conjuncts can never error because
//! `:method` and `:path` are always present when the index is used.

use crate::cel::{Attr, CmpOp, Expr, StrFn, Value};
use crate::route::{MethodSet, PathMatch, PathRegex};
use crate::template::{Glob, GlobPart, Segment, Template};

/// The indexable part of a condition and what is left to evaluate.
#[derive(Debug)]
pub struct Lowered {
    pub methods: MethodSet,
    pub path: PathMatch,
    pub residual: Option<Expr>,
}

/// Splits `expr` into an indexable route and a residual, or `None` if nothing is indexable.
pub fn lower(expr: &Expr) -> Option<Lowered> {
    let mut conjuncts = Vec::new();
    flatten_and(expr, &mut conjuncts);
    let mut methods: Option<MethodSet> = None;
    let mut path: Option<PathMatch> = None;
    let mut rest: Vec<&Expr> = Vec::new();
    for conjunct in conjuncts {
        if methods.is_none() {
            if let Some(set) = method_condition(conjunct) {
                methods = Some(set);
                continue;
            }
        }
        if path.is_none() {
            if let Some(matcher) = path_condition(conjunct) {
                path = Some(matcher);
                continue;
            }
        }
        rest.push(conjunct);
    }
    if methods.is_none() && path.is_none() {
        return None;
    }
    let residual = rest.into_iter().cloned().reduce(|left, right| Expr::And(Box::new(left), Box::new(right)));
    Some(Lowered { methods: methods.unwrap_or_default(), path: path.unwrap_or(PathMatch::Any), residual })
}

/// Drops every compiled regex of an indexed condition: the index and the residual (a copy)
/// answer for it on every request that has `:method` and `:path`, so the condition itself is
/// evaluated only for the rare one that lacks them, which recompiles what it needs.
pub fn release_regexes(expr: &mut Expr) {
    match expr {
        Expr::Matches(subject, matcher) => {
            matcher.release();
            release_regexes(subject);
        }
        Expr::Lit(_) | Expr::Attr(_) | Expr::Header { .. } | Expr::HasHeader { .. } => {}
        Expr::Not(e) | Expr::Size(e) => release_regexes(e),
        Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) | Expr::StrFn(_, a, b) => {
            release_regexes(a);
            release_regexes(b);
        }
        Expr::In(e, list) => {
            release_regexes(e);
            list.iter_mut().for_each(release_regexes);
        }
    }
}

/// The conjuncts of an `&&` chain, in order (`a && (b && c)` → `[a, b, c]`).
pub fn flatten_and<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::And(left, right) => {
            flatten_and(left, out);
            flatten_and(right, out);
        }
        other => out.push(other),
    }
}

/// The disjuncts of an `||` chain, in order.
pub fn flatten_or<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::Or(left, right) => {
            flatten_or(left, out);
            flatten_or(right, out);
        }
        other => out.push(other),
    }
}

fn string_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Lit(Value::Str(s)) => Some(s),
        _ => None,
    }
}

/// `attr == 'lit'` in either order.
fn equality(expr: &Expr, attr: Attr) -> Option<&str> {
    let Expr::Cmp(CmpOp::Eq, left, right) = expr else { return None };
    match (left.as_ref(), right.as_ref()) {
        (Expr::Attr(a), other) | (other, Expr::Attr(a)) if *a == attr => string_literal(other),
        _ => None,
    }
}

fn method_condition(expr: &Expr) -> Option<MethodSet> {
    if let Some(method) = equality(expr, Attr::RequestMethod) {
        return Some(MethodSet(Some(vec![method.to_string()])));
    }
    let Expr::In(subject, list) = expr else { return None };
    if !matches!(subject.as_ref(), Expr::Attr(Attr::RequestMethod)) || list.is_empty() {
        return None;
    }
    let methods: Option<Vec<String>> = list.iter().map(|e| string_literal(e).map(str::to_string)).collect();
    methods.map(|m| MethodSet(Some(m)))
}

fn path_condition(expr: &Expr) -> Option<PathMatch> {
    if let Some(path) = equality(expr, Attr::RequestUrlPath) {
        return Some(PathMatch::Exact(path.as_bytes().to_vec()));
    }
    match expr {
        Expr::StrFn(StrFn::StartsWith, subject, argument)
            if matches!(subject.as_ref(), Expr::Attr(Attr::RequestUrlPath)) =>
        {
            string_literal(argument).map(|prefix| PathMatch::Prefix(prefix.as_bytes().to_vec()))
        }
        Expr::Matches(subject, matcher) if matches!(subject.as_ref(), Expr::Attr(Attr::RequestUrlPath)) => {
            if let Some(template) = regex_as_template(&matcher.pattern) {
                return Some(PathMatch::Template(template));
            }
            // The CEL parser already compiled it with RE2's reading of the syntax.
            let regex = matcher.regex().ok()?.clone();
            Some(PathMatch::Regex(Box::new(PathRegex::from_search(&matcher.pattern, regex))))
        }
        _ => None,
    }
}

/// Recognises anchored regexes that are really path templates, e.g. Linkerd-style
/// `^/repos/[^/]*/[^/]*/issues$`, so they go in the segment trie instead of being run one by
/// one. Only an exact equivalence is accepted: literals, `/`, and `[^/]+` / `[^/]*` pieces.
pub fn regex_as_template(pattern: &str) -> Option<Template> {
    let body = pattern.strip_prefix('^')?.strip_suffix('$')?;
    if body.ends_with('\\') {
        return None; // the `$` was escaped
    }
    let body = body.as_bytes();
    if body.first() != Some(&b'/') {
        return None;
    }
    let mut segments = Vec::new();
    let mut parts: Vec<GlobPart> = Vec::new();
    let mut literal: Vec<u8> = Vec::new();
    let mut i = 1;
    let finish_segment = |parts: &mut Vec<GlobPart>, literal: &mut Vec<u8>, segments: &mut Vec<Segment>| {
        if !literal.is_empty() {
            parts.push(GlobPart::Literal(std::mem::take(literal).into()));
        }
        let segment = match parts.as_slice() {
            [] => Segment::Literal(Box::from(&b""[..])),
            [GlobPart::Literal(bytes)] => Segment::Literal(bytes.clone()),
            [GlobPart::Any] => Segment::Any { allow_empty: false },
            [GlobPart::AnyOrEmpty] => Segment::Any { allow_empty: true },
            _ => Segment::Glob(Glob { parts: std::mem::take(parts) }),
        };
        parts.clear();
        segments.push(segment);
    };
    while i < body.len() {
        let rest = &body[i..];
        if rest.starts_with(b"[^/]+") || rest.starts_with(b"[^/]*") {
            if !literal.is_empty() {
                parts.push(GlobPart::Literal(std::mem::take(&mut literal).into()));
            }
            if matches!(parts.last(), Some(GlobPart::Any | GlobPart::AnyOrEmpty)) {
                return None;
            }
            parts.push(if rest[4] == b'+' { GlobPart::Any } else { GlobPart::AnyOrEmpty });
            i += 5;
            continue;
        }
        let (byte, width) = match rest[0] {
            b'\\' => match rest.get(1) {
                Some(&b) if b.is_ascii_punctuation() => (b, 2),
                _ => return None,
            },
            b if b.is_ascii_alphanumeric() || b"/-_~%:@!,;='&\" ".contains(&b) => (b, 1),
            _ => return None,
        };
        // A quantifier after a literal is regex, not template.
        if matches!(rest.get(width), Some(b'?' | b'*' | b'+' | b'{')) {
            return None;
        }
        if byte == b'/' {
            finish_segment(&mut parts, &mut literal, &mut segments);
        } else {
            literal.push(byte);
        }
        i += width;
    }
    finish_segment(&mut parts, &mut literal, &mut segments);
    Some(Template { segments, rest: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cel::parse;

    fn lowered(source: &str) -> Option<Lowered> {
        lower(&parse(source).unwrap())
    }

    #[test]
    fn released_regexes_answer_as_before() {
        use crate::cel::{eval_bool, testing::MapActivation};
        let mut expr = parse("request.url_path.matches('^/a/[0-9]+$') || !request.url_path.matches('x')").unwrap();
        let kept = expr.clone();
        release_regexes(&mut expr);
        let Expr::Or(first, _) = &expr else { panic!("parsed as {expr:?}") };
        let Expr::Matches(_, matcher) = first.as_ref() else { panic!("parsed as {first:?}") };
        assert!(!matcher.is_compiled(), "released");
        for path in ["/a/12", "/a/b", "/x", "/"] {
            let mut act = MapActivation::default();
            act.attrs.insert(Attr::RequestUrlPath, Value::Str(path.to_string()));
            assert_eq!(eval_bool(&expr, &mut act), eval_bool(&kept, &mut act), "{path}");
        }
        assert!(matcher.is_compiled(), "compiled again on first use");
    }

    #[test]
    fn method_and_path_conjuncts_are_indexed() {
        let l = lowered("request.url_path == '/books' && request.method == 'GET'").unwrap();
        assert_eq!(l.methods, MethodSet::only(&["GET"]));
        assert!(matches!(l.path, PathMatch::Exact(ref p) if p == b"/books"));
        assert!(l.residual.is_none());

        let l = lowered("request.method in ['GET', 'HEAD'] && request.url_path.startsWith('/status')").unwrap();
        assert_eq!(l.methods, MethodSet::only(&["GET", "HEAD"]));
        assert!(matches!(l.path, PathMatch::Prefix(ref p) if p == b"/status"));

        let l = lowered("'POST' == request.method").unwrap();
        assert_eq!(l.methods, MethodSet::only(&["POST"]));
        assert!(matches!(l.path, PathMatch::Any));
    }

    #[test]
    fn the_rest_stays_a_residual() {
        let l = lowered("request.method == 'GET' && request.headers['x'] == 'a' && request.url_path == '/a'").unwrap();
        assert!(matches!(l.path, PathMatch::Exact(_)));
        assert!(l.residual.is_some());
        // A second path condition is not merged: it is checked as CEL.
        let l = lowered("request.url_path.startsWith('/a') && request.url_path.endsWith('.json')").unwrap();
        assert!(matches!(l.path, PathMatch::Prefix(_)));
        assert!(l.residual.is_some());
    }

    #[test]
    fn conditions_without_an_index_key_are_not_lowered() {
        assert!(lowered("response.code >= 500").is_none());
        assert!(lowered("request.method == 'GET' || request.url_path == '/x'").is_none());
        assert!(lowered("!(request.method == 'GET')").is_none());
        assert!(lowered("request.path == '/x'").is_none());
    }

    #[test]
    fn template_like_regexes_become_templates() {
        let t = regex_as_template("^/repos/[^/]*/[^/]*/issues$").unwrap();
        assert!(t.matches(b"/repos/a/b/issues"));
        assert!(t.matches(b"/repos//b/issues"), "[^/]* admits an empty segment");
        assert!(!t.matches(b"/repos/a/b/issues/1"));
        let t = regex_as_template("^/files/[^/]+\\.json$").unwrap();
        assert!(t.matches(b"/files/a.json") && !t.matches(b"/files/.json"));
        assert!(regex_as_template("/repos/[^/]*$").is_none(), "unanchored start");
        assert!(regex_as_template("^/repos/[^/]*").is_none(), "unanchored end");
        assert!(regex_as_template("^/a/.*$").is_none());
        assert!(regex_as_template("^/ab?$").is_none());
        assert!(regex_as_template("^/a\\$").is_none());
        assert!(regex_as_template("^/shelves/[[:alnum:]]*$").is_none());
        let lowered = lowered("request.url_path.matches('^/books/[^/]+$')").unwrap();
        assert!(matches!(lowered.path, PathMatch::Template(_)));
    }

    #[test]
    fn other_regexes_stay_regexes_and_unanchored() {
        let l = lowered("request.url_path.matches('^/shelves/[[:alnum:]]*/books/[[:alnum:]]*$')").unwrap();
        match l.path {
            PathMatch::Regex(r) => {
                assert!(r.is_match(b"/shelves/a1/books/b2"));
                assert_eq!(r.literal_prefix, b"/shelves/");
            }
            other => panic!("{other:?}"),
        }
        let l = lowered("request.url_path.matches('books')").unwrap();
        assert!(matches!(l.path, PathMatch::Regex(ref r) if r.is_match(b"/x/books/y")));
    }
}
