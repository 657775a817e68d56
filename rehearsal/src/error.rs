//! What stops a rehearsal.

use crate::state::StateError;
use migrations::store::StoreError;
use snapshot::SnapshotError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RehearsalError {
    #[error(transparent)]
    State(#[from] StateError),
    /// A release that does not load, or has modules that do not read.
    #[error("{}: {reason}", .path.display())]
    Release { path: PathBuf, reason: String },
    /// The declarations or the registry do not parse.
    #[error("{0}")]
    Config(String),
    /// Options that cannot work together.
    #[error("{0}")]
    Options(String),
    /// The scratch store (a machine problem, not the input's).
    #[error("scratch store: {0}")]
    Store(#[from] StoreError),
    /// The hook refused its configuration or failed.
    #[error("migration hook: {0}")]
    Hook(#[from] vm_hooks::HookError),
    #[error("--out: {0}")]
    Out(#[from] SnapshotError),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The migration loop stopped making progress (a bug of the hook or of a policy, not the
    /// input's).
    #[error("the migration loop makes no progress (at block {block})")]
    NoProgress { block: u64 },
    /// A reading or migrating thread failed.
    #[error("a rehearsal thread failed: {0}")]
    Thread(String),
}

impl RehearsalError {
    /// Whether the input is at fault (exit 2) rather than the machine.
    pub fn is_bad_input(&self) -> bool {
        match self {
            RehearsalError::State(e) => e.is_bad_input(),
            RehearsalError::Release { .. } | RehearsalError::Config(_) | RehearsalError::Options(_) => true,
            RehearsalError::Out(e) => e.is_bad_input(),
            RehearsalError::Store(_)
            | RehearsalError::Hook(_)
            | RehearsalError::Io { .. }
            | RehearsalError::NoProgress { .. }
            | RehearsalError::Thread(_) => false,
        }
    }
}
