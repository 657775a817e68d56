//! `maybe_migrate`: the block-prologue entry point.
//!
//! Called at the start of every block, before transactions, on every node. It must:
//! - cost next to nothing when nothing is due: one height compare against a cached "idle until"
//!   height, no store access, no allocation, no decode;
//! - activate a release at its height (if governance allows) and finish its system-account
//!   migrations in that very block, whatever they cost, since system operations read those
//!   structs before any user can act;
//! - run user-account migrations in catalogue order, in chunks within the block budget, with
//!   the cursor kept in the on-chain status so that a restarted node resumes;
//! - never halt the chain: an account that does not migrate is quarantined (recorded, its old
//!   data intact); a migration that fails too often halts (its chunk rolled back) and waits for
//!   governance; nothing panics and the block goes on;
//! - be deterministic and idempotent: the work of a block depends only on state and the block
//!   height, all of it lands in one atomic batch with the status, and a block that already did
//!   its work (the status records the last block that did) does nothing when called again.

use crate::config::Budget;
use crate::policy::{Decision, HaltedMigration, Policy};
use crate::schedule::{HookConfig, ReleasePlan, Schedule, ScheduleError, Unit};
use crate::staged::Staged;
use crate::status::{Cursor, InProgress, Status, StatusError};
use migrations::catalogue::Catalogue;
use migrations::runner::{ChunkEnd, Meter};
use migrations::store::{Store, StoreError, WriteBatch};
use migrations::{AccountAddress, StructTag};
use upgrade_spec::registry::ReleaseName;

/// Why the hook could not be built or could not do a block's work. A failed call has applied
/// nothing and forgets what it had loaded: the next call reads the status again and redoes the
/// block's work. The block itself goes on: a node must not halt on it, but should alert.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The releases or the configuration do not make a schedule (from [`Hook::new`] only).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The on-chain status does not decode or is inconsistent: nothing runs until it does.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// The storage engine failed: the block's migration work was not applied, and is done again
    /// by the next call.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The recorded history does not match the configured releases and catalogues (an entry
    /// edited, removed or reordered after it ran, a release activated that is not configured).
    /// Nothing runs until the configuration is fixed; blocks go on.
    #[error("migration history does not match the configuration: {}", .0.join("; "))]
    History(Vec<String>),
    /// A key of another address width than the chain's.
    #[error(transparent)]
    Key(#[from] migrations::KeyError),
}

/// What one call did. `Copy` and allocation-free, so the idle path returns it for nothing;
/// the details (which accounts, why) are in the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockReport {
    /// Nothing was due, or the block had already done its work.
    pub idle: bool,
    /// Releases activated in this block.
    pub activated: u32,
    /// A due release was held back by governance.
    pub denied: bool,
    /// System-account resources migrated (not counted against the budget).
    pub system_resources: u64,
    /// User-account resources visited (migrated or failed), against `Budget::max_resources`.
    pub resources: u64,
    /// Bytes read plus written for them, against `Budget::max_bytes`.
    pub bytes: u64,
    /// User-account resources migrated.
    pub migrated: u64,
    /// Accounts quarantined.
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
    pub release: ReleaseName,
    /// (old, new) struct tag of each instance.
    pub versions: Vec<(&'a StructTag, &'a StructTag)>,
}

/// State derived from the status, kept in step with it.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub status: Status,
    /// Releases activated (a prefix of the schedule's).
    pub activated: usize,
    /// Per unit: completed or skipped.
    pub finished: Vec<bool>,
}

/// The prologue hook. Build it once at node start; call [`Hook::maybe_migrate`] every block.
/// `Send + Sync`: a node may keep it behind a lock and call it from its block-execution thread.
#[derive(Debug)]
pub struct Hook {
    pub(crate) schedule: Schedule,
    pub(crate) config: HookConfig,
    pub(crate) policy: Box<dyn Policy>,
    pub(crate) state: Option<State>,
    /// Blocks below this have nothing to do: the whole hot path.
    idle_until: u64,
}

/// Result of running one unit's user part in a block.
enum Outcome {
    Done,
    OutOfBudget,
    Halted,
}

impl Hook {
    /// The hook for `releases` (in activation order) under `config`, asking `policy`.
    pub fn new(releases: Vec<ReleasePlan>, config: HookConfig, policy: Box<dyn Policy>) -> Result<Hook, HookError> {
        let schedule = Schedule::new(releases, &config)?;
        Ok(Hook { schedule, config, policy, state: None, idle_until: 0 })
    }

    /// The budget this node is configured with (the chain's, for releases that state none).
    pub fn budget(&self) -> Budget {
        self.config.chain.budget
    }

    /// The chain this hook runs in.
    pub fn chain(&self) -> &crate::ChainConfig {
        &self.config.chain
    }

    /// The budget a release would record at activation: its plan's, or the chain's.
    fn planned_budget(&self, release: ReleaseName) -> Budget {
        self.schedule
            .releases
            .iter()
            .find(|(r, _, _)| *r == release)
            .and_then(|(_, _, b)| *b)
            .unwrap_or(self.config.chain.budget)
    }

    /// Running migrations whose recorded budget differs from what this node would have
    /// recorded (migration, this node's budget, the chain's): the node follows the chain's, and
    /// an operator should fix the configuration.
    pub fn budget_mismatch(&self) -> Vec<(String, Budget, Budget)> {
        let Some(status) = self.status() else { return Vec::new() };
        self.schedule
            .units
            .iter()
            .filter_map(|u| {
                let recorded = status.progress_of(&u.id)?.cursor.budget;
                let ours = self.planned_budget(u.release);
                (ours != recorded).then(|| (u.id.clone(), ours, recorded))
            })
            .collect()
    }

    /// The status as this hook last read or wrote it (`None` before the first call).
    pub fn status(&self) -> Option<&Status> {
        self.state.as_ref().map(|s| &s.status)
    }

    /// Releases activated, as far as this hook knows.
    pub fn activated_releases(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.activated)
    }

    /// Every configured migration, in the order they run, as an operator sees it.
    pub fn migrations(&self) -> Vec<PlannedMigration<'_>> {
        self.schedule
            .units
            .iter()
            .map(|u| PlannedMigration {
                id: &u.id,
                release: u.release,
                versions: u.instances.iter().map(|(instance, _)| (&instance.old_tag, &instance.new_tag)).collect(),
            })
            .collect()
    }

    /// Reads the on-chain status now and checks it against the schedule (the first
    /// `maybe_migrate` does it otherwise), so that [`Hook::status`] and [`Hook::all_done`] answer
    /// for a node that has not produced a block since it started.
    pub fn load(&mut self, store: &dyn Store) -> Result<(), HookError> {
        self.ensure_loaded(store)
    }

    /// Runs every configured migration once more over `store`, staged and dropped, with the
    /// loop the prologue runs ([`migrations::Runner::migrate_chunk`]) and no budget: the
    /// resources a second pass would migrate, per migration. Empty on a state the migrations
    /// have finished with, whatever their budget and however often they were interrupted. A
    /// versioned migration is run from the first account (any old version left is found); an
    /// in-place one from where the status says it stands (a finished one has nothing left, and
    /// its bytes cannot be told from old ones by looking). Quarantined accounts are not counted:
    /// a second pass fails on them again and changes nothing. Nothing is written.
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
            let mut migrated = 0u64;
            let mut meter = Meter::unlimited();
            for (index, (instance, runner)) in unit.instances.iter().enumerate().skip(cursor.instance as usize) {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                let after = if index == cursor.instance { cursor.after } else { None };
                let mut batch = WriteBatch::new();
                let chunk = runner.migrate_chunk(
                    instance,
                    store,
                    after,
                    &mut meter,
                    // Versioned, every holder of the old version is left over, system accounts too;
                    // in place, the keys the status says are new are not.
                    &mut |a| unit.in_place && self.skipped_by_pass(unit, &cursor, index, a),
                    &mut |_| false,
                    &mut batch,
                )?;
                migrated += chunk.migrated;
            }
            if migrated > 0 {
                changes.push((unit.id.clone(), migrated));
            }
        }
        Ok(changes)
    }

    /// Whether the user pass of `unit` passes over `account` of instance `index`: a system
    /// account (its resources are migrated at activation), or, in place, an account already
    /// migrated ahead of the cursor.
    fn skipped_by_pass(&self, unit: &Unit, cursor: &Cursor, index: u32, account: &AccountAddress) -> bool {
        self.config.chain.is_system(account) || (unit.in_place && cursor.is_done(index, account))
    }

    /// What the configured migrations of releases after `after_release` make of a resource
    /// `tag` holding `bytes`, followed through every version: the final tag and bytes, or
    /// `None` when no such migration reads `tag`. The same transforms the prologue runs, so a
    /// replay of a backup predicts the migrated state byte for byte.
    pub fn replay(
        &self,
        tag: &StructTag,
        bytes: &[u8],
        after_release: ReleaseName,
    ) -> Option<Result<(StructTag, Vec<u8>), String>> {
        let mut current: Option<(StructTag, Vec<u8>)> = None;
        let mut next_unit = 0;
        loop {
            let (t, b) = current.as_ref().map_or((tag, bytes), |(t, b)| (t, b.as_slice()));
            // The next migration in schedule order that reads this tag.
            let step = self.schedule.readers.get(t).into_iter().flatten().find(|&&(u, _)| {
                u >= next_unit && self.schedule.units.get(u).is_some_and(|unit| unit.release > after_release)
            });
            let Some(&(u, i)) = step else { break };
            let Some((unit, (instance, _))) =
                self.schedule.units.get(u).and_then(|unit| unit.instances.get(i).map(|x| (unit, x)))
            else {
                break;
            };
            let mut out = Vec::with_capacity(b.len() + 16);
            if let Err(e) = instance.transform(b, &mut out) {
                return Some(Err(format!("{}: {e}", unit.id)));
            }
            current = Some((instance.new_tag.clone(), out));
            next_unit = u + 1;
        }
        current.map(Ok)
    }

    /// Whether every configured migration has completed or been skipped.
    pub fn all_done(&self) -> bool {
        self.state
            .as_ref()
            .is_some_and(|s| s.activated == self.schedule.releases.len() && s.finished.iter().all(|f| *f))
    }

    /// Runs the migration work due in `block`. Call at the start of every block.
    #[inline]
    pub fn maybe_migrate(&mut self, store: &mut dyn Store, block: u64) -> Result<BlockReport, HookError> {
        if block < self.idle_until {
            return Ok(BlockReport::IDLE);
        }
        self.slow_path(store, block)
    }

    #[cold]
    fn slow_path(&mut self, store: &mut dyn Store, block: u64) -> Result<BlockReport, HookError> {
        let result = self.work(store, block);
        if result.is_err() {
            // What is in memory may be ahead of the store: read it again next time.
            self.state = None;
            self.idle_until = 0;
        }
        result
    }

    /// Loads the status and derives the state, checking history against the schedule.
    pub(crate) fn ensure_loaded(&mut self, store: &dyn Store) -> Result<(), HookError> {
        if self.state.is_some() {
            return Ok(());
        }
        let status = Status::load(store, &self.config.chain)?;
        let mut problems = Vec::new();
        let activations = status.activations();
        if activations.len() > self.schedule.releases.len() {
            problems.push(format!(
                "{} releases activated, {} configured",
                activations.len(),
                self.schedule.releases.len()
            ));
        }
        for (a, (release, _, _)) in activations.iter().zip(&self.schedule.releases) {
            if a.release != u64::from(release.number()) {
                problems.push(format!("release {} was activated where {release} is configured", a.release));
            }
        }
        let catalogues: Vec<&Catalogue> = self.schedule.catalogues.iter().collect();
        let ran: Vec<_> = status.completed().iter().map(|c| (c.id.clone(), c.checksum)).collect();
        problems.extend(Catalogue::verify_history(&catalogues, &ran));
        for p in status.in_progress() {
            if self.schedule.checksum_of(&p.id).is_none() {
                problems.push(format!("migration `{}` is running but is not in the catalogue", p.id));
            }
        }
        if !problems.is_empty() {
            return Err(HookError::History(problems));
        }
        let finished = self.schedule.units.iter().map(|u| status.has_run(&u.id) || status.is_skipped(&u.id)).collect();
        self.state = Some(State { activated: activations.len(), status, finished });
        Ok(())
    }

    /// Sets the hot path's height after the work of `block`.
    fn update_idle(&mut self, block: u64) {
        let Some(state) = &self.state else {
            self.idle_until = 0;
            return;
        };
        let queued = self
            .schedule
            .units
            .iter()
            .zip(&state.finished)
            .any(|(u, finished)| !finished && u.release_index < state.activated);
        self.idle_until = if queued {
            block.saturating_add(1)
        } else {
            match self.schedule.releases.get(state.activated) {
                // A due release held back by governance: ask again next block.
                Some(&(_, height, _)) => height.max(block.saturating_add(1)),
                None => u64::MAX,
            }
        };
    }

    fn work(&mut self, store: &mut dyn Store, block: u64) -> Result<BlockReport, HookError> {
        self.ensure_loaded(store)?;
        let Some(mut state) = self.state.take() else { return Ok(BlockReport::IDLE) };
        if block <= state.status.last_height() {
            // This block (or a later one) already did its work: doing it again would run a
            // second chunk in one block.
            self.state = Some(state);
            self.update_idle(block);
            return Ok(BlockReport::IDLE);
        }
        let before = state.status.clone();
        let mut report = BlockReport::default();
        let batch = {
            let mut staged = Staged::new(&*store);
            let result = self.activate(&mut state, &mut staged, block, &mut report).and_then(|()| {
                self.run_queue(&mut state, &mut staged, block, &mut report)?;
                if state.status != before {
                    let mut status_batch = WriteBatch::new();
                    state.status.write_into(&mut status_batch, &self.config.chain);
                    staged.apply(status_batch)?;
                }
                Ok(())
            });
            result?;
            staged.into_batch()
        };
        report.idle = batch.is_empty() && !report.denied && !report.halted;
        if !batch.is_empty() {
            store.apply(batch)?;
        }
        self.state = Some(state);
        self.update_idle(block);
        Ok(report)
    }

    /// Activates every release due by `block` that governance lets start, and runs its
    /// system-account migrations.
    fn activate(
        &self,
        state: &mut State,
        staged: &mut Staged<'_>,
        block: u64,
        report: &mut BlockReport,
    ) -> Result<(), HookError> {
        while let Some(&(release, height, planned)) = self.schedule.releases.get(state.activated) {
            if block < height {
                break;
            }
            if !self.policy.may_start(release, block) {
                report.denied = true;
                break;
            }
            let budget = planned.unwrap_or(self.config.chain.budget);
            state.status.record_activation(u64::from(release.number()), block);
            let index = state.activated;
            state.activated += 1;
            report.activated += 1;
            // Each user-account migration of the release records, from now on, the budget it
            // runs under: every node follows the recorded value.
            for unit in self.schedule.units.iter().filter(|u| u.release_index == index && u.has_user_part()) {
                if state.status.progress_of(&unit.id).is_none() && !state.status.has_run(&unit.id) {
                    let cursor = Cursor { height: block, budget, ..Cursor::default() };
                    state.status.set_progress(InProgress { id: unit.id.clone(), cursor, migrated: 0 });
                }
            }
            for (i, unit) in self.schedule.units.iter().enumerate() {
                if unit.release_index == index && unit.has_system_part() {
                    self.run_system(state, i, unit, staged, block, report)?;
                }
            }
        }
        Ok(())
    }

    /// Migrates the system accounts' resources of `unit`, all instances or none. A failure
    /// halts the unit (a system account cannot be quarantined): recorded, its data intact.
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
        let batch = {
            let mut inner = Staged::new(&*staged);
            'accounts: for account in self.config.chain.system_accounts.iter() {
                for (instance, runner) in &unit.instances {
                    match runner.migrate_account(instance, &mut inner, *account)? {
                        None => {}
                        Some(Ok(())) => migrated += 1,
                        Some(Err(f)) => {
                            failure = Some(format!("{account}: {}", f.reason));
                            break 'accounts;
                        }
                    }
                }
            }
            inner.into_batch()
        };
        if let Some(reason) = failure {
            let cursor = state.status.progress_of(&unit.id).map(|p| p.cursor.clone()).unwrap_or_default();
            let migrated = state.status.progress_of(&unit.id).map_or(0, |p| p.migrated);
            state.status.record_failure(&unit.id, self.zero(), format!("system account {reason}"));
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
            let at = state.status.activation_of(u64::from(unit.release.number())).unwrap_or(block);
            state.status.record_completed(&unit.id, unit.checksum, at);
            self.order_completed(&mut state.status);
            if let Some(f) = state.finished.get_mut(index) {
                *f = true;
            }
            report.completed += 1;
        }
        Ok(true)
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
            if unit.release_index >= state.activated {
                break;
            }
            if state.status.is_halted(&unit.id) {
                let reason = state.status.migration_failure(&unit.id).map(|f| f.reason.clone()).unwrap_or_default();
                let halted = HaltedMigration {
                    id: &unit.id,
                    release: unit.release,
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
                        state.status.clear_failure(&unit.id, self.zero());
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
                    let at = state.status.activation_of(u64::from(unit.release.number())).unwrap_or(block);
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

    /// The zero address of the chain's width: where a migration's own failure is recorded.
    fn zero(&self) -> AccountAddress {
        AccountAddress::zero(self.config.chain.address_length)
    }

    /// Migrates user accounts of `unit` from its cursor until done, out of budget, or halted,
    /// with the one migration loop ([`migrations::Runner::migrate_chunk`]) under the budget its
    /// release recorded at activation. Writes go to a batch of their own, applied only if the
    /// unit does not halt in this block (a halt rolls back the block's chunk of the unit).
    fn run_users(
        &self,
        state: &mut State,
        unit: &Unit,
        staged: &mut Staged<'_>,
        block: u64,
        report: &mut BlockReport,
    ) -> Result<Outcome, HookError> {
        let previous = state.status.progress_of(&unit.id).cloned();
        let start = previous
            .as_ref()
            .map(|p| p.cursor.clone())
            .unwrap_or_else(|| Cursor { budget: self.planned_budget(unit.release), ..Cursor::default() });
        let budget = start.budget;
        let mut meter = Meter {
            resources: report.resources,
            bytes: report.bytes,
            ..Meter::new(budget.max_resources, budget.max_bytes)
        };
        let mut cursor = Cursor { height: block, ..start.clone() };
        let quarantined_before = state.status.quarantined(&unit.id);
        let max_quarantined = self.config.chain.max_quarantined;
        let mut batch = WriteBatch::new();
        let mut failures: Vec<(AccountAddress, String)> = Vec::new();
        let mut migrated = 0u64;
        let outcome = loop {
            let Some((instance, runner)) = unit.instances.get(cursor.instance as usize) else {
                break Outcome::Done;
            };
            let index = cursor.instance;
            let mut failed = 0u64;
            let chunk = runner.migrate_chunk(
                instance,
                &*staged,
                cursor.after,
                &mut meter,
                &mut |a| self.skipped_by_pass(unit, &cursor, index, a),
                &mut |_| {
                    failed += 1;
                    !cursor.approved && quarantined_before + failures.len() as u64 + failed > max_quarantined
                },
                &mut batch,
            )?;
            migrated += chunk.migrated;
            failures.extend(chunk.failed.into_iter().map(|f| (f.account, f.reason)));
            cursor.after = chunk.cursor;
            match chunk.end {
                ChunkEnd::Exhausted => {
                    cursor.instance += 1;
                    cursor.after = None;
                }
                ChunkEnd::OutOfBudget => break Outcome::OutOfBudget,
                ChunkEnd::Stopped => break Outcome::Halted,
            }
        };
        report.resources = meter.resources;
        report.bytes = meter.bytes;
        if matches!(outcome, Outcome::Halted) {
            // Roll back this block's chunk: nothing applied, the cursor stays where it was.
            let (account, reason) = failures.last().cloned().unwrap_or((self.zero(), String::new()));
            let reason = format!("halted: more than {max_quarantined} accounts failed (last {account}: {reason})");
            state.status.record_failure(&unit.id, self.zero(), reason);
            state.status.set_progress(InProgress {
                id: unit.id.clone(),
                cursor: Cursor { height: block, ..start },
                migrated: previous.map_or(0, |p| p.migrated),
            });
            return Ok(Outcome::Halted);
        }
        staged.apply(batch)?;
        report.migrated += migrated;
        report.quarantined += failures.len() as u64;
        for (account, reason) in failures {
            state.status.record_failure(&unit.id, account, reason);
        }
        if !matches!(outcome, Outcome::Done) {
            cursor.prune_ahead();
            state.status.set_progress(InProgress {
                id: unit.id.clone(),
                cursor,
                migrated: previous.map_or(0, |p| p.migrated) + migrated,
            });
        }
        Ok(outcome)
    }
}
