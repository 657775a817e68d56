//! The state root: a SHA-256 over the whole sorted state.
//!
//! Every resource is hashed in key order, the order of [`RedbStore`]'s keys: by the struct tag's
//! key prefix (its canonical BCS bytes after their length, [`tag_prefix`]), then by account.
//! Each resource contributes its tag prefix (already length-prefixed), the account's length
//! and bytes, and the value's length and bytes; the count of resources closes the hash. Two
//! stores holding the same resources have the same root whatever their backend, and a root
//! commits to every byte of the state.

use crate::persistent::{tag_prefix, RedbStore, Visitor};
use migrations::store::{InMemoryStore, StoreError};
use migrations::{AccountAddress, StructTag};
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"vm-hooks/state-root/v1\0";

/// A store that can visit its whole state in key order.
pub trait SortedState {
    /// Calls `visit` with the tag prefix, account and bytes of every resource, in key order.
    fn visit_sorted(&self, visit: Visitor<'_>) -> Result<(), StoreError>;
}

impl SortedState for RedbStore {
    fn visit_sorted(&self, visit: Visitor<'_>) -> Result<(), StoreError> {
        self.for_each_raw(visit)
    }
}

impl SortedState for InMemoryStore {
    /// The in-memory store orders tags by `StructTag`'s `Ord`, not by their key prefixes: its
    /// runs of one tag (each already in account order) are visited in prefix order.
    fn visit_sorted(&self, visit: Visitor<'_>) -> Result<(), StoreError> {
        let entries: Vec<(&StructTag, &AccountAddress, &[u8])> = self.iter().collect();
        let mut runs: Vec<(Vec<u8>, usize, usize)> = Vec::new();
        let mut start = 0;
        while let Some((tag, _, _)) = entries.get(start) {
            let end = entries.iter().skip(start).position(|(t, _, _)| t != tag).map_or(entries.len(), |n| start + n);
            runs.push((tag_prefix(tag), start, end));
            start = end;
        }
        runs.sort_by(|a, b| a.0.cmp(&b.0));
        for (prefix, start, end) in &runs {
            for (_, account, bytes) in entries.get(*start..*end).unwrap_or_default() {
                visit(prefix, account, bytes);
            }
        }
        Ok(())
    }
}

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

/// Computes a root from resources fed in key order: what [`state_root`] does over a store, for
/// a stream that is not one (a snapshot being written or read).
#[derive(Debug, Clone)]
pub struct RootHasher {
    hasher: Sha256,
    count: u64,
}

impl Default for RootHasher {
    fn default() -> Self {
        RootHasher::new()
    }
}

impl RootHasher {
    /// A hasher with nothing added: finished now, it gives the empty state's root.
    pub fn new() -> RootHasher {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        RootHasher { hasher, count: 0 }
    }

    /// Adds one resource: its tag prefix ([`tag_prefix`]), account and bytes. The caller feeds
    /// them in key order; the root of another order is another root.
    pub fn add(&mut self, prefix: &[u8], account: &AccountAddress, bytes: &[u8]) {
        self.hasher.update(prefix);
        self.hasher.update((account.as_bytes().len() as u64).to_be_bytes());
        self.hasher.update(account.as_bytes());
        self.hasher.update((bytes.len() as u64).to_be_bytes());
        self.hasher.update(bytes);
        self.count += 1;
    }

    /// Resources added so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The root of everything added, closed by the count.
    pub fn finish(mut self) -> StateRoot {
        self.hasher.update(self.count.to_be_bytes());
        StateRoot(self.hasher.finalize().into())
    }
}

/// The root of `state`.
pub fn state_root(state: &dyn SortedState) -> Result<StateRoot, StoreError> {
    let mut hasher = RootHasher::new();
    state.visit_sorted(&mut |prefix, account, bytes| hasher.add(prefix, account, bytes))?;
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::AddressLength;
    use migrations::store::{Store, WriteBatch};

    fn parse_struct_tag(s: &str) -> Result<StructTag, migrations::KeyError> {
        StructTag::parse(s, AddressLength::Bytes16)
    }

    fn filled(n: u8) -> AccountAddress {
        AccountAddress::new(&[n; 16]).unwrap()
    }

    #[test]
    fn the_root_commits_to_every_byte_and_not_to_insertion_order() {
        let tags = ["0x1::Wallet::Wallet", "0x1::Coin::Balance<0x1::GAS::GAS>", "0x2::A::A"]
            .map(|t| parse_struct_tag(t).unwrap());
        let mut forward = WriteBatch::new();
        for (i, tag) in tags.iter().enumerate() {
            for n in 0..5u8 {
                forward.put(filled(n), tag.clone(), vec![n, i as u8]);
            }
        }
        let mut a = InMemoryStore::new();
        a.apply(forward.clone()).unwrap();
        let mut b = InMemoryStore::new();
        for ((tag, account), write) in forward.into_iter().rev() {
            let mut one = WriteBatch::new();
            if let migrations::store::Write::Put(bytes) = write {
                one.put(account, tag, bytes);
            }
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
}
