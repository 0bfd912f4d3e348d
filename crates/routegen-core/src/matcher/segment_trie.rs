//! A trie over path segments. Each edge consumes exactly one segment, so a node's depth is
//! the number of segments consumed and a lookup visits each node at most once.
//!
//! Nodes are three `u32`s; literal edges of all nodes live in one table keyed by (node,
//! interned segment), so a request segment is hashed once per depth, not once per node, and
//! its bytes are compared once, against the interned copy.

use super::flat::{Edges, Interner, Lists, ListsBuilder};
use super::RouteId;
use crate::template::{Glob, Segment, Template};
#[cfg(not(target_arch = "wasm32"))]
use std::cell::RefCell;

const NONE: u32 = u32::MAX;
/// A segment id not looked up yet (in the per-request bounds).
const UNSEEN: u32 = u32::MAX - 1;

// Node flags: what a node has, so a walk touches only the tables that hold something for it.
const LITERAL: u32 = 1;
const GLOB: u32 = 2;
const END: u32 = 4;
const REST: u32 = 8;

#[derive(Clone, Copy, Debug)]
struct Node {
    any: u32,
    any_or_empty: u32,
    flags: u32,
}

const LEAF: Node = Node { any: NONE, any_or_empty: NONE, flags: 0 };

#[derive(Debug)]
pub struct SegmentTrie {
    nodes: Vec<Node>,
    segments: Interner,
    /// (node, segment id) → child.
    literals: Edges,
    /// Glob edges; `glob_edges` lists each node's, in insertion order.
    globs: Vec<(Glob, u32)>,
    glob_edges: Lists,
    /// Routes whose template ends at a node, and those ending there with `**`.
    ends: Lists,
    rests: Lists,
}

#[derive(Debug)]
pub struct SegmentTrieBuilder {
    nodes: Vec<Node>,
    segments: Interner,
    literals: Edges,
    globs: Vec<(u32, Glob, u32)>,
    ends: ListsBuilder,
    rests: ListsBuilder,
}

/// A pair of u32s: (node, depth) on the DFS stack.
type Span = (u32, u32);
/// A path segment's (start, end) within the path, and its interned id once looked up.
type Bound = (u32, u32, u32);

// Reused per lookup: the DFS stack and the path's segment bounds, so a lookup allocates
// nothing once warm. Not a field, so compiled tables stay `Sync` for native users (CLI,
// benches, fuzzers). A wasm VM is one thread, and there a plain static (a no-threads Mutex
// is a cell) costs the module 2.7 KB less than std's thread-local machinery.
#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static TRIE_SCRATCH: RefCell<Scratch> = RefCell::default();
}
#[cfg(target_arch = "wasm32")]
static TRIE_SCRATCH: std::sync::Mutex<Scratch> = std::sync::Mutex::new((Vec::new(), Vec::new()));

type Scratch = (Vec<Span>, Vec<Bound>);

impl SegmentTrieBuilder {
    pub fn new() -> SegmentTrieBuilder {
        SegmentTrieBuilder {
            nodes: vec![LEAF],
            segments: Interner::default(),
            literals: Edges::default(),
            globs: Vec::new(),
            ends: ListsBuilder::default(),
            rests: ListsBuilder::default(),
        }
    }

    pub fn insert(&mut self, template: &Template, id: RouteId) {
        let mut node = 0u32;
        for segment in &template.segments {
            node = self.child(node, segment);
        }
        let Some(leaf) = self.nodes.get_mut(node as usize) else { return };
        if template.rest {
            leaf.flags |= REST;
            self.rests.push(node, id);
        } else {
            leaf.flags |= END;
            self.ends.push(node, id);
        }
    }

    /// The child of `node` along `segment`, created if missing.
    fn child(&mut self, node: u32, segment: &Segment) -> u32 {
        let new = self.nodes.len() as u32;
        let Some(parent) = self.nodes.get_mut(node as usize) else { return new };
        match segment {
            Segment::Literal(bytes) => {
                let label = self.segments.intern(bytes);
                if let Some(child) = self.literals.get(node, label) {
                    return child;
                }
                parent.flags |= LITERAL;
                self.literals.insert(node, label, new);
            }
            Segment::Any { allow_empty } => {
                let slot = if *allow_empty { &mut parent.any_or_empty } else { &mut parent.any };
                if *slot != NONE {
                    return *slot;
                }
                *slot = new;
            }
            Segment::Glob(glob) => {
                if let Some(&(_, _, child)) = self.globs.iter().find(|(n, g, _)| *n == node && g == glob) {
                    return child;
                }
                parent.flags |= GLOB;
                self.globs.push((node, glob.clone(), new));
            }
        }
        self.nodes.push(LEAF);
        new
    }

    pub fn build(mut self) -> SegmentTrie {
        let count = self.nodes.len();
        let mut glob_edges = ListsBuilder::default();
        let mut globs = Vec::with_capacity(self.globs.len());
        for (i, (node, glob, child)) in self.globs.into_iter().enumerate() {
            glob_edges.push(node, i as u32);
            globs.push((glob, child));
        }
        self.nodes.shrink_to_fit();
        self.segments.shrink_to_fit();
        SegmentTrie {
            nodes: self.nodes,
            segments: self.segments,
            literals: self.literals,
            globs,
            glob_edges: glob_edges.build(count),
            ends: self.ends.build(count),
            rests: self.rests.build(count),
        }
    }
}

impl SegmentTrie {
    pub fn collect(&self, path: &[u8], out: &mut Vec<RouteId>) {
        match self.nodes.first() {
            Some(root) if root.flags != 0 || self.nodes.len() > 1 => {}
            _ => return, // no templates at all
        }
        let Some(rest) = path.strip_prefix(b"/") else { return };
        self.with_scratch(|(stack, bounds)| self.walk(rest, stack, bounds, out));
    }

    /// Runs `f` with the reused scratch, or fresh vectors if it is unavailable (in use, or
    /// the thread is being torn down).
    #[cfg(not(target_arch = "wasm32"))]
    fn with_scratch(&self, f: impl FnOnce(&mut Scratch)) {
        let mut f = Some(f);
        let _ = TRIE_SCRATCH.try_with(|scratch| {
            if let (Ok(mut scratch), Some(f)) = (scratch.try_borrow_mut(), f.take()) {
                f(&mut scratch);
            }
        });
        if let Some(f) = f {
            f(&mut Scratch::default());
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn with_scratch(&self, f: impl FnOnce(&mut Scratch)) {
        match TRIE_SCRATCH.try_lock() {
            Ok(mut scratch) => f(&mut scratch),
            Err(_) => f(&mut Scratch::default()),
        }
    }

    fn walk(&self, rest: &[u8], stack: &mut Vec<Span>, bounds: &mut Vec<Bound>, out: &mut Vec<RouteId>) {
        // Segment bounds within `rest` (paths are capped well below u32::MAX by Envoy).
        bounds.clear();
        let mut start = 0u32;
        for (i, &b) in rest.iter().enumerate() {
            if b == b'/' {
                bounds.push((start, i as u32, UNSEEN));
                start = i as u32 + 1;
            }
        }
        bounds.push((start, rest.len() as u32, UNSEEN));
        stack.clear();
        stack.push((0, 0));
        while let Some((node_id, depth)) = stack.pop() {
            let Some(node) = self.nodes.get(node_id as usize) else { continue };
            if node.flags & REST != 0 {
                out.extend_from_slice(self.rests.get(node_id));
            }
            let Some(bound) = bounds.get_mut(depth as usize) else {
                if node.flags & END != 0 {
                    out.extend_from_slice(self.ends.get(node_id));
                }
                continue;
            };
            let segment = rest.get(bound.0 as usize..bound.1 as usize).unwrap_or_default();
            if node.flags & LITERAL != 0 {
                if bound.2 == UNSEEN {
                    bound.2 = self.segments.get(segment).unwrap_or(NONE);
                }
                if let Some(child) = self.literals.get(node_id, bound.2).filter(|_| bound.2 != NONE) {
                    stack.push((child, depth + 1));
                }
            }
            if node.any_or_empty != NONE {
                stack.push((node.any_or_empty, depth + 1));
            }
            if segment.is_empty() {
                continue;
            }
            if node.any != NONE {
                stack.push((node.any, depth + 1));
            }
            if node.flags & GLOB != 0 {
                for &i in self.glob_edges.get(node_id) {
                    if let Some((glob, child)) = self.globs.get(i as usize) {
                        if glob.matches(segment) {
                            stack.push((*child, depth + 1));
                        }
                    }
                }
            }
        }
    }
}
