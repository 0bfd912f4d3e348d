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

use crate::route::{PathMatch, PathRegex};
use crate::template::{Glob, Segment, Template};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher): a multiply-rotate per word. The maps are built from the trusted
/// config, so the DoS resistance of std's SipHash buys nothing here, and SipHash was a quarter
/// of a decision's instructions.
#[derive(Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// The crate's one hash map type. Use it as `FxMap<Box<[u8]>, u32>` (bytes to an index):
/// every other instantiation adds another copy of the hash map code to the module.
pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Route indices are `u32`: a table is capped far below that (see `config::MAX_ROUTES`).
pub type RouteId = u32;

#[derive(Debug, Default)]
pub struct PathIndex {
    /// Exact path → index into `exact_routes` (one map type for the whole index keeps one copy
    /// of the hash map code in the module).
    exact: FxMap<Box<[u8]>, u32>,
    exact_routes: Vec<Vec<RouteId>>,
    /// Prefix routes and prefix-filed regex routes.
    prefixes: ByteTrie,
    templates: SegmentTrie,
    /// Routes with no usable path key: no path condition, or a regex without a literal prefix.
    always: Vec<RouteId>,
    /// Per route, the regex still to confirm once it is reached (None for every other kind).
    regexes: Vec<Option<PathRegex>>,
}

impl PathIndex {
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a PathMatch>) -> PathIndex {
        let mut index = PathIndex::default();
        for path in paths {
            index.add(path);
        }
        index
    }

    /// Files the next route's path condition (routes are added in order: the id is the count).
    fn add(&mut self, path: &PathMatch) {
        let id = self.regexes.len() as RouteId;
        let mut regex = None;
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
                regex = Some(path_regex.clone());
            }
        }
        self.regexes.push(regex);
    }

    fn add_exact(&mut self, path: &[u8], id: RouteId) {
        let next = self.exact_routes.len() as u32;
        let slot = *self.exact.entry(path.into()).or_insert(next);
        match self.exact_routes.get_mut(slot as usize) {
            Some(ids) => ids.push(id),
            None => self.exact_routes.push(vec![id]),
        }
    }

    /// Fills `out` with every route whose path condition may hold, ascending and unique.
    /// Regex routes among them are confirmed later with [`PathIndex::confirm`], lazily,
    /// because most lookups stop at an earlier candidate.
    pub fn candidates(&self, path: &[u8], out: &mut Vec<RouteId>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if !self.exact.is_empty() {
            if let Some(ids) = self.exact.get(path).and_then(|&slot| self.exact_routes.get(slot as usize)) {
                out.extend_from_slice(ids);
            }
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
        match self.regexes.get(id as usize) {
            Some(Some(regex)) => regex.is_match(path),
            Some(None) => true,
            None => false,
        }
    }

    /// Number of index entries that are not keyed (scanned on every request).
    pub fn unkeyed_len(&self) -> usize {
        self.always.len()
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

/// A byte trie: every stored key that is a prefix of the path yields its routes.
#[derive(Debug)]
struct ByteTrie {
    nodes: Vec<ByteNode>,
}

#[derive(Debug, Default)]
struct ByteNode {
    /// Sorted by byte, for binary search.
    edges: Vec<(u8, u32)>,
    routes: Vec<RouteId>,
}

impl Default for ByteTrie {
    fn default() -> Self {
        ByteTrie { nodes: vec![ByteNode::default()] }
    }
}

impl ByteTrie {
    fn insert(&mut self, key: &[u8], id: RouteId) {
        let mut node = 0usize;
        for &b in key {
            node = match self.nodes[node].edges.binary_search_by_key(&b, |&(edge, _)| edge) {
                Ok(at) => self.nodes[node].edges[at].1 as usize,
                Err(at) => {
                    let child = self.nodes.len();
                    self.nodes.push(ByteNode::default());
                    self.nodes[node].edges.insert(at, (b, child as u32));
                    child
                }
            };
        }
        self.nodes[node].routes.push(id);
    }

    fn collect(&self, path: &[u8], out: &mut Vec<RouteId>) {
        let mut node = &self.nodes[0];
        out.extend_from_slice(&node.routes);
        for b in path {
            match node.edges.binary_search_by_key(b, |&(edge, _)| edge) {
                Ok(at) => match self.nodes.get(node.edges[at].1 as usize) {
                    Some(next) => node = next,
                    None => return,
                },
                Err(_) => return,
            }
            out.extend_from_slice(&node.routes);
        }
    }
}

/// A trie over path segments. Each edge consumes exactly one segment, so a node's depth is
/// the number of segments consumed and a lookup visits each node at most once.
#[derive(Debug)]
struct SegmentTrie {
    nodes: Vec<SegmentNode>,
}

/// A pair of u32s: (node, depth) on the DFS stack, (start, end) of a path segment.
type Span = (u32, u32);

thread_local! {
    /// Reused per lookup (a wasm VM is one thread): the DFS stack of (node, depth) and the
    /// path's segment bounds, so a lookup allocates nothing once warm. Thread-local rather
    /// than a field, so compiled tables stay `Sync` for native users (CLI, benches, fuzzers).
    static TRIE_SCRATCH: RefCell<(Vec<Span>, Vec<Span>)> = RefCell::default();
}

#[derive(Debug, Default)]
struct SegmentNode {
    literal: FxMap<Box<[u8]>, u32>,
    any: Option<u32>,
    any_or_empty: Option<u32>,
    globs: Vec<(Glob, u32)>,
    /// Routes whose template ends here.
    end: Vec<RouteId>,
    /// Routes whose template ends here with `**` (any remainder, even none).
    rest: Vec<RouteId>,
}

impl Default for SegmentTrie {
    fn default() -> Self {
        SegmentTrie { nodes: vec![SegmentNode::default()] }
    }
}

impl SegmentTrie {
    fn insert(&mut self, template: &Template, id: RouteId) {
        let mut node = 0usize;
        for segment in &template.segments {
            let existing = match segment {
                Segment::Literal(bytes) => self.nodes[node].literal.get(bytes).copied(),
                Segment::Any { allow_empty: false } => self.nodes[node].any,
                Segment::Any { allow_empty: true } => self.nodes[node].any_or_empty,
                Segment::Glob(glob) => self.nodes[node].globs.iter().find(|(g, _)| g == glob).map(|&(_, child)| child),
            };
            node = match existing {
                Some(child) => child as usize,
                None => {
                    let child = self.nodes.len() as u32;
                    self.nodes.push(SegmentNode::default());
                    let parent = &mut self.nodes[node];
                    match segment {
                        Segment::Literal(bytes) => {
                            parent.literal.insert(bytes.clone(), child);
                        }
                        Segment::Any { allow_empty: false } => parent.any = Some(child),
                        Segment::Any { allow_empty: true } => parent.any_or_empty = Some(child),
                        Segment::Glob(glob) => parent.globs.push((glob.clone(), child)),
                    }
                    child as usize
                }
            };
        }
        let leaf = &mut self.nodes[node];
        if template.rest {
            leaf.rest.push(id);
        } else {
            leaf.end.push(id);
        }
    }

    fn collect(&self, path: &[u8], out: &mut Vec<RouteId>) {
        if self.nodes.len() == 1 && self.nodes[0].rest.is_empty() {
            return; // no templates at all
        }
        let Some(rest) = path.strip_prefix(b"/") else { return };
        // `try_with` fails only while the thread is being torn down; then allocate.
        let walked = TRIE_SCRATCH.try_with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => {
                let (stack, bounds) = &mut *scratch;
                self.walk(rest, stack, bounds, out);
            }
            Err(_) => self.walk(rest, &mut Vec::new(), &mut Vec::new(), out),
        });
        if walked.is_err() {
            self.walk(rest, &mut Vec::new(), &mut Vec::new(), out);
        }
    }

    fn walk(&self, rest: &[u8], stack: &mut Vec<(u32, u32)>, bounds: &mut Vec<(u32, u32)>, out: &mut Vec<RouteId>) {
        // Segment bounds within `rest` (paths are capped well below u32::MAX by Envoy).
        bounds.clear();
        let mut start = 0u32;
        for (i, &b) in rest.iter().enumerate() {
            if b == b'/' {
                bounds.push((start, i as u32));
                start = i as u32 + 1;
            }
        }
        bounds.push((start, rest.len() as u32));
        stack.clear();
        stack.push((0, 0));
        while let Some((node_id, depth)) = stack.pop() {
            let Some(node) = self.nodes.get(node_id as usize) else { continue };
            out.extend_from_slice(&node.rest);
            let Some(&(from, to)) = bounds.get(depth as usize) else {
                out.extend_from_slice(&node.end);
                continue;
            };
            let segment = rest.get(from as usize..to as usize).unwrap_or_default();
            if !node.literal.is_empty() {
                if let Some(&child) = node.literal.get(segment) {
                    stack.push((child, depth + 1));
                }
            }
            if let Some(child) = node.any_or_empty {
                stack.push((child, depth + 1));
            }
            if segment.is_empty() {
                continue;
            }
            if let Some(child) = node.any {
                stack.push((child, depth + 1));
            }
            for (glob, child) in &node.globs {
                if glob.matches(segment) {
                    stack.push((*child, depth + 1));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            PathMatch::Regex(PathRegex::new("/books/[0-9]+", true, false).unwrap()),
            PathMatch::Any,
            template("/books/**"),
            PathMatch::Regex(PathRegex::new("[0-9]$", false, false).unwrap()),
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
        let idx = index(&[PathMatch::Regex(PathRegex::new("/books/[0-9]+", true, false).unwrap())]);
        let mut out = Vec::new();
        idx.candidates(b"/books/abc", &mut out);
        assert_eq!(out, vec![0], "filed under its literal prefix");
        assert!(!idx.confirm(0, b"/books/abc"));
        idx.candidates(b"/authors/1", &mut out);
        assert!(out.is_empty(), "prefix does not match, regex never runs");
        assert_eq!(idx.unkeyed_len(), 0);
    }
}
