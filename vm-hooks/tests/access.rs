//! Reads and writes during the migration window: a read in the new layout migrates the account
//! on the spot, deterministically; writes to closed versions are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devchain::support::*;
use migrations::store::Store;
use migrations::{decode, Value};
use vm_hooks::{AccessError, AllowAll, Budget, Status};

const V3_EARLY: u64 = 30;

fn early_v3_hook(budget: Budget) -> vm_hooks::Hook {
    hook_with(plans_with(&devchain::handlers(), V2_HEIGHT, V3_EARLY), budget, 16, Box::new(AllowAll))
}

#[test]
fn reads_migrate_accounts_the_background_pass_has_not_reached() {
    let budget = Budget { max_resources: 10, max_bytes: 1 << 20 };
    let mut store = genesis(400);
    let mut hook = early_v3_hook(budget);
    run_blocks(&mut hook, &mut store, 1, V2_HEIGHT + 1);
    let v2 = Layouts::of(1);

    // A balance far ahead of the cursor.
    let bytes = hook.read_resource(&mut store, account(350), &tag(BALANCE_V2)).unwrap().unwrap();
    assert_eq!(
        v2.decode(BALANCE_V2, &bytes),
        Value::Struct(vec![Value::Struct(vec![Value::U128(u128::from(balance_of(350)))])])
    );
    assert!(store.get(&account(350), &tag(BALANCE_V1)).unwrap().is_none(), "the old version is gone");
    let status = Status::load(&store, &chain()).unwrap();
    assert_eq!(status.progress_of("coin-balance-v2").unwrap().migrated, 20 + 1, "counted as done");
    // A second read is a plain read.
    let before = store.clone();
    assert_eq!(hook.read_resource(&mut store, account(350), &tag(BALANCE_V2)).unwrap().unwrap(), bytes);
    assert_eq!(store, before);

    // A wallet, whose migration the background pass has not started.
    let wallet = hook.read_resource(&mut store, account(390), &tag("0x4::Wallet::Wallet")).unwrap().unwrap();
    assert_eq!(
        v2.decode("0x4::Wallet::Wallet", &wallet),
        Value::Struct(vec![Value::Bool(true), Value::U64(390 * 3), Value::U64(10_390)])
    );
    // Its record exists since the activation block (it holds the budget), untouched by the pass.
    let progress = Status::load(&store, &chain()).unwrap().progress_of("wallet-v2").cloned().unwrap();
    assert_eq!((progress.migrated, progress.cursor.position.clone(), progress.cursor.height), (1, None, V2_HEIGHT));
    assert_eq!(Status::load(&store, &chain()).unwrap().release(2).unwrap().budget, budget, "the chain's budget");

    // v3 is not active yet.
    let err = hook.read_resource(&mut store, account(391), &tag("0x8::Wallet::Wallet")).unwrap_err();
    assert!(matches!(err, AccessError::NotActive { .. }), "{err}");
    // Nothing there: no resource, and no account.
    assert_eq!(hook.read_resource(&mut store, account(1), &tag("0x1::Vouch::Vouch")).unwrap(), None);
    assert_eq!(hook.read_resource(&mut store, account(9_999), &tag(BALANCE_V2)).unwrap(), None);

    // v3 activates while v2's user migrations still run: a read follows the chain v1 -> v2 -> v3.
    run_blocks(&mut hook, &mut store, V2_HEIGHT + 2, V3_EARLY + 1);
    assert!(store.get(&account(395), &tag("0x1::Wallet::Wallet")).unwrap().is_some());
    let v3 = Layouts::of(2);
    let wallet = hook.read_resource(&mut store, account(395), &tag("0x8::Wallet::Wallet")).unwrap().unwrap();
    assert_eq!(
        v3.decode("0x8::Wallet::Wallet", &wallet),
        Value::Struct(vec![Value::Bool(true), Value::U64(10_395), Value::U64(395 * 3)])
    );
    let stake = hook.read_resource(&mut store, account(399), &tag("0x6::Stake::Stake")).unwrap().unwrap();
    let stake = decode(&stake, &v3.layout("0x6::Stake::Stake")).unwrap();
    let locked = u128::from(399u64 * 11);
    assert_eq!(
        stake,
        Value::Struct(vec![
            Value::Struct(vec![Value::U128(locked)]),
            Value::U64(399 % 50),
            Value::U128(locked + u128::from(pending_of(399)))
        ])
    );
    for old in ["0x1::Wallet::Wallet", "0x4::Wallet::Wallet"] {
        assert!(store.get(&account(395), &tag(old)).unwrap().is_none());
    }
    let status = Status::load(&store, &chain()).unwrap();
    assert_eq!(status.progress_of("wallet-v3").unwrap().migrated, 1);
    assert_eq!(status.progress_of("stake-v3").unwrap().migrated, 1);

    // The end state is the same as without any read: reads only moved work earlier.
    run_blocks(&mut hook, &mut store, V3_EARLY + 2, 1_000);
    assert!(hook.all_done());
    let mut reference = genesis(400);
    let mut reference_hook = early_v3_hook(budget);
    run_blocks(&mut reference_hook, &mut reference, 1, 1_000);
    assert!(contents(&store) == contents(&reference));
    let status = Status::load(&store, &chain()).unwrap();
    assert_eq!(status.completed().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), all_ids());
    assert!(status.in_progress().is_empty() && status.failures().is_empty());
}

#[test]
fn writes_to_closed_versions_are_refused() {
    let mut store = genesis(10);
    let mut hook = hook(Budget::default());
    let value = vec![0u8; 17];
    let write = |hook: &mut vm_hooks::Hook, store: &mut migrations::InMemoryStore, t: &str| {
        hook.write_resource(store, account(1), &tag(t), value.clone())
    };
    // v1: everything at 0x1 is open, later versions are not live yet.
    assert!(write(&mut hook, &mut store, "0x1::Wallet::Wallet").is_ok());
    assert!(matches!(write(&mut hook, &mut store, "0x4::Wallet::Wallet"), Err(AccessError::NotActive { .. })));

    run_blocks(&mut hook, &mut store, 1, V2_HEIGHT);
    let before = store.clone();
    for closed in ["0x1::Wallet::Wallet", BALANCE_V1, "0x1::Stake::Stake", "0x1::Epoch::Epoch"] {
        let err = write(&mut hook, &mut store, closed).unwrap_err();
        assert!(matches!(err, AccessError::Closed { .. }), "{closed}: {err}");
        assert!(err.to_string().contains("closed since release v2"), "{err}");
    }
    assert_eq!(store, before, "refused writes wrote nothing");
    for open in ["0x4::Wallet::Wallet", "0x1::Vouch::Vouch", "0x1::Account::Account", BALANCE_V2] {
        write(&mut hook, &mut store, open).unwrap();
    }
    assert!(matches!(write(&mut hook, &mut store, "0x8::Wallet::Wallet"), Err(AccessError::NotActive { .. })));

    run_blocks(&mut hook, &mut store, V2_HEIGHT + 1, V3_HEIGHT);
    for closed in ["0x4::Wallet::Wallet", "0x1::Vouch::Vouch", "0x5::Stake::Stake", "0x1::Wallet::Wallet"] {
        assert!(matches!(write(&mut hook, &mut store, closed), Err(AccessError::Closed { .. })), "{closed}");
    }
    write(&mut hook, &mut store, "0x8::Wallet::Wallet").unwrap();
    // Each new version records its predecessor.
    assert_eq!(hook.predecessor(&tag("0x8::Wallet::Wallet")), Some(tag("0x4::Wallet::Wallet")));
    assert_eq!(hook.predecessor(&tag("0x4::Wallet::Wallet")), Some(tag("0x1::Wallet::Wallet")));
    assert_eq!(hook.predecessor(&tag(BALANCE_V2)), Some(tag(BALANCE_V1)));
    assert_eq!(hook.predecessor(&tag("0x1::Account::Account")), None);
    let _ = zero();
}
