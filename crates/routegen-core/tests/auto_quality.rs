//! The quality targets for auto names (issue 16), on the synthetic workloads: one namer per
//! workload and Envoy process, requests in order, as the filter sees them.

mod workloads;

use routegen_core::auto::{AutoConfig, AutoNamer, MemoryStore};
use workloads::{score, Score, Workload};

/// Names every request of a workload, alternating between `workers` namers sharing one store.
fn run(workload: &Workload, workers: usize) -> Score {
    let mut store = MemoryStore::default();
    let mut namers: Vec<AutoNamer> = (0..workers).map(|_| AutoNamer::new(AutoConfig::default())).collect();
    let names: Vec<String> = workload
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| namers[i % workers].name(r.method.as_bytes(), r.path.as_bytes(), &mut store).name)
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
