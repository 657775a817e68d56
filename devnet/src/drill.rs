//! Drills: a process that aborts at a named point, so that tests (and operators rehearsing a
//! failure) see what a kill there leaves and that the next command recovers from it.
//!
//! `DEVNET_CRASH_AT=genesis` aborts after genesis wrote its first batch (into the staging
//! directory); `export` after a snapshot's first run of records went to its partial file;
//! `backup` after the runbook's backup file is in place and before the journal names it. (A
//! block's prologue has its own drill: [`crate::node::CRASH_ENV`].)

use migrations::store::{Store, StoreError, WriteBatch};

/// The environment variable naming the point to abort at.
pub const CRASH_AT_ENV: &str = "DEVNET_CRASH_AT";

/// Aborts the process if the drill names `point`.
pub(crate) fn crash_point(point: &str) {
    if std::env::var_os(CRASH_AT_ENV).is_some_and(|v| v == point) {
        std::process::abort();
    }
}

/// The state an export reads, with the `export` drill in it: when the drill is set, the process
/// aborts as the scan reaches a second struct tag, once the first tag's run of records has gone
/// to the export's partial file. The snapshot writer knows nothing of drills; the devnet wraps
/// what it exports. Read-only: an export writes nothing to the state.
pub struct ExportDrill<'a>(pub &'a dyn Store);

impl std::fmt::Debug for ExportDrill<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExportDrill")
    }
}

impl Store for ExportDrill<'_> {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get_key(key)
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        if std::env::var_os(CRASH_AT_ENV).is_none_or(|v| v != "export") {
            return self.0.scan_keys(prefix, after, visit);
        }
        let width = devchain::WIDTH.bytes();
        let mut first: Option<Vec<u8>> = None;
        self.0.scan_keys(prefix, after, &mut |key, value| {
            let tag = key.get(..key.len().saturating_sub(width)).unwrap_or_default();
            match &first {
                None => first = Some(tag.to_vec()),
                Some(seen) if seen.as_slice() != tag => std::process::abort(),
                Some(_) => {}
            }
            visit(key, value)
        })
    }

    fn apply(&mut self, _batch: WriteBatch) -> Result<(), StoreError> {
        Err(StoreError::Backend { backend: "export", source: "an export does not write".into() })
    }
}
