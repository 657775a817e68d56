//! What stops a state from being read: every error names the file, and a damaged file the byte
//! offset or line.

use input_files::InputError;
use snapshot::SnapshotError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A damaged file: what is wrong at `offset`.
    #[error("{}: at byte {offset}: {reason}", .path.display())]
    Corrupt { path: PathBuf, offset: u64, reason: String },
    /// A file that ends early: a stream without its end, a record cut short. Told apart from
    /// [`StateError::Corrupt`] because public archives hold files committed while still being
    /// written, which a reader may read as partial when asked.
    #[error("{}: at byte {offset}: {reason}", .path.display())]
    Truncated { path: PathBuf, offset: u64, reason: String },
    /// A damaged text file: what is wrong on `line`.
    #[error("{}:{line}: {reason}", .path.display())]
    BadLine { path: PathBuf, line: u64, reason: String },
    /// A backup manifest that cannot be used.
    #[error("{}: {reason}", .path.display())]
    Manifest { path: PathBuf, reason: String },
    /// A file the manifest names is not there.
    #[error("{}: names chunk file {} (`{handle}`), which is missing: {reason}", .manifest.display(), .chunk.display())]
    MissingChunk { manifest: PathBuf, handle: String, chunk: PathBuf, reason: String },
    /// The resources do not hash to the root the source states: nothing of it is trusted.
    #[error("{}: state root mismatch: the manifest says {expected}, the records hash to {found}", .path.display())]
    RootMismatch { path: PathBuf, expected: String, found: String },
    /// Not a state this tool reads.
    #[error("{}: {reason}", .path.display())]
    Unsupported { path: PathBuf, reason: String },
    /// The caller's sink failed (the scratch store, a decode cache).
    #[error("{0}")]
    Sink(String),
}

impl StateError {
    /// Whether the input is at fault (exit 2), rather than the machine.
    pub fn is_bad_input(&self) -> bool {
        match self {
            StateError::Input(e) => {
                !matches!(e, InputError::Io { source, .. } if source.kind() != std::io::ErrorKind::NotFound)
            }
            StateError::Io { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            StateError::Snapshot(e) => e.is_bad_input(),
            StateError::Corrupt { .. }
            | StateError::Truncated { .. }
            | StateError::BadLine { .. }
            | StateError::Manifest { .. }
            | StateError::MissingChunk { .. }
            | StateError::RootMismatch { .. }
            | StateError::Unsupported { .. } => true,
            StateError::Sink(_) => false,
        }
    }
}
