//! The quality targets for auto names (issue 16), on the synthetic workloads: one namer per
//! workload and Envoy process, requests in order, as the filter sees them.

mod workloads;

use routegen_core::auto::{AutoConfig, AutoNamer, MemoryStore};
use workloads::{score, Score, Workload};

/// Requests a worker names between two refreshes: the filter refreshes on a timer, and a
/// busy worker serves many requests per tick.
const REFRESH_EVERY: usize = 64;

/// Names every request of a workload, alternating between `workers` namers sharing one store.
fn run(workload: &Workload, workers: usize) -> Score {
    let mut store = MemoryStore::default();
    let mut namers: Vec<AutoNamer> = (0..workers).map(|_| AutoNamer::new(AutoConfig::default())).collect();
    let names: Vec<String> = workload
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let namer = &mut namers[i % workers];
            if (i / workers) % REFRESH_EVERY == 0 {
                namer.refresh(&mut store);
            }
            namer.name(r.method.as_bytes(), r.path.as_bytes(), &mut store).name.to_string()
        })
        .collect();
    score(workload, &names)
}

fn check(workload: &Workload, min_purity: f64, max_per_template: f64) {
    for workers in [1, 2] {
        let s = run(workload, workers);
        eprintln!("{} ({workers} workers): {s:?}", workload.name);
        assert!(s.purity >= min_purity, "{}: purity {:.3} < {min_purity}", workload.name, s.purity);
        assert!(
            s.names_per_template <= max_per_template,
            "{}: {:.2} names per template > {max_per_template}",
            workload.name,
            s.names_per_template
        );
    }
}

#[test]
fn ids_get_one_name_per_template() {
    for seed in 1..=3 {
        check(&workloads::ids(seed), 0.99, 1.05);
    }
}

#[test]
fn word_parameters_collapse() {
    for seed in 1..=3 {
        check(&workloads::words(seed), 0.99, 1.5);
    }
}

#[test]
fn rpc_names_stay_literal() {
    for seed in 1..=3 {
        check(&workloads::rpc(seed), 0.99, 1.1);
    }
}

#[test]
fn a_flood_stays_under_the_cap() {
    let cap = AutoConfig::default().max_names as usize;
    for seed in 1..=3 {
        let s = run(&workloads::flood(seed), 2);
        eprintln!("flood: {s:?}");
        assert!(s.names <= cap + 1, "{} names", s.names);
    }
}

/// The memo (a shape named before, nothing learned since) gives exactly the names working
/// every request out again gives: an explanation never uses the memo, so compare with it.
#[test]
fn the_memo_changes_no_name() {
    for workload in [workloads::ids(1), workloads::words(1), workloads::rpc(1), workloads::flood(1)] {
        let (mut fast, mut slow) = (AutoNamer::new(AutoConfig::default()), AutoNamer::new(AutoConfig::default()));
        let (mut fast_store, mut slow_store) = (MemoryStore::default(), MemoryStore::default());
        // Twice through: the second pass is mostly served from the memo.
        for r in workload.requests.iter().chain(&workload.requests) {
            let (method, path) = (r.method.as_bytes(), r.path.as_bytes());
            let named = fast.name(method, path, &mut fast_store);
            let traced = slow.name_traced(method, path, &mut slow_store, &mut Vec::new());
            assert_eq!(named, traced, "{} {}", r.method, r.path);
        }
    }
}
