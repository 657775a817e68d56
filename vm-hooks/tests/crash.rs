#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Crash and restart on the persistent store: a child process (this test binary, told by
//! `CHILD_ENV`) runs the v1 -> v2 -> v3 migration on a `RedbStore` and is killed with SIGKILL at
//! deterministic pseudo-random points, some between blocks and some in the middle of a block's
//! work or commit. Another child resumes and is killed again; then the test itself reopens the
//! store, resumes from the last height the status records, runs to completion, and compares the
//! state root with an uninterrupted run's: nothing lost, nothing migrated twice.

use devchain::support::crash::{kill_points, pause_point, run_child_and_kill, KillPoint, DONE};
use devchain::support::*;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::Value;
use redb_store::RedbStore;
use std::path::Path;
use std::time::Instant;
use vm_hooks::{state_root, AllowAll, Budget, Hook, ReleasePlan, StateRoot, Status};

const CHILD_ENV: &str = "VM_HOOKS_CRASH_CHILD_DIR";
const PAUSE_ENV: &str = "VM_HOOKS_CRASH_CHILD_PAUSE";
const TEST_NAME: &str = "killed_at_random_points_the_migration_resumes_to_the_same_root";
const ACCOUNTS: u32 = 300;
const BUDGET: Budget = Budget { max_resources: 12, max_bytes: 1 << 20 };
const SCENARIOS: u64 = 16;
const KILLS_PER_SCENARIO: usize = 3;

fn new_hook(plans: &[ReleasePlan]) -> Hook {
    Hook::new(plans.to_vec(), config(BUDGET), Box::new(AllowAll)).unwrap()
}

/// Runs the hook from the block after the last one the status records until everything is
/// done, calling `after_block` after each block.
fn resume(store: &mut dyn Store, plans: &[ReleasePlan], mut after_block: impl FnMut(u64)) -> u64 {
    let mut hook = new_hook(plans);
    let mut block = Status::load(&*store, &chain()).unwrap().last_height() + 1;
    let first = block;
    while !hook.all_done() {
        hook.maybe_migrate(store, block).unwrap();
        after_block(block);
        block += 1;
        assert!(block < 10_000);
    }
    first
}

/// Child mode: resume on the store in the directory, pausing after `PAUSE_ENV` blocks.
fn child(dir: &Path) {
    let pause: u64 = std::env::var(PAUSE_ENV).unwrap().parse().unwrap();
    let plans = plans();
    let mut store = RedbStore::open(dir).unwrap();
    let mut hook = new_hook(&plans);
    let mut block = Status::load(&store, &chain()).unwrap().last_height() + 1;
    let mut ran = 0;
    while !hook.all_done() {
        pause_point(ran, pause);
        hook.maybe_migrate(&mut store, block).unwrap();
        block += 1;
        ran += 1;
    }
    println!("{DONE}");
}

fn balance_total(store: &dyn Store, t: &str, release: usize) -> u128 {
    let layouts = Layouts::of(release);
    store
        .scan(&tag(t), None, usize::MAX)
        .unwrap()
        .iter()
        .map(|(_, b)| match &layouts.decode(t, b).fields().unwrap()[0].fields().unwrap()[0] {
            Value::U64(n) => u128::from(*n),
            Value::U128(n) => *n,
            other => panic!("{other:?}"),
        })
        .sum()
}

/// The uninterrupted run, on the in-memory store (the same root as on redb, see
/// `tests/persistent.rs`).
fn reference(plans: &[ReleasePlan]) -> (StateRoot, u64) {
    let mut store = genesis(ACCOUNTS);
    schedule_at_genesis(&mut new_hook(plans), &mut store);
    let mut blocks = 0;
    resume(&mut store, plans, |_| blocks += 1);
    (state_root(&store).unwrap(), blocks)
}

fn write_genesis(dir: &Path) {
    let mut store = RedbStore::open(dir).unwrap();
    let mut batch = WriteBatch::new();
    for (k, v) in genesis(ACCOUNTS).iter() {
        batch.put_key(k, v.to_vec());
    }
    store.apply(batch).unwrap();
    schedule_at_genesis(&mut new_hook(&plans()), &mut store);
}

#[test]
fn killed_at_random_points_the_migration_resumes_to_the_same_root() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let start = Instant::now();
    let plans = plans();
    let (root, blocks) = reference(&plans);
    let genesis_store: InMemoryStore = genesis(ACCOUNTS);
    let total_v1 = balance_total(&genesis_store, BALANCE_V1, 0);
    assert!(blocks > 100, "the migration spans many blocks: {blocks}");

    let scenarios: Vec<Vec<KillPoint>> =
        (0..SCENARIOS).map(|seed| kill_points(0xc0ffee + seed, KILLS_PER_SCENARIO, 80)).collect();

    let outcomes: Vec<(usize, Vec<(u64, u64)>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = scenarios
            .iter()
            .enumerate()
            .map(|(i, points)| {
                let plans = &plans;
                scope.spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    write_genesis(dir.path());
                    let mut killed = 0;
                    let mut heights = Vec::new();
                    for point in points {
                        if run_child_and_kill(TEST_NAME, CHILD_ENV, PAUSE_ENV, dir.path(), *point) {
                            killed += 1;
                        }
                        let store = RedbStore::open(dir.path()).unwrap();
                        heights.push((point.blocks, Status::load(&store, &chain()).unwrap().last_height()));
                    }
                    // The restart: reopen, resume from the status, finish.
                    let mut store = RedbStore::open(dir.path()).unwrap();
                    resume(&mut store, plans, |_| {});
                    assert_eq!(state_root(&store).unwrap(), root, "scenario {i}: {points:?}");
                    // Nothing lost, nothing migrated twice: every balance moved exactly once.
                    assert_eq!(balance_total(&store, BALANCE_V2, 2), total_v1, "scenario {i}");
                    assert!(store.scan(&tag(BALANCE_V1), None, 1).unwrap().is_empty());
                    assert_eq!(store.scan(&tag(BALANCE_V2), None, usize::MAX).unwrap().len(), ACCOUNTS as usize);
                    (killed, heights)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let killed: usize = outcomes.iter().map(|(k, _)| k).sum();
    assert!(killed >= 20, "only {killed} children were killed while running: {outcomes:?}");
    // Both kinds of kill point are in the suite: between blocks, and while a block runs.
    let points = scenarios.iter().flatten();
    let between = points.clone().filter(|p| p.delay_us.is_none()).count();
    let during = points.filter(|p| p.delay_us.is_some_and(|d| d < 2_000)).count();
    assert!(between >= 5 && during >= 10, "{between} kills between blocks, {during} during one");
    // The kills landed at many different heights of the migration.
    let mut heights: Vec<u64> = outcomes.iter().flat_map(|(_, h)| h.iter().map(|(_, height)| *height)).collect();
    heights.sort_unstable();
    heights.dedup();
    assert!(heights.len() >= 10, "{heights:?}");
    eprintln!("{killed} kills ({between} between blocks, {during} within 2 ms of a block starting), heights after kills {heights:?}, {:?}", start.elapsed());
}
