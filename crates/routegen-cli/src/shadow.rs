//! Does one route cover another? The analysis behind `routegen check`'s "can never match"
//! warnings and the importers' ordering of literal paths before templates.
//!
//! Route tables are first-match: a route B is dead when an earlier route A matches every
//! request B matches. For the path conditions that are regular languages (exact paths,
//! prefixes, directory prefixes, templates with globs and `**`) this is decided *exactly*: each
//! is compiled to a small NFA over path bytes and language inclusion `L(B) ∩ U ⊆ L(A)` is
//! checked by a product subset construction, where `U` is the set of paths the matcher can
//! actually see after normalisation (no `//` when slashes are merged, no trailing `/` when
//! trailing slashes are ignored, no upper case when matching is case-insensitive, never a `?`
//! or `#`). Regexes are not regular-language-compiled here: a regex that is really a template
//! is decided exactly through [`routegen_core::lower::regex_as_template`], and anything else gets a
//! sampling verdict, [`Cover::Maybe`].
//!
//! Pure: no host calls, no I/O.

use routegen_core::normalize::NormalizeOptions;
use routegen_core::route::{MethodSet, PathMatch, PathRegex, RouteSpec, ValueMatch, ValueRule};
use routegen_core::template::{GlobPart, Segment, Template};
use std::collections::{HashSet, VecDeque};

/// Whether every request one condition admits is admitted by another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cover {
    /// Proven: every path (request) the later one matches, the earlier one matches.
    Always,
    /// Every sampled path matched, but a regex is involved and no proof was possible.
    Maybe,
    /// Proven not to cover, or no evidence that it does.
    Never,
}

/// The set of paths a matcher can be handed, after the given normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Universe {
    /// `//` never occurs (merge_slashes).
    pub no_double_slash: bool,
    /// A path other than `/` never ends with `/` (ignore_trailing_slash).
    pub no_trailing_slash: bool,
    /// No ASCII upper case (case_insensitive).
    pub lower_case: bool,
    /// No `?` (the query is cut) and, when `no_fragment`, no `#`.
    pub no_fragment: bool,
}

impl Universe {
    /// Native routes: the path after [`routegen_core::normalize`] with these options.
    pub fn native(options: &NormalizeOptions) -> Universe {
        Universe {
            no_double_slash: options.merge_slashes,
            no_trailing_slash: options.ignore_trailing_slash,
            lower_case: options.case_insensitive,
            no_fragment: true,
        }
    }

    /// attributegen's `request.url_path`: `:path` cut at `?`, nothing else.
    pub fn raw() -> Universe {
        Universe { no_double_slash: false, no_trailing_slash: false, lower_case: false, no_fragment: false }
    }

    /// Whether a concrete path belongs to the universe (for samplers and tests).
    pub fn contains(&self, path: &[u8]) -> bool {
        let mut state = UState::Empty;
        for &b in path {
            match self.step(state, b) {
                Some(next) => state = next,
                None => return false,
            }
        }
        self.accepts(state)
    }

    fn step(&self, state: UState, byte: u8) -> Option<UState> {
        if byte == b'?' || (self.no_fragment && byte == b'#') || (self.lower_case && byte.is_ascii_uppercase()) {
            return None;
        }
        match (state, byte == b'/') {
            (UState::Empty, true) => Some(UState::Root),
            (UState::Root | UState::Slash, true) if self.no_double_slash => None,
            (UState::Root | UState::Slash | UState::Other, true) => Some(UState::Slash),
            (_, false) => Some(UState::Other),
        }
    }

    fn accepts(&self, state: UState) -> bool {
        !(state == UState::Slash && self.no_trailing_slash)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum UState {
    Empty,
    /// Exactly `/`.
    Root,
    /// Ends with `/` and is longer than `/`.
    Slash,
    /// Ends with another byte.
    Other,
}

// ---------------------------------------------------------------------------------------------
// NFAs over path bytes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Byte(u8),
    /// Any byte but `/` (inside a segment).
    NotSlash,
    /// Any byte at all (after a prefix, after `**`).
    AnyByte,
}

impl Label {
    fn admits(self, byte: u8) -> bool {
        match self {
            Label::Byte(b) => b == byte,
            Label::NotSlash => byte != b'/',
            Label::AnyByte => true,
        }
    }
}

#[derive(Debug, Default)]
struct Nfa {
    edges: Vec<Vec<(Label, usize)>>,
    epsilon: Vec<Vec<usize>>,
    accept: Vec<bool>,
}

impl Nfa {
    fn state(&mut self) -> usize {
        self.edges.push(Vec::new());
        self.epsilon.push(Vec::new());
        self.accept.push(false);
        self.edges.len() - 1
    }

    /// Appends a chain of byte edges from `from`; returns the last state.
    fn literal(&mut self, from: usize, bytes: &[u8]) -> usize {
        bytes.iter().fold(from, |at, &b| {
            let next = self.state();
            self.edges[at].push((Label::Byte(b), next));
            next
        })
    }

    /// `label*` from `from`: a self-loop on a fresh state reached by ε.
    fn star(&mut self, from: usize, label: Label) -> usize {
        let s = self.state();
        self.epsilon[from].push(s);
        self.edges[s].push((label, s));
        s
    }

    /// `label+`.
    fn plus(&mut self, from: usize, label: Label) -> usize {
        let s = self.state();
        self.edges[from].push((label, s));
        self.edges[s].push((label, s));
        s
    }

    fn closure(&self, states: &mut Vec<usize>) {
        let mut stack = states.clone();
        let mut seen: HashSet<usize> = states.iter().copied().collect();
        while let Some(s) = stack.pop() {
            for &t in &self.epsilon[s] {
                if seen.insert(t) {
                    stack.push(t);
                    states.push(t);
                }
            }
        }
        states.sort_unstable();
        states.dedup();
    }

    fn start_set(&self) -> Vec<usize> {
        let mut set = vec![0];
        self.closure(&mut set);
        set
    }

    fn step(&self, set: &[usize], byte: u8) -> Vec<usize> {
        let mut next: Vec<usize> =
            set.iter().flat_map(|&s| self.edges[s].iter().filter(|(l, _)| l.admits(byte)).map(|&(_, t)| t)).collect();
        self.closure(&mut next);
        next
    }

    fn accepts(&self, set: &[usize]) -> bool {
        set.iter().any(|&s| self.accept[s])
    }

    fn literal_bytes(&self, out: &mut HashSet<u8>) {
        for edges in &self.edges {
            for (label, _) in edges {
                if let Label::Byte(b) = label {
                    out.insert(*b);
                }
            }
        }
    }
}

/// Compiles the regular path conditions; `None` for regexes.
fn compile(path: &PathMatch) -> Option<Nfa> {
    let mut nfa = Nfa::default();
    let start = nfa.state();
    match path {
        PathMatch::Any => {
            let s = nfa.star(start, Label::AnyByte);
            nfa.accept[s] = true;
        }
        PathMatch::Exact(bytes) => {
            let end = nfa.literal(start, bytes);
            nfa.accept[end] = true;
        }
        PathMatch::Prefix(bytes) => {
            let end = nfa.literal(start, bytes);
            let s = nfa.star(end, Label::AnyByte);
            nfa.accept[s] = true;
        }
        PathMatch::DirPrefix(bytes) => {
            let directory = bytes.strip_suffix(b"/").unwrap_or(bytes);
            let dir_end = nfa.literal(start, directory);
            nfa.accept[dir_end] = true;
            let rest = nfa.literal(dir_end, &bytes[directory.len()..]);
            let s = nfa.star(rest, Label::AnyByte);
            nfa.accept[s] = true;
        }
        PathMatch::Template(template) => template_nfa(&mut nfa, start, template),
        PathMatch::Regex(_) => return None,
    }
    Some(nfa)
}

fn template_nfa(nfa: &mut Nfa, start: usize, template: &Template) {
    let mut at = start;
    for segment in &template.segments {
        at = nfa.literal(at, b"/");
        at = match segment {
            Segment::Literal(bytes) => nfa.literal(at, bytes),
            Segment::Any { allow_empty: true } => nfa.star(at, Label::NotSlash),
            Segment::Any { allow_empty: false } => nfa.plus(at, Label::NotSlash),
            Segment::Glob(glob) => glob.parts.iter().fold(at, |at, part| match part {
                GlobPart::Literal(bytes) => nfa.literal(at, bytes),
                GlobPart::Any => nfa.plus(at, Label::NotSlash),
                GlobPart::AnyOrEmpty => nfa.star(at, Label::NotSlash),
            }),
        };
    }
    if template.rest {
        // `**`: zero more segments, or `/` and anything. With no fixed segment the path must
        // still start with `/` (`/**` matches every absolute path).
        if !template.segments.is_empty() {
            nfa.accept[at] = true;
        }
        let slash = nfa.literal(at, b"/");
        let s = nfa.star(slash, Label::AnyByte);
        nfa.accept[s] = true;
    } else {
        nfa.accept[at] = true;
    }
}

/// Decides `L(inner) ∩ U ⊆ L(outer)` by walking the product of both determinised NFAs and the
/// universe automaton over one representative byte per equivalence class.
fn includes(outer: &Nfa, inner: &Nfa, universe: &Universe) -> bool {
    let mut literals = HashSet::new();
    outer.literal_bytes(&mut literals);
    inner.literal_bytes(&mut literals);
    literals.extend([b'/', b'?', b'#']);
    let mut alphabet: Vec<u8> = literals.iter().copied().collect();
    // One byte standing for "any other upper-case letter" and one for "anything else".
    if let Some(b) = (b'A'..=b'Z').find(|b| !literals.contains(b)) {
        alphabet.push(b);
    }
    if let Some(b) = (b'a'..=b'z').chain(b'0'..=b'9').find(|b| !literals.contains(b)) {
        alphabet.push(b);
    }
    alphabet.sort_unstable();

    type Key = (Vec<usize>, UState, Vec<usize>);
    let start: Key = (inner.start_set(), UState::Empty, outer.start_set());
    let mut seen: HashSet<Key> = HashSet::new();
    let mut queue = VecDeque::from([start.clone()]);
    seen.insert(start);
    while let Some((inner_set, u, outer_set)) = queue.pop_front() {
        if inner.accepts(&inner_set) && universe.accepts(u) && !outer.accepts(&outer_set) {
            return false;
        }
        for &byte in &alphabet {
            let Some(next_u) = universe.step(u, byte) else { continue };
            let next_inner = inner.step(&inner_set, byte);
            if next_inner.is_empty() {
                continue;
            }
            let key = (next_inner, next_u, outer.step(&outer_set, byte));
            if seen.insert(key.clone()) {
                queue.push_back(key);
            }
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Path conditions

/// Whether `earlier` matches every path in `universe` that `later` matches.
pub fn path_covers(earlier: &PathMatch, later: &PathMatch, universe: &Universe) -> Cover {
    if matches!(earlier, PathMatch::Any) {
        return Cover::Always;
    }
    // Cheap refutation first: a concrete path `later` matches that `earlier` does not.
    if let Some(witness) = witness(later) {
        if universe.contains(&witness) && !earlier.matches(&witness) {
            return Cover::Never;
        }
    }
    let earlier = as_regular(earlier, universe);
    let later = as_regular(later, universe);
    match (compile(&earlier), compile(&later)) {
        (Some(outer), Some(inner)) => {
            if includes(&outer, &inner, universe) {
                Cover::Always
            } else {
                Cover::Never
            }
        }
        (outer, _) => sampled(&earlier, &later, outer.is_none(), universe),
    }
}

/// A regex that is really a template becomes that template (decided exactly).
fn as_regular(path: &PathMatch, universe: &Universe) -> PathMatch {
    if let PathMatch::Regex(regex) = path {
        if let Some(template) = regex_template(regex) {
            return PathMatch::Template(if universe.lower_case { template.to_lowercase() } else { template });
        }
    }
    path.clone()
}

/// The template a regex is equivalent to, reading it as the matcher does: native regexes are
/// compiled `^(?:source)$` (whole path), CEL `matches()` ones are searched as written.
fn regex_template(regex: &PathRegex) -> Option<Template> {
    let compiled = regex.regex.as_str();
    let compiled = compiled.strip_prefix("(?i)").unwrap_or(compiled);
    if let Some(inner) = compiled.strip_prefix("^(?:").and_then(|s| s.strip_suffix(")$")) {
        if inner == regex.source {
            return routegen_core::lower::regex_as_template(&format!("^{inner}$"));
        }
    }
    routegen_core::lower::regex_as_template(compiled)
}

/// Evidence for regexes: the verdict from concrete sample paths of `later`.
fn sampled(earlier: &PathMatch, later: &PathMatch, earlier_is_regex: bool, universe: &Universe) -> Cover {
    let samples: Vec<Vec<u8>> =
        samples(later).into_iter().filter(|p| universe.contains(p) && later.matches(p)).collect();
    if samples.is_empty() {
        return Cover::Never;
    }
    if let (PathMatch::Exact(_), true) = (later, earlier_is_regex) {
        // One path: the regex decides it exactly.
        return if earlier.matches(&samples[0]) { Cover::Always } else { Cover::Never };
    }
    if let PathMatch::Regex(regex) = later {
        // Every path the regex matches starts with its literal prefix: a covered prefix is proof.
        if !regex.literal_prefix.is_empty() {
            if let Some(outer) = compile(earlier) {
                if let Some(inner) = compile(&PathMatch::Prefix(regex.literal_prefix.clone())) {
                    if includes(&outer, &inner, universe) {
                        return Cover::Always;
                    }
                }
            }
        }
    }
    if samples.iter().all(|p| earlier.matches(p)) {
        Cover::Maybe
    } else {
        Cover::Never
    }
}

/// One concrete path the condition matches, if it is easy to name (regexes: none).
pub fn witness(path: &PathMatch) -> Option<Vec<u8>> {
    match path {
        PathMatch::Any => Some(b"/".to_vec()),
        PathMatch::Exact(bytes) => Some(bytes.clone()),
        PathMatch::Prefix(bytes) | PathMatch::DirPrefix(bytes) => Some(bytes.clone()),
        PathMatch::Template(template) => Some(fill(template, b"x1", &[])),
        PathMatch::Regex(_) => None,
    }
}

/// A template with every variable replaced by `value` and `**` by `rest`.
pub fn fill(template: &Template, value: &[u8], rest: &[&[u8]]) -> Vec<u8> {
    let mut path = Vec::new();
    for segment in &template.segments {
        path.push(b'/');
        match segment {
            Segment::Literal(bytes) => path.extend_from_slice(bytes),
            Segment::Any { .. } => path.extend_from_slice(value),
            Segment::Glob(glob) => {
                for part in &glob.parts {
                    match part {
                        GlobPart::Literal(bytes) => path.extend_from_slice(bytes),
                        GlobPart::Any | GlobPart::AnyOrEmpty => path.extend_from_slice(value),
                    }
                }
            }
        }
    }
    if template.rest {
        for segment in rest {
            path.push(b'/');
            path.extend_from_slice(segment);
        }
    }
    if path.is_empty() {
        path.push(b'/');
    }
    path
}

/// Concrete paths of a condition, for sampling verdicts (not all need match it).
fn samples(path: &PathMatch) -> Vec<Vec<u8>> {
    const VALUES: [&[u8]; 6] = [b"x1", b"1", b"abc", b"new", b"a.b", b"X-Y_9"];
    const SUFFIXES: [&[u8]; 12] =
        [b"", b"x", b"1", b"12", b"abc", b"/", b"/x", b"x/y", b"1/2/3", b".json", b"-a_b", b"/a/b/c"];
    match path {
        PathMatch::Template(template) => {
            let mut out: Vec<Vec<u8>> = VALUES.iter().map(|v| fill(template, v, &[])).collect();
            if template.rest {
                out.extend(VALUES.iter().map(|v| fill(template, v, &[v, b"z"])));
            }
            out
        }
        PathMatch::Regex(regex) => {
            let mut bases: Vec<Vec<u8>> = vec![regex.literal_prefix.clone()];
            if regex.literal_prefix.is_empty() {
                bases.push(b"/".to_vec());
            }
            bases.iter().flat_map(|base| SUFFIXES.iter().map(move |s| [base.as_slice(), s].concat())).collect()
        }
        other => witness(other).into_iter().collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Whole routes

/// Whether `earlier` takes every request `later` would: methods, path, headers and query.
pub fn route_covers(earlier: &RouteSpec, later: &RouteSpec, universe: &Universe) -> Cover {
    if !methods_cover(&earlier.methods, &later.methods)
        || !headers_implied(&earlier.headers, &later.headers)
        || !headers_implied(&earlier.query, &later.query)
    {
        return Cover::Never;
    }
    path_covers(&earlier.path, &later.path, universe)
}

/// Every method `later` allows, `earlier` allows.
pub fn methods_cover(earlier: &MethodSet, later: &MethodSet) -> bool {
    match (&earlier.0, &later.0) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(outer), Some(inner)) => inner.iter().all(|m| outer.contains(m)),
    }
}

/// Whether the methods of two routes share at least one method.
pub fn methods_overlap(a: &MethodSet, b: &MethodSet) -> bool {
    match (&a.0, &b.0) {
        (None, _) | (_, None) => true,
        (Some(x), Some(y)) => x.iter().any(|m| y.contains(m)),
    }
}

/// Each header (or query) condition of the earlier route follows from the later route's conditions.
pub fn headers_implied(earlier: &[ValueMatch], later: &[ValueMatch]) -> bool {
    earlier.iter().all(|need| later.iter().any(|have| have.name == need.name && implies(&have.rule, &need.rule)))
}

fn implies(have: &ValueRule, need: &ValueRule) -> bool {
    match (have, need) {
        (ValueRule::Absent, ValueRule::Absent) => true,
        (ValueRule::Absent, _) | (_, ValueRule::Absent) => false,
        (_, ValueRule::Present) => true,
        (ValueRule::Exact(v), ValueRule::Exact(w)) => v == w,
        (ValueRule::Exact(v), ValueRule::Prefix(p)) => v.starts_with(p.as_str()),
        (ValueRule::Exact(v), ValueRule::Regex(r)) => r.is_match(v),
        (ValueRule::Prefix(q), ValueRule::Prefix(p)) => q.starts_with(p.as_str()),
        (ValueRule::Regex(a), ValueRule::Regex(b)) => a.as_str() == b.as_str(),
        _ => false,
    }
}

/// A later route that an earlier one of the same table covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shadowed {
    pub earlier: usize,
    pub later: usize,
    pub cover: Cover,
}

/// Every route of an ordered table covered by an earlier one (the first such earlier route,
/// preferring a proof over a sampling verdict).
pub fn shadowed_routes(routes: &[RouteSpec], universe: &Universe) -> Vec<Shadowed> {
    let mut out = Vec::new();
    for later in 0..routes.len() {
        let mut maybe = None;
        for earlier in 0..later {
            match route_covers(&routes[earlier], &routes[later], universe) {
                Cover::Always => {
                    maybe = Some(Shadowed { earlier, later, cover: Cover::Always });
                    break;
                }
                Cover::Maybe if maybe.is_none() => maybe = Some(Shadowed { earlier, later, cover: Cover::Maybe }),
                _ => {}
            }
        }
        out.extend(maybe);
    }
    out
}

/// Reorders a route table so that no route is shadowed by an earlier one when some order
/// avoids it (`/books/new` before `/books/{id}`), keeping the given order everywhere else.
/// Returns the new order as indices into `routes`, and the pairs no order can fix (each covers
/// the other: the same requests under two names).
pub fn specific_first(routes: &[RouteSpec], universe: &Universe) -> (Vec<usize>, Vec<(usize, usize)>) {
    let n = routes.len();
    // preceding[i]: routes that must come before route i (they are narrower and i covers them).
    let mut preceding: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut equal = Vec::new();
    for i in 0..n {
        let witness_i = witness(&routes[i].path);
        for j in (i + 1)..n {
            if !methods_overlap(&routes[i].methods, &routes[j].methods) {
                continue;
            }
            // Cheap refutations before the exact check: most pairs differ in a literal.
            let witness_j = witness(&routes[j].path);
            let i_may_cover_j = witness_j.as_ref().map_or(true, |w| routes[i].path.matches(w));
            let j_may_cover_i = witness_i.as_ref().map_or(true, |w| routes[j].path.matches(w));
            let i_covers_j = i_may_cover_j && route_covers(&routes[i], &routes[j], universe) == Cover::Always;
            let j_covers_i = j_may_cover_i && route_covers(&routes[j], &routes[i], universe) == Cover::Always;
            match (i_covers_j, j_covers_i) {
                (true, true) => equal.push((i, j)),
                (true, false) => preceding[i].push(j),
                (false, true) => preceding[j].push(i),
                (false, false) => {}
            }
        }
    }
    // Input order, except that a route first pulls in (recursively) the narrower routes that
    // must precede it: `/books/new` moves up to just before `/books/{id}`, nothing else moves.
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for i in 0..n {
        place(i, &preceding, &mut placed, &mut order);
    }
    (order, equal)
}

fn place(i: usize, preceding: &[Vec<usize>], placed: &mut [bool], order: &mut Vec<usize>) {
    if placed[i] {
        return;
    }
    // Mark first: the relation is acyclic (mutual cover adds no edge), this is just a guard.
    placed[i] = true;
    for &j in &preceding[i] {
        place(j, preceding, placed, order);
    }
    order.push(i);
}

#[cfg(test)]
mod tests {
    use super::*;
    use routegen_core::route::PathRegex;

    fn t(text: &str) -> PathMatch {
        PathMatch::Template(Template::parse(text).unwrap())
    }
    fn exact(text: &str) -> PathMatch {
        PathMatch::Exact(text.as_bytes().to_vec())
    }
    fn prefix(text: &str) -> PathMatch {
        PathMatch::Prefix(text.as_bytes().to_vec())
    }
    fn dir(text: &str) -> PathMatch {
        PathMatch::DirPrefix(text.as_bytes().to_vec())
    }
    fn regex(source: &str) -> PathMatch {
        PathMatch::Regex(Box::new(PathRegex::new(source, true, false).unwrap()))
    }
    const RAW: Universe =
        Universe { no_double_slash: false, no_trailing_slash: false, lower_case: false, no_fragment: false };

    fn covers(a: &PathMatch, b: &PathMatch) -> Cover {
        path_covers(a, b, &RAW)
    }

    #[test]
    fn templates_cover_literals_and_narrower_templates() {
        assert_eq!(covers(&t("/books/{id}"), &exact("/books/new")), Cover::Always);
        assert_eq!(covers(&t("/books/{id}"), &t("/books/new")), Cover::Always);
        assert_eq!(covers(&t("/books/new"), &t("/books/{id}")), Cover::Never);
        assert_eq!(covers(&t("/books/{id}"), &exact("/books/")), Cover::Never, "{{id}} is never empty");
        assert_eq!(covers(&t("/books/{id}"), &t("/books/{id}.json")), Cover::Always);
        assert_eq!(covers(&t("/books/{id}.json"), &t("/books/{id}")), Cover::Never);
        assert_eq!(covers(&t("/books/{a}.{b}"), &t("/books/{id}.json")), Cover::Always);
        assert_eq!(covers(&t("/books/{id}.json"), &t("/books/{a}.{b}")), Cover::Never);
        assert_eq!(covers(&t("/v{n}/x"), &t("/v1/x")), Cover::Always);
        assert_eq!(covers(&t("/a/{x}/c"), &t("/a/b/{y}")), Cover::Never, "overlap is not cover");
    }

    #[test]
    fn rests() {
        assert_eq!(covers(&t("/static/**"), &t("/static/{file}")), Cover::Always);
        assert_eq!(covers(&t("/static/**"), &exact("/static")), Cover::Always);
        assert_eq!(covers(&t("/static/**"), &t("/static/a/**")), Cover::Always);
        assert_eq!(covers(&t("/static/a/**"), &t("/static/**")), Cover::Never);
        assert_eq!(covers(&t("/static/{f}"), &t("/static/**")), Cover::Never);
        assert_eq!(covers(&t("/**"), &t("/anything/{x}/**")), Cover::Always);
        assert_eq!(covers(&t("/**"), &PathMatch::Any), Cover::Never, "'*' is not an absolute path");
        assert_eq!(covers(&t("/{a}/**"), &t("/x/y/**")), Cover::Always);
    }

    #[test]
    fn prefixes() {
        assert_eq!(covers(&prefix("/api"), &prefix("/api/v1")), Cover::Always);
        assert_eq!(covers(&prefix("/api/v1"), &prefix("/api")), Cover::Never);
        assert_eq!(covers(&prefix("/api"), &t("/apiary/{x}")), Cover::Always, "a byte prefix");
        assert_eq!(covers(&prefix("/api/"), &t("/api/**")), Cover::Never, "/api itself");
        assert_eq!(covers(&dir("/api/"), &t("/api/**")), Cover::Always);
        assert_eq!(covers(&t("/api/**"), &dir("/api/")), Cover::Always);
        assert_eq!(covers(&dir("/api/"), &prefix("/api")), Cover::Never);
        assert_eq!(covers(&PathMatch::Any, &regex("/x.*")), Cover::Always);
        assert_eq!(covers(&prefix("/"), &PathMatch::Any), Cover::Never);
    }

    #[test]
    fn the_universe_matters() {
        let native = Universe::native(&NormalizeOptions::default());
        // `[^/]*` admits "/a/", which normalisation never produces.
        assert_eq!(path_covers(&t("/a/{id}"), &regex("/a/[^/]*"), &RAW), Cover::Never);
        assert_eq!(path_covers(&t("/a/{id}"), &regex("/a/[^/]*"), &native), Cover::Always);
        assert_eq!(path_covers(&t("/a/{x}/{y}"), &t("/a/**"), &native), Cover::Never);
        assert!(
            native.contains(b"/") && native.contains(b"/a/b") && !native.contains(b"/a/") && !native.contains(b"/a//b")
        );
    }

    #[test]
    fn regexes() {
        assert_eq!(covers(&regex("/books/[0-9]+"), &exact("/books/12")), Cover::Always);
        assert_eq!(covers(&regex("/books/[0-9]+"), &exact("/books/new")), Cover::Never);
        assert_eq!(covers(&regex("/books/[^/]+"), &t("/books/{id}")), Cover::Always, "a template in disguise");
        assert_eq!(covers(&regex("/books/.*"), &t("/books/{id}")), Cover::Maybe);
        assert_eq!(covers(&t("/books/{id}"), &regex("/books/[0-9]+")), Cover::Maybe);
        assert_eq!(covers(&prefix("/books/"), &regex("/books/[0-9]+")), Cover::Always, "by its literal prefix");
        assert_eq!(covers(&t("/authors/{id}"), &regex("/books/[0-9]+")), Cover::Never);
    }

    fn route(spec: &str) -> RouteSpec {
        routegen_core::config::native::parse_shorthand(spec, &NormalizeOptions::default()).unwrap()
    }

    #[test]
    fn routes_need_method_and_header_cover() {
        let native = Universe::native(&NormalizeOptions::default());
        assert_eq!(route_covers(&route("GET|POST /books/{id}"), &route("GET /books/new"), &native), Cover::Always);
        assert_eq!(route_covers(&route("GET /books/{id}"), &route("GET|POST /books/new"), &native), Cover::Never);
        assert_eq!(route_covers(&route("/books/{id}"), &route("POST /books/new"), &native), Cover::Always);
        let mut with_header = route("GET /books/{id}");
        with_header.headers.push(ValueMatch { name: "x-api".into(), rule: ValueRule::Prefix("v".into()) });
        assert_eq!(route_covers(&with_header, &route("GET /books/new"), &native), Cover::Never);
        let mut later = route("GET /books/new");
        later.headers.push(ValueMatch { name: "x-api".into(), rule: ValueRule::Exact("v2".into()) });
        assert_eq!(route_covers(&with_header, &later, &native), Cover::Always, "x-api: v2 implies prefix v");
    }

    #[test]
    fn ordering_puts_specific_routes_first() {
        let native = Universe::native(&NormalizeOptions::default());
        let routes = vec![
            route("GET /books/{id}"),
            route("GET /books/new"),
            route("POST /books/{id}"),
            route("GET /books/{id}/x"),
            route("GET /books/{id}"),
        ];
        let (order, equal) = specific_first(&routes, &native);
        assert_eq!(order, vec![1, 0, 2, 3, 4]);
        assert_eq!(equal, vec![(0, 4)]);
        let shadowed = shadowed_routes(&routes, &native);
        assert_eq!(
            shadowed,
            vec![
                Shadowed { earlier: 0, later: 1, cover: Cover::Always },
                Shadowed { earlier: 0, later: 4, cover: Cover::Always }
            ]
        );
    }

    /// A tiny deterministic generator (no dev-dependencies).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[(self.next() % items.len() as u64) as usize]
        }
    }

    fn random_condition(rng: &mut Rng) -> PathMatch {
        const SEGMENTS: [&str; 9] = ["a", "b", "ab", "{x}", "{x}.j", "a{x}", "{x}b", "*", "."];
        let depth = 1 + rng.next() % 3;
        let mut text = String::new();
        for _ in 0..depth {
            text.push('/');
            let segment: &&str = rng.pick(&SEGMENTS[..]);
            text.push_str(segment);
        }
        match rng.next() % 6 {
            0 => exact(&text.replace(['{', '}', '*'], "")),
            1 => prefix(
                &text.replace(['{', '}', '*'], "")
                    [..1 + (rng.next() as usize % text.replace(['{', '}', '*'], "").len())],
            ),
            2 => t(&format!("{text}/**")),
            3 => dir(&format!("{}/", text.replace(['{', '}', '*'], ""))),
            _ => t(&text),
        }
    }

    /// Every concrete path over a small alphabet up to a length: the ground truth.
    fn all_paths(max_len: usize) -> Vec<Vec<u8>> {
        let alphabet = [b'/', b'a', b'b', b'.', b'j', b'x'];
        let mut out = vec![Vec::new()];
        let mut frontier = vec![Vec::new()];
        for _ in 0..max_len {
            let mut next = Vec::new();
            for p in &frontier {
                for &c in &alphabet {
                    let mut q: Vec<u8> = p.clone();
                    q.push(c);
                    next.push(q);
                }
            }
            out.extend(next.iter().cloned());
            frontier = next;
        }
        out
    }

    /// The exact decision agrees with concrete paths: a proof of cover is never contradicted
    /// by a path, and every "never" is shown by a counterexample, found among all short paths
    /// over the conditions' alphabet and among the later condition's witness extended by them.
    #[test]
    fn randomized_against_concrete_paths() {
        let short = all_paths(5);
        let tails = all_paths(3);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let universes = [RAW, Universe::native(&NormalizeOptions::default())];
        let (mut proofs, mut refutations) = (0, 0);
        for _ in 0..700 {
            let a = random_condition(&mut rng);
            let b = random_condition(&mut rng);
            let base = witness(&b).unwrap();
            let extended = tails.iter().map(|t| [base.as_slice(), t].concat());
            let mut paths: Vec<Vec<u8>> = short.iter().cloned().chain(extended).collect();
            if let PathMatch::Template(template) = &b {
                for value in [&b"a"[..], b"b", b"x", b"ab", b"ba", b".", b"j", b"xa"] {
                    paths.extend(tails.iter().map(|t| [fill(template, value, &[]).as_slice(), t].concat()));
                }
            }
            for universe in &universes {
                let verdict = path_covers(&a, &b, universe);
                let counterexample = paths.iter().find(|p| universe.contains(p) && b.matches(p) && !a.matches(p));
                match verdict {
                    Cover::Always => {
                        assert!(
                            counterexample.is_none(),
                            "{a:?} covers {b:?}? {:?}",
                            counterexample.map(|p| String::from_utf8_lossy(p).into_owned())
                        );
                        proofs += 1;
                    }
                    Cover::Never => {
                        assert!(counterexample.is_some(), "{a:?} does not cover {b:?}, but no path shows it");
                        refutations += 1;
                    }
                    Cover::Maybe => panic!("no regex here: {a:?} {b:?}"),
                }
            }
        }
        assert!(proofs > 100 && refutations > 100, "the generator exercises both verdicts: {proofs} {refutations}");
    }
}
