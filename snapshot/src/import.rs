//! [`import`]: a snapshot, verified whole, written into a store in batches.

use crate::error::SnapshotError;
use crate::format::{len_u64, SnapshotInfo, STORE_VALUE};
use crate::read::Snapshot;
use migrations::store::{Store, WriteBatch};
use std::path::Path;

/// Verifies `path` whole, so that nothing is written from a bad file, then writes its entries
/// into `store` in batches of at most `per_batch` entries (at least one), calling `progress` with
/// the entries written so far after each batch. Extras (a chain's metadata of values) are not a
/// store's: an import of a snapshot that carries some keeps the values and drops the extras.
///
/// Entries are put on top of what `store` holds: give it an empty store to get the snapshot's
/// state (and root) back.
pub fn import(
    path: &Path,
    store: &mut dyn Store,
    per_batch: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<SnapshotInfo, SnapshotError> {
    let snapshot = Snapshot::open(path)?;
    let mut largest = 0usize;
    snapshot.visit(&mut |e| {
        largest = largest.max(e.value.len());
        Ok(true)
    })?;
    if largest > STORE_VALUE {
        return Err(SnapshotError::TooLarge {
            path: path.to_path_buf(),
            what: "a value (the store's limit)".to_owned(),
            size: len_u64(largest),
            max: len_u64(STORE_VALUE),
        });
    }
    let per_batch = per_batch.max(1);
    let mut batch = WriteBatch::new();
    let mut pending = 0usize;
    let mut written = 0u64;
    let mut store_error = None;
    let mut check = crate::read::Check::new(snapshot.info());
    let range = crate::Range { first: 0, end: snapshot.info().index.len() };
    snapshot.visit_range(range, false, &mut |e| {
        // The second pass reads what the first verified, or the file changed under it.
        check.entry(path, e)?;
        batch.put_key(e.key, e.value.to_vec());
        pending += 1;
        if pending >= per_batch {
            if let Err(err) = store.apply(std::mem::take(&mut batch)) {
                store_error = Some(err);
                return Ok(false);
            }
            written += len_u64(pending);
            pending = 0;
            progress(written);
        }
        Ok(true)
    })?;
    if let Some(e) = store_error {
        return Err(e.into());
    }
    if pending > 0 {
        store.apply(batch)?;
        written += len_u64(pending);
        progress(written);
    }
    if check.finish(path, snapshot.info()).is_err() {
        return Err(SnapshotError::Changed { path: path.to_path_buf() });
    }
    Ok(snapshot.info().clone())
}
