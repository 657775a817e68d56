//! The snapshot format as its users rely on it: a state exported and read back is the same state
//! with the same root, read whole, by range on any number of threads, or by key; a damaged file
//! is refused with its offset, never half-imported; a file is never overwritten.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::AddressLength;
use migrations::state_key::{self, KeyKind};
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::{AccountAddress, StateKey, StructTag};
use serde_json::Value;
use snapshot::{export, import, read_info, root_in_parallel, verify, Snapshot, SnapshotError, SnapshotWriter};
use std::fs;
use std::path::{Path, PathBuf};
use vm_hooks::state_root;

const W: AddressLength = AddressLength::Bytes16;
const TAGS: [&str; 4] =
    ["0x1::Coin::Balance<0x1::GAS::GAS>", "0x1::Wallet::Wallet", "0x2::A::A", "0x1::Vouch::Vouch<vector<u8>>"];

fn tag(s: &str) -> StructTag {
    StructTag::parse(s, W).unwrap()
}

/// Resources of four tags, a table and a group over `accounts` accounts.
fn store_with(accounts: u32) -> InMemoryStore {
    let mut batch = WriteBatch::new();
    for (i, t) in TAGS.iter().enumerate() {
        for n in 0..accounts {
            if !(n as usize + i).is_multiple_of(3) || i == 0 {
                let account = AccountAddress::from_u64(u64::from(n).wrapping_mul(0x9e37_79b9) + 1, W);
                batch.put(account, tag(t), vec![n as u8; (n as usize * 7 + i) % 40]);
            }
        }
    }
    let handle = AccountAddress::from_u64(0xabc, W);
    for n in 0..accounts / 2 {
        batch.put_key(StateKey::TableItem { handle, key: n.to_le_bytes().to_vec() }.encode(), vec![n as u8]);
    }
    let group = StateKey::Group { account: AccountAddress::from_u64(7, W), tag: tag("0x1::object::ObjectGroup") };
    batch.put_key(group.encode(), vec![0]);
    let mut store = InMemoryStore::new();
    store.apply(batch).unwrap();
    store
}

fn exported(dir: &Path, store: &InMemoryStore) -> PathBuf {
    let path = dir.join("state.snap");
    export(store, 42, serde_json::json!({"chain": "test"}), W, &path).unwrap();
    path
}

fn one_line(err: &SnapshotError, path: &Path) {
    let m = err.to_string();
    assert!(!m.contains('\n'), "{m}");
    assert!(m.contains(&path.display().to_string()), "{m}");
}

#[test]
fn a_state_round_trips_with_its_root_into_memory_and_redb() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(5_000);
    let path = exported(dir.path(), &store);
    let info = verify(&path).unwrap();
    assert_eq!(info.state_root, state_root(&store).unwrap());
    assert_eq!(info.entries, store.len() as u64);
    assert_eq!(info.height, 42);
    assert_eq!(info.kinds["table_item"], 2_500);
    assert_eq!(info.kinds["group"], 1);
    assert_eq!(info.tags[&tag(TAGS[0]).to_string()], 5_000);
    assert_eq!(read_info(&path).unwrap(), info);
    let mut memory = InMemoryStore::new();
    import(&path, &mut memory, 777, &mut |_| {}).unwrap();
    assert_eq!(memory, store);
    let redb_dir = tempfile::tempdir().unwrap();
    let mut redb = redb_store::RedbStore::open(redb_dir.path()).unwrap();
    import(&path, &mut redb, 1000, &mut |_| {}).unwrap();
    assert_eq!(state_root(&redb).unwrap(), info.state_root);
    // Exporting the same state again gives the same bytes.
    let again = dir.path().join("again.snap");
    export(&redb, 42, serde_json::json!({"chain": "test"}), W, &again).unwrap();
    assert_eq!(fs::read(&again).unwrap(), fs::read(&path).unwrap());
}

#[test]
fn the_root_is_the_same_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(30_000);
    let path = exported(dir.path(), &store);
    let snap = Snapshot::open(&path).unwrap();
    let expected = state_root(&store).unwrap();
    for threads in [1, 2, 3, 5, 8, 64] {
        assert_eq!(root_in_parallel(&snap, threads).unwrap(), expected, "{threads} threads");
    }
}

#[test]
fn a_snapshot_is_a_store_whose_scans_match_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(12_000);
    let path = exported(dir.path(), &store);
    let snap = Snapshot::open(&path).unwrap();
    let collect = |s: &dyn Store, prefix: &[u8], after: Option<&[u8]>, limit: usize| {
        let mut out = Vec::new();
        s.scan_keys(prefix, after, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            out.len() < limit
        })
        .unwrap();
        out
    };
    let wallet = state_key::tag_prefix(KeyKind::Resource, &tag(TAGS[1]));
    let any_coin = state_key::struct_prefix(KeyKind::Resource, &tag(TAGS[0]).module_id(), "Balance", W).unwrap();
    let table = state_key::table_prefix(&AccountAddress::from_u64(0xabc, W));
    for prefix in [vec![], wallet.clone(), any_coin, table, vec![0x02]] {
        assert_eq!(collect(&snap, &prefix, None, usize::MAX), collect(&store, &prefix, None, usize::MAX));
        let all = collect(&store, &prefix, None, usize::MAX);
        for pick in [0usize, 1, 4095, 4096, 7000] {
            if let Some((k, _)) = all.get(pick) {
                assert_eq!(collect(&snap, &prefix, Some(k), 50), collect(&store, &prefix, Some(k), 50), "after {pick}");
            }
        }
    }
    // A scan starting after a key of another prefix (before it, past it, among keys that share
    // more than the prefix's length with each other): nothing of another prefix is visited.
    let everything = collect(&store, &[], None, usize::MAX);
    for prefix in [wallet, vec![0x02], state_key::tag_prefix(KeyKind::Resource, &tag(TAGS[0]))] {
        for pick in [0usize, 10, 5_000, 20_000, 30_000, everything.len() - 2] {
            let after = everything.get(pick).map(|(k, _)| k.as_slice());
            assert_eq!(collect(&snap, &prefix, after, 50), collect(&store, &prefix, after, 50), "after entry {pick}");
        }
    }
    let account = AccountAddress::from_u64(1, W);
    assert_eq!(snap.get(&account, &tag(TAGS[0])).unwrap(), store.get(&account, &tag(TAGS[0])).unwrap());
    assert!(snap.get(&AccountAddress::from_u64(3, W), &tag(TAGS[2])).unwrap().is_none());
}

#[test]
fn every_truncation_and_every_flipped_byte_is_refused_and_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = exported(dir.path(), &store_with(12));
    let bytes = fs::read(&path).unwrap();
    let bad = dir.path().join("bad");
    for len in 0..bytes.len() {
        fs::write(&bad, &bytes[..len]).unwrap();
        let err = verify(&bad).unwrap_err();
        one_line(&err, &bad);
        let mut store = InMemoryStore::new();
        assert!(import(&bad, &mut store, 3, &mut |_| {}).is_err());
        assert!(store.is_empty());
    }
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut damaged = bytes.clone();
            damaged[i] ^= flip;
            fs::write(&bad, &damaged).unwrap();
            let err = verify(&bad).unwrap_err();
            one_line(&err, &bad);
            let mut store = InMemoryStore::new();
            assert!(import(&bad, &mut store, 3, &mut |_| {}).is_err(), "byte {i}");
            assert!(store.is_empty(), "byte {i}");
        }
    }
}

#[test]
fn a_writer_refuses_keys_out_of_order_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.snap");
    let a = state_key::resource_key(&AccountAddress::from_u64(1, W), &tag(TAGS[1]));
    let b = state_key::resource_key(&AccountAddress::from_u64(2, W), &tag(TAGS[1]));
    let mut w = SnapshotWriter::create(&path, 1, Value::Null, W).unwrap();
    w.add(&b, b"x", &[]).unwrap();
    let err = w.add(&a, b"y", &[]).unwrap_err();
    assert!(err.to_string().contains("not in key order"), "{err}");
    drop(w);
    assert!(!path.exists(), "nothing is published from a refused export");
    let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert!(names.is_empty(), "the partial file goes too");
    let mut w = SnapshotWriter::create(&path, 1, Value::Null, W).unwrap();
    let err = w.add(&StateKey::Reserved(b"x".to_vec()).encode(), b"", &[]).unwrap_err();
    assert!(matches!(err, SnapshotError::BadState { .. }), "{err}");
    drop(w);
    fs::write(&path, b"precious").unwrap();
    let err = export(&store_with(3), 1, Value::Null, W, &path).unwrap_err();
    assert!(matches!(err, SnapshotError::Exists(_)), "{err}");
    assert_eq!(fs::read(&path).unwrap(), b"precious");
}

#[test]
fn extras_are_kept_and_committed_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.snap");
    let key =
        StateKey::TableItem { handle: AccountAddress::from_u64(5, AddressLength::Bytes32), key: vec![1] }.encode();
    let mut w = SnapshotWriter::create(&path, 0, Value::Null, AddressLength::Bytes32).unwrap();
    w.add(&key, b"value", b"metadata").unwrap();
    let info = w.finish().unwrap();
    let mut seen = Vec::new();
    snapshot::visit(&path, &mut |e| {
        seen.push((e.key.to_vec(), e.value.to_vec(), e.extra.to_vec()));
        Ok(true)
    })
    .unwrap();
    assert_eq!(seen, vec![(key.clone(), b"value".to_vec(), b"metadata".to_vec())]);
    let mut bare = vm_hooks::RootHasher::new();
    bare.add(&key, b"value");
    assert_ne!(bare.finish(), info.state_root, "the extra is part of the root");
}

#[test]
fn garbage_is_not_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage");
    fs::write(&path, b"SQLite format 3\0 and more bytes than the magic").unwrap();
    assert!(matches!(verify(&path), Err(SnapshotError::NotASnapshot { .. })));
    fs::write(&path, b"").unwrap();
    assert!(matches!(verify(&path), Err(SnapshotError::NotASnapshot { .. })));
    let mut v1 = snapshot::MAGIC.to_vec();
    v1.extend_from_slice(&1u32.to_be_bytes());
    v1.extend_from_slice(&[0; 64]);
    fs::write(&path, &v1).unwrap();
    assert!(matches!(verify(&path), Err(SnapshotError::Version { found: 1, .. })));
    assert!(verify(dir.path()).unwrap_err().is_bad_input());
}
