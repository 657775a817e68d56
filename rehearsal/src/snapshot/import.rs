//! [`import`]: a snapshot, verified whole, written into a store in batches.

use super::error::SnapshotError;
use super::format::{len_u64, SnapshotInfo};
use super::read::visit;
use migrations::store::{Store, WriteBatch};
use std::path::Path;

/// Verifies `path` whole, so that nothing is written from a bad file, then writes its
/// resources into `store` in batches of at most `resources_per_batch` resources (at least one),
/// calling `progress` with the resources written so far after each batch.
///
/// Resources are put on top of what `store` holds: give it an empty store to get the
/// snapshot's state (and root) back.
pub fn import(
    path: &Path,
    store: &mut dyn Store,
    resources_per_batch: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<SnapshotInfo, SnapshotError> {
    let per_batch = resources_per_batch.max(1);
    let mut batch = WriteBatch::new();
    let mut pending = 0usize;
    let mut written = 0u64;
    let info = visit(path, &mut |tag, account, value| {
        batch.put_ref(*account, tag, value.to_vec());
        pending += 1;
        if pending >= per_batch {
            store.apply(std::mem::take(&mut batch))?;
            written += len_u64(pending);
            pending = 0;
            progress(written);
        }
        Ok(())
    })?;
    if pending > 0 {
        store.apply(batch)?;
        written += len_u64(pending);
        progress(written);
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::super::export::export;
    use super::super::format::{BUFFER, MAGIC, VERSION};
    use super::super::read::{read_info, verify};
    use super::super::testing::parse_struct_tag;
    use super::super::testing::{assert_one_line, chain, exported, store_with, TAGS};
    use super::*;
    use migrations::store::{InMemoryStore, Watched};
    use migrations::AccountAddress;
    use serde_json::Value;
    use std::fs::{self, OpenOptions};
    use std::io::Write;
    use vm_hooks::{state_root, RedbStore};

    #[test]
    fn round_trip_into_memory_and_redb() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(12);
        let root = state_root(&store).unwrap();
        let (path, info) = exported(dir.path(), &store);
        assert_eq!(info.state_root, root);
        assert_eq!(info.resources, store.len() as u64);
        assert_eq!(info.height, 42);
        assert_eq!(info.chain, chain());
        assert_eq!(info.version, VERSION);
        assert_eq!(info.bytes, fs::metadata(&path).unwrap().len());
        assert_eq!(info.tags.len(), TAGS.len());
        for t in TAGS {
            let tag = parse_struct_tag(t).unwrap();
            assert_eq!(info.tags[&tag.to_string()], store.count(&tag) as u64);
        }
        assert_eq!(fs::read(&path).unwrap()[..MAGIC.len()], MAGIC[..]);
        assert_eq!(verify(&path).unwrap(), info);
        assert_eq!(read_info(&path).unwrap(), info);

        let mut memory = InMemoryStore::new();
        let mut calls = Vec::new();
        let imported = import(&path, &mut memory, 5, &mut |n| calls.push(n)).unwrap();
        assert_eq!(imported, info);
        assert_eq!(memory, store);
        assert_eq!(state_root(&memory).unwrap(), root);
        let total = info.resources;
        let expected: Vec<u64> = (1..=total.div_ceil(5)).map(|b| (b * 5).min(total)).collect();
        assert_eq!(calls, expected);

        let redb_dir = tempfile::tempdir().unwrap();
        let mut redb = RedbStore::open(redb_dir.path()).unwrap();
        import(&path, &mut redb, 1000, &mut |_| {}).unwrap();
        assert_eq!(state_root(&redb).unwrap(), root);

        // Export from redb gives the same bytes.
        let again = dir.path().join("again.snap");
        let info_again = export(&redb, 42, chain(), devchain::WIDTH, &again).unwrap();
        assert_eq!(info_again, info);
        assert_eq!(fs::read(&again).unwrap(), fs::read(&path).unwrap());
    }

    #[test]
    fn an_empty_state_exports_and_imports() {
        let dir = tempfile::tempdir().unwrap();
        let empty = InMemoryStore::new();
        let path = dir.path().join("empty.snap");
        let info = export(&empty, 0, Value::Null, devchain::WIDTH, &path).unwrap();
        assert_eq!(info.resources, 0);
        assert!(info.tags.is_empty());
        assert_eq!(info.state_root, state_root(&empty).unwrap());
        assert_eq!(verify(&path).unwrap(), info);
        assert_eq!(read_info(&path).unwrap(), info);
        let mut into = InMemoryStore::new();
        let mut calls = 0;
        assert_eq!(import(&path, &mut into, 10, &mut |_| calls += 1).unwrap(), info);
        assert!(into.is_empty());
        assert_eq!(calls, 0);
    }

    #[test]
    fn a_file_changing_during_the_import_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let tag = parse_struct_tag(TAGS[1]).unwrap();
        let mut batch = WriteBatch::new();
        for n in 0..2_000u16 {
            let mut account = [0u8; 16];
            account[14..].copy_from_slice(&n.to_be_bytes());
            batch.put(AccountAddress::new(&account).unwrap(), tag.clone(), vec![n as u8; 1_000]);
        }
        let mut store = InMemoryStore::new();
        store.apply(batch).unwrap();
        let (path, info) = exported(dir.path(), &store);
        assert!(info.bytes > BUFFER as u64 + 100_000);
        // The first batch damages the file past what the import has read so far.
        let mut meddled = false;
        let mut target = InMemoryStore::new();
        let mut meddler = Watched {
            inner: &mut target,
            watch: |_: &WriteBatch| {
                if !meddled {
                    let mut bytes = fs::read(&path).unwrap();
                    let at = bytes.len() - 100;
                    bytes[at] ^= 0x01;
                    OpenOptions::new().write(true).open(&path).unwrap().write_all(&bytes).unwrap();
                    meddled = true;
                }
                Ok(())
            },
        };
        let err = import(&path, &mut meddler, 100, &mut |_| {}).unwrap_err();
        assert!(matches!(err, SnapshotError::Changed { .. }), "{err}");
        assert_one_line(&err, &path);
        assert!(meddled);
        assert!(matches!(verify(&path), Err(SnapshotError::Checksum { .. })));
    }
}
