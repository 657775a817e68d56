//! Resource groups and tables, migrated by the hook: a chain whose framework changes a struct
//! held as a member of every user's object and one stored only as the values of tables (nested:
//! a table of rounds, each holding a table of proposals). The prologue rewrites them in place,
//! within the chain's budget, to the same root whatever budget a node is configured with; reads
//! through the hook and views see the new layout before the pass reaches a value; a second pass
//! finds nothing; a node with another table list refuses to run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devchain::objects::{self, FUNGIBLE_STORE, OBJECT_GROUP, PROPOSAL, ROUNDS};
use migrations::group::decode_group;
use migrations::store::{InMemoryStore, Store};
use migrations::{decode, ReleaseIndex, StateKey, Value};
use vm_hooks::{state_root, AllowAll, Budget, ConsensusError, Fault, Hook, HookError};

const USERS: u64 = 60;
const ACTIVATION: u64 = 3;
const BUDGET: Budget = Budget { max_resources: 17, max_bytes: 1 << 20 };

fn hook(budget: Budget) -> Hook {
    Hook::new(objects::plans(ACTIVATION).unwrap(), objects::config(budget).unwrap(), Box::new(AllowAll)).unwrap()
}

/// Genesis, the release scheduled on chain with the chain's budget.
fn genesis() -> InMemoryStore {
    let mut state = objects::genesis(USERS).unwrap();
    hook(BUDGET).schedule_all(&mut state).unwrap();
    state
}

/// Blocks until the migrations end; returns the blocks run.
fn run_to_the_end(hook: &mut Hook, state: &mut InMemoryStore) -> u64 {
    let mut block = 1;
    while !hook.all_done() {
        let report = hook.maybe_migrate(state, block).unwrap();
        assert!(report.resources <= BUDGET.max_resources, "block {block}: {report:?}");
        block += 1;
        assert!(block < 1_000);
    }
    block
}

/// Every group member, resource and table item decodes with the new release's layouts; returns
/// (fungible stores seen, proposals seen).
fn all_new(state: &InMemoryStore) -> (u64, u64) {
    let (_, new) = objects::releases().unwrap();
    let index = ReleaseIndex::new(new.iter(), objects::WIDTH).unwrap();
    let (store_layout, proposal_layout) = (
        index.layout_of_struct_tag(&objects::tag(FUNGIBLE_STORE).unwrap()).unwrap(),
        index.layout_of_struct_tag(&objects::tag(PROPOSAL).unwrap()).unwrap(),
    );
    let proposal_handles: Vec<_> = (0..ROUNDS).map(objects::proposals_table).collect();
    let (mut stores, mut proposals) = (0, 0);
    for (key, value) in state.iter() {
        match StateKey::decode(&key, objects::WIDTH).unwrap() {
            StateKey::Group { tag, .. } => {
                assert_eq!(tag.to_string(), OBJECT_GROUP);
                for m in decode_group(value, objects::WIDTH).unwrap() {
                    if m.tag.to_string() == FUNGIBLE_STORE {
                        decode(m.bytes, &store_layout).unwrap();
                        stores += 1;
                    }
                }
            }
            StateKey::Resource { tag, .. } if tag.to_string() == FUNGIBLE_STORE => {
                decode(value, &store_layout).unwrap();
                stores += 1;
            }
            StateKey::TableItem { handle, .. } if proposal_handles.contains(&handle) => {
                let v = decode(value, &proposal_layout).unwrap();
                assert_eq!(v.fields().unwrap()[2], Value::U64(0), "the declared default");
                proposals += 1;
            }
            _ => {}
        }
    }
    (stores, proposals)
}

#[test]
fn groups_and_tables_migrate_in_place_within_the_budget_to_one_root() {
    let mut state = genesis();
    let mut node = hook(BUDGET);
    let blocks = run_to_the_end(&mut node, &mut state);
    let expected_stores = USERS + USERS / 3;
    let expected_proposals = ROUNDS * objects::PROPOSALS_PER_ROUND;
    assert!(blocks > (expected_stores + expected_proposals) / BUDGET.max_resources, "{blocks} blocks");
    assert_eq!(all_new(&state), (expected_stores, expected_proposals));
    assert!(node.second_pass(&state).unwrap().is_empty(), "nothing left for a second pass");
    let status = node.status().unwrap();
    assert_eq!(status.completed().len(), 2);
    assert!(status.failures().is_empty());
    assert_eq!(status.releases()[0].tables, vm_hooks::tables_checksum(&objects::tables().unwrap()));

    // A node configured with another budget follows the chain's, to the same root.
    let mut other = genesis();
    let mut tuned = hook(Budget { max_resources: 1_000, max_bytes: 1 << 10 });
    run_to_the_end(&mut tuned, &mut other);
    assert_eq!(state_root(&other).unwrap(), state_root(&state).unwrap());
}

#[test]
fn reads_and_views_of_groups_and_table_items_see_the_new_layout_before_the_pass() {
    let mut state = genesis();
    let mut node = hook(BUDGET);
    node.maybe_migrate(&mut state, 1).unwrap();
    node.maybe_migrate(&mut state, ACTIVATION).unwrap();
    // The last proposal of the last round and the object of the last user in key order: the
    // pass has not reached them.
    let item = StateKey::TableItem {
        handle: objects::proposals_table(ROUNDS - 1),
        key: (objects::PROPOSALS_PER_ROUND - 1).to_le_bytes().to_vec(),
    };
    let last = (1..=USERS).map(objects::object).max().unwrap();
    let group = StateKey::Group { account: last, tag: objects::tag(OBJECT_GROUP).unwrap() };
    let (_, new) = objects::releases().unwrap();
    let index = ReleaseIndex::new(new.iter(), objects::WIDTH).unwrap();
    let proposal = index.layout_of_struct_tag(&objects::tag(PROPOSAL).unwrap()).unwrap();
    let stored = state.get_key(&item.encode()).unwrap().unwrap();
    assert!(decode(&stored, &proposal).is_err(), "still old");
    // A view changes nothing.
    let root = state_root(&state).unwrap();
    let seen = node.view_key(&state, &item).unwrap().unwrap();
    assert_eq!(decode(&seen, &proposal).unwrap().fields().unwrap().len(), 3);
    let group_seen = node.view_key(&state, &group).unwrap().unwrap();
    assert_eq!(state_root(&state).unwrap(), root);
    // A transaction's read migrates and records the key: the pass leaves it alone.
    let read = node.read_key(&mut state, &item).unwrap().unwrap();
    assert_eq!(read, seen);
    assert_eq!(node.read_key(&mut state, &group).unwrap().unwrap(), group_seen);
    run_to_the_end(&mut node, &mut state);
    assert_eq!(state.get_key(&item.encode()).unwrap().unwrap(), seen, "migrated once, not twice");
    assert_eq!(state.get_key(&group.encode()).unwrap().unwrap(), group_seen);

    // The same chain without the reads ends in the same state but for the status.
    let mut clean = genesis();
    run_to_the_end(&mut hook(BUDGET), &mut clean);
    let status_key = objects::chain(BUDGET).unwrap().status_key.encode();
    let strip = |s: &InMemoryStore| -> Vec<(Vec<u8>, Vec<u8>)> {
        s.iter().filter(|(k, _)| *k != status_key.as_slice()).map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
    };
    assert_eq!(strip(&state), strip(&clean));
}

#[test]
fn a_node_with_another_table_list_refuses_to_run() {
    let mut state = genesis();
    let mut plans = objects::plans(ACTIVATION).unwrap();
    let mut tables = objects::tables().unwrap();
    tables.pop();
    plans[0] = plans[0].clone().with_tables(tables);
    let mut node = Hook::new(plans, objects::config(BUDGET).unwrap(), Box::new(AllowAll)).unwrap();
    let err = node.maybe_migrate(&mut state, 1).unwrap_err();
    assert!(matches!(err, HookError::Consensus(ConsensusError::Catalogue { .. })), "{err}");
    assert_eq!(err.fault(), Fault::Node);
    assert!(err.to_string().contains("tables"), "{err}");
}
