//! The on-chain migration status: `0x1::Migrations::Status`, held by the system account 0x0.
//!
//! Every node must agree on which migrations ran, where the running one stopped and which
//! accounts failed, and a restarted node must resume from there: so the status lives in state,
//! not in the node's memory, BCS-encoded exactly as the stdlib declares the struct (v1):
//!
//! ```text
//! struct Status has key
//!   activations: vector<Activation { release: u64, height: u64 }>
//!   completed:   vector<Completed { id: vector<u8>, checksum: vector<u8>, height: u64 }>
//!   in_progress: vector<InProgress { id: vector<u8>, cursor: vector<u8>, migrated: u64 }>
//!   failed:      vector<Failure { account: address, migration: vector<u8>, reason: vector<u8> }>
//! ```
//!
//! Canonical order, so that every node writes the same bytes: `activations` in activation
//! order, `completed` in the order the migrations ran (what [`migrations::catalogue::Catalogue::verify_history`]
//! checks), `in_progress` sorted by id, `failed` sorted by (migration, account) without
//! duplicates. `has_run` is a lookup in an index built on load, not a scan of `completed`.
//!
//! Two conventions the struct leaves open:
//! - `InProgress.cursor` is the BCS encoding of [`Cursor`] (the block that last worked on the
//!   migration, whether governance approved quarantining past the halt limit, the instance, and
//!   the last account visited). The block height is there so that a restarted node knows which
//!   block was the last to do migration work, and a repeated call for it does nothing.
//! - A `Failure` at the system account 0x0 is the migration itself failing (halted, or skipped
//!   when it has no `InProgress` record), not an account quarantined: the system account cannot
//!   be quarantined, since system operations read its resources every block, and a user-account
//!   migration never touches 0x0.

use migrations::catalogue::Checksum;
use migrations::core_types::parse_struct_tag;
use migrations::store::{Store, StoreError, WriteBatch};
use migrations::StructTag;
use move_core_types::account_address::AccountAddress;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The struct tag the status is stored under, at 0x0.
pub const STATUS_TAG: &str = "0x1::Migrations::Status";

/// Longest failure reason kept (in bytes): a reason is for people, and the status resource is
/// rewritten every block a migration runs, so its size must stay bounded.
pub const MAX_REASON_BYTES: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("the migration status at 0x0 does not decode: {0}")]
    Decode(String),
    #[error("the migration status at 0x0 is inconsistent: {0}")]
    Invalid(String),
    #[error("the migration status cannot be encoded: {0}")]
    Encode(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The parsed struct tag of the status. Parsing a constant cannot fail; the error arm keeps
/// the no-panic rule without an `expect`.
pub fn status_tag() -> Result<StructTag, StatusError> {
    parse_struct_tag(STATUS_TAG).map_err(|e| StatusError::Invalid(e.to_string()))
}

/// A release activated, and the block it was activated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Activation {
    pub release: u64,
    pub height: u64,
}

/// A migration that ran to the end, with the checksum of the catalogue entry that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub id: String,
    pub checksum: Checksum,
    pub height: u64,
}

/// Where a running migration stands (the decoded `InProgress.cursor` bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cursor {
    /// The last block whose prologue worked on this migration (0: only reads migrated accounts).
    pub height: u64,
    /// Governance approved it: failing accounts are quarantined past the halt limit.
    pub approved: bool,
    /// Which instance of the entry (type arguments) is being migrated.
    pub instance: u32,
    /// The last account visited in that instance; the next chunk starts after it.
    pub after: Option<[u8; AccountAddress::LENGTH]>,
}

impl Cursor {
    pub fn after_account(&self) -> Option<AccountAddress> {
        self.after.map(AccountAddress::new)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgress {
    pub id: String,
    pub cursor: Cursor,
    /// Accounts migrated so far, by the background pass and on access.
    pub migrated: u64,
}

/// An account whose resource did not migrate (quarantined: its old data is intact), or, at
/// 0x0, the migration itself failing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    pub migration: String,
    pub account: AccountAddress,
    pub reason: String,
}

impl Failure {
    /// Whether this records the migration failing rather than one account.
    pub fn is_migration_failure(&self) -> bool {
        self.account == AccountAddress::ZERO
    }
}

// The wire form: field for field the Move struct.
#[derive(Serialize, Deserialize)]
struct RawStatus {
    activations: Vec<Activation>,
    completed: Vec<RawCompleted>,
    in_progress: Vec<RawInProgress>,
    failed: Vec<RawFailure>,
}

#[derive(Serialize, Deserialize)]
struct RawCompleted {
    id: Vec<u8>,
    checksum: Vec<u8>,
    height: u64,
}

#[derive(Serialize, Deserialize)]
struct RawInProgress {
    id: Vec<u8>,
    cursor: Vec<u8>,
    migrated: u64,
}

#[derive(Serialize, Deserialize)]
struct RawFailure {
    account: [u8; AccountAddress::LENGTH],
    migration: Vec<u8>,
    reason: Vec<u8>,
}

/// The migration status, with an index of completed migrations by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    activations: Vec<Activation>,
    completed: Vec<Completed>,
    in_progress: Vec<InProgress>,
    failed: Vec<Failure>,
    /// id -> position in `completed`: `has_run` in O(log n).
    completed_index: BTreeMap<String, usize>,
}

fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, StatusError> {
    String::from_utf8(bytes).map_err(|_| StatusError::Invalid(format!("{what} is not UTF-8")))
}

/// Cuts `reason` to at most [`MAX_REASON_BYTES`], at a character boundary.
fn bounded(mut reason: String) -> String {
    if reason.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

impl Status {
    /// The status held at 0x0, or an empty one if there is none yet.
    pub fn load(store: &dyn Store) -> Result<Status, StatusError> {
        match store.get(&AccountAddress::ZERO, &status_tag()?)? {
            Some(bytes) => Status::decode(&bytes),
            None => Ok(Status::default()),
        }
    }

    /// Decodes stored bytes; they are untrusted, so every field is checked, never assumed.
    pub fn decode(bytes: &[u8]) -> Result<Status, StatusError> {
        let raw: RawStatus = bcs::from_bytes(bytes).map_err(|e| StatusError::Decode(e.to_string()))?;
        let mut status = Status { activations: raw.activations, ..Status::default() };
        for c in raw.completed {
            let id = utf8(c.id, "a completed migration's id")?;
            let checksum: [u8; 32] = c
                .checksum
                .try_into()
                .map_err(|_| StatusError::Invalid(format!("the checksum of `{id}` is not 32 bytes")))?;
            if status.completed_index.insert(id.clone(), status.completed.len()).is_some() {
                return Err(StatusError::Invalid(format!("`{id}` is recorded as completed twice")));
            }
            status.completed.push(Completed { id, checksum: Checksum(checksum), height: c.height });
        }
        for p in raw.in_progress {
            let id = utf8(p.id, "a running migration's id")?;
            let cursor: Cursor = bcs::from_bytes(&p.cursor)
                .map_err(|e| StatusError::Invalid(format!("the cursor of `{id}` does not decode: {e}")))?;
            status.in_progress.push(InProgress { id, cursor, migrated: p.migrated });
        }
        for f in raw.failed {
            status.failed.push(Failure {
                migration: utf8(f.migration, "a failure's migration id")?,
                account: AccountAddress::new(f.account),
                reason: String::from_utf8_lossy(&f.reason).into_owned(),
            });
        }
        let sorted_unique = |ids: Vec<&String>| ids.windows(2).all(|w| matches!(w, [a, b] if a < b));
        if !sorted_unique(status.in_progress.iter().map(|p| &p.id).collect()) {
            return Err(StatusError::Invalid("running migrations are not sorted by id, or repeat one".into()));
        }
        if !status
            .failed
            .windows(2)
            .all(|w| matches!(w, [a, b] if (&a.migration, a.account) < (&b.migration, b.account)))
        {
            return Err(StatusError::Invalid("failures are not sorted by (migration, account), or repeat one".into()));
        }
        Ok(status)
    }

    /// The canonical BCS bytes.
    pub fn encode(&self) -> Result<Vec<u8>, StatusError> {
        let cursors = self
            .in_progress
            .iter()
            .map(|p| bcs::to_bytes(&p.cursor).map_err(|e| StatusError::Encode(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let raw = RawStatus {
            activations: self.activations.clone(),
            completed: self
                .completed
                .iter()
                .map(|c| RawCompleted {
                    id: c.id.as_bytes().to_vec(),
                    checksum: c.checksum.0.to_vec(),
                    height: c.height,
                })
                .collect(),
            in_progress: self
                .in_progress
                .iter()
                .zip(cursors)
                .map(|(p, cursor)| RawInProgress { id: p.id.as_bytes().to_vec(), cursor, migrated: p.migrated })
                .collect(),
            failed: self
                .failed
                .iter()
                .map(|f| RawFailure {
                    account: f.account.into_bytes(),
                    migration: f.migration.as_bytes().to_vec(),
                    reason: f.reason.as_bytes().to_vec(),
                })
                .collect(),
        };
        bcs::to_bytes(&raw).map_err(|e| StatusError::Encode(e.to_string()))
    }

    /// Adds the write of this status at 0x0 to `batch`.
    pub fn write_into(&self, batch: &mut WriteBatch) -> Result<(), StatusError> {
        batch.put(AccountAddress::ZERO, status_tag()?, self.encode()?);
        Ok(())
    }

    // ---- reading ----

    /// Whether migration `id` ran to the end. O(log n).
    pub fn has_run(&self, id: &str) -> bool {
        self.completed_index.contains_key(id)
    }

    /// The completion record of `id`, with its checksum. O(log n).
    pub fn completion(&self, id: &str) -> Option<&Completed> {
        self.completed_index.get(id).and_then(|&i| self.completed.get(i))
    }

    /// Completed migrations, in the order they ran.
    pub fn completed(&self) -> &[Completed] {
        &self.completed
    }

    /// Releases activated, in order.
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    /// Running migrations, sorted by id.
    pub fn in_progress(&self) -> &[InProgress] {
        &self.in_progress
    }

    pub fn progress_of(&self, id: &str) -> Option<&InProgress> {
        self.in_progress.binary_search_by(|p| p.id.as_str().cmp(id)).ok().and_then(|i| self.in_progress.get(i))
    }

    /// Every failure, sorted by (migration, account).
    pub fn failures(&self) -> &[Failure] {
        &self.failed
    }

    /// The failures of one migration (its quarantined accounts, and at 0x0 its own failure).
    pub fn failures_of(&self, id: &str) -> &[Failure] {
        let start = self.failed.partition_point(|f| f.migration.as_str() < id);
        let end = self.failed.partition_point(|f| f.migration.as_str() <= id);
        self.failed.get(start..end).unwrap_or_default()
    }

    /// Accounts quarantined by migration `id`.
    pub fn quarantined(&self, id: &str) -> u64 {
        self.failures_of(id).iter().filter(|f| !f.is_migration_failure()).count() as u64
    }

    /// Why migration `id` failed, if it did (halted, or skipped by governance).
    pub fn migration_failure(&self, id: &str) -> Option<&Failure> {
        self.failures_of(id).iter().find(|f| f.is_migration_failure())
    }

    /// Halted: failed, and waiting for governance with its cursor kept.
    pub fn is_halted(&self, id: &str) -> bool {
        self.migration_failure(id).is_some() && self.progress_of(id).is_some()
    }

    /// Skipped by governance: failed, and no longer running.
    pub fn is_skipped(&self, id: &str) -> bool {
        self.migration_failure(id).is_some() && self.progress_of(id).is_none() && !self.has_run(id)
    }

    /// The last block that recorded migration work; the hook does nothing for it or earlier.
    pub fn last_height(&self) -> u64 {
        let a = self.activations.iter().map(|a| a.height);
        let c = self.completed.iter().map(|c| c.height);
        let p = self.in_progress.iter().map(|p| p.cursor.height);
        a.chain(c).chain(p).max().unwrap_or(0)
    }

    // ---- recording (the hook's) ----

    pub(crate) fn record_activation(&mut self, release: u64, height: u64) {
        self.activations.push(Activation { release, height });
    }

    /// Marks `id` completed and no longer running.
    /// The height release `release` was activated at, if it was.
    pub fn activation_of(&self, release: u64) -> Option<u64> {
        self.activations.iter().find(|a| a.release == release).map(|a| a.height)
    }

    /// Records a completion. `height` is the activation height of the migration's release, not
    /// the block it finished in: that block depends on the budget, and the status, like the rest
    /// of the state, must be the same on every node whatever budget it ran with.
    pub(crate) fn record_completed(&mut self, id: &str, checksum: Checksum, height: u64) {
        self.remove_progress(id);
        if !self.has_run(id) {
            self.completed_index.insert(id.to_owned(), self.completed.len());
            self.completed.push(Completed { id: id.to_owned(), checksum, height });
        }
    }

    pub(crate) fn set_progress(&mut self, progress: InProgress) {
        match self.in_progress.binary_search_by(|p| p.id.cmp(&progress.id)) {
            Ok(i) => {
                if let Some(slot) = self.in_progress.get_mut(i) {
                    *slot = progress;
                }
            }
            Err(i) => self.in_progress.insert(i, progress),
        }
    }

    pub(crate) fn remove_progress(&mut self, id: &str) {
        if let Ok(i) = self.in_progress.binary_search_by(|p| p.id.as_str().cmp(id)) {
            self.in_progress.remove(i);
        }
    }

    /// Records a failure, replacing an earlier one of the same (migration, account).
    pub(crate) fn record_failure(&mut self, migration: &str, account: AccountAddress, reason: String) {
        let failure = Failure { migration: migration.to_owned(), account, reason: bounded(reason) };
        match self.failed.binary_search_by(|f| (f.migration.as_str(), f.account).cmp(&(migration, account))) {
            Ok(i) => {
                if let Some(slot) = self.failed.get_mut(i) {
                    *slot = failure;
                }
            }
            Err(i) => self.failed.insert(i, failure),
        }
    }

    pub(crate) fn clear_failure(&mut self, migration: &str, account: AccountAddress) {
        if let Ok(i) = self.failed.binary_search_by(|f| (f.migration.as_str(), f.account).cmp(&(migration, account))) {
            self.failed.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(n: u8) -> AccountAddress {
        let mut a = [0u8; 16];
        a[15] = n;
        AccountAddress::new(a)
    }

    #[test]
    fn round_trips_and_keeps_canonical_order() {
        let mut s = Status::default();
        s.record_activation(2, 10);
        s.record_completed("b", Checksum([1; 32]), 10);
        s.record_completed("a", Checksum([2; 32]), 11);
        s.set_progress(InProgress {
            id: "z".into(),
            cursor: Cursor { height: 12, approved: true, instance: 1, after: Some([7; 16]) },
            migrated: 5,
        });
        s.set_progress(InProgress { id: "c".into(), cursor: Cursor::default(), migrated: 0 });
        s.record_failure("z", account(9), "bad".into());
        s.record_failure("z", account(3), "worse".into());
        s.record_failure("c", account(3), "x".repeat(1000));
        s.record_failure("z", account(9), "replaced".into());
        let back = Status::decode(&s.encode().unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.completed().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(back.in_progress().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c", "z"]);
        let z: Vec<_> = back.failures_of("z").iter().map(|f| (f.account, f.reason.as_str())).collect();
        assert_eq!(z, [(account(3), "worse"), (account(9), "replaced")]);
        assert_eq!(back.failures_of("c")[0].reason.len(), MAX_REASON_BYTES);
        assert!(back.has_run("a") && back.has_run("b") && !back.has_run("c"));
        assert_eq!(back.last_height(), 12);
        assert_eq!(back.quarantined("z"), 2);
    }

    #[test]
    fn untrusted_bytes_give_errors() {
        assert!(matches!(Status::decode(&[1, 2, 3]), Err(StatusError::Decode(_))));
        // One completed migration with a 3-byte checksum.
        let bad = [0u8, 1, 1, b'a', 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(Status::decode(&bad), Err(StatusError::Invalid(m)) if m.contains("32 bytes")));
        // A vector claiming 2^31 - 1 elements does not allocate them.
        let huge = [0xff, 0xff, 0xff, 0xff, 0x07];
        assert!(Status::decode(&huge).is_err());
        // Unsorted failures are refused.
        let s = Status {
            failed: vec![
                Failure { migration: "b".into(), account: account(1), reason: String::new() },
                Failure { migration: "a".into(), account: account(1), reason: String::new() },
            ],
            ..Status::default()
        };
        assert!(matches!(Status::decode(&s.encode().unwrap()), Err(StatusError::Invalid(_))));
    }
}
