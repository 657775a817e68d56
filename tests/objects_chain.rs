//! A 32-byte chain whose framework changes a struct held in every user's object (a resource
//! group member) and one stored only as table values (in tables whose handles sit in another
//! table's values), end to end on the persistent store: the table list the rehearsal finds is
//! the one the node's release plan carries, the prologue migrates every member and item in
//! place within the budget, and a node killed at random points (reading objects and table items
//! through the hook between blocks) resumes to the root of an uninterrupted in-memory chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devchain::objects::{self, OBJECT_GROUP, PROPOSALS_PER_ROUND, ROUNDS};
use devchain::support::crash::{kill_points, pause_point, run_child_and_kill, DONE};
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::StateKey;
use redb_store::RedbStore;
use std::path::Path;
use vm_hooks::{state_root, AllowAll, Budget, Hook, StateRoot, Status};

const USERS: u64 = 120;
const ACTIVATION: u64 = 3;
const BUDGET: Budget = Budget { max_resources: 7, max_bytes: 1 << 20 };
const CHILD_ENV: &str = "E2E_OBJECTS_CRASH_CHILD_DIR";
const PAUSE_ENV: &str = "E2E_OBJECTS_CRASH_CHILD_PAUSE";
const CRASH_TEST: &str = "killed_while_migrating_groups_and_tables_a_node_resumes_to_the_same_root";

fn hook() -> Hook {
    Hook::new(objects::plans(ACTIVATION).unwrap(), objects::config(BUDGET).unwrap(), Box::new(AllowAll)).unwrap()
}

fn scheduled_genesis() -> InMemoryStore {
    let mut state = objects::genesis(USERS).unwrap();
    hook().schedule_all(&mut state).unwrap();
    state
}

fn run_to_the_end(store: &mut dyn Store) {
    let mut node = hook();
    let chain = objects::chain(BUDGET).unwrap();
    let mut block = Status::load(&*store, &chain).unwrap().last_height() + 1;
    while !node.all_done() {
        node.maybe_migrate(store, block).unwrap();
        block += 1;
        assert!(block < 10_000);
    }
}

fn reference_root() -> StateRoot {
    let mut state = scheduled_genesis();
    run_to_the_end(&mut state);
    state_root(&state).unwrap()
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
fn the_tables_a_rehearsal_finds_are_the_ones_the_plan_carries() {
    // The rehearsal's table finder over the genesis state.
    let state = objects::genesis(20).unwrap();
    let (old, _) = objects::releases().unwrap();
    let old: Vec<&binary_format::Module> = old.iter().collect();
    let found = rehearsal::rehearse::tables::resolve(
        &state,
        &old,
        objects::WIDTH,
        &[],
        5,
        rehearsal::rehearse::options::MIN_VALUE_BUDGET,
    )
    .unwrap();
    let proposal = migrations::TypeTag::Struct(Box::new(objects::tag(objects::PROPOSAL).unwrap()));
    let mut handles: Vec<_> = found.types.iter().filter(|(_, t)| t.value == proposal).map(|(h, _)| *h).collect();
    handles.sort();
    let mut planned: Vec<_> = objects::tables().unwrap().iter().map(|t| t.handle).collect();
    planned.sort();
    assert_eq!(handles, planned);
    assert_eq!(found.unresolved.total, 0);
}

/// Child mode: resume on the store, and in every block read an object and a table item well
/// ahead of the pass through the hook, pausing after `PAUSE_ENV` blocks.
fn child(dir: &Path) {
    let pause: u64 = std::env::var(PAUSE_ENV).unwrap().parse().unwrap();
    let mut store = RedbStore::open(dir).unwrap();
    let mut node = hook();
    let chain = objects::chain(BUDGET).unwrap();
    let mut block = Status::load(&store, &chain).unwrap().last_height() + 1;
    let group_tag = objects::tag(OBJECT_GROUP).unwrap();
    let mut ran = 0;
    while !node.all_done() {
        pause_point(ran, pause);
        node.maybe_migrate(&mut store, block).unwrap();
        if block > ACTIVATION {
            let n = (block * 7919) % USERS + 1;
            node.read_key(&mut store, &StateKey::Group { account: objects::object(n), tag: group_tag.clone() })
                .unwrap();
            let (r, p) = (block % ROUNDS, (block * 104_729) % PROPOSALS_PER_ROUND);
            let item = StateKey::TableItem { handle: objects::proposals_table(r), key: p.to_le_bytes().to_vec() };
            node.read_key(&mut store, &item).unwrap();
        }
        block += 1;
        ran += 1;
    }
    println!("{DONE}");
}

#[test]
fn killed_while_migrating_groups_and_tables_a_node_resumes_to_the_same_root() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let root = reference_root();
    let genesis = scheduled_genesis();
    let outcomes: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6u64)
            .map(|seed| {
                let genesis = &genesis;
                scope.spawn(move || {
                    let data = tempfile::tempdir().unwrap();
                    drop(on_redb(data.path(), genesis));
                    let points = kill_points(0x0b1ec7 + seed, 4, 35);
                    let mut killed = 0;
                    for point in &points {
                        if run_child_and_kill(CRASH_TEST, CHILD_ENV, PAUSE_ENV, data.path(), *point) {
                            killed += 1;
                        }
                    }
                    let mut store = RedbStore::open(data.path()).unwrap();
                    run_to_the_end(&mut store);
                    assert_eq!(state_root(&store).unwrap(), root, "seed {seed}: {points:?}");
                    killed
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let killed: usize = outcomes.iter().sum();
    assert!(killed >= 8, "only {killed} children were killed while running: {outcomes:?}");
}
