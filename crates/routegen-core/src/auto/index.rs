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

/// Values kept in insertion order and found by a 64-bit hash: a [`HashIndex`] from the hash to
/// the value's position. The position is stable until `clear` (an admitted name's slot).
#[derive(Clone, Debug)]
pub struct Keyed<T> {
    index: HashIndex,
    values: Vec<T>,
}

impl<T> Default for Keyed<T> {
    fn default() -> Self {
        Keyed { index: HashIndex::default(), values: Vec::new() }
    }
}

impl<T> Keyed<T> {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.values.clear();
    }

    /// The position of `key`'s value.
    pub fn position(&self, key: u64) -> Option<u32> {
        self.index.get(key)
    }

    pub fn get(&self, key: u64) -> Option<&T> {
        self.position(key).and_then(|i| self.at(i))
    }

    /// The value at `position`.
    pub fn at(&self, position: u32) -> Option<&T> {
        self.values.get(position as usize)
    }

    /// Sets `key`'s value (in place if it has one), and returns its position.
    pub fn set(&mut self, key: u64, value: T) -> u32 {
        if let Some(i) = self.position(key) {
            if let Some(slot) = self.values.get_mut(i as usize) {
                *slot = value;
                return i;
            }
        }
        let i = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        self.values.push(value);
        self.index.insert(key, i);
        i
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

    #[test]
    fn keyed_values_keep_their_position() {
        let mut keyed = Keyed::default();
        assert_eq!(keyed.set(10, "a"), 0);
        assert_eq!(keyed.set(20, "b"), 1);
        assert_eq!(keyed.set(10, "c"), 0, "set again in place");
        assert_eq!((keyed.get(10), keyed.at(1), keyed.get(30)), (Some(&"c"), Some(&"b"), None));
        assert_eq!(keyed.len(), 2);
        keyed.clear();
        assert!(keyed.is_empty() && keyed.get(10).is_none());
    }
}
