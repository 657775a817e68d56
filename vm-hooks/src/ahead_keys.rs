//! The keys an in-place migration has migrated ahead of its cursor, on access: a sorted set
//! held as its own encoding.
//!
//! A read that migrates a value ahead of the cursor adds its key and rewrites the status, so
//! the set is encoded once per such read, and it grows with each. Held as a list of keys, each
//! its own allocation, encoding it copied every key apart (70% of such a read, once the list
//! held canonical keys of about 80 bytes instead of accounts). Held as the bytes it encodes to
//! (`ULEB length ++ bytes`, end to end, in key order) with where each key lies, encoding it is
//! one copy, adding a key moves the bytes after it once, and cloning a status clones two
//! buffers.

use std::ops::Range;

/// Sorted distinct keys, held as their BCS (`vector<vector<u8>>` without its count).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AheadKeys {
    /// Each key as `ULEB length ++ bytes`, in key order, end to end.
    encoded: Vec<u8>,
    /// Where each key's bytes lie in `encoded` (after its length).
    keys: Vec<Range<usize>>,
}

impl AheadKeys {
    /// No keys.
    pub fn new() -> AheadKeys {
        AheadKeys::default()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn key(&self, i: usize) -> &[u8] {
        self.keys.get(i).and_then(|r| self.encoded.get(r.clone())).unwrap_or_default()
    }

    /// Where `key` is, or where it would go.
    fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.keys.binary_search_by(|r| self.encoded.get(r.clone()).unwrap_or_default().cmp(key))
    }

    /// Whether `key` is held.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.search(key).is_ok()
    }

    /// Adds `key` where it belongs (nothing if held).
    pub fn insert(&mut self, key: &[u8]) {
        let Err(i) = self.search(key) else { return };
        let at = self
            .keys
            .get(i)
            .map_or(self.encoded.len(), |r| r.start.saturating_sub(binary_format::uleb_len(r.len() as u64)));
        let mut entry = Vec::with_capacity(10 + key.len());
        binary_format::write_uleb(&mut entry, key.len() as u64);
        let start = at + entry.len();
        entry.extend_from_slice(key);
        let grown = entry.len();
        self.encoded.splice(at..at, entry);
        for r in self.keys.get_mut(i..).unwrap_or_default() {
            *r = r.start + grown..r.end + grown;
        }
        self.keys.insert(i, start..start + key.len());
    }

    /// Drops every key at or before `position` (a prefix of the set: it is sorted).
    pub fn drop_through(&mut self, position: &[u8]) {
        let n = self.keys.partition_point(|r| self.encoded.get(r.clone()).unwrap_or_default() <= position);
        let Some(cut) = self
            .keys
            .get(n)
            .map_or(Some(self.encoded.len()), |r| r.start.checked_sub(binary_format::uleb_len(r.len() as u64)))
        else {
            return;
        };
        self.encoded.drain(..cut);
        self.keys.drain(..n);
        for r in &mut self.keys {
            *r = r.start - cut..r.end - cut;
        }
    }

    /// The keys in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.keys.len()).map(|i| self.key(i))
    }

    /// The keys' BCS, `vector<vector<u8>>` without its count: what a cursor writes after the
    /// count.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// Adds `key` after every key held: the caller (a decoder) checks the order.
    pub(crate) fn push_last(&mut self, key: &[u8]) {
        binary_format::write_uleb(&mut self.encoded, key.len() as u64);
        let start = self.encoded.len();
        self.encoded.extend_from_slice(key);
        self.keys.push(start..self.encoded.len());
    }

    /// The last key, if any.
    pub(crate) fn last(&self) -> Option<&[u8]> {
        self.keys.len().checked_sub(1).map(|i| self.key(i))
    }
}

impl<K: AsRef<[u8]>> FromIterator<K> for AheadKeys {
    /// The set of these keys, in whatever order they come.
    fn from_iter<I: IntoIterator<Item = K>>(keys: I) -> AheadKeys {
        let mut set = AheadKeys::new();
        for key in keys {
            set.insert(key.as_ref());
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The set's bytes are what encoding its keys one by one gives.
    fn encoded_one_by_one(keys: &BTreeSet<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        for k in keys {
            binary_format::write_uleb(&mut out, k.len() as u64);
            out.extend_from_slice(k);
        }
        out
    }

    proptest! {
        /// Inserts and drops in any order hold what a set of the same keys holds, encoded as
        /// its keys encode one by one (keys long enough to take two-byte lengths included).
        #[test]
        fn holds_what_a_set_holds(ops in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(0u8..4, 0..4), 0usize..200), 0..60)) {
            let mut set = AheadKeys::new();
            let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
            for (drop, head, pad) in ops {
                let mut key = head;
                key.resize(key.len() + if pad > 150 { pad } else { 0 }, 7);
                if drop {
                    set.drop_through(&key);
                    model.retain(|k| k.as_slice() > key.as_slice());
                } else {
                    set.insert(&key);
                    model.insert(key);
                }
                prop_assert_eq!(set.len(), model.len());
                prop_assert!(set.iter().eq(model.iter().map(Vec::as_slice)));
                let want = encoded_one_by_one(&model);
                prop_assert_eq!(set.encoded(), want.as_slice());
                for k in &model {
                    prop_assert!(set.contains(k));
                }
                prop_assert!(!set.contains(&[9, 9, 9]));
            }
        }
    }
}
