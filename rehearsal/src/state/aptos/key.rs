//! State keys of Aptos-based chains, typed, and the two encodings they have.
//!
//! BCS (how a backup record holds them): enum `0 AccessPath { address: [u8; 32], path: bytes }`,
//! `1 TableItem { handle: [u8; 32], key: bytes }`, `2 Raw(bytes)`. An access path's `path` is
//! itself BCS of enum `0 Code(ModuleId)`, `1 Resource(StructTag)`, `2 ResourceGroup(StructTag)`.
//!
//! The storage encoding (what the key hash is over, [`super::hash::Hashes::state_key`]):
//! `[0] ++ BCS(AccessPath)`, `[1] ++ handle ++ key` (no length prefix), `[255] ++ raw`. For an
//! access path it is the key's BCS bytes themselves, so those are hashed as read.

use super::bcs::{write_bytes, BcsError, Reader};
use super::hash::Hashes;
use super::limits::{MAX_IDENTIFIER_BYTES, MAX_KEY_BYTES};
use crate::state::diem::hash::{hex, Hash};
use binary_format::{identifier, Address, AddressLength, ModuleId};
use migrations::{AccountAddress, StructTag};
use std::fmt;

/// Addresses of Aptos-based chains are 32 bytes.
pub const WIDTH: AddressLength = AddressLength::Bytes32;

/// BCS variant of each kind of key.
const ACCESS_PATH: u64 = 0;
const TABLE_ITEM: u64 = 1;
const RAW: u64 = 2;
/// The storage encoding's first byte of a raw key (the others keep their variant index).
const RAW_ENCODING: u8 = 255;

/// BCS variant of each kind of access path.
const CODE: u8 = 0;
const RESOURCE: u8 = 1;
const RESOURCE_GROUP: u8 = 2;

/// What an access path names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatePath {
    /// A module's bytecode.
    Code(ModuleId),
    /// A resource.
    Resource(StructTag),
    /// A resource group: several resources under one key (see [`super::group`]).
    ResourceGroup(StructTag),
    /// Path bytes that read as none of the three (an unknown variant, a tag that does not
    /// decode): kept whole, so that the key still hashes, is reported, and writes back.
    Unknown(Vec<u8>),
}

/// A state key of an Aptos-based chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AptosStateKey {
    /// An account's module, resource or resource group.
    AccessPath { address: AccountAddress, path: StatePath },
    /// An item of a table: its handle and its key's BCS bytes (the key's type is not stored).
    TableItem { handle: [u8; 32], key: Vec<u8> },
    /// A raw key (tests and special state only).
    Raw(Vec<u8>),
}

impl StatePath {
    /// Reads path bytes; what does not read as a module id or a struct tag is `Unknown`.
    pub fn read(bytes: &[u8]) -> StatePath {
        let unknown = || StatePath::Unknown(bytes.to_vec());
        let Some((&variant, rest)) = bytes.split_first() else { return unknown() };
        match variant {
            CODE => module_id(rest).map_or_else(unknown, StatePath::Code),
            RESOURCE => StructTag::from_bcs(rest, WIDTH).map_or_else(|_| unknown(), StatePath::Resource),
            RESOURCE_GROUP => StructTag::from_bcs(rest, WIDTH).map_or_else(|_| unknown(), StatePath::ResourceGroup),
            _ => unknown(),
        }
    }

    /// The path's BCS bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            StatePath::Code(id) => {
                let mut out = vec![CODE];
                out.extend_from_slice(id.address.as_bytes32());
                write_bytes(&mut out, id.name.as_bytes());
                out
            }
            StatePath::Resource(tag) => {
                let mut out = vec![RESOURCE];
                tag.write_bcs(&mut out);
                out
            }
            StatePath::ResourceGroup(tag) => {
                let mut out = vec![RESOURCE_GROUP];
                tag.write_bcs(&mut out);
                out
            }
            StatePath::Unknown(bytes) => bytes.clone(),
        }
    }
}

/// Exactly a module id: a 32-byte address and a valid identifier.
fn module_id(bytes: &[u8]) -> Option<ModuleId> {
    let mut r = Reader::new(bytes);
    let address = r.array::<32>("the module's address").ok()?;
    let name = r.string(MAX_IDENTIFIER_BYTES, "the module's name").ok()?;
    r.finish("the module id").ok()?;
    identifier::is_valid(name).then(|| ModuleId::new(Address::from_be_slice(&address).unwrap_or(Address::ZERO), name))
}

/// A 32-byte address as the store's key type.
fn account(bytes: &[u8; 32]) -> AccountAddress {
    AccountAddress::new(bytes).unwrap_or_else(|_| AccountAddress::zero(WIDTH))
}

/// The pieces of a key's storage encoding, borrowed from the record it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding<'a> {
    prefix: &'static [u8],
    first: &'a [u8],
    second: &'a [u8],
}

impl Encoding<'_> {
    /// The key's hash.
    pub fn hash(&self, hashes: &Hashes) -> Hash {
        hashes.state_key(&[self.prefix, self.first, self.second])
    }
}

/// Reads a state key's BCS from `r`: the typed key and its storage encoding.
pub fn read_key<'a>(r: &mut Reader<'a>) -> Result<(AptosStateKey, Encoding<'a>), BcsError> {
    let start = r.pos();
    match r.variant(RAW, "the state key's kind")? {
        ACCESS_PATH => {
            let address = r.array::<32>("the access path's address")?;
            let path = r.bytes(MAX_KEY_BYTES, "the access path")?;
            let key = AptosStateKey::AccessPath { address: account(&address), path: StatePath::read(path) };
            Ok((key, Encoding { prefix: &[], first: r.since(start), second: &[] }))
        }
        TABLE_ITEM => {
            let at = r.pos();
            r.skip(32, "the table handle")?;
            let handle_bytes = r.since(at);
            let handle: [u8; 32] = handle_bytes.try_into().map_err(|_| r.fail("the table handle"))?;
            let key = r.bytes(MAX_KEY_BYTES, "the table item's key")?;
            Ok((
                AptosStateKey::TableItem { handle, key: key.to_vec() },
                Encoding { prefix: &[1], first: handle_bytes, second: key },
            ))
        }
        _ => {
            let raw = r.bytes(MAX_KEY_BYTES, "the raw key")?;
            Ok((AptosStateKey::Raw(raw.to_vec()), Encoding { prefix: &[RAW_ENCODING], first: raw, second: &[] }))
        }
    }
}

impl AptosStateKey {
    /// The key's BCS bytes (as a backup record holds it).
    pub fn to_bcs(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            AptosStateKey::AccessPath { address, path } => {
                out.push(ACCESS_PATH as u8);
                out.extend_from_slice(address.as_bytes());
                write_bytes(&mut out, &path.to_bytes());
            }
            AptosStateKey::TableItem { handle, key } => {
                out.push(TABLE_ITEM as u8);
                out.extend_from_slice(handle);
                write_bytes(&mut out, key);
            }
            AptosStateKey::Raw(raw) => {
                out.push(RAW as u8);
                write_bytes(&mut out, raw);
            }
        }
        out
    }

    /// The key's hash (its storage encoding's).
    pub fn hash(&self, hashes: &Hashes) -> Hash {
        match self {
            AptosStateKey::AccessPath { .. } => hashes.state_key(&[&self.to_bcs()]),
            AptosStateKey::TableItem { handle, key } => hashes.state_key(&[&[1], handle, key]),
            AptosStateKey::Raw(raw) => hashes.state_key(&[&[RAW_ENCODING], raw]),
        }
    }

    /// A resource's key.
    pub fn resource(address: AccountAddress, tag: StructTag) -> AptosStateKey {
        AptosStateKey::AccessPath { address, path: StatePath::Resource(tag) }
    }

    /// A resource group's key.
    pub fn group(address: AccountAddress, tag: StructTag) -> AptosStateKey {
        AptosStateKey::AccessPath { address, path: StatePath::ResourceGroup(tag) }
    }

    /// A module's key (under its own address).
    pub fn module(id: ModuleId) -> AptosStateKey {
        let address = AccountAddress::from_address(id.address, WIDTH).unwrap_or_else(|_| AccountAddress::zero(WIDTH));
        AptosStateKey::AccessPath { address, path: StatePath::Code(id) }
    }
}

impl fmt::Display for AptosStateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AptosStateKey::AccessPath { address, path } => match path {
                StatePath::Code(id) => write!(f, "{address} module {id}"),
                StatePath::Resource(tag) => write!(f, "{address} resource {tag}"),
                StatePath::ResourceGroup(tag) => write!(f, "{address} resource group {tag}"),
                StatePath::Unknown(bytes) => write!(f, "{address} path 0x{}", hex(bytes)),
            },
            AptosStateKey::TableItem { handle, key } => write!(f, "table 0x{} key 0x{}", hex(handle), hex(key)),
            AptosStateKey::Raw(raw) => write!(f, "raw key 0x{}", hex(raw)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::Salt;
    use super::*;

    fn tag(s: &str) -> StructTag {
        StructTag::parse(s, WIDTH).unwrap()
    }

    fn read(bytes: &[u8]) -> (AptosStateKey, Hash) {
        let mut r = Reader::new(bytes);
        let (key, encoding) = read_key(&mut r).unwrap();
        r.finish("the key").unwrap();
        (key, encoding.hash(&Hashes::new(Salt::Aptos)))
    }

    /// The vectors of aptos-core's own state key tests (`types/src/state_store/state_key/tests.rs`):
    /// every kind of key, read back from its BCS and hashed as read, and from the typed key.
    #[test]
    fn every_kind_of_key_hashes_to_aptos_cores_vectors() {
        let h = Hashes::new(Salt::Aptos);
        let two = AccountAddress::from_u64(2, WIDTH);
        let mut handle = [0u8; 32];
        handle[30..].copy_from_slice(&[0x10, 0x02]);
        let cases = [
            (
                AptosStateKey::resource(two, tag("0x1::account::Account")),
                "8f9ab5d5e3c9f5b885fcceea388fecd16bdb490da08aac9d4f026ddc66733def",
            ),
            (
                AptosStateKey::group(two, tag("0x1::object::ObjectGroup")),
                "87973d52189ac6a25ea543214305c4c8fb3bc2ceea8c34600361b03527578133",
            ),
            (
                AptosStateKey::AccessPath {
                    address: two,
                    path: StatePath::Code(ModuleId::new(Address::from_u64(2), "mymodule")),
                },
                "83d33b345c5e4b25d8f4dfe2b98b492024313b3b6e4febea6bfa844dbd850200",
            ),
            (
                AptosStateKey::TableItem { handle, key: vec![7, 2, 3] },
                "6f5550015f7a6036f88b2458f98a7e4800aba09e83f8f294dbf70bff77f224e6",
            ),
            (AptosStateKey::Raw(vec![1, 2, 3]), "655ab5766bc87318e18d9287f32d318e15535d3db9d21a6e5a2b41a51b535aff"),
        ];
        for (key, expected) in cases {
            assert_eq!(hex(&key.hash(&h)), expected, "{key}");
            let (back, hash) = read(&key.to_bcs());
            assert_eq!(back, key);
            assert_eq!(hex(&hash), expected, "{key} as read");
        }
    }

    #[test]
    fn paths_that_read_as_nothing_are_kept_whole() {
        let address = AccountAddress::from_u64(7, WIDTH);
        for path in [vec![], vec![3, 1, 2], vec![1, 0, 0], [vec![0], vec![0u8; 32], vec![3, b'1', b'a', b'b']].concat()]
        {
            let key = AptosStateKey::AccessPath { address, path: StatePath::Unknown(path.clone()) };
            let (back, _) = read(&key.to_bcs());
            assert_eq!(back, key, "{path:?}");
            assert_eq!(StatePath::read(&path).to_bytes(), path);
        }
        // A tag followed by a byte too many is not a resource path.
        let mut bytes = StatePath::Resource(tag("0x1::a::B")).to_bytes();
        bytes.push(0);
        assert_eq!(StatePath::read(&bytes), StatePath::Unknown(bytes.clone()));
    }

    #[test]
    fn damaged_keys_are_errors_with_their_offset() {
        for (bytes, needle) in [
            (&[3u8][..], "kind 3 does not exist"),
            (&[0, 1, 2][..], "the access path's address"),
            (&[1, 0][..], "the table handle"),
            (&[2, 5, 1][..], "the raw key"),
        ] {
            let e = read_key(&mut Reader::new(bytes)).unwrap_err();
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
