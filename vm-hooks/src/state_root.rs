//! The state root: a SHA-256 over the whole state in canonical key order, over any [`Store`].
//!
//! Every entry (canonical key, value, and the value's extra metadata where a chain has one) is
//! hashed in key order ([`migrations::state_key`]).
//! Entries are grouped into *pages*: a page ends after an entry whose key's FNV-1a hash is a
//! multiple of [`PAGE`] (about one entry in 1,024, decided by the key alone), or at the end of
//! the state. Each page is hashed on its own, and the root hashes the pages' hashes in order,
//! then the count of entries. Because a page boundary depends only on the key, a state split
//! into key ranges at page starts can be hashed on any number of threads and give the same root
//! as one pass ([`RootHasher`] for one run of pages, [`StateRoot::of_runs`] to join runs), and
//! two stores holding the same entries have the same root whatever their backend. A root commits
//! to every byte of the state.

use migrations::store::{Store, StoreError};
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"vm-hooks/state-root/v2\0";
const PAGE_DOMAIN: &[u8] = b"vm-hooks/state-root/v2/page\0";
/// One entry in `PAGE` ends a page (on average): pages of about this many entries.
pub const PAGE: u64 = 1024;

/// A SHA-256 state root.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StateRoot(pub [u8; 32]);

impl std::fmt::Display for StateRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A root that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a state root is 64 hex digits, got `{0}`")]
pub struct BadStateRoot(pub String);

impl std::str::FromStr for StateRoot {
    type Err = BadStateRoot;

    fn from_str(s: &str) -> Result<StateRoot, BadStateRoot> {
        let bad = || BadStateRoot(s.chars().take(80).collect());
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut root = [0u8; 32];
        for (byte, pair) in root.iter_mut().zip(s.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(StateRoot(root))
    }
}

impl std::fmt::Debug for StateRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateRoot({self})")
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Whether the entry at `key` ends a page: FNV-1a (64-bit) of the key, a multiple of [`PAGE`].
/// A splitter cuts the state after such an entry, so that every range starts a page.
#[inline]
pub fn ends_page(key: &[u8]) -> bool {
    key.iter().fold(FNV_OFFSET, |h, &b| fnv_step(h, b)).is_multiple_of(PAGE)
}

/// One byte of FNV-1a.
#[inline]
fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
}

/// [`ends_page`] for keys fed one after another: FNV-1a reads a key byte after byte, each step
/// depending on the one before, so its state after every byte of the last key is kept and a
/// key resumes from the bytes it shares with that one. Keys in key order share most of theirs
/// (a struct's tag, before the account): they cost the bytes that differ, not all of them (the
/// whole hash took a tenth of a rehearsal). Any order gives the same answers.
#[derive(Debug, Clone, Default)]
struct PageEnds {
    /// The last key.
    key: Vec<u8>,
    /// The hash's state after each byte of it: `states[i]` after `i` bytes.
    states: Vec<u64>,
}

impl PageEnds {
    fn ends(&mut self, key: &[u8]) -> bool {
        let shared = migrations::state_key::common_prefix(&self.key, key);
        self.states.truncate(shared + 1);
        let mut h = self.states.last().copied().unwrap_or(FNV_OFFSET);
        if self.states.is_empty() {
            self.states.push(h);
        }
        for &b in key.get(shared..).unwrap_or_default() {
            h = fnv_step(h, b);
            self.states.push(h);
        }
        self.key.truncate(shared);
        self.key.extend_from_slice(key.get(shared..).unwrap_or_default());
        h.is_multiple_of(PAGE)
    }
}

/// The pages of one run of entries (a whole state, or a key range that starts a page and ends
/// one or the state): their hashes in order, and the entries they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pages {
    /// Each page's hash, in key order.
    pub hashes: Vec<[u8; 32]>,
    /// Entries in the run.
    pub count: u64,
}

/// Hashes entries fed in key order into pages: what [`state_root`] does over a store, for a
/// stream that is not one (a snapshot being written or read, a range of one).
#[derive(Debug, Clone)]
pub struct RootHasher {
    page: Sha256,
    page_open: bool,
    pages: Pages,
    ends: PageEnds,
}

impl Default for RootHasher {
    fn default() -> Self {
        RootHasher::new()
    }
}

impl RootHasher {
    /// A hasher with nothing added: finished now, it gives the empty state's root.
    pub fn new() -> RootHasher {
        RootHasher { page: Self::fresh_page(), page_open: false, pages: Pages::default(), ends: PageEnds::default() }
    }

    fn fresh_page() -> Sha256 {
        let mut h = Sha256::new();
        h.update(PAGE_DOMAIN);
        h
    }

    /// Adds one entry: its canonical key and its value. The caller feeds them in key order;
    /// the root of another order is another root.
    #[inline]
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        self.add_entry(key, value, &[]);
    }

    /// Adds one entry with its extra: a chain's own metadata of the value (Aptos' state value
    /// metadata), carried beside it and committed to by the root. A store holds no extras: its
    /// entries are added with an empty one. Says whether the entry ended a page.
    #[inline]
    pub fn add_entry(&mut self, key: &[u8], value: &[u8], extra: &[u8]) -> bool {
        self.page.update((key.len() as u64).to_be_bytes());
        self.page.update(key);
        self.page.update((value.len() as u64).to_be_bytes());
        self.page.update(value);
        self.page.update((extra.len() as u64).to_be_bytes());
        self.page.update(extra);
        self.page_open = true;
        self.pages.count += 1;
        let ends = self.ends.ends(key);
        if ends {
            self.close_page();
        }
        ends
    }

    fn close_page(&mut self) {
        let page = std::mem::replace(&mut self.page, Self::fresh_page());
        self.pages.hashes.push(page.finalize().into());
        self.page_open = false;
    }

    /// Entries added so far.
    pub fn count(&self) -> u64 {
        self.pages.count
    }

    /// Pages closed so far.
    pub fn pages_closed(&self) -> usize {
        self.pages.hashes.len()
    }

    /// Whether the current page holds an entry (a hasher that just closed a page, or added
    /// nothing, holds none).
    pub fn page_is_open(&self) -> bool {
        self.page_open
    }

    /// Adds the entry `leader` just added, without hashing it again: for a hasher whose open
    /// page holds what `leader`'s does (two roots of states that agree on a stretch of keys: a
    /// page of entries an upgrade left alone is the same page in both roots). `closed` says
    /// whether that entry ended `leader`'s page; its hash is then this page's too. The page's
    /// own hashing state is left behind: [`RootHasher::take_page_from`] brings it back before
    /// anything else is added, and before the hasher is finished.
    pub fn add_as(&mut self, leader: &RootHasher, closed: bool) {
        self.pages.count += 1;
        if closed {
            if let Some(page) = leader.pages.hashes.last() {
                self.pages.hashes.push(*page);
            }
            self.page_open = false;
        } else {
            self.page_open = true;
        }
    }

    /// Takes `leader`'s open page as this hasher's (after [`RootHasher::add_as`], when the two
    /// states part).
    pub fn take_page_from(&mut self, leader: &RootHasher) {
        self.page = leader.page.clone();
        self.page_open = leader.page_open;
    }

    /// The pages of everything added (the last one closed, if open).
    pub fn into_pages(mut self) -> Pages {
        if self.page_open {
            self.close_page();
        }
        self.pages
    }

    /// The root of everything added.
    pub fn finish(self) -> StateRoot {
        StateRoot::of_runs([self.into_pages()])
    }
}

impl StateRoot {
    /// The root of runs of pages given in key order (each starting a page): the same as one
    /// [`RootHasher`] over all of their entries.
    pub fn of_runs(runs: impl IntoIterator<Item = Pages>) -> StateRoot {
        let mut h = Sha256::new();
        h.update(DOMAIN);
        let mut count = 0u64;
        for run in runs {
            for page in &run.hashes {
                h.update(page);
            }
            count += run.count;
        }
        h.update(count.to_be_bytes());
        StateRoot(h.finalize().into())
    }
}

/// The root of `store`'s whole state: one pass in key order.
pub fn state_root(store: &dyn Store) -> Result<StateRoot, StoreError> {
    let mut hasher = RootHasher::new();
    store.scan_keys(&[], None, &mut |key, value| {
        hasher.add(key, value);
        true
    })?;
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::AddressLength;
    use migrations::store::{InMemoryStore, Store, WriteBatch};
    use migrations::{AccountAddress, StructTag};

    fn tag(s: &str) -> StructTag {
        StructTag::parse(s, AddressLength::Bytes16).unwrap()
    }

    fn filled(n: u32) -> AccountAddress {
        AccountAddress::from_u64(u64::from(n), AddressLength::Bytes16)
    }

    #[test]
    fn the_root_commits_to_every_byte_and_not_to_insertion_order() {
        let tags = ["0x1::Wallet::Wallet", "0x1::Coin::Balance<0x1::GAS::GAS>", "0x2::A::A"].map(tag);
        let mut forward = WriteBatch::new();
        for (i, t) in tags.iter().enumerate() {
            for n in 0..5u32 {
                forward.put(filled(n), t.clone(), vec![n as u8, i as u8]);
            }
        }
        let mut a = InMemoryStore::new();
        a.apply(forward.clone()).unwrap();
        let mut b = InMemoryStore::new();
        let writes: Vec<_> = forward.iter().map(|(k, w)| (k.to_vec(), w.clone())).collect();
        for (key, write) in writes.into_iter().rev() {
            let mut one = WriteBatch::new();
            one.write_key(key, write);
            b.apply(one).unwrap();
        }
        let root = state_root(&a).unwrap();
        assert_eq!(root, state_root(&b).unwrap());
        assert_eq!(root.to_string().len(), 64);
        assert_eq!(root.to_string().parse::<StateRoot>(), Ok(root));
        assert!("zz".repeat(32).parse::<StateRoot>().is_err() && "ab".parse::<StateRoot>().is_err());
        let mut changed = WriteBatch::new();
        changed.put(filled(3), tags[1].clone(), vec![3, 2]);
        b.apply(changed).unwrap();
        assert_ne!(root, state_root(&b).unwrap());
        assert_ne!(state_root(&InMemoryStore::new()).unwrap(), root);
    }

    /// Page ends resumed from the bytes a key shares with the one before are those of the
    /// key alone, whatever came before: keys in order, out of order, repeated, one the prefix
    /// of the next, empty.
    #[test]
    fn page_ends_of_keys_in_a_row_are_those_of_each_key() {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut seed = 11u64;
        for n in 0..20_000u64 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mut key = vec![1u8, 0, 0, 7];
            key.extend_from_slice(&(n / 97).to_be_bytes());
            key.truncate(4 + (seed >> 60) as usize);
            key.extend_from_slice(&(seed >> 20).to_le_bytes()[..(seed >> 61) as usize]);
            keys.push(key);
        }
        keys.push(Vec::new());
        keys.push(vec![1]);
        keys.push(vec![1, 0]);
        let mut sorted = keys.clone();
        sorted.sort();
        let mut ends = PageEnds::default();
        let mut found = 0;
        for key in keys.iter().chain(&sorted).chain(sorted.iter().rev()) {
            let expected = ends_page(key);
            assert_eq!(ends.ends(key), expected, "{key:?}");
            found += usize::from(expected);
        }
        assert!(found > 10, "the keys end {found} pages");
    }

    #[test]
    fn any_split_at_page_starts_gives_the_one_root() {
        let t = tag("0x1::Wallet::Wallet");
        let mut store = InMemoryStore::new();
        let mut batch = WriteBatch::new();
        for n in 0..20_000u32 {
            batch.put(filled(n), t.clone(), n.to_le_bytes().to_vec());
        }
        store.apply(batch).unwrap();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = store.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        let whole = state_root(&store).unwrap();
        let boundaries: Vec<usize> =
            entries.iter().enumerate().filter(|(_, (k, _))| ends_page(k)).map(|(i, _)| i + 1).collect();
        assert!(boundaries.len() > 5, "pages of about {PAGE} entries");
        for parts in [2usize, 3, 7] {
            // Cut after every (len / parts)-th boundary.
            let cuts: Vec<usize> = boundaries
                .iter()
                .copied()
                .step_by(boundaries.len() / parts + 1)
                .filter(|c| *c < entries.len())
                .collect();
            let mut runs = Vec::new();
            let mut start = 0;
            for end in cuts.iter().copied().chain([entries.len()]) {
                let mut h = RootHasher::new();
                for (k, v) in &entries[start..end] {
                    h.add(k, v);
                }
                runs.push(h.into_pages());
                start = end;
            }
            assert_eq!(StateRoot::of_runs(runs), whole, "{parts} parts");
        }
    }
}
