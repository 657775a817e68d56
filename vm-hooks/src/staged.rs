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

/// Writes staged over `base`, which is only read.
pub struct Staged<'s> {
    base: &'s dyn Store,
    /// A batch, not a bare map of writes: it keeps a staged typed write's refusal (mixed
    /// address widths) for the base store to give when the whole is applied.
    pending: WriteBatch,
}

impl std::fmt::Debug for Staged<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged").field("pending", &self.pending.len()).finish_non_exhaustive()
    }
}

impl<'s> Staged<'s> {
    /// Nothing staged yet over `base`.
    pub fn new(base: &'s dyn Store) -> Staged<'s> {
        Staged { base, pending: WriteBatch::new() }
    }

    /// Whether nothing has been staged.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The staged writes, as one batch for the base store.
    pub fn into_batch(self) -> WriteBatch {
        self.pending
    }
}

impl Store for Staged<'_> {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.pending.get_key(key) {
            Some(Write::Put(bytes)) => Ok(Some(bytes.clone())),
            Some(Write::Delete) => Ok(None),
            None => self.base.get_key(key),
        }
    }

    fn holds(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool, StoreError> {
        match self.pending.get_key(key) {
            Some(Write::Put(bytes)) => Ok(Some(bytes.as_slice()) == expected),
            Some(Write::Delete) => Ok(expected.is_none()),
            None => self.base.holds(key, expected),
        }
    }

    /// Merges the base's scan with the staged writes under `prefix`, in key order.
    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let mut staged = self.pending.range(prefix, after).peekable();
        let mut going = true;
        self.base.scan_keys(prefix, after, &mut |key, value| {
            // Staged writes before this key first.
            while let Some((k, w)) = staged.next_if(|(k, _)| *k < key) {
                if let Write::Put(bytes) = w {
                    if !visit(k, bytes) {
                        going = false;
                        return false;
                    }
                }
            }
            let shown = match staged.next_if(|(k, _)| *k == key) {
                Some((_, Write::Put(bytes))) => visit(key, bytes),
                Some((_, Write::Delete)) => true,
                None => visit(key, value),
            };
            if !shown {
                going = false;
            }
            shown
        })?;
        if going {
            for (k, w) in staged {
                if let Write::Put(bytes) = w {
                    if !visit(k, bytes) {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Stages the batch; never fails (limits are the base store's to check when the whole is
    /// applied).
    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        // Taken whole when it is the first (a chunk of a migration, most often), else merged
        // with the later writes winning: `WriteBatch::extend`.
        self.pending.extend(batch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::AddressLength;
    use migrations::store::InMemoryStore;
    use migrations::{AccountAddress, StructTag};

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

    #[test]
    fn a_staged_write_of_mixed_widths_is_still_refused_when_the_block_applies() {
        let mut base = InMemoryStore::new();
        let mut staged = Staged::new(&base);
        let mut first = WriteBatch::new();
        first.put(account(1), parse_struct_tag("0x1::Wallet::Wallet").unwrap(), vec![1]);
        staged.apply(first).unwrap();
        // A 16-byte account with a 32-byte tag: no chain stores it.
        let wide = StructTag::parse("0x1::Wallet::Wallet", AddressLength::Bytes32).unwrap();
        let mut second = WriteBatch::new();
        second.put(account(2), wide, vec![2]);
        staged.apply(second).unwrap();
        let batch = staged.into_batch();
        assert!(matches!(base.apply(batch), Err(StoreError::MixedWidths { .. })));
        assert!(base.is_empty());
    }
}
