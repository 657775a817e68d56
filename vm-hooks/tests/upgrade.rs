//! The chain upgrades v1 -> v2 -> v3 through the prologue hook: everything migrates, totals are
//! conserved, the status records it, and the result does not depend on budgets or restarts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devchain::support::*;
use migrations::store::Store;
use migrations::AccountAddress;
use migrations::Value;
use vm_hooks::{Budget, Status};

const ACCOUNTS: u32 = 3_000;

fn u128_field(v: &Value, path: &[usize]) -> u128 {
    let mut v = v;
    for &i in path {
        v = &v.fields().unwrap()[i];
    }
    match v {
        Value::U64(n) => u128::from(*n),
        Value::U128(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn genesis_on_v1_upgrades_to_v2_then_v3_with_everything_migrated_and_conserved() {
    let mut store = genesis(ACCOUNTS);
    let v1 = Layouts::of(0);
    let sum_balance_v1: u128 = store
        .scan(&tag(BALANCE_V1), None, usize::MAX)
        .unwrap()
        .iter()
        .map(|(_, b)| u128_field(&v1.decode(BALANCE_V1, b), &[0, 0]))
        .sum();
    let stakes_v1 = store.scan(&tag("0x1::Stake::Stake"), None, usize::MAX).unwrap();
    let (sum_locked_v1, sum_pending_v1): (u128, u128) = stakes_v1.iter().fold((0, 0), |(l, p), (_, b)| {
        let v = v1.decode("0x1::Stake::Stake", b);
        (l + u128_field(&v, &[0, 0]), p + u128_field(&v, &[1]))
    });
    let counts_v1 =
        [BALANCE_V1, "0x1::Wallet::Wallet", "0x1::Vouch::Vouch", "0x1::Stake::Stake"].map(|t| store.count(&tag(t)));

    let budget = Budget { max_resources: 1_000, max_bytes: 64 << 10 };
    let mut hook = hook(budget);
    schedule_at_genesis(&mut hook, &mut store);
    // Before the activation height nothing happens.
    let before = store.clone();
    for r in run_blocks(&mut hook, &mut store, 1, V2_HEIGHT - 1) {
        assert!(r.1.idle, "{r:?}");
    }
    assert_eq!(store, before);

    // The activation block migrates the system account's Epoch, whatever the budget.
    let r = hook.maybe_migrate(&mut store, V2_HEIGHT).unwrap();
    assert_eq!((r.activated, r.system_resources), (1, 1), "{r:?}");
    assert!(store.get(&zero(), &tag("0x1::Epoch::Epoch")).unwrap().is_none());
    let epoch = store.get(&zero(), &tag("0x2::Epoch::Epoch")).unwrap().unwrap();
    let v2 = Layouts::of(1);
    assert_eq!(
        v2.decode("0x2::Epoch::Epoch", &epoch),
        Value::Struct(vec![
            Value::U64(3),
            Value::U64(9),
            Value::Struct(vec![Value::U64(1_000), Value::U64(60)]),
            Value::U64(0)
        ])
    );
    let status = Status::load(&store, &chain()).unwrap();
    assert!(status.has_run("epoch-v2"));
    assert!(!status.has_run("coin-balance-v2"));

    let reports = run_blocks(&mut hook, &mut store, V2_HEIGHT + 1, V3_HEIGHT - 1);
    let busy = reports.iter().filter(|(_, r)| !r.idle).count();
    assert!(busy >= 7, "3000 balances + 3000 wallets + 1000 stakes take at least 7 blocks of 1000, took {busy}");
    assert!(reports.last().unwrap().1.idle);
    let status = Status::load(&store, &chain()).unwrap();
    for id in ["epoch-v2", "coin-balance-v2", "wallet-v2", "stake-v2"] {
        assert!(status.has_run(id), "{id}");
    }
    run_blocks(&mut hook, &mut store, V3_HEIGHT, V3_HEIGHT + 50);
    assert!(hook.all_done());

    // Every resource decodes with the v3 layouts; no old version is left.
    let v3 = Layouts::of(2);
    for old in [
        BALANCE_V1,
        "0x1::Wallet::Wallet",
        "0x4::Wallet::Wallet",
        "0x1::Vouch::Vouch",
        "0x1::Stake::Stake",
        "0x5::Stake::Stake",
        "0x1::Epoch::Epoch",
    ] {
        assert_eq!(store.count(&tag(old)), 0, "{old} left");
    }
    let news = [BALANCE_V2, "0x8::Wallet::Wallet", "0x7::Vouch::Vouch", "0x6::Stake::Stake"];
    assert_eq!(news.map(|t| store.count(&tag(t))), counts_v1);
    let mut sum_balance_v3 = 0u128;
    for t in news {
        for (a, b) in store.scan(&tag(t), None, usize::MAX).unwrap() {
            let v = v3.decode(t, &b);
            if t == BALANCE_V2 {
                sum_balance_v3 += u128_field(&v, &[0, 0]);
            }
            assert_ne!(a, zero());
        }
    }
    assert_eq!(sum_balance_v3, sum_balance_v1, "balances conserved across the u64 -> u128 widening");
    let (mut sum_locked_v3, mut sum_weight) = (0u128, 0u128);
    for (_, b) in store.scan(&tag("0x6::Stake::Stake"), None, usize::MAX).unwrap() {
        let v = v3.decode("0x6::Stake::Stake", &b);
        sum_locked_v3 += u128_field(&v, &[0, 0]);
        sum_weight += u128_field(&v, &[2]);
    }
    assert_eq!(sum_locked_v3, sum_locked_v1);
    assert_eq!(sum_weight, sum_locked_v1 + sum_pending_v1, "weight = locked + pending");
    v3.decode("0x2::Epoch::Epoch", &store.get(&zero(), &tag("0x2::Epoch::Epoch")).unwrap().unwrap());

    // The status: every migration complete with its catalogue checksum, in catalogue order.
    let status = Status::load(&store, &chain()).unwrap();
    assert_eq!(hook.status(), Some(&status));
    let ran: Vec<_> = status.completed().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ran, all_ids());
    let (c2, c3) = (catalogue(0, &devchain::handlers()), catalogue(1, &devchain::handlers()));
    for e in c2.entries.iter().chain(&c3.entries) {
        assert_eq!(status.completion(&e.id).unwrap().checksum, e.checksum, "{}", e.id);
    }
    assert_eq!(status.completion("epoch-v2").unwrap().height, V2_HEIGHT);
    assert!(status.completion("stake-v3").unwrap().height >= V3_HEIGHT);
    assert_eq!(
        status.releases().iter().map(|r| (r.number, r.activated_at)).collect::<Vec<_>>(),
        [(2, V2_HEIGHT), (3, V3_HEIGHT)]
    );
    assert!(status.in_progress().is_empty());
    assert!(status.failures().is_empty());
}

fn final_run(
    budget: Budget,
    v3_height: u64,
    accounts: u32,
) -> (Vec<(migrations::StructTag, AccountAddress, Vec<u8>)>, Status) {
    let mut store = genesis(accounts);
    let mut hook =
        hook_with(plans_with(&devchain::handlers(), V2_HEIGHT, v3_height), budget, 16, Box::new(vm_hooks::AllowAll));
    schedule_at_genesis(&mut hook, &mut store);
    let mut block = 1;
    while !hook.all_done() {
        let r = hook.maybe_migrate(&mut store, block).unwrap();
        assert!(r.resources <= budget.max_resources && (r.bytes <= budget.max_bytes || r.resources == 1), "{r:?}");
        block += 1;
        assert!(block < 100_000);
    }
    (contents(&store), Status::load(&store, &chain()).unwrap())
}

#[test]
fn results_do_not_depend_on_the_budget_or_on_overlapping_releases() {
    let reference = final_run(Budget { max_resources: u64::MAX, max_bytes: u64::MAX }, V3_HEIGHT, 600);
    for (budget, v3_height) in [
        (Budget { max_resources: 7, max_bytes: 1 << 20 }, V3_HEIGHT),
        (Budget { max_resources: 1_000, max_bytes: 100 }, V3_HEIGHT),
        (Budget { max_resources: 64, max_bytes: 2_000 }, V2_HEIGHT + 3),
        (Budget { max_resources: 1, max_bytes: 1 }, V2_HEIGHT + 1),
    ] {
        let (contents, status) = final_run(budget, v3_height, 600);
        assert_eq!(contents.len(), reference.0.len());
        assert!(contents == reference.0, "store differs for {budget:?}, v3 at {v3_height}");
        let ids = |s: &Status| s.completed().iter().map(|c| (c.id.clone(), c.checksum)).collect::<Vec<_>>();
        assert_eq!(ids(&status), ids(&reference.1), "{budget:?}");
        assert!(status.failures().is_empty() && status.in_progress().is_empty());
    }
}

#[test]
fn every_block_respects_the_budget_in_resources_and_bytes() {
    let mut store = genesis(500);
    let budget = Budget { max_resources: 40, max_bytes: 1_000 };
    let mut hook = hook(budget);
    let reports = run_blocks(&mut hook, &mut store, 1, 400);
    assert!(hook.all_done());
    let busy: Vec<_> = reports.iter().filter(|(_, r)| r.resources > 0).collect();
    assert!(busy.iter().all(|(_, r)| r.bytes <= 1_000 && r.resources <= 40));
    // Both bounds bite: some blocks stop at 40 resources, others (wallets, 34 bytes read and
    // written each) at the byte bound with fewer resources.
    assert!(busy.iter().any(|(_, r)| r.resources == 40));
    assert!(busy.iter().any(|(_, r)| r.resources < 40 && r.bytes > 950), "{busy:?}");
    let total: u64 = busy.iter().map(|(_, r)| r.resources).sum();
    assert_eq!(total, 500 + 500 + 166 + 166 + 250 + 500);
}

#[test]
fn calling_the_hook_twice_in_a_block_or_after_a_restart_changes_nothing() {
    let mut store = genesis(400);
    let budget = Budget { max_resources: 50, max_bytes: 1 << 20 };
    let mut hook = hook(budget);
    schedule_at_genesis(&mut hook, &mut store);
    let mut block = 1;
    let mut reference = genesis(400);
    let mut reference_hook = devchain::support::hook(budget);
    schedule_at_genesis(&mut reference_hook, &mut reference);
    while !hook.all_done() {
        let first = hook.maybe_migrate(&mut store, block).unwrap();
        let after_first = store.clone();
        let second = hook.maybe_migrate(&mut store, block).unwrap();
        assert!(second.idle, "block {block}: {second:?}");
        assert_eq!(store, after_first, "block {block}");
        // A restarted node (fresh hook, status read from the store) does nothing for the block
        // either, nor for an earlier one.
        let mut restarted = devchain::support::hook(budget);
        assert!(restarted.maybe_migrate(&mut store, block).unwrap().idle);
        assert!(restarted.maybe_migrate(&mut store, block.saturating_sub(3)).unwrap().idle);
        assert_eq!(store, after_first, "block {block}");
        // Restart every 7th block: the next block resumes from the cursor in the status.
        if block % 7 == 0 {
            hook = restarted;
        }
        let r = reference_hook.maybe_migrate(&mut reference, block).unwrap();
        assert_eq!(r, first, "block {block}");
        block += 1;
    }
    assert_eq!(store, reference, "restarts change nothing, status included");
}

#[test]
fn the_idle_hook_does_not_touch_the_store() {
    // A store that fails every access: the idle path must not reach it.
    #[derive(Debug)]
    struct Unreachable;
    impl Store for Unreachable {
        fn get_key(&self, _: &[u8]) -> Result<Option<Vec<u8>>, migrations::StoreError> {
            panic!("get on the idle path")
        }
        fn scan_keys(
            &self,
            _: &[u8],
            _: Option<&[u8]>,
            _: &mut dyn FnMut(&[u8], &[u8]) -> bool,
        ) -> Result<(), migrations::StoreError> {
            panic!("scan on the idle path")
        }
        fn apply(&mut self, _: migrations::WriteBatch) -> Result<(), migrations::StoreError> {
            panic!("apply on the idle path")
        }
    }
    let mut store = genesis(10);
    let mut hook = devchain::support::hook(Budget::default());
    schedule_at_genesis(&mut hook, &mut store);
    assert!(hook.maybe_migrate(&mut store, 1).unwrap().idle); // loads the status
    for block in 2..V2_HEIGHT {
        assert!(hook.maybe_migrate(&mut Unreachable, block).unwrap().idle);
    }
    run_blocks(&mut hook, &mut store, V2_HEIGHT, V3_HEIGHT + 5);
    assert!(hook.all_done());
    for block in V3_HEIGHT + 6..V3_HEIGHT + 1_000 {
        assert!(hook.maybe_migrate(&mut Unreachable, block).unwrap().idle);
    }
}

/// The whole state — every resource and the on-chain status — has one root whatever budget a
/// node is configured with: the chain's budget is recorded when the releases are scheduled, and
/// every node follows it. And the migrated data is the same whatever budget the chain chose:
/// completions record their release's activation height, not the block they finished in.
#[test]
fn the_full_state_root_is_the_same_for_every_budget() {
    let chain_budget = Budget { max_resources: 13, max_bytes: 1 << 20 };
    let run = |scheduled_with: Budget, configured: Budget| {
        let mut store = genesis(400);
        let mut genesis_hook = hook_with(plans(), scheduled_with, 16, Box::new(vm_hooks::AllowAll));
        schedule_at_genesis(&mut genesis_hook, &mut store);
        let mut hook = hook_with(plans(), configured, 16, Box::new(vm_hooks::AllowAll));
        let mut block = 1;
        while !hook.all_done() {
            hook.maybe_migrate(&mut store, block).unwrap();
            block += 1;
            assert!(block < 100_000);
        }
        if scheduled_with != configured {
            assert!(hook.divergence().iter().any(|d| matches!(d, vm_hooks::Divergence::Budget { .. })));
        }
        store
    };
    let reference = run(chain_budget, chain_budget);
    let root = vm_hooks::state_root::state_root(&reference).unwrap();
    for configured in [
        Budget { max_resources: 1, max_bytes: 1 },
        Budget { max_resources: u64::MAX, max_bytes: u64::MAX },
        Budget { max_resources: 500, max_bytes: 700 },
    ] {
        let store = run(chain_budget, configured);
        assert_eq!(vm_hooks::state_root::state_root(&store).unwrap(), root, "a node configured with {configured:?}");
    }
    for chosen in [Budget { max_resources: 1, max_bytes: 1 }, Budget { max_resources: u64::MAX, max_bytes: u64::MAX }] {
        assert_eq!(contents(&run(chosen, chosen)), contents(&reference), "a chain that chose {chosen:?}");
    }
}

#[test]
fn replaying_the_migrations_on_the_genesis_predicts_the_migrated_state_and_a_second_pass_is_empty() {
    let genesis = genesis(300);
    let mut store = genesis.clone();
    let mut hook = hook(Budget { max_resources: 97, max_bytes: 1 << 20 });
    schedule_at_genesis(&mut hook, &mut store);
    let mut block = 1;
    while !hook.all_done() {
        hook.maybe_migrate(&mut store, block).unwrap();
        block += 1;
    }
    let mut replayed = 0;
    for (t, account, bytes) in genesis.resources(devchain::WIDTH) {
        match hook.replay(&t, bytes, 1) {
            None => assert_eq!(t, tag("0x1::Migrations::Status"), "only the status is not migrated"),
            Some(result) => {
                let (final_tag, final_bytes) = result.unwrap();
                assert_eq!(store.get(&account, &final_tag).unwrap(), Some(final_bytes), "{t} at {account}");
                assert!(store.get(&account, &t).unwrap().is_none());
                replayed += 1;
            }
        }
    }
    assert_eq!(replayed, genesis.len() - 1);
    // Only the v3 migrations, from a v2 state: v2's are not replayed.
    let (v1_balance, _, bytes) = genesis.resources(devchain::WIDTH).find(|(t, _, _)| *t == tag(BALANCE_V1)).unwrap();
    assert!(hook.replay(&v1_balance, bytes, 2).is_none());
    assert!(hook.second_pass(&store).unwrap().is_empty());
    // v2's four, and v3's vouch (Vouch did not change in v2): each reads v1 data.
    assert_eq!(hook.second_pass(&genesis).unwrap().len(), 5);
}
