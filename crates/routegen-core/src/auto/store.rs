//! Where auto naming keeps what every worker must agree on: proxy-wasm shared data in the
//! filter, a map in the CLI and tests. The namer sees only this trait.

use std::collections::HashMap;

/// A key-value store with compare-and-swap, shaped like proxy-wasm shared data.
pub trait SharedStore {
    /// The value and its version (`cas`), or `None` if the key is absent.
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Writes if the key's version is still `cas` (0 writes unconditionally).
    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Written;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Ok,
    /// Another worker wrote first: read again and retry.
    Mismatch,
    /// The host refused; the namer carries on without writing.
    Failed,
}

/// Proxy-wasm shared data semantics in one process: for the CLI, tests and benchmarks.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    map: HashMap<String, (Vec<u8>, u32)>,
    next_cas: u32,
}

impl MemoryStore {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Total bytes of keys and values (what shared data would hold).
    pub fn bytes(&self) -> usize {
        self.map.iter().map(|(k, (v, _))| k.len() + v.len()).sum()
    }
}

impl SharedStore for MemoryStore {
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.map.get(key).cloned()
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Written {
        if let Some((_, current)) = self.map.get(key) {
            if cas != 0 && cas != *current {
                return Written::Mismatch;
            }
        }
        self.next_cas = self.next_cas.wrapping_add(1).max(1);
        self.map.insert(key.to_string(), (value.to_vec(), self.next_cas));
        Written::Ok
    }
}

/// Compare-and-swap retries before a worker gives up on a write (contention is two or a few
/// workers on the same key; giving up only means one observation is not counted).
pub const RETRIES: usize = 8;

/// Reads `key` as a little-endian u32 (absent or malformed: 0) with its version.
pub fn get_u32(store: &mut dyn SharedStore, key: &str) -> (u32, u32) {
    match store.get(key) {
        Some((bytes, cas)) => match <[u8; 4]>::try_from(bytes.as_slice()) {
            Ok(array) => (u32::from_le_bytes(array), cas),
            Err(_) => (0, cas),
        },
        None => (0, 0),
    }
}

/// Adds one to the counter at `key` unless it has reached `limit`. Returns the new value, or
/// `None` at the limit (or when the store keeps refusing).
pub fn increment_below(store: &mut dyn SharedStore, key: &str, limit: u32) -> Option<u32> {
    for _ in 0..RETRIES {
        let (value, cas) = get_u32(store, key);
        if value >= limit {
            return None;
        }
        match store.set(key, &(value + 1).to_le_bytes(), cas) {
            Written::Ok => return Some(value + 1),
            Written::Mismatch => continue,
            Written::Failed => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap() {
        let mut store = MemoryStore::default();
        assert_eq!(store.set("k", b"a", 0), Written::Ok);
        let (_, cas) = store.get("k").unwrap();
        assert_eq!(store.set("k", b"b", cas), Written::Ok);
        assert_eq!(store.set("k", b"c", cas), Written::Mismatch);
        assert_eq!(store.get("k").unwrap().0, b"b");
    }

    #[test]
    fn counters_stop_at_their_limit() {
        let mut store = MemoryStore::default();
        assert_eq!(increment_below(&mut store, "n", 2), Some(1));
        assert_eq!(increment_below(&mut store, "n", 2), Some(2));
        assert_eq!(increment_below(&mut store, "n", 2), None);
        assert_eq!(get_u32(&mut store, "n").0, 2);
    }
}
