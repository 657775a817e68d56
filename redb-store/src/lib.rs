//! The persistent store: [`Store`] on [`redb`].
//!
//! redb was chosen because it is a pure-Rust embedded database (no C dependency, nothing to link
//! or build beyond Cargo) with ACID transactions over copy-on-write B-trees, so a commit either
//! lands whole or not at all and a process killed at any point reopens to the last commit.
//!
//! One table maps canonical state keys ([`migrations::state_key`]) to values, so redb's order is
//! the state's: [`Store::scan_keys`] is one range read that visits only what it returns. One
//! [`Store::apply`] is one write transaction, committed with redb's default durability (fsync
//! before the commit returns) unless the store is a scratch one.
//!
//! A node may use any store; this one is what the devnet and the tests run on, and what a node
//! without a store of its own can embed. Its page cache is a setting ([`RedbOptions`]), so that
//! a node's memory stays what its operator gave it, whatever the size of the state.

use migrations::state_key::ScanRange;
use migrations::store::{Store, StoreError, StoreVersion, Write, WriteBatch, DEFAULT_MAX_VALUE_SIZE};
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use std::path::{Path, PathBuf};

const BACKEND: &str = "redb";

/// The database file inside the data directory.
pub const DB_FILE: &str = "state.redb";

/// The state: canonical key -> value. (Named for what it holds since the state holds more than
/// resources; a file of the earlier `resources` table is not this store's.)
const STATE: TableDefinition<'static, &'static [u8], &'static [u8]> = TableDefinition::new("state");

/// Node metadata beside the state: the height of the last block committed, and what the node
/// keeps under its own keys (its configuration, a journal). Not part of the state (nor of its
/// root), as a node's block store is not; kept in the same file so that one transaction (and
/// one file) holds both.
const NODE: TableDefinition<'static, &'static str, &'static [u8]> = TableDefinition::new("node");
const HEIGHT_KEY: &str = "height";

/// Why the store could not be opened or used, beyond redb's own errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedbStoreError {
    /// The data directory (or, for [`RedbStore::open_existing`], the database file in it) is
    /// missing.
    #[error("data directory {} does not exist or is not a directory", .0.display())]
    MissingDataDir(PathBuf),
    /// redb could not open or create the file.
    #[error("cannot open the database {}: {source}", .path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// redb's error.
        source: redb::DatabaseError,
    },
    /// Another process (or another `RedbStore` in this one) has the file open.
    #[error("the database {} is in use by another process", .0.display())]
    InUse(PathBuf),
    /// The file failed redb's integrity check on open.
    #[error("the database {} is corrupt: {reason}", .path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// redb's finding.
        reason: String,
    },
    /// A stored key that is not a tag prefix and an account (or a node value that is not what
    /// the store wrote): the file was written by something else, or damaged.
    #[error("corrupt key of {len} bytes in the resources table: {reason}")]
    CorruptKey {
        /// The key's length in bytes.
        len: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A write the store refuses before it reaches redb (a node value under the reserved key
    /// `height`).
    #[error("refused: {0}")]
    Refused(String),
}

fn backend(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Backend { backend: BACKEND, source: Box::new(e.into()) }
}

fn own(e: RedbStoreError) -> StoreError {
    StoreError::Backend { backend: BACKEND, source: Box::new(e) }
}

/// redb's page cache a store takes unless told otherwise: sized for a node (the pages a block
/// reads and writes, and the upper levels of the tree, stay warm), not redb's own default of
/// 1 GiB, which a node's memory grows to as its state grows (a devnet of 1,000,000 accounts
/// peaked at 521 MB, of 3,000,000 at 1.1 GB, with it).
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// How a [`RedbStore`] is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedbOptions {
    /// Largest resource accepted, in bytes.
    pub max_value_size: usize,
    /// redb's page cache (read cache and write buffer together), in bytes: it bounds what the
    /// store holds in memory however large the state ([`DEFAULT_CACHE_BYTES`] by default).
    pub cache_bytes: usize,
    /// Whether every commit reaches the disk before it returns (a node's store). A scratch
    /// store (a rehearsal's) turns it off and calls [`RedbStore::flush`] once at the end: a
    /// crash may then lose recent commits, never corrupt the file.
    pub durable: bool,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions { max_value_size: DEFAULT_MAX_VALUE_SIZE, cache_bytes: DEFAULT_CACHE_BYTES, durable: true }
    }
}

/// Resources in a redb database, in one data directory.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    max_value_size: usize,
    durable: bool,
    /// What [`Store::version`] gives. Every write to the state goes through this value (redb
    /// holds the file for one `Database` at a time), so counting its batches is enough.
    version: StoreVersion,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").field("path", &self.path).field("max_value_size", &self.max_value_size).finish()
    }
}

impl RedbStore {
    /// Opens (creating if absent) the database in the existing directory `dir`.
    pub fn open(dir: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_with_max_value_size(dir, DEFAULT_MAX_VALUE_SIZE)
    }

    /// As [`RedbStore::open`], refusing resources larger than `max_value_size` bytes.
    pub fn open_with_max_value_size(dir: &Path, max_value_size: usize) -> Result<RedbStore, StoreError> {
        RedbStore::open_with(dir, RedbOptions { max_value_size, ..RedbOptions::default() })
    }

    /// Opens (creating if absent) the database in the existing directory `dir` with `options`.
    pub fn open_with(dir: &Path, options: RedbOptions) -> Result<RedbStore, StoreError> {
        if !dir.is_dir() {
            return Err(own(RedbStoreError::MissingDataDir(dir.to_path_buf())));
        }
        let path = dir.join(DB_FILE);
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(&path)
            .map_err(|source| own(RedbStoreError::Open { path: path.clone(), source }))?;
        let RedbOptions { max_value_size, durable, .. } = options;
        // The table exists from the start, so readers never meet a missing table.
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(STATE).map_err(backend)?;
        txn.open_table(NODE).map_err(backend)?;
        txn.commit().map_err(backend)?;
        Ok(RedbStore { db, path, max_value_size, durable, version: StoreVersion::new() })
    }

    /// Makes every commit so far durable (one commit that syncs): what a store opened without
    /// durability does before its file is used elsewhere.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write().map_err(backend)?;
        txn.set_durability(Durability::Immediate).map_err(|e| own(RedbStoreError::Refused(e.to_string())))?;
        txn.commit().map_err(backend)
    }

    /// Opens the database in `dir`, which must exist, be a database and pass redb's integrity
    /// check: never creates one (redb itself may rewrite its header on open).
    pub fn open_existing(dir: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_existing_with(dir, RedbOptions::default())
    }

    /// As [`RedbStore::open_existing`], with `options` (its page cache bounds the integrity
    /// check's reading too: it visits every page once).
    pub fn open_existing_with(dir: &Path, options: RedbOptions) -> Result<RedbStore, StoreError> {
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            return Err(own(RedbStoreError::MissingDataDir(path)));
        }
        let mut db =
            Database::builder().set_cache_size(options.cache_bytes).open(&path).map_err(|source| match source {
                redb::DatabaseError::DatabaseAlreadyOpen => own(RedbStoreError::InUse(path.clone())),
                source => own(RedbStoreError::Open { path: path.clone(), source }),
            })?;
        // redb trusts its pages once open (a damaged one can make it panic): check them all
        // first, so that a corrupt file is an error, never a panic later.
        let corrupt = |reason: String| own(RedbStoreError::Corrupt { path: path.clone(), reason });
        // `Ok(false)`: damaged, and repaired from redb's second commit slot (the last commit
        // before the damage), which is what a crash-safe store promises.
        db.check_integrity().map_err(|e| corrupt(e.to_string()))?;
        {
            let txn = db.begin_read().map_err(backend)?;
            txn.open_table(STATE).map_err(backend)?;
            txn.open_table(NODE).map_err(backend)?;
        }
        let RedbOptions { max_value_size, durable, .. } = options;
        Ok(RedbStore { db, path, max_value_size, durable, version: StoreVersion::new() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Visits every entry (canonical key and value) in key order.
    pub fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), StoreError> {
        self.scan_keys(&[], None, &mut |k, v| {
            visit(k, v);
            true
        })
    }
}

impl Store for RedbStore {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(STATE).map_err(backend)?;
        Ok(table.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let range = ScanRange::new(prefix, after);
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(STATE).map_err(backend)?;
        for entry in table.range::<&[u8]>(range.bounds()).map_err(backend)? {
            let (k, v) = entry.map_err(backend)?;
            if !visit(k.value(), v.value()) {
                break;
            }
        }
        Ok(())
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.commit(batch, None)
    }

    fn version(&self) -> Option<StoreVersion> {
        Some(self.version)
    }
}

impl RedbStore {
    /// Applies `batch` and records `height` as the last block committed, in one transaction: a
    /// node that crashes resumes after the last block whose writes landed, never in between.
    pub fn apply_at_height(&mut self, batch: WriteBatch, height: u64) -> Result<(), StoreError> {
        self.commit(batch, Some(height))
    }

    /// The height recorded by the last [`RedbStore::apply_at_height`] (0 before any).
    pub fn height(&self) -> Result<u64, StoreError> {
        match self.node_value(HEIGHT_KEY)? {
            None => Ok(0),
            Some(bytes) => bytes.as_slice().try_into().map(u64::from_be_bytes).map_err(|_| {
                own(RedbStoreError::CorruptKey {
                    len: bytes.len(),
                    reason: "the recorded height is not 8 bytes".into(),
                })
            }),
        }
    }

    /// The node's value under `key` (see [`RedbStore::set_node_value`]).
    pub fn node_value(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(NODE).map_err(backend)?;
        Ok(table.get(key).map_err(backend)?.map(|v| v.value().to_vec()))
    }

    /// Sets (or, with `None`, removes) the node's value under `key`, in one transaction. The key
    /// `height` is the store's own.
    pub fn set_node_value(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), StoreError> {
        if key == HEIGHT_KEY {
            return Err(own(RedbStoreError::Refused(format!("`{HEIGHT_KEY}` is set by apply_at_height only"))));
        }
        let txn = self.db.begin_write().map_err(backend)?;
        {
            let mut table = txn.open_table(NODE).map_err(backend)?;
            match value {
                Some(v) => {
                    table.insert(key, v).map_err(backend)?;
                }
                None => {
                    table.remove(key).map_err(backend)?;
                }
            }
        }
        txn.commit().map_err(backend)
    }

    /// Applies `batch` and sets the node's value under `key` (see
    /// [`RedbStore::set_node_value`]), in one transaction: a node's record of a decision lands
    /// with the state the decision wrote, or neither does.
    pub fn apply_with_node_value(&mut self, batch: WriteBatch, key: &str, value: &[u8]) -> Result<(), StoreError> {
        if key == HEIGHT_KEY {
            return Err(own(RedbStoreError::Refused(format!("`{HEIGHT_KEY}` is set by apply_at_height only"))));
        }
        self.write(batch, None, Some((key, value)))
    }

    fn commit(&mut self, batch: WriteBatch, height: Option<u64>) -> Result<(), StoreError> {
        self.write(batch, height, None)
    }

    fn write(&mut self, batch: WriteBatch, height: Option<u64>, node: Option<(&str, &[u8])>) -> Result<(), StoreError> {
        batch.validate(self.max_value_size)?;
        if batch.is_empty() && height.is_none() && node.is_none() {
            return Ok(());
        }
        // Moved before the write is tried: a write that fails halfway (its transaction aborted)
        // costs a reader one comparison, never a stale answer.
        self.version.applied += 1;
        // Dropping the transaction without commit (on any error below) aborts it.
        let mut txn = self.db.begin_write().map_err(backend)?;
        if !self.durable {
            txn.set_durability(Durability::None).map_err(|e| own(RedbStoreError::Refused(e.to_string())))?;
        }
        {
            let mut table = txn.open_table(STATE).map_err(backend)?;
            let mut writes = batch.into_writes();
            while let Some((key, write)) = writes.next_entry() {
                match write {
                    Write::Put(bytes) => {
                        table.insert(key, bytes.as_slice()).map_err(backend)?;
                    }
                    Write::Delete => {
                        table.remove(key).map_err(backend)?;
                    }
                }
            }
        }
        if height.is_some() || node.is_some() {
            let mut table = txn.open_table(NODE).map_err(backend)?;
            if let Some(height) = height {
                table.insert(HEIGHT_KEY, height.to_be_bytes().as_slice()).map_err(backend)?;
            }
            if let Some((key, value)) = node {
                table.insert(key, value).map_err(backend)?;
            }
        }
        txn.commit().map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::AddressLength;
    use migrations::{AccountAddress, StructTag};

    fn tag_of(s: &str, width: AddressLength) -> StructTag {
        StructTag::parse(s, width).unwrap()
    }

    fn filled(n: u8, width: AddressLength) -> AccountAddress {
        AccountAddress::new(&vec![n; width.bytes()]).unwrap()
    }

    #[test]
    fn a_32_byte_chain_scans_in_address_order_and_refuses_mixed_widths() {
        let w = AddressLength::Bytes32;
        let dir = tempfile::tempdir().unwrap();
        let mut store = RedbStore::open(dir.path()).unwrap();
        let tag = tag_of("0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>", w);
        let mut batch = WriteBatch::new();
        for n in [9u8, 1, 0xff, 3] {
            batch.put(filled(n, w), tag.clone(), vec![n]);
        }
        store.apply(batch).unwrap();
        let all: Vec<u8> = store.scan(&tag, None, 10).unwrap().iter().map(|(_, b)| b[0]).collect();
        assert_eq!(all, [1, 3, 9, 0xff]);
        let after: Vec<u8> = store.scan(&tag, Some(&filled(3, w)), 10).unwrap().iter().map(|(_, b)| b[0]).collect();
        assert_eq!(after, [9, 0xff]);
        let mut mixed = WriteBatch::new();
        mixed.put(filled(1, AddressLength::Bytes16), tag.clone(), vec![1]);
        assert!(matches!(store.apply(mixed), Err(StoreError::MixedWidths { .. })));
        let mut first = None;
        store
            .for_each(&mut |k, v| {
                first.get_or_insert((k.to_vec(), v.to_vec()));
            })
            .unwrap();
        assert_eq!(first, Some((migrations::state_key::resource_key(&filled(1, w), &tag), vec![1])));
    }

    #[test]
    fn the_height_commits_with_its_block_and_survives_reopening() {
        let w = AddressLength::Bytes16;
        let dir = tempfile::tempdir().unwrap();
        let tag = tag_of("0x1::Wallet::Wallet", w);
        {
            let mut store = RedbStore::open(dir.path()).unwrap();
            assert_eq!(store.height().unwrap(), 0);
            let mut batch = WriteBatch::new();
            batch.put(filled(1, w), tag.clone(), vec![1]);
            store.apply_at_height(batch, 7).unwrap();
            store.apply_at_height(WriteBatch::new(), 8).unwrap();
            let mut too_big = WriteBatch::new();
            too_big.put(filled(2, w), tag.clone(), vec![0; DEFAULT_MAX_VALUE_SIZE + 1]);
            assert!(store.apply_at_height(too_big, 9).is_err());
        }
        let mut store = RedbStore::open_existing(dir.path()).unwrap();
        assert_eq!(store.height().unwrap(), 8, "a refused block leaves the height where it was");
        store.set_node_value("config", Some(b"{}")).unwrap();
        assert_eq!(store.node_value("config").unwrap(), Some(b"{}".to_vec()));
        store.set_node_value("config", None).unwrap();
        assert_eq!(store.node_value("config").unwrap(), None);
        assert!(store.set_node_value("height", Some(b"x")).is_err());
        assert!(RedbStore::open_existing(&dir.path().join("none")).is_err());
        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join(DB_FILE), b"").unwrap();
        assert!(RedbStore::open_existing(empty.path()).is_err(), "an empty file is not a database");
        assert_eq!(store.get(&filled(1, w), &tag).unwrap(), Some(vec![1]));
    }
}
