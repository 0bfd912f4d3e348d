//! routegen: bounded, human-named route attribution for Envoy and Istio.
//!
//! The crate is a pure core (config parsing, the CEL subset, path normalisation and matching),
//! unit-tested natively, plus one thin proxy-wasm shell (`filter`) that is the only code calling
//! the host. The CLI is a second shell over the same core.

pub mod cel;
pub mod config;
pub mod engine;
#[cfg(feature = "cli")] pub mod import;
pub mod json;
pub mod lower;
pub mod matcher;
pub mod metrics;
pub mod normalize;
pub mod reference;
pub mod route;
pub mod shadow;
pub mod template;

#[cfg(target_arch = "wasm32")]
mod filter;
