//! Beside the scratch state, on disk, what the rehearsal must remember per key without holding
//! it in memory: the accounts seen (to count them) and the resources that did not decode with
//! the old layouts (so that one still broken after the upgrade is not blamed on it).

use crate::error::{side, RehearsalError};
use redb::{Database, ReadableDatabase, ReadableTableMetadata, TableDefinition};
use std::path::Path;

const ACCOUNTS: TableDefinition<'static, &'static [u8], ()> = TableDefinition::new("accounts");
const BROKEN: TableDefinition<'static, &'static [u8], ()> = TableDefinition::new("broken");

/// The side tables, and the writes waiting for the next commit.
pub struct Side {
    db: Database,
    accounts: Vec<Vec<u8>>,
    broken: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Side").finish_non_exhaustive()
    }
}

impl Side {
    /// Creates the side tables in `dir`, with a page cache of `cache_bytes`.
    pub fn create(dir: &Path, cache_bytes: usize) -> Result<Side, RehearsalError> {
        let db = Database::builder().set_cache_size(cache_bytes).create(dir.join("side.redb")).map_err(side)?;
        let txn = db.begin_write().map_err(side)?;
        txn.open_table(ACCOUNTS).map_err(side)?;
        txn.open_table(BROKEN).map_err(side)?;
        txn.commit().map_err(side)?;
        Ok(Side { db, accounts: Vec::new(), broken: Vec::new() })
    }

    pub fn account(&mut self, account: &[u8]) {
        self.accounts.push(account.to_vec());
    }

    /// A resource (its store key: tag prefix and account) that did not decode before.
    pub fn broken(&mut self, key: Vec<u8>) {
        self.broken.push(key);
    }

    pub fn commit(&mut self) -> Result<(), RehearsalError> {
        if self.accounts.is_empty() && self.broken.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write().map_err(side)?;
        txn.set_durability(redb::Durability::None).map_err(side)?;
        {
            let mut t = txn.open_table(ACCOUNTS).map_err(side)?;
            self.accounts.sort_unstable();
            self.accounts.dedup();
            for a in self.accounts.drain(..) {
                t.insert(a.as_slice(), ()).map_err(side)?;
            }
            let mut t = txn.open_table(BROKEN).map_err(side)?;
            for k in self.broken.drain(..) {
                t.insert(k.as_slice(), ()).map_err(side)?;
            }
        }
        txn.commit().map_err(side)
    }

    pub fn accounts(&self) -> Result<u64, RehearsalError> {
        let txn = self.db.begin_read().map_err(side)?;
        txn.open_table(ACCOUNTS).map_err(side)?.len().map_err(side)
    }

    pub fn was_broken(&self, key: &[u8]) -> Result<bool, RehearsalError> {
        let txn = self.db.begin_read().map_err(side)?;
        Ok(txn.open_table(BROKEN).map_err(side)?.get(key).map_err(side)?.is_some())
    }
}
