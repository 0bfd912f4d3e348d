//! Auto routes: a bounded, stable name for every request no configured route covers.
//!
//! `GET /orders/8812/items` becomes `GET /orders/{id}/items`. Two halves:
//! - [`segment`]: deterministic rules that turn IDs, UUIDs, dates, e-mails, IPs and tokens into
//!   typed placeholders — a pure function of the segment, identical in every worker and proxy;
//! - [`namer`]: the fan-out rule for parameters that look like words (usernames, slugs),
//!   decided from what the whole Envoy process has seen (shared data, compare-and-swap), and
//!   the hard cap `max_names` on distinct names, past which requests get `overflow`.

pub mod index;
pub mod methods;
pub mod namer;
pub mod position;
pub mod segment;
pub mod store;

pub use namer::{AutoName, AutoNamer, Kind, Slot, Step, Tracer, Why};
pub use segment::{classify, Class, Placeholder, Rule};
pub use store::{MemoryStore, SharedStore, Written};

/// `"auto": {...}` in the native configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoConfig {
    /// Distinct auto names per Envoy process (all workers); past it, `overflow`.
    pub max_names: u32,
    /// The name given once `max_names` is reached.
    pub overflow: String,
    /// Distinct one-off words at a resource position before it becomes `{param}`.
    pub fanout: u32,
    /// Segments named before the tail becomes `/{rest}`.
    pub max_depth: usize,
}

impl Default for AutoConfig {
    fn default() -> Self {
        AutoConfig { max_names: 500, overflow: "[OVERFLOW]".to_string(), fanout: 20, max_depth: 8 }
    }
}

impl AutoConfig {
    /// The shared-data namespace: processes and workers with the same `auto` settings share
    /// state (it survives a route-table edit); changing a setting starts afresh.
    pub fn namespace(&self) -> String {
        let fingerprint = format!("{}|{}|{}|{}", self.max_names, self.overflow, self.fanout, self.max_depth);
        format!("routegen.auto.{:08x}", stable_hash(fingerprint.as_bytes()) as u32)
    }

    /// Positions (prefixes) tracked per process, bounding shared data: 4 per name.
    pub fn max_positions(&self) -> u32 {
        self.max_names.saturating_mul(4).max(64)
    }
}

/// A 64-bit hash that is stable across workers, processes and builds (std's hasher is not),
/// eight bytes at a time (the FxHash step).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    stable_hash_from(0xcbf2_9ce4_8422_2325, bytes)
}

/// Continues `seed` over `bytes`: the hash of a name's prefix extends piece by piece.
pub fn stable_hash_from(seed: u64, bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut hash = seed;
    for chunk in &mut chunks {
        hash = mix(hash, u64::from_le_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default()));
    }
    // The tail (up to 7 bytes) with its length in the top byte: "a" and "a\0" differ.
    let tail = chunks.remainder();
    let word = tail.iter().rev().fold(0u64, |word, &b| (word << 8) | u64::from(b));
    mix(hash, word | ((tail.len() as u64) << 56))
}

/// One step of the hash (FxHash's): folds `word` into `hash`.
pub fn mix(hash: u64, word: u64) -> u64 {
    (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95)
}
