//! The rehearsal's result does not depend on how it is split: the same snapshot rehearsed on 1,
//! 2, 3 and 8 threads, with blocks of several sizes and with the migration's writes spilled to
//! disk or not, gives the same report (all of it but `run`, and the `--out` path) and the same
//! `--out` bytes; and so does an Aptos-based backup, read on several threads and sorted in runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use rehearsal::{rehearse, Silent};
use serde_json::Value;
use std::path::Path;
use vm_hooks::Budget;

/// Rehearses v1 -> v2 on `state` and returns the report without `run` and `out`, and the bytes
/// of the migrated snapshot.
fn rehearsed(state: &Path, out: &Path, threads: usize, max_resources: u64, cache_bytes: usize) -> (Value, Vec<u8>) {
    let mut options = common::v1_to_v2(state);
    options.threads = threads;
    options.budget = Budget { max_resources, max_bytes: 64 << 20 };
    options.cache_bytes = cache_bytes;
    options.out = Some(out.to_path_buf());
    let report = rehearse(&options, &mut Silent).unwrap();
    assert_eq!(report.run.threads, threads.min(4), "the state has 4 restart points: at most 4 ranges");
    let mut json = serde_json::to_value(&report).unwrap();
    let fields = json.as_object_mut().unwrap();
    fields.remove("run");
    fields.remove("out");
    (json, std::fs::read(out.join(rehearsal::rehearse::OUT_FILE)).unwrap())
}

#[test]
fn the_report_and_the_migrated_bytes_are_the_same_on_any_split() {
    let dir = tempfile::tempdir().unwrap();
    // 5,000 accounts, 50 of them stored corrupt: 14,168 entries (4 restart points), and values
    // the migration fails on.
    let state = common::genesis_snapshot(dir.path(), 5_000, 50);
    let (expected, expected_bytes) = rehearsed(&state, &dir.path().join("one"), 1, 100_000, 64 << 20);
    assert_eq!(expected["verdict"], "would-break", "{expected:#}");
    let failed: u64 = expected["structs"].as_array().unwrap().iter().map(|s| s["failed"].as_u64().unwrap()).sum();
    assert!(failed > 0, "{expected:#}");
    // (threads, resources per block, memory): one block per range or thousands; the writes held
    // in memory, or spilled to run files every few blocks (the overlay's smallest budget, 1 MiB).
    // With 4 ranges, a range of the state after holds no page end (its keys moved to the new
    // struct's): the case that once hashed a page twice.
    let splits = [(2, 100_000, 64 << 20), (4, 100_000, 64 << 20), (3, 97, 0), (8, 1_000, 0), (1, 333, 0), (2, 5, 0)];
    for (n, (threads, max_resources, cache)) in splits.into_iter().enumerate() {
        let (json, bytes) = rehearsed(&state, &dir.path().join(format!("out-{n}")), threads, max_resources, cache);
        assert_eq!(json, expected, "{threads} threads, {max_resources} resources per block, {cache} bytes");
        assert!(bytes == expected_bytes, "{threads} threads, {max_resources} resources per block: other bytes");
    }
}

/// A backup is read on every thread (its chunks apart, its records handed on in order) and
/// sorted in runs: on 1, 2 and 3 threads, in the least memory (runs of 1 MiB, several per state,
/// readers that wait for their chunk's turn) or the default, the same report and the same bytes.
#[test]
fn a_backup_sorted_in_runs_rehearses_the_same_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let base = common::framework_backup(dir.path(), 6_000, 700);
    let run = |threads: usize, cache_bytes: usize, n: usize| {
        let mut o = base.clone();
        o.threads = threads;
        o.cache_bytes = cache_bytes;
        let out = dir.path().join(format!("out-{n}"));
        o.out = Some(out.clone());
        let report = rehearse(&o, &mut Silent).unwrap();
        assert_eq!(report.state.root_verified, Some(true));
        let mut json = serde_json::to_value(&report).unwrap();
        let fields = json.as_object_mut().unwrap();
        fields.remove("run");
        fields.remove("out");
        (json, std::fs::read(out.join(rehearsal::rehearse::OUT_FILE)).unwrap())
    };
    let (expected, bytes) = run(1, 0, 0);
    assert_eq!(expected["migrated"], 2 * 6_000 + 2, "{expected:#}");
    for (n, (threads, cache)) in [(2, 0), (3, 0), (2, 64 << 20)].into_iter().enumerate() {
        let (json, got) = run(threads, cache, n + 1);
        assert_eq!(json, expected, "{threads} threads, {cache} bytes");
        assert!(got == bytes, "{threads} threads, {cache} bytes: other bytes");
    }
}
