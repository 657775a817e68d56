//! What can go wrong, split the way an operator acts on it: bad input (fix the command or the
//! file: exit 2, nothing was changed) or a failure of the chain or a runbook step (exit 1).

use migrations::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// The command, a file or the data directory is not usable as given. Nothing was changed.
    #[error("{0}")]
    BadInput(String),
    /// A runbook step or the chain failed; the message says what state was left.
    #[error("{0}")]
    Failed(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hook(#[from] vm_hooks::HookError),
    #[error(transparent)]
    Devchain(#[from] devchain::DevchainError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

impl DevnetError {
    pub fn bad_input(message: impl Into<String>) -> DevnetError {
        DevnetError::BadInput(message.into())
    }

    pub fn failed(message: impl Into<String>) -> DevnetError {
        DevnetError::Failed(message.into())
    }

    pub fn io(path: &std::path::Path, source: std::io::Error) -> DevnetError {
        DevnetError::Io { path: path.display().to_string(), source }
    }

    /// The process exit code for this error: 2 for bad input (a snapshot file that is missing
    /// or does not verify, a path that cannot be used as given, a store found damaged), 1 for
    /// everything else (a failed step, a machine that fails: a full disk, an I/O error).
    pub fn exit_code(&self) -> u8 {
        match self {
            DevnetError::BadInput(_) => 2,
            DevnetError::Snapshot(e) if e.is_bad_input() => 2,
            DevnetError::Io { source, .. } if input_files::is_bad_path(source) => 2,
            DevnetError::Store(e) if is_damaged(e) => 2,
            _ => 1,
        }
    }
}

/// Whether the store reported damage to itself (found after it opened: a key or a height that
/// does not decode): the data directory is not usable as it is.
fn is_damaged(e: &StoreError) -> bool {
    use redb_store::RedbStoreError;
    match e {
        StoreError::Backend { source, .. } => {
            matches!(source.downcast_ref(), Some(RedbStoreError::Corrupt { .. } | RedbStoreError::CorruptKey { .. }))
        }
        _ => false,
    }
}
