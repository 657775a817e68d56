//! The hashes of Aptos-based chains: SHA3-256 salted per type, `H_Name(bytes) =
//! sha3(sha3(SALT ++ Name) ++ bytes)`, as `aptos-crypto`'s `CryptoHasher` seeds them (the name
//! is the type's serde name). The salt is `APTOS::` on Aptos and `DIEM::` on 0L's
//! libra-framework chains, which renamed it.
//!
//! What is hashed (read in aptos-core's `types` and `jellyfish-merkle` crates, and checked
//! against the vectors in the tests below):
//! - a state key: its storage encoding ([`super::key`]), name `StateKey`;
//! - a state value: its BCS bytes exactly as a backup record holds them (`V0(data)` or
//!   `WithMetadata { data, metadata }`), name `StateValue`;
//! - a tree leaf: `key hash ++ value hash`, name `SparseMerkleLeafNode`; an internal node
//!   `left ++ right`, name `SparseMerkleInternal`; an empty subtree is the unsalted literal
//!   placeholder;
//! - a transaction info: its BCS bytes, name `TransactionInfo`; a node of the transaction
//!   accumulator `left ++ right`, name `TransactionAccumulator`.

use crate::state::diem::hash::Hash;
use crate::state::diem::smt::NodeHashes;
use serde::Serialize;
use sha3::{Digest, Sha3_256};
use std::fmt;

/// The salt every hash of a chain starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Salt {
    /// `APTOS::` (Aptos, and the chains that kept its salt).
    Aptos,
    /// `DIEM::` (0L's libra-framework chains).
    Diem,
}

impl Salt {
    pub const ALL: [Salt; 2] = [Salt::Aptos, Salt::Diem];

    pub fn as_str(self) -> &'static str {
        match self {
            Salt::Aptos => "APTOS::",
            Salt::Diem => "DIEM::",
        }
    }
}

impl fmt::Display for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The hashers of one salt, each already fed its seed.
#[derive(Debug, Clone)]
pub struct Hashes {
    pub salt: Salt,
    state_key: Sha3_256,
    state_value: Sha3_256,
    leaf: Sha3_256,
    internal: Sha3_256,
    transaction_info: Sha3_256,
    accumulator: Sha3_256,
}

fn seeded(salt: Salt, name: &str) -> Sha3_256 {
    let mut seed = Sha3_256::new();
    seed.update(salt.as_str().as_bytes());
    seed.update(name.as_bytes());
    Sha3_256::new_with_prefix(seed.finalize())
}

fn finish(hasher: Sha3_256) -> Hash {
    hasher.finalize().into()
}

impl Hashes {
    pub fn new(salt: Salt) -> Hashes {
        Hashes {
            salt,
            state_key: seeded(salt, "StateKey"),
            state_value: seeded(salt, "StateValue"),
            leaf: seeded(salt, "SparseMerkleLeafNode"),
            internal: seeded(salt, "SparseMerkleInternal"),
            transaction_info: seeded(salt, "TransactionInfo"),
            accumulator: seeded(salt, "TransactionAccumulator"),
        }
    }

    /// A state key's hash from the pieces of its storage encoding, in order.
    pub fn state_key(&self, parts: &[&[u8]]) -> Hash {
        let mut h = self.state_key.clone();
        for p in parts {
            h.update(p);
        }
        finish(h)
    }

    /// A state value's hash: of its BCS bytes.
    pub fn state_value(&self, bcs: &[u8]) -> Hash {
        let mut h = self.state_value.clone();
        h.update(bcs);
        finish(h)
    }

    /// A transaction info's hash: of its BCS bytes.
    pub fn transaction_info(&self, bcs: &[u8]) -> Hash {
        let mut h = self.transaction_info.clone();
        h.update(bcs);
        finish(h)
    }

    /// A node of the transaction accumulator.
    pub fn accumulator(&self, left: &Hash, right: &Hash) -> Hash {
        let mut h = self.accumulator.clone();
        h.update(left);
        h.update(right);
        finish(h)
    }
}

impl NodeHashes for Hashes {
    fn leaf(&self, key: &Hash, value_hash: &Hash) -> Hash {
        let mut h = self.leaf.clone();
        h.update(key);
        h.update(value_hash);
        finish(h)
    }

    fn internal(&self, left: &Hash, right: &Hash) -> Hash {
        let mut h = self.internal.clone();
        h.update(left);
        h.update(right);
        finish(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::diem::hash::{hex, PLACEHOLDER};
    use crate::state::jsonl::decode_hex;

    fn h32(s: &str) -> Hash {
        Hash::try_from(decode_hex(s).unwrap().as_slice()).unwrap()
    }

    /// A Merkle proof of a table item published in a public test of an Aptos-family light
    /// client (a live chain's state, `APTOS::` salt): its key hash, its value's hash (data and
    /// V1 metadata) and its root recomputed from the leaf and the eight siblings (listed from the
    /// root down there) prove the leaf and internal hashes, the value hash and the table key's
    /// encoding on real data.
    #[test]
    fn a_live_chains_proof_folds_to_its_root() {
        let h = Hashes::new(Salt::Aptos);
        let handle = decode_hex("6a95fc19afdc28b79ac96a39151b4cec85b1281d1bc0c246f3d369688439e17a").unwrap();
        let key = decode_hex("18636f6e6e656374696f6e732f636f6e6e656374696f6e2d34").unwrap();
        let key_hash = h.state_key(&[&[1], &handle, &key]);
        assert_eq!(hex(&key_hash), "a0f3409f6d658f56daa8e092107ee81488d7e99d3dcf0aa2fd54857823a39a9b");

        let data = decode_hex("206c979155ae4fb94adc1be3e5597fef73ec5ec3bfd941e76301b06ad5f3c8bfdb").unwrap();
        let mut value = vec![1];
        crate::state::aptos::bcs::write_bytes(&mut value, &data);
        value.push(1);
        for n in [40_000u64, 3_600, 1_726_830_371_849_456] {
            value.extend_from_slice(&n.to_le_bytes());
        }
        let value_hash = h.state_value(&value);
        assert_eq!(hex(&value_hash), "e0f1455e9aa503607c640ec3a1686d1c880e8c5764e9f8d835546b64967513c6");

        let siblings = [
            "5d7706cc7dd8c67b9f7f591df480fac0cb4072b4fb6e0eb174db30f3dd21e0cf",
            "b4d5bcecf9fe8c498fd47534b58bb884db1d3e3aac199a9d7628b322dfe9ad94",
            "cbf6cd565500808d340a730222b7cd010cf6bf15c66d4a1a242a50d0c18e7cc3",
            "09e8788b148cd7c676984da74ed74662081bacd7e626428acb76ef197f84da83",
            "d4966172dff6b30ad1c8831b00a4915aecc30bf69df8c44d068ece0e1022b19b",
            "c975874bf196e43483b134dbe97d00b4108a18fc3322b9807121986f05a6b3ba",
            "5350415253455f4d45524b4c455f504c414345484f4c4445525f484153480000",
            "794524a7d7b3d5010a7d124fedbdf5e841da55290a52809d09911c04c71cee49",
        ];
        assert_eq!(h32(siblings[6]), PLACEHOLDER);
        let mut node = h.leaf(&key_hash, &value_hash);
        for (depth, sibling) in siblings.iter().enumerate().rev() {
            let bit = key_hash[depth / 8] >> (7 - depth % 8) & 1 == 1;
            node = if bit { h.internal(&h32(sibling), &node) } else { h.internal(&node, &h32(sibling)) };
        }
        assert_eq!(hex(&node), "d9c8ce5f6d8eac96858d81325d886a0928ef1680ef430d270a3b69742fe984e6");
    }

    /// The seeds differ by salt: the same bytes hash apart.
    #[test]
    fn salts_separate_every_hash() {
        let (a, d) = (Hashes::new(Salt::Aptos), Hashes::new(Salt::Diem));
        assert_ne!(a.state_key(&[b"x"]), d.state_key(&[b"x"]));
        assert_ne!(a.state_value(b"x"), a.state_key(&[b"x"]));
        assert_ne!(a.accumulator(&[0; 32], &[1; 32]), d.accumulator(&[0; 32], &[1; 32]));
        assert_ne!(a.transaction_info(b"x"), d.transaction_info(b"x"));
        // Parts are one stream.
        assert_eq!(a.state_key(&[b"ab", b"c"]), a.state_key(&[b"a", b"bc"]));
    }
}
