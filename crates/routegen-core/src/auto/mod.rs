//! Auto routes: a bounded, stable name for every request no configured route covers.
//!
//! `GET /orders/8812/items` becomes `GET /orders/{id}/items`. Two halves:
//! - [`segment`]: deterministic rules that turn IDs, UUIDs, dates, e-mails, IPs and tokens into
//!   typed placeholders — a pure function of the segment, identical in every worker and proxy;
//! - [`namer`]: the fan-out rule for parameters that look like words (usernames, slugs),
//!   decided from what the whole Envoy process has seen (shared data, compare-and-swap), and
//!   the hard cap `max_names` on distinct names, past which requests get `overflow`.

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
        format!("routegen.auto.{:08x}", fnv1a(fingerprint.as_bytes()) as u32)
    }

    /// Positions (prefixes) tracked per process, bounding shared data: 4 per name.
    pub fn max_positions(&self) -> u32 {
        self.max_names.saturating_mul(4).max(64)
    }
}

/// FNV-1a, 64-bit: stable across workers, processes and builds (std's hasher is not).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_from(0xcbf2_9ce4_8422_2325, bytes)
}

pub fn fnv1a_from(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
