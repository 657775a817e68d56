//! Keys held end to end in one buffer, each with a value: how a batch's sorted writes and a
//! chunk's write log hold their keys.
//!
//! A chunk of the migration loop writes two keys per value (its new version, its old one
//! deleted) and every store copies a key where it keeps it. Allocating each key on its own, only
//! to free it once the batch was applied, put a third of the loop's time at a million accounts
//! into the allocator, and scattered over the heap the keys a store then reads in order. Here a
//! key is a span of one buffer that grows by doubling and is reused from chunk to chunk.

use std::ops::Range;

/// Where a key lies in its list's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    at: usize,
    len: usize,
}

impl Span {
    /// The key's bytes in `bytes` (the buffer the span was made in).
    pub(crate) fn of(self, bytes: &[u8]) -> &[u8] {
        bytes.get(self.at..self.at.saturating_add(self.len)).unwrap_or_default()
    }
}

/// Copies `key` to the end of `bytes` and says where it went.
pub(crate) fn hold(bytes: &mut Vec<u8>, key: &[u8]) -> Span {
    let at = bytes.len();
    bytes.extend_from_slice(key);
    Span { at, len: key.len() }
}

/// Entries of a key and a value, each key a span of one buffer; kept in the order the caller
/// places them.
#[derive(Debug, Clone)]
pub(crate) struct KeyList<T> {
    bytes: Vec<u8>,
    entries: Vec<(Span, T)>,
}

impl<T> Default for KeyList<T> {
    fn default() -> Self {
        KeyList { bytes: Vec::new(), entries: Vec::new() }
    }
}

impl<T> KeyList<T> {
    /// Room for `entries` entries whose keys take `key_bytes` bytes in all.
    pub(crate) fn with_capacity(entries: usize, key_bytes: usize) -> KeyList<T> {
        KeyList { bytes: Vec::with_capacity(key_bytes), entries: Vec::with_capacity(entries) }
    }

    /// A list of `entries` whose spans point into `bytes`.
    pub(crate) fn from_parts(bytes: Vec<u8>, entries: Vec<(Span, T)>) -> KeyList<T> {
        KeyList { bytes, entries }
    }

    /// The buffer and the entries that point into it, apart: for a caller that moves the values
    /// out while it reads the keys.
    pub(crate) fn into_parts(self) -> (Vec<u8>, Vec<(Span, T)>) {
        (self.bytes, self.entries)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes its keys take (with those of keys written over).
    pub(crate) fn key_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The value of entry `i`.
    pub(crate) fn value_mut(&mut self, i: usize) -> Option<&mut T> {
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Adds an entry after the others.
    pub(crate) fn push(&mut self, key: &[u8], value: T) {
        let span = hold(&mut self.bytes, key);
        self.entries.push((span, value));
    }

    /// Adds an entry at position `i` (its key's bytes go to the end of the buffer).
    pub(crate) fn insert(&mut self, i: usize, key: &[u8], value: T) {
        let span = hold(&mut self.bytes, key);
        self.entries.insert(i.min(self.entries.len()), (span, value));
    }

    /// The first position whose key is not `before` it (entries ordered by key).
    pub(crate) fn partition_point(&self, mut before: impl FnMut(&[u8]) -> bool) -> usize {
        self.entries.partition_point(|(span, _)| before(span.of(&self.bytes)))
    }

    /// Where `key` is, or where it would go (entries ordered by key).
    pub(crate) fn search(&self, key: &[u8]) -> Result<usize, usize> {
        self.entries.binary_search_by(|(span, _)| span.of(&self.bytes).cmp(key))
    }

    /// The entries in `range`, in order.
    pub(crate) fn iter_range(&self, range: Range<usize>) -> Iter<'_, T> {
        Iter { bytes: &self.bytes, entries: self.entries.get(range).unwrap_or_default().iter() }
    }

    /// Every entry, in order.
    pub(crate) fn iter(&self) -> Iter<'_, T> {
        self.iter_range(0..self.entries.len())
    }

    /// Moves every entry out to `each`, in order, and forgets them, keeping the allocations.
    pub(crate) fn drain_into(&mut self, mut each: impl FnMut(&[u8], T)) {
        let bytes = &self.bytes;
        for (span, value) in self.entries.drain(..) {
            each(span.of(bytes), value);
        }
        self.bytes.clear();
    }

    /// Forgets every entry, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }
}

/// A list's entries, borrowed, in order.
#[derive(Debug, Clone)]
pub(crate) struct Iter<'a, T> {
    bytes: &'a [u8],
    entries: std::slice::Iter<'a, (Span, T)>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = (&'a [u8], &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.bytes;
        self.entries.next().map(|(span, v)| (span.of(bytes), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

/// A list's entries moved out in order, each key lent while its value is taken: what a store
/// reads a batch with ([`crate::store::WriteBatch::into_writes`]).
#[derive(Debug)]
pub struct IntoEntries<T> {
    bytes: Vec<u8>,
    entries: std::vec::IntoIter<(Span, T)>,
}

impl<T> IntoEntries<T> {
    pub(crate) fn new(list: KeyList<T>) -> IntoEntries<T> {
        IntoEntries { bytes: list.bytes, entries: list.entries.into_iter() }
    }

    /// The next key, lent until the next call, and its value.
    pub fn next_entry(&mut self) -> Option<(&[u8], T)> {
        let (span, value) = self.entries.next()?;
        Some((span.of(&self.bytes), value))
    }

    /// Entries left.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is left.
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys written anywhere in the list read back where they were placed, and moved out in
    /// order with the allocation kept.
    #[test]
    fn keys_read_back_where_they_were_placed() {
        let mut list = KeyList::default();
        list.push(b"bb", 2);
        list.insert(0, b"a", 1);
        list.push(b"ccc", 3);
        assert_eq!(list.search(b"bb"), Ok(1));
        assert_eq!(list.search(b"b"), Err(1));
        assert_eq!(list.partition_point(|k| k < b"c".as_slice()), 2);
        let seen: Vec<(&[u8], &i32)> = list.iter_range(1..3).collect();
        assert_eq!(seen, vec![(b"bb".as_slice(), &2), (b"ccc".as_slice(), &3)]);
        let mut moved = Vec::new();
        list.drain_into(|k, v| moved.push((k.to_vec(), v)));
        assert_eq!(moved, vec![(b"a".to_vec(), 1), (b"bb".to_vec(), 2), (b"ccc".to_vec(), 3)]);
        assert!(list.is_empty() && list.key_bytes() == 0);
        list.push(b"d", 4);
        let mut out = IntoEntries::new(list);
        assert_eq!(out.len(), 1);
        assert_eq!(out.next_entry(), Some((b"d".as_slice(), 4)));
        assert!(out.next_entry().is_none() && out.is_empty());
    }
}
