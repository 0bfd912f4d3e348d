//! The compiled configuration and the per-request decision, with no host calls.
//!
//! The proxy-wasm glue (and the CLI, and the tests) hand the engine what it needs through small
//! traits: [`HeaderSource`] for native header conditions, [`crate::cel::Activation`] for CEL
//! attributes, and [`HostCel`] for conditions only Envoy's own CEL can evaluate.

mod attributegen;
mod native;

pub use attributegen::{AttributePlan, Condition, MatchPlan, Outcome};
pub use native::{strip_port, Decision, NativePlan, RequestLine, Service, Table};

use crate::config::{self, Config, ConfigError};
use attributegen::compile_attributegen;
use std::collections::HashMap;

/// Evaluates CEL the routegen subset cannot, through Envoy's `expr_create` / `expr_evaluate`.
pub trait HostCel {
    /// False where no host engine exists (CLI, tests): conditions outside the subset then
    /// compile with a note instead of being checked by `create`.
    fn available(&self) -> bool {
        true
    }
    fn create(&mut self, source: &str) -> Result<u32, String>;
    fn evaluate(&mut self, token: u32) -> Result<bool, String>;
}

/// For the CLI and tests: no host CEL. Such conditions compile (with a note) but never hold.
pub struct NoHostCel;

impl HostCel for NoHostCel {
    fn available(&self) -> bool {
        false
    }
    fn create(&mut self, _source: &str) -> Result<u32, String> {
        Err("no host CEL engine here".to_string())
    }
    fn evaluate(&mut self, _token: u32) -> Result<bool, String> {
        Err("this condition needs Envoy's CEL engine".to_string())
    }
}

/// Request headers for native `headers` conditions (names are lower-case).
pub trait HeaderSource {
    fn header(&mut self, name: &str) -> Option<Vec<u8>>;
}

impl HeaderSource for HashMap<String, Vec<u8>> {
    fn header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.get(name).cloned()
    }
}

/// Request headers as Envoy hands them to a filter (and to its CEL): names lower-case, the
/// values of a repeated header joined with `,` in the order they came. The CLI builds its
/// requests with this, so `explain -H x-a=1 -H x-a=2` sees what the filter sees.
#[derive(Clone, Debug, Default)]
pub struct JoinedHeaders(HashMap<String, Vec<u8>>);

impl JoinedHeaders {
    pub fn add(&mut self, name: &str, value: &[u8]) {
        let joined = self.0.entry(name.trim().to_ascii_lowercase()).or_default();
        if !joined.is_empty() {
            joined.push(b',');
        }
        joined.extend_from_slice(value);
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(Vec::as_slice)
    }
}

impl HeaderSource for JoinedHeaders {
    fn header(&mut self, name: &str) -> Option<Vec<u8>> {
        self.get(name).map(<[u8]>::to_vec)
    }
}

/// A configuration, compiled.
#[derive(Debug)]
pub struct Engine {
    pub debug: bool,
    pub mode: Mode,
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per configuration; boxing buys nothing
pub enum Mode {
    Native(NativePlan),
    Attributegen(Vec<AttributePlan>),
}

impl Engine {
    /// The prefix of the filter's own metrics (`metrics.prefix`; the default for attributegen).
    pub fn metrics_prefix(&self) -> &str {
        match &self.mode {
            Mode::Native(plan) => &plan.metrics.prefix,
            Mode::Attributegen(_) => crate::metrics::DEFAULT_PREFIX,
        }
    }
}

/// Something worth telling the operator at config time that is not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Parses and compiles configuration bytes, as `on_configure` does.
pub fn compile_bytes(bytes: &[u8], host: &mut dyn HostCel) -> Result<(Engine, Vec<Note>), ConfigError> {
    compile(config::parse(bytes)?, host)
}

pub fn compile(config: Config, host: &mut dyn HostCel) -> Result<(Engine, Vec<Note>), ConfigError> {
    let mut notes = Vec::new();
    let engine = match config {
        Config::Native(native) => Engine { debug: native.debug, mode: Mode::Native(NativePlan::new(native)) },
        Config::Attributegen(ag) => compile_attributegen(ag, host, &mut notes)?,
    };
    Ok((engine, notes))
}

#[cfg(test)]
mod tests;
