//! The targets' bodies over a generated corpus, in a normal test: where `cargo fuzz` cannot be
//! installed (offline), this is the fuzzing the suite does. Deterministic: the same inputs every
//! run (a fixed seed): the writer's seeds, their mutants, and hand-made inputs that claim huge
//! lengths and counts. Run with `cargo test --release -- --nocapture` in `rehearsal/fuzz` to
//! see the executions and outcomes.
//!
//! The allocation counters are process-wide, so the tests take turns (`one_at_a_time`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use fuzz_support::{mutate, one_at_a_time, Rng};
use std::collections::BTreeMap;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    rehearsal_fuzz::seeds().into_iter().filter(|(t, _, _)| *t == target).map(|(_, _, b)| b).collect()
}

/// Runs `check` on the seeds, `n` mutants of them and `extra`; the outcomes counted.
fn run(target: &str, seed: u64, n: usize, extra: &[Vec<u8>], check: fn(&[u8]) -> bool) -> BTreeMap<bool, usize> {
    let _turn = one_at_a_time();
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "{target}: no seeds");
    let mut outcomes = BTreeMap::new();
    let mut rng = Rng::new(seed);
    for s in &seeds {
        assert!(check(s), "{target}: a seed does not read");
    }
    for input in extra {
        *outcomes.entry(check(input)).or_insert(0) += 1;
    }
    for _ in 0..n {
        let pick = rng.below(seeds.len());
        let input = mutate(&mut rng, &seeds[pick]);
        *outcomes.entry(check(&input)).or_insert(0) += 1;
    }
    println!("{target}: {} executions, read {:?}", n + extra.len() + seeds.len(), outcomes);
    outcomes
}

/// Both outcomes reached: mutants that still read, and mutants refused.
fn both(target: &str, outcomes: &BTreeMap<bool, usize>) {
    assert!(outcomes.get(&true).is_some_and(|n| *n > 0), "{target}: no input read: {outcomes:?}");
    assert!(outcomes.get(&false).is_some_and(|n| *n > 0), "{target}: no input refused: {outcomes:?}");
}

#[test]
fn chunk_target_over_mutated_chunks_and_huge_claims() {
    let mut huge = Vec::new();
    // A record claiming 1 GiB in a 12-byte file; the same gzipped; four billion bytes.
    huge.push([&(1u32 << 30).to_be_bytes()[..], &[0u8; 8]].concat());
    huge.push([&u32::MAX.to_be_bytes()[..], &[0u8; 8]].concat());
    // A key claiming a path of 2^31 bytes, and a value claiming as much.
    let mut key = vec![0u8; 4];
    key.extend([0u8]);
    key.extend([0u8; 32]);
    key.extend([0xff, 0xff, 0xff, 0xff, 0x07]);
    let len = (key.len() - 4) as u32;
    key[..4].copy_from_slice(&len.to_be_bytes());
    huge.push(key);
    let outcomes = run("aptos_chunk", 21, 1_500, &huge, |d| rehearsal_fuzz::check_chunk(d).is_some());
    both("aptos_chunk", &outcomes);
}

/// Inputs the fuzzer found, kept as regression tests (`tests/regressions/<target>-<what>`).
fn regressions(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&format!("{target}-")))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out.into_iter().map(|(_, b)| b).collect()
}

#[test]
fn manifest_target_over_mutated_manifests() {
    // An unknown field holding bytes that are not UTF-8: skipped by the typed read, so the
    // manifest reads; detection must agree with it.
    let found = regressions("aptos_manifest");
    assert!(!found.is_empty());
    for input in &found {
        assert!(rehearsal_fuzz::check_manifest(input).is_some());
    }
    let huge = vec![
        br#"{"version":1,"epoch":1,"root_hash":"00","chunks":[],"proof":"p"}"#.to_vec(),
        br#"{"version":18446744073709551615,"epoch":0,"root_hash":"5350415253455f4d45524b4c455f504c414345484f4c4445525f484153480000","chunks":[],"proof":"a/state.proof"}"#.to_vec(),
    ];
    let outcomes = run("aptos_manifest", 22, 6_000, &huge, |d| rehearsal_fuzz::check_manifest(d).is_some());
    both("aptos_manifest", &outcomes);
}

#[test]
fn group_target_over_mutated_groups_and_huge_counts() {
    let huge = vec![vec![0xff, 0xff, 0xff, 0xff, 0x0f], vec![0x80, 0x80, 0x04], vec![1], vec![]];
    let outcomes = run("aptos_group", 23, 8_000, &huge, |d| rehearsal_fuzz::check_group(d).is_some());
    both("aptos_group", &outcomes);
}

#[test]
fn proof_target_over_mutated_proofs_and_huge_counts() {
    let huge = vec![vec![0xff, 0xff, 0xff, 0xff, 0x0f], vec![63], vec![64, 32]];
    let outcomes = run("aptos_proof", 24, 8_000, &huge, |d| rehearsal_fuzz::check_proof(d).is_some());
    both("aptos_proof", &outcomes);
}

#[test]
fn jsonl_target_over_mutated_lines_and_huge_claims() {
    let huge = vec![
        // A line of hex that claims nothing but is long; a gzip stream cut short; a BOM alone.
        format!("{{\"address\":\"0x1\",\"type\":\"0x1::a::B\",\"bytes\":\"{}\"}}\n", "00".repeat(1 << 16)).into_bytes(),
        vec![0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00],
        vec![0xef, 0xbb, 0xbf],
        b"{\"address\":\"0x1\",\"group\":\"0x1::a::G\",\"bytes\":\"0xffffffff0f\"}\n".to_vec(),
    ];
    let outcomes = run("jsonl", 25, 4_000, &huge, |d| rehearsal_fuzz::check_jsonl(d).is_some());
    both("jsonl", &outcomes);
}

#[test]
fn containers_target_over_mutated_bundles_and_huge_counts() {
    let huge = vec![
        // Counts of millions of entries in a few bytes; a million one-byte entries.
        vec![0xff, 0xff, 0xff, 0xff, 0x0f],
        vec![0x80, 0x80, 0x40, 0x06, 0xa1, 0x1c, 0xeb, 0x0b, 0x06, 0x00],
        [&[0x80u8, 0x84, 0x3d][..], &vec![0u8; 1_000_000]].concat(),
    ];
    let outcomes = run("containers", 26, 6_000, &huge, |d| rehearsal_fuzz::check_container(d).is_some());
    both("containers", &outcomes);
}
