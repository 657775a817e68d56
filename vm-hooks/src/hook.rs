//! `maybe_migrate`: the block-prologue entry point.
//!
//! Called at the start of every block, before transactions, on every node. It must:
//! - cost next to nothing when nothing is due: one compare of the height against a cached idle
//!   window, no store access, no write, no allocation, no decode;
//! - activate a release at the height the chain scheduled it for (if governance allows) and
//!   finish its system-account migrations in that very block, whatever they cost, since system
//!   operations read those structs before any user can act;
//! - run user-account migrations in catalogue order, in chunks within the budget the chain
//!   recorded, with the cursor kept in the on-chain status so that a restarted node resumes;
//! - never halt the chain: a value that does not migrate is quarantined (recorded, its old data
//!   intact); a migration that fails too often halts (its chunk rolled back) and waits for
//!   governance; nothing panics and the block goes on;
//! - be deterministic and idempotent: the work of a block depends only on state and the block
//!   height, all of it lands in one atomic batch with the status, and a block that already did
//!   its work (the status records the last block that did) does nothing when called again;
//! - never trust its own memory over the store: whenever a call is not for a block after the
//!   last one it saw, or the status in the store is not the one it last wrote (a discarded
//!   block, a restored backup), it reads the status again.

use crate::config::Budget;
use crate::consensus::{self, Divergence};
use crate::error::{ConsensusError, HookError};
use crate::policy::{Decision, HaltedMigration, Policy};
use crate::schedule::{HookConfig, ReleasePlan, Schedule, Unit};
use crate::staged::Staged;
use crate::status::{Cursor, InProgress, Status};
use migrations::catalogue::Catalogue;
use migrations::runner::{ChunkEnd, Meter};
use migrations::store::{Store, WriteBatch};
use migrations::{AccountAddress, StateKey, StructTag};
use upgrade_spec::ReleaseId;

/// Whether `key` is a table item's: it belongs to no account, and is rewritten where it stands.
pub(crate) fn is_table_item(key: &[u8]) -> bool {
    key.first() == Some(&(migrations::KeyKind::TableItem as u8))
}

/// What one call did. `Copy` and allocation-free, so the idle path returns it for nothing;
/// the details (which values, why) are in the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockReport {
    /// Nothing was due, or the block had already done its work.
    pub idle: bool,
    /// Releases activated in this block.
    pub activated: u32,
    /// A due release was held back by governance.
    pub denied: bool,
    /// System-account values migrated (not counted against the budget).
    pub system_resources: u64,
    /// User values visited (migrated or failed), against `Budget::max_resources`.
    pub resources: u64,
    /// Bytes read plus written for them, against `Budget::max_bytes`.
    pub bytes: u64,
    /// User values migrated.
    pub migrated: u64,
    /// Values quarantined.
    pub quarantined: u64,
    /// Migrations completed.
    pub completed: u32,
    /// A migration halted (or stays halted) waiting for governance.
    pub halted: bool,
}

impl BlockReport {
    const IDLE: BlockReport = BlockReport {
        idle: true,
        activated: 0,
        denied: false,
        system_resources: 0,
        resources: 0,
        bytes: 0,
        migrated: 0,
        quarantined: 0,
        completed: 0,
        halted: false,
    };
}

/// One configured migration: what it reads and writes.
#[derive(Debug, Clone)]
pub struct PlannedMigration<'a> {
    /// The catalogue entry's id.
    pub id: &'a str,
    /// The release whose activation starts it.
    pub release: &'a ReleaseId,
    /// The struct read (every instantiation of it in state).
    pub from: String,
    /// The struct written (the same struct, in place).
    pub to: String,
    /// The canonical key prefix of every value it reads (see
    /// [`migrations::state_key::struct_prefix`]): a scan of it counts what is left.
    pub keyspace: &'a [u8],
}

/// State derived from the status, kept in step with it.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub status: Status,
    /// The status's bytes as last read or written (empty when the store had none): a store
    /// whose status differs has moved under the hook. Set with [`State::set_written`].
    stored: Option<Vec<u8>>,
    /// The store's version when its status was last found to be `stored`: while the store
    /// gives that version nothing was written to it, and an access need not compare the status
    /// again ([`Store::version`]). `None` until compared, and again whenever `stored` changes.
    seen: Option<migrations::store::StoreVersion>,
    /// Per unit: completed or skipped.
    pub finished: Vec<bool>,
    /// Where this node's configuration differs from the chain's records.
    pub divergence: Vec<Divergence>,
}

impl State {
    /// A state derived from a status whose bytes in the store are `stored`.
    pub fn new(status: Status, stored: Option<Vec<u8>>, finished: Vec<bool>, divergence: Vec<Divergence>) -> State {
        State { status, stored, seen: None, finished, divergence }
    }

    /// Records the status's bytes just applied to a store, which gives `version` now: the store
    /// holds them (its apply is all or nothing, and nothing else wrote since), so the next access
    /// need not compare them.
    pub fn set_written(&mut self, stored: Vec<u8>, version: Option<migrations::store::StoreVersion>) {
        self.stored = Some(stored);
        self.seen = version;
    }

    /// Whether the release of `unit` is scheduled and active on chain.
    pub fn is_active(&self, unit: &Unit) -> bool {
        self.status.release(u64::from(unit.release.number())).is_some_and(|r| r.is_active())
    }
}

/// The prologue hook. Build it once at node start; call [`Hook::maybe_migrate`] every block.
/// `Send + Sync`: a node may keep it behind a lock and call it from its block-execution thread.
#[derive(Debug)]
pub struct Hook {
    pub(crate) schedule: Schedule,
    pub(crate) config: HookConfig,
    pub(crate) policy: Box<dyn Policy>,
    pub(crate) state: Option<State>,
    /// The blocks with nothing to do: `idle_from..idle_from + idle_len`. Set by the slow path
    /// only, from the block after the last one it worked out: a call for that block or an
    /// earlier one (a block again, after a discard or a restore) reads the store instead of
    /// trusting memory. Blocks within the window write nothing, so a store rolled back to any
    /// of them holds the status this hook holds. One unsigned compare tests both ends.
    idle_from: u64,
    idle_len: u64,
    /// The status's key, encoded once: every access compares the stored status with it.
    status_key: Vec<u8>,
}

/// Result of running one unit's user part in a block.
enum Outcome {
    Done,
    OutOfBudget,
    Halted,
}

impl Hook {
    /// The hook for `releases` (in order of release number) under `config`, asking `policy`.
    pub fn new(releases: Vec<ReleasePlan>, config: HookConfig, policy: Box<dyn Policy>) -> Result<Hook, HookError> {
        let schedule = Schedule::new(releases, &config)?;
        let status_key = config.chain.status_key.encode();
        Ok(Hook { schedule, config, policy, state: None, idle_from: 0, idle_len: 0, status_key })
    }

    /// The chain this hook runs in.
    pub fn chain(&self) -> &crate::ChainConfig {
        &self.config.chain
    }

    /// Where this node's configuration differs from what the chain recorded (the node follows
    /// the chain). Known once the status is loaded ([`Hook::load`] or a call).
    pub fn divergence(&self) -> &[Divergence] {
        self.state.as_ref().map_or(&[], |s| s.divergence.as_slice())
    }

    /// The status as this hook last read or wrote it (`None` before the first call).
    pub fn status(&self) -> Option<&Status> {
        self.state.as_ref().map(|s| &s.status)
    }

    /// Releases activated on chain, as far as this hook knows.
    pub fn activated_releases(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.status.activated())
    }

    /// Every configured migration, in the order they run, as an operator sees it.
    pub fn migrations(&self) -> Vec<PlannedMigration<'_>> {
        self.schedule
            .units
            .iter()
            .map(|u| {
                let e = u.runner.entry();
                PlannedMigration {
                    id: &u.id,
                    release: &u.release,
                    from: format!("{}::{}", e.from, e.struct_name),
                    to: format!("{}::{}", e.to, e.struct_name),
                    keyspace: u.runner.keyspace(),
                }
            })
            .collect()
    }

    /// Reads the on-chain status now and checks it against the schedule (the first
    /// `maybe_migrate` does it otherwise), so that [`Hook::status`], [`Hook::all_done`] and
    /// [`Hook::divergence`] answer for a node that has not produced a block since it started.
    /// Call it too when the state changed under a running hook other than through its calls (a
    /// state sync, a restored snapshot of a later height): the idle path reads no state.
    pub fn load(&mut self, store: &dyn Store) -> Result<(), HookError> {
        self.refresh(store)
    }

    /// Runs every configured migration once more over `store`, staged
    /// and dropped, with the loop the prologue runs ([`migrations::Runner::migrate_chunk`]) and
    /// no budget: the values a second pass would migrate, per migration. Empty on a state the
    /// migrations have finished with, whatever their budget and however often they were
    /// interrupted. A versioned migration is run from the first key (any old version left is
    /// found); an in-place one from where the status says it stands (a finished one has nothing
    /// left, and its bytes cannot be told from old ones by looking). Quarantined values are not
    /// counted: a second pass fails on them again and changes nothing. Nothing is written.
    pub fn second_pass(&self, store: &dyn Store) -> Result<Vec<(String, u64)>, HookError> {
        let status = Status::load(store, &self.config.chain)?;
        let mut changes = Vec::new();
        for unit in &self.schedule.units {
            if unit.in_place && status.has_run(&unit.id) {
                continue;
            }
            let cursor = if unit.in_place {
                status.progress_of(&unit.id).map(|p| p.cursor.clone()).unwrap_or_default()
            } else {
                Cursor::default()
            };
            let mut meter = Meter::unlimited();
            let mut batch = WriteBatch::new();
            let ran = status.has_run(&unit.id);
            let chunk = unit.runner.migrate_chunk(
                store,
                cursor.position.as_deref(),
                &mut meter,
                // Versioned, every holder of the old version is left over, system accounts too;
                // in place (and a table item, rewritten where it stands whatever the remedy),
                // the keys the status says are new are not.
                &mut |key, account| {
                    if is_table_item(key) {
                        ran || cursor.is_done(key)
                    } else {
                        unit.in_place && self.skipped_by_pass(unit, &cursor, key, account)
                    }
                },
                &mut |_| false,
                &mut batch,
            )?;
            if chunk.migrated > 0 {
                changes.push((unit.id.clone(), chunk.migrated));
            }
        }
        Ok(changes)
    }

    /// Whether the user pass of `unit` passes over `key`: a system account's (its values are
    /// migrated at activation), or, in place (and for a table item, which is rewritten where it
    /// stands whatever the remedy), a key already migrated ahead of the cursor.
    pub(crate) fn skipped_by_pass(&self, unit: &Unit, cursor: &Cursor, key: &[u8], account: &AccountAddress) -> bool {
        let table = is_table_item(key);
        (!table && self.config.chain.is_system(account)) || ((unit.in_place || table) && cursor.is_done(key))
    }

    /// What the configured migrations of releases after `after_release` make of a resource
    /// `tag` holding `bytes`, followed through every version: the final tag and bytes, or
    /// `None` when no such migration reads `tag`. The same transforms the prologue runs, so a
    /// replay of a backup predicts the migrated state byte for byte.
    pub fn replay(
        &self,
        tag: &StructTag,
        bytes: &[u8],
        after_release: u32,
    ) -> Option<Result<(StructTag, Vec<u8>), String>> {
        let zero = AccountAddress::zero(self.config.chain.address_length);
        let mut current: Option<(StructTag, Vec<u8>)> = None;
        let mut next_unit = 0;
        loop {
            let (t, b) = current.as_ref().map_or((tag, bytes), |(t, b)| (t, b.as_slice()));
            let step = self.schedule.readers.of_tag(t).into_iter().flatten().copied().find(|&u| {
                u >= next_unit && self.schedule.units.get(u).is_some_and(|unit| unit.release.number() > after_release)
            });
            let Some(u) = step else { break };
            let Some(unit) = self.schedule.units.get(u) else { break };
            let key = migrations::state_key::resource_key(&zero, t);
            let mut cache = migrations::runner::Instances::default();
            let result = unit.runner.resolve(&key, &mut cache).and_then(|(prepared, _)| {
                let prepared = prepared?;
                let new = unit.runner.transform_value(&prepared, b)?;
                Ok((prepared.instance.new_tag.clone(), new))
            });
            match result {
                Ok(next) => current = Some(next),
                Err(e) => return Some(Err(format!("{}: {e}", unit.id))),
            }
            next_unit = u + 1;
        }
        current.map(Ok)
    }

    /// The key prefixes the migrations of every planned release walk, sorted and distinct
    /// ([`migrations::Runner::walks`]): where the blocks' work lies in the state.
    pub fn walked_prefixes(&self) -> Vec<Vec<u8>> {
        let mut all: Vec<Vec<u8>> = self.schedule.units.iter().flat_map(|u| u.runner.walks()).collect();
        all.sort();
        all.dedup();
        all
    }

    /// Whether every planned release is active on chain and every migration has completed or
    /// been skipped.
    pub fn all_done(&self) -> bool {
        self.state.as_ref().is_some_and(|s| {
            self.schedule
                .releases
                .iter()
                .all(|r| s.status.release(u64::from(r.id.number())).is_some_and(|r| r.is_active()))
                && s.finished.iter().all(|f| *f)
        })
    }

    /// Runs the migration work due in `block`. Call at the start of every block.
    #[inline]
    pub fn maybe_migrate(&mut self, store: &mut dyn Store, block: u64) -> Result<BlockReport, HookError> {
        if block.wrapping_sub(self.idle_from) < self.idle_len {
            return Ok(BlockReport::IDLE);
        }
        self.slow_path(store, block)
    }

    #[cold]
    fn slow_path(&mut self, store: &mut dyn Store, block: u64) -> Result<BlockReport, HookError> {
        let result = self.work(store, block);
        if result.is_err() {
            // What is in memory may be ahead of the store: read it again next time.
            self.forget();
        }
        result
    }

    /// Forgets what was loaded: the next call reads the status again.
    pub(crate) fn forget(&mut self) {
        self.state = None;
        self.idle_len = 0;
    }

    /// Reads the status from the store, and reloads everything derived from it when it is not
    /// the one this hook last read or wrote (or none was read yet).
    pub(crate) fn refresh(&mut self, store: &dyn Store) -> Result<(), HookError> {
        // Compared where it is held (no copy): this runs at every access.
        let version = store.version();
        if let Some(state) = &mut self.state {
            if version.is_some() && version == state.seen {
                return Ok(());
            }
            if store.holds(&self.status_key, state.stored.as_deref())? {
                state.seen = version;
                return Ok(());
            }
        }
        let stored = store.get_key(&self.status_key)?;
        self.state = None;
        // The idle window was worked out from the status this hook held, not from this one (the
        // state changed under it: a state sync, a restored snapshot, told with `load`): the next
        // block takes the slow path and works it out again. Kept, it answered idle until the old
        // height (for ever when nothing was scheduled): a release scheduled meanwhile never
        // activated, a catalogue this call refuses was never refused again.
        self.idle_len = 0;
        let status = match &stored {
            Some(bytes) => Status::decode(bytes)?,
            None => Status::default(),
        };
        let state = self.derive(status, stored)?;
        self.install(state);
        Ok(())
    }

    /// Keeps `state` (derived from the status in the store) as what this hook knows, and gives
    /// the chain's value size limit to the transforms of its releases. Cannot fail, so that a
    /// call may install the state of a status it has just written.
    pub(crate) fn install(&mut self, state: State) {
        for unit in &mut self.schedule.units {
            if let Some(record) = state.status.release(u64::from(unit.release.number())) {
                let limit = usize::try_from(record.max_value_size).unwrap_or(usize::MAX);
                if unit.runner.max_value_size() != limit {
                    unit.runner = unit.runner.with_max_value_size(limit);
                }
            }
        }
        self.state = Some(state);
    }

    /// Checks a status against this node's schedule (catalogues, history) and derives what the
    /// hook keeps beside it.
    pub(crate) fn derive(&self, status: Status, stored: Option<Vec<u8>>) -> Result<State, HookError> {
        let divergence = consensus::compare(&self.schedule, &self.config.chain, &status)?;
        let catalogues: Vec<&Catalogue> = self.schedule.releases.iter().map(|r| r.catalogue.as_ref()).collect();
        let ran: Vec<_> = status.completed().iter().map(|c| (c.id.clone(), c.checksum)).collect();
        let mut problems = Catalogue::verify_history(&catalogues, &ran);
        for p in status.in_progress() {
            if self.schedule.checksum_of(&p.id).is_none() {
                problems.push(format!("migration `{}` is running but is not in the catalogue", p.id));
            }
        }
        if !problems.is_empty() {
            return Err(HookError::Consensus(ConsensusError::History(problems)));
        }
        let finished = self.schedule.units.iter().map(|u| status.has_run(&u.id) || status.is_skipped(&u.id)).collect();
        Ok(State::new(status, stored, finished, divergence))
    }

    /// Sets the hot path's window after the work of `block`: the blocks after it with nothing
    /// to do.
    fn update_idle(&mut self, block: u64) {
        let from = block.saturating_add(1);
        self.idle_from = from;
        let Some(state) = &self.state else {
            self.idle_len = 0;
            return;
        };
        let queued =
            self.schedule.units.iter().zip(&state.finished).any(|(u, finished)| !finished && state.is_active(u));
        let until = if queued {
            from
        } else {
            let activated = state.status.activated();
            match state.status.releases().get(activated) {
                // A due release held back by governance: ask again next block.
                Some(record) => record.height.max(from),
                None => u64::MAX,
            }
        };
        self.idle_len = until.saturating_sub(from);
    }

    fn work(&mut self, store: &mut dyn Store, block: u64) -> Result<BlockReport, HookError> {
        self.refresh(&*store)?;
        let Some(mut state) = self.state.take() else { return Ok(BlockReport::IDLE) };
        if block <= state.status.last_height() {
            // This block (or a later one) already did its work: doing it again would run a
            // second chunk in one block.
            self.state = Some(state);
            self.update_idle(block);
            return Ok(BlockReport::IDLE);
        }
        // While a migration runs and nothing holds it back, every block's prologue does work
        // and records its height: a gap means blocks whose prologue never ran on this store,
        // which would leave it a chunk behind its peers.
        let last = state.status.last_height();
        let running = self
            .schedule
            .units
            .iter()
            .zip(&state.finished)
            .find(|(u, finished)| !**finished && state.is_active(u))
            .is_some_and(|(u, _)| !state.status.is_halted(&u.id));
        if running && block > last.saturating_add(1) {
            self.state = Some(state);
            return Err(HookError::Gap { last, block });
        }
        let before = state.status.clone();
        let mut report = BlockReport::default();
        let mut written = None;
        let batch = {
            let mut staged = Staged::new(&*store);
            self.activate(&mut state, &mut staged, block, &mut report)?;
            self.run_queue(&mut state, &mut staged, block, &mut report)?;
            if state.status != before {
                let mut status_batch = WriteBatch::new();
                written = Some(state.status.write_into(&mut status_batch, &self.config.chain));
                staged.apply(status_batch)?;
            }
            staged.into_batch()
        };
        report.idle = batch.is_empty() && !report.denied && !report.halted;
        if !batch.is_empty() {
            store.apply(batch)?;
        }
        if let Some(written) = written {
            state.set_written(written, store.version());
        }
        self.state = Some(state);
        self.update_idle(block);
        Ok(report)
    }

    /// The units of release position `index`, with their positions.
    fn units_of(&self, index: usize) -> impl Iterator<Item = (usize, &Unit)> {
        self.schedule.units.iter().enumerate().filter(move |(_, u)| u.release_index == index)
    }

    /// Activates every release the chain scheduled by `block` that governance lets start, and
    /// runs its system-account migrations.
    fn activate(
        &self,
        state: &mut State,
        staged: &mut Staged<'_>,
        block: u64,
        report: &mut BlockReport,
    ) -> Result<(), HookError> {
        loop {
            let activated = state.status.activated();
            let Some(record) = state.status.releases().get(activated).cloned() else { break };
            if block < record.height {
                break;
            }
            let Some((index, plan)) = self.schedule.release(record.number) else {
                return Err(HookError::Consensus(ConsensusError::MissingRelease {
                    release: record.number,
                    label: record.label.clone(),
                    height: record.height,
                }));
            };
            if !self.policy.may_start(&plan.id, block) {
                report.denied = true;
                break;
            }
            state.status.record_activation(record.number, block);
            report.activated += 1;
            // Each user-account migration of the release gets its record now: from here on its
            // cursor is consensus.
            for (_, unit) in self.units_of(index).filter(|(_, u)| u.has_user_part()) {
                if state.status.progress_of(&unit.id).is_none() && !state.status.has_run(&unit.id) {
                    let cursor = Cursor { height: block, ..Cursor::default() };
                    state.status.set_progress(InProgress { id: unit.id.clone(), cursor, migrated: 0 });
                }
            }
            let system: Vec<usize> =
                self.units_of(index).filter(|(_, u)| u.has_system_part()).map(|(i, _)| i).collect();
            for i in system {
                if let Some(unit) = self.schedule.units.get(i) {
                    self.run_system(state, i, unit, staged, block, report)?;
                }
            }
        }
        Ok(())
    }

    /// Migrates the system accounts' values of `unit`, all instantiations, all or none. A
    /// failure halts the unit (a system account cannot be quarantined): recorded, its data
    /// intact.
    fn run_system(
        &self,
        state: &mut State,
        index: usize,
        unit: &Unit,
        staged: &mut Staged<'_>,
        block: u64,
        report: &mut BlockReport,
    ) -> Result<bool, HookError> {
        let mut failure = None;
        let mut migrated = 0;
        let mut batch = WriteBatch::new();
        'accounts: for account in self.config.chain.system_accounts.iter() {
            for key in unit.runner.keys_of(&*staged, account)? {
                match unit.runner.migrate_key(&*staged, &key, &mut batch)? {
                    None => {}
                    Some(Ok(())) => migrated += 1,
                    Some(Err(f)) => {
                        failure = Some(format!("{}: {}", self.describe(&f.key), f.reason));
                        break 'accounts;
                    }
                }
            }
        }
        if let Some(reason) = failure {
            let cursor = state.status.progress_of(&unit.id).map(|p| p.cursor.clone()).unwrap_or_default();
            let migrated = state.status.progress_of(&unit.id).map_or(0, |p| p.migrated);
            state.status.record_failure(&unit.id, &[], format!("system account {reason}"));
            state.status.set_progress(InProgress {
                id: unit.id.clone(),
                cursor: Cursor { height: block, ..cursor },
                migrated,
            });
            report.halted = true;
            return Ok(false);
        }
        staged.apply(batch)?;
        report.system_resources += migrated;
        if !unit.has_user_part() {
            let at = self.activation_height(state, unit).unwrap_or(block);
            state.status.record_completed(&unit.id, unit.checksum, at);
            self.order_completed(&mut state.status);
            if let Some(f) = state.finished.get_mut(index) {
                *f = true;
            }
            report.completed += 1;
        }
        Ok(true)
    }

    fn activation_height(&self, state: &State, unit: &Unit) -> Option<u64> {
        state.status.release(u64::from(unit.release.number())).map(|r| r.activated_at).filter(|h| *h != 0)
    }

    /// A key as people read it.
    pub(crate) fn describe(&self, key: &[u8]) -> String {
        migrations::state_key::describe(key, self.config.chain.address_length)
    }

    /// Runs queued units in order within the budget.
    fn run_queue(
        &self,
        state: &mut State,
        staged: &mut Staged<'_>,
        block: u64,
        report: &mut BlockReport,
    ) -> Result<(), HookError> {
        for (index, unit) in self.schedule.units.iter().enumerate() {
            if state.finished.get(index).copied().unwrap_or(true) {
                continue;
            }
            if !state.is_active(unit) {
                break;
            }
            if state.status.is_halted(&unit.id) {
                let reason = state.status.migration_failure(&unit.id).map(|f| f.reason.clone()).unwrap_or_default();
                let halted = HaltedMigration {
                    id: &unit.id,
                    release: &unit.release,
                    reason: &reason,
                    quarantined: state.status.quarantined(&unit.id),
                };
                let mut decision = self.policy.on_halted(&halted, block);
                if decision == Decision::Approve && !unit.has_user_part() {
                    decision = Decision::Skip;
                }
                match decision {
                    Decision::Wait => {
                        report.halted = true;
                        return Ok(());
                    }
                    Decision::Skip => {
                        state.status.remove_progress(&unit.id);
                        if let Some(f) = state.finished.get_mut(index) {
                            *f = true;
                        }
                        continue;
                    }
                    Decision::Retry | Decision::Approve => {
                        state.status.clear_failure(&unit.id, &[]);
                        if let Some(p) = state.status.progress_of(&unit.id).cloned() {
                            let approved = p.cursor.approved || decision == Decision::Approve;
                            state.status.set_progress(InProgress {
                                cursor: Cursor { height: block, approved, ..p.cursor.clone() },
                                ..p
                            });
                        }
                        if unit.has_system_part() && !self.run_system(state, index, unit, staged, block, report)? {
                            return Ok(());
                        }
                        if !unit.has_user_part() {
                            continue;
                        }
                    }
                }
            }
            if !unit.has_user_part() {
                // Not halted yet not finished: only a status written by someone else gets here.
                if self.run_system(state, index, unit, staged, block, report)? {
                    continue;
                }
                return Ok(());
            }
            match self.run_users(state, unit, staged, block, report)? {
                Outcome::Done => {
                    let at = self.activation_height(state, unit).unwrap_or(block);
                    state.status.record_completed(&unit.id, unit.checksum, at);
                    self.order_completed(&mut state.status);
                    if let Some(f) = state.finished.get_mut(index) {
                        *f = true;
                    }
                    report.completed += 1;
                }
                Outcome::OutOfBudget => return Ok(()),
                Outcome::Halted => {
                    report.halted = true;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Keeps the status's completed migrations in schedule order.
    fn order_completed(&self, status: &mut Status) {
        status.order_completed(|id| self.schedule.units.iter().position(|u| u.id == id).unwrap_or(usize::MAX));
    }

    /// The budget and quarantine limit the chain recorded for `unit`'s release.
    fn limits(&self, state: &State, unit: &Unit) -> (Budget, u64) {
        state
            .status
            .release(u64::from(unit.release.number()))
            .map_or((self.config.chain.budget, self.config.chain.max_quarantined), |r| (r.budget, r.max_quarantined))
    }

    /// Migrates user values of `unit` from its cursor until done, out of budget, or halted, with
    /// the one migration loop ([`migrations::Runner::migrate_chunk`]) under the budget its
    /// release recorded. Writes go to a batch of their own, applied only if the unit does not
    /// halt in this block (a halt rolls back the block's chunk of the unit).
    fn run_users(
        &self,
        state: &mut State,
        unit: &Unit,
        staged: &mut Staged<'_>,
        block: u64,
        report: &mut BlockReport,
    ) -> Result<Outcome, HookError> {
        let previous = state.status.progress_of(&unit.id).cloned();
        let start = previous.as_ref().map(|p| p.cursor.clone()).unwrap_or_default();
        let (budget, max_quarantined) = self.limits(state, unit);
        let mut meter = Meter {
            resources: report.resources,
            bytes: report.bytes,
            ..Meter::new(budget.max_resources, budget.max_bytes)
        };
        let mut cursor = Cursor { height: block, ..start.clone() };
        let quarantined_before = state.status.quarantined(&unit.id);
        let mut batch = WriteBatch::new();
        let mut failed = 0u64;
        let chunk = unit.runner.migrate_chunk(
            &*staged,
            cursor.position.as_deref(),
            &mut meter,
            &mut |key, account| self.skipped_by_pass(unit, &cursor, key, account),
            &mut |_| {
                failed += 1;
                !cursor.approved && quarantined_before + failed > max_quarantined
            },
            &mut batch,
        )?;
        report.resources = meter.resources;
        report.bytes = meter.bytes;
        let outcome = match chunk.end {
            ChunkEnd::Exhausted => Outcome::Done,
            ChunkEnd::OutOfBudget => Outcome::OutOfBudget,
            ChunkEnd::Stopped => Outcome::Halted,
        };
        if matches!(outcome, Outcome::Halted) {
            // Roll back this block's chunk: nothing applied, the cursor stays where it was.
            let (key, reason) = chunk.failed.last().map(|f| (f.key.clone(), f.reason.clone())).unwrap_or_default();
            let reason =
                format!("halted: more than {max_quarantined} values failed (last {}: {reason})", self.describe(&key));
            state.status.record_failure(&unit.id, &[], reason);
            state.status.set_progress(InProgress {
                id: unit.id.clone(),
                cursor: Cursor { height: block, ..start },
                migrated: previous.map_or(0, |p| p.migrated),
            });
            return Ok(Outcome::Halted);
        }
        staged.apply(batch)?;
        report.migrated += chunk.migrated;
        report.quarantined += chunk.failed.len() as u64;
        for f in chunk.failed {
            state.status.record_failure(&unit.id, &f.key, f.reason);
        }
        if !matches!(outcome, Outcome::Done) {
            cursor.position = chunk.cursor;
            cursor.prune_ahead();
            state.status.set_progress(InProgress {
                id: unit.id.clone(),
                cursor,
                migrated: previous.map_or(0, |p| p.migrated) + chunk.migrated,
            });
        }
        Ok(outcome)
    }
}

impl Status {
    /// The status held where `chain` keeps it, or an empty one if there is none yet.
    pub fn load(store: &dyn Store, chain: &crate::ChainConfig) -> Result<Status, HookError> {
        match store.get_key(&chain.status_key.encode())? {
            Some(bytes) => Ok(Status::decode(&bytes)?),
            None => Ok(Status::default()),
        }
    }

    /// Adds the write of this status where `chain` keeps it to `batch`, and gives the bytes
    /// written (what a hook compares the stored status with: encoded once).
    pub fn write_into(&self, batch: &mut WriteBatch, chain: &crate::ChainConfig) -> Vec<u8> {
        let bytes = self.encode();
        batch.put_key(chain.status_key.encode(), bytes.clone());
        bytes
    }
}

/// Where the hook's status is kept in a rehearsal: a reserved key, outside every chain's keys.
pub fn reserved_status_key(name: &str) -> StateKey {
    StateKey::Reserved(name.as_bytes().to_vec())
}
