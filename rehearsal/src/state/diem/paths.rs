//! Access paths inside an account blob, in both eras: a resource is `[1] ++ hash(StructTag)` in
//! the Libra era and `[1] ++ bcs(StructTag)` after it; a module `[0] ++ hash(ModuleId)` or
//! `[0] ++ bcs(ModuleId)`. Addresses are 16 bytes.

use super::hash::{Hash, Hashes};
use binary_format::bcs::Reader;
use binary_format::{identifier, limits, AddressLength, ModuleId};
use migrations::{AccountAddress, StructTag};
use serde::Serialize;
use std::fmt;

/// The width of a Diem-family chain's addresses.
pub const WIDTH: AddressLength = AddressLength::Bytes16;
/// The first byte of a module's path.
pub const CODE_TAG: u8 = 0;
/// The first byte of a resource's path.
pub const RESOURCE_TAG: u8 = 1;

/// How access paths are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathEncoding {
    /// `[tag] ++ hash(...)`, 33 bytes (the Libra era).
    Hashed,
    /// `[tag] ++ bcs(...)` (Diem after the change, 0L v5).
    Bcs,
}

impl fmt::Display for PathEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathEncoding::Hashed => "hashed paths",
            PathEncoding::Bcs => "BCS paths",
        })
    }
}

/// An access path, read as far as its encoding allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessPath {
    Resource(StructTag),
    /// A Libra-era resource path: the hash of a struct tag, to be resolved.
    HashedResource(Hash),
    Module(ModuleId),
    HashedModule(Hash),
    /// Neither a resource nor a module path of the encoding.
    Unknown(String),
}

/// The BCS bytes of a module id (16-byte address, then its name).
pub fn module_id_bcs(id: &ModuleId) -> Option<Vec<u8>> {
    let mut out = id.address.to_be_bytes(WIDTH)?.to_vec();
    binary_format::write_uleb(&mut out, id.name.len() as u64);
    out.extend_from_slice(id.name.as_bytes());
    Some(out)
}

/// Reads `bytes` as exactly one module id's BCS bytes.
fn module_id_from_bcs(bytes: &[u8]) -> Option<ModuleId> {
    let mut r = Reader::new(bytes);
    let address = r.address(WIDTH, "a module's address").ok()?;
    let name = r.string(limits::MAX_IDENTIFIER_LEN, "a module's name").ok()?;
    r.finish("a module id").ok()?;
    identifier::is_valid(name).then(|| ModuleId::new(address, name))
}

/// Whether `path` reads as a BCS path (a resource's struct tag or a module's id).
pub fn reads_as_bcs(path: &[u8]) -> bool {
    match path.split_first() {
        Some((&RESOURCE_TAG, rest)) => StructTag::from_bcs(rest, WIDTH).is_ok(),
        Some((&CODE_TAG, rest)) => module_id_from_bcs(rest).is_some(),
        _ => false,
    }
}

/// Whether `path` has the shape of a hashed path.
pub fn has_hashed_shape(path: &[u8]) -> bool {
    path.len() == 33 && matches!(path.first(), Some(&CODE_TAG | &RESOURCE_TAG))
}

/// Reads an access path in `encoding`.
pub fn read(path: &[u8], encoding: PathEncoding) -> AccessPath {
    let unknown = |why: &str| AccessPath::Unknown(format!("{why}: {}", super::hash::hex(path)));
    let Some((&kind, rest)) = path.split_first() else { return unknown("an empty access path") };
    match (encoding, kind) {
        (PathEncoding::Hashed, RESOURCE_TAG | CODE_TAG) => match <Hash>::try_from(rest) {
            Ok(hash) if kind == RESOURCE_TAG => AccessPath::HashedResource(hash),
            Ok(hash) => AccessPath::HashedModule(hash),
            Err(_) => unknown("not a 33-byte hashed path"),
        },
        (PathEncoding::Bcs, RESOURCE_TAG) => match StructTag::from_bcs(rest, WIDTH) {
            Ok(tag) => AccessPath::Resource(tag),
            Err(e) => AccessPath::Unknown(format!("a resource path that is not a struct tag ({e})")),
        },
        (PathEncoding::Bcs, CODE_TAG) => {
            module_id_from_bcs(rest).map_or_else(|| unknown("a code path that is not a module id"), AccessPath::Module)
        }
        _ => unknown(&format!("an access path of kind {kind}")),
    }
}

/// The access path of a resource in `encoding`.
pub fn resource_path(tag: &StructTag, encoding: PathEncoding, hashes: &Hashes) -> Vec<u8> {
    let bcs = tag.to_bcs();
    let mut out = vec![RESOURCE_TAG];
    match encoding {
        PathEncoding::Hashed => out.extend_from_slice(&hashes.struct_tag(&bcs)),
        PathEncoding::Bcs => out.extend_from_slice(&bcs),
    }
    out
}

/// The access path of a module in `encoding`.
pub fn module_path(id: &ModuleId, encoding: PathEncoding, hashes: &Hashes) -> Option<Vec<u8>> {
    let bcs = module_id_bcs(id)?;
    let mut out = vec![CODE_TAG];
    match encoding {
        PathEncoding::Hashed => out.extend_from_slice(&hashes.module_id(&bcs)),
        PathEncoding::Bcs => out.extend_from_slice(&bcs),
    }
    Some(out)
}

/// A 16-byte account address.
pub fn account(bytes: &[u8; 16]) -> AccountAddress {
    AccountAddress::new(bytes).unwrap_or_else(|_| AccountAddress::zero(WIDTH))
}

#[cfg(test)]
mod tests {
    use super::super::hash::Prefix;
    use super::*;
    use binary_format::Address;

    #[test]
    fn paths_of_both_encodings_read_back() {
        let h = Hashes::new(Prefix::Libra);
        let tag = StructTag::parse("0x1::LibraAccount::Balance<0x1::GAS::GAS>", WIDTH).unwrap();
        let bcs = resource_path(&tag, PathEncoding::Bcs, &h);
        assert!(reads_as_bcs(&bcs));
        assert_eq!(read(&bcs, PathEncoding::Bcs), AccessPath::Resource(tag.clone()));
        let hashed = resource_path(&tag, PathEncoding::Hashed, &h);
        assert!(has_hashed_shape(&hashed) && !reads_as_bcs(&hashed));
        // The format notes' value for this tag under LIBRA::.
        assert_eq!(
            super::super::hash::hex(&hashed),
            "011e6178cd71d33aa7f4b42dfdab915d3e9d97e1dae0cc9e02e9f085653ba41250"
        );
        let id = ModuleId::new(Address::from_u64(1), "LibraAccount");
        let m = module_path(&id, PathEncoding::Hashed, &h).unwrap();
        assert_eq!(super::super::hash::hex(&m), "003777ff5f3b02351e3c826cdadad2f8fe0ff01b59259e9132007e3d1444d52693");
        let m = module_path(&id, PathEncoding::Bcs, &h).unwrap();
        assert_eq!(read(&m, PathEncoding::Bcs), AccessPath::Module(id));
        assert!(matches!(read(&[7, 1, 2], PathEncoding::Bcs), AccessPath::Unknown(_)));
        assert!(matches!(read(&[], PathEncoding::Hashed), AccessPath::Unknown(_)));
    }
}
