//! A node: a chain store, the prologue hook scheduled from the manifest, and block production.
//!
//! Each block runs the prologue (`maybe_migrate`) and then the block's transactions over one
//! staging overlay, and commits everything they wrote with the block's height in one
//! transaction, as a node commits a block. A node killed at any point resumes after the last
//! whole block: there is no state in which a block's prologue landed and its transactions did
//! not (the hook's status cannot tell such a block apart once a migration has completed, so
//! redoing it would put the next activation a block early).

use crate::chain_store::{save_manifest, ChainStore};
use crate::error::DevnetError;
use crate::limits::MAX_HEIGHT;
use crate::manifest::Manifest;
use crate::transactions::{self, Resources, TransactionCounts};
use migrations::store::Store;
use migrations::StructTag;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use vm_hooks::{AllowAll, BlockReport, Hook, Staged, Status};

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
/// the runbook report them.
#[derive(Debug, Default)]
pub struct Tally {
    pub blocks: u64,
    /// Prologue time of blocks that did migration work.
    pub busy: Vec<Duration>,
    /// Prologue time of every block.
    pub all: Vec<Duration>,
    /// Commit time of the blocks that did migration work.
    pub busy_commits: Vec<Duration>,
    pub user_resources: u64,
    pub system_resources: u64,
    pub migrated: u64,
    pub quarantined: u64,
    pub transactions: TransactionCounts,
}

impl Tally {
    pub fn record(&mut self, b: &BlockOutcome) {
        self.blocks += 1;
        self.all.push(b.prologue);
        let r = &b.report;
        if !r.idle && (r.resources > 0 || r.system_resources > 0 || r.activated > 0 || r.completed > 0) {
            self.busy.push(b.prologue);
            self.busy_commits.push(b.commit);
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
    hook.load(store).map_err(|e| match e {
        vm_hooks::HookError::Store(e) => DevnetError::Store(e),
        other => DevnetError::bad_input(format!("the chain's on-chain status: {other}")),
    })
}

fn hook_for(manifest: &Manifest) -> Result<Hook, DevnetError> {
    let plans = devchain::plans(&manifest.heights())?;
    let config = devchain::config(manifest.budget(), &plans)?;
    Ok(Hook::new(plans, config, Box::new(AllowAll))?)
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
        // The on-chain history must be the one this schedule makes, and no later than the
        // store's height (a snapshot or a manifest edited by hand is caught here).
        let status =
            Status::load(&*store, hook.chain()).map_err(|e| DevnetError::bad_input(format!("on-chain status: {e}")))?;
        for a in status.activations() {
            let scheduled = manifest.activations.iter().find(|s| u64::from(s.release) == a.release);
            if scheduled.map(|s| s.height) != Some(a.height) {
                return Err(DevnetError::bad_input(format!(
                    "the chain activated v{} at height {}, its schedule says {}",
                    a.release,
                    a.height,
                    scheduled.map_or("nothing".to_owned(), |s| format!("height {}", s.height))
                )));
            }
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
        let active: BTreeSet<u64> = status.activations().iter().map(|a| a.release).collect();
        if let Some(s) =
            manifest.activations.iter().find(|s| !active.contains(&u64::from(s.release)) && s.height <= height)
        {
            return Err(DevnetError::bad_input(format!(
                "v{} is scheduled at height {}, but the chain is at height {height} without it: it would \
                 activate late and contradict its schedule",
                s.release, s.height
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
        let status = self.status()?;
        Ok(status.activations().last().map_or(1, |a| u32::try_from(a.release).unwrap_or(u32::MAX)))
    }

    /// Replaces the schedule (the runbook adds an activation) and saves it in the store. The
    /// hook is rebuilt: it reads the on-chain status again and checks it against the new
    /// schedule before anything is saved.
    pub fn replan(&mut self, manifest: Manifest) -> Result<(), DevnetError> {
        manifest.check_settings()?;
        let mut hook = hook_for(&manifest)?;
        load(&mut hook, &*self.store)?;
        save_manifest(&mut *self.store, &manifest)?;
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

    /// Resources each scheduled migration has still to move: every version it reads, back
    /// through the versions before it (a v1 wallet passes through the v2 and v3 migrations).
    pub fn pending_by_migration(&self) -> Result<BTreeMap<String, u64>, DevnetError> {
        let store: &dyn Store = &*self.store;
        let mut counts: BTreeMap<StructTag, u64> = BTreeMap::new();
        let mut pending = BTreeMap::new();
        for m in self.hook.migrations() {
            let mut total = 0u64;
            let mut seen = BTreeSet::new();
            for (old, _) in &m.versions {
                let mut tag = Some(*old);
                while let Some(t) = tag {
                    if !seen.insert(t.clone()) {
                        break;
                    }
                    total += match counts.get(t) {
                        Some(n) => *n,
                        None => {
                            let n = count(store, t)?;
                            counts.insert(t.clone(), n);
                            n
                        }
                    };
                    tag = self.hook.predecessor(t);
                }
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

/// The resources of `tag`, in every account.
fn count(store: &dyn Store, tag: &migrations::StructTag) -> Result<u64, DevnetError> {
    const PAGE: usize = 65_536;
    let mut after = None;
    let mut n = 0u64;
    loop {
        let page = store.scan(tag, after.as_ref(), PAGE)?;
        n += page.len() as u64;
        match page.last() {
            Some((a, _)) if page.len() == PAGE => after = Some(*a),
            _ => return Ok(n),
        }
    }
}
