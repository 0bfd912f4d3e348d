//! The compiled path index: given a path, which routes' path conditions can hold?
//!
//! Sequential first-match (what attributegen and Linkerd do) costs one test per route. Here
//! every path condition is filed once, at config time, in an index that answers in time
//! bounded by the path and the table's shape, not its length:
//! - exact paths in a hash map;
//! - prefixes, and regexes by their literal prefix, in a byte trie walked once along the path;
//! - templates in a segment trie where every edge consumes one segment, so each trie node is
//!   visited at most once per request.
//!
//! The index yields *candidates* in ascending route order; the caller then checks the cheap
//! remaining conditions (method, headers, a regex) in that order and stops at the first route
//! that holds. Because every route whose path can match is a candidate, and candidates are
//! tried lowest index first, the answer is exactly that of a sequential first-match scan
//! (`reference::first_match`, checked by a differential test).

mod byte_trie;
mod flat;
mod segment_trie;

use crate::route::{PathMatch, PathRegex};
use byte_trie::{ByteTrie, ByteTrieBuilder};
use flat::{Interner, Lists, ListsBuilder};
use segment_trie::{SegmentTrie, SegmentTrieBuilder};

/// Route indices are `u32`: a table is capped far below that (see `config::MAX_ROUTES`).
pub type RouteId = u32;

#[derive(Debug)]
pub struct PathIndex {
    /// Exact paths, interned; `exact_routes` lists each one's routes.
    exact: Interner,
    exact_routes: Lists,
    /// Prefix routes and prefix-filed regex routes.
    prefixes: ByteTrie,
    templates: SegmentTrie,
    /// Routes with no usable path key: no path condition, or a regex without a literal prefix.
    always: Vec<RouteId>,
    /// The regex still to confirm once a route is reached, ascending by route (only regex
    /// routes: an `Option` per route would cost every route the size of a `PathRegex`).
    regexes: Vec<(RouteId, PathRegex)>,
    routes: u32,
}

/// The index while routes are filed; [`PathIndex::new`] lays it out flat.
struct Builder {
    exact: Interner,
    exact_routes: ListsBuilder,
    prefixes: ByteTrieBuilder,
    templates: SegmentTrieBuilder,
    always: Vec<RouteId>,
    regexes: Vec<(RouteId, PathRegex)>,
    routes: u32,
}

impl PathIndex {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a PathMatch>) -> PathIndex {
        let mut builder = Builder::new();
        for path in paths {
            builder.add(path);
        }
        builder.finish()
    }

    /// Fills `out` with every route whose path condition may hold, ascending and unique.
    /// Regex routes among them are confirmed later with [`PathIndex::confirm`], lazily,
    /// because most lookups stop at an earlier candidate.
    pub fn candidates(&self, path: &[u8], out: &mut Vec<RouteId>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if let Some(slot) = self.exact.get(path) {
            out.extend_from_slice(self.exact_routes.get(slot));
        }
        self.prefixes.collect(path, out);
        self.templates.collect(path, out);
        // Usually a single source answered and the list is already ascending.
        if !out.windows(2).all(|pair| pair[0] < pair[1]) {
            sort_ids(out);
            out.dedup();
        }
    }

    /// The last check for a candidate: runs its regex, if it has one.
    pub fn confirm(&self, id: RouteId, path: &[u8]) -> bool {
        if id >= self.routes {
            return false;
        }
        if self.regexes.is_empty() {
            return true;
        }
        match self.regexes.binary_search_by_key(&id, |(route, _)| *route) {
            Ok(at) => self.regexes.get(at).is_some_and(|(_, regex)| regex.is_match(path)),
            Err(_) => true,
        }
    }

    /// Number of index entries that are not keyed (scanned on every request).
    pub fn unkeyed_len(&self) -> usize {
        self.always.len()
    }
}

impl Builder {
    fn new() -> Builder {
        Builder {
            exact: Interner::default(),
            exact_routes: ListsBuilder::default(),
            prefixes: ByteTrieBuilder::new(),
            templates: SegmentTrieBuilder::new(),
            always: Vec::new(),
            regexes: Vec::new(),
            routes: 0,
        }
    }

    /// Lays the index out flat (not generic, unlike [`PathIndex::new`]: one copy in the module).
    fn finish(self) -> PathIndex {
        let Builder { mut exact, exact_routes, prefixes, templates, mut always, mut regexes, routes } = self;
        exact.shrink_to_fit();
        always.shrink_to_fit();
        regexes.shrink_to_fit();
        PathIndex {
            exact_routes: exact_routes.build(exact.len()),
            exact,
            prefixes: prefixes.build(),
            templates: templates.build(),
            always,
            regexes,
            routes,
        }
    }

    /// Files the next route's path condition (routes are added in order: the id is the count).
    fn add(&mut self, path: &PathMatch) {
        let id = self.routes;
        self.routes += 1;
        match path {
            PathMatch::Any => self.always.push(id),
            PathMatch::Exact(bytes) => self.add_exact(bytes, id),
            PathMatch::Prefix(bytes) => self.prefixes.insert(bytes, id),
            PathMatch::DirPrefix(bytes) => {
                self.prefixes.insert(bytes, id);
                if let Some(directory) = bytes.strip_suffix(b"/") {
                    self.add_exact(directory, id);
                }
            }
            PathMatch::Template(template) => match template.literal_path() {
                Some(bytes) => self.add_exact(&bytes, id),
                None => self.templates.insert(template, id),
            },
            PathMatch::Regex(path_regex) => {
                if path_regex.literal_prefix.is_empty() {
                    self.always.push(id);
                } else {
                    self.prefixes.insert(&path_regex.literal_prefix, id);
                }
                self.regexes.push((id, PathRegex::clone(path_regex)));
            }
        }
    }

    fn add_exact(&mut self, path: &[u8], id: RouteId) {
        let slot = self.exact.intern(path);
        self.exact_routes.push(slot, id);
    }
}

/// Sorts route ids. Candidate lists are short (insertion sort); long ones get a heapsort. Both
/// are a few dozen bytes of code, where the standard library's sort costs ~4 KB of the module.
fn sort_ids(ids: &mut [RouteId]) {
    if ids.len() <= 24 {
        for i in 1..ids.len() {
            let mut j = i;
            while j > 0 && ids[j - 1] > ids[j] {
                ids.swap(j - 1, j);
                j -= 1;
            }
        }
        return;
    }
    // Heapsort: build a max-heap, then move the maximum to the end repeatedly.
    fn sift_down(ids: &mut [RouteId], mut root: usize, end: usize) {
        loop {
            let mut child = 2 * root + 1;
            if child >= end {
                return;
            }
            if child + 1 < end && ids[child] < ids[child + 1] {
                child += 1;
            }
            if ids[root] >= ids[child] {
                return;
            }
            ids.swap(root, child);
            root = child;
        }
    }
    for root in (0..ids.len() / 2).rev() {
        sift_down(ids, root, ids.len());
    }
    for end in (1..ids.len()).rev() {
        ids.swap(0, end);
        sift_down(ids, 0, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;

    fn index(paths: &[PathMatch]) -> PathIndex {
        PathIndex::new(paths.iter())
    }

    fn template(text: &str) -> PathMatch {
        PathMatch::Template(Template::parse(text).unwrap())
    }

    fn confirmed(index: &PathIndex, path: &str) -> Vec<RouteId> {
        let mut out = Vec::new();
        index.candidates(path.as_bytes(), &mut out);
        out.retain(|&id| index.confirm(id, path.as_bytes()));
        out
    }

    #[test]
    fn every_kind_is_found() {
        let idx = index(&[
            PathMatch::Exact(b"/books".to_vec()),
            PathMatch::Prefix(b"/bo".to_vec()),
            template("/books/{id}"),
            PathMatch::Regex(Box::new(PathRegex::new("/books/[0-9]+", true, false).unwrap())),
            PathMatch::Any,
            template("/books/**"),
            PathMatch::Regex(Box::new(PathRegex::new("[0-9]$", false, false).unwrap())),
        ]);
        assert_eq!(confirmed(&idx, "/books"), vec![0, 1, 4, 5]);
        assert_eq!(confirmed(&idx, "/books/12"), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(confirmed(&idx, "/books/ab"), vec![1, 2, 4, 5]);
        assert_eq!(confirmed(&idx, "/x"), vec![4]);
    }

    #[test]
    fn templates_share_trie_nodes() {
        let idx = index(&[template("/a/{x}/c"), template("/a/{y}/d"), template("/a/b/c"), template("/a/{z}.json")]);
        assert_eq!(confirmed(&idx, "/a/b/c"), vec![0, 2]);
        assert_eq!(confirmed(&idx, "/a/q/d"), vec![1]);
        assert_eq!(confirmed(&idx, "/a/q.json"), vec![3]);
        assert_eq!(confirmed(&idx, "/a//c"), Vec::<RouteId>::new(), "a variable never matches an empty segment");
    }

    #[test]
    fn id_sorting() {
        let mut seed = 12345u64;
        for len in [0usize, 1, 2, 5, 24, 25, 100, 1000] {
            let mut ids: Vec<RouteId> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (seed >> 40) as RouteId % 500
                })
                .collect();
            let mut expected = ids.clone();
            expected.sort();
            sort_ids(&mut ids);
            assert_eq!(ids, expected, "len {len}");
        }
    }

    #[test]
    fn regex_candidates_are_confirmed_lazily() {
        let idx = index(&[PathMatch::Regex(Box::new(PathRegex::new("/books/[0-9]+", true, false).unwrap()))]);
        let mut out = Vec::new();
        idx.candidates(b"/books/abc", &mut out);
        assert_eq!(out, vec![0], "filed under its literal prefix");
        assert!(!idx.confirm(0, b"/books/abc"));
        idx.candidates(b"/authors/1", &mut out);
        assert!(out.is_empty(), "prefix does not match, regex never runs");
        assert_eq!(idx.unkeyed_len(), 0);
    }
}
