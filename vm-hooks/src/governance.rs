//! Governance: the consensus writes that decide what a release runs with.
//!
//! What a release runs with (its activation height, the work a block may do, its limits, its
//! catalogue's checksums) is recorded in the on-chain status, and every node follows the record
//! whatever its own configuration says. These are the only writes that change it: call them
//! where the chain decides (its genesis, a governance transaction), on every node alike, inside
//! the block that decides; the writes go to `store` with the transaction's other writes. Each
//! either applies whole or is refused with [`HookError::Refused`] and writes nothing: the same
//! decision on every node, since it depends only on the status.

use crate::config::Budget;
use crate::error::{ConsensusError, GovernanceError, HookError};
use crate::hook::Hook;
use crate::status::{ReleaseRecord, Status};
use migrations::store::{Store, WriteBatch};

impl Hook {
    /// The record scheduling release `number` would make with this node's plan (its height,
    /// budget, limits, catalogue checksums and tables): what a proposer puts in the governance
    /// transaction that schedules it, for every node to record with
    /// [`Hook::schedule_record`].
    pub fn proposal(&self, number: u32) -> Result<ReleaseRecord, HookError> {
        self.plan_record(number)
    }

    /// Schedules the release `record` describes, as the governance transaction carries it:
    /// every node records exactly its height, budget and limits, whatever its own configuration
    /// says, so that all write the same status. A node whose plan of the release has other
    /// catalogue entries or tables (or none) cannot follow it: it refuses
    /// ([`ConsensusError::Catalogue`], [`crate::Fault::Node`]) and writes nothing. Refused for
    /// everyone ([`GovernanceError`]) when the chain already scheduled the release.
    pub fn schedule_record(&mut self, store: &mut dyn Store, record: ReleaseRecord) -> Result<(), HookError> {
        let number = u32::try_from(record.number).map_err(|_| {
            HookError::Consensus(ConsensusError::MissingRelease {
                release: record.number,
                label: record.label.clone(),
                height: record.height,
            })
        })?;
        let ours = self.plan_record(number)?;
        let mut problems = crate::consensus::entry_problems(&record.entries, &ours.entries);
        if record.tables != ours.tables {
            problems.push(format!(
                "its tables have checksum {} in the transaction, {} here: this node would rewrite other tables",
                record.tables, ours.tables
            ));
        }
        if !problems.is_empty() {
            return Err(HookError::Consensus(ConsensusError::Catalogue {
                release: record.number,
                label: record.label,
                problems,
            }));
        }
        if record.budget.max_resources == 0 || record.budget.max_bytes == 0 {
            return Err(HookError::Refused(GovernanceError::EmptyBudget(record.budget)));
        }
        let record = ReleaseRecord { activated_at: 0, ..record };
        self.govern(store, |status| status.schedule(record.clone()).map_err(GovernanceError::AlreadyScheduled))
    }

    /// Schedules release `number` of this node's plans on chain at the height its plan gives,
    /// with this node's budget, limits and checksums: for a genesis built once and shared by
    /// every node. A governance transaction every node executes must carry what it records
    /// ([`Hook::proposal`], [`Hook::schedule_record`]), or nodes configured differently would
    /// record different values. Refused when the chain already scheduled that release.
    pub fn schedule(&mut self, store: &mut dyn Store, number: u32) -> Result<(), HookError> {
        let height = self.plan_record(number)?.height;
        self.schedule_at(store, number, height)
    }

    /// Schedules release `number` to activate at block `height` (with this node's values, as
    /// [`Hook::schedule`]), or moves it there if the chain scheduled it and it has not activated
    /// (moving records only the height, the same on every node). A height at or before the
    /// deciding block activates it at the next block.
    pub fn schedule_at(&mut self, store: &mut dyn Store, number: u32, height: u64) -> Result<(), HookError> {
        let record = ReleaseRecord { height, ..self.plan_record(number)? };
        self.govern(store, |status| match status.release(record.number) {
            None => status.schedule(record.clone()).map_err(GovernanceError::AlreadyScheduled),
            Some(r) if r.is_active() => Err(GovernanceError::Active { number: r.number, at: r.activated_at }),
            Some(_) => {
                status.move_release(record.number, height);
                Ok(())
            }
        })
    }

    /// Schedules every planned release the chain has not scheduled yet, each at its plan's
    /// height: what a chain whose releases are known at genesis does in its genesis.
    pub fn schedule_all(&mut self, store: &mut dyn Store) -> Result<(), HookError> {
        self.refresh(&*store)?;
        let numbers: Vec<u32> = self.schedule.releases.iter().map(|r| r.id.number()).collect();
        for number in numbers {
            let scheduled = self.status().is_some_and(|s| s.release(u64::from(number)).is_some());
            if !scheduled {
                self.schedule(store, number)?;
            }
        }
        Ok(())
    }

    /// Removes release `number` from the chain's schedule: it has not activated, and no later
    /// release is scheduled.
    pub fn unschedule(&mut self, store: &mut dyn Store, number: u32) -> Result<(), HookError> {
        let number = u64::from(number);
        self.govern(store, |status| {
            let record = status.release(number).ok_or(GovernanceError::NotScheduled(number))?;
            if record.is_active() {
                return Err(GovernanceError::Active { number, at: record.activated_at });
            }
            if let Some(later) = status.releases().iter().find(|r| r.number > number) {
                return Err(GovernanceError::LaterScheduled { number, later: later.number });
            }
            status.remove_release(number);
            Ok(())
        })
    }

    /// Sets the work a block may do for release `number`'s user-account migrations, scheduled
    /// or running: every node runs the next block with it, whatever its own configuration says.
    pub fn set_budget(&mut self, store: &mut dyn Store, number: u32, budget: Budget) -> Result<(), HookError> {
        let number = u64::from(number);
        if budget.max_resources == 0 || budget.max_bytes == 0 {
            return Err(HookError::Refused(GovernanceError::EmptyBudget(budget)));
        }
        let ids: Vec<String> = self
            .schedule
            .units
            .iter()
            .filter(|u| u64::from(u.release.number()) == number)
            .map(|u| u.id.clone())
            .collect();
        self.govern(store, |status| {
            let record = status.release(number).ok_or(GovernanceError::NotScheduled(number))?;
            if record.is_active() && ids.iter().all(|id| status.has_run(id) || status.is_skipped(id)) {
                return Err(GovernanceError::Finished(number));
            }
            status.set_release_budget(number, budget);
            Ok(())
        })
    }

    /// The record this node's plan of release `number` makes.
    fn plan_record(&self, number: u32) -> Result<ReleaseRecord, HookError> {
        let plan = self.schedule.releases.iter().find(|r| r.id.number() == number).ok_or(HookError::Consensus(
            ConsensusError::MissingRelease { release: u64::from(number), label: format!("#{number}"), height: 0 },
        ))?;
        Ok(plan.record(&self.config.chain))
    }

    /// Reads the status, applies `change` to a copy, and writes it back if it was accepted.
    ///
    /// Everything that can fail comes before the write: a failed call has applied nothing (the
    /// node retries the transaction, or its block), and a call that wrote returns `Ok`. Reading
    /// the status back after the write, as this did, failed on a store error with the write
    /// applied: a retried `unschedule` would be refused where the peer's succeeded.
    fn govern(
        &mut self,
        store: &mut dyn Store,
        change: impl FnOnce(&mut Status) -> Result<(), GovernanceError>,
    ) -> Result<(), HookError> {
        self.refresh(&*store)?;
        let mut status = self.status().cloned().unwrap_or_default();
        change(&mut status).map_err(HookError::Refused)?;
        let mut batch = WriteBatch::new();
        let encoded = status.write_into(&mut batch, &self.config.chain);
        let state = self.derive(status, Some(encoded))?;
        store.apply(batch)?;
        // What the write changed (a height, a release) is worked out again by the next block.
        self.forget();
        self.install(state);
        Ok(())
    }
}
