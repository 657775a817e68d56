#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Layouts of the real stdlib releases, read from the committed release files.

use binary_format::{Ability, Address, DatatypeRef, ModuleId, Type};
use migrations::value::{decode, encode, DecodeErrorKind};
use migrations::{Layout, ReleaseIndex, Value};
use move_core_types::value::MoveValue;
use std::path::PathBuf;

fn parse_struct_tag(s: &str) -> Result<migrations::StructTag, migrations::KeyError> {
    migrations::StructTag::parse(s, binary_format::AddressLength::Bytes16)
}

fn release(name: &str) -> releases::Release {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../stdlib/releases").join(name);
    let release = releases::load(&path, releases::LoadOptions::default()).unwrap();
    assert!(release.is_complete(), "{:?}", release.failures);
    release
}

fn index(release: &releases::Release) -> ReleaseIndex<'_> {
    ReleaseIndex::new(release.modules.iter().map(|m| &m.module), release.address_length).unwrap()
}

/// Every stored struct of every release resolves, across modules and versioned addresses. v3
/// holds every module version published so far, so its listing shows them all.
#[test]
fn every_stored_struct_of_every_release_resolves() {
    let mut listing = String::new();
    for name in ["v1", "v2", "v3"] {
        let release = release(name);
        let idx = index(&release);
        listing.clear();
        for m in &release.modules {
            for s in m.module.structs.iter().filter(|s| s.abilities.has(Ability::Key)) {
                let args = s.type_params.iter().map(|_| gas()).collect();
                let d = DatatypeRef { module: m.module.id(), name: s.name.clone(), type_args: args };
                let layout = idx.layout_of_datatype(&d).unwrap();
                assert!(migrations::core_types::move_layout(&layout).is_ok(), "{layout}");
                listing.push_str(&format!("{layout}\n"));
            }
        }
    }
    let expected = "\
0x1::Account::Account { authentication_key: vector<u8>, sequence_number: u64 }
0x1::Coin::Balance { coin: 0x1::Coin::Coin { value: u64 } }
0x1::Epoch::Epoch { epoch: u64, round: u64, timer: 0x1::Timer::Timer { started_at: u64, period: u64 } }
0x1::Migrations::Status { releases: vector<0x1::Migrations::Release { number: u64, label: vector<u8>, height: u64, \
activated_at: u64, max_resources: u64, max_bytes: u64, max_quarantined: u64, max_value_size: u64, \
entries: vector<0x1::Migrations::Planned { id: vector<u8>, checksum: vector<u8> }>, tables: vector<u8> }>, \
completed: vector<0x1::Migrations::Completed { id: vector<u8>, checksum: vector<u8>, height: u64 }>, \
in_progress: vector<0x1::Migrations::InProgress { id: vector<u8>, cursor: vector<u8>, migrated: u64 }>, \
failed: vector<0x1::Migrations::Failure { migration: vector<u8>, key: vector<u8>, reason: vector<u8> }> }
0x1::Stake::Stake { locked: 0x1::Coin::Coin { value: u64 }, pending: u64, unlock_epoch: u64 }
0x1::Vouch::Vouch { my_buddies: vector<address16>, epoch_vouched: u64 }
0x1::Wallet::Wallet { frozen: bool, withdrawn: u64, limit: u64 }
0x2::Epoch::Epoch { epoch: u64, round: u64, timer: 0x1::Timer::Timer { started_at: u64, period: u64 }, height: u64 }
0x3::Coin::Balance { coin: 0x3::Coin::Coin { value: u128 } }
0x4::Wallet::Wallet { frozen: bool, total_withdrawn: u64, limit: u64 }
0x5::Stake::Stake { locked: 0x3::Coin::Coin { value: u128 }, pending: u64, unlock_epoch: u64 }
0x6::Stake::Stake { locked: 0x3::Coin::Coin { value: u128 }, unlock_epoch: u64, weight: u128 }
0x7::Vouch::Vouch { my_buddies: vector<address16> }
0x8::Wallet::Wallet { frozen: bool, limit: u64, total_withdrawn: u64 }
";
    assert_eq!(listing, expected);
}

fn gas() -> Type {
    Type::datatype(ModuleId::new(Address::from_u64(1), "GAS"), "GAS", vec![])
}

#[test]
fn balance_of_gas_through_a_struct_tag() {
    let release = release("v2");
    let idx = index(&release);
    let tag = parse_struct_tag("0x3::Coin::Balance<0x1::GAS::GAS>").unwrap();
    let layout = idx.layout_of_struct_tag(&tag).unwrap();
    assert_eq!(layout.to_string(), "0x3::Coin::Balance { coin: 0x3::Coin::Coin { value: u128 } }");
    let old = idx.layout_of_struct_tag(&parse_struct_tag("0x1::Coin::Balance<0x1::GAS::GAS>").unwrap()).unwrap();
    assert_eq!(old.to_string(), "0x1::Coin::Balance { coin: 0x1::Coin::Coin { value: u64 } }");
    // The tag and our datatype agree.
    let d =
        DatatypeRef { module: ModuleId::parse("0x3::Coin").unwrap(), name: "Balance".into(), type_args: vec![gas()] };
    assert_eq!(migrations::StructTag::from_datatype(&d, binary_format::AddressLength::Bytes16).unwrap(), tag);
    // A struct the release does not have is named.
    let err = idx.layout_of_struct_tag(&parse_struct_tag("0x6::Stake::Stake").unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "module 0x6::Stake is not in the release");
}

#[test]
fn corrupt_stake_bytes_say_where() {
    let release = release("v1");
    let idx = index(&release);
    let layout = idx.layout_of_struct_tag(&parse_struct_tag("0x1::Stake::Stake").unwrap()).unwrap();
    let value = Value::Struct(vec![Value::Struct(vec![Value::U64(1_000)]), Value::U64(20), Value::U64(7)]);
    let bytes = encode(&value, &layout).unwrap();
    assert_eq!(decode(&bytes, &layout).unwrap(), value);
    let err = decode(&bytes[..5], &layout).unwrap_err();
    assert_eq!(err.to_string(), "byte 0 in Stake.locked.value: 8 bytes needed, 5 left");
    let err = decode(&bytes[..20], &layout).unwrap_err();
    assert_eq!(err.to_string(), "byte 16 in Stake.unlock_epoch: 8 bytes needed, 4 left");
    let mut longer = bytes.clone();
    longer.extend([1, 2]);
    assert_eq!(decode(&longer, &layout).unwrap_err().kind, DecodeErrorKind::TrailingBytes { count: 2 });
    // move-core-types reads the same bytes the same way.
    let move_layout = migrations::core_types::move_layout(&layout).unwrap();
    let mv = MoveValue::simple_deserialize(&bytes, &move_layout).unwrap();
    assert_eq!(migrations::core_types::value_of(mv, &layout).unwrap(), value);
}

#[test]
fn vectors_of_nested_structs_in_the_migration_status() {
    let release = release("v1");
    let idx = index(&release);
    let layout = idx.layout_of_struct_tag(&parse_struct_tag("0x1::Migrations::Status").unwrap()).unwrap();
    let Layout::Struct(s) = &layout else { panic!("{layout}") };
    assert_eq!(
        s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["releases", "completed", "in_progress", "failed"]
    );
    let failure =
        Value::Struct(vec![Value::Bytes(b"coin".to_vec()), Value::Bytes((0..16).collect()), Value::Vector(vec![])]);
    let value = Value::Struct(vec![
        Value::Vector(vec![]),
        Value::Vector(vec![]),
        Value::Vector(vec![]),
        Value::Vector(vec![failure]),
    ]);
    let bytes = encode(&value, &layout).unwrap();
    assert_eq!(bytes.len(), 3 + 1 + 5 + 17 + 1);
    let err = decode(&bytes[..bytes.len() - 1], &layout).unwrap_err();
    assert_eq!(err.to_string(), "byte 26 in Status.failed[0].reason: 1 bytes needed, 0 left");
}
