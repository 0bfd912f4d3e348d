//! The flat tables the path index is made of: interned byte strings, trie edges of every node
//! in one hash table, and many route-id lists in one array.
//!
//! One allocation per table instead of one (or three) per trie node: a lookup touches a few
//! dense arrays, not a chain of small heap blocks, which is what kept a large table's decisions
//! slower than a small one's (L1 misses, bench/RESULTS.md §4). All three reuse the namer's
//! [`HashIndex`], so the module carries one hash table implementation and no std `HashMap`.

use super::RouteId;
use crate::auto::index::HashIndex;
use crate::auto::stable_hash_from;

/// Added to a string's hash key when another string already holds that key (a 64-bit
/// collision): lookups walk the same chain, so a collision costs a step, never a wrong answer.
const COLLISION_STEP: u64 = 0x9e37_79b9_7f4a_7c15;
const SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// Byte strings stored once each in one buffer, numbered in insertion order.
#[derive(Debug, Default)]
pub struct Interner {
    index: HashIndex,
    bytes: Vec<u8>,
    /// End offset in `bytes` of each string (its start is the previous string's end).
    ends: Vec<u32>,
}

impl Interner {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    fn at(&self, id: u32) -> &[u8] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends.get(id - 1).copied().unwrap_or(0) };
        let end = self.ends.get(id).copied().unwrap_or(0);
        self.bytes.get(start as usize..end as usize).unwrap_or_default()
    }

    /// The id of `bytes`, if it was interned.
    pub fn get(&self, bytes: &[u8]) -> Option<u32> {
        if self.ends.is_empty() {
            return None;
        }
        let mut key = stable_hash_from(SEED, bytes);
        loop {
            let id = self.index.get(key)?;
            if self.at(id) == bytes {
                return Some(id);
            }
            key = key.wrapping_add(COLLISION_STEP);
        }
    }

    /// The id of `bytes`, interning it if new.
    pub fn intern(&mut self, bytes: &[u8]) -> u32 {
        let mut key = stable_hash_from(SEED, bytes);
        while let Some(id) = self.index.get(key) {
            if self.at(id) == bytes {
                return id;
            }
            key = key.wrapping_add(COLLISION_STEP);
        }
        let id = self.ends.len() as u32;
        self.bytes.extend_from_slice(bytes);
        self.ends.push(self.bytes.len() as u32);
        self.index.insert(key, id);
        id
    }

    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Every trie node's labelled edges in one table: (node, label) → child, where the label is
/// an interned segment id or a byte.
#[derive(Debug, Default)]
pub struct Edges(HashIndex);

impl Edges {
    fn key(node: u32, label: u32) -> u64 {
        (u64::from(node) << 32) | u64::from(label)
    }

    pub fn get(&self, node: u32, label: u32) -> Option<u32> {
        self.0.get(Self::key(node, label))
    }

    pub fn insert(&mut self, node: u32, label: u32, child: u32) {
        self.0.insert(Self::key(node, label), child);
    }
}

/// Route-id lists of many owners (trie nodes, exact paths) in one array: owner `i`'s ids are
/// `ids[starts[i]..starts[i + 1]]`.
#[derive(Debug, Default)]
pub struct Lists {
    starts: Vec<u32>,
    ids: Vec<RouteId>,
}

impl Lists {
    pub fn get(&self, owner: u32) -> &[RouteId] {
        let owner = owner as usize;
        match (self.starts.get(owner), self.starts.get(owner + 1)) {
            (Some(&start), Some(&end)) => self.ids.get(start as usize..end as usize).unwrap_or_default(),
            _ => &[],
        }
    }
}

/// Collects (owner, id) pairs in any order, then lays them out as [`Lists`].
#[derive(Debug, Default)]
pub struct ListsBuilder(Vec<(u32, RouteId)>);

impl ListsBuilder {
    pub fn push(&mut self, owner: u32, id: RouteId) {
        self.0.push((owner, id));
    }

    /// A counting sort by owner: stable, so each owner's ids keep their push order (ascending,
    /// since routes are filed in order). No comparison sort: std's costs ~4 KB of the module.
    pub fn build(self, owners: usize) -> Lists {
        if self.0.is_empty() {
            return Lists::default(); // no starts either (most tables have no globs, no `**`)
        }
        let mut starts = vec![0u32; owners + 1];
        for &(owner, _) in &self.0 {
            if let Some(count) = starts.get_mut(owner as usize + 1) {
                *count += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut ids = vec![0; self.0.len()];
        for (owner, id) in self.0 {
            if let Some(at) = next.get_mut(owner as usize) {
                if let Some(slot) = ids.get_mut(*at as usize) {
                    *slot = id;
                }
                *at += 1;
            }
        }
        Lists { starts, ids }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interned_strings_come_back_and_strangers_do_not() {
        let mut strings = Interner::default();
        assert_eq!(strings.get(b"a"), None);
        let words: Vec<String> = (0..500).map(|i| format!("w{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            assert_eq!(strings.intern(w.as_bytes()), i as u32);
        }
        assert_eq!(strings.intern(b"w7"), 7, "interned once");
        assert_eq!(strings.intern(b""), 500, "the empty string is a string");
        for (i, w) in words.iter().enumerate() {
            assert_eq!(strings.get(w.as_bytes()), Some(i as u32));
        }
        assert_eq!(strings.get(b"w500"), None);
        assert_eq!(strings.get(b""), Some(500));
        assert_eq!(strings.len(), 501);
    }

    #[test]
    fn edges_are_per_node() {
        let mut edges = Edges::default();
        edges.insert(0, 5, 1);
        edges.insert(1, 5, 2);
        edges.insert(u32::MAX - 1, 0, 3);
        assert_eq!((edges.get(0, 5), edges.get(1, 5), edges.get(u32::MAX - 1, 0)), (Some(1), Some(2), Some(3)));
        assert_eq!((edges.get(5, 0), edges.get(0, 6)), (None, None));
    }

    #[test]
    fn lists_keep_push_order_per_owner() {
        let mut builder = ListsBuilder::default();
        for (owner, id) in [(2, 1), (0, 2), (2, 3), (5, 4), (0, 9)] {
            builder.push(owner, id);
        }
        let lists = builder.build(6);
        assert_eq!(lists.get(0), [2, 9]);
        assert_eq!(lists.get(1), [] as [u32; 0]);
        assert_eq!(lists.get(2), [1, 3]);
        assert_eq!(lists.get(5), [4]);
        assert_eq!(lists.get(6), [] as [u32; 0], "past the last owner");
        assert_eq!(ListsBuilder::default().build(3).get(1), [] as [u32; 0]);
    }
}
