//! A store that stages writes over another, so that a block's migration work lands in one
//! atomic batch.
//!
//! The prologue migrates system resources, runs chunks of user migrations and rewrites the
//! status in one block; if each of those applied on its own, a crash (or a store error) between
//! them would leave the status disagreeing with the data. Staging everything and applying one
//! [`WriteBatch`] at the end makes the block all or nothing, on any store whose `apply` is
//! atomic. Reads see the staged writes, so a later step of the block sees what an earlier one
//! did, and a step can be staged over a staging store and dropped (a chunk rolled back).

use migrations::store::{Store, StoreError, Write, WriteBatch};
use migrations::{AccountAddress, StructTag};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Writes staged over `base`, which is only read.
pub struct Staged<'s> {
    base: &'s dyn Store,
    pending: BTreeMap<StructTag, BTreeMap<AccountAddress, Write>>,
}

impl std::fmt::Debug for Staged<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged").field("pending", &self.pending).finish_non_exhaustive()
    }
}

impl<'s> Staged<'s> {
    /// Nothing staged yet over `base`.
    pub fn new(base: &'s dyn Store) -> Staged<'s> {
        Staged { base, pending: BTreeMap::new() }
    }

    /// Whether nothing has been staged.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The staged writes, as one batch for the base store.
    pub fn into_batch(self) -> WriteBatch {
        WriteBatch::from_groups(self.pending)
    }
}

impl Store for Staged<'_> {
    fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError> {
        match self.pending.get(tag).and_then(|accounts| accounts.get(account)) {
            Some(Write::Put(bytes)) => Ok(Some(bytes.clone())),
            Some(Write::Delete) => Ok(None),
            None => self.base.get(account, tag),
        }
    }

    /// Merges the base's scan with the staged writes of `tag`, in address order. The base is
    /// read in pages, since staged deletes can hide any number of its entries.
    fn scan(
        &self,
        tag: &StructTag,
        after: Option<&AccountAddress>,
        limit: usize,
    ) -> Result<Vec<(AccountAddress, Vec<u8>)>, StoreError> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut staged =
            self.pending.get(tag).map(|m| m.range((start, Bound::Unbounded))).into_iter().flatten().peekable();
        let page = limit.clamp(1, 1024);
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut base: std::collections::VecDeque<(AccountAddress, Vec<u8>)> = Default::default();
        let (mut base_after, mut base_done) = (after.copied(), false);
        while out.len() < limit {
            if base.is_empty() && !base_done {
                let got = self.base.scan(tag, base_after.as_ref(), page)?;
                base_done = got.len() < page;
                base_after = got.last().map(|(a, _)| *a).or(base_after);
                base.extend(got);
            }
            let next_base = base.front().map(|(a, _)| *a);
            let next_staged = staged.peek().map(|(a, _)| **a);
            let take_staged = match (next_base, next_staged) {
                (None, None) => break,
                (Some(b), Some(s)) => s <= b,
                (None, Some(_)) => true,
                (Some(_), None) => false,
            };
            if take_staged {
                if let Some((account, write)) = staged.next() {
                    if next_base == Some(*account) {
                        base.pop_front();
                    }
                    if let Write::Put(bytes) = write {
                        out.push((*account, bytes.clone()));
                    }
                }
            } else if let Some(entry) = base.pop_front() {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Stages the batch; never fails (limits are the base store's to check when the whole is
    /// applied).
    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        for (tag, group) in batch.into_groups() {
            self.pending.entry(tag).or_default().extend(group);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::AddressLength;
    use migrations::store::InMemoryStore;

    fn account(n: u8) -> AccountAddress {
        AccountAddress::from_u64(u64::from(n), AddressLength::Bytes16)
    }

    fn parse_struct_tag(s: &str) -> Result<StructTag, migrations::KeyError> {
        StructTag::parse(s, AddressLength::Bytes16)
    }

    #[test]
    fn scans_merge_staged_writes_in_order_and_apply_once() {
        let tag = parse_struct_tag("0x1::Wallet::Wallet").unwrap();
        let mut base = InMemoryStore::new();
        let mut batch = WriteBatch::new();
        for n in 1..=20u8 {
            batch.put(account(n), tag.clone(), vec![n]);
        }
        base.apply(batch).unwrap();
        let mut staged = Staged::new(&base);
        let mut batch = WriteBatch::new();
        for n in 1..=15u8 {
            batch.delete(account(n), tag.clone());
        }
        batch.put(account(30), tag.clone(), vec![30]);
        batch.put(account(17), tag.clone(), vec![170]);
        staged.apply(batch).unwrap();
        let all = staged.scan(&tag, None, 100).unwrap();
        let expected: Vec<_> =
            [(16, 16), (17, 170), (18, 18), (19, 19), (20, 20), (30, 30)].map(|(a, b)| (account(a), vec![b])).to_vec();
        assert_eq!(all, expected);
        for limit in 1..8 {
            // Paging through gives the same, whatever the page size.
            let (mut got, mut after) = (Vec::new(), None);
            loop {
                let page = staged.scan(&tag, after.as_ref(), limit).unwrap();
                after = page.last().map(|(a, _)| *a);
                let end = page.len() < limit;
                got.extend(page);
                if end {
                    break;
                }
            }
            assert_eq!(got, expected, "limit {limit}");
        }
        assert_eq!(staged.get(&account(3), &tag).unwrap(), None);
        assert_eq!(staged.get(&account(17), &tag).unwrap(), Some(vec![170]));
        assert_eq!(staged.get(&account(18), &tag).unwrap(), Some(vec![18]));
        let batch = staged.into_batch();
        base.apply(batch).unwrap();
        assert_eq!(base.count(&tag), 6);
    }
}
