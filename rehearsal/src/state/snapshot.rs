//! Our own snapshot ([`snapshot`]) as a state source: already in canonical key order, so the
//! rehearsal reads it in place ([`SnapshotSource::snapshot`]) rather than sorting a copy; read as
//! a stream, it is verified whole (framing, key order, the state root) as it goes.

use super::{
    At, ChainRoot, Context, Entry, EntrySink, ModuleSink, Origin, Problems, SourceInfo, StateError, StateSource,
};
use snapshot::{Snapshot, SnapshotError};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A snapshot file, its frame read.
#[derive(Debug)]
pub struct SnapshotSource {
    path: PathBuf,
    snapshot: Snapshot,
    /// Whether a whole read verified the entries (framing, order, the state root).
    verified: bool,
}

impl SnapshotSource {
    /// Opens `path` and reads its frame (the entries are checked when they are read).
    pub fn open(path: &Path) -> Result<SnapshotSource, StateError> {
        let snapshot = Snapshot::open(path)?;
        Ok(SnapshotSource { path: path.to_path_buf(), snapshot, verified: false })
    }

    /// The file, to read in place.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Records that the entries were verified whole (by a pass that recomputed the root).
    pub fn set_verified(&mut self) {
        self.verified = true;
    }
}

impl StateSource for SnapshotSource {
    fn info(&self) -> SourceInfo {
        let info = self.snapshot.info();
        SourceInfo {
            format: snapshot::FORMAT,
            path: self.path.display().to_string(),
            detail: format!("height {}, {} entries, {}-byte addresses", info.height, info.entries, info.address_length),
            width: Some(info.address_length),
            chain_root: Some(ChainRoot {
                expected: info.state_root.to_string(),
                verified: self.verified,
                scheme: "the snapshot's state root (SHA-256 over the sorted state)".to_owned(),
                not_verified: vec![
                    "who wrote the snapshot: it carries a checksum and its root, no signature".to_owned()
                ],
            }),
            snapshot: Some((info.height, info.chain.clone())),
        }
    }

    fn modules(&mut self, _visit: ModuleSink<'_>) -> Result<(), StateError> {
        Ok(())
    }

    fn entries(
        &mut self,
        _context: &Context<'_>,
        visit: EntrySink<'_>,
        _problems: &mut Problems,
    ) -> Result<(), StateError> {
        let file: Rc<Path> = Rc::from(self.path.as_path());
        let mut origin = Origin { file, at: At::Record(0) };
        let mut failed: Option<StateError> = None;
        let result = self.snapshot.visit(&mut |e| {
            origin.at = At::Byte(e.offset);
            visit(Entry { key: e.key, value: e.value, extra: e.extra, origin: &origin }).map_err(|err| {
                let reason = err.to_string();
                failed = Some(err);
                SnapshotError::Visit { path: self.path.clone(), reason }
            })?;
            Ok(true)
        });
        if let Some(e) = failed {
            return Err(e);
        }
        result?;
        self.verified = true;
        Ok(())
    }

    fn in_place(&self) -> Option<&Snapshot> {
        Some(&self.snapshot)
    }
}
