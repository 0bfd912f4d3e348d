//! Auto names over arbitrary traffic: two workers sharing one store (refreshing now and then),
//! beside a third namer that never uses its memo (its own store, the same requests as worker
//! one would see alone). Checks: no panic; every name bounded in length and made of the
//! method label, `/` pieces and placeholders; distinct names never past `max_names` (plus the
//! overflow); shared keys bounded; the memo changes no name; each placeholder names itself.
//! Input: `[max_names][fanout][max_depth]` then requests, one per line: `METHOD PATH`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routegen_core::auto::{classify, AutoConfig, AutoNamer, MemoryStore};
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let Some((head, traffic)) = data.split_first_chunk::<3>() else { return };
    let config = AutoConfig {
        max_names: 1 + u32::from(head[0] % 16),
        overflow: "[OVERFLOW]".to_string(),
        fanout: 3 + u32::from(head[1] % 8),
        max_depth: 1 + usize::from(head[2] % 8),
    };
    let mut shared = MemoryStore::default();
    let mut workers = [AutoNamer::new(config.clone()), AutoNamer::new(config.clone())];
    let (mut alone, mut alone_store) = (AutoNamer::new(config.clone()), MemoryStore::default());
    let (mut memo_free, mut memo_free_store) = (AutoNamer::new(config.clone()), MemoryStore::default());
    let mut names = HashSet::new();
    // Method label, one piece of up to 64 bytes (or a placeholder and a 5-byte extension) per
    // segment, and the `/{rest}` tail.
    let longest = "_OTHER ".len() + (config.max_depth + 1) * (1 + 64);
    for (i, line) in traffic.split(|&b| b == b'\n').enumerate() {
        let (method, path) = match line.iter().position(|&b| b == b' ') {
            Some(space) => (&line[..space], &line[space + 1..]),
            None => (&b"GET"[..], line),
        };
        // A path as Envoy hands it over: the query is already cut.
        let path = path.split(|&b| b == b'?').next().unwrap_or_default();
        let worker = &mut workers[i % 2];
        if line.first() == Some(&b'!') {
            worker.refresh(&mut shared);
        }
        let named = worker.name(method, path, &mut shared);
        assert!(named.name.len() <= longest, "{} bytes: {:?}", named.name.len(), named.name);
        assert!(!named.name.contains(['?', '\n', '\0']), "{:?}", named.name);
        if &*named.name != "[OVERFLOW]" {
            assert!(named.name.contains(" /") || named.name.ends_with(" *"), "{:?}", named.name);
            names.insert(named.name.to_string());
        }
        assert!(names.len() <= config.max_names as usize, "{} names past a cap of {}", names.len(), config.max_names);
        assert!(shared.len() <= 3 + (config.max_names + config.max_positions()) as usize);

        let fast = alone.name(method, path, &mut alone_store);
        let slow = memo_free.name_traced(method, path, &mut memo_free_store, &mut Vec::new());
        assert_eq!(fast, slow, "the memo changed the name of {:?}", String::from_utf8_lossy(line));

        for segment in path.split(|&b| b == b'/') {
            let class = classify(segment);
            if let Some(placeholder) = class.placeholder {
                let mut again = placeholder.as_str().as_bytes().to_vec();
                again.extend_from_slice(&segment[segment.len() - class.extension..]);
                let twice = classify(&again);
                assert_eq!((twice.placeholder, twice.extension), (Some(placeholder), class.extension), "{again:?}");
            }
        }
    }
});
