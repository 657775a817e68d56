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

use crate::policy::{Decision, HaltedMigration, Policy};
use crate::schedule::{Budget, HookConfig, ReleasePlan, Schedule, ScheduleError, Unit};
use crate::staged::Staged;
use crate::status::{Cursor, InProgress, Status, StatusError};
use migrations::catalogue::Catalogue;
use migrations::store::{Store, StoreError, WriteBatch};
use migrations::StructTag;
use move_core_types::account_address::AccountAddress;
use stdlib::registry::ReleaseName;

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
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
    pub id: &'a str,
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

    pub fn budget(&self) -> Budget {
        self.config.budget
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

    /// Runs every configured migration once more over `store`, staged and dropped: the
    /// resources a second pass would migrate, per migration. Empty on a state the migrations
    /// have finished with, whatever their budget and however often they were interrupted.
    /// Quarantined accounts are not counted: a second pass fails on them again and changes
    /// nothing. Nothing is written.
    pub fn second_pass(&self, store: &dyn Store) -> Result<Vec<(String, u64)>, StoreError> {
        const CHUNK: usize = 10_000;
        let mut changes = Vec::new();
        for unit in &self.schedule.units {
            let mut staged = Staged::new(store);
            let mut migrated = 0u64;
            for (instance, runner) in &unit.instances {
                let mut after = None;
                loop {
                    let report = runner.run_chunk(instance, &mut staged, after, CHUNK)?;
                    migrated += report.migrated;
                    after = report.cursor;
                    if report.done || after.is_none() {
                        break;
                    }
                }
            }
            if migrated > 0 {
                changes.push((unit.id.clone(), migrated));
            }
        }
        Ok(changes)
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
        for _ in 0..=self.schedule.units.len() {
            let (t, b) = current.as_ref().map_or((tag, bytes), |(t, b)| (t, b.as_slice()));
            let Some(&(u, i)) = self.schedule.consumers.get(t) else { break };
            let Some((unit, (instance, _))) =
                self.schedule.units.get(u).and_then(|unit| unit.instances.get(i).map(|x| (unit, x)))
            else {
                break;
            };
            if unit.release <= after_release {
                break;
            }
            let mut out = Vec::with_capacity(b.len() + 16);
            if let Err(e) = instance.transform(b, &mut out) {
                return Some(Err(format!("{}: {e}", unit.id)));
            }
            current = Some((instance.new_tag.clone(), out));
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
        let status = Status::load(store)?;
        let mut problems = Vec::new();
        let activations = status.activations();
        if activations.len() > self.schedule.releases.len() {
            problems.push(format!(
                "{} releases activated, {} configured",
                activations.len(),
                self.schedule.releases.len()
            ));
        }
        for (a, (release, _)) in activations.iter().zip(&self.schedule.releases) {
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
                Some(&(_, height)) => height.max(block.saturating_add(1)),
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
                    state.status.write_into(&mut status_batch)?;
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
        while let Some(&(release, height)) = self.schedule.releases.get(state.activated) {
            if block < height {
                break;
            }
            if !self.policy.may_start(release, block) {
                report.denied = true;
                break;
            }
            state.status.record_activation(u64::from(release.number()), block);
            let index = state.activated;
            state.activated += 1;
            report.activated += 1;
            for (i, unit) in self.schedule.units.iter().enumerate() {
                if unit.release_index == index && unit.has_system_part() {
                    self.run_system(state, i, unit, staged, block, report)?;
                }
            }
        }
        Ok(())
    }

    /// Migrates the system account's resource of `unit`, all instances or none. A failure
    /// halts the unit (0x0 cannot be quarantined): recorded, its data intact.
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
            for (instance, runner) in &unit.instances {
                match runner.migrate_account(instance, &mut inner, AccountAddress::ZERO)? {
                    None => {}
                    Some(Ok(())) => migrated += 1,
                    Some(Err(f)) => {
                        failure = Some(f.reason);
                        break;
                    }
                }
            }
            inner.into_batch()
        };
        if let Some(reason) = failure {
            let cursor = state.status.progress_of(&unit.id).map(|p| p.cursor).unwrap_or_default();
            let migrated = state.status.progress_of(&unit.id).map_or(0, |p| p.migrated);
            state.status.record_failure(&unit.id, AccountAddress::ZERO, format!("system account: {reason}"));
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
                        state.status.clear_failure(&unit.id, AccountAddress::ZERO);
                        if let Some(p) = state.status.progress_of(&unit.id).cloned() {
                            let approved = p.cursor.approved || decision == Decision::Approve;
                            state.status.set_progress(InProgress {
                                cursor: Cursor { height: block, approved, ..p.cursor },
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

    /// Migrates user accounts of `unit` from its cursor until done, out of budget, or halted.
    /// Writes go to a batch of their own, applied only if the unit does not halt in this block
    /// (a halt rolls back the block's chunk of the unit).
    fn run_users(
        &self,
        state: &mut State,
        unit: &Unit,
        staged: &mut Staged<'_>,
        block: u64,
        report: &mut BlockReport,
    ) -> Result<Outcome, HookError> {
        let budget = self.config.budget;
        let previous = state.status.progress_of(&unit.id).cloned();
        let start = previous.as_ref().map(|p| p.cursor).unwrap_or_default();
        let mut cursor = Cursor { height: block, ..start };
        let quarantined_before = state.status.quarantined(&unit.id);
        let mut batch = WriteBatch::new();
        let mut failures: Vec<(AccountAddress, String)> = Vec::new();
        let (mut resources, mut bytes, mut migrated) = (report.resources, report.bytes, 0u64);
        let mut halt = None;
        let outcome = loop {
            let Some((instance, runner)) = unit.instances.get(cursor.instance as usize) else {
                break Outcome::Done;
            };
            let remaining = budget.max_resources.saturating_sub(resources);
            if remaining == 0 {
                break Outcome::OutOfBudget;
            }
            let page = usize::try_from(remaining.min(1024)).unwrap_or(1024);
            let found = staged.scan(&instance.old_tag, cursor.after_account().as_ref(), page)?;
            if found.is_empty() {
                cursor.instance += 1;
                cursor.after = None;
                continue;
            }
            let step = runner.with_signer(|signer| {
                for (account, old) in &found {
                    if *account == AccountAddress::ZERO {
                        // The system account is the system part's (done at activation).
                        cursor.after = Some(account.into_bytes());
                        continue;
                    }
                    let mut new = Vec::with_capacity(old.len() + 16);
                    let result = instance.transform(old, &mut new);
                    let cost = old.len() as u64 + if result.is_ok() { new.len() as u64 } else { 0 };
                    let first = resources == 0 && bytes == 0;
                    if resources >= budget.max_resources || (bytes.saturating_add(cost) > budget.max_bytes && !first) {
                        return Some(Outcome::OutOfBudget);
                    }
                    let written = result.and_then(|()| {
                        signer.put(&mut batch, *account, &instance.new_tag, new).map_err(|e| e.to_string())?;
                        signer.delete(&mut batch, *account, &instance.old_tag).map_err(|e| e.to_string())
                    });
                    resources += 1;
                    bytes = bytes.saturating_add(cost);
                    cursor.after = Some(account.into_bytes());
                    match written {
                        Ok(()) => migrated += 1,
                        Err(reason) => {
                            failures.push((*account, reason));
                            let total = quarantined_before + failures.len() as u64;
                            if !cursor.approved && total > self.config.max_quarantined {
                                return Some(Outcome::Halted);
                            }
                        }
                    }
                }
                None
            });
            match step {
                Some(Outcome::Halted) => {
                    let (account, reason) = failures.last().cloned().unwrap_or((AccountAddress::ZERO, String::new()));
                    halt = Some(format!(
                        "halted: more than {} accounts failed (last {}: {reason})",
                        self.config.max_quarantined,
                        migrations::core_types::address_of(&account)
                    ));
                    break Outcome::Halted;
                }
                Some(other) => break other,
                None => {}
            }
        };
        report.resources = resources;
        report.bytes = bytes;
        if let Some(reason) = halt {
            // Roll back this block's chunk: nothing applied, the cursor stays where it was.
            state.status.record_failure(&unit.id, AccountAddress::ZERO, reason);
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
            state.status.set_progress(InProgress {
                id: unit.id.clone(),
                cursor,
                migrated: previous.map_or(0, |p| p.migrated) + migrated,
            });
        }
        Ok(outcome)
    }
}
