//! What the fan-out half knows about one position (the segment after a given prefix), and its
//! byte form in proxy-wasm shared data.
//!
//! Values are stored as 64-bit hashes, never as text, so a position's record has a fixed upper
//! size (`4 + 13 × TABLE` bytes) whatever the traffic.

/// Literal values tracked per position. More than any real API has words at one level
/// (GitHub's busiest has about 60); past it the oldest singleton gives way.
pub const TABLE: usize = 64;

/// Sightings that make a value accepted (a recurring word, not a one-off parameter value).
pub const ACCEPT: u8 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub value: u64,
    /// Sightings, saturating at [`ACCEPT`].
    pub count: u8,
    /// Hash of the literal word that followed the first sighting (0: none, a placeholder or the end).
    pub next: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// Fanned out: only values accepted before the freeze stay literal; the rest are `{param}`.
    pub frozen: bool,
    /// A placeholder (an ID) has been seen here: the position's parameter is an ID, so its
    /// words are resources or actions (`/orders/search` beside `/orders/{id}`).
    pub ids_seen: bool,
    /// Singleton values dropped to make room (counted as singletons for the freeze rule).
    pub evicted: u16,
    pub entries: Vec<Entry>,
}

const FROZEN: u8 = 1;
const IDS_SEEN: u8 = 2;
const ENTRY_BYTES: usize = 13;

impl Position {
    pub fn find(&self, value: u64) -> Option<&Entry> {
        self.entries.iter().find(|e| e.value == value)
    }

    pub fn accepted(&self, value: u64) -> bool {
        self.find(value).is_some_and(|e| e.count >= ACCEPT)
    }

    pub fn singletons(&self) -> usize {
        self.entries.iter().filter(|e| e.count < ACCEPT).count() + usize::from(self.evicted)
    }

    pub fn accepted_count(&self) -> usize {
        self.entries.iter().filter(|e| e.count >= ACCEPT).count()
    }

    /// Counts one sighting of `value` (followed by `next`). Returns false when nothing changed.
    pub fn observe(&mut self, value: u64, next: u32) -> bool {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.value == value) {
            if entry.count >= ACCEPT {
                return false;
            }
            entry.count += 1;
            return true;
        }
        let entry = Entry { value, count: 1, next };
        if self.entries.len() < TABLE {
            self.entries.push(entry);
        } else if let Some(slot) = self.entries.iter().position(|e| e.count < ACCEPT) {
            self.entries.remove(slot);
            self.entries.push(entry);
            self.evicted = self.evicted.saturating_add(1);
        } else {
            self.evicted = self.evicted.saturating_add(1);
        }
        true
    }

    /// How many values share their most common following word (`alice/repos`, `bob/repos`:
    /// 2). Parameter values lead into one subtree; resource names into their own.
    pub fn shared_next(&self) -> usize {
        let nexts: Vec<u32> = self.entries.iter().filter(|e| e.next != 0).map(|e| e.next).collect();
        nexts.iter().map(|n| nexts.iter().filter(|m| *m == n).count()).max().unwrap_or(0)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + ENTRY_BYTES * self.entries.len());
        out.push((u8::from(self.frozen) * FROZEN) | (u8::from(self.ids_seen) * IDS_SEEN));
        out.extend_from_slice(&self.evicted.to_le_bytes());
        out.push(u8::try_from(self.entries.len()).unwrap_or(u8::MAX));
        for e in self.entries.iter().take(usize::from(u8::MAX)) {
            out.extend_from_slice(&e.value.to_le_bytes());
            out.push(e.count);
            out.extend_from_slice(&e.next.to_le_bytes());
        }
        out
    }

    /// Reads a record; anything malformed reads as an empty position (shared data is ours, but
    /// a trap over a bad byte would cost every request on the worker).
    pub fn decode(bytes: &[u8]) -> Position {
        let (Some(&flags), Some(evicted), Some(&n)) = (bytes.first(), bytes.get(1..3), bytes.get(3)) else {
            return Position::default();
        };
        let body = &bytes[4..];
        if body.len() != usize::from(n) * ENTRY_BYTES {
            return Position::default();
        }
        let entries = body
            .chunks_exact(ENTRY_BYTES)
            .map(|c| Entry {
                value: u64::from_le_bytes(array(&c[0..8])),
                count: c[8],
                next: u32::from_le_bytes(array(&c[9..13])),
            })
            .collect();
        Position {
            frozen: flags & FROZEN != 0,
            ids_seen: flags & IDS_SEEN != 0,
            evicted: u16::from_le_bytes([evicted[0], evicted[1]]),
            entries,
        }
    }
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let mut p = Position { ids_seen: true, ..Position::default() };
        p.observe(1, 7);
        p.observe(1, 7);
        p.observe(2, 0);
        assert_eq!(Position::decode(&p.encode()), p);
        assert_eq!(Position::decode(&[1, 2]), Position::default());
        assert_eq!(Position::decode(&[0, 0, 0, 5, 1]), Position::default());
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut p = Position::default();
        for v in 0..1000u64 {
            p.observe(v, 0);
        }
        assert_eq!(p.entries.len(), TABLE);
        assert_eq!(p.singletons(), 1000);
        assert!(p.encode().len() <= 4 + ENTRY_BYTES * TABLE);
    }

    #[test]
    fn counts_saturate_at_accept() {
        let mut p = Position::default();
        assert!(p.observe(9, 0));
        assert!(p.observe(9, 0));
        assert!(!p.observe(9, 0));
        assert!(p.accepted(9));
        assert_eq!(p.accepted_count(), 1);
    }
}
