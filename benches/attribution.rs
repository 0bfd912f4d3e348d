//! Core benchmark for issue 6: ns per attribution of the compiled engine against a naive
//! sequential first-match scan (one anchored regex-lite regex per route, tried in order — what
//! attributegen and Linkerd do), config compile time, and heap per table size.
//!
//! A small std::time harness (`harness = false`): for each measurement it cycles through a
//! deterministic request sample for a time budget and reports the median ns per request of
//! several runs. Nothing here asserts on timings.
//!
//! Knobs (environment): BENCH_RUNS (5), BENCH_MS per run (200), BENCH_SIZES ("10,100,1000,all"),
//! BENCH_SYNTHETIC table sizes ("10,10000"; "" skips), BENCH_SAMPLE requests per table (4096),
//! BENCH_GITHUB_API (.cache/github-api.json), BENCH_PROFILE=<routes> or synthetic:<routes> (only
//! loop `NativePlan::decide` on that table, for callgrind; BENCH_PROFILE_ITERS requests),
//! BENCH_DUMP=<routes> or synthetic:<routes> (print that table's request sample),
//! BENCH_FLATNESS=<small>,<large> (only `decide` on two synthetic tables, alternating, BENCH_ROUNDS
//! pairs: the flatness ratio with its spread).
//!
//! Tables, samples and the synthetic generator are the same as tools/bench/envoy.py's
//! (same splitmix64 streams), so both benchmarks measure the same routes and requests.

use routegen_core::auto::MemoryStore;
use routegen_core::cel::{Activation, Attr, Value};
use routegen_core::config::Json;
use routegen_core::engine::{self, Engine, Mode, NoHostCel, Outcome, RequestLine};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Counting allocator

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            ALLOCS.fetch_add(1, Relaxed);
            let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(live, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        System.dealloc(p, layout)
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() {
            ALLOCS.fetch_add(1, Relaxed);
            if new_size >= layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
                PEAK.fetch_max(live, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// Deterministic data (mirrored in tools/bench/envoy.py)

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One operation: method and an OpenAPI-style template (`/repos/{owner}/{repo}`).
#[derive(Clone)]
struct Op {
    method: String,
    template: String,
}

impl Op {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

const HTTP_METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];

fn github_ops(path: &str) -> Vec<Op> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the GitHub API description {path}: {e} (run `make github-api`)"));
    let doc = Json::parse(&text).unwrap_or_else(|e| panic!("{path}: {e:?}"));
    let paths = doc.get("paths").and_then(Json::as_object).expect("no `paths` object");
    let mut ops = Vec::new();
    for (template, item) in paths.iter() {
        let Some(item) = item.as_object() else { continue };
        for (method, _) in item.iter() {
            if HTTP_METHODS.contains(&method) {
                ops.push(Op { method: method.to_ascii_uppercase(), template: template.to_string() });
            }
        }
    }
    ops
}

/// `n` operations evenly spread over the whole description (document order kept), so every
/// table size has the API's real shape (shallow `/orgs/...` and deep `/repos/{owner}/{repo}/...`).
fn spread(ops: &[Op], n: usize) -> Vec<Op> {
    if n >= ops.len() {
        return ops.to_vec();
    }
    (0..n).map(|i| ops[i * ops.len() / n].clone()).collect()
}

const WORDS: [&str; 40] = [
    "users", "orders", "items", "accounts", "billing", "invoices", "payments", "products", "carts", "reviews",
    "search", "tags", "teams", "projects", "tasks", "comments", "files", "images", "videos", "events", "sessions",
    "tokens", "keys", "settings", "reports", "metrics", "alerts", "hooks", "jobs", "builds", "releases", "assets",
    "members", "roles", "policies", "groups", "labels", "notes", "threads", "messages",
];
const SYNTH_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A synthetic table: 12 top-level services, 2–6 segments, about a third of the segments
/// below the top variables, the rest literals from a 40-word vocabulary; unique routes.
fn synthetic_ops(n: usize) -> Vec<Op> {
    let mut rng = SplitMix(7);
    let mut seen = HashSet::new();
    let mut ops = Vec::with_capacity(n);
    while ops.len() < n {
        let depth = 2 + rng.below(5);
        let mut template = format!("/{}", WORDS[rng.below(12)]);
        for j in 1..depth {
            let r = rng.next();
            if r % 3 == 0 {
                template.push_str(&format!("/{{p{j}}}"));
            } else {
                template.push('/');
                template.push_str(WORDS[((r >> 8) % 40) as usize]);
            }
        }
        let method = SYNTH_METHODS[rng.below(5)].to_string();
        if seen.insert(format!("{method} {template}")) {
            ops.push(Op { method, template });
        }
    }
    ops
}

const VALUES: [&str; 8] = ["octocat", "hello-world", "1347", "main", "3f2a9c1", "v1.0.0", "docs", "42"];

/// The template with every `{var}` replaced by a value.
fn concrete(template: &str, rng: &mut SplitMix) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(VALUES[rng.below(VALUES.len())]);
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

struct Request {
    method: String,
    /// `:path` as sent (some with a query string).
    path: String,
}

/// ~90% concrete paths of the table's templates (method of the template), ~10% unmatched:
/// half a known path with an extra unknown segment, half an unknown first segment; one in
/// five requests carries a query string.
fn sample(ops: &[Op], size: usize) -> Vec<Request> {
    let mut rng = SplitMix(42);
    (0..size)
        .map(|_| {
            let unmatched = rng.below(10) == 0;
            let op = &ops[rng.below(ops.len())];
            let mut path = concrete(&op.template, &mut rng);
            if unmatched {
                if rng.below(2) == 0 {
                    path.push_str("/zz-unknown");
                } else {
                    path = format!("/zz-unknown{path}");
                }
            }
            if rng.below(5) == 0 {
                path.push_str("?per_page=100&page=2");
            }
            Request { method: op.method.clone(), path }
        })
        .collect()
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// routegen's native format: shorthand routes named "METHOD /template".
fn native_config(ops: &[Op]) -> String {
    let routes: Vec<String> = ops.iter().map(|op| json_string(&op.name())).collect();
    format!("{{\"default\": \"[DEFAULT]\", \"routes\": [{}]}}", routes.join(", "))
}

/// The template as the anchored regex attributegen users and Linkerd write.
fn template_regex(template: &str) -> String {
    let mut out = String::from("^");
    let mut rest = template;
    loop {
        let (literal, tail) = match rest.find('{') {
            Some(open) => (&rest[..open], Some(&rest[open..])),
            None => (rest, None),
        };
        for c in literal.chars() {
            if "\\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        let Some(tail) = tail else { break };
        out.push_str("[^/]+");
        rest = tail.find('}').map_or("", |c| &tail[c + 1..]);
    }
    out.push('$');
    out
}

/// attributegen's format: one match per route, `method == 'X' && url_path.matches('^...$')`.
fn attributegen_config(ops: &[Op]) -> String {
    let matches: Vec<String> = ops
        .iter()
        .map(|op| {
            // Inside a CEL string literal a regex backslash is written `\\` (`\.` is no CEL escape).
            let regex = template_regex(&op.template).replace('\\', "\\\\");
            let condition = format!("request.method == '{}' && request.url_path.matches('{}')", op.method, regex);
            format!("{{\"value\": {}, \"condition\": {}}}", json_string(&op.name()), json_string(&condition))
        })
        .collect();
    format!(
        "{{\"attributes\": [{{\"output_attribute\": \"istio_operationId\", \"match\": [{}]}}]}}",
        matches.join(", ")
    )
}

// ---------------------------------------------------------------------------------------------
// The baseline: sequential first match, one regex per route

struct RegexScan {
    routes: Vec<(String, regex_lite::Regex)>,
}

impl RegexScan {
    fn new(ops: &[Op]) -> RegexScan {
        let routes = ops
            .iter()
            .map(|op| (op.method.clone(), regex_lite::Regex::new(&template_regex(&op.template)).expect("regex")))
            .collect();
        RegexScan { routes }
    }

    fn first_match(&self, method: &str, path: &str) -> Option<usize> {
        let url_path = path.split('?').next().unwrap_or(path);
        self.routes.iter().position(|(m, re)| m == method && re.is_match(url_path))
    }
}

// ---------------------------------------------------------------------------------------------
// Harness

struct Settings {
    runs: usize,
    budget: Duration,
}

/// Median ns per request over `runs` runs of cycling through `requests` for the budget.
fn measure<F: FnMut(&Request) -> usize>(settings: &Settings, requests: &[Request], mut f: F) -> f64 {
    let mut results = Vec::with_capacity(settings.runs);
    // Warm-up: one short pass.
    for r in requests.iter().take(256) {
        black_box(f(black_box(r)));
    }
    for _ in 0..settings.runs {
        let start = Instant::now();
        let mut done = 0usize;
        let mut i = 0usize;
        loop {
            for _ in 0..16 {
                black_box(f(black_box(&requests[i])));
                i += 1;
                if i == requests.len() {
                    i = 0;
                }
            }
            done += 16;
            if start.elapsed() >= settings.budget {
                break;
            }
        }
        results.push(start.elapsed().as_nanos() as f64 / done as f64);
    }
    median(results)
}

/// Heap allocations per request, over (up to) 1,000 requests.
fn allocs_per_request<F: FnMut(&Request) -> usize>(requests: &[Request], mut f: F) -> f64 {
    let n = requests.len().min(1000);
    let before = ALLOCS.load(Relaxed);
    for r in &requests[..n] {
        black_box(f(black_box(r)));
    }
    (ALLOCS.load(Relaxed) - before) as f64 / n as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

struct Compiled {
    engine: Engine,
    compile_ms: f64,
    /// Heap the compiled engine keeps (bytes).
    retained: usize,
    /// Peak heap above the start while compiling (bytes).
    peak: usize,
}

fn compile(settings: &Settings, config: &str) -> Compiled {
    let mut times = Vec::new();
    for _ in 0..settings.runs.max(1) {
        let start = Instant::now();
        let engine = engine::compile_bytes(config.as_bytes(), &mut NoHostCel).expect("config compiles");
        times.push(start.elapsed().as_secs_f64() * 1e3);
        drop(black_box(engine));
    }
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let (engine, notes) = engine::compile_bytes(config.as_bytes(), &mut NoHostCel).expect("config compiles");
    let peak = PEAK.load(Relaxed) - base;
    let retained = LIVE.load(Relaxed).saturating_sub(base);
    for note in notes.iter().take(5) {
        eprintln!("    config note: {note}");
    }
    Compiled { engine, compile_ms: median(times), retained, peak }
}

/// CEL attributes for the attributegen engine (only read by conditions it could not index).
struct SampleActivation<'a> {
    method: &'a str,
    path: &'a str,
}

impl Activation for SampleActivation<'_> {
    fn attr(&mut self, attr: Attr) -> Option<Value> {
        match attr {
            Attr::RequestMethod => Some(Value::Str(self.method.to_string())),
            Attr::RequestPath => Some(Value::Str(self.path.to_string())),
            Attr::RequestUrlPath => Some(Value::Str(self.path.split('?').next().unwrap_or("").to_string())),
            _ => None,
        }
    }
    fn header(&mut self, _response: bool, _name: &str) -> Option<String> {
        None
    }
}

const NONE: usize = usize::MAX;

struct NativeRow {
    label: String,
    routes: usize,
    config_kb: f64,
    compile_ms: f64,
    retained_kb: f64,
    peak_kb: f64,
    engine_ns: f64,
    engine_allocs: f64,
    scan_ns: f64,
    template_scan_ns: f64,
    matched: f64,
    mismatches: usize,
}

struct AttributegenRow {
    label: String,
    conditions: usize,
    indexed: usize,
    compile_ms: f64,
    retained_kb: f64,
    eval_ns: f64,
    eval_allocs: f64,
    scan_ns: f64,
    in_order_ns: Option<f64>,
    mismatches: usize,
}

fn run_native(
    settings: &Settings,
    label: &str,
    ops: &[Op],
    requests: &[Request],
    scan: &RegexScan,
) -> (NativeRow, f64) {
    let config = native_config(ops);
    let compiled = compile(settings, &config);
    let Mode::Native(plan) = &compiled.engine.mode else { panic!("not a native config") };
    let mut headers: HashMap<String, Vec<u8>> = HashMap::new();
    let mut scratch = Vec::new();

    // Same answers? (engine route id vs the regex scan's index; both are positions in `ops`)
    let mut mismatches = 0;
    let mut matched = 0;
    for r in requests {
        let line = RequestLine { method: r.method.as_bytes(), path: r.path.as_bytes(), authority: b"" };
        let got = plan.decide(&line, &mut headers, &mut scratch).route;
        let want = scan.first_match(&r.method, &r.path);
        if got != want {
            mismatches += 1;
            if mismatches <= 5 {
                eprintln!(
                    "    mismatch (native, {label}): {} {} -> route {got:?}, sequential scan: {want:?}",
                    r.method, r.path
                );
            }
        }
        matched += usize::from(want.is_some());
    }

    let mut decide = |r: &Request| {
        let line = RequestLine { method: r.method.as_bytes(), path: r.path.as_bytes(), authority: b"" };
        plan.decide(&line, &mut headers, &mut scratch).route.unwrap_or(NONE)
    };
    let engine_ns = measure(settings, requests, &mut decide);
    let engine_allocs = allocs_per_request(requests, &mut decide);
    let scan_ns = measure(settings, requests, |r| scan.first_match(&r.method, &r.path).unwrap_or(NONE));
    let routes = &plan.fallback.routes;
    let mut headers2: HashMap<String, Vec<u8>> = HashMap::new();
    let template_scan_ns = measure(settings, requests, |r| {
        let path = plan.match_path(r.path.as_bytes());
        routegen_core::reference::first_match(
            routes,
            r.method.as_bytes(),
            &path,
            routegen_core::route::raw_query(r.path.as_bytes()),
            &mut headers2,
        )
        .unwrap_or(NONE)
    });
    let row = NativeRow {
        label: label.to_string(),
        routes: ops.len(),
        config_kb: config.len() as f64 / 1024.0,
        compile_ms: compiled.compile_ms,
        retained_kb: compiled.retained as f64 / 1024.0,
        peak_kb: compiled.peak as f64 / 1024.0,
        engine_ns,
        engine_allocs,
        scan_ns,
        template_scan_ns,
        matched: matched as f64 / requests.len() as f64,
        mismatches,
    };
    (row, scan_ns)
}

fn run_attributegen(
    settings: &Settings,
    label: &str,
    ops: &[Op],
    requests: &[Request],
    scan: &RegexScan,
    scan_ns: f64,
) -> AttributegenRow {
    let config = attributegen_config(ops);
    let compiled = compile(settings, &config);
    let Mode::Attributegen(attributes) = &compiled.engine.mode else { panic!("not an attributegen config") };
    let plan = &attributes[0];
    let names: Vec<String> = ops.iter().map(Op::name).collect();
    let mut scratch = Vec::new();

    let mut mismatches = 0;
    for r in requests {
        let mut act = SampleActivation { method: &r.method, path: &r.path };
        let got =
            match plan.evaluate(Some((r.method.as_bytes(), r.path.as_bytes())), &mut act, &mut NoHostCel, &mut scratch)
            {
                Outcome::Set(v) => Some(v.to_string()),
                _ => None,
            };
        let want = scan.first_match(&r.method, &r.path).map(|i| names[i].clone());
        if got != want {
            mismatches += 1;
            if mismatches <= 5 {
                eprintln!(
                    "    mismatch (attributegen format, {label}): {} {} -> {got:?}, sequential scan: {want:?}",
                    r.method, r.path
                );
            }
        }
    }

    let mut evaluate = |r: &Request| {
        let mut act = SampleActivation { method: &r.method, path: &r.path };
        match plan.evaluate(Some((r.method.as_bytes(), r.path.as_bytes())), &mut act, &mut NoHostCel, &mut scratch) {
            Outcome::Set(v) => v.len(),
            _ => NONE,
        }
    };
    if plan.indexed_len() < plan.matches.len() {
        for op in
            ops.iter().filter(|op| routegen_core::lower::regex_as_template(&template_regex(&op.template)).is_none())
        {
            eprintln!("    not lowered to a template ({label}): {} {}", op.method, template_regex(&op.template));
        }
    }
    let eval_ns = measure(settings, requests, &mut evaluate);
    let eval_allocs = allocs_per_request(requests, &mut evaluate);
    // attributegen's own semantics, every condition in order through the CEL interpreter
    // (attribute reads are cheap Rust calls here, hostcalls in Envoy). Skipped past ~1,300
    // conditions: it is the slowest column by far.
    let in_order_ns = (ops.len() <= 1300).then(|| {
        measure(settings, requests, |r| {
            let mut act = SampleActivation { method: &r.method, path: &r.path };
            match plan.evaluate_in_order(&mut act, &mut NoHostCel) {
                Outcome::Set(v) => v.len(),
                _ => NONE,
            }
        })
    });
    AttributegenRow {
        label: label.to_string(),
        conditions: ops.len(),
        indexed: plan.indexed_len(),
        compile_ms: compiled.compile_ms,
        retained_kb: compiled.retained as f64 / 1024.0,
        eval_ns,
        eval_allocs,
        scan_ns,
        in_order_ns,
        mismatches,
    }
}

struct AutoRow {
    label: String,
    names: usize,
    overflowed: f64,
    ns: f64,
    allocs: f64,
}

/// Auto names on the traffic of a table with no routes at all: every request is named by the
/// namer (`NativePlan::decide_or_auto`, one worker, store in memory), measured once the namer
/// has seen the sample a few times — the steady state of a running proxy. In the filter the
/// store is shared data; in the steady state the namer makes no store call at all.
fn run_auto(settings: &Settings, label: &str, requests: &[Request]) -> AutoRow {
    let (engine, _) = engine::compile_bytes(br#"{"auto": {}}"#, &mut NoHostCel).expect("config compiles");
    let Mode::Native(plan) = &engine.mode else { unreachable!() };
    let mut namer = plan.auto.clone().map(routegen_core::auto::AutoNamer::new).expect("auto on");
    let mut store = MemoryStore::default();
    let mut headers: HashMap<String, Vec<u8>> = HashMap::new();
    let mut scratch = Vec::new();
    let mut name = |r: &Request| {
        let line = RequestLine { method: r.method.as_bytes(), path: r.path.as_bytes(), authority: b"" };
        let (_, auto) = plan.decide_or_auto(black_box(&line), &mut headers, &mut scratch, &mut namer, &mut store);
        auto.map(|a| a.name)
    };
    let mut names = HashSet::new();
    let mut overflowed = 0usize;
    for pass in 0..8 {
        for r in requests {
            let n = name(r).map_or(String::new(), |n| n.to_string());
            if pass == 7 {
                overflowed += usize::from(n == "[OVERFLOW]");
                names.insert(n);
            }
        }
    }
    let ns = measure(settings, requests, |r| name(r).map_or(0, |n| n.len()));
    let allocs = allocs_per_request(requests, |r| name(r).map_or(0, |n| n.len()));
    AutoRow {
        label: label.to_string(),
        names: names.len(),
        overflowed: overflowed as f64 / requests.len() as f64,
        ns,
        allocs,
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// BENCH_PROFILE=<routes> (a GitHub table) or synthetic:<routes>: only `decide` on that table,
/// for callgrind.
fn profile(api: &str, table: &str, sample_size: usize) {
    let ops = match table.strip_prefix("synthetic:") {
        Some(n) => synthetic_ops(n.parse().expect("BENCH_PROFILE=synthetic:<routes>")),
        None => spread(&github_ops(api), table.parse().expect("BENCH_PROFILE=<routes>")),
    };
    let requests = sample(&ops, sample_size);
    let (engine, _) = engine::compile_bytes(native_config(&ops).as_bytes(), &mut NoHostCel).expect("config compiles");
    let Mode::Native(plan) = &engine.mode else { unreachable!() };
    let mut headers: HashMap<String, Vec<u8>> = HashMap::new();
    let mut scratch = Vec::new();
    let iterations = env_usize("BENCH_PROFILE_ITERS", 200_000);
    let mut acc = 0usize;
    for i in 0..iterations {
        let r = &requests[i % requests.len()];
        let line = RequestLine { method: r.method.as_bytes(), path: r.path.as_bytes(), authority: b"" };
        acc = acc.wrapping_add(plan.decide(black_box(&line), &mut headers, &mut scratch).route.unwrap_or(NONE));
    }
    println!("profiled {iterations} decisions on {} routes (checksum {acc})", ops.len());
}

/// BENCH_FLATNESS=<small>,<large>: `decide` on two synthetic tables in alternation, BENCH_ROUNDS
/// pairs of BENCH_MS each, printing every pair's ratio and their median and spread. Alternating
/// in one process keeps a shared machine's drift out of the ratio better than two table rows
/// measured seconds apart.
fn flatness(spec: &str, sample_size: usize) {
    let sizes: Vec<usize> = spec.split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let [small, large] = sizes[..] else { panic!("BENCH_FLATNESS=<small>,<large>") };
    let tables: Vec<_> = [small, large]
        .iter()
        .map(|&n| {
            let ops = synthetic_ops(n);
            let requests = sample(&ops, sample_size);
            let (engine, _) = engine::compile_bytes(native_config(&ops).as_bytes(), &mut NoHostCel).expect("compiles");
            (engine, requests)
        })
        .collect();
    let settings = Settings { runs: 1, budget: Duration::from_millis(env_usize("BENCH_MS", 200) as u64) };
    let mut headers: HashMap<String, Vec<u8>> = HashMap::new();
    let mut scratch = Vec::new();
    let mut ns = |i: usize| {
        let (engine, requests) = &tables[i];
        let Mode::Native(plan) = &engine.mode else { unreachable!() };
        measure(&settings, requests, |r| {
            let line = RequestLine { method: r.method.as_bytes(), path: r.path.as_bytes(), authority: b"" };
            plan.decide(&line, &mut headers, &mut scratch).route.unwrap_or(NONE)
        })
    };
    let mut ratios = Vec::new();
    for round in 0..env_usize("BENCH_ROUNDS", 11) {
        // Alternate which table goes first, so a trend within a pair favours neither.
        let (a, b) = if round % 2 == 0 {
            (ns(0), ns(1))
        } else {
            let b = ns(1);
            (ns(0), b)
        };
        println!("round {round}: synthetic {small} {a:.0} ns, synthetic {large} {b:.0} ns, ratio {:.2}×", b / a);
        ratios.push(b / a);
    }
    let (lo, hi) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "flatness: synthetic {large} ÷ {small} = {:.2}× (median of {} alternating pairs; range {lo:.2}–{hi:.2}×)",
        median(ratios.clone()),
        ratios.len()
    );
}

fn main() {
    let api = std::env::var("BENCH_GITHUB_API").unwrap_or_else(|_| ".cache/github-api.json".to_string());
    let sample_size = env_usize("BENCH_SAMPLE", 4096);
    if let Ok(spec) = std::env::var("BENCH_FLATNESS") {
        flatness(&spec, sample_size);
        return;
    }
    if let Ok(table) = std::env::var("BENCH_DUMP") {
        // The request sample of one table, one "METHOD path" a line (to compare with tools/bench/envoy.py).
        let ops = match table.strip_prefix("synthetic:") {
            Some(n) => synthetic_ops(n.parse().expect("BENCH_DUMP=synthetic:<routes>")),
            None => spread(&github_ops(&api), table.parse().expect("BENCH_DUMP=<routes>")),
        };
        for r in sample(&ops, sample_size) {
            println!("{} {}", r.method, r.path);
        }
        return;
    }
    if let Ok(routes) = std::env::var("BENCH_PROFILE") {
        profile(&api, &routes, sample_size);
        return;
    }
    let settings =
        Settings { runs: env_usize("BENCH_RUNS", 5), budget: Duration::from_millis(env_usize("BENCH_MS", 200) as u64) };
    let sizes = std::env::var("BENCH_SIZES").unwrap_or_else(|_| "10,100,1000,all".to_string());
    let synthetic = std::env::var("BENCH_SYNTHETIC").unwrap_or_else(|_| "10,10000".to_string());

    let all = github_ops(&api);
    let mut tables: Vec<(String, Vec<Op>)> = Vec::new();
    for size in sizes.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let n = if size == "all" { all.len() } else { size.parse().expect("BENCH_SIZES: numbers or 'all'") };
        tables.push((format!("GitHub {}", spread(&all, n).len()), spread(&all, n)));
    }
    for n in synthetic.split(',').filter_map(|s| s.trim().parse::<usize>().ok()).filter(|&n| n > 0) {
        tables.push((format!("synthetic {n}"), synthetic_ops(n)));
    }
    eprintln!(
        "routegen core benchmark: {} runs x {} ms per measurement, {} requests per table, median reported",
        settings.runs,
        settings.budget.as_millis(),
        sample_size
    );

    let mut native_rows = Vec::new();
    let mut ag_rows = Vec::new();
    let mut auto_rows = Vec::new();
    for (label, ops) in &tables {
        eprintln!("  {label} ...");
        let requests = sample(ops, sample_size);
        let scan = RegexScan::new(ops);
        let (row, scan_ns) = run_native(&settings, label, ops, &requests, &scan);
        native_rows.push(row);
        if label.starts_with("GitHub") {
            ag_rows.push(run_attributegen(&settings, label, ops, &requests, &scan, scan_ns));
            auto_rows.push(run_auto(&settings, label, &requests));
        }
    }

    println!("\n### Native config (`NativePlan::decide`, query strip + normalisation included)\n");
    println!("| table | routes | config KB | compile ms | heap kept KB | heap peak KB | engine ns/req | allocs/req | seq. regex scan ns/req | scan / engine | seq. template scan ns/req | matched | mismatches |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &native_rows {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0}× | {:.0} | {:.0}% | {} |",
            r.label,
            r.routes,
            r.config_kb,
            r.compile_ms,
            r.retained_kb,
            r.peak_kb,
            r.engine_ns,
            r.engine_allocs,
            r.scan_ns,
            r.scan_ns / r.engine_ns,
            r.template_scan_ns,
            r.matched * 100.0,
            r.mismatches
        );
    }
    // Flatness: largest vs smallest table of the same family.
    println!();
    for family in ["GitHub", "synthetic"] {
        let rows: Vec<&NativeRow> = native_rows.iter().filter(|r| r.label.starts_with(family)).collect();
        let (Some(small), Some(large)) = (rows.iter().min_by_key(|r| r.routes), rows.iter().max_by_key(|r| r.routes))
        else {
            continue;
        };
        if small.routes < large.routes {
            println!(
                "Flatness: {} costs {:.2}× {} ({:.0} vs {:.0} ns/req).",
                large.label,
                large.engine_ns / small.engine_ns,
                small.label,
                large.engine_ns,
                small.engine_ns
            );
        }
    }

    println!("\n### attributegen config (`AttributePlan::evaluate`; conditions `request.method == 'X' && request.url_path.matches('^…$')`)\n");
    println!("| table | conditions | indexed | compile ms | heap kept KB | evaluate ns/req | allocs/req | seq. regex scan ns/req | scan / evaluate | CEL in order ns/req | mismatches |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &ag_rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0}× | {} | {} |",
            r.label,
            r.conditions,
            r.indexed,
            r.compile_ms,
            r.retained_kb,
            r.eval_ns,
            r.eval_allocs,
            r.scan_ns,
            r.scan_ns / r.eval_ns,
            r.in_order_ns.map_or("–".to_string(), |ns| format!("{ns:.0}")),
            r.mismatches
        );
    }
    println!("\n### Auto names (`NativePlan::decide_or_auto` with no routes: every request named by the namer)\n");
    println!("| traffic of | distinct names | overflowed | ns/req | allocs/req | vs decide on its routes |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &auto_rows {
        let routes = native_rows.iter().find(|n| n.label == r.label).map_or(f64::NAN, |n| n.engine_ns);
        println!(
            "| {} | {} | {:.0}% | {:.0} | {:.2} | {:.1}× |",
            r.label,
            r.names,
            r.overflowed * 100.0,
            r.ns,
            r.allocs,
            r.ns / routes
        );
    }
    println!(
        "\nAuto names: max_names 500 (the default), so traffic of more templates overflows; measured after \
         eight passes over the sample (the steady state: no store call per request)."
    );
    println!(
        "\nseq. regex scan: each route an anchored regex-lite regex (`^/repos/[^/]+/[^/]+$`) plus a method \
         compare, tried in order (attributegen / Linkerd). seq. template scan: `reference::first_match` over \
         the compiled routes. mismatches: requests where the engine and the regex scan disagree (should be 0)."
    );
}
