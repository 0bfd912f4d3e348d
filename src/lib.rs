//! The routegen proxy-wasm filter: the only code that talks to Envoy, and the only crate with
//! `unsafe` (raw host calls in `host`). Everything it decides is `routegen_core`'s.

#[cfg(target_arch = "wasm32")]
mod filter;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(target_arch = "wasm32")]
mod stats;
