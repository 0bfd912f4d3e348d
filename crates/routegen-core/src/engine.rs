//! The compiled configuration and the per-request decision, with no host calls.
//!
//! The proxy-wasm glue (and the CLI, and the tests) hand the engine what it needs through small
//! traits: [`HeaderSource`] for native header conditions, [`crate::cel::Activation`] for CEL
//! attributes, and [`HostCel`] for conditions only Envoy's own CEL can evaluate.

use crate::cel::{self, Activation, Expr};
use crate::config::{self, AgAttribute, AgConfig, Config, ConfigError, NativeConfig, Phase, ServiceSpec};
use crate::lower::lower;
use crate::matcher::{PathIndex, RouteId};
use crate::metrics::MetricsConfig;
use crate::normalize::{normalize, strip_query, NormalizeOptions};
use crate::route::{MethodSet, RouteSpec};
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
    AttributeGen(Vec<AttributePlan>),
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
        Config::AttributeGen(ag) => compile_attributegen(ag, host, &mut notes)?,
    };
    Ok((engine, notes))
}

// ---------------------------------------------------------------------------------------------
// Native routes

/// An ordered route table and its index.
#[derive(Debug)]
pub struct Table {
    pub routes: Vec<RouteSpec>,
    /// Global id of `routes[0]` (ids number every route of the plan, fallback table first).
    pub first_id: usize,
    index: PathIndex,
}

impl Table {
    fn new(routes: Vec<RouteSpec>, first_id: usize) -> Table {
        let index = PathIndex::new(routes.iter().map(|r| &r.path));
        Table { routes, first_id, index }
    }

    /// The first route (by position) whose method, path and headers all hold.
    pub fn first_match(
        &self,
        method: &[u8],
        path: &[u8],
        headers: &mut dyn HeaderSource,
        scratch: &mut Vec<RouteId>,
    ) -> Option<usize> {
        self.index.candidates(path, scratch);
        for &id in scratch.iter() {
            let Some(route) = self.routes.get(id as usize) else { continue };
            if route.methods.allows(method)
                && self.index.confirm(id, path)
                && route.headers.iter().all(|h| h.matches(headers.header(&h.name).as_deref()))
            {
                return Some(id as usize);
            }
        }
        None
    }
}

#[derive(Debug)]
pub struct Service {
    pub hosts: Vec<String>,
    pub table: Table,
    pub default: Option<String>,
}

#[derive(Debug)]
pub struct NativePlan {
    pub output_attribute: String,
    pub default: Option<String>,
    pub normalize: NormalizeOptions,
    pub metrics: MetricsConfig,
    /// Paths longer than this are not examined: they get the default.
    pub max_path_bytes: usize,
    pub fallback: Table,
    pub services: Vec<Service>,
    /// (host, service); a waypoint serves tens of hosts, so a scan beats hashing here.
    exact_hosts: Vec<(String, usize)>,
    /// `*.example.com` entries as (".example.com", service).
    wildcard_hosts: Vec<(String, usize)>,
}

/// The request facts native matching reads.
#[derive(Clone, Copy, Debug)]
pub struct RequestLine<'a> {
    pub method: &'a [u8],
    /// `:path` as received (query included).
    pub path: &'a [u8],
    pub authority: &'a [u8],
}

/// Which route a request got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision<'a> {
    /// The name to write; `None` leaves the attribute unset.
    pub name: Option<&'a str>,
    /// Global route id of the matched route, `None` for a default.
    pub route: Option<usize>,
    /// Index of the service whose hosts matched the authority.
    pub service: Option<usize>,
}

impl NativePlan {
    fn new(config: NativeConfig) -> NativePlan {
        let fallback = Table::new(config.routes, 0);
        let mut next_id = fallback.routes.len();
        let mut exact_hosts = Vec::new();
        let mut wildcard_hosts = Vec::new();
        let mut services = Vec::with_capacity(config.services.len());
        for (i, ServiceSpec { hosts, routes, default }) in config.services.into_iter().enumerate() {
            for host in &hosts {
                match host.strip_prefix('*') {
                    Some(suffix) if suffix.starts_with('.') => wildcard_hosts.push((suffix.to_string(), i)),
                    _ => exact_hosts.push((host.clone(), i)),
                }
            }
            let table = Table::new(routes, next_id);
            next_id += table.routes.len();
            services.push(Service { hosts, table, default });
        }
        NativePlan {
            output_attribute: config.output_attribute,
            default: config.default,
            normalize: config.normalize,
            metrics: config.metrics,
            max_path_bytes: config.limits.max_path_bytes,
            fallback,
            services,
            exact_hosts,
            wildcard_hosts,
        }
    }

    /// Finds the service for an authority: exact `host:port`, then the host without its port,
    /// then `*.suffix` wildcards.
    pub fn service_for(&self, authority: &[u8]) -> Option<usize> {
        if self.services.is_empty() || authority.is_empty() {
            return None;
        }
        let authority = String::from_utf8_lossy(authority).to_ascii_lowercase();
        let exact = |name: &str| self.exact_hosts.iter().find(|(h, _)| h == name).map(|&(_, i)| i);
        if let Some(i) = exact(&authority) {
            return Some(i);
        }
        let host = strip_port(&authority);
        if host.len() != authority.len() {
            if let Some(i) = exact(host) {
                return Some(i);
            }
        }
        self.wildcard_hosts
            .iter()
            .find(|(suffix, _)| host.ends_with(suffix.as_str()) && host.len() > suffix.len())
            .map(|&(_, i)| i)
    }

    /// The path as matching sees it: query cut, then normalised.
    pub fn match_path<'p>(&self, raw_path: &'p [u8]) -> std::borrow::Cow<'p, [u8]> {
        normalize(strip_query(raw_path), &self.normalize)
    }

    /// The route for one request: the service's routes, then the fallback table, then the
    /// service's default, then the global default.
    pub fn decide(
        &self,
        request: &RequestLine<'_>,
        headers: &mut dyn HeaderSource,
        scratch: &mut Vec<RouteId>,
    ) -> Decision<'_> {
        let service = self.service_for(request.authority);
        if request.path.len() > self.max_path_bytes {
            return self.default_decision(service);
        }
        let path = self.match_path(request.path);
        if let Some(s) = service.and_then(|i| self.services.get(i)) {
            if let Some(i) = s.table.first_match(request.method, &path, headers, scratch) {
                return Decision { name: Some(&s.table.routes[i].name), route: Some(s.table.first_id + i), service };
            }
        }
        if let Some(i) = self.fallback.first_match(request.method, &path, headers, scratch) {
            return Decision { name: Some(&self.fallback.routes[i].name), route: Some(i), service };
        }
        self.default_decision(service)
    }

    /// The service's default, else the global default (else unset).
    pub fn default_decision(&self, service: Option<usize>) -> Decision<'_> {
        let default = service.and_then(|i| self.services.get(i)).and_then(|s| s.default.as_deref());
        Decision { name: default.or(self.default.as_deref()), route: None, service }
    }

    /// The route with this global id.
    pub fn route(&self, id: usize) -> Option<&RouteSpec> {
        std::iter::once(&self.fallback)
            .chain(self.services.iter().map(|s| &s.table))
            .find(|t| (t.first_id..t.first_id + t.routes.len()).contains(&id))
            .and_then(|t| t.routes.get(id - t.first_id))
    }

    /// Every route, by global id.
    pub fn routes(&self) -> impl Iterator<Item = &RouteSpec> {
        self.fallback.routes.iter().chain(self.services.iter().flat_map(|s| s.table.routes.iter()))
    }
}

/// `host:port` → `host`; `[::1]:80` → `[::1]`.
fn strip_port(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(colon)
            if !authority[colon..].contains(']') && authority[colon + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &authority[..colon]
        }
        _ => authority,
    }
}

// ---------------------------------------------------------------------------------------------
// attributegen

/// One attributegen `match` entry's condition, compiled.
#[derive(Debug)]
pub enum Condition {
    /// Empty condition: always true.
    Always,
    Cel(Expr),
    /// Outside the subset: evaluated by Envoy. `token` is `None` where no host engine exists.
    Host {
        source: String,
        token: Option<u32>,
    },
}

#[derive(Debug)]
pub struct MatchPlan {
    pub value: String,
    pub condition: Condition,
}

/// One output attribute: its matches, with the indexable ones filed in a path index.
#[derive(Debug)]
pub struct AttributePlan {
    pub output_attribute: String,
    pub phase: Phase,
    pub matches: Vec<MatchPlan>,
    /// For each indexed entry: its position in `matches`, method set and residual condition.
    indexed: Vec<IndexedMatch>,
    index: PathIndex,
    /// Positions of matches not in the index, ascending.
    interpreted: Vec<usize>,
}

#[derive(Debug)]
struct IndexedMatch {
    position: usize,
    methods: MethodSet,
    residual: Option<Expr>,
}

/// What one attribute came to for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<'a> {
    Set(&'a str),
    NoMatch,
    /// A condition failed to evaluate: attributegen abandons the attribute for this request.
    Error {
        position: usize,
        message: String,
    },
}

fn compile_attributegen(
    config: AgConfig,
    host: &mut dyn HostCel,
    notes: &mut Vec<Note>,
) -> Result<Engine, ConfigError> {
    let mut attributes = Vec::with_capacity(config.attributes.len());
    for (i, attribute) in config.attributes.into_iter().enumerate() {
        attributes.push(AttributePlan::new(attribute, &format!("attributes[{i}]"), host, notes)?);
    }
    Ok(Engine { debug: config.debug, mode: Mode::AttributeGen(attributes) })
}

impl AttributePlan {
    fn new(
        attribute: AgAttribute,
        field: &str,
        host: &mut dyn HostCel,
        notes: &mut Vec<Note>,
    ) -> Result<AttributePlan, ConfigError> {
        let mut matches = Vec::with_capacity(attribute.matches.len());
        let mut indexed = Vec::new();
        let mut paths = Vec::new();
        let mut interpreted = Vec::new();
        for (position, entry) in attribute.matches.into_iter().enumerate() {
            let condition_field = format!("{field}.match[{position}].condition");
            let condition = compile_condition(&entry.condition, &condition_field, host, notes)?;
            let lowered = match &condition {
                Condition::Cel(expr) => lower(expr),
                _ => None,
            };
            match lowered {
                Some(l) => {
                    paths.push(l.path);
                    indexed.push(IndexedMatch { position, methods: l.methods, residual: l.residual });
                }
                None => interpreted.push(position),
            }
            matches.push(MatchPlan { value: entry.value, condition });
        }
        let index = PathIndex::new(paths.iter());
        Ok(AttributePlan {
            output_attribute: attribute.output_attribute,
            phase: attribute.phase,
            matches,
            indexed,
            index,
            interpreted,
        })
    }

    /// How many matches the index serves (the rest are evaluated one by one).
    pub fn indexed_len(&self) -> usize {
        self.indexed.len()
    }

    /// Evaluates the attribute with attributegen's semantics: the first match whose condition
    /// is true wins; an evaluation error before that abandons the attribute.
    ///
    /// `line` is `(:method, :path)`; with it, indexed matches are found through the index and
    /// merged, in position order, with the interpreted ones. Without it (a request missing
    /// either header) every condition is evaluated in order, as CEL would.
    pub fn evaluate(
        &self,
        line: Option<(&[u8], &[u8])>,
        act: &mut dyn Activation,
        host: &mut dyn HostCel,
        scratch: &mut Vec<RouteId>,
    ) -> Outcome<'_> {
        let Some((method, raw_path)) = line else {
            return self.evaluate_in_order(act, host);
        };
        // attributegen sees `request.url_path` exactly: `:path` cut at '?', nothing normalised.
        let url_path = match raw_path.iter().position(|&b| b == b'?') {
            Some(end) => &raw_path[..end],
            None => raw_path,
        };
        self.index.candidates(url_path, scratch);
        let mut candidates = scratch.iter().filter_map(|&id| self.indexed.get(id as usize).map(|m| (id, m))).peekable();
        let mut interpreted = self.interpreted.iter().copied().peekable();
        loop {
            let next_indexed = candidates.peek().map(|(_, m)| m.position);
            let next_interpreted = interpreted.peek().copied();
            let verdict = match (next_indexed, next_interpreted) {
                (None, None) => return Outcome::NoMatch,
                (Some(a), Some(b)) if b < a => {
                    interpreted.next();
                    (b, self.check(b, act, host))
                }
                (Some(_), _) => {
                    let Some((id, m)) = candidates.next() else { return Outcome::NoMatch };
                    let holds = m.methods.allows(method) && self.index.confirm(id, url_path);
                    let verdict = match (&m.residual, holds) {
                        (_, false) => Ok(false),
                        (None, true) => Ok(true),
                        (Some(residual), true) => cel::eval_bool(residual, act).map_err(|e| e.to_string()),
                    };
                    (m.position, verdict)
                }
                (None, Some(b)) => {
                    interpreted.next();
                    (b, self.check(b, act, host))
                }
            };
            match verdict {
                (position, Ok(true)) => return self.set(position),
                (_, Ok(false)) => continue,
                (position, Err(message)) => return Outcome::Error { position, message },
            }
        }
    }

    /// The reference semantics: every condition, in order.
    pub fn evaluate_in_order(&self, act: &mut dyn Activation, host: &mut dyn HostCel) -> Outcome<'_> {
        for position in 0..self.matches.len() {
            match self.check(position, act, host) {
                Ok(true) => return self.set(position),
                Ok(false) => {}
                Err(message) => return Outcome::Error { position, message },
            }
        }
        Outcome::NoMatch
    }

    fn set(&self, position: usize) -> Outcome<'_> {
        match self.matches.get(position) {
            Some(m) => Outcome::Set(&m.value),
            None => Outcome::NoMatch,
        }
    }

    fn check(&self, position: usize, act: &mut dyn Activation, host: &mut dyn HostCel) -> Result<bool, String> {
        match self.matches.get(position).map(|m| &m.condition) {
            None => Ok(false),
            Some(Condition::Always) => Ok(true),
            Some(Condition::Cel(expr)) => cel::eval_bool(expr, act).map_err(|e| e.to_string()),
            Some(Condition::Host { token: Some(token), .. }) => host.evaluate(*token),
            Some(Condition::Host { token: None, .. }) => Err("this condition needs Envoy's CEL engine".to_string()),
        }
    }
}

fn compile_condition(
    source: &str,
    field: &str,
    host: &mut dyn HostCel,
    notes: &mut Vec<Note>,
) -> Result<Condition, ConfigError> {
    if source.trim().is_empty() {
        return Ok(Condition::Always);
    }
    let subset_error = match cel::parse(source) {
        Ok(expr) => return Ok(Condition::Cel(expr)),
        Err(e) => e.to_string(),
    };
    if !host.available() {
        notes.push(Note {
            field: field.to_string(),
            message: format!("needs Envoy's CEL at run time (outside routegen's subset: {subset_error})"),
        });
        return Ok(Condition::Host { source: source.to_string(), token: None });
    }
    match host.create(source) {
        Ok(token) => {
            notes.push(Note {
                field: field.to_string(),
                message: format!("evaluated by Envoy's CEL (outside routegen's subset: {subset_error})"),
            });
            Ok(Condition::Host { source: source.to_string(), token: Some(token) })
        }
        Err(host_error) => Err(ConfigError::new(
            field,
            format!("invalid CEL: {subset_error}; Envoy's CEL also rejects it: {host_error}"),
        )),
    }
}

#[cfg(test)]
mod tests;
