//! What can go wrong building the synthetic chain.

use migrations::store::StoreError;
use upgrade_spec::registry::ReleaseName;

#[derive(Debug, thiserror::Error)]
pub enum DevchainError {
    #[error("embedded stdlib release {release}: {reason}")]
    Release { release: usize, reason: String },
    #[error("embedded stdlib has no release {0}")]
    UnknownRelease(ReleaseName),
    #[error("catalogue of {release}: {}", .problems.join("; "))]
    Catalogue { release: ReleaseName, problems: Vec<String> },
    #[error("genesis value of {tag}: {reason}")]
    Value { tag: String, reason: String },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{}: {source}", .path.display())]
    Io { path: std::path::PathBuf, source: std::io::Error },
}
