//! A 32-byte chain whose framework lives at `0x1` and changes in place, end to end: the release
//! pair written to disk and loaded as any release is, the gate on it (Aptos' rules and ours),
//! the catalogue from the loaded modules, genesis on the persistent store, the migration run
//! by the prologue to the end; then every resource decodes with the new layouts, coins are
//! conserved, checksums are recorded, the root is the in-memory chain's for another budget, and
//! a node killed at random points of the in-place window resumes to the same root.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::Module;
use compat_checker::chain::{Chain, Policy, Profile};
use compat_checker::{check_releases, ChainOptions, CheckOptions};
use devchain::framework::{self, user, COIN_STORE, NEW_NAME, STATUS_TAG, WIDTH};
use devchain::support::crash::{kill_points, pause_point, run_child_and_kill, DONE};
use migrations::catalogue::Catalogue;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::StateKey;
use migrations::{decode, ReleaseIndex, Value};
use redb_store::RedbStore;
use releases::{load, LoadOptions};
use std::path::{Path, PathBuf};
use vm_hooks::{state_root, AllowAll, Budget, Hook, ReleasePlan, StateRoot, Status};

const USERS: u32 = 400;
const ACTIVATION: u64 = 3;
const BUDGET: Budget = Budget { max_resources: 23, max_bytes: 1 << 20 };
const CHILD_ENV: &str = "E2E_IN_PLACE_CRASH_CHILD_DIR";
const PAUSE_ENV: &str = "E2E_IN_PLACE_CRASH_CHILD_PAUSE";
const CRASH_TEST: &str = "killed_in_the_in_place_window_a_node_resumes_to_the_same_root";

/// The two releases written as folders of `.mv` files, as a release engineer has them.
fn write_releases(dir: &Path) -> [PathBuf; 2] {
    let [old, new] = framework::release_files().unwrap();
    let mut paths = Vec::new();
    for (name, files) in [("6.9.9", old), ("7.0.0", new)] {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for (file, bytes) in files {
            std::fs::write(folder.join(file), bytes).unwrap();
        }
        paths.push(folder);
    }
    [paths[0].clone(), paths[1].clone()]
}

fn plans_from_disk(dir: &Path) -> Vec<ReleasePlan> {
    let [old, new] = write_releases(dir);
    let (old, new) = (load(&old, LoadOptions::default()).unwrap(), load(&new, LoadOptions::default()).unwrap());
    assert_eq!((old.address_length, new.address_length), (WIDTH, WIDTH), "32-byte addresses decided from the modules");
    let o: Vec<&Module> = old.modules.iter().map(|m| &m.module).collect();
    let n: Vec<&Module> = new.modules.iter().map(|m| &m.module).collect();
    let declarations = framework::declarations().unwrap();
    let label = upgrade_spec::ReleaseLabel::new(NEW_NAME).unwrap();
    let handlers = devchain::handlers();
    let catalogue = Catalogue::builder(&o, &n, &label, new.address_length)
        .declarations(&declarations)
        .handlers(&handlers)
        .build()
        .unwrap();
    vec![ReleasePlan::new(framework::new_release().unwrap(), ACTIVATION, catalogue)]
}

fn hook(plans: &[ReleasePlan], budget: Budget) -> Hook {
    Hook::new(plans.to_vec(), framework::config(budget).unwrap(), Box::new(AllowAll)).unwrap()
}

/// The genesis state with the release scheduled on chain (its height, the chain's budget
/// `BUDGET`, its catalogue's checksums), as the chain's genesis records it.
fn scheduled_genesis(plans: &[ReleasePlan]) -> InMemoryStore {
    let mut genesis = framework::genesis(USERS).unwrap();
    hook(plans, BUDGET).schedule_all(&mut genesis).unwrap();
    genesis
}

/// Runs blocks until the migrations end, with a node configured for `budget` (which follows
/// the budget the chain recorded).
fn run_to_the_end(store: &mut dyn Store, plans: &[ReleasePlan], budget: Budget) -> u64 {
    let mut hook = hook(plans, budget);
    let chain = framework::chain(budget).unwrap();
    let mut block = Status::load(&*store, &chain).unwrap().last_height() + 1;
    while !hook.all_done() {
        hook.maybe_migrate(store, block).unwrap();
        block += 1;
        assert!(block < 100_000);
    }
    block
}

fn coins(store: &dyn Store, new: bool) -> u128 {
    let (old_modules, new_modules) = framework::releases().unwrap();
    let modules = if new { new_modules } else { old_modules };
    let index = ReleaseIndex::new(modules.iter(), WIDTH).unwrap();
    let t = framework::tag(COIN_STORE).unwrap();
    let layout = index.layout_of_struct_tag(&t).unwrap();
    store
        .scan(&t, None, usize::MAX)
        .unwrap()
        .iter()
        .map(|(_, b)| match &decode(b, &layout).unwrap().fields().unwrap()[0].fields().unwrap()[0] {
            Value::U64(n) => u128::from(*n),
            Value::U128(n) => *n,
            other => panic!("{other:?}"),
        })
        .sum()
}

fn on_redb(dir: &Path, genesis: &InMemoryStore) -> RedbStore {
    let mut redb = RedbStore::open(dir).unwrap();
    let mut batch = WriteBatch::new();
    for (key, value) in genesis.iter() {
        batch.put_key(key, value.to_vec());
    }
    redb.apply(batch).unwrap();
    redb
}

#[test]
fn the_gate_takes_in_place_declarations_and_says_what_aptos_decides() {
    let dir = tempfile::tempdir().unwrap();
    let [old, new] = write_releases(dir.path());
    let (old, new) = (load(&old, LoadOptions::default()).unwrap(), load(&new, LoadOptions::default()).unwrap());
    let declarations = framework::declarations().unwrap();
    let options = CheckOptions { declarations: Some(&declarations), ..CheckOptions::default() };
    for (policy, accepts) in [(Policy::Arbitrary, true), (Policy::Compatible, false)] {
        let profile = Profile::new(Chain::Aptos, policy).unwrap();
        let chain = ChainOptions { choice: profile.into(), ..ChainOptions::default() };
        let (report, _) = check_releases("6.9.9", &old, "7.0.0", &new, options, chain).unwrap();
        let json = report.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["storage"]["safe"], true, "{policy:?}: {json}");
        assert_eq!(value["chain"]["accepts"], accepts, "{policy:?}: {json}");
    }
}

#[test]
fn a_32_byte_chain_migrates_in_place_to_the_end_on_the_persistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let plans = plans_from_disk(dir.path());
    let genesis = scheduled_genesis(&plans);
    let data = tempfile::tempdir().unwrap();
    let mut redb = on_redb(data.path(), &genesis);
    let before = coins(&redb, false);
    let blocks = run_to_the_end(&mut redb, &plans, BUDGET);
    assert!(blocks > 30, "the user part spans many blocks ({blocks})");

    // Everything but the hook's own status decodes with the new layouts.
    let (_, new) = framework::releases().unwrap();
    let index = ReleaseIndex::new(new.iter(), WIDTH).unwrap();
    let status_tag = framework::tag(STATUS_TAG).unwrap();
    let mut count = 0;
    redb.for_each(&mut |key, b| {
        let StateKey::Resource { account: a, tag: t } = StateKey::decode(key, WIDTH).unwrap() else {
            panic!("not a resource: {key:?}")
        };
        if t == status_tag {
            return;
        }
        decode(b, &index.layout_of_struct_tag(&t).unwrap()).unwrap_or_else(|e| panic!("{t} at {a}: {e}"));
        count += 1;
    })
    .unwrap();
    assert_eq!(count, 1 + 2 * USERS as usize);
    assert_eq!(coins(&redb, true), before, "coins are conserved across the u64 -> u128 widening");
    assert!(redb.get(&user(1), &framework::tag(COIN_STORE).unwrap()).unwrap().is_some());

    let status = Status::load(&redb, &framework::chain(BUDGET).unwrap()).unwrap();
    for entry in &plans[0].catalogue.entries {
        let done = status.completion(&entry.id).unwrap_or_else(|| panic!("{} not complete", entry.id));
        assert_eq!(done.checksum, entry.checksum, "{}", entry.id);
    }
    assert!(status.failures().is_empty() && status.in_progress().is_empty());

    // The same root in memory, run by a node configured with another budget: it follows the
    // budget the chain recorded.
    let mut memory = genesis.clone();
    run_to_the_end(&mut memory, &plans, Budget { max_resources: 997, max_bytes: 1 << 14 });
    assert_eq!(state_root(&redb).unwrap(), state_root(&memory).unwrap());
}

/// Child mode: resume on the store, and in every block read two accounts well ahead of the
/// pass (migrated on access, recorded as ahead), pausing after `PAUSE_ENV` blocks.
fn child(dir: &Path) {
    let pause: u64 = std::env::var(PAUSE_ENV).unwrap().parse().unwrap();
    let plans = plans_from_disk(&dir.join("releases"));
    let mut store = RedbStore::open(dir).unwrap();
    let mut hook = hook(&plans, BUDGET);
    let chain = framework::chain(BUDGET).unwrap();
    let mut block = Status::load(&store, &chain).unwrap().last_height() + 1;
    let account_tag = framework::tag(framework::ACCOUNT).unwrap();
    let mut ran = 0;
    while !hook.all_done() {
        pause_point(ran, pause);
        hook.maybe_migrate(&mut store, block).unwrap();
        if block > ACTIVATION {
            for k in [7919u64, 104_729] {
                let n = u32::try_from((block * k) % u64::from(USERS)).unwrap() + 1;
                hook.read_resource(&mut store, user(n), &account_tag).unwrap();
            }
        }
        block += 1;
        ran += 1;
    }
    println!("{DONE}");
}

fn reference_root(plans: &[ReleasePlan]) -> StateRoot {
    let mut store = scheduled_genesis(plans);
    run_to_the_end(&mut store, plans, BUDGET);
    state_root(&store).unwrap()
}

#[test]
fn killed_in_the_in_place_window_a_node_resumes_to_the_same_root() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let releases = tempfile::tempdir().unwrap();
    let plans = plans_from_disk(releases.path());
    let root = reference_root(&plans);
    let genesis = scheduled_genesis(&plans);
    let total = coins(&genesis, false);
    let outcomes: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8u64)
            .map(|seed| {
                let (plans, genesis) = (&plans, &genesis);
                scope.spawn(move || {
                    let data = tempfile::tempdir().unwrap();
                    drop(on_redb(data.path(), genesis));
                    let points = kill_points(0xfeed + seed, 3, 40);
                    let mut killed = 0;
                    for point in &points {
                        if run_child_and_kill(CRASH_TEST, CHILD_ENV, PAUSE_ENV, data.path(), *point) {
                            killed += 1;
                        }
                    }
                    let mut store = RedbStore::open(data.path()).unwrap();
                    run_to_the_end(&mut store, plans, BUDGET);
                    assert_eq!(state_root(&store).unwrap(), root, "seed {seed}: {points:?}");
                    assert_eq!(coins(&store, true), total, "seed {seed}");
                    killed
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let killed: usize = outcomes.iter().sum();
    assert!(killed >= 10, "only {killed} children were killed while running: {outcomes:?}");
}
