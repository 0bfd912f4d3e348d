//! The proxy-wasm shell: the only code that talks to Envoy.
//!
//! `on_configure` compiles the plugin configuration once per VM; each request then reads
//! `:method`, `:path` and `:authority`, asks the engine, and writes the route name as filter
//! state. Nothing here may panic: a trap would take down the VM for the whole worker.

use crate::host;
use crate::stats::{self, Observation, RouteKey, Stats};
use log::{error, info, warn};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use routegen_core::auto::{AutoName, AutoNamer, SharedStore, Slot, Written};
use routegen_core::cel::{Activation, Attr, Value};
use routegen_core::config::Phase;
use routegen_core::engine::{
    self, AttributePlan, Condition, Engine, HeaderSource, HostCel, Mode, NativePlan, Outcome, RequestLine,
};
use routegen_core::metrics::{self, MetricNames};
use std::cell::RefCell;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Trace);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root { loaded: None, tick_ms: 0, since_flush_ms: 0, flushes: 0 }) });
}}

/// A compiled configuration and the metric ids defined for it.
struct Loaded {
    engine: Engine,
    stats: Stats,
    /// The index's candidate buffer, shared by the VM's requests (callbacks never overlap in a
    /// VM), so a warm lookup allocates nothing.
    scratch: RefCell<Vec<u32>>,
    /// With `auto` on: this worker's namer (its cache; the state all workers share is in
    /// proxy-wasm shared data).
    namer: Option<RefCell<AutoNamer>>,
}

impl Loaded {
    /// Runs `f` with the shared candidate buffer (a fresh one if it is somehow in use).
    fn with_scratch<R>(&self, f: impl FnOnce(&mut Vec<u32>) -> R) -> R {
        match self.scratch.try_borrow_mut() {
            Ok(mut scratch) => f(&mut scratch),
            Err(_) => f(&mut Vec::new()),
        }
    }
}

struct Root {
    loaded: Option<Rc<Loaded>>,
    /// The tick period asked for (0: no ticks), the time since metrics were last flushed, and
    /// flushes modulo `LATENCY_EVERY`.
    tick_ms: u32,
    since_flush_ms: u32,
    flushes: u32,
}

/// How often a worker with auto names catches up with the others' freezes (see
/// `AutoNamer::refresh`): one shared-data read per tick instead of one per request.
const AUTO_REFRESH_MS: u32 = 100;

/// How often a worker's pending counts reach Envoy: counters every second (fresher than any
/// scrape), latency histograms every fifth flush (5 s, Envoy's default stats flush interval,
/// when its own histograms become visible), since each costs up to 28 increments per series.
const METRICS_FLUSH_MS: u32 = 1000;
const LATENCY_EVERY: u32 = 5;

impl Root {
    /// Workers admit auto names concurrently, so the gauge one sets at its admission can be
    /// older than another's: each flush sets it from the process-wide count.
    fn set_auto_names_gauge(&self) {
        let Some(loaded) = &self.loaded else { return };
        let (Mode::Native(plan), Some(namer)) = (&loaded.engine.mode, &loaded.namer) else { return };
        if let Ok(namer) = namer.try_borrow() {
            let count = namer.admitted_total(&mut HostShared);
            if count > 0 {
                stats::set_auto_names(&plan.metrics.prefix, count);
            }
        }
    }

    fn flush_metrics(&mut self, all: bool) {
        self.since_flush_ms = 0;
        self.flushes = (self.flushes + 1) % LATENCY_EVERY;
        if let Some(loaded) = &self.loaded {
            loaded.stats.flush(all || self.flushes == 0);
        }
    }
}

impl Context for Root {
    /// VM teardown: what this worker counted since the last tick still reaches Envoy.
    fn on_done(&mut self) -> bool {
        self.flush_metrics(true);
        true
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = match host::plugin_configuration() {
            Ok(bytes) => bytes,
            Err(status) => {
                error!("routegen: cannot read the plugin configuration (status {status})");
                return false;
            }
        };
        match engine::compile_bytes(&bytes, &mut EnvoyCel) {
            Ok((engine, notes)) => {
                for note in notes {
                    info!("routegen: {note}");
                }
                info!("routegen: configuration loaded ({})", summary(&engine));
                let namer = match &engine.mode {
                    Mode::Native(plan) => plan.auto.clone().map(|auto| RefCell::new(AutoNamer::new(auto))),
                    Mode::Attributegen(_) => None,
                };
                let metrics_on = matches!(&engine.mode, Mode::Native(plan) if plan.metrics.enabled);
                let period = match (namer.is_some(), metrics_on) {
                    (true, _) => AUTO_REFRESH_MS,
                    (false, true) => METRICS_FLUSH_MS,
                    (false, false) => 0,
                };
                if let Err(status) = host::set_tick_period(period) {
                    warn!("routegen: cannot set a {period} ms tick (status {status}): auto names and metrics depend on it");
                }
                self.tick_ms = period;
                // The old configuration's counts belong to its series: flushed before it goes.
                self.flush_metrics(true);
                if let Some(old) = self.loaded.replace(Rc::new(Loaded {
                    engine,
                    stats: Stats::default(),
                    scratch: RefCell::default(),
                    namer,
                })) {
                    release_host_expressions(&old.engine);
                }
                true
            }
            Err(e) => {
                error!("routegen: configuration rejected: {e}");
                // Counted under the prefix of the configuration that keeps serving.
                let prefix = self.loaded.as_ref().map_or(metrics::DEFAULT_PREFIX, |l| l.engine.metrics_prefix());
                stats::count_error(prefix, "config");
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if let Some(Ok(mut namer)) = self.loaded.as_ref().and_then(|l| l.namer.as_ref()).map(RefCell::try_borrow_mut) {
            namer.refresh(&mut HostShared);
        }
        self.since_flush_ms = self.since_flush_ms.saturating_add(self.tick_ms);
        if self.since_flush_ms >= METRICS_FLUSH_MS {
            self.flush_metrics(false);
            self.set_auto_names_gauge();
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Must return Some: the SDK panics on None. Without an engine the context does nothing.
        Some(Box::new(Request { loaded: self.loaded.clone(), counted: None }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

fn summary(engine: &Engine) -> String {
    match &engine.mode {
        Mode::Native(plan) => format!(
            "native: {} routes, {} services, metrics {}, auto {}",
            plan.routes().count(),
            plan.services.len(),
            if plan.metrics.enabled { "on" } else { "off" },
            match &plan.auto {
                Some(auto) => format!("on (max_names {}, fanout {})", auto.max_names, auto.fanout),
                None => "off".to_string(),
            }
        ),
        Mode::Attributegen(attributes) => {
            let matches: usize = attributes.iter().map(|a| a.matches.len()).sum();
            let indexed: usize = attributes.iter().map(AttributePlan::indexed_len).sum();
            format!("attributegen: {} attributes, {matches} matches, {indexed} indexed", attributes.len())
        }
    }
}

fn release_host_expressions(engine: &Engine) {
    if let Mode::Attributegen(attributes) = &engine.mode {
        for m in attributes.iter().flat_map(|a| a.matches.iter()) {
            if let Condition::Host { token: Some(token), .. } = m.condition {
                let _ = host::call_foreign("expr_delete", &token.to_le_bytes());
            }
        }
    }
}

struct Request {
    loaded: Option<Rc<Loaded>>,
    /// With metrics on: the decision and when the request headers arrived.
    counted: Option<Counted>,
}

struct Counted {
    route: Option<usize>,
    service: Option<usize>,
    auto: Option<AutoName>,
    start_ns: u64,
}

impl Context for Request {}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let Some(loaded) = self.loaded.clone() else { return Action::Continue };
        let engine = &loaded.engine;
        match &engine.mode {
            Mode::Native(plan) => {
                let method = request_header(":method").unwrap_or_default();
                let path = request_header(":path").unwrap_or_default();
                // Without services the authority decides nothing: skip the host call (the debug
                // log still shows it).
                let authority =
                    if plan.services.is_empty() && !engine.debug { None } else { request_header(":authority") };
                let authority = authority.unwrap_or_default();
                let line = RequestLine { method: &method, path: &path, authority: &authority };
                let (decision, auto) = loaded.with_scratch(|scratch| match &loaded.namer {
                    Some(namer) => match namer.try_borrow_mut() {
                        Ok(mut namer) => {
                            plan.decide_or_auto(&line, &mut HostHeaders, scratch, &mut namer, &mut HostShared)
                        }
                        Err(_) => (plan.decide(&line, &mut HostHeaders, scratch), None),
                    },
                    None => (plan.decide(&line, &mut HostHeaders, scratch), None),
                });
                let name = auto.as_ref().map(|a| &*a.name).or(decision.name);
                if engine.debug {
                    info!(
                        "routegen: {} {} (authority {}) -> {}{}",
                        String::from_utf8_lossy(&method),
                        String::from_utf8_lossy(&path),
                        String::from_utf8_lossy(&authority),
                        name.unwrap_or("<unset>"),
                        if auto.is_some() { " (auto)" } else { "" }
                    );
                }
                if let Some(name) = name {
                    write_attribute(engine, &plan.output_attribute, name);
                }
                if let Some(auto) = &auto {
                    if let Some(count) = auto.admitted {
                        stats::set_auto_names(&plan.metrics.prefix, count);
                    }
                    if auto.slot == Slot::Overflow {
                        loaded.stats.count_overflow(&plan.metrics.prefix);
                    }
                }
                if plan.metrics.enabled {
                    let start_ns = host::now_nanos();
                    self.counted = Some(Counted { route: decision.route, service: decision.service, auto, start_ns });
                }
            }
            Mode::Attributegen(attributes) => run_attributes(&loaded, attributes, Phase::OnRequest),
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        let Some(loaded) = self.loaded.clone() else { return };
        match &loaded.engine.mode {
            Mode::Attributegen(attributes) => run_attributes(&loaded, attributes, Phase::AfterResponse),
            Mode::Native(plan) => {
                if let Some(counted) = self.counted.take() {
                    record_request(plan, &loaded.stats, &counted);
                }
            }
        }
    }
}

/// Counts one finished request under its route (metrics on).
fn record_request(plan: &NativePlan, stats: &Stats, counted: &Counted) {
    let route = counted.route.and_then(|id| plan.route(id));
    let label = match (route, &counted.auto) {
        (Some(route), _) => route.name.as_str(),
        (None, Some(auto)) => &auto.name,
        (None, None) => plan.default_decision(counted.service).name.unwrap_or("unknown"),
    };
    // No response code (a reset before headers) reads as 0: a failure.
    // `:status` is a plain header read, cheaper than the `response.code` property.
    let status = host::header(host::RESPONSE_HEADERS, ":status").ok().flatten();
    let status = status.and_then(|s| std::str::from_utf8(&s).ok()?.parse().ok()).unwrap_or(0);
    let classification = metrics::classify(status, grpc_status(), route.and_then(|r| r.failure_classes.as_deref()));
    let elapsed_ns = host::now_nanos().saturating_sub(counted.start_ns);
    let key = match (counted.route, &counted.auto) {
        (Some(id), _) => RouteKey::Route(id),
        (None, Some(AutoName { slot: Slot::Name(slot), .. })) => RouteKey::Auto(*slot),
        (None, Some(AutoName { slot: Slot::Overflow, .. })) => RouteKey::Overflow,
        (None, None) => RouteKey::Default,
    };
    // Services are the config's own: the label is a service's first host, never the request's.
    let service = (!plan.services.is_empty() || plan.metrics.names == MetricNames::Linkerd).then(|| {
        match counted.service.and_then(|i| plan.services.get(i).map(|s| (i, s))) {
            Some((i, s)) => (Some(i), s.hosts.first().map_or("unknown", String::as_str)),
            None => (None, "unknown"),
        }
    });
    stats.record(
        &plan.metrics,
        &Observation { route: key, label, service, classification, status, duration_ms: elapsed_ns / 1_000_000 },
    );
}

/// `grpc-status` from the trailers, or from the headers of a trailers-only response.
/// (Envoy's `response.grpc_status` is derived from the HTTP status for non-gRPC responses,
/// so it cannot tell whether a response was gRPC at all.)
fn grpc_status() -> Option<u32> {
    // Only a gRPC response has a grpc-status worth reading: one header read tells, and saves
    // two reads on every plain HTTP response.
    let content_type = host::header(host::RESPONSE_HEADERS, "content-type").ok().flatten()?;
    if !content_type.starts_with(b"application/grpc") {
        return None;
    }
    let value = host::header(host::RESPONSE_TRAILERS, "grpc-status")
        .ok()
        .flatten()
        .or_else(|| host::header(host::RESPONSE_HEADERS, "grpc-status").ok().flatten())?;
    std::str::from_utf8(&value).ok()?.trim().parse().ok()
}

/// Evaluates the attributes of one phase and writes those that match.
fn run_attributes(loaded: &Loaded, attributes: &[AttributePlan], phase: Phase) {
    if !attributes.iter().any(|a| a.phase == phase) {
        return; // nothing to do in this phase: no host calls
    }
    let engine = &loaded.engine;
    let mut activation = HostActivation;
    let method = request_header(":method");
    let path = request_header(":path");
    for attribute in attributes.iter().filter(|a| a.phase == phase) {
        let line = match (&method, &path) {
            (Some(m), Some(p)) => Some((m.as_slice(), p.as_slice())),
            _ => None,
        };
        let outcome = loaded.with_scratch(|scratch| attribute.evaluate(line, &mut activation, &mut EnvoyCel, scratch));
        let name = &attribute.output_attribute;
        match outcome {
            Outcome::Set(value) => {
                write_attribute(engine, name, value);
                if engine.debug {
                    info!("routegen: {name} -> {value}");
                }
            }
            Outcome::NoMatch if engine.debug => info!("routegen: {name}: no match, left unset"),
            Outcome::NoMatch => {}
            // attributegen's semantics: an evaluation error abandons the attribute.
            Outcome::Error { position, message } => {
                stats::count_error(engine.metrics_prefix(), "evaluation");
                if engine.debug {
                    warn!("routegen: {name}: match[{position}] failed to evaluate ({message}), left unset");
                }
            }
        }
    }
}

fn request_header(name: &str) -> Option<Vec<u8>> {
    host::header(host::REQUEST_HEADERS, name).ok().flatten()
}

fn write_attribute(engine: &Engine, name: &str, value: &str) {
    if let Err(status) = host::set_property(name, value.as_bytes()) {
        stats::count_error(engine.metrics_prefix(), "host");
        warn!("routegen: could not set filter state wasm.{name} (status {status})");
    }
}

/// A header as Envoy's CEL and route matchers see it: repeated values joined by ','.
/// (`proxy_get_header_map_value` returns only the first value.)
fn joined_header(response: bool, name: &str) -> Option<Vec<u8>> {
    let map = if response { "response" } else { "request" };
    host::get_property(&[map, "headers", name]).ok().flatten()
}

struct HostHeaders;

/// Proxy-wasm shared data, as the auto namer's store.
struct HostShared;

impl SharedStore for HostShared {
    fn get(&mut self, key: &str) -> Option<(Vec<u8>, u32)> {
        host::get_shared(key).ok().flatten()
    }

    fn set(&mut self, key: &str, value: &[u8], cas: u32) -> Written {
        match host::set_shared(key, value, cas) {
            host::SharedWrite::Ok => Written::Ok,
            host::SharedWrite::Mismatch => Written::Mismatch,
            host::SharedWrite::Failed(status) => {
                warn!("routegen: shared data write refused (status {status})");
                Written::Failed
            }
        }
    }
}

impl HeaderSource for HostHeaders {
    fn header(&mut self, name: &str) -> Option<Vec<u8>> {
        joined_header(false, name)
    }
}

/// CEL attributes read from the host on first use.
#[derive(Default)]
struct HostActivation;

fn text(bytes: Vec<u8>) -> Value {
    Value::Str(String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// Envoy serialises integer properties as 8 little-endian bytes.
fn integer_bytes(bytes: Vec<u8>) -> Option<i64> {
    let array: [u8; 8] = bytes.as_slice().try_into().ok()?;
    Some(i64::from_le_bytes(array))
}

fn integer(bytes: Vec<u8>) -> Option<Value> {
    integer_bytes(bytes).map(Value::Int)
}

impl Activation for HostActivation {
    fn attr(&mut self, attr: Attr) -> Option<Value> {
        let header = |name: &str| request_header(name).map(text);
        let property = |path: &[&str]| host::get_property(path).ok().flatten();
        match attr {
            Attr::RequestMethod => header(":method"),
            Attr::RequestPath => header(":path"),
            Attr::RequestUrlPath => request_header(":path").map(|mut p| {
                if let Some(end) = p.iter().position(|&b| b == b'?') {
                    p.truncate(end);
                }
                text(p)
            }),
            Attr::RequestHost => header(":authority"),
            Attr::RequestScheme => header(":scheme"),
            Attr::RequestId => header("x-request-id"),
            Attr::RequestReferer => header("referer"),
            Attr::RequestUseragent => header("user-agent"),
            Attr::RequestProtocol => property(&["request", "protocol"]).map(text),
            Attr::RequestQuery => property(&["request", "query"]).map(text),
            Attr::ResponseCode => property(&["response", "code"]).and_then(integer),
            Attr::ResponseGrpcStatus => property(&["response", "grpc_status"]).and_then(integer),
        }
    }

    fn header(&mut self, response: bool, name: &str) -> Option<String> {
        joined_header(response, name).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Envoy's CEL, through the foreign functions attributegen itself uses.
struct EnvoyCel;

impl HostCel for EnvoyCel {
    fn create(&mut self, source: &str) -> Result<u32, String> {
        let token = host::call_foreign("expr_create", source.as_bytes())
            .map_err(|status| format!("expr_create failed (status {status})"))?;
        let bytes: [u8; 4] = token.as_slice().try_into().map_err(|_| "expr_create returned no token".to_string())?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn evaluate(&mut self, token: u32) -> Result<bool, String> {
        let result = host::call_foreign("expr_evaluate", &token.to_le_bytes())
            .map_err(|status| format!("evaluation failed (status {status})"))?;
        match result.as_slice() {
            [b] => Ok(*b != 0),
            other => Err(format!("condition did not evaluate to a bool ({} bytes)", other.len())),
        }
    }
}
