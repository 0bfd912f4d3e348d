//! A byte trie for prefixes: every stored key that is a prefix of the path yields its routes.

use super::flat::{Edges, Lists, ListsBuilder};
use super::RouteId;

/// Built by [`ByteTrieBuilder`]; node 0 is the root.
#[derive(Debug, Default)]
pub struct ByteTrie {
    /// (node, byte) → child.
    edges: Edges,
    /// Routes whose key ends at each node.
    routes: Lists,
    empty: bool,
}

#[derive(Debug, Default)]
pub struct ByteTrieBuilder {
    edges: Edges,
    nodes: u32,
    routes: ListsBuilder,
    empty: bool,
}

impl ByteTrieBuilder {
    pub fn new() -> ByteTrieBuilder {
        ByteTrieBuilder { nodes: 1, empty: true, ..ByteTrieBuilder::default() }
    }

    pub fn insert(&mut self, key: &[u8], id: RouteId) {
        let mut node = 0;
        for &b in key {
            node = match self.edges.get(node, u32::from(b)) {
                Some(child) => child,
                None => {
                    let child = self.nodes;
                    self.nodes += 1;
                    self.edges.insert(node, u32::from(b), child);
                    child
                }
            };
        }
        self.routes.push(node, id);
        self.empty = false;
    }

    pub fn build(self) -> ByteTrie {
        ByteTrie { edges: self.edges, routes: self.routes.build(self.nodes as usize), empty: self.empty }
    }
}

impl ByteTrie {
    pub fn collect(&self, path: &[u8], out: &mut Vec<RouteId>) {
        if self.empty {
            return;
        }
        let mut node = 0;
        out.extend_from_slice(self.routes.get(node));
        for &b in path {
            match self.edges.get(node, u32::from(b)) {
                Some(child) => node = child,
                None => return,
            }
            out.extend_from_slice(self.routes.get(node));
        }
    }
}
