//! The persistent store: [`Store`] on [`redb`].
//!
//! redb was chosen because it is a pure-Rust embedded database (no C dependency, nothing to link
//! or build beyond Cargo) with ACID transactions over copy-on-write B-trees, so a commit either
//! lands whole or not at all and a process killed at any point reopens to the last commit.
//!
//! One table maps a key to a resource's BCS bytes. The key is the struct tag's canonical BCS
//! bytes, prefixed by their length (4 bytes, big-endian), followed by the account's bytes (16,
//! 20 or 32 of them: the key's length says which, and the tag's addresses have that width). All
//! keys of one tag therefore share one prefix that no other tag's keys start with, and sort by
//! account after it: [`Store::scan`] is one range read in address order that visits only what it
//! returns. One [`Store::apply`] is one write transaction, committed with redb's default
//! durability (fsync before the commit returns).

use binary_format::AddressLength;
use migrations::store::{Store, StoreError, Write, WriteBatch, DEFAULT_MAX_VALUE_SIZE};
use migrations::{AccountAddress, StructTag};
use redb::{Database, Durability, ReadableDatabase, TableDefinition};
use std::ops::Bound;
use std::path::{Path, PathBuf};

const BACKEND: &str = "redb";

/// The database file inside the data directory.
pub const DB_FILE: &str = "state.redb";

const RESOURCES: TableDefinition<'static, &'static [u8], &'static [u8]> = TableDefinition::new("resources");

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

/// The key prefix of `tag`: its canonical BCS bytes after their length (u32, big-endian).
pub fn tag_prefix(tag: &StructTag) -> Vec<u8> {
    let bytes = tag.to_bcs();
    let mut prefix = Vec::with_capacity(4 + bytes.len() + 32);
    // A tag is bounded (names, nesting, arguments): its length always fits a u32.
    prefix.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    prefix.extend_from_slice(&bytes);
    prefix
}

fn key(prefix: &[u8], account: &AccountAddress) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + account.as_bytes().len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(account.as_bytes());
    key
}

/// Splits a key into its tag prefix and account (whose width is what the key leaves for it).
fn split_key(key: &[u8]) -> Result<(&[u8], AccountAddress), StoreError> {
    let corrupt = |reason: &str| own(RedbStoreError::CorruptKey { len: key.len(), reason: reason.to_owned() });
    let (len, _) = key.split_first_chunk::<4>().ok_or_else(|| corrupt("shorter than a length prefix"))?;
    let tag_len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| corrupt("length overflows"))?;
    let (prefix, account) = key
        .split_at_checked(4usize.saturating_add(tag_len))
        .ok_or_else(|| corrupt("length prefix runs past the key"))?;
    let account = AccountAddress::new(account).map_err(|e| corrupt(&e.to_string()))?;
    Ok((prefix, account))
}

/// Decodes the struct tag of a key prefix (see [`tag_prefix`]) with addresses of `width`. Its
/// names must be Move identifiers, its nesting bounded, nothing may follow it.
pub fn decode_prefix(prefix: &[u8], width: AddressLength) -> Result<StructTag, StoreError> {
    let corrupt = |reason: String| own(RedbStoreError::CorruptKey { len: prefix.len(), reason });
    let (len, bytes) = prefix.split_first_chunk::<4>().ok_or_else(|| corrupt("shorter than a length prefix".into()))?;
    if u32::try_from(bytes.len()).ok() != Some(u32::from_be_bytes(*len)) {
        return Err(corrupt("length prefix disagrees with the tag's length".into()));
    }
    StructTag::from_bcs(bytes, width).map_err(|e| corrupt(e.to_string()))
}

/// One resource: its struct tag, account and bytes.
pub type Resource = (StructTag, AccountAddress, Vec<u8>);

/// A key and its value, as stored.
type RawEntry = (Vec<u8>, Vec<u8>);

/// Called with the tag prefix, account and bytes of each resource.
pub type Visitor<'a> = &'a mut dyn FnMut(&[u8], &AccountAddress, &[u8]);

/// How a [`RedbStore`] is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedbOptions {
    /// Largest resource accepted, in bytes.
    pub max_value_size: usize,
    /// redb's page cache, in bytes (`None`: redb's default). Bounds what the store holds in
    /// memory however large the state: what a rehearsal of a big state sets.
    pub cache_bytes: Option<usize>,
    /// Whether every commit reaches the disk before it returns (a node's store). A scratch
    /// store (a rehearsal's) turns it off and calls [`RedbStore::flush`] once at the end: a
    /// crash may then lose recent commits, never corrupt the file.
    pub durable: bool,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions { max_value_size: DEFAULT_MAX_VALUE_SIZE, cache_bytes: None, durable: true }
    }
}

/// Resources in a redb database, in one data directory.
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    max_value_size: usize,
    durable: bool,
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
        let mut builder = Database::builder();
        if let Some(bytes) = options.cache_bytes {
            builder.set_cache_size(bytes);
        }
        let db = builder.create(&path).map_err(|source| own(RedbStoreError::Open { path: path.clone(), source }))?;
        let RedbOptions { max_value_size, durable, .. } = options;
        // The table exists from the start, so readers never meet a missing table.
        let txn = db.begin_write().map_err(backend)?;
        txn.open_table(RESOURCES).map_err(backend)?;
        txn.open_table(NODE).map_err(backend)?;
        txn.commit().map_err(backend)?;
        Ok(RedbStore { db, path, max_value_size, durable })
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
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            return Err(own(RedbStoreError::MissingDataDir(path)));
        }
        let mut db = Database::open(&path).map_err(|source| match source {
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
            txn.open_table(RESOURCES).map_err(backend)?;
            txn.open_table(NODE).map_err(backend)?;
        }
        Ok(RedbStore { db, path, max_value_size: DEFAULT_MAX_VALUE_SIZE, durable: true })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every resource, in key order: by tag prefix (see [`tag_prefix`]), then by account.
    /// Lazy: entries are read as the iterator advances, from one read transaction.
    pub fn iter_all(&self) -> Result<impl Iterator<Item = Result<Resource, StoreError>>, StoreError> {
        let mut last: Option<(Vec<u8>, StructTag)> = None;
        Ok(self.raw_iter()?.map(move |entry| {
            let (key, value) = entry?;
            let (prefix, account) = split_key(&key)?;
            let tag = match &last {
                Some((p, tag)) if p.as_slice() == prefix => tag.clone(),
                _ => {
                    let tag = decode_prefix(prefix, account.width())?;
                    last = Some((prefix.to_vec(), tag.clone()));
                    tag
                }
            };
            Ok((tag, account, value))
        }))
    }

    /// Visits every resource in key order with its tag prefix, account and bytes.
    pub fn for_each_raw(&self, visit: Visitor<'_>) -> Result<(), StoreError> {
        for entry in self.raw_iter()? {
            let (key, value) = entry?;
            let (prefix, account) = split_key(&key)?;
            visit(prefix, &account, &value);
        }
        Ok(())
    }

    fn raw_iter(&self) -> Result<impl Iterator<Item = Result<RawEntry, StoreError>>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(RESOURCES).map_err(backend)?;
        let range = table.range::<&[u8]>(..).map_err(backend)?;
        Ok(range.map(|entry| {
            let (k, v) = entry.map_err(backend)?;
            Ok((k.value().to_vec(), v.value().to_vec()))
        }))
    }
}

impl Store for RedbStore {
    fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key(&tag_prefix(tag), account);
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(RESOURCES).map_err(backend)?;
        Ok(table.get(key.as_slice()).map_err(backend)?.map(|v| v.value().to_vec()))
    }

    fn scan(
        &self,
        tag: &StructTag,
        after: Option<&AccountAddress>,
        limit: usize,
    ) -> Result<Vec<(AccountAddress, Vec<u8>)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let prefix = tag_prefix(tag);
        let start = after.map(|a| key(&prefix, a));
        let mut end = prefix.clone();
        end.extend(std::iter::repeat_n(0xff, tag.address.width().bytes()));
        let lower = match &start {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Included(prefix.as_slice()),
        };
        let txn = self.db.begin_read().map_err(backend)?;
        let table = txn.open_table(RESOURCES).map_err(backend)?;
        let range = table.range::<&[u8]>((lower, Bound::Included(end.as_slice()))).map_err(backend)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        for entry in range.take(limit) {
            let (k, v) = entry.map_err(backend)?;
            let (_, account) = split_key(k.value())?;
            out.push((account, v.value().to_vec()));
        }
        Ok(out)
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.commit(batch, None)
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

    fn commit(&mut self, batch: WriteBatch, height: Option<u64>) -> Result<(), StoreError> {
        batch.validate(self.max_value_size)?;
        if batch.is_empty() && height.is_none() {
            return Ok(());
        }
        // Dropping the transaction without commit (on any error below) aborts it.
        let mut txn = self.db.begin_write().map_err(backend)?;
        if !self.durable {
            txn.set_durability(Durability::None).map_err(|e| own(RedbStoreError::Refused(e.to_string())))?;
        }
        {
            let mut table = txn.open_table(RESOURCES).map_err(backend)?;
            for (tag, group) in batch.into_groups() {
                let prefix = tag_prefix(&tag);
                for (account, write) in group {
                    let key = key(&prefix, &account);
                    match write {
                        Write::Put(bytes) => {
                            table.insert(key.as_slice(), bytes.as_slice()).map_err(backend)?;
                        }
                        Write::Delete => {
                            table.remove(key.as_slice()).map_err(backend)?;
                        }
                    }
                }
            }
        }
        if let Some(height) = height {
            let mut node = txn.open_table(NODE).map_err(backend)?;
            node.insert(HEIGHT_KEY, height.to_be_bytes().as_slice()).map_err(backend)?;
        }
        txn.commit().map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag_of(s: &str, width: AddressLength) -> StructTag {
        StructTag::parse(s, width).unwrap()
    }

    fn filled(n: u8, width: AddressLength) -> AccountAddress {
        AccountAddress::new(&vec![n; width.bytes()]).unwrap()
    }

    #[test]
    fn keys_split_back_and_tags_decode_in_every_width() {
        for width in AddressLength::ALL {
            let tag = tag_of("0x1::Coin::Balance<0x1::GAS::GAS>", width);
            let prefix = tag_prefix(&tag);
            let account = filled(7, width);
            let k = key(&prefix, &account);
            let (p, a) = split_key(&k).unwrap();
            assert_eq!((p, a), (prefix.as_slice(), account));
            assert_eq!(decode_prefix(p, width).unwrap(), tag);
            assert!(split_key(&k[..k.len() - 1]).is_err());
            assert!(split_key(&[0, 0]).is_err());
        }
        // A tag whose module is not an identifier never decodes.
        let mut bad = tag_of("0x1::Epoch::Epoch", AddressLength::Bytes16);
        bad.module = "\npoch".into();
        assert!(decode_prefix(&tag_prefix(&bad), AddressLength::Bytes16).is_err());
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
        let (t, a, b) = store.iter_all().unwrap().next().unwrap().unwrap();
        assert_eq!((t, a, b), (tag, filled(1, w), vec![1]));
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
