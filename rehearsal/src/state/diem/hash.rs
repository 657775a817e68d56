//! Diem's hashes: SHA3-256 (FIPS 202, not Keccak) salted per type, `H_Name(bytes) =
//! sha3(sha3(PREFIX ++ Name) ++ bytes)`, with the prefix `LIBRA::` in the Libra era and `DIEM::`
//! after the rename.

use serde::Serialize;
use sha3::{Digest, Sha3_256};
use std::fmt;

/// The salt prefix of an era's hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prefix {
    /// `LIBRA::` (Libra, and 0L's first chain).
    Libra,
    /// `DIEM::` (Diem after the rename, and 0L's v5 chain).
    Diem,
}

impl Prefix {
    pub const ALL: [Prefix; 2] = [Prefix::Libra, Prefix::Diem];

    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::Libra => "LIBRA::",
            Prefix::Diem => "DIEM::",
        }
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A 32-byte hash.
pub type Hash = [u8; 32];

/// The empty subtree of the sparse Merkle tree: this literal, not hashed.
pub const PLACEHOLDER: Hash = *b"SPARSE_MERKLE_PLACEHOLDER_HASH\0\0";

/// The hashers of one prefix, each already fed its seed.
#[derive(Debug, Clone)]
pub struct Hashes {
    pub prefix: Prefix,
    account: Sha3_256,
    blob: Sha3_256,
    leaf: Sha3_256,
    internal: Sha3_256,
    struct_tag: Sha3_256,
    module_id: Sha3_256,
}

fn seeded(prefix: Prefix, name: &str) -> Sha3_256 {
    let mut seed = Sha3_256::new();
    seed.update(prefix.as_str().as_bytes());
    seed.update(name.as_bytes());
    let seed = seed.finalize();
    Sha3_256::new_with_prefix(seed)
}

fn finish(hasher: Sha3_256) -> Hash {
    hasher.finalize().into()
}

impl Hashes {
    pub fn new(prefix: Prefix) -> Hashes {
        Hashes {
            prefix,
            account: seeded(prefix, "AccountAddress"),
            blob: seeded(prefix, "AccountStateBlob"),
            leaf: seeded(prefix, "SparseMerkleLeafNode"),
            internal: seeded(prefix, "SparseMerkleInternal"),
            struct_tag: seeded(prefix, "StructTag"),
            module_id: seeded(prefix, "ModuleId"),
        }
    }

    /// The record key of an account: its raw address bytes hashed.
    pub fn account(&self, address: &[u8]) -> Hash {
        let mut h = self.account.clone();
        h.update(address);
        finish(h)
    }

    /// The hash of an account's blob (its raw bytes).
    pub fn blob(&self, blob: &[u8]) -> Hash {
        let mut h = self.blob.clone();
        h.update(blob);
        finish(h)
    }

    pub fn leaf(&self, key: &Hash, value_hash: &Hash) -> Hash {
        let mut h = self.leaf.clone();
        h.update(key);
        h.update(value_hash);
        finish(h)
    }

    pub fn internal(&self, left: &Hash, right: &Hash) -> Hash {
        let mut h = self.internal.clone();
        h.update(left);
        h.update(right);
        finish(h)
    }

    /// A Libra-era resource path's hash: of the struct tag's BCS bytes.
    pub fn struct_tag(&self, bcs: &[u8]) -> Hash {
        let mut h = self.struct_tag.clone();
        h.update(bcs);
        finish(h)
    }

    /// A Libra-era code path's hash: of the module id's BCS bytes.
    pub fn module_id(&self, bcs: &[u8]) -> Hash {
        let mut h = self.module_id.clone();
        h.update(bcs);
        finish(h)
    }
}

/// Lowercase hex of a hash.
pub fn hex(hash: &[u8]) -> String {
    crate::state::jsonl::encode_hex(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        crate::state::jsonl::decode_hex(s).unwrap()
    }

    /// Published values: a Libra client's test, Diem's own unit test, a real 0L v5 record.
    #[test]
    fn account_keys_match_published_vectors() {
        let address = unhex("ca843279e3427144cead5e4d5999a3d0");
        assert_eq!(
            hex(&Hashes::new(Prefix::Libra).account(&address)),
            "c44c0a209ec51c8077b0007334988e11867842e152e05316f062a589ed6b606d"
        );
        assert_eq!(
            hex(&Hashes::new(Prefix::Diem).account(&address)),
            "6403c4906e79cf4536edada922040805c6a8d0e735fa4516a9cc40038bd125c8"
        );
        assert_eq!(
            hex(&Hashes::new(Prefix::Diem).account(&unhex("c48fd6f98292da33b11c4878b36dde1b"))),
            "00035a7c9629b7e52e94de65e6a892701fe28351186405be96ed23f4b1252f7a"
        );
    }
}
