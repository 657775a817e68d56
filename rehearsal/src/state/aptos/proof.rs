//! A snapshot's `state.proof`: BCS `(TransactionInfoWithProof, LedgerInfoWithSignatures)`,
//! which binds the manifest's state root to a ledger info.
//!
//! - `TransactionInfoWithProof` = `{ ledger_info_to_transaction_info_proof: { siblings:
//!   Vec<HashValue> }, transaction_info: TransactionInfo }`, the siblings from the leaf up;
//! - `TransactionInfo` = enum `0 V0 { gas_used: u64, status: ExecutionStatus, transaction_hash,
//!   event_root_hash, state_change_hash: HashValue, state_checkpoint_hash: Option<HashValue>,
//!   auxiliary_info_hash: Option<HashValue> }`;
//! - `ExecutionStatus` = enum `0 Success`, `1 OutOfGas`, `2 MoveAbort { location, code: u64,
//!   info: Option<{ reason_name, description: String }> }`, `3 ExecutionFailure { location,
//!   function: u16, code_offset: u16 }`, `4 MiscellaneousError(Option<u64>)`, with `location` =
//!   enum `0 Module(ModuleId)`, `1 Script`;
//! - `LedgerInfoWithSignatures` = enum `0 V0 { ledger_info: { commit_info: BlockInfo,
//!   consensus_data_hash }, signatures }`, `BlockInfo` = `{ epoch: u64, round: u64, id,
//!   executed_state_id (the accumulator's root), version: u64, timestamp_usecs: u64,
//!   next_epoch_state: Option<EpochState> }`.
//!
//! Checked as aptos-core's restore checks it: the transaction info's `state_checkpoint_hash` is
//! the manifest's root; its hash folds with the siblings (a left child when its index is even)
//! to the ledger info's accumulator root; the snapshot's version is not past the ledger info's.
//! What follows the ledger info's timestamp (the next epoch's validators, the signatures) is
//! not read: **the signatures are not checked**, so the ledger info is taken on trust.

use super::bcs::{write_hash, BcsError, Reader};
use super::hash::Hashes;
use super::limits::{MAX_ABORT_TEXT, MAX_ACCUMULATOR_SIBLINGS, MAX_IDENTIFIER_BYTES};
use crate::state::diem::hash::{hex, Hash};
use serde::Serialize;

/// A `state.proof`, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateProof {
    /// The accumulator siblings, from the leaf up.
    pub siblings: Vec<Hash>,
    /// The transaction info's BCS bytes (what its hash is over).
    pub transaction_info: Vec<u8>,
    /// The state root the transaction info commits to, if it has one.
    pub state_checkpoint_hash: Option<Hash>,
    pub ledger: LedgerInfo,
}

/// What is read of the ledger info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LedgerInfo {
    pub epoch: u64,
    pub round: u64,
    pub version: u64,
    pub timestamp_usecs: u64,
    /// The transaction accumulator's root (`executed_state_id`).
    #[serde(serialize_with = "as_hex")]
    pub accumulator_root: Hash,
}

fn as_hex<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(h))
}

/// Reads a module id (the location of an abort).
fn skip_module_id(r: &mut Reader<'_>) -> Result<(), BcsError> {
    r.skip(32, "the abort location's address")?;
    r.string(MAX_IDENTIFIER_BYTES, "the abort location's module").map(|_| ())
}

fn skip_location(r: &mut Reader<'_>) -> Result<(), BcsError> {
    if r.variant(1, "the abort location")? == 0 {
        skip_module_id(r)?;
    }
    Ok(())
}

/// Reads an `ExecutionStatus` (nothing of it is kept: it is hashed with the rest).
fn skip_status(r: &mut Reader<'_>) -> Result<(), BcsError> {
    match r.variant(4, "the execution status")? {
        2 => {
            skip_location(r)?;
            r.u64("the abort code")?;
            if r.option("the abort info")? {
                r.string(MAX_ABORT_TEXT, "the abort reason")?;
                r.string(MAX_ABORT_TEXT, "the abort description")?;
            }
        }
        3 => {
            skip_location(r)?;
            r.u16("the failing function")?;
            r.u16("the failing code offset")?;
        }
        4 if r.option("the status code")? => {
            r.u64("the status code")?;
        }
        _ => {}
    }
    Ok(())
}

/// Reads a `TransactionInfo`: its state checkpoint hash.
fn read_transaction_info(r: &mut Reader<'_>) -> Result<Option<Hash>, BcsError> {
    r.variant(0, "the transaction info's version")?;
    r.u64("the gas used")?;
    skip_status(r)?;
    for what in ["the transaction hash", "the event root hash", "the state change hash"] {
        r.hash_value(what)?;
    }
    let checkpoint =
        if r.option("the state checkpoint hash")? { Some(r.hash_value("the state checkpoint hash")?) } else { None };
    if r.option("the auxiliary info hash")? {
        r.hash_value("the auxiliary info hash")?;
    }
    Ok(checkpoint)
}

/// Reads a `state.proof`'s bytes.
pub fn parse_state_proof(bytes: &[u8]) -> Result<StateProof, BcsError> {
    let mut r = Reader::new(bytes);
    let n = r.count(MAX_ACCUMULATOR_SIBLINGS, 33, "the accumulator proof's siblings")?;
    let mut siblings = Vec::with_capacity(n);
    for _ in 0..n {
        siblings.push(r.hash_value("an accumulator sibling")?);
    }
    let start = r.pos();
    let state_checkpoint_hash = read_transaction_info(&mut r)?;
    let transaction_info = r.since(start).to_vec();
    r.variant(0, "the ledger info's version")?;
    let epoch = r.u64("the ledger info's epoch")?;
    let round = r.u64("the ledger info's round")?;
    r.hash_value("the block id")?;
    let accumulator_root = r.hash_value("the ledger info's accumulator root")?;
    let version = r.u64("the ledger info's version")?;
    let timestamp_usecs = r.u64("the ledger info's timestamp")?;
    Ok(StateProof {
        siblings,
        transaction_info,
        state_checkpoint_hash,
        ledger: LedgerInfo { epoch, round, version, timestamp_usecs, accumulator_root },
    })
}

/// Folds an element's hash at `index` with its siblings (from the leaf up) to the root.
pub fn accumulator_root(hashes: &Hashes, element: &Hash, index: u64, siblings: &[Hash]) -> Hash {
    let mut node = *element;
    let mut index = index;
    for sibling in siblings {
        node = if index.is_multiple_of(2) {
            hashes.accumulator(&node, sibling)
        } else {
            hashes.accumulator(sibling, &node)
        };
        index /= 2;
    }
    node
}

impl StateProof {
    /// The accumulator root the transaction info at `version` folds to with `hashes`' salt.
    pub fn folded_root(&self, hashes: &Hashes, version: u64) -> Hash {
        accumulator_root(hashes, &hashes.transaction_info(&self.transaction_info), version, &self.siblings)
    }

    /// Checks that the proof binds `root` at `version` to its ledger info; the reason when not.
    pub fn verify(&self, hashes: &Hashes, version: u64, root: &Hash) -> Result<(), String> {
        match &self.state_checkpoint_hash {
            Some(h) if h == root => {}
            Some(h) => {
                return Err(format!(
                    "the transaction info's state checkpoint hash is {}, the manifest's root is {}",
                    hex(h),
                    hex(root)
                ))
            }
            None => return Err("the transaction info has no state checkpoint hash".into()),
        }
        if version > self.ledger.version {
            return Err(format!("the snapshot's version {version} is past the ledger info's {}", self.ledger.version));
        }
        let folded = self.folded_root(hashes, version);
        if folded != self.ledger.accumulator_root {
            return Err(format!(
                "the transaction info at version {version} folds with its {} siblings to {} ({} hashes), the ledger info's accumulator root is {}",
                self.siblings.len(),
                hex(&folded),
                hashes.salt,
                hex(&self.ledger.accumulator_root)
            ));
        }
        Ok(())
    }
}

/// A transaction info that commits to `root` (a successful transaction, the other hashes
/// `filler`), as BCS.
pub fn transaction_info_bytes(root: &Hash, filler: &Hash) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&0u64.to_le_bytes());
    out.push(0);
    for _ in 0..3 {
        write_hash(&mut out, filler);
    }
    out.push(1);
    write_hash(&mut out, root);
    out.push(0);
    out
}

/// A `state.proof` for the fixtures: the transaction info at `version`, its siblings, and a
/// ledger info at `ledger_version` of `epoch` whose accumulator root they fold to, with no
/// next epoch and no signatures (an empty bitmask, no aggregate signature).
pub fn state_proof_bytes(
    hashes: &Hashes,
    transaction_info: &[u8],
    version: u64,
    siblings: &[Hash],
    epoch: u64,
    ledger_version: u64,
) -> Vec<u8> {
    let mut out = Vec::new();
    binary_format::write_uleb(&mut out, siblings.len() as u64);
    for s in siblings {
        write_hash(&mut out, s);
    }
    out.extend_from_slice(transaction_info);
    let root = accumulator_root(hashes, &hashes.transaction_info(transaction_info), version, siblings);
    out.push(0);
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    write_hash(&mut out, &[0; 32]);
    write_hash(&mut out, &root);
    out.extend_from_slice(&ledger_version.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.push(0);
    write_hash(&mut out, &[0; 32]);
    out.push(0);
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::super::hash::Salt;
    use super::*;

    #[test]
    fn a_proof_binds_its_root_and_every_altered_part_is_refused() {
        let h = Hashes::new(Salt::Diem);
        let root = [0x11; 32];
        let info = transaction_info_bytes(&root, &[0x22; 32]);
        let siblings: Vec<Hash> = (0..5u8).map(|i| [i; 32]).collect();
        let bytes = state_proof_bytes(&h, &info, 19, &siblings, 7, 25);
        let p = parse_state_proof(&bytes).unwrap();
        assert_eq!((p.ledger.epoch, p.ledger.version), (7, 25));
        assert_eq!(p.state_checkpoint_hash, Some(root));
        p.verify(&h, 19, &root).unwrap();
        // Another salt, another version (another path up), another root, a version past the
        // ledger info's: each refused with its reason.
        assert!(p.verify(&Hashes::new(Salt::Aptos), 19, &root).unwrap_err().contains("folds"));
        assert!(p.verify(&h, 18, &root).unwrap_err().contains("folds"));
        assert!(p.verify(&h, 19, &[0x12; 32]).unwrap_err().contains("state checkpoint hash"));
        assert!(p.verify(&h, 26, &root).unwrap_err().contains("past the ledger"));
        for end in 0..bytes.len().min(300) {
            let _ = parse_state_proof(&bytes[..end]);
        }
    }

    /// Every execution status a transaction info may hold reads, and is hashed as written.
    #[test]
    fn every_execution_status_reads() {
        let statuses: [&[u8]; 7] = [
            &[0],
            &[1],
            &[2, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0],
            &[2, 1, 5, 0, 0, 0, 0, 0, 0, 0, 1, 1, b'E', 1, b'x'],
            &[3, 1, 1, 0, 2, 0],
            &[4, 0],
            &[4, 1, 9, 0, 0, 0, 0, 0, 0, 0],
        ];
        for status in statuses {
            let mut info = vec![0];
            info.extend_from_slice(&7u64.to_le_bytes());
            info.extend_from_slice(status);
            for _ in 0..3 {
                write_hash(&mut info, &[3; 32]);
            }
            info.extend([0, 1]);
            write_hash(&mut info, &[4; 32]);
            let mut r = Reader::new(&info);
            assert_eq!(read_transaction_info(&mut r).unwrap(), None, "{status:?}");
            r.finish("the info").unwrap();
        }
        let mut module_abort = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        module_abort.extend([1u8; 32]);
        module_abort.extend([1, b'm']);
        module_abort.extend([0u8; 9]);
        for _ in 0..3 {
            write_hash(&mut module_abort, &[3; 32]);
        }
        module_abort.extend([0, 0]);
        let mut r = Reader::new(&module_abort);
        read_transaction_info(&mut r).unwrap();
        r.finish("the info").unwrap();
    }
}
