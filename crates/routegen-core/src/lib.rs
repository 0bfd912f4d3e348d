//! routegen's core: everything the filter decides, with no host in sight.
//!
//! Configuration formats (native and attributegen's), the CEL subset, path normalisation,
//! templates, the path index and the engine that names a request. The proxy-wasm filter (the
//! root crate) and the `routegen` CLI are two thin shells over this crate, so they cannot
//! disagree. Nothing here may panic on input: in the filter a panic kills the VM for every
//! request on its worker.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod auto;
pub mod cel;
pub mod config;
pub mod engine;
pub mod lower;
pub mod matcher;
pub mod metrics;
pub mod normalize;
pub mod reference;
pub mod route;
pub mod tally;
pub mod template;
