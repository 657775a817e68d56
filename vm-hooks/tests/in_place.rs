//! In-place migrations on a 32-byte chain whose framework lives at `0x1` (devchain's
//! `framework`): the system resource in the activation block, user resources in budgeted
//! chunks, reads and writes during the window decided by the cursor in key order, writes in the
//! old layout refused, the budget recorded on chain, and the same end state for any budget.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devchain::framework::{self, user, ACCOUNT, COIN_STORE, GOVERNANCE, NEW_RELEASE, WIDTH};
use migrations::catalogue::Catalogue;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::{decode, AccountAddress, ReleaseIndex, StructTag};
use vm_hooks::{state_root, AccessError, AllowAll, Budget, Hook, Status};

const USERS: u32 = 300;
const ACTIVATION: u64 = 5;

fn budget(n: u64) -> Budget {
    Budget { max_resources: n, max_bytes: 1 << 20 }
}

fn hook(b: Budget) -> Hook {
    Hook::new(framework::plans(ACTIVATION).unwrap(), framework::config(b).unwrap(), Box::new(AllowAll)).unwrap()
}

fn tag(s: &str) -> StructTag {
    framework::tag(s).unwrap()
}

/// A cursor position: the key of a resource, and so an account.
struct StateKeyOf(Vec<u8>);

impl StateKeyOf {
    fn account(&self) -> AccountAddress {
        *migrations::StateKey::decode(&self.0, WIDTH).unwrap().account().unwrap()
    }
}

fn status(store: &dyn Store) -> Status {
    Status::load(store, &framework::chain(Budget::default()).unwrap()).unwrap()
}

/// What one transform of every genesis resource gives: the state an in-place migration must end
/// in, whatever order or budget it ran with.
fn expected(genesis: &InMemoryStore) -> Vec<(StructTag, AccountAddress, Vec<u8>)> {
    let catalogue: Catalogue = framework::catalogue(&devchain::handlers()).unwrap();
    let mut out = Vec::new();
    for (t, a, bytes) in genesis.resources(WIDTH) {
        let entry = catalogue.entries.iter().find(|e| tag(&format!("{}::{}", e.to, e.struct_name)).name == t.name);
        let new = match entry {
            Some(e) => {
                let instance = catalogue.instance(e, &t.type_args).unwrap();
                assert!(instance.is_in_place());
                let mut out = Vec::new();
                instance.transform(bytes, &mut out).unwrap();
                out
            }
            None => bytes.to_vec(),
        };
        out.push((t, a, new));
    }
    out
}

fn resources(store: &InMemoryStore) -> Vec<(StructTag, AccountAddress, Vec<u8>)> {
    let status = tag(framework::STATUS_TAG);
    store.resources(WIDTH).filter(|(t, _, _)| *t != status).map(|(t, a, b)| (t, a, b.to_vec())).collect()
}

fn run_to_the_end(hook: &mut Hook, store: &mut InMemoryStore, from: u64) -> u64 {
    let mut block = from;
    while !hook.all_done() {
        let r = hook.maybe_migrate(store, block).unwrap();
        assert!(r.resources <= hook.chain().budget.max_resources.max(1), "block {block}: {r:?}");
        block += 1;
        assert!(block < 100_000);
    }
    block
}

#[test]
fn system_part_in_the_activation_block_users_in_chunks_one_end_state_for_any_budget() {
    let genesis = framework::genesis(USERS).unwrap();
    let want = expected(&genesis);
    let (_, new) = framework::releases().unwrap();
    let index = ReleaseIndex::new(new.iter(), WIDTH).unwrap();
    let mut roots = Vec::new();
    for b in [7, 40, 10_000] {
        let mut store = genesis.clone();
        let mut hook = hook(budget(b));
        hook.schedule_all(&mut store).unwrap();
        for block in 1..ACTIVATION {
            assert!(hook.maybe_migrate(&mut store, block).unwrap().idle);
        }
        let first = hook.maybe_migrate(&mut store, ACTIVATION).unwrap();
        assert_eq!((first.activated, first.system_resources), (1, 1), "{first:?}");
        // The framework's config is in its new layout from the activation block on.
        let governance = store.get(&framework::framework(), &tag(GOVERNANCE)).unwrap().unwrap();
        decode(&governance, &index.layout_of_struct_tag(&tag(GOVERNANCE)).unwrap()).unwrap();
        let blocks = run_to_the_end(&mut hook, &mut store, ACTIVATION + 1) - ACTIVATION;
        if b == 7 {
            assert!(blocks > 80, "600 user resources at 7 a block take many blocks ({blocks})");
        }
        assert_eq!(resources(&store), want, "budget {b}");
        for (t, _, bytes) in resources(&store) {
            decode(&bytes, &index.layout_of_struct_tag(&t).unwrap()).unwrap();
        }
        let s = status(&store);
        assert!(s.in_progress().is_empty() && s.failures().is_empty());
        assert_eq!(s.completed().len(), 3);
        assert!(hook.second_pass(&store).unwrap().is_empty(), "a finished in-place migration has nothing left");
        roots.push(resources(&store));
    }
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "the end state depends on the budget");
}

#[test]
fn reads_and_writes_during_the_window_are_decided_by_the_cursor() {
    let genesis = framework::genesis(USERS).unwrap();
    let want = expected(&genesis);
    let mut store = genesis.clone();
    let mut hook = hook(budget(25));
    hook.schedule_all(&mut store).unwrap();
    for block in 1..=ACTIVATION + 1 {
        hook.maybe_migrate(&mut store, block).unwrap();
    }
    let account_tag = tag(ACCOUNT);
    let cursor = status(&store).progress_of("account-7").unwrap().cursor.clone();
    let behind = StateKeyOf(cursor.position.clone().unwrap()).account();
    let mut accounts: Vec<AccountAddress> = (1..=USERS).map(user).collect();
    accounts.sort();
    let ahead = *accounts.last().unwrap();
    assert!(ahead > behind);
    let wanted =
        |a: &AccountAddress, t: &StructTag| want.iter().find(|(wt, wa, _)| wt == t && wa == a).unwrap().2.clone();

    // Behind the cursor: already new, a plain read.
    let before = store.clone();
    assert_eq!(hook.read_resource(&mut store, behind, &account_tag).unwrap().unwrap(), wanted(&behind, &account_tag));
    assert_eq!(store, before);
    // Ahead: migrated on access, recorded as ahead, then passed over by the pass.
    let read = hook.read_resource(&mut store, ahead, &account_tag).unwrap().unwrap();
    assert_eq!(read, wanted(&ahead, &account_tag));
    let cursor = status(&store).progress_of("account-7").unwrap().cursor.clone();
    assert_eq!(
        cursor.ahead.iter().collect::<Vec<_>>(),
        [migrations::state_key::resource_key(&ahead, &account_tag).as_slice()]
    );
    // A second read changes nothing.
    let before = store.clone();
    assert_eq!(hook.read_resource(&mut store, ahead, &account_tag).unwrap().unwrap(), read);
    assert_eq!(store, before);
    // A transaction writes a coin store, in the new layout, ahead of the cursor: it is new.
    let writer = accounts[accounts.len() - 2];
    let store_tag = tag(COIN_STORE);
    let written = wanted(&writer, &store_tag);
    hook.write_resource(&mut store, writer, &store_tag, written.clone()).unwrap();
    // Written in the old layout (built against the release before): refused now.
    let err = hook
        .write_resource_as(&mut store, &upgrade_spec::ReleaseId::numbered(6), writer, &store_tag, vec![0; 9])
        .unwrap_err();
    assert!(matches!(err, AccessError::OldLayout { .. }), "{err}");
    assert!(err.to_string().contains("changed it in place"), "{err}");
    // A key of another width is an error, not a misread.
    let short = AccountAddress::from_u64(9, binary_format::AddressLength::Bytes16);
    assert!(hook.read_resource(&mut store, short, &account_tag).is_err());

    run_to_the_end(&mut hook, &mut store, ACTIVATION + 2);
    // Nothing was transformed twice: the end state is one transform of genesis, and the pass
    // met no bytes it could not read (new bytes read as old would fail, or worse).
    assert_eq!(resources(&store), want);
    let s = status(&store);
    assert!(s.in_progress().is_empty() && s.failures().is_empty(), "{:?}", s.failures());
}

#[test]
fn before_activation_reads_are_old_and_writes_in_the_old_layout_are_taken() {
    let genesis = framework::genesis(20).unwrap();
    let mut store = genesis.clone();
    let mut hook = hook(budget(25));
    hook.schedule_all(&mut store).unwrap();
    hook.maybe_migrate(&mut store, 1).unwrap();
    let account_tag = tag(ACCOUNT);
    let old = genesis.get(&user(3), &account_tag).unwrap().unwrap();
    assert_eq!(hook.read_resource(&mut store, user(3), &account_tag).unwrap().unwrap(), old);
    hook.write_resource_as(&mut store, &upgrade_spec::ReleaseId::numbered(6), user(3), &account_tag, old.clone())
        .unwrap();
    assert_eq!(store.get(&user(3), &account_tag).unwrap().unwrap(), old);
}

#[test]
fn the_recorded_budget_wins_over_a_node_configured_otherwise() {
    let genesis = framework::genesis(USERS).unwrap();
    // The reference: one node with a budget of 10 throughout.
    let mut reference = genesis.clone();
    let mut one = hook(budget(10));
    one.schedule_all(&mut reference).unwrap();
    let mut per_block = Vec::new();
    let mut block = 1;
    while !one.all_done() {
        per_block.push(one.maybe_migrate(&mut reference, block).unwrap().resources);
        block += 1;
    }
    // A node that activated with 10, restarted mid-window with 50 configured: it follows the
    // chain's 10, says so, and ends in the same state at the same block.
    let mut store = genesis.clone();
    let mut first = hook(budget(10));
    first.schedule_all(&mut store).unwrap();
    for b in 1..=ACTIVATION + 3 {
        first.maybe_migrate(&mut store, b).unwrap();
    }
    let mut restarted = hook(budget(50));
    restarted.load(&store).unwrap();
    let mismatch = restarted.divergence();
    assert!(
        matches!(mismatch, [vm_hooks::Divergence::Budget { ours, chain, .. }] if ours.max_resources == 50 && chain.max_resources == 10),
        "{mismatch:?}"
    );
    let mut b = ACTIVATION + 4;
    while !restarted.all_done() {
        let r = restarted.maybe_migrate(&mut store, b).unwrap();
        assert_eq!(r.resources, per_block[(b - 1) as usize], "block {b}");
        b += 1;
    }
    assert_eq!(b, block);
    assert_eq!(state_root(&store).unwrap(), state_root(&reference).unwrap());
}

#[test]
fn a_corrupt_account_is_quarantined_with_its_old_bytes() {
    let mut genesis = framework::genesis(50).unwrap();
    let account_tag = tag(ACCOUNT);
    let mut batch = WriteBatch::new();
    batch.put(user(17), account_tag.clone(), vec![3, 1]);
    genesis.apply(batch).unwrap();
    let mut store = genesis.clone();
    let mut hook = hook(budget(1_000));
    hook.schedule_all(&mut store).unwrap();
    run_to_the_end(&mut hook, &mut store, 1);
    let s = status(&store);
    assert_eq!(s.quarantined("account-7"), 1);
    assert_eq!(store.get(&user(17), &account_tag).unwrap(), Some(vec![3, 1]));
    assert!(s.has_run("account-7"));
    let _ = NEW_RELEASE;
}
