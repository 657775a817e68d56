#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Crash and restart on the persistent store: a child process (this test binary, told by
//! `CHILD_ENV`) runs the v1 -> v2 -> v3 migration on a `RedbStore` and is killed with SIGKILL at
//! deterministic pseudo-random points, some between blocks and some in the middle of a block's
//! work or commit. Another child resumes and is killed again; then the test itself reopens the
//! store, resumes from the last height the status records, runs to completion, and compares the
//! state root with an uninterrupted run's: nothing lost, nothing migrated twice.

use binary_format::generate::Rng;
use devchain::support::*;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vm_hooks::{state_root, AllowAll, Budget, Hook, RedbStore, ReleasePlan, StateRoot, Status};

const CHILD_ENV: &str = "VM_HOOKS_CRASH_CHILD_DIR";
const PAUSE_ENV: &str = "VM_HOOKS_CRASH_CHILD_PAUSE";
const PAUSED: &str = "crash child paused";
const DONE: &str = "crash child done";
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

/// Child mode: resume on the store in the directory; after `PAUSE_ENV` blocks, say so and wait
/// for a line on stdin before going on (so the parent kills at a known block, or a chosen delay
/// after it).
fn child(dir: &Path) {
    let pause: u64 = std::env::var(PAUSE_ENV).unwrap().parse().unwrap();
    let plans = plans();
    let mut store = RedbStore::open(dir).unwrap();
    let mut hook = new_hook(&plans);
    let mut block = Status::load(&store, &chain()).unwrap().last_height() + 1;
    let mut ran = 0;
    while !hook.all_done() {
        if ran == pause {
            println!("{PAUSED}");
            // Wait for the parent's word, but not forever: a parent that never answers (a bug
            // in this test) makes the child fail, and the test with it, instead of hanging.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
                let _ = tx.send(());
            });
            if rx.recv_timeout(Duration::from_secs(60)).is_err() {
                eprintln!("crash child: no word from the parent in 60 s");
                std::process::exit(3);
            }
        }
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

/// Where to kill a child: when it has run `blocks` blocks (counted from its own start, idle
/// ones included), either right there, paused between two blocks (`delay_us: None`), or
/// `delay_us` microseconds after letting it go on (0-2 ms lands inside the next block's work
/// or its commit).
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    blocks: u64,
    delay_us: Option<u64>,
}

/// Spawns a child on `dir` and kills it at `point`. Returns whether it was still running when
/// killed (not done already).
fn run_child_and_kill(dir: &Path, point: KillPoint) -> bool {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env(PAUSE_ENV, point.blocks.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut done = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        // libtest prints "test <name> ... " without a newline before the child's first line.
        if line.ends_with(DONE) {
            done = true;
            break;
        }
        if line.ends_with(PAUSED) {
            break;
        }
    }
    if !done {
        if let Some(delay) = point.delay_us {
            stdin.write_all(b"go\n").unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(Duration::from_micros(delay));
        }
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    drop(stdin);
    for _ in lines {}
    let status = child.wait().unwrap();
    if running {
        assert!(!status.success(), "{status}");
    } else {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(status.success(), "child failed: {status}\n{err}");
    }
    running && !done
}

/// The uninterrupted run, on the in-memory store (the same root as on redb, see
/// `tests/persistent.rs`).
fn reference(plans: &[ReleasePlan]) -> (StateRoot, u64) {
    let mut store = genesis(ACCOUNTS);
    let mut blocks = 0;
    resume(&mut store, plans, |_| blocks += 1);
    (state_root(&store).unwrap(), blocks)
}

fn write_genesis(dir: &Path) {
    let mut store = RedbStore::open(dir).unwrap();
    let mut batch = WriteBatch::new();
    for (t, a, b) in genesis(ACCOUNTS).iter() {
        batch.put(*a, t.clone(), b.to_vec());
    }
    store.apply(batch).unwrap();
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

    let scenarios: Vec<Vec<KillPoint>> = (0..SCENARIOS)
        .map(|seed| {
            let mut rng = Rng::new(0xc0ffee + seed);
            (0..KILLS_PER_SCENARIO)
                .map(|_| {
                    let delay_us = match rng.below(5) {
                        0 => None,
                        1 => Some(0),
                        2 => Some(rng.below(300) as u64),
                        3 => Some(rng.below(2_000) as u64),
                        _ => Some(rng.below(20_000) as u64),
                    };
                    KillPoint { blocks: rng.below(80) as u64, delay_us }
                })
                .collect()
        })
        .collect();

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
                        if run_child_and_kill(dir.path(), *point) {
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
