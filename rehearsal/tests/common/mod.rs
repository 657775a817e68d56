//! What the rehearsal's behaviour tests share: a devnet genesis as a snapshot, and the options
//! of a rehearsal of the committed stdlib from v1 to v2; a 32-byte framework's state as an
//! Aptos-based backup, and the options of its rehearsal.

#![allow(dead_code, clippy::unwrap_used)]

use rehearsal::Options;
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A devnet genesis of `accounts` (`corrupt` of them stored corrupt), exported as a snapshot
/// in `dir`.
pub fn genesis_snapshot(dir: &Path, accounts: u32, corrupt: u32) -> PathBuf {
    let state = dir.join("state.snap");
    let store = devchain::Genesis { accounts, corrupt }.in_memory().unwrap();
    snapshot::export(&store, 0, serde_json::json!({"test": accounts}), devchain::WIDTH, &state).unwrap();
    state
}

/// A rehearsal of `state` from stdlib v1 to v2 with the committed registry and declarations.
pub fn v1_to_v2(state: &Path) -> Options {
    let mut options = Options::new(state, repo().join("stdlib/releases/v2"));
    options.from = Some(repo().join("stdlib/releases/v1"));
    options.registry = Some(repo().join("stdlib/registry.toml"));
    options.migrations = Some(repo().join("stdlib/migrations.toml"));
    options.handlers = devchain::handlers();
    options
}

/// The 32-byte framework's genesis at `users` accounts (shaped like 0L's libra-framework) with
/// its old release's modules under their code paths, a table item whose types nothing gives,
/// and an object whose resource group holds an `Account`, written as a gzipped `DIEM::`-salted
/// backup in `dir/backup` (`per_chunk` records a chunk); and the options of its rehearsal to
/// the new release (the old one taken from the state).
pub fn framework_backup(dir: &Path, users: u32, per_chunk: usize) -> Options {
    use binary_format::{Address, ModuleId};
    use devchain::framework::{self, WIDTH};
    use migrations::StructTag;
    use rehearsal::state::aptos::writer::{write_backup, Compression, WriteOptions, WriteRecord};
    use rehearsal::state::aptos::{encode_group, AptosStateKey, Metadata, Salt};
    let (new_folder, migrations, old) = framework::write_upgrade(dir).unwrap();
    let store = framework::genesis(users).unwrap();
    let mut records: Vec<WriteRecord> = store
        .resources(WIDTH)
        .map(|(tag, account, bytes)| WriteRecord {
            key: AptosStateKey::resource(account, tag),
            data: bytes.to_vec(),
            metadata: Some(Metadata::V0 { deposit: 50_000, creation_time_usecs: 1 }),
        })
        .collect();
    for (file, bytes) in old {
        let name = file.strip_suffix(".mv").unwrap().to_owned();
        records.push(WriteRecord {
            key: AptosStateKey::module(ModuleId::new(Address::from_u64(1), name)),
            data: bytes,
            metadata: None,
        });
    }
    records.push(WriteRecord {
        key: AptosStateKey::TableItem { handle: [0x33; 32], key: vec![1] },
        data: vec![2],
        metadata: None,
    });
    // An object at an address of its own whose group holds an `Account` (a struct the release
    // changes in place): the member is migrated and the group written back.
    let member = StructTag::parse(framework::ACCOUNT, WIDTH).unwrap();
    let account = migrations::Store::get(&store, &framework::user(3), &member).unwrap().unwrap();
    let group = encode_group([(&member, account.as_slice())]).unwrap();
    let group_tag = StructTag::parse("0x1::object::ObjectGroup", WIDTH).unwrap();
    let object = migrations::AccountAddress::new(&[0x0b; 32]).unwrap();
    records.push(WriteRecord { key: AptosStateKey::group(object, group_tag), data: group, metadata: None });
    let backup = dir.join("backup");
    let options = WriteOptions {
        compression: Compression::Gzip,
        records_per_chunk: per_chunk,
        ..WriteOptions::new(Salt::Diem, 4242)
    };
    write_backup(&backup, records, options).unwrap();
    let mut o = Options::new(&backup, &new_folder);
    o.migrations = Some(migrations);
    o.handlers = devchain::handlers();
    o.system_accounts = vec![Address::from_u64(1)];
    o
}
