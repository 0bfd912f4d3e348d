//! Synthetic traffic for judging auto names: four workloads of 3,000 requests, each request
//! tagged with the template it came from, and the score (names, purity, names per template).
//! Deterministic for a seed. Used by `tests/auto_quality.rs` (asserts the targets) and by
//! `benches/auto_quality.rs` (prints routegen beside re-implemented peers).
#![allow(dead_code)]

use std::collections::HashMap;

/// xorshift64*: small, seedable, the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Zipf(1) over `0..n`: rank 0 the most frequent.
    pub fn zipf(&mut self, n: usize) -> usize {
        let total: f64 = (1..=n).map(|k| 1.0 / k as f64).sum();
        let mut target = (self.next() as f64 / u64::MAX as f64) * total;
        for k in 1..=n {
            target -= 1.0 / k as f64;
            if target <= 0.0 {
                return k - 1;
            }
        }
        n - 1
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len).map(|_| char::from(b"0123456789abcdef"[self.below(16)])).collect()
    }
    fn alnum(&mut self, len: usize) -> String {
        const SET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..len).map(|_| char::from(SET[self.below(SET.len())])).collect()
    }
    /// A pronounceable made-up word of 2 to 4 syllables.
    fn word(&mut self) -> String {
        const C: &[u8] = b"bcdfghjklmnprstvwz";
        const V: &[u8] = b"aeiou";
        let syllables = 2 + self.below(3);
        (0..syllables).flat_map(|_| [C[self.below(C.len())], V[self.below(V.len())]]).map(char::from).collect()
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Part {
    Lit(&'static str),
    Int,
    Uuid4,
    Uuid7,
    ObjectId,
    Sha,
    Date,
    /// Word-like parameters, each from its own population (Zipf-distributed).
    User,
    Org,
    Repo,
    Slug,
    Topic,
    Code,
    Page,
    Category,
}

pub struct Template {
    pub method: &'static str,
    pub parts: Vec<Part>,
}

impl Template {
    pub fn label(&self) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.to_string(),
                other => format!("{{{other:?}}}").to_lowercase(),
            })
            .collect();
        format!("{} /{}", self.method, parts.join("/"))
    }
}

pub struct Request {
    pub method: String,
    pub path: String,
    /// Index into the workload's templates (flood: every request its own).
    pub template: usize,
}

pub struct Workload {
    pub name: &'static str,
    pub templates: usize,
    pub requests: Vec<Request>,
}

/// Word pools: a population per kind, drawn Zipf-wise, as real users and pages are.
struct Pools {
    pools: HashMap<&'static str, Vec<String>>,
}

impl Pools {
    fn new(rng: &mut Rng) -> Pools {
        const TOPICS: &[&str] = &[
            "kubernetes",
            "rust",
            "python",
            "golang",
            "networking",
            "security",
            "databases",
            "compilers",
            "observability",
            "terraform",
            "envoy",
            "linux",
            "javascript",
            "react",
            "postgres",
            "kafka",
            "redis",
            "docker",
            "istio",
            "prometheus",
            "grafana",
            "wasm",
            "graphql",
            "testing",
            "design",
            "career",
            "hardware",
            "gaming",
            "music",
            "cooking",
            "travel",
            "photography",
            "history",
            "science",
            "math",
            "physics",
            "biology",
            "finance",
            "startups",
            "marketing",
            "writing",
            "books",
            "movies",
            "sports",
            "fitness",
            "health",
            "education",
            "art",
            "fashion",
            "cars",
        ];
        let mut pools = HashMap::new();
        let mut make = |name: &'static str, n: usize, f: &mut dyn FnMut(&mut Rng) -> String| {
            pools.insert(name, (0..n).map(|_| f(rng)).collect::<Vec<_>>());
        };
        make("user", 2000, &mut |r| {
            let word = r.word();
            if r.below(3) == 0 {
                format!("{word}{}", r.below(100))
            } else {
                word
            }
        });
        make("org", 400, &mut |r| r.word());
        make("repo", 1500, &mut |r| {
            let word = r.word();
            if r.below(2) == 0 {
                format!("{word}-{}", r.word())
            } else {
                word
            }
        });
        make("slug", 1000, &mut |r| {
            let words = 3 + r.below(4);
            (0..words).map(|_| r.word()).collect::<Vec<_>>().join("-")
        });
        make("topic", TOPICS.len(), &mut |r| TOPICS[r.below(TOPICS.len())].to_string());
        make("code", 3000, &mut |r| {
            let len = 6 + r.below(2);
            r.alnum(len)
        });
        make("page", 600, &mut |r| {
            let first = capitalize(&r.word());
            format!("{first}_{}", capitalize(&r.word()))
        });
        make("category", 30, &mut |r| r.word());
        Pools { pools }
    }

    fn draw(&self, rng: &mut Rng, pool: &str) -> String {
        let values = &self.pools[pool];
        values[rng.zipf(values.len())].clone()
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

fn uuid(rng: &mut Rng, version: char) -> String {
    let h = rng.hex(32);
    format!("{}-{}-{version}{}-{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[16..20], &h[20..32])
}

fn concrete(part: Part, rng: &mut Rng, pools: &Pools) -> String {
    match part {
        Part::Lit(s) => s.to_string(),
        Part::Int => {
            let range = if rng.below(4) == 0 { 9 } else { 1_000_000 };
            (1 + rng.below(range)).to_string()
        }
        Part::Uuid4 => uuid(rng, '4'),
        Part::Uuid7 => uuid(rng, '7'),
        Part::ObjectId => rng.hex(24),
        Part::Sha => {
            let len = if rng.below(3) == 0 { 7 } else { 40 };
            rng.hex(len)
        }
        Part::Date => format!("20{:02}-{:02}-{:02}", 15 + rng.below(11), 1 + rng.below(12), 1 + rng.below(28)),
        Part::User => pools.draw(rng, "user"),
        Part::Org => pools.draw(rng, "org"),
        Part::Repo => pools.draw(rng, "repo"),
        Part::Slug => pools.draw(rng, "slug"),
        Part::Topic => pools.draw(rng, "topic"),
        Part::Code => pools.draw(rng, "code"),
        Part::Page => pools.draw(rng, "page"),
        Part::Category => pools.draw(rng, "category"),
    }
}

fn t(method: &'static str, parts: &[Part]) -> Template {
    Template { method, parts: parts.to_vec() }
}

/// Requests drawn from the templates, Zipf by a shuffled popularity rank, in random order.
fn generate(name: &'static str, templates: Vec<Template>, seed: u64, count: usize) -> Workload {
    let mut rng = Rng::new(seed);
    let pools = Pools::new(&mut rng);
    let mut rank: Vec<usize> = (0..templates.len()).collect();
    for i in (1..rank.len()).rev() {
        rank.swap(i, rng.below(i + 1));
    }
    let requests = (0..count)
        .map(|_| {
            let template = rank[rng.zipf(templates.len())];
            let tpl = &templates[template];
            let segments: Vec<String> = tpl.parts.iter().map(|&p| concrete(p, &mut rng, &pools)).collect();
            Request { method: tpl.method.to_string(), path: format!("/{}", segments.join("/")), template }
        })
        .collect();
    Workload { name, templates: templates.len(), requests }
}

use Part::*;

/// 40 templates, 30-odd resource words at the root and under `/api/v1/` and `/api/v2/`,
/// parameters that are ints, UUIDs v4 and v7, ObjectIds, SHAs and dates.
pub fn id_templates() -> Vec<Template> {
    vec![
        t("GET", &[Lit("health")]),
        t("GET", &[Lit("metrics")]),
        t("POST", &[Lit("auth"), Lit("login")]),
        t("POST", &[Lit("auth"), Lit("logout")]),
        t("GET", &[Lit("orders")]),
        t("GET", &[Lit("orders"), Int]),
        t("GET", &[Lit("orders"), Int, Lit("items")]),
        t("DELETE", &[Lit("orders"), Int, Lit("items"), Int]),
        t("GET", &[Lit("orders"), Lit("search")]),
        t("GET", &[Lit("customers"), Uuid4]),
        t("GET", &[Lit("customers"), Uuid4, Lit("addresses")]),
        t("GET", &[Lit("products"), ObjectId]),
        t("GET", &[Lit("products"), ObjectId, Lit("reviews")]),
        t("GET", &[Lit("products"), Lit("search")]),
        t("GET", &[Lit("commits"), Sha]),
        t("GET", &[Lit("builds"), Int, Lit("logs")]),
        t("GET", &[Lit("reports"), Date]),
        t("GET", &[Lit("reports"), Date, Lit("summary")]),
        t("GET", &[Lit("invoices"), Uuid7]),
        t("GET", &[Lit("invoices"), Uuid7, Lit("pdf")]),
        t("GET", &[Lit("shipments"), Int]),
        t("PUT", &[Lit("carts"), Uuid4]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("accounts"), Int]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("accounts"), Int, Lit("transactions")]),
        t("POST", &[Lit("api"), Lit("v1"), Lit("payments")]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("payments"), Uuid7]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("refunds"), Int]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("transfers"), Uuid4]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("cards"), Int]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("balances")]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("events"), ObjectId]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("users"), Int]),
        t("GET", &[Lit("api"), Lit("v1"), Lit("users"), Lit("search")]),
        t("GET", &[Lit("api"), Lit("v2"), Lit("accounts"), Int]),
        t("GET", &[Lit("api"), Lit("v2"), Lit("disputes"), Int]),
        t("GET", &[Lit("api"), Lit("v2"), Lit("payouts"), Uuid7]),
        t("GET", &[Lit("api"), Lit("v2"), Lit("subscriptions"), ObjectId]),
        t("GET", &[Lit("api"), Lit("v2"), Lit("plans"), Int]),
        t("GET", &[Lit("api"), Lit("v2"), Lit("coupons"), Int]),
        t("GET", &[Lit("api"), Lit("v2"), Lit("webhooks"), Int, Lit("deliveries")]),
    ]
}

/// 51 templates whose parameters are words: usernames, orgs and repos, slugs, topics,
/// short codes, wiki pages; with the list and action routes beside them.
pub fn word_templates() -> Vec<Template> {
    let repo = |tail: &[Part]| [&[Lit("repos"), Org, Repo][..], tail].concat();
    vec![
        t("GET", &[Lit("users")]),
        t("GET", &[Lit("users"), User]),
        t("GET", &[Lit("users"), User, Lit("repos")]),
        t("GET", &[Lit("users"), User, Lit("followers")]),
        t("GET", &[Lit("users"), User, Lit("following")]),
        t("GET", &[Lit("users"), User, Lit("starred")]),
        t("GET", &[Lit("users"), User, Lit("gists")]),
        t("GET", &[Lit("users"), User, Lit("events")]),
        t("GET", &[Lit("orgs"), Org]),
        t("GET", &[Lit("orgs"), Org, Lit("members")]),
        t("GET", &[Lit("orgs"), Org, Lit("repos")]),
        t("GET", &[Lit("orgs"), Org, Lit("teams")]),
        t("GET", &repo(&[])),
        t("GET", &repo(&[Lit("issues")])),
        t("GET", &repo(&[Lit("issues"), Int])),
        t("GET", &repo(&[Lit("pulls")])),
        t("GET", &repo(&[Lit("pulls"), Int])),
        t("GET", &repo(&[Lit("commits")])),
        t("GET", &repo(&[Lit("commits"), Sha])),
        t("GET", &repo(&[Lit("branches")])),
        t("GET", &repo(&[Lit("releases")])),
        t("GET", &repo(&[Lit("contributors")])),
        t("GET", &repo(&[Lit("tags")])),
        t("GET", &repo(&[Lit("readme")])),
        t("GET", &[Lit("blog")]),
        t("GET", &[Lit("blog"), Slug]),
        t("GET", &[Lit("blog"), Slug, Lit("comments")]),
        t("POST", &[Lit("blog"), Slug, Lit("comments")]),
        t("GET", &[Lit("topics"), Topic]),
        t("GET", &[Lit("topics"), Topic, Lit("questions")]),
        t("GET", &[Lit("tags"), Topic]),
        t("GET", &[Lit("tags"), Topic, Lit("posts")]),
        t("GET", &[Lit("s"), Code]),
        t("GET", &[Lit("p"), Code]),
        t("GET", &[Lit("p"), Code, Lit("likes")]),
        t("GET", &[Lit("wiki"), Page]),
        t("GET", &[Lit("wiki"), Page, Lit("history")]),
        t("GET", &[Lit("wiki"), Page, Lit("talk")]),
        t("GET", &[Lit("shop"), Category]),
        t("GET", &[Lit("shop"), Category, Slug]),
        t("GET", &[Lit("u"), User]),
        t("GET", &[Lit("u"), User, Lit("posts")]),
        t("GET", &[Lit("r"), Topic]),
        t("GET", &[Lit("r"), Topic, Lit("comments"), Code]),
        t("GET", &[Lit("gist"), User, Sha]),
        t("GET", &[Lit("search")]),
        t("GET", &[Lit("trending")]),
        t("GET", &[Lit("explore")]),
        t("GET", &[Lit("notifications")]),
        t("GET", &[Lit("settings"), Lit("profile")]),
        t("GET", &[Lit("settings"), Lit("billing")]),
    ]
}

/// 41 RPC-style templates: gRPC `/package.Service/Method`, Slack-style `/api/family.method`,
/// Twirp; every name dotted or camel-case, all literal.
pub fn rpc_templates() -> Vec<Template> {
    const GRPC: &[(&str, &[&str])] = &[
        ("helloworld.Greeter", &["SayHello", "SayHelloAgain"]),
        ("grpc.health.v1.Health", &["Check", "Watch"]),
        ("google.pubsub.v1.Publisher", &["Publish", "CreateTopic", "ListTopics"]),
        ("google.pubsub.v1.Subscriber", &["Pull", "Acknowledge", "ModifyAckDeadline", "StreamingPull"]),
        ("hipstershop.CartService", &["AddItem", "GetCart", "EmptyCart"]),
        ("hipstershop.CheckoutService", &["PlaceOrder"]),
        ("hipstershop.PaymentService", &["Charge"]),
        ("hipstershop.ProductCatalogService", &["ListProducts", "GetProduct", "SearchProducts"]),
        ("hipstershop.ShippingService", &["GetQuote", "ShipOrder"]),
        ("hipstershop.CurrencyService", &["Convert", "GetSupportedCurrencies"]),
        ("hipstershop.EmailService", &["SendOrderConfirmation"]),
        ("hipstershop.RecommendationService", &["ListRecommendations"]),
        ("hipstershop.AdService", &["GetAds"]),
        ("grpc.reflection.v1alpha.ServerReflection", &["ServerReflectionInfo"]),
    ];
    const SLACK: &[&str] = &[
        "hello.world",
        "chat.postMessage",
        "chat.update",
        "conversations.list",
        "conversations.history",
        "files.upload",
        "reactions.add",
        "users.info",
        "users.list",
        "team.info",
    ];
    let mut templates = Vec::new();
    for (service, methods) in GRPC {
        for method in *methods {
            templates.push(t("POST", &[Lit(service), Lit(method)]));
        }
    }
    for method in SLACK {
        templates.push(t("POST", &[Lit("api"), Lit(method)]));
    }
    templates.push(t("POST", &[Lit("twirp"), Lit("acme.haberdasher.Haberdasher"), Lit("MakeHat")]));
    templates.push(t("POST", &[Lit("twirp"), Lit("acme.users.Users"), Lit("GetUser")]));
    templates
}

pub fn ids(seed: u64) -> Workload {
    generate("IDs", id_templates(), seed, 3000)
}

pub fn words(seed: u64) -> Workload {
    generate("word parameters", word_templates(), seed, 3000)
}

pub fn rpc(seed: u64) -> Workload {
    generate("RPC names", rpc_templates(), seed, 3000)
}

/// 3,000 random paths and methods: every request its own template.
pub fn flood(seed: u64) -> Workload {
    let mut rng = Rng::new(seed);
    let requests = (0..3000)
        .map(|i| {
            let method = match rng.below(4) {
                0 => rng.alnum(5).to_uppercase(),
                1 => "POST".to_string(),
                _ => "GET".to_string(),
            };
            let depth = 1 + rng.below(6);
            let segments: Vec<String> = (0..depth)
                .map(|_| match rng.below(5) {
                    0 => {
                        let len = 3 + rng.below(10);
                        rng.alnum(len)
                    }
                    1 => {
                        let byte = rng.below(256);
                        format!("%{byte:02X}{}", rng.word())
                    }
                    2 => rng.below(1_000_000).to_string(),
                    _ => rng.word(),
                })
                .collect();
            Request { method, path: format!("/{}", segments.join("/")), template: i }
        })
        .collect();
    Workload { name: "random flood", templates: 3000, requests }
}

pub fn all(seed: u64) -> Vec<Workload> {
    vec![ids(seed), words(seed), rpc(seed), flood(seed)]
}

#[derive(Debug, Clone, Copy)]
pub struct Score {
    pub names: usize,
    /// Share of requests whose name belongs to their own template (the template with the most
    /// requests under that name).
    pub purity: f64,
    pub names_per_template: f64,
    /// Templates that received at least one request.
    pub templates: usize,
}

pub fn score(workload: &Workload, names: &[String]) -> Score {
    let mut by_name: HashMap<&str, HashMap<usize, usize>> = HashMap::new();
    for (request, name) in workload.requests.iter().zip(names) {
        *by_name.entry(name.as_str()).or_default().entry(request.template).or_default() += 1;
    }
    let pure: usize = by_name.values().map(|templates| templates.values().copied().max().unwrap_or(0)).sum();
    let mut seen: Vec<usize> = workload.requests.iter().map(|r| r.template).collect();
    seen.sort_unstable();
    seen.dedup();
    Score {
        names: by_name.len(),
        purity: pure as f64 / workload.requests.len() as f64,
        names_per_template: by_name.len() as f64 / seen.len() as f64,
        templates: seen.len(),
    }
}
