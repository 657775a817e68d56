//! The canonical state key: one byte encoding for every place a Move chain stores a value, and
//! the one order of the state.
//!
//! A chain's state is an ordered map from these keys to bytes. Everything that walks the state
//! walks it in this order: a store's scans, the migration cursor (a position in it), the state
//! root, snapshots and the rehearsal. The encoding is chosen so that what a migration visits is
//! one contiguous range:
//!
//! ```text
//! kind        encoding (after the kind byte)        range it makes contiguous
//! 0 reserved  bytes                                  (this project's own bookkeeping)
//! 1 resource  BCS(StructTag) ++ account              every instance of a struct, then by tag
//! 2 group     BCS(StructTag) ++ account              every resource group of a group tag
//! 3 table     handle ++ key bytes                    every item of one table
//! 4 module    account ++ BCS(name)                   the code of an account
//! 5 raw       bytes                                  (Aptos' raw keys, carried as they are)
//! ```
//!
//! BCS of a struct tag is self-delimiting (the address, then length-prefixed module and name, then
//! the counted type arguments), so no tag's encoding is a prefix of another's: the keys of one tag
//! are exactly those that start with `kind ++ BCS(tag)`, and the keys of every instantiation of a
//! struct (`CoinStore<A>`, `CoinStore<B>`, ...) exactly those that start with
//! `kind ++ address ++ module ++ name` ([`struct_prefix`]). Within one tag, keys sort by account
//! bytes, which is address order within one width. A handle and an account are addresses of the
//! chain's width, so a key decodes with that width and nothing else.
//!
//! The *reserved* kind never occurs in a chain's state (no source or chain produces it): a
//! rehearsal keeps the hook's bookkeeping there, where it cannot collide with anything the state
//! holds.

use crate::key::{AccountAddress, KeyError, StructTag};
use binary_format::{AddressLength, ModuleId};
use std::fmt;

/// The first byte of a key: what kind of place it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum KeyKind {
    /// This project's own bookkeeping, outside every chain's key space.
    Reserved = 0,
    /// A resource: an account and a struct tag.
    Resource = 1,
    /// A resource group (Aptos): an account and the group's tag; the value holds its members.
    Group = 2,
    /// A table item: the table's handle and the item's key bytes.
    TableItem = 3,
    /// A module's code: an account and the module's name.
    Module = 4,
    /// A key the chain stores as raw bytes (Aptos `StateKey::Raw`).
    Raw = 5,
}

impl KeyKind {
    /// The kind a key's first byte names.
    pub fn of_byte(b: u8) -> Option<KeyKind> {
        Some(match b {
            0 => KeyKind::Reserved,
            1 => KeyKind::Resource,
            2 => KeyKind::Group,
            3 => KeyKind::TableItem,
            4 => KeyKind::Module,
            5 => KeyKind::Raw,
            _ => return None,
        })
    }
}

/// A place in a chain's state, decoded.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum StateKey {
    /// This project's bookkeeping (see the module docs): never a chain's key.
    Reserved(Vec<u8>),
    /// A resource.
    Resource {
        /// The account holding it.
        account: AccountAddress,
        /// Its struct tag.
        tag: StructTag,
    },
    /// A resource group; its value is the BCS map of its members' tags to their bytes.
    Group {
        /// The account holding it.
        account: AccountAddress,
        /// The group's tag.
        tag: StructTag,
    },
    /// One item of a table.
    TableItem {
        /// The table's handle (an address-sized id that never changes for the table's life).
        handle: AccountAddress,
        /// The item's key: the BCS bytes of the key value.
        key: Vec<u8>,
    },
    /// A module's code.
    Module {
        /// The account that published it.
        account: AccountAddress,
        /// The module's name.
        name: String,
    },
    /// A raw key.
    Raw(Vec<u8>),
}

/// Appends `bytes` with their ULEB128 length.
pub(crate) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    binary_format::write_uleb(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The encoded key of a resource: `1 ++ BCS(tag) ++ account`.
pub fn resource_key(account: &AccountAddress, tag: &StructTag) -> Vec<u8> {
    let mut key = tag_prefix(KeyKind::Resource, tag);
    key.extend_from_slice(account.as_bytes());
    key
}

/// The prefix every key of `tag` starts with, for a resource or group kind:
/// `kind ++ BCS(tag)`. Appending an account gives a key.
pub fn tag_prefix(kind: KeyKind, tag: &StructTag) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 64 + 32);
    out.push(kind as u8);
    tag.write_bcs(&mut out);
    out
}

/// The prefix every key of every instantiation of the struct `module::name` starts with, for a
/// resource or group kind: `kind ++ address ++ BCS(module) ++ BCS(name)`.
pub fn struct_prefix(kind: KeyKind, module: &ModuleId, name: &str, width: AddressLength) -> Result<Vec<u8>, KeyError> {
    let address = AccountAddress::from_address(module.address, width)?;
    let mut out = Vec::with_capacity(1 + width.bytes() + module.name.len() + name.len() + 2);
    out.push(kind as u8);
    out.extend_from_slice(address.as_bytes());
    write_bytes(&mut out, module.name.as_bytes());
    write_bytes(&mut out, name.as_bytes());
    Ok(out)
}

/// The prefix every item of the table `handle` starts with: `3 ++ handle`.
pub fn table_prefix(handle: &AccountAddress) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + handle.as_bytes().len());
    out.push(KeyKind::TableItem as u8);
    out.extend_from_slice(handle.as_bytes());
    out
}

/// The length of the prefix `a` and `b` share, compared eight bytes at a time (a byte at a time,
/// a rehearsal's spills spent a twentieth of its loop here): keys of one kind and tag share
/// most of their bytes, and runs of them are stored as the prefix shared with the key before.
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (a.get(..n).unwrap_or_default(), b.get(..n).unwrap_or_default());
    let mut done = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let (x, y) = (
            u64::from_le_bytes(x.try_into().unwrap_or_default()),
            u64::from_le_bytes(y.try_into().unwrap_or_default()),
        );
        if x != y {
            return done + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + a
        .get(done..)
        .unwrap_or_default()
        .iter()
        .zip(b.get(done..).unwrap_or_default())
        .take_while(|(x, y)| x == y)
        .count()
}

/// The smallest key greater than every key that starts with `prefix`: the exclusive end of the
/// prefix's range (`None` when the range runs to the end of the key space).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The keys a scan of `prefix` strictly after `after` visits, as [`crate::store::Store::scan_keys`]
/// defines them: from just after the cursor when it is at or past the prefix (the cursor need
/// not be a held key), else from the prefix, to the end of the prefix's keys; nothing when the
/// cursor is past the prefix's keys. One piece for every store, so that they all agree on where
/// a chunk starts, and none hands an ordered map a range whose start is past its end (which
/// `BTreeMap::range` answers with a panic).
#[derive(Debug, Clone)]
pub struct ScanRange<'a> {
    lower: std::ops::Bound<&'a [u8]>,
    end: Option<Vec<u8>>,
    /// The cursor is at or past `end`.
    past_end: bool,
}

impl<'a> ScanRange<'a> {
    /// The range of a scan of `prefix` after `after`.
    pub fn new(prefix: &'a [u8], after: Option<&'a [u8]>) -> ScanRange<'a> {
        use std::ops::Bound;
        let end = prefix_end(prefix);
        let lower = match after {
            Some(a) if a >= prefix => Bound::Excluded(a),
            _ => Bound::Included(prefix),
        };
        let past_end = matches!((after, &end), (Some(a), Some(e)) if a >= prefix && a >= e.as_slice());
        ScanRange { lower, end, past_end }
    }

    /// The range as bounds over byte keys (`BTreeMap::<Vec<u8>, _>::range::<[u8], _>`, redb):
    /// always a start no later than the end (an empty range `[end, end)` for a cursor past it).
    pub fn bounds(&self) -> (std::ops::Bound<&[u8]>, std::ops::Bound<&[u8]>) {
        use std::ops::Bound;
        match self.end.as_deref() {
            Some(end) if self.past_end => (Bound::Included(end), Bound::Excluded(end)),
            Some(end) => (self.lower, Bound::Excluded(end)),
            None => (self.lower, Bound::Unbounded),
        }
    }
}

/// The smallest key after every key of `tag` (for a key of `tag_prefix ++ account`): where a
/// scan of the struct's range goes on after the last account of one instantiation.
pub fn after_tag(prefix_of_tag: &[u8], width: AddressLength) -> Vec<u8> {
    let mut key = prefix_of_tag.to_vec();
    key.extend(std::iter::repeat_n(0xff, width.bytes()));
    key
}

impl StateKey {
    /// The kind of place it names.
    pub fn kind(&self) -> KeyKind {
        match self {
            StateKey::Reserved(_) => KeyKind::Reserved,
            StateKey::Resource { .. } => KeyKind::Resource,
            StateKey::Group { .. } => KeyKind::Group,
            StateKey::TableItem { .. } => KeyKind::TableItem,
            StateKey::Module { .. } => KeyKind::Module,
            StateKey::Raw(_) => KeyKind::Raw,
        }
    }

    /// The canonical bytes (see the module docs): what stores order, hash and persist.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            StateKey::Resource { account, tag } => resource_key(account, tag),
            StateKey::Group { account, tag } => {
                let mut key = tag_prefix(KeyKind::Group, tag);
                key.extend_from_slice(account.as_bytes());
                key
            }
            StateKey::TableItem { handle, key } => {
                let mut out = table_prefix(handle);
                out.extend_from_slice(key);
                out
            }
            StateKey::Module { account, name } => {
                let mut out = Vec::with_capacity(1 + 32 + name.len() + 1);
                out.push(KeyKind::Module as u8);
                out.extend_from_slice(account.as_bytes());
                write_bytes(&mut out, name.as_bytes());
                out
            }
            StateKey::Reserved(bytes) | StateKey::Raw(bytes) => {
                let mut out = Vec::with_capacity(1 + bytes.len());
                out.push(self.kind() as u8);
                out.extend_from_slice(bytes);
                out
            }
        }
    }

    /// Decodes canonical key bytes with addresses of `width`. Untrusted: a key that is not
    /// exactly one key of that width is an error naming the offset.
    pub fn decode(bytes: &[u8], width: AddressLength) -> Result<StateKey, KeyError> {
        let bad = |offset: usize, reason: &str| KeyError::Decode { offset, reason: reason.to_owned() };
        let (&first, rest) = bytes.split_first().ok_or_else(|| bad(0, "an empty key"))?;
        let kind = KeyKind::of_byte(first).ok_or_else(|| bad(0, "an unknown key kind"))?;
        let address = |b: &[u8], at: usize| {
            AccountAddress::new(b).map_err(|_| bad(at, "the address is not of the chain's width"))
        };
        Ok(match kind {
            KeyKind::Reserved => StateKey::Reserved(rest.to_vec()),
            KeyKind::Raw => StateKey::Raw(rest.to_vec()),
            KeyKind::Resource | KeyKind::Group => {
                let (tag, used) = StructTag::from_bcs_prefix(rest, width).map_err(|e| shift(e, 1))?;
                let account_bytes = rest.get(used..).unwrap_or_default();
                if account_bytes.len() != width.bytes() {
                    return Err(bad(1 + used, "the account after the tag is not of the chain's width"));
                }
                let account = address(account_bytes, 1 + used)?;
                if kind == KeyKind::Resource {
                    StateKey::Resource { account, tag }
                } else {
                    StateKey::Group { account, tag }
                }
            }
            KeyKind::TableItem => {
                let handle_bytes = rest.get(..width.bytes()).ok_or_else(|| bad(1, "the key ends inside the handle"))?;
                let handle = address(handle_bytes, 1)?;
                StateKey::TableItem { handle, key: rest.get(width.bytes()..).unwrap_or_default().to_vec() }
            }
            KeyKind::Module => {
                let account_bytes =
                    rest.get(..width.bytes()).ok_or_else(|| bad(1, "the key ends inside the account"))?;
                let account = address(account_bytes, 1)?;
                let name_part = rest.get(width.bytes()..).unwrap_or_default();
                let mut r = binary_format::bcs::Reader::with_base(name_part, 1 + width.bytes());
                let name = r
                    .string(u64::from(u32::MAX), "the module name")
                    .map_err(|e| bad(e.offset(), &e.message()))?
                    .to_owned();
                r.finish("the module name").map_err(|e| bad(e.offset(), &e.message()))?;
                if !binary_format::identifier::is_valid(&name) {
                    return Err(bad(1 + width.bytes(), "the module name is not an identifier"));
                }
                StateKey::Module { account, name: name.to_owned() }
            }
        })
    }

    /// The account a resource, group or module key belongs to.
    pub fn account(&self) -> Option<&AccountAddress> {
        match self {
            StateKey::Resource { account, .. } | StateKey::Group { account, .. } | StateKey::Module { account, .. } => {
                Some(account)
            }
            _ => None,
        }
    }

    /// The struct tag of a resource or group key.
    pub fn tag(&self) -> Option<&StructTag> {
        match self {
            StateKey::Resource { tag, .. } | StateKey::Group { tag, .. } => Some(tag),
            _ => None,
        }
    }
}

/// The error of a part read `by` bytes into the key, with its offset made the key's.
fn shift(e: KeyError, by: usize) -> KeyError {
    match e {
        KeyError::Decode { offset, reason } => KeyError::Decode { offset: offset + by, reason },
        other => other,
    }
}

impl fmt::Display for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |f: &mut fmt::Formatter<'_>, b: &[u8]| -> fmt::Result {
            f.write_str("0x")?;
            b.iter().take(64).try_for_each(|x| write!(f, "{x:02x}"))?;
            if b.len() > 64 {
                write!(f, "… ({} bytes)", b.len())?;
            }
            Ok(())
        };
        match self {
            StateKey::Resource { account, tag } => write!(f, "{tag} at {account}"),
            StateKey::Group { account, tag } => write!(f, "group {tag} at {account}"),
            StateKey::TableItem { handle, key } => {
                write!(f, "table {handle} item ")?;
                hex(f, key)
            }
            StateKey::Module { account, name } => write!(f, "module {account}::{name}"),
            StateKey::Raw(b) => {
                f.write_str("raw ")?;
                hex(f, b)
            }
            StateKey::Reserved(b) => {
                f.write_str("reserved ")?;
                hex(f, b)
            }
        }
    }
}

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateKey({self})")
    }
}

/// A key's bytes as people read them: decoded with `width` when they decode, in hex otherwise.
pub fn describe(key: &[u8], width: AddressLength) -> String {
    match StateKey::decode(key, width) {
        Ok(k) => k.to_string(),
        Err(_) => {
            let shown: String = key.iter().take(64).map(|b| format!("{b:02x}")).collect();
            format!("undecodable key 0x{shown}{}", if key.len() > 64 { "…" } else { "" })
        }
    }
}

/// A key's bytes as people read them when the chain's width is not at hand: decoded with the
/// first width it decodes with (32, 20, then 16 bytes), in hex otherwise.
pub fn describe_any(key: &[u8]) -> String {
    [AddressLength::Bytes32, AddressLength::Bytes20, AddressLength::Bytes16]
        .into_iter()
        .find_map(|w| StateKey::decode(key, w).ok())
        .map_or_else(|| describe(key, AddressLength::Bytes32), |k| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str, w: AddressLength) -> StructTag {
        StructTag::parse(s, w).unwrap()
    }

    #[test]
    fn a_cursor_past_the_prefix_scans_nothing_and_never_inverts_the_range() {
        let map: std::collections::BTreeMap<Vec<u8>, ()> =
            [vec![1, 2, 0], vec![1, 2, 0xff], vec![1, 3], vec![1, 3, 1], vec![2]]
                .into_iter()
                .map(|k| (k, ()))
                .collect();
        let scan = |prefix: &[u8], after: Option<&[u8]>| -> Vec<Vec<u8>> {
            map.range::<[u8], _>(ScanRange::new(prefix, after).bounds()).map(|(k, _)| k.clone()).collect()
        };
        assert_eq!(scan(&[1, 2], None), vec![vec![1, 2, 0], vec![1, 2, 0xff]]);
        assert_eq!(scan(&[1, 2], Some(&[1, 2, 0])), vec![vec![1, 2, 0xff]]);
        // At the end of the prefix's keys, and past it: nothing (a `BTreeMap` given the start
        // after the end panics).
        assert!(scan(&[1, 2], Some(&[1, 3])).is_empty());
        assert!(scan(&[1, 2], Some(&[1, 3, 1])).is_empty());
        assert!(scan(&[1, 2], Some(&[9])).is_empty());
        // A cursor before the prefix starts it at the prefix; no end past `0xff..`.
        assert_eq!(scan(&[1, 3], Some(&[0])), vec![vec![1, 3], vec![1, 3, 1]]);
        assert_eq!(scan(&[0xff], Some(&[0xff, 0xff])), Vec::<Vec<u8>>::new());
        assert_eq!(scan(&[], Some(&[1, 3, 1])), vec![vec![2]]);
    }

    #[test]
    fn every_kind_round_trips_in_every_width() {
        for w in AddressLength::ALL {
            let a = AccountAddress::from_u64(0x5, w);
            let keys = [
                StateKey::Resource { account: a, tag: tag("0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>", w) },
                StateKey::Group { account: a, tag: tag("0x1::object::ObjectGroup", w) },
                StateKey::TableItem { handle: a, key: vec![1, 2, 3] },
                StateKey::TableItem { handle: a, key: vec![] },
                StateKey::Module { account: a, name: "coin".into() },
                StateKey::Raw(vec![9, 9]),
                StateKey::Reserved(b"rehearsal".to_vec()),
            ];
            for k in keys {
                let bytes = k.encode();
                assert_eq!(StateKey::decode(&bytes, w).unwrap(), k, "{k}");
                if matches!(k.kind(), KeyKind::Resource | KeyKind::Group) {
                    assert!(StateKey::decode(&bytes[..bytes.len() - 1], w).is_err());
                    let mut longer = bytes.clone();
                    longer.push(0);
                    assert!(StateKey::decode(&longer, w).is_err());
                }
            }
        }
        assert!(StateKey::decode(&[], AddressLength::Bytes16).is_err());
        assert!(StateKey::decode(&[9, 1], AddressLength::Bytes16).is_err());
    }

    #[test]
    fn instantiations_of_a_struct_are_one_range_and_tags_do_not_prefix_each_other() {
        let w = AddressLength::Bytes32;
        let a = AccountAddress::from_u64(7, w);
        let store = tag("0x1::coin::CoinStore<0x1::a::A>", w);
        let other = tag("0x1::coin::CoinStoreX", w);
        let prefix = struct_prefix(KeyKind::Resource, &store.module_id(), "CoinStore", w).unwrap();
        assert!(resource_key(&a, &store).starts_with(&prefix));
        assert!(!resource_key(&a, &other).starts_with(&prefix), "a longer name is another struct");
        let exact = tag_prefix(KeyKind::Resource, &tag("0x1::coin::CoinStore<0x1::a::A>", w));
        assert!(!resource_key(&a, &tag("0x1::coin::CoinStore<0x1::a::AB>", w)).starts_with(&exact));
        let end = prefix_end(&prefix).unwrap();
        assert!(resource_key(&a, &store).as_slice() < end.as_slice());
        assert_eq!(prefix_end(&[0x01, 0xff, 0xff]), Some(vec![0x02]));
        assert_eq!(prefix_end(&[0xff]), None);
    }

    #[test]
    fn within_one_tag_keys_sort_by_address() {
        let w = AddressLength::Bytes16;
        let t = tag("0x1::Wallet::Wallet", w);
        let mut keys: Vec<Vec<u8>> =
            [9u64, 1, 300, 2].iter().map(|n| resource_key(&AccountAddress::from_u64(*n, w), &t)).collect();
        keys.sort();
        let back: Vec<AccountAddress> =
            keys.iter().filter_map(|k| StateKey::decode(k, w).unwrap().account().copied()).collect();
        let expected: Vec<AccountAddress> = [1u64, 2, 9, 300].iter().map(|n| AccountAddress::from_u64(*n, w)).collect();
        assert_eq!(back, expected);
    }

    #[test]
    fn the_common_prefix_is_found_at_every_length_and_difference() {
        let a: Vec<u8> = (0..40).collect();
        for len in 0..=40 {
            for differ in 0..=len {
                let mut b = a[..len].to_vec();
                if differ < len {
                    b[differ] ^= 0x10;
                }
                assert_eq!(common_prefix(&a, &b), differ.min(len), "{len} {differ}");
                assert_eq!(common_prefix(&b, &a), differ.min(len), "{len} {differ}");
            }
        }
    }
}
