use super::*;
use crate::auto::MemoryStore;

fn namer() -> AutoNamer {
    AutoNamer::new(AutoConfig::default())
}

fn name(namer: &mut AutoNamer, store: &mut MemoryStore, method: &str, path: &str) -> String {
    namer.name(method.as_bytes(), path.as_bytes(), store).name.to_string()
}

#[test]
fn ids_become_typed_placeholders() {
    let (mut n, mut s) = (namer(), MemoryStore::default());
    assert_eq!(name(&mut n, &mut s, "GET", "/orders/8812/items"), "GET /orders/{id}/items");
    assert_eq!(name(&mut n, &mut s, "GET", "/orders/17/items"), "GET /orders/{id}/items");
    assert_eq!(name(&mut n, &mut s, "GET", "/reports/2024-05-01"), "GET /reports/{date}");
    assert_eq!(
        name(&mut n, &mut s, "PUT", "/api/v2/users/550e8400-e29b-41d4-a716-446655440000"),
        "PUT /api/v2/users/{uuid}"
    );
    assert_eq!(name(&mut n, &mut s, "GET", "/"), "GET /");
    assert_eq!(name(&mut n, &mut s, "PROPFIND", "/dav/7"), "_OTHER /dav/{id}");
    assert_eq!(name(&mut n, &mut s, "OPTIONS", "*"), "OPTIONS *");
}

#[test]
fn depth_is_cut_with_an_explicit_tail() {
    let (mut n, mut s) = (namer(), MemoryStore::default());
    let deep = "/a/1/b/2/c/3/d/4/e/5/f/6";
    assert_eq!(name(&mut n, &mut s, "GET", deep), "GET /a/{id}/b/{id}/c/{id}/d/{id}/{rest}");
    let many = "/x".repeat(10_000);
    assert!(name(&mut n, &mut s, "GET", &many).ends_with("/{rest}"));
}

#[test]
fn usernames_collapse_and_resources_stay() {
    let (mut n, mut s) = (namer(), MemoryStore::default());
    let mut names = std::collections::BTreeSet::new();
    for i in 0..300 {
        names.insert(name(&mut n, &mut s, "GET", &format!("/users/user{}x{}/repos", i * 7919 % 1000, "abc")));
    }
    assert!(names.len() <= 3, "{names:?}");
    assert!(names.contains("GET /users/{param}/repos"), "{names:?}");
    for resource in ["orders", "invoices", "customers", "products", "carts", "payments"] {
        for id in 0..3 {
            assert_eq!(name(&mut n, &mut s, "GET", &format!("/{resource}/{id}")), format!("GET /{resource}/{{id}}"));
        }
    }
}

#[test]
fn the_cap_holds_and_admitted_names_keep_working() {
    let config = AutoConfig { max_names: 5, ..AutoConfig::default() };
    let (mut n, mut s) = (AutoNamer::new(config), MemoryStore::default());
    assert_eq!(name(&mut n, &mut s, "GET", "/health"), "GET /health");
    assert_eq!(name(&mut n, &mut s, "GET", "/health"), "GET /health");
    for i in 0..50 {
        name(&mut n, &mut s, "GET", &format!("/r{i}x/z{i}"));
    }
    assert_eq!(name(&mut n, &mut s, "GET", "/health"), "GET /health");
    assert_eq!(name(&mut n, &mut s, "DELETE", "/health"), "[OVERFLOW]");
    // A second worker sharing the store agrees.
    let mut other = AutoNamer::new(AutoConfig { max_names: 5, ..AutoConfig::default() });
    assert_eq!(name(&mut other, &mut s, "GET", "/health"), "GET /health");
    assert_eq!(name(&mut other, &mut s, "PATCH", "/health"), "[OVERFLOW]");
}

#[test]
fn naming_a_name_again_gives_the_same_name() {
    let (mut n, mut s) = (namer(), MemoryStore::default());
    for path in ["/orders/8812/items", "/users/alice/repos", "/a/1/b/2/c/3/d/4/e/5/f/6", "/img/12.png"] {
        let first = name(&mut n, &mut s, "GET", path);
        let template = first.trim_start_matches("GET ");
        assert_eq!(name(&mut n, &mut s, "GET", template), first);
    }
}

#[test]
fn two_workers_share_freezes() {
    let mut s = MemoryStore::default();
    let (mut a, mut b) = (namer(), namer());
    for i in 0..40 {
        let worker = if i % 2 == 0 { &mut a } else { &mut b };
        name(worker, &mut s, "GET", &format!("/blog/post-number-{}", ["one", "two", "three"][i % 3].repeat(i + 1)));
    }
    let path = "/blog/a-brand-new-post";
    assert_eq!(name(&mut a, &mut s, "GET", path), name(&mut b, &mut s, "GET", path));
    assert_eq!(name(&mut a, &mut s, "GET", path), "GET /blog/{param}");
}

#[test]
fn a_worker_catches_up_with_a_freeze_when_it_refreshes() {
    let mut s = MemoryStore::default();
    let (mut a, mut b) = (namer(), namer());
    assert_eq!(name(&mut b, &mut s, "GET", "/users/alice"), "GET /users/{param}");
    assert_eq!(name(&mut b, &mut s, "GET", "/users/alice"), "GET /users/alice");
    // Worker a sees one-off names until the collection freezes, dropping even `alice`.
    for i in 0..8 {
        name(&mut a, &mut s, "GET", &format!("/users/someone-{}", "x".repeat(i + 1)));
    }
    assert_eq!(name(&mut a, &mut s, "GET", "/users/alice"), "GET /users/{param}");
    // Worker b's cache still says `alice` recurs, until it refreshes.
    assert_eq!(name(&mut b, &mut s, "GET", "/users/alice"), "GET /users/alice");
    b.refresh(&mut s);
    assert_eq!(name(&mut b, &mut s, "GET", "/users/alice"), "GET /users/{param}");
}

#[test]
fn explain_traces_every_segment() {
    let (mut n, mut s) = (namer(), MemoryStore::default());
    let mut trace = Vec::new();
    let named = n.name_traced(b"GET", b"/api/v1/orders/42", &mut s, &mut trace);
    assert_eq!(&*named.name, "GET /api/v1/orders/{id}");
    let became: Vec<&str> = trace.iter().map(|s| s.became.as_str()).collect();
    assert_eq!(became, ["api", "v1", "orders", "{id}"]);
    assert!(trace[3].why.contains("digits"), "{trace:?}");
}

#[test]
fn admitted_total_is_the_process_count_whichever_worker_admitted() {
    let mut store = MemoryStore::default();
    let config = AutoConfig { max_names: 3, ..AutoConfig::default() };
    let (mut a, mut b) = (AutoNamer::new(config.clone()), AutoNamer::new(config));
    name(&mut a, &mut store, "GET", "/a/1");
    name(&mut b, &mut store, "GET", "/b/1");
    name(&mut b, &mut store, "GET", "/c/1");
    assert_eq!(name(&mut a, &mut store, "GET", "/d/1"), "[OVERFLOW]");
    assert_eq!((a.admitted_total(&mut store), b.admitted_total(&mut store)), (3, 3));
    assert_eq!((a.known_names(), b.known_names()), (1, 2));
}
