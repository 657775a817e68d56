//! The on-chain migration status: a resource the chain configures ([`crate::ChainConfig`]:
//! `0x1::Migrations::Status` at `0x0` for this project's stdlib).
//!
//! Every node must agree on which migrations ran, where the running one stopped and which
//! accounts failed, and a restarted node must resume from there: so the status lives in state,
//! not in the node's memory, BCS-encoded exactly as the stdlib declares the struct (v1), with
//! addresses of the chain's width:
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
//! When a release activates, each of its user-account migrations gets its `InProgress` record
//! at once, and that record's cursor holds the budget the migration runs under: a consensus
//! parameter, like the height, that every node then reads from the chain rather than from its own
//! configuration. The record goes when the migration completes, so the final state is the same
//! whatever the budget was.
//!
//! Two conventions the struct leaves open:
//! - `InProgress.cursor` is the encoding of [`Cursor`] (the block that last worked on the
//!   migration, whether governance approved quarantining past the halt limit, the instance, the
//!   last account visited, in place the accounts migrated ahead of the cursor on access, and
//!   the budget).
//!   The block height is there so that a restarted node knows which block was the last to do
//!   migration work, and a repeated call for it does nothing.
//! - A `Failure` at the zero address `0x0` is the migration itself failing (halted, or skipped
//!   when it has no `InProgress` record), not an account quarantined: a system account cannot
//!   be quarantined, since system operations read its resources every block.

use crate::config::{Budget, ChainConfig};
use binary_format::AddressLength;
use migrations::catalogue::Checksum;
use migrations::store::{Store, StoreError, WriteBatch};
use migrations::AccountAddress;
use std::collections::BTreeMap;

/// Longest failure reason kept (in bytes): a reason is for people, and the status resource is
/// rewritten every block a migration runs, so its size must stay bounded.
pub const MAX_REASON_BYTES: usize = 256;

/// Why the status could not be read. The status is state: bytes that do not decode mean the
/// state is damaged or was written by something else, and the hook runs nothing until it
/// decodes.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The bytes are not a status of the chain's address width (truncated, trailing bytes, a
    /// bad length, a bool that is not 0 or 1).
    #[error("the migration status does not decode: {0}")]
    Decode(String),
    /// The bytes decode but break the status's rules (not UTF-8, not in canonical order, a
    /// checksum of the wrong size, a migration completed twice).
    #[error("the migration status is inconsistent: {0}")]
    Invalid(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A release activated, and the block it was activated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Activation {
    /// The release's number ([`upgrade_spec::registry::ReleaseName::number`]).
    pub release: u64,
    /// The block whose prologue activated it.
    pub height: u64,
}

/// A migration that ran to the end, with the checksum of the catalogue entry that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The catalogue entry's id.
    pub id: String,
    /// The entry's checksum when it ran: a node whose catalogue differs refuses to run.
    pub checksum: Checksum,
    /// The activation height of its release (not the block it finished in, which depends on
    /// the budget).
    pub height: u64,
}

/// Where a running migration stands (the decoded `InProgress.cursor` bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    /// The last block whose prologue worked on this migration (0: only reads migrated accounts).
    pub height: u64,
    /// Governance approved it: failing accounts are quarantined past the halt limit.
    pub approved: bool,
    /// Which instance of the entry (type arguments) is being migrated.
    pub instance: u32,
    /// The last account visited in that instance; the next chunk starts after it.
    pub after: Option<AccountAddress>,
    /// In place: (instance, account) migrated ahead of the cursor, on access, sorted. The pass
    /// skips them, and drops them as it goes by.
    pub ahead: Vec<(u32, AccountAddress)>,
    /// The work a block may do for this migration, recorded when its release activated.
    pub budget: Budget,
}

impl Cursor {
    /// Whether the resource of `instance` at `account` holds the new layout, for an in-place
    /// migration in progress: behind the cursor in key order, or migrated ahead of it.
    pub fn is_done(&self, instance: u32, account: &AccountAddress) -> bool {
        instance < self.instance
            || (instance == self.instance && self.after.is_some_and(|a| *account <= a))
            || self.ahead.binary_search(&(instance, *account)).is_ok()
    }

    /// Records `account` of `instance` as migrated ahead of the cursor (in place).
    pub fn mark_ahead(&mut self, instance: u32, account: AccountAddress) {
        if let Err(i) = self.ahead.binary_search(&(instance, account)) {
            self.ahead.insert(i, (instance, account));
        }
    }

    /// Drops the records the cursor has passed.
    pub fn prune_ahead(&mut self) {
        let (instance, after) = (self.instance, self.after);
        self.ahead.retain(|(i, a)| *i > instance || (*i == instance && after.is_none_or(|c| *a > c)));
    }
}

/// A migration running (or halted): where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgress {
    /// The catalogue entry's id.
    pub id: String,
    /// Where it stands, and the budget it runs under.
    pub cursor: Cursor,
    /// Accounts migrated so far, by the background pass and on access.
    pub migrated: u64,
}

/// An account whose resource did not migrate (quarantined: its old data is intact), or, at
/// 0x0, the migration itself failing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    /// The catalogue entry's id.
    pub migration: String,
    /// The quarantined account, or `0x0` for the migration's own failure.
    pub account: AccountAddress,
    /// Why, for people, cut to [`MAX_REASON_BYTES`]. Not stable text.
    pub reason: String,
}

impl Failure {
    /// Whether this records the migration failing rather than one account.
    pub fn is_migration_failure(&self) -> bool {
        self.account.is_zero()
    }
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

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    binary_format::write_uleb(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A reader of the status's BCS, bounded by its input.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    width: AddressLength,
}

impl<'a> Reader<'a> {
    fn eof(&self) -> StatusError {
        StatusError::Decode(format!("the bytes end inside a value (at byte {})", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StatusError> {
        let bytes: &'a [u8] = self.bytes;
        let out = self.pos.checked_add(n).and_then(|end| bytes.get(self.pos..end)).ok_or_else(|| self.eof())?;
        self.pos += n;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, StatusError> {
        let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| self.eof())?;
        Ok(u64::from_le_bytes(b))
    }

    fn u32(&mut self) -> Result<u32, StatusError> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| self.eof())?;
        Ok(u32::from_le_bytes(b))
    }

    fn bool(&mut self) -> Result<bool, StatusError> {
        match self.take(1)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(StatusError::Decode(format!("a bool at byte {} is not 0 or 1", self.pos - 1))),
        }
    }

    /// A canonical ULEB128 length.
    fn uleb(&mut self) -> Result<usize, StatusError> {
        let mut value: u64 = 0;
        for i in 0..5 {
            let b = *self.take(1)?.first().ok_or_else(|| self.eof())?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 || value > u64::from(u32::MAX) {
                    return Err(StatusError::Decode(format!("non-canonical length at byte {}", self.pos)));
                }
                return usize::try_from(value).map_err(|_| self.eof());
            }
        }
        Err(StatusError::Decode(format!("length too long at byte {}", self.pos)))
    }

    /// A vector's length, refused when the remaining bytes cannot hold that many elements of
    /// at least `min` bytes each (so a hostile count never allocates).
    fn count(&mut self, min: usize) -> Result<usize, StatusError> {
        let n = self.uleb()?;
        if n.saturating_mul(min.max(1)) > self.bytes.len() - self.pos {
            return Err(self.eof());
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, StatusError> {
        let n = self.uleb()?;
        Ok(self.take(n)?.to_vec())
    }

    fn address(&mut self) -> Result<AccountAddress, StatusError> {
        let bytes = self.take(self.width.bytes())?;
        AccountAddress::new(bytes).map_err(|e| StatusError::Decode(e.to_string()))
    }
}

impl Cursor {
    /// `height: u64, approved: bool, instance: u32, after: Option<address>, ahead:
    /// vector<(u32, address)>, max_resources: u64, max_bytes: u64`, little-endian as BCS,
    /// addresses of the chain's width.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(16 + 33 * (1 + self.ahead.len()));
        w.extend_from_slice(&self.height.to_le_bytes());
        w.push(u8::from(self.approved));
        w.extend_from_slice(&self.instance.to_le_bytes());
        match &self.after {
            None => w.push(0),
            Some(a) => {
                w.push(1);
                w.extend_from_slice(a.as_bytes());
            }
        }
        binary_format::write_uleb(&mut w, self.ahead.len() as u64);
        for (instance, account) in &self.ahead {
            w.extend_from_slice(&instance.to_le_bytes());
            w.extend_from_slice(account.as_bytes());
        }
        w.extend_from_slice(&self.budget.max_resources.to_le_bytes());
        w.extend_from_slice(&self.budget.max_bytes.to_le_bytes());
        w
    }

    /// Decodes a cursor with addresses of `width`.
    pub fn decode(bytes: &[u8], width: AddressLength) -> Result<Cursor, StatusError> {
        let mut r = Reader { bytes, pos: 0, width };
        let height = r.u64()?;
        let approved = r.bool()?;
        let instance = r.u32()?;
        let after = if r.bool()? { Some(r.address()?) } else { None };
        let mut ahead = Vec::new();
        for _ in 0..r.count(4 + width.bytes())? {
            ahead.push((r.u32()?, r.address()?));
        }
        let budget = Budget { max_resources: r.u64()?, max_bytes: r.u64()? };
        if r.pos != bytes.len() {
            return Err(StatusError::Decode(format!("{} bytes after the cursor", bytes.len() - r.pos)));
        }
        if !ahead.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
            return Err(StatusError::Invalid("accounts migrated ahead are not sorted, or repeat one".into()));
        }
        Ok(Cursor { height, approved, instance, after, ahead, budget })
    }
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
    /// The status held where `chain` keeps it, or an empty one if there is none yet.
    pub fn load(store: &dyn Store, chain: &ChainConfig) -> Result<Status, StatusError> {
        match store.get(&chain.status_account, &chain.status_tag)? {
            Some(bytes) => Status::decode(&bytes, chain.address_length),
            None => Ok(Status::default()),
        }
    }

    /// Decodes stored bytes with addresses of `width`; they are untrusted, so every field is
    /// checked, never assumed, and no count allocates beyond what the bytes can hold.
    pub fn decode(bytes: &[u8], width: AddressLength) -> Result<Status, StatusError> {
        let mut r = Reader { bytes, pos: 0, width };
        let mut status = Status::default();
        for _ in 0..r.count(8 * 2)? {
            let (release, height) = (r.u64()?, r.u64()?);
            status.activations.push(Activation { release, height });
        }
        for _ in 0..r.count(3)? {
            let id = utf8(r.bytes()?, "a completed migration's id")?;
            let checksum: [u8; 32] = r
                .bytes()?
                .try_into()
                .map_err(|_| StatusError::Invalid(format!("the checksum of `{id}` is not 32 bytes")))?;
            let height = r.u64()?;
            if status.completed_index.insert(id.clone(), status.completed.len()).is_some() {
                return Err(StatusError::Invalid(format!("`{id}` is recorded as completed twice")));
            }
            status.completed.push(Completed { id, checksum: Checksum(checksum), height });
        }
        for _ in 0..r.count(10)? {
            let id = utf8(r.bytes()?, "a running migration's id")?;
            let cursor_bytes = r.bytes()?;
            let cursor = Cursor::decode(&cursor_bytes, width)
                .map_err(|e| StatusError::Invalid(format!("the cursor of `{id}` does not decode: {e}")))?;
            let migrated = r.u64()?;
            status.in_progress.push(InProgress { id, cursor, migrated });
        }
        for _ in 0..r.count(width.bytes() + 2)? {
            let account = r.address()?;
            let migration = utf8(r.bytes()?, "a failure's migration id")?;
            let reason = String::from_utf8_lossy(&r.bytes()?).into_owned();
            status.failed.push(Failure { migration, account, reason });
        }
        if r.pos != bytes.len() {
            return Err(StatusError::Decode(format!("{} bytes after the status", bytes.len() - r.pos)));
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

    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(256);
        binary_format::write_uleb(&mut w, self.activations.len() as u64);
        for a in &self.activations {
            w.extend_from_slice(&a.release.to_le_bytes());
            w.extend_from_slice(&a.height.to_le_bytes());
        }
        binary_format::write_uleb(&mut w, self.completed.len() as u64);
        for c in &self.completed {
            write_bytes(&mut w, c.id.as_bytes());
            write_bytes(&mut w, &c.checksum.0);
            w.extend_from_slice(&c.height.to_le_bytes());
        }
        binary_format::write_uleb(&mut w, self.in_progress.len() as u64);
        for p in &self.in_progress {
            write_bytes(&mut w, p.id.as_bytes());
            write_bytes(&mut w, &p.cursor.encode());
            w.extend_from_slice(&p.migrated.to_le_bytes());
        }
        binary_format::write_uleb(&mut w, self.failed.len() as u64);
        for f in &self.failed {
            w.extend_from_slice(f.account.as_bytes());
            write_bytes(&mut w, f.migration.as_bytes());
            write_bytes(&mut w, f.reason.as_bytes());
        }
        w
    }

    /// Adds the write of this status where `chain` keeps it to `batch`.
    pub fn write_into(&self, batch: &mut WriteBatch, chain: &ChainConfig) {
        batch.put(chain.status_account, chain.status_tag.clone(), self.encode());
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

    /// The record of running migration `id`, if it is running (or halted). O(log n).
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

    /// Orders the completed migrations by `rank` (their place in the schedule), keeping the
    /// order of equal ranks. A system-account migration completes in its activation block, before
    /// user migrations that precede it in the catalogue; recording completions in schedule order
    /// keeps the history comparable with the catalogue whatever the order they finished in.
    pub(crate) fn order_completed(&mut self, rank: impl Fn(&str) -> usize) {
        self.completed.sort_by_key(|c| rank(&c.id));
        self.completed_index = self.completed.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
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

    const W: AddressLength = AddressLength::Bytes16;

    fn account(n: u8) -> AccountAddress {
        AccountAddress::from_u64(u64::from(n), W)
    }

    fn budget() -> Budget {
        Budget { max_resources: 7, max_bytes: 99 }
    }

    #[test]
    fn round_trips_and_keeps_canonical_order() {
        for width in AddressLength::ALL {
            let account = |n: u8| AccountAddress::from_u64(u64::from(n), width);
            let mut s = Status::default();
            s.record_activation(2, 10);
            s.record_completed("b", Checksum([1; 32]), 10);
            s.record_completed("a", Checksum([2; 32]), 11);
            let mut cursor = Cursor {
                height: 12,
                approved: true,
                instance: 1,
                after: Some(account(7)),
                ahead: vec![],
                budget: budget(),
            };
            cursor.mark_ahead(1, account(9));
            cursor.mark_ahead(2, account(1));
            cursor.mark_ahead(1, account(8));
            s.set_progress(InProgress { id: "z".into(), cursor, migrated: 5 });
            s.set_progress(InProgress { id: "c".into(), cursor: Cursor::default(), migrated: 0 });
            s.record_failure("z", account(9), "bad".into());
            s.record_failure("z", account(3), "worse".into());
            s.record_failure("c", account(3), "x".repeat(1000));
            s.record_failure("z", account(9), "replaced".into());
            let back = Status::decode(&s.encode(), width).unwrap();
            assert_eq!(back, s);
            assert_eq!(back.completed().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
            assert_eq!(back.in_progress().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c", "z"]);
            let z: Vec<_> = back.failures_of("z").iter().map(|f| (f.account, f.reason.as_str())).collect();
            assert_eq!(z, [(account(3), "worse"), (account(9), "replaced")]);
            assert_eq!(back.failures_of("c")[0].reason.len(), MAX_REASON_BYTES);
            assert!(back.has_run("a") && back.has_run("b") && !back.has_run("c"));
            assert_eq!(back.last_height(), 12);
            assert_eq!(back.quarantined("z"), 2);
            let cursor = &back.progress_of("z").unwrap().cursor;
            assert_eq!(cursor.budget, budget());
            assert!(
                cursor.is_done(0, &account(200)) && cursor.is_done(1, &account(7)) && cursor.is_done(1, &account(9))
            );
            assert!(
                !cursor.is_done(1, &account(10)) && cursor.is_done(2, &account(1)) && !cursor.is_done(2, &account(2))
            );
        }
    }

    #[test]
    fn the_cursor_drops_what_it_passed() {
        let mut c = Cursor { instance: 0, after: Some(account(5)), ..Cursor::default() };
        for (i, n) in [(0, 9), (0, 6), (1, 2)] {
            c.mark_ahead(i, account(n));
        }
        c.after = Some(account(7));
        c.prune_ahead();
        assert_eq!(c.ahead, [(0, account(9)), (1, account(2))]);
        c.instance = 1;
        c.after = None;
        c.prune_ahead();
        assert_eq!(c.ahead, [(1, account(2))]);
    }

    #[test]
    fn untrusted_bytes_give_errors() {
        assert!(matches!(Status::decode(&[1, 2, 3], W), Err(StatusError::Decode(_))));
        // One completed migration with a 3-byte checksum.
        let bad = [0u8, 1, 1, b'a', 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(Status::decode(&bad, W), Err(StatusError::Invalid(m)) if m.contains("32 bytes")));
        // A vector claiming 2^31 - 1 elements does not allocate them.
        let huge = [0xff, 0xff, 0xff, 0xff, 0x07];
        assert!(Status::decode(&huge, W).is_err());
        // Unsorted failures are refused.
        let s = Status {
            failed: vec![
                Failure { migration: "b".into(), account: account(1), reason: String::new() },
                Failure { migration: "a".into(), account: account(1), reason: String::new() },
            ],
            ..Status::default()
        };
        assert!(matches!(Status::decode(&s.encode(), W), Err(StatusError::Invalid(_))));
        // A status of 16-byte addresses read as 32-byte ones: an error, not a misread.
        let mut one = Status::default();
        one.record_failure("m", account(1), "r".into());
        assert!(Status::decode(&one.encode(), AddressLength::Bytes32).is_err());
        // Every truncation of a real status is an error.
        let mut s = Status::default();
        s.record_activation(2, 10);
        s.set_progress(InProgress {
            id: "z".into(),
            cursor: Cursor { after: Some(account(3)), ..Cursor::default() },
            migrated: 1,
        });
        let bytes = s.encode();
        for end in 0..bytes.len() {
            assert!(Status::decode(&bytes[..end], W).is_err(), "{end}");
        }
    }
}
