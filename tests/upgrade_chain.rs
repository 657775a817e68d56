//! A chain that upgrades its stdlib v1 -> v2 -> v3, end to end and across every crate: the
//! release gate passes (compat-checker, with the committed registry and declarations), genesis on
//! v1 with thousands of accounts on the persistent store, v2 and v3 activated at their heights,
//! blocks produced until every migration is done; then every resource decodes with the v3
//! layouts, totals are conserved, the status lists every migration with its catalogue checksum,
//! and the state root is the one an in-memory chain reaches.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::Module;
use devchain::support::*;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::Value;
use redb_store::RedbStore;
use vm_hooks::{state_root, Budget, Hook, Status};

const ACCOUNTS: u32 = 3_000;

#[test]
fn the_release_gate_passes_for_each_upgrade() {
    let registry = stdlib::embedded::registry().unwrap();
    let declarations = stdlib::embedded::declarations().unwrap();
    for old in 0..2 {
        let (o, n) = (release(old), release(old + 1));
        let (o, n): (Vec<&Module>, Vec<&Module>) = (o.iter().collect(), n.iter().collect());
        let options =
            compat_checker::CheckOptions { registry: Some(&registry), declarations: Some(&declarations), config: None };
        // Declarations name the release they belong to: the new release is named as they name it.
        let (from, to) = (format!("v{}", old + 1), format!("v{}", old + 2));
        let (report, _) = compat_checker::check(&from, &o, &to, &n, options);
        assert_eq!(report.verdict, compat_checker::Verdict::UpgradeWithMigrations, "{from} -> {to}");
        // Under another name, no declaration is this release's: the changes are undeclared.
        let (other, _) = compat_checker::check(&from, &o, "v9", &n, options);
        assert_eq!(other.verdict, compat_checker::Verdict::Blocked, "{from} -> v9");
    }
}

/// The budget the chain records for its releases at genesis.
const CHAIN_BUDGET: Budget = Budget { max_resources: 700, max_bytes: 1 << 20 };

fn hook(budget: Budget) -> Hook {
    Hook::new(plans(), config(budget), Box::new(vm_hooks::AllowAll)).unwrap()
}

/// Runs blocks until every migration ends, with a node configured for `budget`: it follows
/// the budget the chain recorded, whatever its own.
fn run_to_the_end(store: &mut dyn Store, budget: Budget) -> u64 {
    let mut hook = hook(budget);
    let mut block = 1;
    while !hook.all_done() {
        let r = hook.maybe_migrate(store, block).unwrap();
        assert!(r.resources <= CHAIN_BUDGET.max_resources, "block {block}: {r:?}");
        block += 1;
        assert!(block < 10_000, "not done by block {block}");
    }
    block
}

#[test]
fn genesis_on_v1_upgrades_to_v3_on_the_persistent_store() {
    let mut genesis = genesis(ACCOUNTS);
    schedule_at_genesis(&mut hook(CHAIN_BUDGET), &mut genesis);
    let dir = tempfile::tempdir().unwrap();
    let mut redb = RedbStore::open(dir.path()).unwrap();
    let mut batch = WriteBatch::new();
    for (key, value) in genesis.iter() {
        batch.put_key(key, value.to_vec());
    }
    redb.apply(batch).unwrap();

    let blocks = run_to_the_end(&mut redb, CHAIN_BUDGET);
    assert!(blocks > V3_HEIGHT, "the migration spans many blocks ({blocks})");

    // Nothing is left in an old version; everything decodes with the v3 layouts.
    let v3 = Layouts::of(2);
    let old = [
        "0x1::Epoch::Epoch",
        BALANCE_V1,
        "0x1::Wallet::Wallet",
        "0x4::Wallet::Wallet",
        "0x1::Vouch::Vouch",
        "0x1::Stake::Stake",
        "0x5::Stake::Stake",
    ];
    for t in old {
        assert!(redb.scan(&tag(t), None, 1).unwrap().is_empty(), "{t} still held");
    }
    let scan_all = |t: &str| redb.scan(&tag(t), None, usize::MAX).unwrap();
    let balances = scan_all(BALANCE_V2);
    assert_eq!(balances.len(), ACCOUNTS as usize);
    let total: u128 = balances
        .iter()
        .map(|(_, b)| match v3.decode(BALANCE_V2, b) {
            Value::Struct(f) => match &f[0] {
                Value::Struct(c) => c[0].as_u128().unwrap(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .sum();
    let expected: u128 = (1..=ACCOUNTS).map(|i| u128::from(balance_of(i))).sum();
    assert_eq!(total, expected, "balances are conserved across the u64 -> u128 widening");
    assert_eq!(scan_all("0x8::Wallet::Wallet").len(), ACCOUNTS as usize);
    assert_eq!(scan_all("0x7::Vouch::Vouch").len(), (ACCOUNTS / 2) as usize);
    for (account, bytes) in scan_all("0x6::Stake::Stake") {
        let n = u32::from_be_bytes(account.as_bytes()[12..].try_into().unwrap());
        let Value::Struct(f) = v3.decode("0x6::Stake::Stake", &bytes) else { panic!() };
        assert_eq!(f[2].as_u128(), Some(u128::from(n) * 11 + u128::from(pending_of(n))), "weight = locked + pending");
    }
    v3.decode("0x2::Epoch::Epoch", &redb.get(&zero(), &tag("0x2::Epoch::Epoch")).unwrap().unwrap());

    // The status lists every migration, with its catalogue checksum.
    let status = Status::load(&redb, &chain()).unwrap();
    let catalogues = [catalogue(0, &devchain::handlers()), catalogue(1, &devchain::handlers())];
    for entry in catalogues.iter().flat_map(|c| &c.entries) {
        assert!(status.has_run(&entry.id), "{} not complete", entry.id);
        let done = status.completed().iter().find(|c| c.id == entry.id).unwrap();
        assert_eq!(done.checksum, entry.checksum, "{}", entry.id);
    }
    assert!(status.failures().is_empty() && status.in_progress().is_empty());

    // An in-memory chain run by nodes configured with another budget reaches the same state
    // root: they follow the chain's.
    let mut memory: InMemoryStore = genesis.clone();
    run_to_the_end(&mut memory, Budget { max_resources: 3_000, max_bytes: 1 << 16 });
    assert_eq!(state_root(&redb).unwrap(), state_root(&memory).unwrap());
}
