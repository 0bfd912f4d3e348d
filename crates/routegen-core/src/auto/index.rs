//! A hash index from 64-bit hashes to `u32`s: the namer's per-worker caches (positions,
//! admitted and refused names). The keys are already well-mixed hashes, so a linear-probe
//! table over them needs no hasher and no key comparison beyond one `u64` — several times
//! cheaper than a byte-keyed map on every segment of every request.

/// Marks an empty slot; values are indices and slots far below it.
const EMPTY: u32 = u32::MAX;

#[derive(Clone, Debug, Default)]
pub struct HashIndex {
    slots: Vec<(u64, u32)>,
    len: usize,
}

impl HashIndex {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.slots.clear();
        self.len = 0;
    }

    pub fn get(&self, key: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::home(key, mask);
        loop {
            match self.slots.get(i) {
                Some(&(k, v)) if v != EMPTY && k == key => return Some(v),
                Some(&(_, v)) if v != EMPTY => i = (i + 1) & mask,
                _ => return None,
            }
        }
    }

    /// Sets `key` to `value` (`value` below `u32::MAX`).
    pub fn insert(&mut self, key: u64, value: u32) {
        if value == EMPTY {
            return;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::home(key, mask);
        while let Some(slot) = self.slots.get_mut(i) {
            if slot.1 == EMPTY {
                *slot = (key, value);
                self.len += 1;
                return;
            }
            if slot.0 == key {
                slot.1 = value;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn home(key: u64, mask: usize) -> usize {
        // The high bits of a multiplicative mix: hashes of similar prefixes spread out.
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![(0, EMPTY); size]);
        self.len = 0;
        for (k, v) in old {
            if v != EMPTY {
                self.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let mut index = HashIndex::default();
        assert_eq!(index.get(5), None);
        for k in 0..1000u64 {
            index.insert((k + 1) * 7919, u32::try_from(k).unwrap());
        }
        assert_eq!(index.len(), 1000);
        for k in 0..1000u64 {
            assert_eq!(index.get((k + 1) * 7919), Some(u32::try_from(k).unwrap()));
            assert_eq!(index.get((k + 1) * 7919 + 1), None);
        }
        index.insert(0, 3);
        index.insert(0, 4);
        assert_eq!(index.get(0), Some(4));
        assert_eq!(index.len(), 1001);
        index.clear();
        assert_eq!(index.get(7919), None);
        assert!(index.is_empty());
    }
}
