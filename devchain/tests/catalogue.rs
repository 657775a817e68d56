//! The catalogue of the stdlib's own releases: built and validated from the committed
//! declarations, transforms checked on real values against values built in the new layout,
//! and the runner applied to a store of many accounts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::{AddressLength, Module};
use migrations::catalogue::{Catalogue, CatalogueError, Instance};
use migrations::handlers::Handlers;
use migrations::runner::Runner;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::{encode, Layout, Value};
use migrations::{AccountAddress, ChunkEnd, Meter, SystemAccounts};
use upgrade_spec::declarations::Declarations;

fn parse_struct_tag(s: &str) -> Result<migrations::StructTag, migrations::KeyError> {
    migrations::StructTag::parse(s, binary_format::AddressLength::Bytes16)
}

fn release(n: usize) -> Vec<Module> {
    stdlib::embedded::release_modules(n).unwrap()
}

fn declarations() -> Declarations {
    stdlib::embedded::declarations().unwrap()
}

fn catalogue_with(
    old: usize,
    declarations: &Declarations,
    handlers: &Handlers,
) -> Result<Catalogue, Vec<CatalogueError>> {
    let registry = stdlib::embedded::registry().unwrap();
    let (o, n) = (release(old), release(old + 1));
    let (o, n): (Vec<&Module>, Vec<&Module>) = (o.iter().collect(), n.iter().collect());
    let release = upgrade_spec::ReleaseId::numbered(old as u32 + 2);
    Catalogue::builder(&o, &n, release.label(), AddressLength::Bytes16)
        .declarations(declarations)
        .registry(&registry)
        .handlers(handlers)
        .build()
        .map_err(|e| e.0)
}

fn catalogue(old: usize) -> Catalogue {
    devchain::catalogue(old, &devchain::handlers()).unwrap()
}

fn instance(c: &Catalogue, id: &str, args: &[&str]) -> Instance {
    let args: Vec<_> =
        args.iter().map(|a| migrations::TypeTag::Struct(Box::new(parse_struct_tag(a).unwrap()))).collect();
    c.instance(c.entry(id).unwrap(), &args).unwrap()
}

fn bytes(value: Value, layout: &migrations::StructLayout) -> Vec<u8> {
    encode(&value, &Layout::Struct(Box::new(layout.clone()))).unwrap()
}

fn transform(i: &Instance, old: Value) -> Vec<u8> {
    let mut out = Vec::new();
    i.transform(&bytes(old, &i.old_layout), &mut out).unwrap();
    out
}

#[test]
fn every_stdlib_change_has_an_entry() {
    let ids = |c: &Catalogue| c.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&catalogue(0)), ["epoch-v2", "coin-balance-v2", "wallet-v2", "stake-v2"]);
    assert_eq!(ids(&catalogue(1)), ["stake-v3", "vouch-v3", "wallet-v3"]);
    let all: Vec<_> = catalogue(0).entries.iter().chain(&catalogue(1).entries).map(|e| e.checksum).collect();
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
}

#[test]
fn v1_to_v2_values_transcode_to_values_built_in_the_new_layout() {
    let c = catalogue(0);
    let epoch = instance(&c, "epoch-v2", &[]);
    let timer = Value::Struct(vec![Value::U64(1_000), Value::U64(60)]);
    let old = Value::Struct(vec![Value::U64(41), Value::U64(7), timer.clone()]);
    let new = Value::Struct(vec![Value::U64(41), Value::U64(7), timer, Value::U64(0)]);
    assert_eq!(transform(&epoch, old), bytes(new, &epoch.new_layout));

    let balance = instance(&c, "coin-balance-v2", &["0x1::GAS::GAS"]);
    assert_eq!(balance.new_tag.to_string(), "0x3::Coin::Balance<0x1::GAS::GAS>");
    let old = Value::Struct(vec![Value::Struct(vec![Value::U64(u64::MAX)])]);
    let new = Value::Struct(vec![Value::Struct(vec![Value::U128(u128::from(u64::MAX))])]);
    assert_eq!(transform(&balance, old), bytes(new, &balance.new_layout));

    let wallet = instance(&c, "wallet-v2", &[]);
    let value = Value::Struct(vec![Value::Bool(true), Value::U64(250), Value::U64(1_000)]);
    assert_eq!(
        transform(&wallet, value.clone()),
        bytes(value, &wallet.new_layout),
        "a declared rename copies the bytes"
    );

    let stake = instance(&c, "stake-v2", &[]);
    let old = Value::Struct(vec![Value::Struct(vec![Value::U64(500)]), Value::U64(20), Value::U64(9)]);
    let new = Value::Struct(vec![Value::Struct(vec![Value::U128(500)]), Value::U64(20), Value::U64(9)]);
    assert_eq!(transform(&stake, old), bytes(new, &stake.new_layout));
}

#[test]
fn v2_to_v3_values_transcode_including_the_hand_written_weight() {
    let c = catalogue(1);
    let stake = instance(&c, "stake-v3", &[]);
    let old = Value::Struct(vec![Value::Struct(vec![Value::U128(500)]), Value::U64(20), Value::U64(9)]);
    let new = Value::Struct(vec![Value::Struct(vec![Value::U128(500)]), Value::U64(9), Value::U128(520)]);
    assert_eq!(transform(&stake, old), bytes(new, &stake.new_layout));

    let vouch = instance(&c, "vouch-v3", &[]);
    let buddies = Value::Vector(vec![
        Value::Address(binary_format::Address::from_u64(0xa1)),
        Value::Address(binary_format::Address::from_u64(0xb2)),
    ]);
    let old = Value::Struct(vec![buddies.clone(), Value::U64(12)]);
    assert_eq!(transform(&vouch, old), bytes(Value::Struct(vec![buddies]), &vouch.new_layout));

    let wallet = instance(&c, "wallet-v3", &[]);
    let old = Value::Struct(vec![Value::Bool(false), Value::U64(250), Value::U64(1_000)]);
    let new = Value::Struct(vec![Value::Bool(false), Value::U64(1_000), Value::U64(250)]);
    assert_eq!(transform(&wallet, old), bytes(new, &wallet.new_layout));
}

#[test]
fn the_catalogue_refuses_missing_extra_and_broken_entries() {
    let all = declarations();
    let missing = all.edited(|e| e.retain(|d| d.id != "wallet-v2"));
    let errors = catalogue_with(0, &missing, &devchain::handlers()).unwrap_err();
    assert!(
        errors.iter().any(|e| matches!(e, CatalogueError::Undeclared { struct_name, .. } if struct_name == "Wallet")),
        "{errors:?}"
    );

    let mut bogus = all.entries()[0].clone();
    bogus.id = "bogus".into();
    bogus.struct_name = "Timer".into();
    let extra = all.edited(|e| e.push(bogus));
    let errors = catalogue_with(0, &extra, &devchain::handlers()).unwrap_err();
    assert!(errors.iter().any(|e| matches!(e, CatalogueError::NoSuchChange { id, .. } if id == "bogus")), "{errors:?}");

    let no_default = all.edited(|e| e.iter_mut().for_each(|d| d.defaults.clear()));
    let errors = catalogue_with(0, &no_default, &devchain::handlers()).unwrap_err();
    assert!(errors.iter().any(|e| e.to_string().contains("`height` is new")), "{errors:?}");

    let errors = catalogue_with(1, &all, &Handlers::new()).unwrap_err();
    assert!(
        errors.iter().any(|e| matches!(e, CatalogueError::UnknownHandler { handler, .. } if handler == "stake_weight")),
        "{errors:?}"
    );
}

#[test]
fn history_detects_edited_missing_and_reordered_migrations() {
    let (v2, v3) = (catalogue(0), catalogue(1));
    let ran: Vec<_> = v2.entries.iter().chain(&v3.entries).map(|e| (e.id.clone(), e.checksum)).collect();
    assert!(Catalogue::verify_history(&[&v2, &v3], &ran).is_empty());

    let edited = declarations().edited(|e| {
        e.iter_mut().filter(|d| d.id == "epoch-v2").for_each(|d| {
            d.defaults.insert("height".into(), "7".into());
        })
    });
    let v2_edited = catalogue_with(0, &edited, &devchain::handlers()).unwrap();
    let problems = Catalogue::verify_history(&[&v2_edited, &v3], &ran);
    assert!(problems.iter().any(|p| p.contains("`epoch-v2` was edited")), "{problems:?}");

    let mut reordered = ran.clone();
    reordered.swap(0, 1);
    assert!(Catalogue::verify_history(&[&v2, &v3], &reordered).iter().any(|p| p.contains("ordered before")));

    let mut unknown = ran.clone();
    unknown.push(("gone-v9".into(), ran[0].1));
    assert!(Catalogue::verify_history(&[&v2, &v3], &unknown).iter().any(|p| p.contains("no longer in the catalogue")));
}

fn runner_of(c: &Catalogue, id: &str) -> Runner {
    Runner::new(std::sync::Arc::new(c.clone()), id, &system(), migrations::store::DEFAULT_MAX_VALUE_SIZE).unwrap()
}

fn account(n: u32) -> AccountAddress {
    AccountAddress::from_u64(u64::from(n), AddressLength::Bytes16)
}

fn zero() -> AccountAddress {
    AccountAddress::zero(AddressLength::Bytes16)
}

/// The stdlib's system account.
fn system() -> SystemAccounts {
    SystemAccounts::new([zero()])
}

#[test]
fn runner_migrates_in_chunks_reports_corrupt_accounts_and_is_idempotent() {
    let c = catalogue(0);
    let balance = instance(&c, "coin-balance-v2", &["0x1::GAS::GAS"]);
    let mut store = InMemoryStore::new();
    let mut batch = WriteBatch::new();
    for n in 1..=1_000u32 {
        let value = Value::Struct(vec![Value::Struct(vec![Value::U64(u64::from(n) * 3)])]);
        let mut b = bytes(value, &balance.old_layout);
        if n % 250 == 0 {
            b.truncate(5); // corrupt
        }
        batch.put(account(n), balance.old_tag.clone(), b);
    }
    store.apply(batch).unwrap();
    let runner = runner_of(&c, "coin-balance-v2");
    let (mut cursor, mut migrated, mut failed): (Option<Vec<u8>>, u64, Vec<migrations::runner::Failure>) =
        (None, 0, Vec::new());
    loop {
        let report = runner.run(&mut store, cursor.as_deref(), &mut Meter::new(128, u64::MAX)).unwrap();
        migrated += report.migrated;
        failed.extend(report.failed);
        cursor = report.cursor;
        if report.end == ChunkEnd::Exhausted {
            break;
        }
    }
    assert_eq!(migrated, 996);
    assert_eq!(failed.len(), 4);
    assert!(failed[0].reason.contains("byte"), "{}", failed[0].reason);
    assert_eq!(failed[0].account(AddressLength::Bytes16), Some(account(250)));
    // Corrupt accounts keep their old bytes, untouched; the others hold only the new version.
    assert_eq!(store.get(&account(250), &balance.old_tag).unwrap().unwrap().len(), 5);
    assert!(store.get(&account(1), &balance.old_tag).unwrap().is_none());
    let new = store.get(&account(7), &balance.new_tag).unwrap().unwrap();
    let expected = bytes(Value::Struct(vec![Value::Struct(vec![Value::U128(21)])]), &balance.new_layout);
    assert_eq!(new, expected);
    // Running again changes nothing but meeting the same corrupt accounts.
    let before = store.clone();
    let again = runner.run(&mut store, None, &mut Meter::unlimited()).unwrap();
    assert_eq!((again.migrated, again.failed.len(), again.end), (0, 4, ChunkEnd::Exhausted));
    assert_eq!(before, store);
}

#[test]
fn every_instantiation_in_state_is_migrated_without_being_listed() {
    let c = catalogue(0);
    let runner = runner_of(&c, "coin-balance-v2");
    let coins = ["0x1::GAS::GAS", "0xcafe::my_coin::MyCoin", "0x1::Other::Other"];
    let mut store = InMemoryStore::new();
    let mut batch = WriteBatch::new();
    for coin in coins {
        let balance = instance(&c, "coin-balance-v2", &[coin]);
        for n in 1..=50u32 {
            let value = Value::Struct(vec![Value::Struct(vec![Value::U64(u64::from(n))])]);
            batch.put(account(n), balance.old_tag.clone(), bytes(value, &balance.old_layout));
        }
    }
    store.apply(batch).unwrap();
    let chunk = runner.run(&mut store, None, &mut Meter::unlimited()).unwrap();
    assert_eq!((chunk.migrated, chunk.failed.len()), (150, 0));
    for coin in coins {
        let balance = instance(&c, "coin-balance-v2", &[coin]);
        assert_eq!(store.count(&balance.old_tag), 0, "{coin}");
        assert_eq!(store.count(&balance.new_tag), 50, "{coin}");
    }
}

#[test]
fn a_system_entry_cannot_write_user_accounts() {
    let c = catalogue(0);
    let epoch = instance(&c, "epoch-v2", &[]);
    let mut store = InMemoryStore::new();
    let value = Value::Struct(vec![Value::U64(1), Value::U64(2), Value::Struct(vec![Value::U64(3), Value::U64(4)])]);
    let mut batch = WriteBatch::new();
    batch.put(zero(), epoch.old_tag.clone(), bytes(value.clone(), &epoch.old_layout));
    batch.put(account(9), epoch.old_tag.clone(), bytes(value, &epoch.old_layout));
    store.apply(batch).unwrap();
    let runner = runner_of(&c, "epoch-v2");
    let report = runner.run(&mut store, None, &mut Meter::new(10, u64::MAX)).unwrap();
    assert_eq!(report.migrated, 1);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].reason.contains("refused"), "{}", report.failed[0].reason);
    assert!(store.get(&account(9), &epoch.new_tag).unwrap().is_none());
    assert!(store.get(&zero(), &epoch.new_tag).unwrap().is_some());
}

#[test]
fn a_corrupt_bool_is_reported_and_its_account_left_untouched() {
    // `Wallet.frozen` is a bool: a byte other than 0 or 1 does not decode with the old layout, so
    // the derived plan must refuse it rather than copy it into a new resource that does not decode.
    let c = catalogue(1);
    let wallet = instance(&c, "wallet-v3", &[]);
    let good = bytes(Value::Struct(vec![Value::Bool(true), Value::U64(250), Value::U64(1_000)]), &wallet.old_layout);
    let mut corrupt = good.clone();
    corrupt[0] = 2;
    let mut store = InMemoryStore::new();
    let mut batch = WriteBatch::new();
    batch.put(account(1), wallet.old_tag.clone(), good);
    batch.put(account(2), wallet.old_tag.clone(), corrupt.clone());
    store.apply(batch).unwrap();
    let runner = runner_of(&c, "wallet-v3");
    let report = runner.run(&mut store, None, &mut Meter::new(10, u64::MAX)).unwrap();
    assert_eq!(report.migrated, 1);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].reason.contains("not a bool"), "{}", report.failed[0].reason);
    assert_eq!(store.get(&account(2), &wallet.old_tag).unwrap().unwrap(), corrupt);
    assert!(store.get(&account(2), &wallet.new_tag).unwrap().is_none());
}

#[test]
fn entries_run_in_dependency_order_whatever_the_declaration_order() {
    let reversed = declarations().edited(|e| e.reverse());
    let c = catalogue_with(0, &reversed, &devchain::handlers()).unwrap();
    let ids: Vec<&str> = c.entries.iter().map(|e| e.id.as_str()).collect();
    let position = |id: &str| ids.iter().position(|i| *i == id).unwrap();
    // Stake embeds a Coin: the coin's new version is migrated first.
    assert!(position("coin-balance-v2") < position("stake-v2"), "{ids:?}");
}
