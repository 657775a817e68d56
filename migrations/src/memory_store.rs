//! The in-memory store: the reference [`Store`] of tests, benches and the devnet's chain, and
//! the store a node's simulation can run over.
//!
//! The state's keys share long prefixes: every resource key of a tag starts with `kind ++
//! BCS(tag)` (tens of bytes that are the same for every account) and ends with the account. A
//! map of whole keys compares those shared bytes again at every step of every lookup, through a
//! pointer to each key's own allocation; that was half the migration loop's time. So the keys are
//! kept in two levels: a *head* shared by many keys (a resource's or group's `kind ++ BCS(tag)`;
//! the kind byte alone for every other kind) and a *tail* per key (the account, held inline), in
//! maps ordered so that walking heads then tails walks the keys in their byte order.
//!
//! That holds when no head is a proper prefix of another (then `head ++ tail` orders as the pair
//! does), which is true of the canonical encoding: a tag's BCS is self-delimiting and the kinds
//! differ in their first byte. The store does not trust it of its input: a key that would break
//! it (a malformed resource key, say) turns the store into one map of whole keys, which gives the
//! same answers, only slower.

use crate::key::StructTag;
use crate::state_key::{self, tag_prefix, KeyKind, StateKey};
use crate::store::{Store, StoreError, StoreVersion, Write, WriteBatch, DEFAULT_MAX_VALUE_SIZE};
use crate::AccountAddress;
use binary_format::AddressLength;
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::Bound;

/// The longest tail held without an allocation of its own: an account of the widest chain.
const INLINE: usize = 32;

/// A key's second part, ordered as its bytes are. Held inline up to [`INLINE`] bytes (every
/// account), so that comparing two follows no pointer.
#[derive(Clone)]
enum Tail {
    Inline(u8, [u8; INLINE]),
    Heap(Box<[u8]>),
}

impl Tail {
    fn new(bytes: &[u8]) -> Tail {
        match u8::try_from(bytes.len()) {
            Ok(len) => {
                let mut inline = [0u8; INLINE];
                match inline.get_mut(..bytes.len()) {
                    Some(room) => {
                        room.copy_from_slice(bytes);
                        Tail::Inline(len, inline)
                    }
                    None => Tail::Heap(bytes.into()),
                }
            }
            Err(_) => Tail::Heap(bytes.into()),
        }
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Tail::Inline(len, bytes) => bytes.get(..usize::from(*len)).unwrap_or_default(),
            Tail::Heap(bytes) => bytes,
        }
    }
}

impl Borrow<[u8]> for Tail {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Tail {
    fn eq(&self, other: &Tail) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Tail {}

impl PartialOrd for Tail {
    fn partial_cmp(&self, other: &Tail) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Tail {
    fn cmp(&self, other: &Tail) -> std::cmp::Ordering {
        match (self, other) {
            // Zero-padded arrays order as the bytes do, up to a tail that is the other's prefix
            // followed by zeros: the lengths settle that. Compared a word at a time, without a
            // call to `memcmp` (most of a lookup is these comparisons).
            (Tail::Inline(la, a), Tail::Inline(lb, b)) => words(a).cmp(&words(b)).then(la.cmp(lb)),
            _ => self.as_slice().cmp(other.as_slice()),
        }
    }
}

/// An inline tail as big-endian words: compared in order, they order as its bytes do.
#[inline]
fn words(bytes: &[u8; INLINE]) -> [u64; INLINE / 8] {
    let mut out = [0u64; INLINE / 8];
    for (word, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *word = u64::from_be_bytes(b);
    }
    out
}

type Tails = BTreeMap<Tail, Vec<u8>>;

/// The heads in byte order, each with its tails: a sorted list, searched by halves. A state
/// holds a few dozen heads (one per stored tag), so a map's node (eleven keys, searched one by
/// one, each a call to `memcmp` over tens of shared bytes) cost more than the search of its
/// tails; and heads are added only when a new tag is first stored. A new head moves the heads
/// after it: a state of very many tags (tens of thousands of instantiations) is best loaded in
/// key order, as a snapshot import and a genesis write it, where each new head goes last.
#[derive(Clone, Default)]
struct Heads(Vec<(Box<[u8]>, Tails)>);

impl Heads {
    /// Where `head` is, or where it would go.
    fn search(&self, head: &[u8]) -> Result<usize, usize> {
        self.0.binary_search_by(|(h, _)| h[..].cmp(head))
    }

    fn get(&self, head: &[u8]) -> Option<&Tails> {
        self.search(head).ok().and_then(|i| self.0.get(i)).map(|(_, t)| t)
    }

    /// The first head that can hold a key at or after `key`: the last head at or before it
    /// when it is a prefix of it, else the first after it.
    fn first_for(&self, key: &[u8]) -> usize {
        let after = self.0.partition_point(|(h, _)| h[..] <= *key);
        match after.checked_sub(1).and_then(|i| self.0.get(i)) {
            Some((h, _)) if key.starts_with(h) => after - 1,
            _ => after,
        }
    }
}

/// A range over byte keys, as `BTreeMap::range` takes it.
type Range<'k> = (Bound<&'k [u8]>, Bound<&'k [u8]>);

/// A deterministic in-memory store: the canonical keys in order (see the module docs for how
/// they are held).
pub struct InMemoryStore {
    heads: Heads,
    len: usize,
    /// Every key is under the empty head (a key would have nested two heads).
    whole_keys: bool,
    max_value_size: usize,
    /// What [`Store::version`] gives: this store's own number, and the batches applied.
    version: StoreVersion,
}

/// A clone is another store: it gets a version of its own (the two part from here).
impl Clone for InMemoryStore {
    fn clone(&self) -> Self {
        InMemoryStore {
            heads: self.heads.clone(),
            len: self.len,
            whole_keys: self.whole_keys,
            max_value_size: self.max_value_size,
            version: StoreVersion::new(),
        }
    }
}

impl Default for InMemoryStore {
    fn default() -> Self {
        InMemoryStore::new()
    }
}

impl std::fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryStore").field("len", &self.len).field("max_value_size", &self.max_value_size).finish()
    }
}

/// Equal when they hold the same keys and values and refuse the same sizes (however the keys are
/// held).
impl PartialEq for InMemoryStore {
    fn eq(&self, other: &InMemoryStore) -> bool {
        self.max_value_size == other.max_value_size && self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for InMemoryStore {}

/// Where `key` splits into head and tail: after the tag of a resource or group key (its account
/// is the tail), after the kind byte of any other.
///
/// For each width, widest first, the bytes before the last `width` (the account) must be
/// exactly one tag. So whether a width is taken depends only on the bytes before its account,
/// and a key as long as another and starting with the other's head splits where the other did
/// (each wider width is refused on bytes inside that head): what lets [`InMemoryStore::apply`]
/// split a run of one tag's keys without reading each tag again.
fn head_len(key: &[u8]) -> usize {
    match key.first().and_then(|&b| KeyKind::of_byte(b)) {
        Some(KeyKind::Resource | KeyKind::Group) => {
            let rest = key.get(1..).unwrap_or_default();
            WIDTHS
                .into_iter()
                .find_map(|w| {
                    let tag = rest.get(..rest.len().checked_sub(w.bytes())?)?;
                    is_tag_of_width(tag, w).then_some(tag.len())
                })
                .map_or(key.len(), |used| 1 + used)
        }
        _ => key.len().min(1),
    }
}

/// The widths [`head_len`] tries, widest first.
const WIDTHS: [AddressLength; 3] = [AddressLength::Bytes32, AddressLength::Bytes20, AddressLength::Bytes16];

/// Whether `tag` is exactly one tag's BCS with addresses of width `w`.
fn is_tag_of_width(tag: &[u8], w: AddressLength) -> bool {
    // The module name's length follows the address: a wrong width mostly reads a name's letter
    // there, a length past the end. Refused here as the reader would refuse it, before it
    // builds an error (reads try every width).
    let Some(&first) = tag.get(w.bytes()) else { return false };
    if first < 0x80 && w.bytes() + 1 + usize::from(first) > tag.len() {
        return false;
    }
    StructTag::bcs_len(tag, w) == Some(tag.len())
}

/// Whether [`head_len`] splits every key `head ++ account` (an account of width `w`) right
/// after `head`, where `head` is `kind ++ BCS(tag)` of a tag of width `w`. Its own width reads
/// the tag exactly; a wider width is tried first and looks only at bytes of the head (it
/// leaves more bytes to the account), so the answer does not depend on the account, and the
/// typed read skips reading the tag again.
fn splits_after(head: &[u8], w: AddressLength) -> bool {
    let tag = head.get(1..).unwrap_or_default();
    WIDTHS.into_iter().filter(|wider| wider.bytes() > w.bytes()).all(|wider| {
        let cut = tag.len().checked_sub(wider.bytes() - w.bytes());
        !cut.and_then(|cut| tag.get(..cut)).is_some_and(|region| is_tag_of_width(region, wider))
    })
}

/// The part of a range over whole keys that falls under `head`, as a range over its tails;
/// `None` when none does and no later head's keys do either (the walk stops).
fn tail_bounds<'k>(head: &[u8], lower: Bound<&'k [u8]>, upper: Bound<&'k [u8]>) -> Option<Range<'k>> {
    // A bound that starts with the head cuts its tails; one that does not lies wholly before or
    // after them (no head is a prefix of another).
    let cut = |b: Bound<&'k [u8]>| -> Option<Bound<&'k [u8]>> {
        let key = match b {
            Bound::Included(k) | Bound::Excluded(k) => k,
            Bound::Unbounded => return None,
        };
        let rest = key.strip_prefix(head)?;
        Some(match b {
            Bound::Included(_) => Bound::Included(rest),
            _ => Bound::Excluded(rest),
        })
    };
    let upper_tail = match (cut(upper), upper) {
        (Some(b), _) => b,
        (None, Bound::Included(k) | Bound::Excluded(k)) if head > k => return None,
        _ => Bound::Unbounded,
    };
    let lower_tail = match (cut(lower), lower) {
        (Some(b), _) => b,
        // Heads are walked from the first that can hold a key in range, so a head before the
        // lower bound that does not cut it holds none: its range is empty.
        (None, Bound::Included(k) | Bound::Excluded(k)) if head < k => {
            return Some((Bound::Excluded(&[]), Bound::Included(&[])))
        }
        _ => Bound::Unbounded,
    };
    Some((lower_tail, upper_tail))
}

/// Whether a range over `map` with these bounds is empty (where `BTreeMap::range` would panic).
fn is_empty_range(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) | (Bound::Excluded(l), Bound::Included(u)) => {
            l >= u
        }
        _ => false,
    }
}

impl InMemoryStore {
    /// An empty store refusing values over [`DEFAULT_MAX_VALUE_SIZE`] bytes.
    pub fn new() -> Self {
        InMemoryStore::with_max_value_size(DEFAULT_MAX_VALUE_SIZE)
    }

    /// An empty store refusing values over `max_value_size` bytes (a batch that puts one is
    /// refused whole).
    pub fn with_max_value_size(max_value_size: usize) -> Self {
        InMemoryStore {
            heads: Heads::default(),
            len: 0,
            whole_keys: false,
            max_value_size,
            version: StoreVersion::new(),
        }
    }

    /// Number of values held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every entry, in key order: what a state root hashes.
    pub fn iter(&self) -> impl Iterator<Item = (Vec<u8>, &[u8])> {
        self.heads.0.iter().flat_map(|(head, tails)| {
            tails.iter().map(move |(tail, value)| ([&head[..], tail.as_slice()].concat(), value.as_slice()))
        })
    }

    /// Every resource, decoded with `width`, in key order (keys of other kinds are skipped).
    pub fn resources(&self, width: AddressLength) -> impl Iterator<Item = (StructTag, AccountAddress, &[u8])> + '_ {
        self.iter().filter_map(move |(k, v)| match StateKey::decode(&k, width) {
            Ok(StateKey::Resource { account, tag }) => Some((tag, account, v)),
            _ => None,
        })
    }

    /// Number of accounts holding resource `tag`.
    pub fn count(&self, tag: &StructTag) -> usize {
        let prefix = tag_prefix(KeyKind::Resource, tag);
        let mut n = 0;
        self.walk(state_key::ScanRange::new(&prefix, None).bounds(), &mut |_, _| {
            n += 1;
            true
        });
        n
    }

    fn split<'k>(&self, key: &'k [u8]) -> (&'k [u8], &'k [u8]) {
        let at = if self.whole_keys { 0 } else { head_len(key) };
        key.split_at(at.min(key.len()))
    }

    /// Visits the keys within the bounds in order, each whole, until `visit` says stop.
    fn walk(&self, (lower, upper): Range<'_>, visit: &mut dyn FnMut(&[u8], &[u8]) -> bool) {
        if is_empty_range(lower, upper) {
            return;
        }
        // The first head that can hold a key in range.
        let from = match lower {
            Bound::Included(k) | Bound::Excluded(k) => self.heads.first_for(k),
            Bound::Unbounded => 0,
        };
        let mut key = Vec::new();
        for (head, tails) in self.heads.0.get(from..).unwrap_or_default() {
            let Some((lo, hi)) = tail_bounds(head, lower, upper) else { return };
            if is_empty_range(lo, hi) {
                continue;
            }
            for (tail, value) in tails.range::<[u8], _>((lo, hi)) {
                key.clear();
                key.extend_from_slice(head);
                key.extend_from_slice(tail.as_slice());
                if !visit(&key, value) {
                    return;
                }
            }
        }
    }

    /// Whether a new head would nest with one held (one a proper prefix of the other). Enough
    /// to look at its neighbours: a held head that is a prefix of `head` sorts just before it
    /// (heads between would start with it too, and nest already).
    fn would_nest(&self, head: &[u8]) -> bool {
        let at = self.heads.search(head).unwrap_or_else(|at| at);
        let before = at.checked_sub(1).and_then(|i| self.heads.0.get(i));
        let after = self.heads.0.get(at..).unwrap_or_default().iter().find(|(h, _)| h[..] != *head);
        before.is_some_and(|(b, _)| head.starts_with(b)) || after.is_some_and(|(a, _)| a.starts_with(head))
    }

    /// Holds every key under the empty head from now on.
    fn hold_whole_keys(&mut self) {
        let all: Tails = self.iter().map(|(k, v)| (Tail::new(&k), v.to_vec())).collect();
        self.heads = Heads(vec![(Box::<[u8]>::default(), all)]);
        self.whole_keys = true;
    }

    fn put(&mut self, key: &[u8], value: Vec<u8>) {
        let (head, tail) = self.split(key);
        let at = match self.heads.search(head) {
            Ok(found) => {
                if let Some((_, tails)) = self.heads.0.get_mut(found) {
                    if tails.insert(Tail::new(tail), value).is_none() {
                        self.len += 1;
                    }
                }
                return;
            }
            Err(at) => at,
        };
        if self.would_nest(head) {
            self.hold_whole_keys();
            return self.put(key, value);
        }
        self.heads.0.insert(at, (head.into(), BTreeMap::from([(Tail::new(tail), value)])));
        self.len += 1;
    }

    /// The value at `key`, where it is held. Looked up as a tail, not as a slice, so that it
    /// compares a word at a time.
    fn value(&self, key: &[u8]) -> Option<&Vec<u8>> {
        let (head, tail) = self.split(key);
        self.heads.get(head)?.get(&Tail::new(tail))
    }

    /// Drops the head at `at` if a run of writes emptied it.
    fn settle(&mut self, at: usize) {
        if !self.whole_keys && self.heads.0.get(at).is_some_and(|(_, tails)| tails.is_empty()) {
            self.heads.0.remove(at);
        }
    }
}

impl Store for InMemoryStore {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.value(key).cloned())
    }

    /// The resource looked up by its head and account, without splitting a whole key (which
    /// reads its tag again): a third of a read of one resource.
    fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError> {
        let head = tag_prefix(KeyKind::Resource, tag);
        let width = account.width();
        if self.whole_keys || !tag.has_width(width) || !splits_after(&head, width) {
            return self.get_key(&state_key::resource_key(account, tag));
        }
        Ok(self.heads.get(&head).and_then(|tails| tails.get(&Tail::new(account.as_bytes()))).cloned())
    }

    fn holds(&self, key: &[u8], expected: Option<&[u8]>) -> Result<bool, StoreError> {
        Ok(self.value(key).map(Vec::as_slice) == expected)
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.walk(state_key::ScanRange::new(prefix, after).bounds(), visit);
        Ok(())
    }

    fn version(&self) -> Option<StoreVersion> {
        Some(self.version)
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        // Check everything first: past this line nothing can fail, so the batch is all or nothing.
        batch.validate(self.max_value_size)?;
        self.version.applied += 1;
        // A batch is in key order, so its writes come a head at a time: the head is looked up
        // once for each run of them.
        // The run's head (its bytes, and where it is held if it is).
        let mut run: Option<(Vec<u8>, Option<usize>)> = None;
        let mut last_len = 0;
        let mut writes = batch.into_writes();
        while let Some((key, write)) = writes.next_entry() {
            // As long as the last key and starting with its head: split there (see `head_len`).
            let (head, tail) = match &run {
                Some((h, _)) if key.len() == last_len && key.starts_with(h) => key.split_at(h.len()),
                _ => self.split(key),
            };
            last_len = key.len();
            if run.as_ref().is_none_or(|(h, _)| h.as_slice() != head) {
                if let Some((_, Some(at))) = run.take() {
                    self.settle(at);
                }
                run = Some((head.to_vec(), self.heads.search(head).ok()));
            }
            let held = run.as_ref().and_then(|(_, at)| *at).and_then(|at| self.heads.0.get_mut(at));
            match (held, write) {
                (Some((_, tails)), Write::Put(bytes)) => {
                    if tails.insert(Tail::new(tail), bytes).is_none() {
                        self.len += 1;
                    }
                }
                (Some((_, tails)), Write::Delete) => {
                    if tails.remove(&Tail::new(tail)).is_some() {
                        self.len -= 1;
                    }
                }
                (None, Write::Put(bytes)) => {
                    self.put(key, bytes);
                    // The head is held now (or every key is held whole): look it up again.
                    run = None;
                }
                (None, Write::Delete) => {}
            }
        }
        if let Some((_, Some(at))) = run {
            self.settle(at);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_key::{resource_key, struct_prefix, table_prefix};
    use proptest::prelude::*;

    const WIDTH: AddressLength = AddressLength::Bytes32;

    fn tag(s: &str) -> StructTag {
        StructTag::parse(s, WIDTH).unwrap()
    }

    fn account(n: u64) -> AccountAddress {
        AccountAddress::from_u64(n, WIDTH)
    }

    /// Keys of every kind, sharing prefixes the way a chain's do: several instantiations of one
    /// struct, a struct whose name extends another's, table items, reserved and raw keys.
    fn keys() -> Vec<Vec<u8>> {
        let tags = [
            "0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>",
            "0x1::coin::CoinStore<0xcafe::my_coin::MyCoin>",
            "0x1::coin::CoinStoreX",
            "0x1::coin::Coin",
            "0x1::account::Account",
        ];
        let mut keys = Vec::new();
        for t in tags {
            for n in [1u64, 2, 0x100, u64::MAX] {
                keys.push(resource_key(&account(n), &tag(t)));
                let mut group = tag_prefix(KeyKind::Group, &tag(t));
                group.extend_from_slice(account(n).as_bytes());
                keys.push(group);
            }
        }
        // Keys of the narrower widths too: the split finds each key's width alone.
        for w in [AddressLength::Bytes16, AddressLength::Bytes20] {
            for n in [3u64, 0x200] {
                let t = StructTag::parse("0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>", w).unwrap();
                keys.push(resource_key(&AccountAddress::from_u64(n, w), &t));
            }
        }
        for n in [1u64, 7] {
            let mut item = table_prefix(&account(n));
            item.extend_from_slice(&[n as u8; 40]);
            keys.push(item.clone());
            item.truncate(34);
            keys.push(item);
        }
        keys.push(vec![0, 1, 2]);
        keys.push(vec![5]);
        keys
    }

    /// Keys no canonical encoding produces: a resource key cut short (its tag is a prefix of
    /// others' heads), an empty key.
    fn malformed() -> Vec<Vec<u8>> {
        let whole = resource_key(&account(3), &tag("0x1::coin::Coin"));
        vec![whole[..20].to_vec(), vec![1], Vec::new()]
    }

    fn prefixes() -> Vec<Vec<u8>> {
        let coin = coin_module();
        vec![
            Vec::new(),
            vec![1],
            vec![3],
            struct_prefix(KeyKind::Resource, &coin, "CoinStore", WIDTH).unwrap(),
            struct_prefix(KeyKind::Resource, &coin, "Coin", WIDTH).unwrap(),
            tag_prefix(KeyKind::Resource, &tag("0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>")),
            tag_prefix(KeyKind::Group, &tag("0x1::coin::Coin")),
            table_prefix(&account(7)),
        ]
    }

    fn coin_module() -> binary_format::ModuleId {
        binary_format::ModuleId { address: binary_format::Address::from_u64(1), name: "coin".to_owned() }
    }

    /// Every scan of `store` against the same scan of a map of whole keys.
    fn assert_scans_agree(store: &InMemoryStore, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
        assert_eq!(store.len(), model.len());
        assert!(store.iter().eq(model.iter().map(|(k, v)| (k.clone(), v.as_slice()))));
        let mut afters: Vec<Option<Vec<u8>>> = vec![None];
        afters.extend(keys().into_iter().chain(malformed()).map(Some));
        for prefix in prefixes() {
            for after in &afters {
                let mut got = Vec::new();
                store
                    .scan_keys(&prefix, after.as_deref(), &mut |k, v| {
                        got.push((k.to_vec(), v.to_vec()));
                        got.len() < 5
                    })
                    .unwrap();
                let range = state_key::ScanRange::new(&prefix, after.as_deref());
                let (lo, hi) = range.bounds();
                let want: Vec<_> = if is_empty_range(lo, hi) {
                    Vec::new()
                } else {
                    model.range::<[u8], _>((lo, hi)).take(5).map(|(k, v)| (k.clone(), v.clone())).collect()
                };
                assert_eq!(got, want, "prefix {prefix:?} after {after:?}");
            }
        }
        for k in keys().iter().chain(&malformed()) {
            assert_eq!(store.get_key(k).unwrap(), model.get(k).cloned());
            // The typed read (by head and account) finds what the read of the whole key finds.
            for w in WIDTHS {
                if let Ok(StateKey::Resource { account, tag }) = StateKey::decode(k, w) {
                    assert_eq!(store.get(&account, &tag).unwrap(), model.get(k).cloned(), "{k:?} as {w:?}");
                }
            }
        }
    }

    /// The version moves with every batch applied, and a clone is another store: a reader that
    /// saw a version again knows nothing was written, and never mistakes one store for another.
    #[test]
    fn the_version_moves_with_each_write_and_a_clone_has_its_own() {
        let mut store = InMemoryStore::new();
        let first = store.version();
        assert!(first.is_some());
        assert_eq!(store.version(), first);
        let mut batch = WriteBatch::new();
        batch.put_key(vec![5, 1], vec![1]);
        store.apply(batch).unwrap();
        let second = store.version();
        assert_ne!(second, first);
        let copy = store.clone();
        assert_ne!(copy.version(), second);
        assert_ne!(copy.version(), first);
        assert_eq!(copy, store);
        // A batch refused writes nothing, and leaves the version where it was.
        let mut too_large = WriteBatch::new();
        too_large.put_key(vec![5, 2], vec![0; DEFAULT_MAX_VALUE_SIZE + 1]);
        assert!(store.apply(too_large).is_err());
        assert_eq!(store.version(), second);
    }

    /// A typed read skips the split only where the split would land after its head anyway, for
    /// every key that reads as a resource at some width (whichever width it was written at).
    #[test]
    fn a_typed_read_splits_where_the_whole_key_splits() {
        let mut checked = 0;
        for k in keys().iter().chain(&malformed()) {
            for w in WIDTHS {
                if let Ok(StateKey::Resource { account, tag }) = StateKey::decode(k, w) {
                    let head = tag_prefix(KeyKind::Resource, &tag);
                    let key = state_key::resource_key(&account, &tag);
                    assert_eq!(splits_after(&head, w), head_len(&key) == head.len(), "{k:?} as {w:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 20);
    }

    proptest! {
        #[test]
        fn reads_as_one_map_of_whole_keys(
            ops in proptest::collection::vec((0usize..40, any::<bool>(), any::<u8>()), 0..80),
            with_malformed in any::<bool>(),
        ) {
            let mut pool = keys();
            if with_malformed {
                pool.extend(malformed());
            }
            let mut store = InMemoryStore::new();
            let mut model = BTreeMap::new();
            for (at, put, byte) in ops {
                let key = pool[at % pool.len()].clone();
                let mut batch = WriteBatch::new();
                if put {
                    batch.put_key(key.clone(), vec![byte]);
                    model.insert(key, vec![byte]);
                } else {
                    batch.delete_key(key.clone());
                    model.remove(&key);
                }
                store.apply(batch).unwrap();
            }
            assert_scans_agree(&store, &model);
        }
    }

    #[test]
    fn canonical_keys_are_held_by_tag_and_a_nesting_key_holds_them_whole() {
        let mut store = InMemoryStore::new();
        let mut model = BTreeMap::new();
        let mut batch = WriteBatch::new();
        for (i, k) in keys().into_iter().enumerate() {
            batch.put_key(k.clone(), vec![i as u8]);
            model.insert(k, vec![i as u8]);
        }
        store.apply(batch).unwrap();
        assert!(!store.whole_keys);
        // One head per resource or group tag (of each width), one per other kind.
        assert_eq!(store.heads.0.len(), 5 * 2 + 2 + 3);
        assert_scans_agree(&store, &model);
        let copy = store.clone();
        for bad in malformed() {
            let mut batch = WriteBatch::new();
            batch.put_key(bad.clone(), vec![0xee]);
            model.insert(bad, vec![0xee]);
            store.apply(batch).unwrap();
        }
        assert!(store.whole_keys);
        assert_scans_agree(&store, &model);
        // Equality is of contents, however held.
        let mut undo = WriteBatch::new();
        for bad in malformed() {
            undo.delete_key(bad);
        }
        store.apply(undo).unwrap();
        assert_eq!(store, copy);
    }

    #[test]
    fn a_key_as_long_as_another_and_starting_with_its_head_splits_there() {
        for key in keys().into_iter().chain(malformed()) {
            let at = head_len(&key);
            for fill in [0u8, 0x11, 0x80, 0xff] {
                let mut other = key.clone();
                for b in other.iter_mut().skip(at) {
                    *b = fill;
                }
                assert_eq!(head_len(&other), at, "{key:?} filled with {fill:#x} after {at}");
            }
        }
        // The split takes each key's own width.
        let narrow = StructTag::parse("0x1::coin::Coin", AddressLength::Bytes16).unwrap();
        let key = resource_key(&AccountAddress::from_u64(9, AddressLength::Bytes16), &narrow);
        assert_eq!(head_len(&key), key.len() - 16);
    }

    #[test]
    fn a_scan_past_its_prefix_is_empty() {
        let mut store = InMemoryStore::new();
        let coin = tag("0x1::coin::Coin");
        let mut batch = WriteBatch::new();
        batch.put(account(1), coin.clone(), vec![1]);
        store.apply(batch).unwrap();
        let prefix = tag_prefix(KeyKind::Resource, &coin);
        let beyond = vec![0xffu8; 8];
        let mut seen = 0;
        store
            .scan_keys(&prefix, Some(&beyond), &mut |_, _| {
                seen += 1;
                true
            })
            .unwrap();
        assert_eq!(seen, 0);
        assert_eq!(store.count(&coin), 1);
    }
}
