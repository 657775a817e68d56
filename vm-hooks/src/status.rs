//! The on-chain migration status: a value the chain configures (see
//! [`crate::ChainConfig::status_key`]; `0x1::Migrations::Status` at `0x0` for this project's
//! stdlib).
//!
//! Every node must agree on which releases are scheduled and with what, which migrations ran,
//! where the running one stopped and which values failed, and a restarted node must resume from
//! there: so the status lives in state, not in the node's memory, BCS-encoded exactly as the
//! stdlib declares the struct:
//!
//! ```text
//! struct Status has key
//!   releases:    vector<Release { number: u64, label: vector<u8>, height: u64, activated_at: u64,
//!                                 max_resources: u64, max_bytes: u64, max_quarantined: u64,
//!                                 max_value_size: u64,
//!                                 entries: vector<Planned { id: vector<u8>, checksum: vector<u8> }>,
//!                                 tables: vector<u8> }>
//!   completed:   vector<Completed { id: vector<u8>, checksum: vector<u8>, height: u64 }>
//!   in_progress: vector<InProgress { id: vector<u8>, cursor: vector<u8>, migrated: u64 }>
//!   failed:      vector<Failure { migration: vector<u8>, key: vector<u8>, reason: vector<u8> }>
//! ```
//!
//! **What a release runs with is consensus, so it is here.** A release is *scheduled* on chain
//! (at genesis, or by a governance transaction: [`crate::Hook::schedule`]) with its activation
//! height, the work a block may do, the quarantine and value size limits, and the id and
//! checksum of every catalogue entry; from then on every node follows these values, whatever its
//! own configuration says, and a node whose catalogue does not match them refuses to run rather
//! than compute another state. `activated_at` is the block that activated it (0 until then).
//!
//! Canonical order, so that every node writes the same bytes: `releases` in increasing number,
//! `completed` in the order the migrations ran (what
//! [`migrations::catalogue::Catalogue::verify_history`] checks), `in_progress` sorted by id,
//! `failed` sorted by (migration, key) without duplicates. `has_run` is a lookup in an index
//! built on load, not a scan of `completed`.
//!
//! Two conventions the struct leaves open:
//! - `InProgress.cursor` is the encoding of [`Cursor`]: the block that last worked on the
//!   migration (so that a restarted node knows which block was the last to do migration work,
//!   and a repeated call for it does nothing), whether governance approved quarantining past the
//!   halt limit, the last key visited (a canonical state key in the migration's key space), and,
//!   in place, the keys migrated ahead of the cursor on access.
//! - A `Failure` with an empty key is the migration itself failing (halted, or skipped when it
//!   has no `InProgress` record); any other is one value quarantined (its canonical key). A
//!   system account's value cannot be quarantined, since system operations read it every block.

pub use crate::ahead_keys::AheadKeys;
use crate::config::Budget;
use migrations::catalogue::Checksum;
use std::collections::BTreeMap;

/// Longest failure reason kept (in bytes): a reason is for people, and the status resource is
/// rewritten every block a migration runs, so its size must stay bounded.
pub const MAX_REASON_BYTES: usize = 256;
/// Longest release label or id the status holds (what declarations allow, with room).
pub const MAX_NAME_BYTES: usize = 256;
/// Longest key the status holds (a cursor position, a failure's key).
pub const MAX_KEY_BYTES: usize = 64 << 10;

/// Why the status could not be read. The status is state: bytes that do not decode mean the
/// state is damaged or was written by something else, and the hook runs nothing until it
/// decodes. The same on every node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The bytes are not a status (truncated, trailing bytes, a bad length, a bool that is not 0
    /// or 1).
    #[error("the migration status does not decode: {reason} (at byte {offset})")]
    Decode {
        /// Where in the status's bytes.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The bytes decode but break the status's rules (not UTF-8, not in canonical order, a
    /// checksum of the wrong size, a migration completed twice).
    #[error("the migration status is inconsistent: {0}")]
    Invalid(String),
}

/// A release scheduled on chain: what its migrations run with, recorded once for every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// The release's number (its order; what plans name).
    pub number: u64,
    /// Its label, for people.
    pub label: String,
    /// The block whose prologue activates it.
    pub height: u64,
    /// The block that activated it; 0 until then.
    pub activated_at: u64,
    /// The work a block may do for its user-account migrations.
    pub budget: Budget,
    /// Values a migration may quarantine before it halts.
    pub max_quarantined: u64,
    /// The largest value a migration may write.
    pub max_value_size: u64,
    /// Its catalogue's entries, in the order they run: id and checksum.
    pub entries: Vec<(String, Checksum)>,
    /// The checksum of the tables whose values its migrations rewrite
    /// ([`crate::schedule::tables_checksum`]).
    pub tables: Checksum,
}

impl ReleaseRecord {
    /// Whether it has been activated.
    pub fn is_active(&self) -> bool {
        self.activated_at != 0
    }
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
    /// The last block whose prologue worked on this migration (0: only reads migrated values).
    pub height: u64,
    /// Governance approved it: failing values are quarantined past the halt limit.
    pub approved: bool,
    /// The last key visited in the migration's key space; the next chunk starts after it.
    pub position: Option<Vec<u8>>,
    /// In place: keys migrated ahead of the cursor, on access, sorted. The pass skips them, and
    /// drops them as it goes by.
    pub ahead: AheadKeys,
}

impl Cursor {
    /// Whether the value at `key` holds the new layout, for an in-place migration in progress:
    /// behind the cursor in key order, or migrated ahead of it.
    pub fn is_done(&self, key: &[u8]) -> bool {
        self.position.as_deref().is_some_and(|p| key <= p) || self.ahead.contains(key)
    }

    /// Records `key` as migrated ahead of the cursor (in place).
    pub fn mark_ahead(&mut self, key: &[u8]) {
        self.ahead.insert(key);
    }

    /// Drops the records the cursor has passed.
    pub fn prune_ahead(&mut self) {
        if let Some(p) = &self.position {
            self.ahead.drop_through(p);
        }
    }
}

/// A migration running (or halted): where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgress {
    /// The catalogue entry's id.
    pub id: String,
    /// Where it stands.
    pub cursor: Cursor,
    /// Values migrated so far, by the background pass and on access.
    pub migrated: u64,
}

/// A value whose migration failed (quarantined: its old data is intact), or, with an empty key,
/// the migration itself failing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Failure {
    /// The catalogue entry's id.
    pub migration: String,
    /// The canonical state key of the quarantined value; empty for the migration's own failure.
    pub key: Vec<u8>,
    /// Why, for people, cut to [`MAX_REASON_BYTES`]. Not stable text.
    pub reason: String,
}

impl Failure {
    /// Whether this records the migration failing rather than one value.
    pub fn is_migration_failure(&self) -> bool {
        self.key.is_empty()
    }

    /// The account holding the quarantined value (a resource or group key of a chain of
    /// `width`), if it is one.
    pub fn account(&self, width: binary_format::AddressLength) -> Option<migrations::AccountAddress> {
        match migrations::StateKey::decode(&self.key, width).ok()? {
            migrations::StateKey::Resource { account, .. } | migrations::StateKey::Group { account, .. } => {
                Some(account)
            }
            _ => None,
        }
    }
}

/// The migration status, with an index of completed migrations by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    releases: Vec<ReleaseRecord>,
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

/// The status's BCS read through the shared reader ([`binary_format::bcs::Reader`]: counts
/// checked against the bytes left before anything is allocated, canonical lengths), its errors
/// said as the status's.
struct Reader<'a>(binary_format::bcs::Reader<'a>);

fn decode_error(e: binary_format::bcs::Error) -> StatusError {
    StatusError::Decode { offset: e.offset(), reason: e.message() }
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader(binary_format::bcs::Reader::new(bytes))
    }

    fn u64(&mut self) -> Result<u64, StatusError> {
        self.0.u64("a u64").map_err(decode_error)
    }

    fn bool(&mut self) -> Result<bool, StatusError> {
        self.0.bool("a bool").map_err(decode_error)
    }

    /// A vector's length, refused when the remaining bytes cannot hold that many elements of
    /// at least `min` bytes each (so a hostile count never allocates).
    fn count(&mut self, min: usize) -> Result<usize, StatusError> {
        self.0.count(u64::from(u32::MAX), min.max(1), "a count").map_err(decode_error)
    }

    /// A byte string of at most `max` bytes.
    fn bytes(&mut self, max: usize) -> Result<Vec<u8>, StatusError> {
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        Ok(self.0.prefixed(max, "a byte string").map_err(decode_error)?.to_vec())
    }

    fn text(&mut self, what: &str) -> Result<String, StatusError> {
        String::from_utf8(self.bytes(MAX_NAME_BYTES)?).map_err(|_| StatusError::Invalid(format!("{what} is not UTF-8")))
    }

    fn checksum(&mut self, id: &str) -> Result<Checksum, StatusError> {
        let bytes: [u8; 32] = self
            .bytes(32)?
            .try_into()
            .map_err(|_| StatusError::Invalid(format!("the checksum of `{id}` is not 32 bytes")))?;
        Ok(Checksum(bytes))
    }

    fn end(&self, what: &'static str) -> Result<(), StatusError> {
        self.0.finish(what).map_err(decode_error)
    }
}

impl Cursor {
    /// `height: u64, approved: bool, position: Option<vector<u8>>, ahead: vector<vector<u8>>`.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut w);
        w
    }

    /// The length of [`Cursor::encode`]'s bytes, worked out without encoding.
    pub fn encoded_len(&self) -> usize {
        let bytes = |b: &[u8]| binary_format::uleb_len(b.len() as u64) + b.len();
        8 + 1
            + self.position.as_deref().map_or(1, |p| 1 + bytes(p))
            + binary_format::uleb_len(self.ahead.len() as u64)
            + self.ahead.encoded().len()
    }

    /// Appends [`Cursor::encode`]'s bytes to `w` (a status writes its cursors in place: one
    /// that holds many keys migrated ahead is most of it).
    pub fn encode_into(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(&self.height.to_le_bytes());
        w.push(u8::from(self.approved));
        match &self.position {
            None => w.push(0),
            Some(p) => {
                w.push(1);
                write_bytes(w, p);
            }
        }
        binary_format::write_uleb(w, self.ahead.len() as u64);
        // Held as its own encoding: one copy.
        w.extend_from_slice(self.ahead.encoded());
    }

    /// Decodes a cursor.
    pub fn decode(bytes: &[u8]) -> Result<Cursor, StatusError> {
        let mut r = Reader::new(bytes);
        let height = r.u64()?;
        let approved = r.bool()?;
        let position = if r.bool()? { Some(r.bytes(MAX_KEY_BYTES)?) } else { None };
        let mut ahead = AheadKeys::new();
        for _ in 0..r.count(2)? {
            let key = r.bytes(MAX_KEY_BYTES)?;
            if ahead.last().is_some_and(|last| last >= key.as_slice()) {
                return Err(StatusError::Invalid("keys migrated ahead are not sorted, or repeat one".into()));
            }
            ahead.push_last(&key);
        }
        r.end("cursor")?;
        Ok(Cursor { height, approved, position, ahead })
    }
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn bounded(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

impl Status {
    /// Decodes stored bytes; they are untrusted, so every field is checked, never assumed, and
    /// no count allocates beyond what the bytes can hold.
    pub fn decode(bytes: &[u8]) -> Result<Status, StatusError> {
        let mut r = Reader::new(bytes);
        let mut status = Status::default();
        for _ in 0..r.count(8 * 7 + 2)? {
            let number = r.u64()?;
            let label = r.text("a release label")?;
            let height = r.u64()?;
            let activated_at = r.u64()?;
            let budget = Budget { max_resources: r.u64()?, max_bytes: r.u64()? };
            let max_quarantined = r.u64()?;
            let max_value_size = r.u64()?;
            let mut entries = Vec::new();
            for _ in 0..r.count(2)? {
                let id = r.text("a planned migration's id")?;
                let checksum = r.checksum(&id)?;
                entries.push((id, checksum));
            }
            let tables = r.checksum("the release's tables")?;
            status.releases.push(ReleaseRecord {
                number,
                label,
                height,
                activated_at,
                budget,
                max_quarantined,
                max_value_size,
                entries,
                tables,
            });
        }
        for _ in 0..r.count(3)? {
            let id = r.text("a completed migration's id")?;
            let checksum = r.checksum(&id)?;
            let height = r.u64()?;
            if status.completed_index.insert(id.clone(), status.completed.len()).is_some() {
                return Err(StatusError::Invalid(format!("`{id}` is recorded as completed twice")));
            }
            status.completed.push(Completed { id, checksum, height });
        }
        for _ in 0..r.count(10)? {
            let id = r.text("a running migration's id")?;
            let cursor_bytes = r.bytes(usize::MAX)?;
            let cursor = Cursor::decode(&cursor_bytes)
                .map_err(|e| StatusError::Invalid(format!("the cursor of `{id}` does not decode: {e}")))?;
            let migrated = r.u64()?;
            status.in_progress.push(InProgress { id, cursor, migrated });
        }
        for _ in 0..r.count(3)? {
            let migration = r.text("a failure's migration id")?;
            let key = r.bytes(MAX_KEY_BYTES)?;
            let reason = String::from_utf8_lossy(&r.bytes(usize::MAX)?).into_owned();
            status.failed.push(Failure { migration, key, reason: bounded(reason, MAX_REASON_BYTES) });
        }
        r.end("status")?;
        if !status.releases.windows(2).all(|w| matches!(w, [a, b] if a.number < b.number)) {
            return Err(StatusError::Invalid("releases are not in increasing order, or repeat one".into()));
        }
        let sorted_unique = |ids: Vec<&String>| ids.windows(2).all(|w| matches!(w, [a, b] if a < b));
        if !sorted_unique(status.in_progress.iter().map(|p| &p.id).collect()) {
            return Err(StatusError::Invalid("running migrations are not sorted by id, or repeat one".into()));
        }
        if !status.failed.windows(2).all(|w| matches!(w, [a, b] if (&a.migration, &a.key) < (&b.migration, &b.key))) {
            return Err(StatusError::Invalid("failures are not sorted by (migration, key), or repeat one".into()));
        }
        Ok(status)
    }

    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        // The cursors are most of a large status: sized for them up front.
        // Each cursor's length worked out once (it walks every key marked ahead).
        let lens: Vec<usize> = self.in_progress.iter().map(|p| p.cursor.encoded_len()).collect();
        let cursors: usize = lens.iter().map(|len| 16 + len).sum();
        let mut w = Vec::with_capacity(256 + cursors);
        binary_format::write_uleb(&mut w, self.releases.len() as u64);
        for r in &self.releases {
            w.extend_from_slice(&r.number.to_le_bytes());
            write_bytes(&mut w, r.label.as_bytes());
            for n in [
                r.height,
                r.activated_at,
                r.budget.max_resources,
                r.budget.max_bytes,
                r.max_quarantined,
                r.max_value_size,
            ] {
                w.extend_from_slice(&n.to_le_bytes());
            }
            binary_format::write_uleb(&mut w, r.entries.len() as u64);
            for (id, checksum) in &r.entries {
                write_bytes(&mut w, id.as_bytes());
                write_bytes(&mut w, &checksum.0);
            }
            write_bytes(&mut w, &r.tables.0);
        }
        binary_format::write_uleb(&mut w, self.completed.len() as u64);
        for c in &self.completed {
            write_bytes(&mut w, c.id.as_bytes());
            write_bytes(&mut w, &c.checksum.0);
            w.extend_from_slice(&c.height.to_le_bytes());
        }
        binary_format::write_uleb(&mut w, self.in_progress.len() as u64);
        for (p, len) in self.in_progress.iter().zip(lens) {
            write_bytes(&mut w, p.id.as_bytes());
            // Length first, then the cursor encoded in place (not encoded apart and copied).
            binary_format::write_uleb(&mut w, len as u64);
            p.cursor.encode_into(&mut w);
            w.extend_from_slice(&p.migrated.to_le_bytes());
        }
        binary_format::write_uleb(&mut w, self.failed.len() as u64);
        for f in &self.failed {
            write_bytes(&mut w, f.migration.as_bytes());
            write_bytes(&mut w, &f.key);
            write_bytes(&mut w, f.reason.as_bytes());
        }
        w
    }

    // ---- reading ----

    /// Releases scheduled on chain, in increasing number.
    pub fn releases(&self) -> &[ReleaseRecord] {
        &self.releases
    }

    /// The record of release `number`, if it is scheduled.
    pub fn release(&self, number: u64) -> Option<&ReleaseRecord> {
        self.releases.binary_search_by_key(&number, |r| r.number).ok().and_then(|i| self.releases.get(i))
    }

    /// Releases activated (a prefix of the scheduled ones).
    pub fn activated(&self) -> usize {
        self.releases.iter().take_while(|r| r.is_active()).count()
    }

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

    /// Running migrations, sorted by id.
    pub fn in_progress(&self) -> &[InProgress] {
        &self.in_progress
    }

    /// The record of running migration `id`, if it is running (or halted). O(log n).
    pub fn progress_of(&self, id: &str) -> Option<&InProgress> {
        self.in_progress.binary_search_by(|p| p.id.as_str().cmp(id)).ok().and_then(|i| self.in_progress.get(i))
    }

    /// Every failure, sorted by (migration, key).
    pub fn failures(&self) -> &[Failure] {
        &self.failed
    }

    /// The failures of one migration (its quarantined values, and with an empty key its own).
    pub fn failures_of(&self, id: &str) -> &[Failure] {
        let start = self.failed.partition_point(|f| f.migration.as_str() < id);
        let end = self.failed.partition_point(|f| f.migration.as_str() <= id);
        self.failed.get(start..end).unwrap_or_default()
    }

    /// The failure of migration `id` on the value at `key`, if it is quarantined.
    pub fn failure_at(&self, id: &str, key: &[u8]) -> Option<&Failure> {
        let of = self.failures_of(id);
        of.binary_search_by(|f| f.key.as_slice().cmp(key)).ok().and_then(|i| of.get(i))
    }

    /// Values quarantined by migration `id`.
    pub fn quarantined(&self, id: &str) -> u64 {
        self.failures_of(id).iter().filter(|f| !f.is_migration_failure()).count() as u64
    }

    /// Why migration `id` failed, if it did (halted, or skipped by governance).
    pub fn migration_failure(&self, id: &str) -> Option<&Failure> {
        self.failures_of(id).first().filter(|f| f.is_migration_failure())
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
        let a = self.releases.iter().map(|r| r.activated_at);
        let c = self.completed.iter().map(|c| c.height);
        let p = self.in_progress.iter().map(|p| p.cursor.height);
        a.chain(c).chain(p).max().unwrap_or(0)
    }

    // ---- recording (the hook's) ----

    /// Records a release as scheduled, keeping increasing order; refused (with its number) when
    /// one of that number is already recorded.
    pub(crate) fn schedule(&mut self, record: ReleaseRecord) -> Result<(), u64> {
        match self.releases.binary_search_by_key(&record.number, |r| r.number) {
            Ok(_) => Err(record.number),
            Err(i) => {
                self.releases
                    .insert(i, ReleaseRecord { label: bounded(record.label.clone(), MAX_NAME_BYTES), ..record });
                Ok(())
            }
        }
    }

    /// Moves the inactive release `number` to activate at `height`.
    pub(crate) fn move_release(&mut self, number: u64, height: u64) {
        if let Some(r) = self.releases.iter_mut().find(|r| r.number == number && !r.is_active()) {
            r.height = height;
        }
    }

    /// Removes the inactive release `number` from the schedule.
    pub(crate) fn remove_release(&mut self, number: u64) {
        self.releases.retain(|r| r.number != number || r.is_active());
    }

    /// Sets the budget of release `number`.
    pub(crate) fn set_release_budget(&mut self, number: u64, budget: Budget) {
        if let Some(r) = self.releases.iter_mut().find(|r| r.number == number) {
            r.budget = budget;
        }
    }

    /// Records release `number` as activated in block `height`.
    pub(crate) fn record_activation(&mut self, number: u64, height: u64) {
        if let Ok(i) = self.releases.binary_search_by_key(&number, |r| r.number) {
            if let Some(r) = self.releases.get_mut(i) {
                r.activated_at = height;
            }
        }
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

    /// The progress of migration `id`, begun (at no cursor, nothing migrated) if it has none:
    /// changed where it is held (an access that migrates a value ahead of the cursor would
    /// otherwise copy every key marked ahead so far, twice).
    pub(crate) fn progress_mut(&mut self, id: &str) -> &mut InProgress {
        let i = match self.in_progress.binary_search_by(|p| p.id.as_str().cmp(id)) {
            Ok(i) => i,
            Err(i) => {
                self.in_progress.insert(i, InProgress { id: id.to_owned(), cursor: Cursor::default(), migrated: 0 });
                i
            }
        };
        match self.in_progress.get_mut(i) {
            Some(progress) => progress,
            None => unreachable!("the position was just found or filled"),
        }
    }

    pub(crate) fn remove_progress(&mut self, id: &str) {
        if let Ok(i) = self.in_progress.binary_search_by(|p| p.id.as_str().cmp(id)) {
            self.in_progress.remove(i);
        }
    }

    /// Records a failure, replacing an earlier one of the same (migration, key). An empty key
    /// records the migration's own failure.
    pub(crate) fn record_failure(&mut self, migration: &str, key: &[u8], reason: String) {
        let failure =
            Failure { migration: migration.to_owned(), key: key.to_vec(), reason: bounded(reason, MAX_REASON_BYTES) };
        match self.failed.binary_search_by(|f| (f.migration.as_str(), f.key.as_slice()).cmp(&(migration, key))) {
            Ok(i) => {
                if let Some(slot) = self.failed.get_mut(i) {
                    *slot = failure;
                }
            }
            Err(i) => self.failed.insert(i, failure),
        }
    }

    pub(crate) fn clear_failure(&mut self, migration: &str, key: &[u8]) {
        if let Ok(i) = self.failed.binary_search_by(|f| (f.migration.as_str(), f.key.as_slice()).cmp(&(migration, key)))
        {
            self.failed.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(number: u64) -> ReleaseRecord {
        ReleaseRecord {
            number,
            label: format!("v{number}"),
            height: 10 * number,
            activated_at: 0,
            budget: Budget { max_resources: 7, max_bytes: 99 },
            max_quarantined: 16,
            max_value_size: 1 << 20,
            entries: vec![("a".into(), Checksum([1; 32])), ("b".into(), Checksum([2; 32]))],
            tables: Checksum([3; 32]),
        }
    }

    #[test]
    fn round_trips_and_keeps_canonical_order() {
        let mut s = Status::default();
        s.schedule(record(3)).unwrap();
        s.schedule(record(2)).unwrap();
        assert!(s.schedule(record(2)).is_err());
        s.record_activation(2, 21);
        s.record_completed("b", Checksum([1; 32]), 21);
        s.record_completed("a", Checksum([2; 32]), 21);
        let mut cursor = Cursor { height: 22, approved: true, position: Some(vec![1, 5]), ahead: AheadKeys::new() };
        cursor.mark_ahead(&[1, 9]);
        cursor.mark_ahead(&[1, 6]);
        cursor.mark_ahead(&[1, 9]);
        s.set_progress(InProgress { id: "z".into(), cursor, migrated: 5 });
        s.set_progress(InProgress { id: "c".into(), cursor: Cursor::default(), migrated: 0 });
        s.record_failure("z", &[1, 9], "bad".into());
        s.record_failure("z", &[1, 3], "worse".into());
        s.record_failure("z", &[], "halted".into());
        s.record_failure("c", &[1, 3], "x".repeat(1000));
        s.record_failure("z", &[1, 9], "replaced".into());
        let back = Status::decode(&s.encode()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.releases().iter().map(|r| r.number).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(back.activated(), 1);
        assert_eq!(back.completed().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(back.in_progress().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c", "z"]);
        let z: Vec<_> = back.failures_of("z").iter().map(|f| (f.key.clone(), f.reason.as_str())).collect();
        assert_eq!(z, [(vec![], "halted"), (vec![1, 3], "worse"), (vec![1, 9], "replaced")]);
        assert_eq!(back.failures_of("c")[0].reason.len(), MAX_REASON_BYTES);
        assert!(back.has_run("a") && back.has_run("b") && !back.has_run("c"));
        assert_eq!(back.last_height(), 22);
        assert_eq!(back.quarantined("z"), 2);
        assert!(back.is_halted("z") && back.failure_at("z", &[1, 3]).is_some());
        let cursor = &back.progress_of("z").unwrap().cursor;
        assert!(cursor.is_done(&[1, 4]) && cursor.is_done(&[1, 5]) && cursor.is_done(&[1, 9]));
        assert!(!cursor.is_done(&[1, 7]));
    }

    #[test]
    fn a_cursor_knows_its_length_and_a_status_holds_it_whole() {
        let mut c = Cursor { height: 7, position: Some(vec![1; 200]), ..Cursor::default() };
        for n in 0..300u16 {
            c.mark_ahead(&[vec![2; 40], n.to_be_bytes().to_vec()].concat());
        }
        for cursor in [Cursor::default(), c] {
            let bytes = cursor.encode();
            assert_eq!(cursor.encoded_len(), bytes.len());
            assert_eq!(Cursor::decode(&bytes).unwrap(), cursor);
            let mut s = Status::default();
            s.set_progress(InProgress { id: "m".into(), cursor: cursor.clone(), migrated: 3 });
            assert_eq!(Status::decode(&s.encode()).unwrap().progress_of("m").map(|p| &p.cursor), Some(&cursor));
        }
    }

    #[test]
    fn the_cursor_drops_what_it_passed() {
        let mut c = Cursor { position: Some(vec![5]), ..Cursor::default() };
        for k in [[9u8], [6], [12]] {
            c.mark_ahead(&k);
        }
        c.position = Some(vec![7]);
        c.prune_ahead();
        assert_eq!(c.ahead.iter().collect::<Vec<_>>(), [[9u8].as_slice(), &[12]]);
    }

    #[test]
    fn untrusted_bytes_give_errors() {
        assert!(matches!(Status::decode(&[1, 2, 3]), Err(StatusError::Decode { .. })));
        // One completed migration with a 3-byte checksum.
        let bad = [0u8, 1, 1, b'a', 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(Status::decode(&bad), Err(StatusError::Invalid(m)) if m.contains("32 bytes")));
        // A vector claiming 2^31 - 1 elements does not allocate them.
        let huge = [0xff, 0xff, 0xff, 0xff, 0x07];
        assert!(Status::decode(&huge).is_err());
        // Unsorted failures are refused.
        let s = Status {
            failed: vec![
                Failure { migration: "b".into(), key: vec![1], reason: String::new() },
                Failure { migration: "a".into(), key: vec![1], reason: String::new() },
            ],
            ..Status::default()
        };
        assert!(matches!(Status::decode(&s.encode()), Err(StatusError::Invalid(_))));
        // Every truncation of a real status is an error.
        let mut s = Status::default();
        s.schedule(record(2)).unwrap();
        s.set_progress(InProgress {
            id: "z".into(),
            cursor: Cursor { position: Some(vec![1, 2, 3]), ..Cursor::default() },
            migrated: 1,
        });
        let bytes = s.encode();
        for end in 0..bytes.len() {
            assert!(Status::decode(&bytes[..end]).is_err(), "{end}");
        }
    }
}
