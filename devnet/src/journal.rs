//! Where an upgrade runbook is, from its backup on: the journal `devnet upgrade` keeps in the
//! store beside the state, read again by the next run, by `devnet run` (which refuses a chain
//! under way) and by the status view.

use crate::census::Census;
use crate::chain_store::ChainStore;
use crate::error::DevnetError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use crate::chain_store::JOURNAL_KEY;

/// The step a runbook under way is at: migrating forward, or restoring its backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Migrate,
    Rollback,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Migrate => "migrate",
            Phase::Rollback => "rollback",
        }
    }
}

/// Where a runbook is, from its backup on: enough to take it up again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub from: u32,
    pub to: u32,
    pub phase: Phase,
    /// The backup, relative to the data directory.
    pub backup: PathBuf,
    pub backup_height: u64,
    pub backup_root: String,
    pub backup_resources: u64,
    /// The census of the backed-up state.
    pub before: Census,
}

impl Journal {
    /// The journal of the chain in `store`, if a runbook is under way.
    pub fn load(store: &dyn ChainStore) -> Result<Option<Journal>, DevnetError> {
        store.node_value(JOURNAL_KEY)?.map(|bytes| Journal::decode(&bytes)).transpose()
    }

    /// A journal in its stored form.
    pub fn decode(bytes: &[u8]) -> Result<Journal, DevnetError> {
        serde_json::from_slice(bytes)
            .map_err(|e| DevnetError::bad_input(format!("the upgrade journal in the store is corrupt: {e}")))
    }

    pub(crate) fn save(&self, store: &mut dyn ChainStore) -> Result<(), DevnetError> {
        let bytes = serde_json::to_vec(self).map_err(|e| DevnetError::failed(e.to_string()))?;
        Ok(store.set_node_value(JOURNAL_KEY, Some(&bytes))?)
    }
}
