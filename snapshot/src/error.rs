//! What goes wrong with a snapshot: every error names the file, and a damaged file names the
//! byte offset.

use crate::format::VERSION;
use input_files::InputError;
use migrations::store::StoreError;
use std::io;
use std::path::{Path, PathBuf};
use vm_hooks::StateRoot;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file is not one to read: missing, a directory, a device, a FIFO, too large.
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} already exists: a snapshot never overwrites a file", .0.display())]
    Exists(PathBuf),
    /// Export: another export is writing this partial file.
    #[error("{}: another export is writing it; try again once it has finished", .0.display())]
    InUse(PathBuf),
    #[error("{} is not a devnet snapshot: it does not start with \"MOVE-DEVNET-SNAPSHOT\"", .path.display())]
    NotASnapshot { path: PathBuf },
    #[error("{}: snapshot format version {found}, this devnet reads version {VERSION}", .path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("{}: corrupt snapshot at byte {offset}: {reason}", .path.display())]
    Corrupt { path: PathBuf, offset: u64, reason: String },
    #[error("{}: checksum mismatch: the trailer says SHA-256 {expected}, the content hashes to {found}", .path.display())]
    Checksum { path: PathBuf, expected: String, found: String },
    #[error("{}: state root mismatch: the footer says {expected}, the resources hash to {found}", .path.display())]
    RootMismatch { path: PathBuf, expected: StateRoot, found: StateRoot },
    /// Export: something of the state does not fit the format.
    #[error("{}: not written: {what} is {size} bytes, more than the format's limit of {max}", .path.display())]
    TooLarge { path: PathBuf, what: String, size: u64, max: u64 },
    /// Export: the state did not visit its resources in key order, or holds a bad key.
    #[error("{}: not written: {reason}", .path.display())]
    BadState { path: PathBuf, reason: String },
    /// Import: the second pass did not read what the verification read.
    #[error("{}: the file changed between its verification and the import; the store may hold part of it", .path.display())]
    Changed { path: PathBuf },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// [`visit`](super::visit): the caller's visitor stopped the walk.
    #[error("{}: {reason}", .path.display())]
    Visit { path: PathBuf, reason: String },
}

impl SnapshotError {
    /// Whether the file (or its name) is at fault, rather than the machine: a missing, foreign,
    /// corrupt or changed file, or one that would be overwritten.
    pub fn is_bad_input(&self) -> bool {
        match self {
            SnapshotError::Io { source, .. } => input_files::is_bad_path(source),
            SnapshotError::Input(InputError::Io { source, .. }) => input_files::is_bad_path(source),
            SnapshotError::Input(_)
            | SnapshotError::Exists(_)
            | SnapshotError::InUse(_)
            | SnapshotError::NotASnapshot { .. }
            | SnapshotError::Version { .. }
            | SnapshotError::Corrupt { .. }
            | SnapshotError::Checksum { .. }
            | SnapshotError::RootMismatch { .. }
            | SnapshotError::Changed { .. } => true,
            SnapshotError::TooLarge { .. }
            | SnapshotError::BadState { .. }
            | SnapshotError::Store(_)
            | SnapshotError::Visit { .. } => false,
        }
    }
}

impl SnapshotError {
    /// The same error about `path`: for a snapshot read from a copy of it (a stream copied into
    /// a file first), so that the message names what the operator gave, at the same offsets.
    pub fn about(self, path: &Path) -> SnapshotError {
        let path = path.to_path_buf();
        match self {
            SnapshotError::Io { source, .. } => SnapshotError::Io { path, source },
            SnapshotError::Exists(_) => SnapshotError::Exists(path),
            SnapshotError::InUse(_) => SnapshotError::InUse(path),
            SnapshotError::NotASnapshot { .. } => SnapshotError::NotASnapshot { path },
            SnapshotError::Version { found, .. } => SnapshotError::Version { path, found },
            SnapshotError::Corrupt { offset, reason, .. } => SnapshotError::Corrupt { path, offset, reason },
            SnapshotError::Checksum { expected, found, .. } => SnapshotError::Checksum { path, expected, found },
            SnapshotError::RootMismatch { expected, found, .. } => {
                SnapshotError::RootMismatch { path, expected, found }
            }
            SnapshotError::TooLarge { what, size, max, .. } => SnapshotError::TooLarge { path, what, size, max },
            SnapshotError::BadState { reason, .. } => SnapshotError::BadState { path, reason },
            SnapshotError::Changed { .. } => SnapshotError::Changed { path },
            SnapshotError::Visit { reason, .. } => SnapshotError::Visit { path, reason },
            e @ (SnapshotError::Input(_) | SnapshotError::Store(_)) => e,
        }
    }
}

/// Maps an I/O error on `path`.
pub(crate) fn io_error(path: &Path) -> impl Fn(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.to_path_buf(), source }
}

/// A damaged file: what is wrong at `offset`.
pub(crate) fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt { path: path.to_path_buf(), offset, reason: reason.into() }
}
