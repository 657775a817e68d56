//! The store migrations read and write through.
//!
//! Resources are keyed by (account address, struct tag with its type arguments) and hold BCS
//! bytes, as on every Move chain. A migration visits every account holding one struct tag, a
//! chunk per block, so the store must list those accounts in address order from a cursor at a
//! cost proportional to the chunk, not to the whole state: [`Store::scan`]. What a migration
//! writes for one account (new version put, old version deleted) must land together or not at
//! all, so writes go through an atomic [`WriteBatch`].
//!
//! The trait is object-safe (`&mut dyn Store`), so the prologue hook can pick a backend at run
//! time; the persistent backend (redb) lives in `vm-hooks`, the in-memory one here.

use crate::key::{AccountAddress, StructTag};
use std::collections::BTreeMap;
use std::ops::Bound;

/// The default largest resource [`InMemoryStore`] accepts: 1 MiB, the per-write limit real
/// chains apply, so that tests see the refusal a real backend would give.
pub const DEFAULT_MAX_VALUE_SIZE: usize = 1 << 20;

/// Why a store could not read or write. A refused [`Store::apply`] has written nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A put larger than the store accepts: the whole batch is refused.
    #[error("resource {resource} is {size} bytes, more than the store's limit of {max}")]
    ValueTooLarge {
        /// The resource whose bytes are too many.
        resource: Box<ResourceKey>,
        /// Its size in bytes.
        size: usize,
        /// The store's limit in bytes.
        max: usize,
    },
    /// A key whose account and tag (or the tag's type arguments) have different address
    /// widths: no chain stores such a key, so it is a caller's bug; the whole batch is refused.
    #[error("resource {resource}: the account's address is {account_width} bytes, an address of its tag (or of a type argument) is not: one chain uses one address width (the tag's own is {tag_width})")]
    MixedWidths {
        /// The key with mixed widths.
        resource: Box<ResourceKey>,
        /// Width of the account, in bytes.
        account_width: usize,
        /// Width of the tag's own address, in bytes (the mismatch may be in a type argument).
        tag_width: usize,
    },
    /// A failure of the storage engine itself (I/O, corruption, a closed database).
    #[error("{backend} store: {source}")]
    Backend {
        /// Which engine (`"redb"`).
        backend: &'static str,
        /// The engine's own error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The key of one resource, for messages (boxed in errors: a tag is large, and the path that
/// succeeds should not pay for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceKey {
    /// The account holding the resource.
    pub account: AccountAddress,
    /// The resource's struct tag.
    pub tag: StructTag,
}

impl std::fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}", self.tag, self.account)
    }
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store these BCS bytes at the key, replacing what is there.
    Put(Vec<u8>),
    /// Remove the key; deleting an absent key is not an error.
    Delete,
}

/// Writes applied all together or not at all. The last write to a key wins; writes are kept
/// sorted by (struct tag, account), so a batch applies the same way on every node. Grouped by
/// tag: a chunk of one migration writes thousands of accounts under two tags, and comparing or
/// cloning a tag (strings and type arguments) once per group, not once per account, is what
/// keeps a batch cheap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    writes: BTreeMap<StructTag, BTreeMap<AccountAddress, Write>>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// Puts `bytes` as `tag` in `account`, replacing an earlier write to that key in this batch.
    pub fn put(&mut self, account: AccountAddress, tag: StructTag, bytes: Vec<u8>) {
        self.writes.entry(tag).or_default().insert(account, Write::Put(bytes));
    }

    /// `put` without taking the tag: it is cloned only for the first write under it.
    pub fn put_ref(&mut self, account: AccountAddress, tag: &StructTag, bytes: Vec<u8>) {
        match self.writes.get_mut(tag) {
            Some(group) => {
                group.insert(account, Write::Put(bytes));
            }
            None => {
                self.writes.entry(tag.clone()).or_default().insert(account, Write::Put(bytes));
            }
        }
    }

    /// Deletes `tag` in `account`, replacing an earlier write to that key in this batch.
    pub fn delete(&mut self, account: AccountAddress, tag: StructTag) {
        self.writes.entry(tag).or_default().insert(account, Write::Delete);
    }

    /// `delete` without taking the tag.
    pub fn delete_ref(&mut self, account: AccountAddress, tag: &StructTag) {
        match self.writes.get_mut(tag) {
            Some(group) => {
                group.insert(account, Write::Delete);
            }
            None => {
                self.writes.entry(tag.clone()).or_default().insert(account, Write::Delete);
            }
        }
    }

    /// Number of keys written (each key once, whatever it was written to last).
    pub fn len(&self) -> usize {
        self.writes.values().map(BTreeMap::len).sum()
    }

    /// Whether the batch writes nothing: applying it changes no state.
    pub fn is_empty(&self) -> bool {
        self.writes.values().all(BTreeMap::is_empty)
    }

    /// The writes, sorted by (struct tag, account).
    pub fn iter(&self) -> impl Iterator<Item = (&StructTag, &AccountAddress, &Write)> {
        self.writes.iter().flat_map(|(tag, group)| group.iter().map(move |(account, w)| (tag, account, w)))
    }

    /// The pending write to one key, if any.
    pub fn get(&self, account: &AccountAddress, tag: &StructTag) -> Option<&Write> {
        self.writes.get(tag).and_then(|group| group.get(account))
    }

    /// Refuses a batch that puts a value larger than `max` bytes, or mixes address widths in a
    /// key: stores check every write before applying any, so that a batch is all or nothing.
    pub fn validate(&self, max: usize) -> Result<(), StoreError> {
        for (tag, account, write) in self.iter() {
            if !tag.has_width(account.width()) {
                return Err(StoreError::MixedWidths {
                    resource: Box::new(ResourceKey { account: *account, tag: tag.clone() }),
                    account_width: account.width().bytes(),
                    tag_width: tag.address.width().bytes(),
                });
            }
            if let Write::Put(bytes) = write {
                if bytes.len() > max {
                    return Err(StoreError::ValueTooLarge {
                        resource: Box::new(ResourceKey { account: *account, tag: tag.clone() }),
                        size: bytes.len(),
                        max,
                    });
                }
            }
        }
        Ok(())
    }

    /// A batch of writes already grouped by tag.
    pub fn from_groups(writes: BTreeMap<StructTag, BTreeMap<AccountAddress, Write>>) -> WriteBatch {
        WriteBatch { writes }
    }

    /// The writes grouped by tag, consumed, in (tag, account) order.
    pub fn into_groups(self) -> impl Iterator<Item = (StructTag, BTreeMap<AccountAddress, Write>)> {
        self.writes.into_iter()
    }
}

impl IntoIterator for WriteBatch {
    type Item = ((StructTag, AccountAddress), Write);
    type IntoIter = std::vec::IntoIter<((StructTag, AccountAddress), Write)>;

    /// Flattened, one owned key per write (clones each tag per account: prefer `into_groups`).
    fn into_iter(self) -> Self::IntoIter {
        self.writes
            .into_iter()
            .flat_map(|(tag, group)| group.into_iter().map(move |(account, w)| ((tag.clone(), account), w)))
            .collect::<Vec<_>>()
            .into_iter()
    }
}

/// Resources by (account, struct tag), as BCS bytes.
pub trait Store {
    /// The resource `tag` held by `account`.
    fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` accounts holding `tag`, in address order, starting after `after` (from the
    /// first when `None`), with their bytes. Fewer than `limit` entries means the end was
    /// reached. Cost is proportional to the entries returned.
    fn scan(
        &self,
        tag: &StructTag,
        after: Option<&AccountAddress>,
        limit: usize,
    ) -> Result<Vec<(AccountAddress, Vec<u8>)>, StoreError>;

    /// Applies every write of `batch`, or, on error, none.
    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError>;
}

/// A store that shows each batch to `watch` before `inner` applies it: how a caller counts, or
/// injects a failure into, the writes of a loop it does not own (the rehearsal counts the
/// resources a migration puts; tests damage a file mid-import) without restating [`Store`].
/// An error from `watch` refuses the batch whole.
pub struct Watched<'a, F: FnMut(&WriteBatch) -> Result<(), StoreError>> {
    /// The store reads and writes go to.
    pub inner: &'a mut dyn Store,
    /// Sees every batch first.
    pub watch: F,
}

impl<F: FnMut(&WriteBatch) -> Result<(), StoreError>> std::fmt::Debug for Watched<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watched")
    }
}

impl<F: FnMut(&WriteBatch) -> Result<(), StoreError>> Store for Watched<'_, F> {
    fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(account, tag)
    }

    fn scan(
        &self,
        tag: &StructTag,
        after: Option<&AccountAddress>,
        limit: usize,
    ) -> Result<Vec<(AccountAddress, Vec<u8>)>, StoreError> {
        self.inner.scan(tag, after, limit)
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        (self.watch)(&batch)?;
        self.inner.apply(batch)
    }
}

/// A deterministic in-memory store: one ordered map of accounts per struct tag, so a scan is a
/// range read of that map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InMemoryStore {
    resources: BTreeMap<StructTag, BTreeMap<AccountAddress, Vec<u8>>>,
    max_value_size: usize,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        InMemoryStore::new()
    }
}

impl InMemoryStore {
    /// An empty store refusing resources over [`DEFAULT_MAX_VALUE_SIZE`] bytes.
    pub fn new() -> Self {
        InMemoryStore::with_max_value_size(DEFAULT_MAX_VALUE_SIZE)
    }

    /// An empty store refusing resources over `max_value_size` bytes (a batch that puts one
    /// is refused whole).
    pub fn with_max_value_size(max_value_size: usize) -> Self {
        InMemoryStore { resources: BTreeMap::new(), max_value_size }
    }

    /// Number of resources held.
    pub fn len(&self) -> usize {
        self.resources.values().map(BTreeMap::len).sum()
    }

    /// Whether the store holds no resource.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// Every resource, sorted by (struct tag, account): what a state root hashes.
    pub fn iter(&self) -> impl Iterator<Item = (&StructTag, &AccountAddress, &[u8])> {
        self.resources
            .iter()
            .flat_map(|(tag, accounts)| accounts.iter().map(move |(a, bytes)| (tag, a, bytes.as_slice())))
    }

    /// Number of accounts holding `tag`.
    pub fn count(&self, tag: &StructTag) -> usize {
        self.resources.get(tag).map_or(0, BTreeMap::len)
    }
}

impl Store for InMemoryStore {
    fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.resources.get(tag).and_then(|accounts| accounts.get(account)).cloned())
    }

    fn scan(
        &self,
        tag: &StructTag,
        after: Option<&AccountAddress>,
        limit: usize,
    ) -> Result<Vec<(AccountAddress, Vec<u8>)>, StoreError> {
        let Some(accounts) = self.resources.get(tag) else {
            return Ok(Vec::new());
        };
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(accounts.range((start, Bound::Unbounded)).take(limit).map(|(a, b)| (*a, b.clone())).collect())
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        // Check everything first: past this loop nothing can fail, so the batch is all or nothing.
        batch.validate(self.max_value_size)?;
        for (tag, group) in batch.into_groups() {
            let accounts = self.resources.entry(tag).or_default();
            for (account, write) in group {
                match write {
                    Write::Put(bytes) => {
                        accounts.insert(account, bytes);
                    }
                    Write::Delete => {
                        accounts.remove(&account);
                    }
                }
            }
        }
        self.resources.retain(|_, accounts| !accounts.is_empty());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::AddressLength;

    fn account(n: u8) -> AccountAddress {
        AccountAddress::from_u64(u64::from(n), AddressLength::Bytes16)
    }

    fn tag(s: &str) -> StructTag {
        StructTag::parse(s, AddressLength::Bytes16).unwrap()
    }

    fn filled() -> InMemoryStore {
        let mut store = InMemoryStore::new();
        let mut batch = WriteBatch::new();
        for n in [9u8, 3, 7, 1, 5] {
            batch.put(account(n), tag("0x1::Coin::Balance<0x1::GAS::GAS>"), vec![n]);
            batch.put(account(n + 1), tag("0x1::Wallet::Wallet"), vec![n, n]);
        }
        batch.put(account(2), tag("0x1::Coin::Balance<0x1::Other::Other>"), vec![2]);
        store.apply(batch).unwrap();
        store
    }

    #[test]
    fn scan_pages_in_address_order_within_one_tag() {
        let store = filled();
        let gas = tag("0x1::Coin::Balance<0x1::GAS::GAS>");
        let first = store.scan(&gas, None, 2).unwrap();
        assert_eq!(first, vec![(account(1), vec![1]), (account(3), vec![3])]);
        let second = store.scan(&gas, Some(&account(3)), 2).unwrap();
        assert_eq!(second, vec![(account(5), vec![5]), (account(7), vec![7])]);
        // A cursor need not be held by anyone: the scan starts after it.
        let third = store.scan(&gas, Some(&account(8)), 2).unwrap();
        assert_eq!(third, vec![(account(9), vec![9])]);
        assert!(store.scan(&gas, Some(&account(9)), 2).unwrap().is_empty());
        assert!(store.scan(&gas, None, 0).unwrap().is_empty());
        // Type arguments are part of the key.
        let other = tag("0x1::Coin::Balance<0x1::Other::Other>");
        assert_eq!(store.scan(&other, None, 10).unwrap(), vec![(account(2), vec![2])]);
        assert!(store.scan(&tag("0x1::Coin::Balance<0x1::Nope::Nope>"), None, 10).unwrap().is_empty());
        assert_eq!(store.count(&gas), 5);
        assert_eq!(store.len(), 11);
    }

    #[test]
    fn get_put_delete() {
        let mut store = filled();
        let wallet = tag("0x1::Wallet::Wallet");
        assert_eq!(store.get(&account(4), &wallet).unwrap(), Some(vec![3, 3]));
        assert_eq!(store.get(&account(3), &wallet).unwrap(), None);
        let mut batch = WriteBatch::new();
        batch.delete(account(4), wallet.clone());
        batch.put(account(4), tag("0x2::Wallet::Wallet"), vec![0]);
        batch.delete(account(200), wallet.clone());
        store.apply(batch).unwrap();
        assert_eq!(store.get(&account(4), &wallet).unwrap(), None);
        assert_eq!(store.get(&account(4), &tag("0x2::Wallet::Wallet")).unwrap(), Some(vec![0]));
        assert_eq!(store.count(&wallet), 4);
    }

    #[test]
    fn last_write_to_a_key_wins() {
        let mut batch = WriteBatch::new();
        let wallet = tag("0x1::Wallet::Wallet");
        batch.put(account(1), wallet.clone(), vec![1]);
        batch.delete(account(1), wallet.clone());
        assert_eq!(batch.get(&account(1), &wallet), Some(&Write::Delete));
        batch.put(account(1), wallet.clone(), vec![2]);
        assert_eq!(batch.len(), 1);
        let mut store = InMemoryStore::new();
        store.apply(batch).unwrap();
        assert_eq!(store.get(&account(1), &wallet).unwrap(), Some(vec![2]));
    }

    #[test]
    fn a_refused_batch_changes_nothing() {
        let mut store = filled();
        let before = store.clone();
        let mut batch = WriteBatch::new();
        batch.delete(account(1), tag("0x1::Coin::Balance<0x1::GAS::GAS>"));
        batch.put(account(1), tag("0x1::A::A"), vec![1]);
        batch.put(account(2), tag("0x1::Z::Z"), vec![0; DEFAULT_MAX_VALUE_SIZE + 1]);
        let err = store.apply(batch).unwrap_err();
        assert!(err.to_string().contains("0x1::Z::Z at"), "{err}");
        assert_eq!(store, before);
    }

    #[test]
    fn the_store_is_usable_as_a_trait_object() {
        let mut store = InMemoryStore::new();
        let dynamic: &mut dyn Store = &mut store;
        let mut batch = WriteBatch::new();
        batch.put(account(1), tag("0x1::Wallet::Wallet"), vec![1]);
        dynamic.apply(batch).unwrap();
        assert_eq!(dynamic.get(&account(1), &tag("0x1::Wallet::Wallet")).unwrap(), Some(vec![1]));
        let all: Vec<_> = store.iter().map(|(t, a, b)| (t.name.clone(), *a, b.to_vec())).collect();
        assert_eq!(all, vec![("Wallet".to_owned(), account(1), vec![1])]);
    }
}
