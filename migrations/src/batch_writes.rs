//! One write of a batch ([`Write`], re-exported by [`crate::store`]), and a
//! [`WriteBatch`](crate::store::WriteBatch)'s writes by key: a sorted list while they are few
//! or were gathered whole in key order ([`crate::write_log`]: a chunk of the migration loop), a
//! map once many are written one by one.
//!
//! A chunk's writes were put into a `BTreeMap` only to be read once in order by the store that
//! applies them: building the map compared every key with its neighbour twice more (a sorted
//! check and a dedup), allocated its nodes, and freed them all after; and each value's own
//! batch (its new version put, its old one deleted) allocated a map node larger than its keys.
//! A sorted list serves the same reads (in order, by range, by key with a binary search) and
//! takes a few writes where they belong (a block's status added to its chunk's writes); past
//! [`MAX_INSERTS`] writes one by one, it becomes a map.

use std::collections::BTreeMap;
use std::ops::Bound;

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Store these bytes at the key, replacing what is there.
    Put(Vec<u8>),
    /// Remove the key; deleting an absent key is not an error.
    Delete,
}

/// Writes by key, each key once: in `map`, or, when gathered whole in key order, in `sorted`
/// (at most one of the two holds any).
#[derive(Debug, Clone, Default)]
pub(crate) struct Writes {
    map: BTreeMap<Vec<u8>, Write>,
    /// Strictly ascending keys.
    sorted: Vec<(Vec<u8>, Write)>,
    /// Writes put into `sorted` one by one since it was gathered.
    inserted: usize,
}

/// Writes a sorted list takes one by one (each moves the list's tail) before it becomes a map:
/// a block adds its status to its chunk's writes, and that one write must not rebuild them all;
/// a batch written key by key starts as a list too, and most hold a few writes.
const MAX_INSERTS: usize = 64;

impl PartialEq for Writes {
    fn eq(&self, other: &Writes) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Writes {}

impl Writes {
    /// `writes` in strictly ascending key order (the caller's promise, checked in debug builds).
    pub(crate) fn sorted(writes: Vec<(Vec<u8>, Write)>) -> Writes {
        debug_assert!(writes.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
        Writes { map: BTreeMap::new(), sorted: writes, inserted: 0 }
    }

    /// The map, made from the sorted list if that is what is held.
    fn map(&mut self) -> &mut BTreeMap<Vec<u8>, Write> {
        if !self.sorted.is_empty() {
            // Sorted and distinct: built in one pass.
            self.map = std::mem::take(&mut self.sorted).into_iter().collect();
            self.inserted = 0;
        }
        &mut self.map
    }

    pub(crate) fn insert(&mut self, key: Vec<u8>, write: Write) {
        // A small batch (a value's new version and its old one deleted) is a short list: a
        // map's first node is larger than such a batch's keys.
        if self.map.is_empty() && self.inserted < MAX_INSERTS {
            match self.sorted.binary_search_by(|(k, _)| k.cmp(&key)) {
                Ok(i) => {
                    if let Some(slot) = self.sorted.get_mut(i) {
                        slot.1 = write;
                    }
                }
                Err(i) => {
                    self.sorted.insert(i, (key, write));
                    self.inserted += 1;
                }
            }
            return;
        }
        self.map().insert(key, write);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len() + self.sorted.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn iter(&self) -> Iter<'_> {
        if self.sorted.is_empty() {
            Iter::Map(self.map.iter())
        } else {
            Iter::Sorted(self.sorted.iter())
        }
    }

    /// The writes with keys within `bounds`, in key order.
    pub(crate) fn range<'a>(&'a self, bounds: (Bound<&[u8]>, Bound<&[u8]>)) -> Iter<'a> {
        if self.sorted.is_empty() {
            return Iter::Range(self.map.range::<[u8], _>(bounds));
        }
        let list = &self.sorted;
        let start = match bounds.0 {
            Bound::Included(k) => list.partition_point(|(key, _)| key.as_slice() < k),
            Bound::Excluded(k) => list.partition_point(|(key, _)| key.as_slice() <= k),
            Bound::Unbounded => 0,
        };
        let end = match bounds.1 {
            Bound::Included(k) => list.partition_point(|(key, _)| key.as_slice() <= k),
            Bound::Excluded(k) => list.partition_point(|(key, _)| key.as_slice() < k),
            Bound::Unbounded => list.len(),
        };
        Iter::Sorted(list.get(start..end.max(start)).unwrap_or_default().iter())
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&Write> {
        if self.sorted.is_empty() {
            return self.map.get(key);
        }
        let i = self.sorted.binary_search_by(|(k, _)| k.as_slice().cmp(key)).ok()?;
        self.sorted.get(i).map(|(_, w)| w)
    }

    /// Adds every write of `other` after these (its writes win).
    pub(crate) fn extend(&mut self, mut other: Writes) {
        if self.is_empty() {
            *self = other;
            return;
        }
        if self.map.is_empty() && other.len() <= MAX_INSERTS.saturating_sub(self.inserted) {
            for (key, write) in other.into_iter() {
                self.insert(key, write);
            }
            return;
        }
        let len = self.len();
        let mut theirs = std::mem::take(other.map());
        let map = self.map();
        if theirs.len() >= len / 8 {
            // Merged in one pass over both (later writes win), not key by key from the root.
            map.append(&mut theirs);
        } else {
            map.extend(theirs);
        }
    }

    /// Forgets every write, keeping the list's allocation.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.sorted.clear();
        self.inserted = 0;
    }

    /// The writes in key order, moved out; the list's allocation is kept for the next ones (a
    /// chunk reuses one batch for each value's writes).
    pub(crate) fn drain(&mut self) -> Drain<'_> {
        self.inserted = 0;
        if self.map.is_empty() {
            Drain::Sorted(self.sorted.drain(..))
        } else {
            Drain::Map(std::mem::take(&mut self.map).into_iter())
        }
    }

    pub(crate) fn into_iter(self) -> IntoIter {
        if self.sorted.is_empty() {
            IntoIter::Map(self.map.into_iter())
        } else {
            IntoIter::Sorted(self.sorted.into_iter())
        }
    }

    /// Which way the writes are held (tests).
    #[cfg(test)]
    fn is_sorted_list(&self) -> bool {
        !self.sorted.is_empty()
    }
}

/// The writes in key order, borrowed.
pub(crate) enum Iter<'a> {
    Map(std::collections::btree_map::Iter<'a, Vec<u8>, Write>),
    Range(std::collections::btree_map::Range<'a, Vec<u8>, Write>),
    Sorted(std::slice::Iter<'a, (Vec<u8>, Write)>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a Write);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Map(i) => i.next().map(|(k, w)| (k.as_slice(), w)),
            Iter::Range(i) => i.next().map(|(k, w)| (k.as_slice(), w)),
            Iter::Sorted(i) => i.next().map(|(k, w)| (k.as_slice(), w)),
        }
    }
}

/// The writes in key order, moved out.
pub(crate) enum IntoIter {
    Map(std::collections::btree_map::IntoIter<Vec<u8>, Write>),
    Sorted(std::vec::IntoIter<(Vec<u8>, Write)>),
}

impl Iterator for IntoIter {
    type Item = (Vec<u8>, Write);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            IntoIter::Map(i) => i.next(),
            IntoIter::Sorted(i) => i.next(),
        }
    }
}

/// The writes in key order, drained.
pub(crate) enum Drain<'a> {
    Map(std::collections::btree_map::IntoIter<Vec<u8>, Write>),
    Sorted(std::vec::Drain<'a, (Vec<u8>, Write)>),
}

impl Iterator for Drain<'_> {
    type Item = (Vec<u8>, Write);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Drain::Map(i) => i.next(),
            Drain::Sorted(i) => i.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn put(v: u8) -> Write {
        Write::Put(vec![v])
    }

    /// The same writes held both ways read the same, by range and key, and equal each other.
    #[test]
    fn a_sorted_list_reads_as_the_map_of_its_writes() {
        let writes: Vec<(Vec<u8>, Write)> =
            (0..40u8).map(|i| (vec![i / 8, i], if i % 3 == 0 { Write::Delete } else { put(i) })).collect();
        let map = Writes { map: writes.iter().cloned().collect(), ..Writes::default() };
        let sorted = Writes::sorted(writes.clone());
        assert_eq!(map, sorted);
        assert!(map.iter().eq(sorted.iter()));
        let keys: Vec<Vec<u8>> =
            (0..6u8).flat_map(|a| (0..45u8).map(move |b| vec![a, b])).chain([vec![], vec![9]]).collect();
        for k in &keys {
            assert_eq!(map.get(k), sorted.get(k), "{k:?}");
            for hi in &keys {
                for bounds in [
                    (Bound::Included(k.as_slice()), Bound::Excluded(hi.as_slice())),
                    (Bound::Excluded(k.as_slice()), Bound::Included(hi.as_slice())),
                    (Bound::Included(k.as_slice()), Bound::Unbounded),
                    (Bound::Unbounded, Bound::Excluded(hi.as_slice())),
                ] {
                    if k > hi {
                        continue;
                    }
                    assert!(map.range(bounds).eq(sorted.range(bounds)), "{bounds:?}");
                }
            }
        }
    }

    /// Writing to a sorted list, or extending it, gives what the map gives.
    #[test]
    fn a_sorted_list_written_again_becomes_the_map_written_again() {
        let first: Vec<(Vec<u8>, Write)> = (0..20u8).map(|i| (vec![i], put(i))).collect();
        let mut map = Writes { map: first.iter().cloned().collect(), ..Writes::default() };
        let mut sorted = Writes::sorted(first);
        assert!(sorted.is_sorted_list());
        map.insert(vec![5], Write::Delete);
        sorted.insert(vec![5], Write::Delete);
        assert_eq!(map, sorted);
        let later: Vec<(Vec<u8>, Write)> = (10..30u8).map(|i| (vec![i], put(100 + i))).collect();
        map.extend(Writes::sorted(later.clone()));
        sorted.extend(Writes { map: later.into_iter().collect(), ..Writes::default() });
        assert_eq!(map, sorted);
        assert_eq!(sorted.get(&[12]), Some(&put(112)));
        let mut empty = Writes::default();
        empty.extend(Writes::sorted(vec![(vec![1], put(1))]));
        assert!(empty.is_sorted_list());
        assert!(map.into_iter().eq(sorted.into_iter()));
    }

    /// A few writes go into the list where they belong; many make it a map. Either way it reads
    /// as the map written the same way.
    #[test]
    fn writes_one_by_one_go_into_the_list_until_there_are_many() {
        let first: Vec<(Vec<u8>, Write)> = (0..100u8).map(|i| (vec![i, 1], put(i))).collect();
        let mut map = Writes { map: first.iter().cloned().collect(), ..Writes::default() };
        let mut sorted = Writes::sorted(first);
        // A block's status, before, inside and after the chunk's writes, and a key written again.
        for key in [vec![0], vec![50, 0], vec![200], vec![7, 1]] {
            map.insert(key.clone(), Write::Delete);
            sorted.insert(key, Write::Delete);
        }
        assert!(sorted.is_sorted_list());
        assert_eq!(map, sorted);
        for i in 0..MAX_INSERTS as u8 {
            map.insert(vec![i, 0], put(i));
            sorted.insert(vec![i, 0], put(i));
        }
        assert!(!sorted.is_sorted_list());
        assert_eq!(map, sorted);
        assert!(map.iter().eq(sorted.iter()));
    }

    /// An operation on a batch's writes: write a key, add another batch (gathered in order, or
    /// written key by key), drain, or clear.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, Option<u8>),
        ExtendSorted(Vec<(u8, Option<u8>)>),
        ExtendWritten(Vec<(u8, Option<u8>)>),
        Drain,
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        let write = (any::<u8>(), proptest::option::of(any::<u8>()));
        prop_oneof![
            6 => write.clone().prop_map(|(k, v)| Op::Insert(k, v)),
            2 => proptest::collection::vec(write.clone(), 0..120).prop_map(Op::ExtendSorted),
            2 => proptest::collection::vec(write, 0..120).prop_map(Op::ExtendWritten),
            1 => Just(Op::Drain),
            1 => Just(Op::Clear),
        ]
    }

    fn write_of(v: Option<u8>) -> Write {
        v.map_or(Write::Delete, put)
    }

    proptest! {
        /// Whatever way the writes are held, and whenever they change from a list to a map, they
        /// read (in order, by range, by key) and drain as a map of the same writes does.
        #[test]
        fn reads_as_a_map_whatever_it_holds(ops in proptest::collection::vec(op(), 0..60)) {
            let mut writes = Writes::default();
            let mut model: BTreeMap<Vec<u8>, Write> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        writes.insert(vec![k], write_of(v));
                        model.insert(vec![k], write_of(v));
                    }
                    Op::ExtendSorted(list) => {
                        let gathered: BTreeMap<Vec<u8>, Write> =
                            list.into_iter().map(|(k, v)| (vec![k], write_of(v))).collect();
                        model.extend(gathered.clone());
                        writes.extend(Writes::sorted(gathered.into_iter().collect()));
                    }
                    Op::ExtendWritten(list) => {
                        let mut other = Writes::default();
                        for (k, v) in list {
                            other.insert(vec![k], write_of(v));
                            model.insert(vec![k], write_of(v));
                        }
                        writes.extend(other);
                    }
                    Op::Drain => {
                        let drained: Vec<_> = writes.drain().collect();
                        let want: Vec<_> = std::mem::take(&mut model).into_iter().collect();
                        prop_assert_eq!(drained, want);
                    }
                    Op::Clear => {
                        writes.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(writes.len(), model.len());
                prop_assert!(writes.iter().eq(model.iter().map(|(k, w)| (k.as_slice(), w))));
                for k in [0u8, 1, 77, 128, 254, 255] {
                    prop_assert_eq!(writes.get(&[k]), model.get(&vec![k]));
                    let lo = [k];
                    let bounds = (Bound::Excluded(&lo[..]), Bound::Unbounded);
                    prop_assert!(writes
                        .range(bounds)
                        .eq(model.range::<[u8], _>(bounds).map(|(k, w)| (k.as_slice(), w))));
                }
            }
            prop_assert!(writes.into_iter().eq(model.into_iter()));
        }
    }
}
