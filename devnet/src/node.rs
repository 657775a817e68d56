//! A node: a chain store, the prologue hook scheduled from the manifest, and block production.
//!
//! Each block runs the prologue (`maybe_migrate`) and then the block's transactions over one
//! staging overlay, and commits everything they wrote with the block's height in one
//! transaction, as a node commits a block. A node killed at any point resumes after the last
//! whole block: there is no state in which a block's prologue landed and its transactions did
//! not (the hook's status cannot tell such a block apart once a migration has completed, so
//! redoing it would put the next activation a block early).

use crate::chain_store::ChainStore;
use crate::error::DevnetError;
use crate::limits::MAX_HEIGHT;
use crate::manifest::{Manifest, MANIFEST_KEY};
use crate::summary::Durations;
use crate::transactions::{self, Resources, TransactionCounts};
use migrations::store::Store;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use vm_hooks::{AllowAll, BlockReport, GovernanceError, Hook, HookError, Staged, Status};

/// A drill for crash tests and operators: set to a height, the process aborts right after that
/// block's prologue ran, before the block commits.
pub const CRASH_ENV: &str = "DEVNET_CRASH_AFTER_PROLOGUE";

/// The store's node value that lists the quiesced modules.
const QUIESCED_KEY: &str = "quiesced";

/// What producing one block did.
#[derive(Debug, Clone, Copy)]
pub struct BlockOutcome {
    pub height: u64,
    /// Wall time of `maybe_migrate` (its writes staged in the block).
    pub prologue: Duration,
    /// Wall time of the block's commit (the prologue's and the transactions' writes, and the
    /// height, in one store transaction).
    pub commit: Duration,
    pub report: BlockReport,
    pub transactions: TransactionCounts,
}

/// Per-block figures gathered while blocks are produced ([`Node::drive`]); the summary and
/// the runbook report them. Its size does not depend on the number of blocks.
#[derive(Debug, Default)]
pub struct Tally {
    pub blocks: u64,
    /// Prologue time of blocks that did migration work.
    pub busy: Durations,
    /// Prologue time of every block.
    pub all: Durations,
    /// Commit time of the blocks that did migration work.
    pub busy_commits: Durations,
    pub user_resources: u64,
    pub system_resources: u64,
    pub migrated: u64,
    pub quarantined: u64,
    pub transactions: TransactionCounts,
}

impl Tally {
    pub fn record(&mut self, b: &BlockOutcome) {
        self.blocks += 1;
        self.all.record(b.prologue);
        let r = &b.report;
        if !r.idle && (r.resources > 0 || r.system_resources > 0 || r.activated > 0 || r.completed > 0) {
            self.busy.record(b.prologue);
            self.busy_commits.record(b.commit);
        }
        self.user_resources += r.resources;
        self.system_resources += r.system_resources;
        self.migrated += r.migrated;
        self.quarantined += r.quarantined;
        self.transactions.add(b.transactions);
    }
}

pub struct Node {
    store: Box<dyn ChainStore>,
    hook: Hook,
    manifest: Manifest,
    height: u64,
    quiesced: BTreeSet<String>,
    resources: Resources,
    /// A drill: the process aborts right after the prologue of this block has committed.
    crash_after_prologue: Option<u64>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("height", &self.height).field("manifest", &self.manifest).finish_non_exhaustive()
    }
}

/// Loads the on-chain status into `hook`: a status that does not decode or a history that does
/// not match the schedule means the chain (or its manifest) is not what it claims, bad input.
fn load(hook: &mut Hook, store: &dyn ChainStore) -> Result<(), DevnetError> {
    hook.load(store).map_err(status_error)
}

/// A hook error met while reading or governing the on-chain status, as an operator acts on it.
fn status_error(e: HookError) -> DevnetError {
    match e {
        HookError::Store(e) => DevnetError::Store(e),
        HookError::Refused(e) => DevnetError::bad_input(format!("the chain's schedule: {e}")),
        other => DevnetError::bad_input(format!("the chain's on-chain status: {other}")),
    }
}

fn hook_for(manifest: &Manifest) -> Result<Hook, DevnetError> {
    let plans = devchain::plans(&manifest.heights())?;
    let config = devchain::config(manifest.budget())?;
    Ok(Hook::new(plans, config, Box::new(AllowAll))?)
}

/// Makes the chain's on-chain schedule the one `manifest` gives and saves the manifest, in one
/// commit: the devnet's governance. Releases the manifest no longer schedules are unscheduled,
/// the others scheduled or moved to its heights, and every release not yet finished gets its
/// budget. Refused (bad input, nothing written) where the chain cannot follow: a release that
/// has activated cannot move.
pub fn adopt(store: &mut dyn ChainStore, manifest: &Manifest) -> Result<(), DevnetError> {
    let mut hook = hook_for(manifest)?;
    let batch = {
        let mut staged = Staged::new(&*store);
        govern(&mut hook, &mut staged, manifest).map_err(status_error)?;
        staged.into_batch()
    };
    Ok(store.apply_with_node_value(batch, MANIFEST_KEY, &manifest.encode()?)?)
}

fn govern(hook: &mut Hook, store: &mut dyn Store, manifest: &Manifest) -> Result<(), HookError> {
    let status = Status::load(&*store, hook.chain())?;
    for record in status.releases().iter().rev() {
        if !manifest.activations.iter().any(|a| u64::from(a.release) == record.number) {
            hook.unschedule(store, u32::try_from(record.number).unwrap_or(u32::MAX))?;
        }
    }
    for a in &manifest.activations {
        if status.release(u64::from(a.release)).map(|r| r.height) != Some(a.height) {
            hook.schedule_at(store, a.release, a.height)?;
        }
    }
    let status = Status::load(&*store, hook.chain())?;
    for record in status.releases() {
        if record.budget != manifest.budget() {
            match hook.set_budget(store, u32::try_from(record.number).unwrap_or(u32::MAX), manifest.budget()) {
                Ok(()) | Err(HookError::Refused(GovernanceError::Finished(_))) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

impl Node {
    pub fn new(store: Box<dyn ChainStore>, manifest: Manifest) -> Result<Node, DevnetError> {
        // A setting an older devnet stored beyond what a block carries is refused here, where
        // blocks would be produced with it, not where the chain is opened: `status` and
        // `snapshot export` still work, and `devnet run` with the flag changes it back.
        manifest.check_settings().map_err(|e| DevnetError::bad_input(format!("the chain's settings: {e}")))?;
        let mut hook = hook_for(&manifest)?;
        load(&mut hook, &*store)?;
        let height = store.height()?;
        let quiesced = match store.node_value(QUIESCED_KEY)? {
            None => BTreeSet::new(),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| DevnetError::bad_input(format!("the quiesced modules in the store: {e}")))?,
        };
        // The on-chain schedule must be the manifest's, and its history no later than the
        // store's height (a snapshot or a manifest edited by hand is caught here).
        let status =
            Status::load(&*store, hook.chain()).map_err(|e| DevnetError::bad_input(format!("on-chain status: {e}")))?;
        let on_chain: Vec<(u64, u64)> = status.releases().iter().map(|r| (r.number, r.height)).collect();
        let manifest_says: Vec<(u64, u64)> =
            manifest.activations.iter().map(|a| (u64::from(a.release), a.height)).collect();
        if on_chain != manifest_says {
            let show = |s: &[(u64, u64)]| {
                if s.is_empty() {
                    "nothing".to_owned()
                } else {
                    s.iter().map(|(r, h)| format!("v{r} at {h}")).collect::<Vec<_>>().join(", ")
                }
            };
            return Err(DevnetError::bad_input(format!(
                "the on-chain status schedules {}, the chain's manifest says {}",
                show(&on_chain),
                show(&manifest_says)
            )));
        }
        if status.last_height() > height {
            return Err(DevnetError::bad_input(format!(
                "the on-chain status records work at height {}, the chain is at height {height}",
                status.last_height()
            )));
        }
        if height > MAX_HEIGHT {
            return Err(DevnetError::bad_input(format!(
                "the chain is at height {height}, beyond the highest height a chain reaches ({MAX_HEIGHT})"
            )));
        }
        // A release due at or before the chain's height and not active would activate at the
        // next block, late, and the chain would contradict its schedule from then on.
        if let Some(s) = status.releases().iter().find(|r| !r.is_active() && r.height <= height) {
            return Err(DevnetError::bad_input(format!(
                "v{} is scheduled at height {}, but the chain is at height {height} without it: it would \
                 activate late and contradict its schedule",
                s.number, s.height
            )));
        }
        let crash_after_prologue = std::env::var(CRASH_ENV).ok().and_then(|h| h.parse().ok());
        Ok(Node { store, hook, manifest, height, quiesced, resources: Resources::embedded()?, crash_after_prologue })
    }

    pub fn height(&self) -> u64 {
        self.height
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn hook(&self) -> &Hook {
        &self.hook
    }

    pub fn store(&self) -> &dyn ChainStore {
        &*self.store
    }

    /// The store's node values (the runbook keeps its journal there).
    pub fn store_mut(&mut self) -> &mut dyn ChainStore {
        &mut *self.store
    }

    /// The on-chain migration status.
    pub fn status(&self) -> Result<Status, DevnetError> {
        Status::load(&*self.store, self.hook.chain()).map_err(|e| DevnetError::failed(format!("on-chain status: {e}")))
    }

    /// The newest release active on chain (1 before any activation).
    pub fn active_release(&self) -> Result<u32, DevnetError> {
        Ok(active_release(&self.status()?))
    }

    /// Replaces the schedule (the runbook adds an activation): the chain's governance makes it
    /// the on-chain schedule, and the manifest is saved with it ([`adopt`]). The hook is rebuilt
    /// and reads the on-chain status again.
    pub fn replan(&mut self, manifest: Manifest) -> Result<(), DevnetError> {
        manifest.check_settings()?;
        adopt(&mut *self.store, &manifest)?;
        let mut hook = hook_for(&manifest)?;
        load(&mut hook, &*self.store)?;
        self.hook = hook;
        self.manifest = manifest;
        Ok(())
    }

    /// Refuses transactions that touch `modules` from the next block on.
    /// Kept in the store, so that a block redone after a crash refuses what it refused.
    pub fn quiesce(&mut self, modules: BTreeSet<String>) -> Result<(), DevnetError> {
        let bytes = serde_json::to_vec(&modules).map_err(|e| DevnetError::failed(e.to_string()))?;
        self.store.set_node_value(QUIESCED_KEY, Some(&bytes))?;
        self.quiesced = modules;
        Ok(())
    }

    pub fn resume(&mut self) -> Result<(), DevnetError> {
        self.store.set_node_value(QUIESCED_KEY, None)?;
        self.quiesced.clear();
        Ok(())
    }

    /// Produces the next block.
    pub fn produce_block(&mut self) -> Result<BlockOutcome, DevnetError> {
        let height = self.height + 1;
        let (prologue, report, transactions, batch) = {
            let mut staged = Staged::new(&*self.store);
            let started = Instant::now();
            let report = self.hook.maybe_migrate(&mut staged, height)?;
            let prologue = started.elapsed();
            if self.crash_after_prologue == Some(height) {
                std::process::abort();
            }
            let counts = transactions::run_block(
                &mut self.hook,
                &mut staged,
                &self.resources,
                height,
                self.manifest.transfers_per_block,
                self.manifest.accounts,
                &self.quiesced,
            )?;
            (prologue, report, counts, staged.into_batch())
        };
        let started = Instant::now();
        if let Err(e) = self.store.commit_block(batch, height) {
            // The hook believes its work landed: it must read the store again.
            self.hook = hook_for(&self.manifest)?;
            return Err(e.into());
        }
        let commit = started.elapsed();
        self.height = height;
        Ok(BlockOutcome { height, prologue, commit, report, transactions })
    }

    /// Whether every scheduled release is active and every migration finished.
    pub fn upgraded(&self) -> bool {
        self.hook.all_done()
    }

    /// A migration halted waiting for governance, with why.
    pub fn halted(&self) -> Option<String> {
        let status = self.hook.status()?;
        self.hook.migrations().iter().find(|m| status.is_halted(m.id)).map(|m| {
            let reason = status.migration_failure(m.id).map_or_else(String::new, |f| format!(": {}", f.reason));
            format!("migration `{}` halted{reason}", m.id)
        })
    }

    /// Resources each scheduled migration has still to move: every instantiation it reads, and
    /// back through the versioned migrations before it (a v1 wallet passes through the v2 and
    /// v3 migrations).
    pub fn pending_by_migration(&self) -> Result<BTreeMap<String, u64>, DevnetError> {
        let store: &dyn Store = &*self.store;
        let migrations = self.hook.migrations();
        let mut pending: BTreeMap<String, u64> = BTreeMap::new();
        for m in &migrations {
            let mut total = count(store, m.keyspace)?;
            // The migration that writes what this one reads (versioned: another struct).
            if let Some(before) = migrations.iter().find(|b| b.to == m.from && b.from != b.to) {
                total += pending.get(before.id).copied().unwrap_or(0);
            }
            pending.insert(m.id.to_owned(), total);
        }
        Ok(pending)
    }

    /// Produces blocks until every scheduled migration is done and at least `min_blocks` were
    /// produced, or a migration halts, or `max_blocks` were produced; calls `on_block` after
    /// each.
    pub fn drive(
        &mut self,
        min_blocks: u64,
        max_blocks: u64,
        on_block: &mut dyn FnMut(&Node, &BlockOutcome),
    ) -> Result<Tally, DevnetError> {
        let mut tally = Tally::default();
        while tally.blocks < max_blocks && (tally.blocks < min_blocks || !self.upgraded()) {
            if tally.blocks >= min_blocks && self.halted().is_some() {
                break;
            }
            let outcome = self.produce_block()?;
            tally.record(&outcome);
            on_block(self, &outcome);
        }
        Ok(tally)
    }
}

/// The values under `prefix`.
fn count(store: &dyn Store, prefix: &[u8]) -> Result<u64, DevnetError> {
    let mut n = 0u64;
    store.scan_keys(prefix, None, &mut |_, _| {
        n += 1;
        true
    })?;
    Ok(n)
}

/// The newest release active on chain (1 before any activation).
pub fn active_release(status: &Status) -> u32 {
    status.releases().iter().rev().find(|r| r.is_active()).map_or(1, |r| u32::try_from(r.number).unwrap_or(u32::MAX))
}
