//! The targets' bodies over a generated corpus, in a normal test: where `cargo fuzz` cannot be
//! installed (offline), this is the fuzzing the suite does. Deterministic: the same inputs every
//! run (a fixed seed), mutants of real snapshots and manifests, and forged headers. Run with
//! `cargo test --release -- --nocapture` in `devnet/fuzz` to see the executions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devnet::manifest::Manifest;
use devnet::snapshot;
use fuzz_support::{mutate, Rng};
use migrations::store::InMemoryStore;
use vm_hooks::Budget;

fn executions(target: &str, n: usize) {
    println!("{target}: {n} executions");
}

#[test]
fn snapshot_header_target_over_generated_headers() {
    let mut rng = Rng::new(15);
    let mut outcomes: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    let mut check = |input: &[u8]| {
        let outcome = devnet_fuzz::check_header(input).map_or("no snapshot".to_owned(), |o| format!("{o:?}"));
        *outcomes.entry(outcome).or_default() += 1;
    };
    for (_, seed) in devnet_fuzz::HEADER_SEEDS {
        check(seed);
    }
    for _ in 0..12_000 {
        let len = rng.below(48);
        let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        check(&input);
    }
    for _ in 0..8_000 {
        let (_, seed) = devnet_fuzz::HEADER_SEEDS[rng.below(devnet_fuzz::HEADER_SEEDS.len())];
        check(&mutate(&mut rng, seed));
    }
    executions("snapshot_header", outcomes.values().sum());
    println!("snapshot_header outcomes: {outcomes:?}");
    for must in ["HeightRefused", "ManifestRefused", "ChainRefused", "Produced"] {
        assert!(outcomes.contains_key(must), "no input reached {must}: {outcomes:?}");
    }
}

#[test]
fn snapshot_target_over_mutated_snapshots() {
    let mut rng = Rng::new(16);
    let dir = tempfile::tempdir().unwrap();
    let mut seeds = Vec::new();
    for (i, accounts) in [1u32, 4].into_iter().enumerate() {
        let store = devchain::Genesis { accounts, corrupt: 0 }.in_memory().unwrap();
        let path = dir.path().join(format!("{i}.snap"));
        let chain = Manifest::new(accounts, 0, 4, Budget { max_resources: 8, max_bytes: 1 << 16 }).to_json();
        snapshot::export(&store, 3, chain, devchain::WIDTH, &path).unwrap();
        seeds.push(std::fs::read(&path).unwrap());
    }
    let empty = dir.path().join("empty.snap");
    snapshot::export(&InMemoryStore::new(), 0, serde_json::Value::Null, devchain::WIDTH, &empty).unwrap();
    seeds.push(std::fs::read(&empty).unwrap());
    let mut n = 0;
    for _ in 0..5_000 {
        let seed = &seeds[rng.below(seeds.len())];
        devnet_fuzz::check_snapshot(&mutate(&mut rng, seed));
        n += 1;
    }
    executions("snapshot", n);
}

#[test]
fn manifest_target_over_mutated_manifests() {
    let mut rng = Rng::new(17);
    let mut m = Manifest::new(40, 4, 4, Budget { max_resources: 64, max_bytes: 1 << 16 });
    m.schedule(2, 5, 0).unwrap();
    m.schedule(3, 9, 0).unwrap();
    let seeds = [serde_json::to_vec(&m).unwrap(), serde_json::to_vec_pretty(&m).unwrap()];
    let mut n = 0;
    for _ in 0..20_000 {
        let seed = &seeds[rng.below(seeds.len())];
        devnet_fuzz::check_manifest(&mutate(&mut rng, seed));
        n += 1;
    }
    executions("manifest", n);
}

/// Resealing is what lets mutated entries reach the import: a snapshot whose value bytes were
/// edited verifies once resealed, and one whose header was edited once re-signed.
#[test]
fn resealed_and_resigned_snapshots_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = devchain::Genesis { accounts: 5, corrupt: 0 }.in_memory().unwrap();
    let path = dir.path().join("s.snap");
    snapshot::export(&store, 3, serde_json::Value::Null, devchain::WIDTH, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(devnet_fuzz::check_snapshot_file(&bytes).is_some());
    // The last value's last byte (the end record, the footer, its length and the trailer follow).
    let footer_len = u32::from_be_bytes(bytes[bytes.len() - 36..bytes.len() - 32].try_into().unwrap()) as usize;
    let last_value_byte = bytes.len() - 36 - footer_len - 3;
    let mut edited = bytes.clone();
    edited[last_value_byte] ^= 0x01;
    assert!(devnet_fuzz::check_snapshot_file(&edited).is_none(), "an edited value breaks the root");
    let resealed = devnet_fuzz::reseal(&edited).unwrap();
    let info = devnet_fuzz::check_snapshot_file(&resealed).expect("a resealed snapshot verifies");
    assert_eq!(info.entries, store.len() as u64);
    let mut header = edited.clone();
    header[bytes.len() - 1] ^= 1;
    assert!(devnet_fuzz::resign(&bytes).is_none(), "a valid trailer needs no re-signing");
    assert!(devnet_fuzz::check_snapshot_file(&devnet_fuzz::resign(&header).unwrap()).is_none(), "the root still fails");
}
