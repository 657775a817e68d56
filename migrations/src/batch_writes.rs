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
//! [`MAX_INSERTS`] writes one by one, it becomes a map. The list holds its keys in one buffer
//! ([`crate::key_list`]), not one allocation each.

use crate::key_list::{self, IntoEntries, KeyList};
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

/// Writes by key, each key once: in `map`, or in `list` (at most one of the two holds any).
#[derive(Debug, Clone, Default)]
pub(crate) struct Writes {
    map: BTreeMap<Box<[u8]>, Write>,
    /// Strictly ascending keys.
    list: KeyList<Write>,
    /// Writes put into `list` one by one since it was gathered.
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
    /// `list`, in strictly ascending key order (the caller's promise, checked in debug builds).
    pub(crate) fn sorted(list: KeyList<Write>) -> Writes {
        debug_assert!(list.iter().zip(list.iter().skip(1)).all(|((a, _), (b, _))| a < b));
        Writes { map: BTreeMap::new(), list, inserted: 0 }
    }

    /// The map, made from the sorted list if that is what is held.
    fn map(&mut self) -> &mut BTreeMap<Box<[u8]>, Write> {
        if !self.list.is_empty() {
            // Sorted and distinct: built in one pass.
            let (bytes, entries) = std::mem::take(&mut self.list).into_parts();
            self.map = entries.into_iter().map(|(span, write)| (Box::<[u8]>::from(span.of(&bytes)), write)).collect();
            self.inserted = 0;
        }
        &mut self.map
    }

    pub(crate) fn insert(&mut self, key: &[u8], write: Write) {
        // A small batch (a value's new version and its old one deleted) is a short list: a
        // map's first node is larger than such a batch's keys.
        if self.map.is_empty() && self.inserted < MAX_INSERTS {
            match self.list.search(key) {
                Ok(i) => {
                    if let Some(slot) = self.list.value_mut(i) {
                        *slot = write;
                    }
                }
                Err(i) => {
                    self.list.insert(i, key, write);
                    self.inserted += 1;
                }
            }
            return;
        }
        self.map().insert(key.into(), write);
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len() + self.list.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn iter(&self) -> Iter<'_> {
        if self.list.is_empty() {
            Iter::Map(self.map.iter())
        } else {
            Iter::List(self.list.iter())
        }
    }

    /// The writes with keys within `bounds`, in key order.
    pub(crate) fn range<'a>(&'a self, bounds: (Bound<&[u8]>, Bound<&[u8]>)) -> Iter<'a> {
        if self.list.is_empty() {
            return Iter::Range(self.map.range::<[u8], _>(bounds));
        }
        let list = &self.list;
        let start = match bounds.0 {
            Bound::Included(k) => list.partition_point(|key| key < k),
            Bound::Excluded(k) => list.partition_point(|key| key <= k),
            Bound::Unbounded => 0,
        };
        let end = match bounds.1 {
            Bound::Included(k) => list.partition_point(|key| key <= k),
            Bound::Excluded(k) => list.partition_point(|key| key < k),
            Bound::Unbounded => list.len(),
        };
        Iter::List(list.iter_range(start..end.max(start)))
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&Write> {
        if self.list.is_empty() {
            return self.map.get(key);
        }
        let i = self.list.search(key).ok()?;
        self.list.iter_range(i..i + 1).next().map(|(_, w)| w)
    }

    /// Adds every write of `other` after these (its writes win).
    pub(crate) fn extend(&mut self, mut other: Writes) {
        if self.is_empty() {
            *self = other;
            return;
        }
        if self.map.is_empty() && other.len() <= MAX_INSERTS.saturating_sub(self.inserted) {
            other.drain_into(|key, write| self.insert(key, write));
            return;
        }
        if self.map.is_empty() && other.map.is_empty() {
            // Two lists (a block's chunks, one entry after another): merged in one pass.
            let merged = merge(std::mem::take(&mut self.list), other.list);
            *self = Writes::sorted(merged);
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
        self.list.clear();
        self.inserted = 0;
    }

    /// Moves the writes out to `each` in key order; the list's allocation is kept for the next
    /// ones (a chunk reuses one batch for each value's writes).
    pub(crate) fn drain_into(&mut self, mut each: impl FnMut(&[u8], Write)) {
        self.inserted = 0;
        if self.list.is_empty() {
            for (key, write) in std::mem::take(&mut self.map) {
                each(&key, write);
            }
        } else {
            self.list.drain_into(each);
        }
    }

    /// The writes in key order, moved out.
    pub(crate) fn into_entries(mut self) -> IntoEntries<Write> {
        if !self.map.is_empty() {
            let key_bytes = self.map.keys().map(|k| k.len()).sum();
            let mut list = KeyList::with_capacity(self.map.len(), key_bytes);
            for (key, write) in std::mem::take(&mut self.map) {
                list.push(&key, write);
            }
            self.list = list;
        }
        IntoEntries::new(self.list)
    }

    /// Which way the writes are held (tests).
    #[cfg(test)]
    fn is_sorted_list(&self) -> bool {
        !self.list.is_empty()
    }
}

/// Two sorted lists as one, `later`'s write winning where both write a key.
fn merge(earlier: KeyList<Write>, later: KeyList<Write>) -> KeyList<Write> {
    let mut out = KeyList::with_capacity(earlier.len() + later.len(), earlier.key_bytes() + later.key_bytes());
    let (a_bytes, a) = earlier.into_parts();
    let (b_bytes, b) = later.into_parts();
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let order = match (a.peek(), b.peek()) {
            (Some((x, _)), Some((y, _))) => x.of(&a_bytes).cmp(y.of(&b_bytes)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => break,
        };
        let (bytes, next) = match order {
            std::cmp::Ordering::Less => (&a_bytes, a.next()),
            std::cmp::Ordering::Greater => (&b_bytes, b.next()),
            std::cmp::Ordering::Equal => {
                a.next();
                (&b_bytes, b.next())
            }
        };
        if let Some((span, write)) = next {
            out.push(span.of(bytes), write);
        }
    }
    out
}

/// The writes in key order, borrowed.
pub(crate) enum Iter<'a> {
    Map(std::collections::btree_map::Iter<'a, Box<[u8]>, Write>),
    Range(std::collections::btree_map::Range<'a, Box<[u8]>, Write>),
    List(key_list::Iter<'a, Write>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a Write);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Map(i) => i.next().map(|(k, w)| (&k[..], w)),
            Iter::Range(i) => i.next().map(|(k, w)| (&k[..], w)),
            Iter::List(i) => i.next(),
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

    /// `writes` (in strictly ascending key order) as a list.
    fn listed(writes: &[(Vec<u8>, Write)]) -> Writes {
        let mut list = KeyList::default();
        for (key, write) in writes {
            list.push(key, write.clone());
        }
        Writes::sorted(list)
    }

    /// `writes` as a map.
    fn mapped(writes: &[(Vec<u8>, Write)]) -> Writes {
        Writes { map: writes.iter().map(|(k, w)| (k.as_slice().into(), w.clone())).collect(), ..Writes::default() }
    }

    /// The writes, moved out in order.
    fn moved(writes: Writes) -> Vec<(Vec<u8>, Write)> {
        let mut out = Vec::new();
        let mut entries = writes.into_entries();
        while let Some((key, write)) = entries.next_entry() {
            out.push((key.to_vec(), write));
        }
        out
    }

    /// The same writes held both ways read the same, by range and key, and equal each other.
    #[test]
    fn a_sorted_list_reads_as_the_map_of_its_writes() {
        let writes: Vec<(Vec<u8>, Write)> =
            (0..40u8).map(|i| (vec![i / 8, i], if i % 3 == 0 { Write::Delete } else { put(i) })).collect();
        let map = mapped(&writes);
        let sorted = listed(&writes);
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
        let mut map = mapped(&first);
        let mut sorted = listed(&first);
        assert!(sorted.is_sorted_list());
        map.insert(&[5], Write::Delete);
        sorted.insert(&[5], Write::Delete);
        assert_eq!(map, sorted);
        let later: Vec<(Vec<u8>, Write)> = (10..30u8).map(|i| (vec![i], put(100 + i))).collect();
        map.extend(listed(&later));
        sorted.extend(mapped(&later));
        assert_eq!(map, sorted);
        assert_eq!(sorted.get(&[12]), Some(&put(112)));
        let mut empty = Writes::default();
        empty.extend(listed(&[(vec![1], put(1))]));
        assert!(empty.is_sorted_list());
        assert_eq!(moved(map), moved(sorted));
    }

    /// A few writes go into the list where they belong; many make it a map. Either way it reads
    /// as the map written the same way.
    #[test]
    fn writes_one_by_one_go_into_the_list_until_there_are_many() {
        let first: Vec<(Vec<u8>, Write)> = (0..100u8).map(|i| (vec![i, 1], put(i))).collect();
        let mut map = mapped(&first);
        let mut sorted = listed(&first);
        // A block's status, before, inside and after the chunk's writes, and a key written again.
        for key in [vec![0], vec![50, 0], vec![200], vec![7, 1]] {
            map.insert(&key, Write::Delete);
            sorted.insert(&key, Write::Delete);
        }
        assert!(sorted.is_sorted_list());
        assert_eq!(map, sorted);
        for i in 0..MAX_INSERTS as u8 {
            map.insert(&[i, 0], put(i));
            sorted.insert(&[i, 0], put(i));
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
                        writes.insert(&[k], write_of(v));
                        model.insert(vec![k], write_of(v));
                    }
                    Op::ExtendSorted(list) => {
                        let gathered: BTreeMap<Vec<u8>, Write> =
                            list.into_iter().map(|(k, v)| (vec![k], write_of(v))).collect();
                        model.extend(gathered.clone());
                        writes.extend(listed(&gathered.into_iter().collect::<Vec<_>>()));
                    }
                    Op::ExtendWritten(list) => {
                        let mut other = Writes::default();
                        for (k, v) in list {
                            other.insert(&[k], write_of(v));
                            model.insert(vec![k], write_of(v));
                        }
                        writes.extend(other);
                    }
                    Op::Drain => {
                        let mut drained = Vec::new();
                        writes.drain_into(|k, w| drained.push((k.to_vec(), w)));
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
            prop_assert_eq!(moved(writes), model.into_iter().collect::<Vec<_>>());
        }
    }
}
