//! The native plan: an ordered route table per service plus the fallback table, each with its
//! path index, and the first-match decision for a request.

use super::HeaderSource;
use crate::auto::{AutoConfig, AutoName, AutoNamer, SharedStore};
use crate::config::{NativeConfig, ServiceSpec};
use crate::matcher::{PathIndex, RouteId};
use crate::metrics::MetricsConfig;
use crate::normalize::{normalize, strip_query, NormalizeOptions};
use crate::route::{mask_allows, method_bit, query_value, raw_query, RouteSpec};

/// An ordered route table and its index.
#[derive(Debug)]
pub struct Table {
    pub routes: Vec<RouteSpec>,
    /// Global id of `routes[0]` (ids number every route of the plan, fallback table first).
    pub first_id: usize,
    index: PathIndex,
    /// Per route, what a candidate is checked against before its `RouteSpec` is touched: the
    /// method mask (low 16 bits) and [`CONDITIONS`].
    checks: Vec<u32>,
}

/// A route's `checks` bit: it has header or query conditions.
const CONDITIONS: u32 = 1 << 16;

impl Table {
    pub(super) fn new(routes: Vec<RouteSpec>, first_id: usize) -> Table {
        let index = PathIndex::new(routes.iter().map(|r| &r.path));
        let checks = routes
            .iter()
            .map(|r| {
                let conditions = if r.headers.is_empty() && r.query.is_empty() { 0 } else { CONDITIONS };
                u32::from(r.methods.mask()) | conditions
            })
            .collect();
        Table { routes, first_id, index, checks }
    }

    /// The first route (by position) whose method, path, headers and query all hold. `query`
    /// is the raw query string (see [`crate::route::raw_query`]).
    pub fn first_match(
        &self,
        method: &[u8],
        path: &[u8],
        query: &[u8],
        headers: &mut dyn HeaderSource,
        scratch: &mut Vec<RouteId>,
    ) -> Option<usize> {
        self.index.candidates(path, scratch);
        let bit = method_bit(method);
        for &id in scratch.iter() {
            let (Some(&check), Some(route)) = (self.checks.get(id as usize), self.routes.get(id as usize)) else {
                continue;
            };
            // `route` is only a reference: its memory is read for an unusual method, for header
            // and query conditions, and for the winner.
            if mask_allows(check as u16, bit, &route.methods, method)
                && self.index.confirm(id, path)
                && (check & CONDITIONS == 0
                    || (route.headers.iter().all(|h| h.matches(headers.header(&h.name).as_deref()))
                        && route.query.iter().all(|q| q.matches(query_value(query, &q.name)))))
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
    /// Auto names where no route matches (instead of the defaults).
    pub auto: Option<AutoConfig>,
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
    pub(super) fn new(config: NativeConfig) -> NativePlan {
        let fallback = Table::new(config.routes, 0);
        let mut next_id = fallback.routes.len();
        let mut exact_hosts = Vec::new();
        let mut wildcard_hosts = Vec::new();
        let mut services = Vec::with_capacity(config.services.len());
        for (i, ServiceSpec { hosts, routes, default }) in config.services.into_iter().enumerate() {
            for host in &hosts {
                match host.strip_prefix('*') {
                    // The most specific wildcard first (`*.b.example.com` before `*.example.com`),
                    // as Envoy and Gateway API pick; equal lengths keep their order. (Inserted in
                    // place: the standard sort would add ~4 KB to the module.)
                    Some(suffix) if suffix.starts_with('.') => {
                        let at = wildcard_hosts
                            .iter()
                            .position(|(s, _): &(String, usize)| s.len() < suffix.len())
                            .unwrap_or(wildcard_hosts.len());
                        wildcard_hosts.insert(at, (suffix.to_string(), i));
                    }
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
            auto: config.auto,
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

    /// The path routes are matched against, or `None` when the request's path is longer than
    /// `limits.max_path_bytes` (such a request is not examined: it gets the default).
    pub fn matchable_path<'p>(&self, raw_path: &'p [u8]) -> Option<std::borrow::Cow<'p, [u8]>> {
        (raw_path.len() <= self.max_path_bytes).then(|| self.match_path(raw_path))
    }

    /// The route for one request: the service's routes, then the fallback table, then the
    /// service's default, then the global default.
    pub fn decide(
        &self,
        request: &RequestLine<'_>,
        headers: &mut dyn HeaderSource,
        scratch: &mut Vec<RouteId>,
    ) -> Decision<'_> {
        let path = self.matchable_path(request.path);
        self.decide_path(request, path.as_deref(), headers, scratch)
    }

    /// As [`Self::decide`], and where no route matched and `auto` is on, the auto name (which
    /// then replaces the defaults). Paths past `limits.max_path_bytes` are not examined: they
    /// keep the default.
    pub fn decide_or_auto(
        &self,
        request: &RequestLine<'_>,
        headers: &mut dyn HeaderSource,
        scratch: &mut Vec<RouteId>,
        namer: &mut AutoNamer,
        store: &mut dyn SharedStore,
    ) -> (Decision<'_>, Option<AutoName>) {
        let path = self.matchable_path(request.path);
        let decision = self.decide_path(request, path.as_deref(), headers, scratch);
        let auto = match (&path, decision.route) {
            (Some(path), None) if self.auto.is_some() => Some(namer.name(request.method, path, store)),
            _ => None,
        };
        (decision, auto)
    }

    fn decide_path(
        &self,
        request: &RequestLine<'_>,
        path: Option<&[u8]>,
        headers: &mut dyn HeaderSource,
        scratch: &mut Vec<RouteId>,
    ) -> Decision<'_> {
        let service = self.service_for(request.authority);
        let Some(path) = path else { return self.default_decision(service) };
        let query = raw_query(request.path);
        if let Some(s) = service.and_then(|i| self.services.get(i)) {
            if let Some(i) = s.table.first_match(request.method, path, query, headers, scratch) {
                return Decision { name: Some(&s.table.routes[i].name), route: Some(s.table.first_id + i), service };
            }
        }
        if let Some(i) = self.fallback.first_match(request.method, path, query, headers, scratch) {
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
pub fn strip_port(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(colon)
            if !authority[colon..].contains(']') && authority[colon + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &authority[..colon]
        }
        _ => authority,
    }
}
