//! The store migrations read and write through.
//!
//! The state is an ordered map from canonical state keys ([`crate::state_key`]: resources,
//! resource groups, table items, modules) to bytes. A migration visits every stored instance of
//! a struct, a chunk per block, so the store must list the keys under a prefix in key order from
//! a cursor at a cost proportional to the chunk, not to the whole state: [`Store::scan_keys`].
//! What a migration writes for one key (new version put, old version deleted) must land together
//! or not at all, so writes go through an atomic [`WriteBatch`].
//!
//! An implementation provides three calls over key bytes ([`Store::get_key`],
//! [`Store::scan_keys`], [`Store::apply`]); the typed calls (`get` and `scan` of a resource by
//! account and tag) are provided on top of them, so every store orders and encodes alike.
//!
//! The trait is object-safe (`&mut dyn Store`), so the prologue hook can pick a backend at run
//! time; the persistent backend (redb) lives in `vm-hooks`, the in-memory one here.

pub use crate::batch_writes::Write;
use crate::batch_writes::Writes;
use crate::key::{AccountAddress, StructTag};
use crate::key_list::{IntoEntries, KeyList};
use crate::state_key::{self, resource_key, tag_prefix, KeyKind};

pub use crate::memory_store::InMemoryStore;

/// A batch's writes moved out in key order, for a store's `apply`
/// ([`WriteBatch::into_writes`]).
pub type IntoWrites = IntoEntries<Write>;

/// The default largest value [`InMemoryStore`] accepts: 1 MiB, the per-write limit real chains
/// apply, so that tests see the refusal a real backend would give.
pub const DEFAULT_MAX_VALUE_SIZE: usize = 1 << 20;

/// Why a store could not read or write. A refused [`Store::apply`] has written nothing.
///
/// Every variant is the node's own trouble, not the chain's: a store that fails cannot produce
/// or validate the block (see `vm_hooks::HookError`), while data a migration cannot carry over
/// is recorded in state as that resource's failure, identically on every node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A put larger than the store accepts: the whole batch is refused.
    #[error("{} is {size} bytes, more than the store's limit of {max}", state_key::describe_any(key))]
    ValueTooLarge {
        /// The key whose value is too large (canonical bytes).
        key: Box<[u8]>,
        /// Its size in bytes.
        size: usize,
        /// The store's limit in bytes.
        max: usize,
    },
    /// A typed key whose account and tag (or the tag's type arguments) have different address
    /// widths: no chain stores such a key, so it is a caller's bug; the whole batch is refused.
    #[error("{tag} at {account}: the account's address is {} bytes, an address of its tag (or of a type argument) is not: one chain uses one address width", account.width().bytes())]
    MixedWidths {
        /// The account.
        account: AccountAddress,
        /// The tag.
        tag: Box<StructTag>,
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

/// A token of a store's state that changes with every batch the store applies, and that two
/// stores never share ([`Store::version`]). Not state: it differs from node to node and from run
/// to run, and tells only "nothing was written here since".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreVersion {
    /// This store among the stores of the process.
    pub store: u64,
    /// Batches it has applied.
    pub applied: u64,
}

impl StoreVersion {
    /// The version of a store just made, opened or cloned: a number no store of this process
    /// was given before, and no batch applied.
    #[allow(clippy::new_without_default)]
    pub fn new() -> StoreVersion {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        StoreVersion { store: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed), applied: 0 }
    }
}

/// A typed write whose account and tag have different address widths: where, and which tag.
pub(crate) type MixedWrite = (AccountAddress, Box<StructTag>);

/// Writes applied all together or not at all, by canonical key. The last write to a key wins;
/// writes are kept in key order, so a batch applies the same way on every node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    writes: Writes,
    /// The first typed write whose account and tag were of different widths (refused by
    /// [`WriteBatch::validate`]).
    mixed: Option<MixedWrite>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        WriteBatch::default()
    }

    /// Puts `bytes` at the canonical key `key`, replacing an earlier write to it in this batch.
    pub fn put_key(&mut self, key: impl AsRef<[u8]>, bytes: Vec<u8>) {
        self.writes.insert(key.as_ref(), Write::Put(bytes));
    }

    /// Deletes the canonical key `key`, replacing an earlier write to it in this batch.
    pub fn delete_key(&mut self, key: impl AsRef<[u8]>) {
        self.writes.insert(key.as_ref(), Write::Delete);
    }

    /// Writes `write` at `key`.
    pub fn write_key(&mut self, key: impl AsRef<[u8]>, write: Write) {
        self.writes.insert(key.as_ref(), write);
    }

    fn check_widths(&mut self, account: &AccountAddress, tag: &StructTag) {
        if self.mixed.is_none() && !tag.has_width(account.width()) {
            self.mixed = Some((*account, Box::new(tag.clone())));
        }
    }

    /// Puts `bytes` as resource `tag` in `account`, replacing an earlier write to that key.
    pub fn put(&mut self, account: AccountAddress, tag: StructTag, bytes: Vec<u8>) {
        self.put_ref(account, &tag, bytes);
    }

    /// `put` without taking the tag.
    pub fn put_ref(&mut self, account: AccountAddress, tag: &StructTag, bytes: Vec<u8>) {
        self.check_widths(&account, tag);
        self.put_key(resource_key(&account, tag), bytes);
    }

    /// Deletes resource `tag` in `account`, replacing an earlier write to that key.
    pub fn delete(&mut self, account: AccountAddress, tag: StructTag) {
        self.delete_ref(account, &tag);
    }

    /// `delete` without taking the tag.
    pub fn delete_ref(&mut self, account: AccountAddress, tag: &StructTag) {
        self.check_widths(&account, tag);
        self.delete_key(resource_key(&account, tag));
    }

    /// Number of keys written (each key once, whatever it was written to last).
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether the batch writes nothing: applying it changes no state.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.mixed.is_none()
    }

    /// The writes, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Write)> {
        self.writes.iter()
    }

    /// The writes whose keys start with `prefix`, in key order, strictly after `after` if given.
    pub fn range<'a>(&'a self, prefix: &'a [u8], after: Option<&[u8]>) -> impl Iterator<Item = (&'a [u8], &'a Write)> {
        let range = state_key::ScanRange::new(prefix, after);
        self.writes.range(range.bounds())
    }

    /// The pending write to one key, if any.
    pub fn get_key(&self, key: &[u8]) -> Option<&Write> {
        self.writes.get(key)
    }

    /// The pending write to one resource, if any.
    pub fn get(&self, account: &AccountAddress, tag: &StructTag) -> Option<&Write> {
        self.get_key(&resource_key(account, tag))
    }

    /// Refuses a batch that puts a value larger than `max` bytes, or mixes address widths in a
    /// typed key: stores check every write before applying any, so that a batch is all or
    /// nothing.
    pub fn validate(&self, max: usize) -> Result<(), StoreError> {
        if let Some((account, tag)) = &self.mixed {
            return Err(StoreError::MixedWidths { account: *account, tag: tag.clone() });
        }
        for (key, write) in self.writes.iter() {
            if let Write::Put(bytes) = write {
                if bytes.len() > max {
                    return Err(StoreError::ValueTooLarge { key: key.into(), size: bytes.len(), max });
                }
            }
        }
        Ok(())
    }

    /// Adds every write of `other` after this batch's (its writes win).
    pub fn extend(&mut self, other: WriteBatch) {
        if self.mixed.is_none() {
            self.mixed = other.mixed;
        }
        self.writes.extend(other.writes);
    }

    /// Moves the writes out to `each` in key order and gives the first mixed-width write; the
    /// batch is left empty, its allocation kept for the next writes.
    pub(crate) fn drain_into(&mut self, each: impl FnMut(&[u8], Write)) -> Option<MixedWrite> {
        self.writes.drain_into(each);
        self.mixed.take()
    }

    /// Forgets every write (and a refused one), keeping the batch's allocation.
    pub(crate) fn clear(&mut self) {
        self.writes.clear();
        self.mixed = None;
    }

    /// A batch of `writes`, in strictly ascending key order, with its first mixed-width write:
    /// held as the list it is until written to again.
    pub(crate) fn from_sorted(writes: KeyList<Write>, mixed: Option<MixedWrite>) -> WriteBatch {
        WriteBatch { writes: Writes::sorted(writes), mixed }
    }

    /// The writes, consumed, in key order: each key lent (`while let Some((key, write)) =
    /// writes.next_entry()`), each write moved out. Keys are lent, not given, because a batch
    /// holds them in one buffer and every store copies a key where it keeps it.
    pub fn into_writes(self) -> IntoWrites {
        self.writes.into_entries()
    }
}

/// The state: values by canonical key, in key order.
pub trait Store {
    /// The value at the canonical key `key`.
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Visits the entries whose keys start with `prefix` and are strictly greater than `after`
    /// (a key that need not exist; from the first key of the prefix when `None`), in key order,
    /// until `visit` returns `false`. Cost proportional to what is visited.
    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError>;

    /// Applies every write of `batch`, or, on error, none.
    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError>;

    /// Whether the value at `key` is `expected` (`None`: no value). The hook asks it at every
    /// access (is the status still the one it knows?); a store that can compare a value where
    /// it holds it, without copying it out, should say so here.
    fn holds(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool, StoreError> {
        Ok(self.get_key(key)?.as_deref() == expected)
    }

    /// A token that changes whenever this store applies a batch and that no other store gives,
    /// or `None` (the default) for a store that cannot tell. Who saw a token and sees it again
    /// knows that nothing was written since, and need not read again what it holds: the hook
    /// compares the status at every access only when the token moved. A store that gives one
    /// must change it on every write, however made, and give a clone a token of its own.
    fn version(&self) -> Option<StoreVersion> {
        None
    }

    /// The resource `tag` held by `account`.
    fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_key(&resource_key(account, tag))
    }

    /// Up to `limit` accounts holding resource `tag`, in address order, starting after `after`
    /// (from the first when `None`), with their bytes. Fewer than `limit` entries means the end
    /// was reached.
    fn scan(
        &self,
        tag: &StructTag,
        after: Option<&AccountAddress>,
        limit: usize,
    ) -> Result<Vec<(AccountAddress, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let prefix = tag_prefix(KeyKind::Resource, tag);
        let after = after.map(|a| {
            let mut k = prefix.clone();
            k.extend_from_slice(a.as_bytes());
            k
        });
        let mut bad = None;
        self.scan_keys(&prefix, after.as_deref(), &mut |key, value| {
            match key.get(prefix.len()..).map(AccountAddress::new) {
                Some(Ok(account)) => out.push((account, value.to_vec())),
                _ => {
                    bad = Some(key.to_vec());
                    return false;
                }
            }
            out.len() < limit
        })?;
        if let Some(key) = bad {
            return Err(StoreError::Backend {
                backend: "store",
                source: format!("a key under {tag} does not end in an account: {}", state_key::describe_any(&key))
                    .into(),
            });
        }
        Ok(out)
    }
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
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_key(key)
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.inner.scan_keys(prefix, after, visit)
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        (self.watch)(&batch)?;
        self.inner.apply(batch)
    }

    fn holds(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool, StoreError> {
        self.inner.holds(key, expected)
    }

    /// The inner store's: every write goes to it, and this adds none of its own.
    fn version(&self) -> Option<StoreVersion> {
        self.inner.version()
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
        let all: Vec<_> = store.resources(AddressLength::Bytes16).map(|(t, a, b)| (t.name, a, b.to_vec())).collect();
        assert_eq!(all, vec![("Wallet".to_owned(), account(1), vec![1])]);
    }
}
