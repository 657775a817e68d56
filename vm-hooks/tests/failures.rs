//! Failures never halt the chain: corrupt accounts are quarantined, a failing transform halts
//! its migration with its chunk rolled back and old data intact, governance decides what next.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devchain::support::*;
use migrations::handlers::{HandlerContext, Handlers};
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::AccountAddress;
use migrations::Value;
use std::sync::{Arc, Mutex};
use upgrade_spec::ReleaseId;
use vm_hooks::{AllowAll, Budget, Decision, HaltedMigration, HookError, Policy, Status};

/// A policy whose answers the test changes as it goes.
#[derive(Debug, Clone)]
struct Governance {
    decision: Arc<Mutex<Decision>>,
    /// Release -> first height it may start.
    start: Arc<Mutex<Vec<(u32, u64)>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Governance {
    fn new(decision: Decision) -> Governance {
        Governance { decision: Arc::new(Mutex::new(decision)), start: Arc::default(), asked: Arc::default() }
    }
}

impl Policy for Governance {
    fn may_start(&self, release: &ReleaseId, height: u64) -> bool {
        self.start.lock().unwrap().iter().all(|&(r, h)| r != release.number() || height >= h)
    }

    fn on_halted(&self, halted: &HaltedMigration<'_>, height: u64) -> Decision {
        self.asked.lock().unwrap().push(format!("{}@{height}: {}", halted.id, halted.reason));
        *self.decision.lock().unwrap()
    }
}

fn always_fails(_: &Value, _: &HandlerContext<'_>) -> Result<Value, String> {
    Err("weight oracle unavailable".into())
}

fn fails_on_multiples_of_seven(old: &Value, cx: &HandlerContext<'_>) -> Result<Value, String> {
    let pending = cx.old_field(old, "pending")?.as_u64().unwrap();
    if pending % 7 == 0 {
        return Err(format!("pending {pending} is a multiple of 7"));
    }
    (devchain::handlers().get("stake_weight").unwrap())(old, cx)
}

fn handlers(f: migrations::handlers::Handler) -> Handlers {
    let mut h = Handlers::new();
    h.register("stake_weight", f);
    h
}

fn stakes(store: &InMemoryStore, t: &str) -> Vec<(AccountAddress, Vec<u8>)> {
    store.scan(&tag(t), None, usize::MAX).unwrap()
}

/// The store after an uninterrupted run with no failures.
fn reference(accounts: u32) -> InMemoryStore {
    let mut store = genesis(accounts);
    let mut hook = devchain::support::hook(Budget::default());
    run_blocks(&mut hook, &mut store, 1, V3_HEIGHT + 10);
    assert!(hook.all_done());
    store
}

#[test]
fn a_failing_transform_halts_its_migration_leaves_old_data_intact_and_the_chain_runs() {
    let mut store = genesis(300);
    let budget = Budget { max_resources: 100, max_bytes: 1 << 20 };
    let governance = Governance::new(Decision::Wait);
    let mut hook =
        hook_with(plans_with(&handlers(always_fails), V2_HEIGHT, V3_HEIGHT), budget, 3, Box::new(governance.clone()));
    run_blocks(&mut hook, &mut store, 1, V3_HEIGHT - 1);
    let before = stakes(&store, "0x5::Stake::Stake");
    assert_eq!(before.len(), 100);
    let reports = run_blocks(&mut hook, &mut store, V3_HEIGHT, V3_HEIGHT + 30);
    assert!(reports[1..].iter().all(|(_, r)| r.halted && r.resources == 0), "{reports:?}");
    let status = Status::load(&store, &chain()).unwrap();
    assert!(status.is_halted("stake-v3"));
    let failure = status.migration_failure("stake-v3").unwrap();
    assert!(failure.reason.contains("weight oracle unavailable"), "{failure:?}");
    assert_eq!(status.quarantined("stake-v3"), 0, "the failing chunk was rolled back, quarantines included");
    assert_eq!(stakes(&store, "0x5::Stake::Stake"), before, "old data intact");
    assert!(stakes(&store, "0x6::Stake::Stake").is_empty());
    // The migrations after it wait; governance was asked every block.
    assert!(!status.has_run("vouch-v3") && !status.has_run("wallet-v3"));
    assert_eq!(store.count(&tag("0x8::Wallet::Wallet")), 0);
    assert_eq!(governance.asked.lock().unwrap().len(), 30);

    // The node ships a fixed handler and restarts; governance says retry.
    *governance.decision.lock().unwrap() = Decision::Retry;
    let mut fixed = hook_with(plans(), budget, 3, Box::new(governance.clone()));
    run_blocks(&mut fixed, &mut store, V3_HEIGHT + 31, V3_HEIGHT + 60);
    assert!(fixed.all_done());
    let status = Status::load(&store, &chain()).unwrap();
    assert!(status.has_run("stake-v3") && status.failures().is_empty(), "{:?}", status.failures());
    assert!(contents(&store) == contents(&reference(300)), "same result as a run that never failed");
}

#[test]
fn a_halt_rolls_back_its_chunk_and_approval_quarantines_the_failing_accounts() {
    let mut store = genesis(300);
    let budget = Budget { max_resources: 10, max_bytes: 1 << 20 };
    let governance = Governance::new(Decision::Wait);
    let mut hook = hook_with(
        plans_with(&handlers(fails_on_multiples_of_seven), V2_HEIGHT, V3_HEIGHT),
        budget,
        2,
        Box::new(governance.clone()),
    );
    run_blocks(&mut hook, &mut store, 1, V3_HEIGHT + 5);
    // Stakes are held by 3, 6, 9...; 21 and 42 fail and are quarantined; 63 is the third
    // failure, over the limit of 2: the chunk 63..=90 is rolled back.
    let status = Status::load(&store, &chain()).unwrap();
    assert!(status.is_halted("stake-v3"));
    let quarantined: Vec<_> = status
        .failures_of("stake-v3")
        .iter()
        .filter(|f| !f.is_migration_failure())
        .map(|f| f.account(devchain::WIDTH).unwrap())
        .collect();
    assert_eq!(quarantined, [account(21), account(42)]);
    let cursor = status.progress_of("stake-v3").unwrap().cursor.clone();
    assert_eq!(cursor.position, Some(migrations::state_key::resource_key(&account(60), &tag("0x5::Stake::Stake"))));
    assert!(!cursor.approved);
    for i in (3..=300).step_by(3) {
        let old = store.get(&account(i), &tag("0x5::Stake::Stake")).unwrap();
        let new = store.get(&account(i), &tag("0x6::Stake::Stake")).unwrap();
        let expect_old = i > 60 || i == 21 || i == 42;
        assert_eq!((old.is_some(), new.is_some()), (expect_old, !expect_old), "account {i}");
    }

    // Governance approves: failing accounts are quarantined and the migration goes on.
    *governance.decision.lock().unwrap() = Decision::Approve;
    run_blocks(&mut hook, &mut store, V3_HEIGHT + 6, V3_HEIGHT + 200);
    assert!(hook.all_done());
    let status = Status::load(&store, &chain()).unwrap();
    assert!(status.has_run("stake-v3") && status.migration_failure("stake-v3").is_none());
    let failing: Vec<_> = (3..=300u32).step_by(3).filter(|&i| pending_of(i).is_multiple_of(7)).map(account).collect();
    let quarantined: Vec<_> =
        status.failures_of("stake-v3").iter().map(|f| f.account(devchain::WIDTH).unwrap()).collect();
    assert_eq!(quarantined, failing);
    assert!(status.failures_of("stake-v3")[0].reason.contains("multiple of 7"));
    // Quarantined accounts keep their v2 stake, byte for byte; everything else is on v3.
    let reference = reference(300);
    for (a, bytes) in stakes(&store, "0x5::Stake::Stake") {
        assert!(failing.contains(&a));
        let v2 = Layouts::of(1).decode("0x5::Stake::Stake", &bytes);
        assert_eq!(
            v2.fields().unwrap()[1],
            Value::U64(pending_of(u32::from_be_bytes(a.as_bytes()[12..].try_into().unwrap())))
        );
    }
    assert_eq!(
        stakes(&store, "0x6::Stake::Stake").len() + failing.len(),
        stakes(&reference, "0x6::Stake::Stake").len()
    );
    assert!(status.has_run("vouch-v3") && status.has_run("wallet-v3"));
}

#[test]
fn a_corrupt_account_is_quarantined_and_the_rest_migrates() {
    let mut store = genesis(200);
    let wallet = tag("0x1::Wallet::Wallet");
    let mut batch = WriteBatch::new();
    batch.put(account(5), wallet.clone(), vec![1, 2, 3]);
    store.apply(batch).unwrap();
    let mut hook = hook(Budget { max_resources: 64, max_bytes: 1 << 20 });
    run_blocks(&mut hook, &mut store, 1, V3_HEIGHT + 20);
    assert!(hook.all_done());
    let status = Status::load(&store, &chain()).unwrap();
    let failures = status.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!((failures[0].migration.as_str(), failures[0].account(devchain::WIDTH)), ("wallet-v2", Some(account(5))));
    assert!(failures[0].reason.contains("byte"), "{}", failures[0].reason);
    assert!(status.has_run("wallet-v2") && status.has_run("wallet-v3"));
    assert_eq!(store.get(&account(5), &wallet).unwrap(), Some(vec![1, 2, 3]), "quarantined bytes untouched");
    assert_eq!(store.count(&tag("0x8::Wallet::Wallet")), 199);
    assert!(store.get(&account(5), &tag(BALANCE_V2)).unwrap().is_some(), "its other resources migrate");
    // Reading it in the new layout reports the quarantine, and changes nothing.
    let before = store.clone();
    let err = hook.read_resource(&mut store, account(5), &tag("0x8::Wallet::Wallet")).unwrap_err();
    assert!(
        matches!(err, vm_hooks::AccessError::Quarantined { ref migration, .. } if migration == "wallet-v2"),
        "{err}"
    );
    assert_eq!(contents(&store), contents(&before));
}

#[test]
fn governance_can_hold_a_release_back() {
    let mut store = genesis(100);
    let governance = Governance::new(Decision::Wait);
    governance.start.lock().unwrap().extend([(2, 50), (3, u64::MAX)]);
    let mut hook = hook_with(plans(), Budget::default(), 16, Box::new(governance.clone()));
    schedule_at_genesis(&mut hook, &mut store);
    let genesis_store = store.clone();
    let reports = run_blocks(&mut hook, &mut store, 1, 49);
    assert_eq!(store, genesis_store, "nothing ran before governance allowed it");
    assert!(reports[(V2_HEIGHT - 1) as usize..].iter().all(|(_, r)| r.denied && r.activated == 0));
    let again = hook.maybe_migrate(&mut store, 49).unwrap();
    assert_eq!(again.activated, 0, "a second call in the block changes nothing");
    assert_eq!(store, genesis_store);
    assert_eq!(hook.status().unwrap().activated(), 0);
    let err = hook.read_resource(&mut store, account(1), &tag("0x4::Wallet::Wallet")).unwrap_err();
    assert!(matches!(err, vm_hooks::AccessError::NotActive { .. }), "{err}");

    run_blocks(&mut hook, &mut store, 50, 400);
    let status = Status::load(&store, &chain()).unwrap();
    let activated: Vec<_> = status.releases().iter().map(|r| (r.number, r.activated_at)).collect();
    assert_eq!(activated, [(2, 50), (3, 0)]);
    assert!(status.has_run("wallet-v2") && !status.has_run("wallet-v3"));
    assert_eq!(store.count(&tag("0x1::Vouch::Vouch")), 50, "v3 held back");
    assert!(!hook.all_done());
}

#[test]
fn a_system_account_that_does_not_migrate_halts_then_is_skipped() {
    let mut store = genesis(100);
    let epoch = tag("0x1::Epoch::Epoch");
    let mut batch = WriteBatch::new();
    batch.put(zero(), epoch.clone(), vec![9; 5]);
    store.apply(batch).unwrap();
    let governance = Governance::new(Decision::Wait);
    let mut hook = hook_with(plans(), Budget::default(), 16, Box::new(governance));
    let reports = run_blocks(&mut hook, &mut store, 1, 30);
    assert!(reports[(V2_HEIGHT - 1) as usize..].iter().all(|(_, r)| r.halted));
    let status = Status::load(&store, &chain()).unwrap();
    assert!(status.is_halted("epoch-v2"));
    let reason = &status.migration_failure("epoch-v2").unwrap().reason;
    assert!(reason.starts_with("system account 0x1::Epoch::Epoch at 0x0:"), "{reason}");
    assert_eq!(store.get(&zero(), &epoch).unwrap(), Some(vec![9; 5]));
    assert_eq!(store.count(&tag(BALANCE_V2)), 0, "the migrations after it wait");

    // A restarted node under the allow-all policy: approving a system failure skips it.
    let mut hook = devchain::support::hook(Budget::default());
    run_blocks(&mut hook, &mut store, 31, V3_HEIGHT + 10);
    assert!(hook.all_done());
    let status = Status::load(&store, &chain()).unwrap();
    assert!(status.is_skipped("epoch-v2") && !status.has_run("epoch-v2"));
    assert!(status.has_run("coin-balance-v2") && status.has_run("wallet-v3"));
    assert_eq!(store.get(&zero(), &epoch).unwrap(), Some(vec![9; 5]));
}

#[test]
fn a_corrupt_or_foreign_status_is_an_error_not_a_panic() {
    let mut store = genesis(10);
    let mut batch = WriteBatch::new();
    batch.put(zero(), tag("0x1::Migrations::Status"), vec![0xff; 7]);
    store.apply(batch).unwrap();
    let before = store.clone();
    let mut hook = devchain::support::hook(Budget::default());
    for block in [1, V2_HEIGHT, V2_HEIGHT + 1] {
        assert!(matches!(hook.maybe_migrate(&mut store, block), Err(HookError::Status(_))));
    }
    assert_eq!(store, before);

    // A status recording a migration with another checksum (the entry was edited after it ran).
    let mut store = genesis(10);
    let mut hook = devchain::support::hook(Budget::default());
    run_blocks(&mut hook, &mut store, 1, V2_HEIGHT);
    let bytes = store.get(&zero(), &tag("0x1::Migrations::Status")).unwrap().unwrap();
    let mut edited = bytes.clone();
    let at = edited.windows(8).position(|w| w == b"epoch-v2").unwrap() + 9; // past the id and the checksum's length
    edited[at] ^= 1;
    let mut batch = WriteBatch::new();
    batch.put(zero(), tag("0x1::Migrations::Status"), edited);
    store.apply(batch).unwrap();
    let mut restarted = devchain::support::hook(Budget::default());
    let err = restarted.maybe_migrate(&mut store, V2_HEIGHT + 1).unwrap_err();
    assert!(matches!(&err, HookError::Consensus(_)) && err.to_string().contains("epoch-v2"), "{err}");
    assert_eq!(err.fault(), vm_hooks::Fault::Node, "this node cannot follow: it stops");
    let _ = AllowAll;
}
