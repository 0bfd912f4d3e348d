//! Learning a route table from observed paths: the offline counterpart of auto names.
//!
//! Offline, every path is known up front, so each position is judged on all its values at once
//! instead of as they arrive:
//! 1. A segment the auto classifier calls an ID (digits, UUID, hex, date, e-mail, IP, token,
//!    `12.json`) is a parameter value; every such value at one position merges into one
//!    parameter.
//! 2. Word values at one position merge into one parameter when they fan out: more than
//!    [`MAX_WORDS`] of them (more words than any real API has at one level), or at least
//!    `fanout` of which half or more were seen at most [`RARE`] times (parameter values are
//!    many and each is rare; resource names are few and each is used). Where IDs were seen,
//!    words in use are resources beside the ID (`/orders/search` beside `/orders/{id}`) and
//!    stay literal; rare words there, when at least half of `fanout` of them, are values that
//!    did not look like IDs (slugs) and join the parameter.
//! 3. Merged subtrees are judged again below the merge, so `/repos/{owner}/{repo}` needs no
//!    single owner to have many repositories.
//!
//! The table is written depth first, literals before parameters and `{id}.json` before `{id}`,
//! so first-match order equals most-specific-first and no learned route hides another.

use routegen_core::auto::segment::{classify, Placeholder};
use std::collections::BTreeMap;

/// More distinct words than this at one position are parameter values whatever their counts.
pub const MAX_WORDS: usize = 64;
/// A value seen this many times or fewer is rare.
pub const RARE: u64 = 2;

#[derive(Clone, Debug)]
pub struct Options {
    /// Distinct words at one position before rarity can make them a parameter.
    pub fanout: usize,
    /// Routes with fewer requests are dropped.
    pub min_requests: u64,
    /// Keep only the busiest routes.
    pub max_routes: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options { fanout: 8, min_requests: 1, max_routes: None }
    }
}

/// One learned route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learned {
    pub method: String,
    pub template: String,
    pub requests: u64,
    /// One observed path it stands for.
    pub example: String,
}

impl Learned {
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

#[derive(Clone, Debug, Default)]
struct Ending {
    requests: u64,
    example: String,
}

#[derive(Clone, Debug, Default)]
struct Node {
    /// Requests that ended here, per method.
    ends: BTreeMap<String, Ending>,
    literals: BTreeMap<String, Node>,
    /// Keyed by the segment's template text before naming: `{id}`, `{id}.json`, `{param}`.
    params: BTreeMap<String, Node>,
    /// Requests through this node (ending here or below).
    requests: u64,
}

impl Node {
    fn merge(&mut self, other: Node) {
        self.requests += other.requests;
        for (method, ending) in other.ends {
            let mine = self.ends.entry(method).or_default();
            if mine.example.is_empty() {
                mine.example = ending.example;
            }
            mine.requests += ending.requests;
        }
        for (segment, child) in other.literals {
            self.literals.entry(segment).or_default().merge(child);
        }
        for (segment, child) in other.params {
            self.params.entry(segment).or_default().merge(child);
        }
    }
}

/// Observed (method, path) counts, then [`Learner::learn`].
#[derive(Default)]
pub struct Learner {
    root: Node,
    /// Requests that cannot become a route (an empty segment, a method that is not upper
    /// case) — counted, not learned.
    pub skipped: u64,
}

impl Learner {
    /// Adds requests for one normalised path (query already cut).
    pub fn add(&mut self, method: &str, path: &[u8], requests: u64) {
        // Routes name upper-case methods only (as every client sends them).
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_') {
            self.skipped += requests;
            return;
        }
        let text = String::from_utf8_lossy(path);
        let Some(rest) = text.strip_prefix('/') else {
            self.skipped += requests;
            return;
        };
        let segments: Vec<&str> = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
        if segments.iter().any(|s| s.is_empty()) {
            self.skipped += requests;
            return;
        }
        let mut node = &mut self.root;
        node.requests += requests;
        for segment in segments {
            node = node.literals.entry(segment.to_string()).or_default();
            node.requests += requests;
        }
        let ending = node.ends.entry(method.to_string()).or_default();
        if ending.example.is_empty() {
            ending.example = text.into_owned();
        }
        ending.requests += requests;
    }

    /// The route table the observations call for, in first-match order.
    pub fn learn(mut self, options: &Options) -> Vec<Learned> {
        generalize(&mut self.root, options);
        let mut routes = Vec::new();
        emit(&self.root, &mut Vec::new(), "", &mut routes);
        routes.retain(|r| r.requests >= options.min_requests);
        if let Some(max) = options.max_routes {
            if routes.len() > max {
                // The busiest `max`, kept in table order.
                let mut by_requests: Vec<usize> = (0..routes.len()).collect();
                by_requests.sort_by(|&a, &b| routes[b].requests.cmp(&routes[a].requests).then(a.cmp(&b)));
                let mut keep = vec![false; routes.len()];
                for &i in by_requests.iter().take(max) {
                    keep[i] = true;
                }
                let mut i = 0;
                routes.retain(|_| {
                    i += 1;
                    keep[i - 1]
                });
            }
        }
        routes
    }
}

/// The template text of a segment that is a parameter value, or `None` for a literal word.
fn parameter_key(segment: &str) -> Option<String> {
    if segment.contains(['{', '}', '*']) || segment.contains(char::is_whitespace) || segment.contains('\u{fffd}') {
        // Not writable as a literal template segment.
        return Some(Placeholder::Param.as_str().to_string());
    }
    let class = classify(segment.as_bytes());
    let placeholder = class.placeholder?;
    let extension = &segment[segment.len().saturating_sub(class.extension)..];
    Some(format!("{}{extension}", placeholder.as_str()))
}

fn generalize(node: &mut Node, options: &Options) {
    let literals = std::mem::take(&mut node.literals);
    for (segment, child) in literals {
        match parameter_key(&segment) {
            Some(key) => node.params.entry(key).or_default().merge(child),
            None => {
                node.literals.insert(segment, child);
            }
        }
    }
    let words: Vec<&String> = node.literals.keys().filter(|w| !classify(w.as_bytes()).is_version()).collect();
    let rare: Vec<String> =
        words.iter().filter(|w| node.literals[w.as_str()].requests <= RARE).map(|w| w.to_string()).collect();
    let fold = if words.len() > MAX_WORDS
        || (node.params.is_empty() && words.len() >= options.fanout && 2 * rare.len() >= words.len())
    {
        words.into_iter().cloned().collect()
    } else if !node.params.is_empty() && rare.len() >= (options.fanout / 2).max(3) {
        // Beside IDs, rare words in numbers are values of the same parameter (slugs some of
        // which look like IDs); the words in use stay resources.
        rare
    } else {
        Vec::new()
    };
    if !fold.is_empty() {
        // A parameter position takes any value: IDs seen here merge into it too.
        let mut merged = Node::default();
        for word in fold {
            if let Some(child) = node.literals.remove(&word) {
                merged.merge(child);
            }
        }
        for key in node.params.keys().filter(|k| !k.contains('.')).cloned().collect::<Vec<_>>() {
            if let Some(child) = node.params.remove(&key) {
                merged.merge(child);
            }
        }
        node.params.insert(Placeholder::Param.as_str().to_string(), merged);
    } else {
        // Different ID shapes at one position are one parameter: `{id}` would match a UUID anyway.
        let plain: Vec<String> = node.params.keys().filter(|k| !k.contains('.')).cloned().collect();
        if plain.len() > 1 {
            let mut merged = Node::default();
            for key in &plain {
                if let Some(child) = node.params.remove(key) {
                    merged.merge(child);
                }
            }
            node.params.insert(Placeholder::Id.as_str().to_string(), merged);
        }
    }
    for child in node.literals.values_mut().chain(node.params.values_mut()) {
        generalize(child, options);
    }
}

/// Depth first: this node's own routes, then literal children, then parameters (a segment with
/// a literal suffix like `{id}.json` before the bare `{id}`).
fn emit(node: &Node, segments: &mut Vec<String>, parent: &str, out: &mut Vec<Learned>) {
    for (method, ending) in &node.ends {
        let template = if segments.is_empty() { "/".to_string() } else { format!("/{}", segments.join("/")) };
        out.push(Learned {
            method: method.clone(),
            template,
            requests: ending.requests,
            example: ending.example.clone(),
        });
    }
    for (segment, child) in &node.literals {
        segments.push(segment.clone());
        emit(child, segments, segment, out);
        segments.pop();
    }
    let mut params: Vec<(&String, &Node)> = node.params.iter().collect();
    params.sort_by_key(|(key, _)| !key.contains('.'));
    for (key, child) in params {
        let named = name_parameter(key, parent, segments);
        segments.push(named);
        // A parameter's own name is no parent word for the next one.
        emit(child, segments, "", out);
        segments.pop();
    }
}

/// `{param}` after `users` is `{user}`; IDs keep the auto names' `{id}`, `{uuid}`, … (so a
/// learned name equals the auto name it replaces) unless the template already has one.
fn name_parameter(key: &str, parent: &str, segments: &[String]) -> String {
    let (placeholder, suffix) = key.split_once('}').map(|(p, s)| (p.trim_start_matches('{'), s)).unwrap_or((key, ""));
    let singular = singular(parent);
    let mut name =
        if placeholder == "param" && !singular.is_empty() { singular.clone() } else { placeholder.to_string() };
    let taken = |name: &str| segments.iter().any(|s| s.contains(&format!("{{{name}}}")));
    if taken(&name) && !singular.is_empty() {
        name = format!("{singular}_{placeholder}");
    }
    let base = name.clone();
    let mut n = 2;
    while taken(&name) {
        name = format!("{base}{n}");
        n += 1;
    }
    format!("{{{name}}}{suffix}")
}

/// An English singular good enough for path words; empty when the word cannot name a variable.
fn singular(word: &str) -> String {
    if word.is_empty()
        || !word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        || !word.as_bytes()[0].is_ascii_alphabetic()
    {
        return String::new();
    }
    let word = word.to_ascii_lowercase().replace('-', "_");
    if let Some(stem) = word.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for ending in ["sses", "shes", "ches", "xes"] {
        if let Some(stem) = word.strip_suffix(ending) {
            return format!("{stem}{}", &ending[..ending.len() - 2]);
        }
    }
    match word.strip_suffix('s') {
        Some(stem) if stem.len() >= 2 && !stem.ends_with('s') && !stem.ends_with('u') => stem.to_string(),
        _ => word,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learn(paths: &[(&str, &str, u64)], options: &Options) -> Vec<String> {
        let mut learner = Learner::default();
        for (method, path, n) in paths {
            learner.add(method, path.as_bytes(), *n);
        }
        learner.learn(options).iter().map(Learned::name).collect()
    }

    #[test]
    fn ids_merge_and_resources_beside_them_stay() {
        let mut paths = vec![("GET", "/orders/search", 40), ("GET", "/orders", 10), ("POST", "/orders", 5)];
        let ids: Vec<String> = (0..30).map(|i| format!("/orders/{}", 1000 + i)).collect();
        paths.extend(ids.iter().map(|p| ("GET", p.as_str(), 1)));
        paths.push(("GET", "/orders/8c2f7e6a-3b1d-4c5e-9f0a-1b2c3d4e5f60", 1));
        paths.push(("GET", "/orders/12/invoice.pdf", 1));
        paths.push(("GET", "/orders/13.json", 1));
        assert_eq!(
            learn(&paths, &Options::default()),
            [
                "GET /orders",
                "POST /orders",
                "GET /orders/search",
                "GET /orders/{id}.json",
                "GET /orders/{id}",
                "GET /orders/{id}/invoice.pdf"
            ]
        );
    }

    #[test]
    fn fanned_out_words_become_one_parameter_named_after_the_collection() {
        let mut paths = Vec::new();
        let names: Vec<String> = (0..20).map(|i| format!("user-{}", (b'a' + i) as char)).collect();
        for (i, name) in names.iter().enumerate() {
            paths.push(("GET", format!("/users/{name}"), 1));
            paths.push(("GET", format!("/repos/{name}/project{i}/issues"), 1));
            paths.push(("GET", format!("/repos/{name}/project{i}/issues/{}", 100 + i), 1));
        }
        let paths: Vec<(&str, &str, u64)> = paths.iter().map(|(m, p, n)| (*m, p.as_str(), *n)).collect();
        assert_eq!(
            learn(&paths, &Options::default()),
            ["GET /repos/{repo}/{param}/issues", "GET /repos/{repo}/{param}/issues/{id}", "GET /users/{user}"]
        );
    }

    #[test]
    fn resource_words_that_are_used_stay_literal() {
        // Twelve sub-resources, each used often: a set of words, not a parameter.
        let words = [
            "issues",
            "pulls",
            "commits",
            "branches",
            "tags",
            "releases",
            "hooks",
            "forks",
            "labels",
            "milestones",
            "stargazers",
            "topics",
        ];
        let paths: Vec<(String, u64)> = words.iter().map(|w| (format!("/repo/{w}"), 20)).collect();
        let paths: Vec<(&str, &str, u64)> = paths.iter().map(|(p, n)| ("GET", p.as_str(), *n)).collect();
        assert_eq!(learn(&paths, &Options::default()).len(), words.len());
        // The same words seen once each are values.
        let once: Vec<(&str, &str, u64)> = paths.iter().map(|(m, p, _)| (*m, *p, 1)).collect();
        assert_eq!(learn(&once, &Options::default()), ["GET /repo/{repo}"]);
        // More than MAX_WORDS distinct words are values however often each is used.
        let many: Vec<String> = (0..=MAX_WORDS)
            .map(|i| format!("/tag/word{}x", (b'a' + (i % 26) as u8) as char).repeat(1) + &"q".repeat(i / 26 + 1))
            .collect();
        let many: Vec<(&str, &str, u64)> = many.iter().map(|p| ("GET", p.as_str(), 50)).collect();
        assert_eq!(learn(&many, &Options::default()), ["GET /tag/{tag}"]);
    }

    #[test]
    fn rare_words_beside_ids_join_the_parameter() {
        let mut paths: Vec<(String, u64)> = vec![("/posts/recent".to_string(), 30)];
        for i in 0..6 {
            paths.push((format!("/posts/{}", 1000 + i), 1));
            paths.push((format!("/posts/a-slug-number-{}", ["one", "two", "three", "four", "five", "six"][i]), 1));
        }
        let paths: Vec<(&str, &str, u64)> = paths.iter().map(|(p, n)| ("GET", p.as_str(), *n)).collect();
        assert_eq!(learn(&paths, &Options::default()), ["GET /posts/recent", "GET /posts/{post}"]);
        // Two rare words beside IDs are too few to say: they stay.
        assert_eq!(learn(&paths[..5], &Options::default()).len(), 4);
    }

    #[test]
    fn versions_stay_and_names_stay_unique() {
        let mut paths: Vec<(String, u64)> = Vec::new();
        for i in 0..10 {
            paths.push((format!("/v1/teams/{}/members/{}", 10 + i, 500 + i), 1));
            paths.push((format!("/v2/teams/{}", 10 + i), 1));
        }
        let paths: Vec<(&str, &str, u64)> = paths.iter().map(|(p, n)| ("GET", p.as_str(), *n)).collect();
        assert_eq!(
            learn(&paths, &Options::default()),
            ["GET /v1/teams/{id}/members/{member_id}", "GET /v2/teams/{id}"]
        );
    }

    #[test]
    fn min_requests_and_max_routes() {
        let paths = [("GET", "/a", 10), ("GET", "/b", 1), ("GET", "/c", 5), ("GET", "/", 7)];
        assert_eq!(learn(&paths, &Options { min_requests: 5, ..Options::default() }), ["GET /", "GET /a", "GET /c"]);
        assert_eq!(learn(&paths, &Options { max_routes: Some(2), ..Options::default() }), ["GET /", "GET /a"]);
    }

    #[test]
    fn unwritable_segments_are_parameters_and_unroutable_requests_skipped() {
        let mut learner = Learner::default();
        learner.add("GET", b"/files/a{b}", 1);
        learner.add("GET", b"/files//x", 3);
        learner.add("GET", b"/files/\xff\xfe", 1);
        learner.add("get", b"/files/lower", 1);
        learner.add("1ET", b"/files/odd", 1);
        assert_eq!(learner.skipped, 5, "the empty segment's 3, and the two methods no route can name");
        let routes: Vec<String> = learner.learn(&Options::default()).iter().map(Learned::name).collect();
        assert_eq!(routes, ["GET /files/{file}"]);
    }

    #[test]
    fn singulars() {
        for (word, one) in [
            ("users", "user"),
            ("categories", "category"),
            ("boxes", "box"),
            ("addresses", "address"),
            ("status", "status"),
            ("data", "data"),
            ("9lives", ""),
            ("{id}", ""),
        ] {
            assert_eq!(singular(word), one, "{word}");
        }
    }
}
