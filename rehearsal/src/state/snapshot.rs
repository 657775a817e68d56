//! Our own snapshot ([`crate::snapshot`]) as a state source: verified whole (checksum, framing,
//! key order, the state root recomputed) before its first resource is handed on.

use super::{
    At, ChainRoot, Context, ModuleSink, Origin, Problems, Resource, ResourceSink, SourceInfo, StateError, StateSource,
};
use crate::snapshot::{self, SnapshotError, SnapshotInfo};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// A snapshot file.
#[derive(Debug)]
pub struct SnapshotSource {
    path: PathBuf,
    info: SnapshotInfo,
    /// Whether a whole read verified the file (checksum and state root).
    verified: bool,
}

impl SnapshotSource {
    /// Opens `path` and reads its header and footer (checked when the resources are read).
    pub fn open(path: &Path) -> Result<SnapshotSource, StateError> {
        let info = snapshot::read_info(path)?;
        Ok(SnapshotSource { path: path.to_path_buf(), info, verified: false })
    }
}

impl StateSource for SnapshotSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            format: snapshot::FORMAT,
            path: self.path.display().to_string(),
            detail: format!(
                "height {}, {} resources, {}-byte addresses",
                self.info.height, self.info.resources, self.info.address_length
            ),
            width: Some(self.info.address_length),
            chain_root: Some(ChainRoot {
                expected: self.info.state_root.to_string(),
                verified: self.verified,
                scheme: "the snapshot's state root (SHA-256 over the sorted state)".to_owned(),
            }),
            snapshot: Some((self.info.height, self.info.chain.clone())),
        }
    }

    fn modules(&mut self, _visit: ModuleSink<'_>) -> Result<(), StateError> {
        Ok(())
    }

    fn resources(
        &mut self,
        _context: &Context<'_>,
        visit: ResourceSink<'_>,
        _problems: &mut Problems,
    ) -> Result<(), StateError> {
        let file: Rc<Path> = Rc::from(self.path.as_path());
        let mut origin = Origin { file, at: At::Record(0) };
        let mut n = 0u64;
        let mut failed: Option<StateError> = None;
        let result = snapshot::visit(&self.path, &mut |tag, account, bytes| {
            n += 1;
            origin.at = At::Record(n);
            visit(Resource { account: *account, tag, bytes, origin: &origin }).map_err(|e| {
                let reason = e.to_string();
                failed = Some(e);
                SnapshotError::Visit { path: self.path.clone(), reason }
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        self.info = result?;
        self.verified = true;
        Ok(())
    }
}
