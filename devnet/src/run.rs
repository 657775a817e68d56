//! `devnet run`: what a run does, decided from what was asked.
//!
//! A data directory holding a chain is taken up: its accounts are its own, its schedule is
//! extended or moved only as asked, and a chain under an interrupted upgrade is refused.
//! Otherwise a new chain is made (genesis on v1, the releases scheduled at the default heights
//! or the given ones), on disk or in memory. Then blocks, until the scheduled upgrades are done
//! and at least as many as asked; the summary says what they did. The command line turns its
//! arguments into [`RunOptions`] and draws the [`Progress`]; the rest is here.

use crate::chain_store::{
    create_chain, create_persistent, load_status, open_chain, take_up, Cache, ChainStore, MemoryChain,
};
use crate::data_dir::DataDir;
use crate::drill;
use crate::error::DevnetError;
use crate::limits::{MAX_BLOCKS_AHEAD, MAX_HEIGHT};
use crate::manifest::Manifest;
use crate::node::{adopt, BlockOutcome, Node};
use crate::runbook::{clear_orphan_backup, Journal};
use crate::summary::RunSummary;
use crate::view::Publisher;
use devchain::Genesis;
use redb_store::RedbStore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vm_hooks::{state_root, Budget};

const DEFAULT_ACCOUNTS: u32 = 100_000;
const DEFAULT_BUDGET: Budget = Budget { max_resources: 10_000, max_bytes: 8 << 20 };
const DEFAULT_TRANSFERS: u32 = 100;
/// Heights of v2 and v3 on a new chain; releases scheduled on a resumed chain come this many
/// blocks apart.
const DEFAULT_HEIGHTS: [u64; 2] = [10, 20];
const SPACING: u64 = 10;
/// Accounts written per genesis batch: bounds memory whatever the chain's size.
const GENESIS_BATCH: u32 = 20_000;

/// What a run is asked to do. A value left `None` is the resumed chain's own, or the default
/// for a new chain.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The chain's data directory; `None` keeps the chain in memory.
    pub data_dir: Option<PathBuf>,
    /// Accounts at genesis (a resumed chain must have these).
    pub accounts: Option<u32>,
    /// Accounts stored corrupt at genesis (a resumed chain must have these).
    pub corrupt: Option<u32>,
    pub transfers: Option<u32>,
    pub budget: Option<u64>,
    pub budget_bytes: Option<u64>,
    /// The release to upgrade to.
    pub to: Option<u32>,
    /// Activation heights of the releases after the active one, in order.
    pub upgrade_at: Vec<u64>,
    /// Blocks to produce at least, even after the upgrades are done.
    pub blocks: u64,
    /// A height to produce blocks up to at least, even after the upgrades are done.
    pub until_height: Option<u64>,
    /// The store's page cache.
    pub cache: Cache,
}

/// Called as genesis is written and as blocks are produced.
pub trait Progress {
    /// Genesis of `accounts` accounts starts.
    fn genesis(&mut self, _accounts: u32) {}
    /// `accounts` are written so far.
    fn genesis_written(&mut self, _accounts: u32) {}
    fn genesis_done(&mut self) {}
    /// Blocks start, the scheduled migrations having `pending` resources to move.
    fn producing(&mut self, _pending: u64) {}
    fn block(&mut self, _node: &Node, _outcome: &BlockOutcome) {}
    fn done_producing(&mut self) {}
}

/// Runs: takes up the chain in the data directory or makes a new one, produces blocks, and
/// returns the summary. A halted migration is no error here: the summary says so.
pub fn run(options: &RunOptions, progress: &mut dyn Progress) -> Result<RunSummary, DevnetError> {
    let started = Instant::now();
    // The data directory is this process's from before anything is written to it.
    let data = match &options.data_dir {
        Some(dir) => {
            let data = DataDir::lock(dir, true)?;
            data.clear_leftovers()?;
            Some(data)
        }
        None => None,
    };
    let chain = match &data {
        Some(data) => take_up(data, options.cache)?,
        None => None,
    };
    let (mut node, genesis_seconds) = match (&data, chain) {
        (Some(data), Some((store, manifest))) => (resume(options, data.path(), store, manifest)?, None),
        _ => {
            let (node, seconds) = create(options, data.as_ref(), progress)?;
            (node, Some(seconds))
        }
    };
    // `status` reads this while the node holds the store.
    let view = data.as_ref().map(|data| Publisher::new(data.path(), &node));
    let first_height = node.height();
    let pending_before = node.pending_by_migration()?;
    progress.producing(pending_before.values().sum());
    let tally = node.drive(min_blocks(options, first_height), u64::MAX, &mut |node, b| {
        if let Some(view) = &view {
            view.publish(node);
        }
        progress.block(node, b)
    })?;
    progress.done_producing();
    let pending_after = node.pending_by_migration()?;
    let status = node.status()?;
    let mut quarantined: BTreeMap<String, u64> = BTreeMap::new();
    for f in status.failures().iter().filter(|f| !f.is_migration_failure()) {
        *quarantined.entry(f.migration.clone()).or_default() += 1;
    }
    let migrated = pending_before
        .iter()
        .map(|(id, before)| (id.clone(), before.saturating_sub(pending_after.get(id).copied().unwrap_or(0))))
        .collect();
    let prologue_busy = tally.busy.percentiles();
    let commit_busy = tally.busy_commits.percentiles();
    let per_second = |ms: f64| if ms > 0.0 { tally.user_resources as f64 / (ms / 1e3) } else { 0.0 };
    Ok(RunSummary {
        data_dir: options.data_dir.as_ref().map(|dir| dir.display().to_string()),
        accounts: node.manifest().accounts,
        genesis_seconds,
        first_height,
        height: node.height(),
        blocks: tally.blocks,
        activations: node.manifest().activations.clone(),
        active_release: node.active_release()?,
        migrated,
        quarantined,
        prologue_busy,
        prologue_all: tally.all.percentiles(),
        commit_busy,
        resources_per_second: per_second(prologue_busy.total_ms),
        resources_per_second_committed: per_second(prologue_busy.total_ms + commit_busy.total_ms),
        transactions: tally.transactions,
        wall_seconds: started.elapsed().as_secs_f64(),
        halted: node.halted(),
        state_root: state_root(node.store())?.to_string(),
    })
}

/// Blocks to produce at least from `first_height`: one, unless a height was asked for and
/// reached.
fn min_blocks(options: &RunOptions, first_height: u64) -> u64 {
    match options.until_height {
        Some(h) => options.blocks.max(h.saturating_sub(first_height)),
        None => options.blocks.max(1),
    }
}

/// A new chain, in the data directory or in memory; with the seconds its genesis took.
fn create(
    options: &RunOptions,
    data: Option<&DataDir>,
    progress: &mut dyn Progress,
) -> Result<(Node, f64), DevnetError> {
    let manifest = new_manifest(options)?;
    let genesis = Genesis { accounts: manifest.accounts, corrupt: manifest.corrupt };
    let mut write_genesis = |store: &mut dyn ChainStore| -> Result<f64, DevnetError> {
        let t = Instant::now();
        progress.genesis(manifest.accounts);
        genesis.write(store, GENESIS_BATCH, &mut |n| {
            progress.genesis_written(n);
            drill::crash_point("genesis");
        })?;
        progress.genesis_done();
        Ok(t.elapsed().as_secs_f64())
    };
    let (store, seconds): (Box<dyn ChainStore>, f64) = match data {
        None => {
            let mut store = MemoryChain::default();
            let seconds = write_genesis(&mut store)?;
            adopt(&mut store, &manifest)?;
            (Box::new(store), seconds)
        }
        Some(data) => {
            let seconds = create_chain(data, |staging| {
                let mut store = create_persistent(staging, options.cache)?;
                let seconds = write_genesis(&mut store)?;
                // Genesis schedules the releases on chain, and the manifest lands with them.
                adopt(&mut store, &manifest)?;
                Ok(seconds)
            })?;
            (Box::new(open_chain(data.path(), options.cache)?.0), seconds)
        }
    };
    Ok((Node::new(store, manifest)?, seconds))
}

/// Refuses a run that would produce more than [`MAX_BLOCKS_AHEAD`] blocks from height `now`,
/// or go past [`MAX_HEIGHT`].
fn check_reach(options: &RunOptions, manifest: &Manifest, now: u64) -> Result<(), DevnetError> {
    let furthest = [
        now.saturating_add(min_blocks(options, now)),
        options.until_height.unwrap_or(0),
        manifest.activations.last().map_or(0, |a| a.height),
    ];
    match furthest.iter().max() {
        Some(&h) if h.saturating_sub(now) > MAX_BLOCKS_AHEAD => Err(DevnetError::bad_input(format!(
            "height {h} is more than {MAX_BLOCKS_AHEAD} blocks past the chain's height {now}; run in steps"
        ))),
        Some(&h) if h > MAX_HEIGHT => Err(DevnetError::bad_input(format!(
            "height {h} is beyond the highest height a chain reaches ({MAX_HEIGHT})"
        ))),
        _ => Ok(()),
    }
}

/// Schedules releases `active + 1 ..= to`: at `heights` when given (replacing what was
/// scheduled for them), else keeping what is already scheduled and spacing the rest after it.
fn schedule(manifest: &mut Manifest, active: u32, to: u32, heights: &[u64], now: u64) -> Result<(), DevnetError> {
    if heights.len() > to.saturating_sub(active) as usize {
        return Err(DevnetError::bad_input(format!(
            "--upgrade-at gives {} heights for {} releases (v{}..=v{to})",
            heights.len(),
            to.saturating_sub(active),
            active + 1
        )));
    }
    let keep = if heights.is_empty() { to } else { active };
    manifest.activations.retain(|a| a.release <= keep);
    let first = manifest.target().max(active) + 1;
    let mut last = manifest.activations.last().map_or(now, |a| a.height.max(now));
    for (i, release) in (first..=to).enumerate() {
        let height = match heights.get(i) {
            Some(h) => *h,
            None => last.checked_add(SPACING).ok_or_else(|| {
                DevnetError::bad_input(format!("no height after {last} for v{release}: give it with --upgrade-at"))
            })?,
        };
        manifest.schedule(release, height, now)?;
        last = height;
    }
    Ok(())
}

fn budget(options: &RunOptions, base: Budget) -> Result<Budget, DevnetError> {
    let b = Budget {
        max_resources: options.budget.unwrap_or(base.max_resources),
        max_bytes: options.budget_bytes.unwrap_or(base.max_bytes),
    };
    if b.max_resources == 0 || b.max_bytes == 0 {
        return Err(DevnetError::bad_input("--budget and --budget-bytes must be at least 1"));
    }
    Ok(b)
}

fn new_manifest(options: &RunOptions) -> Result<Manifest, DevnetError> {
    let accounts = options.accounts.unwrap_or(DEFAULT_ACCOUNTS);
    if accounts == 0 {
        return Err(DevnetError::bad_input("--accounts must be at least 1"));
    }
    let mut manifest = Manifest::new(
        accounts,
        options.corrupt.unwrap_or(0),
        options.transfers.unwrap_or(DEFAULT_TRANSFERS),
        budget(options, DEFAULT_BUDGET)?,
    );
    manifest.check_new()?;
    let to = options.to.unwrap_or(3);
    let heights: Vec<u64> = if options.upgrade_at.is_empty() {
        DEFAULT_HEIGHTS.iter().copied().take(to.saturating_sub(1) as usize).collect()
    } else {
        options.upgrade_at.clone()
    };
    schedule(&mut manifest, 1, to, &heights, 0)?;
    check_reach(options, &manifest, 0)?;
    Ok(manifest)
}

/// Takes up the chain in `dir`, its schedule and parameters changed as asked.
fn resume(options: &RunOptions, dir: &Path, mut store: RedbStore, mut manifest: Manifest) -> Result<Node, DevnetError> {
    clear_orphan_backup(dir, &mut store)?;
    if let Some(j) = Journal::load(&store)? {
        return Err(DevnetError::bad_input(format!(
            "{}: an upgrade v{} -> v{} was interrupted; `devnet upgrade --to v{}` takes it up again",
            dir.display(),
            j.from,
            j.to,
            j.to
        )));
    }
    let refuse = |flag: &str, theirs: u32, ours: u32| {
        DevnetError::bad_input(format!(
            "{}: holds a chain with {flag} {ours}, not {theirs}; use another --data-dir for a new chain",
            dir.display()
        ))
    };
    if let Some(a) = options.accounts.filter(|a| *a != manifest.accounts) {
        return Err(refuse("--accounts", a, manifest.accounts));
    }
    if let Some(c) = options.corrupt.filter(|c| *c != manifest.corrupt) {
        return Err(refuse("--corrupt", c, manifest.corrupt));
    }
    // The settings asked for replace the stored ones before the chain is run with them: a
    // stored setting this devnet refuses (an older one kept it) is changed back this way.
    let now = store.height()?;
    let status = load_status(&store, dir)?;
    let active = crate::node::active_release(&status);
    let stored = manifest.clone();
    if options.to.is_some() || !options.upgrade_at.is_empty() {
        let to = options.to.unwrap_or(manifest.target().max(active));
        if to < active {
            return Err(DevnetError::bad_input(format!("the chain is already on v{active}; --to v{to} is behind it")));
        }
        schedule(&mut manifest, active, to, &options.upgrade_at, now)?;
    }
    if let Some(t) = options.transfers {
        manifest.transfers_per_block = t;
    }
    if options.budget.is_some() || options.budget_bytes.is_some() {
        let b = budget(options, manifest.budget())?;
        manifest.max_resources_per_block = b.max_resources;
        manifest.max_bytes_per_block = b.max_bytes;
    }
    if let Err(e) = manifest.check_settings() {
        let stored_too = stored.check_settings().err().map(|s| s.to_string()) == Some(e.to_string());
        return Err(if stored_too { DevnetError::bad_input(format!("the chain's settings: {e}")) } else { e });
    }
    check_reach(options, &manifest, now)?;
    if manifest != stored {
        // The chain's governance makes the schedule and budget asked for the on-chain ones.
        adopt(&mut store, &manifest)?;
    }
    Node::new(Box::new(store), manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Activation;

    struct Quiet;

    impl Progress for Quiet {}

    fn heights(manifest: &Manifest) -> Vec<(u32, u64)> {
        manifest.activations.iter().map(|a| (a.release, a.height)).collect()
    }

    #[test]
    fn a_new_chain_gets_the_default_heights_or_the_given_ones() {
        let new = |to: Option<u32>, upgrade_at: &[u64]| {
            new_manifest(&RunOptions { to, upgrade_at: upgrade_at.to_vec(), ..RunOptions::default() })
        };
        let m = new(None, &[]).unwrap();
        assert_eq!(heights(&m), vec![(2, 10), (3, 20)]);
        assert_eq!((m.accounts, m.corrupt, m.transfers_per_block), (DEFAULT_ACCOUNTS, 0, DEFAULT_TRANSFERS));
        assert_eq!(m.budget(), DEFAULT_BUDGET);
        assert_eq!(heights(&new(Some(2), &[]).unwrap()), vec![(2, 10)]);
        assert!(new(Some(1), &[]).unwrap().activations.is_empty());
        assert_eq!(heights(&new(None, &[5, 7]).unwrap()), vec![(2, 5), (3, 7)]);
        assert_eq!(heights(&new(None, &[5]).unwrap()), vec![(2, 5), (3, 15)], "the rest spaced after");
        let e = new(Some(2), &[5, 7]).unwrap_err();
        assert!(e.to_string().contains("--upgrade-at gives 2 heights for 1 releases (v2..=v2)"), "{e}");
        assert!(new(None, &[7, 5]).unwrap_err().to_string().contains("must come after"));
    }

    #[test]
    fn a_new_chain_refuses_impossible_parameters() {
        let bad = |options: RunOptions| new_manifest(&options).unwrap_err();
        assert!(bad(RunOptions { accounts: Some(0), ..RunOptions::default() }).to_string().contains("--accounts"));
        let e = bad(RunOptions { accounts: Some(3), corrupt: Some(4), ..RunOptions::default() });
        assert!(e.to_string().contains("--corrupt 4 is more than the 3 accounts"), "{e}");
        let e = bad(RunOptions { budget: Some(0), ..RunOptions::default() });
        assert!(e.to_string().contains("at least 1"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn a_resumed_schedule_keeps_what_was_scheduled_or_replaces_it_with_the_given_heights() {
        let mut m = Manifest::new(10, 0, 5, DEFAULT_BUDGET);
        m.schedule(2, 10, 0).unwrap();
        // Nothing given: v2 keeps its height, v3 comes SPACING blocks after it.
        let mut kept = m.clone();
        schedule(&mut kept, 1, 3, &[], 5).unwrap();
        assert_eq!(heights(&kept), vec![(2, 10), (3, 20)]);
        // Heights given: they replace what was scheduled after the active release.
        let mut moved = m.clone();
        schedule(&mut moved, 1, 3, &[8, 9], 5).unwrap();
        assert_eq!(heights(&moved), vec![(2, 8), (3, 9)]);
        // v2 active: v3 is spaced from the chain's height when that is later.
        let mut later = m.clone();
        schedule(&mut later, 2, 3, &[], 25).unwrap();
        assert_eq!(heights(&later), vec![(2, 10), (3, 35)]);
        assert!(schedule(&mut m.clone(), 1, 3, &[4], 5).unwrap_err().to_string().contains("in the past"));
        // No room after the last height: the operator must give one.
        let mut high = Manifest { activations: vec![Activation { release: 2, height: u64::MAX - 1 }], ..m };
        let e = schedule(&mut high, 1, 3, &[], 5).unwrap_err();
        assert!(e.to_string().contains("no height after"), "{e}");
    }

    #[test]
    fn a_run_beyond_a_million_blocks_is_refused() {
        let m = Manifest::new(10, 0, 5, DEFAULT_BUDGET);
        let reach = |blocks: u64, until_height: Option<u64>, now: u64| {
            check_reach(&RunOptions { blocks, until_height, ..RunOptions::default() }, &m, now)
        };
        reach(MAX_BLOCKS_AHEAD, None, 0).unwrap();
        reach(MAX_BLOCKS_AHEAD, None, 7).unwrap();
        reach(0, Some(MAX_BLOCKS_AHEAD + 7), 7).unwrap();
        let e = reach(MAX_BLOCKS_AHEAD + 1, None, 0).unwrap_err();
        assert!(e.to_string().contains("run in steps"), "{e}");
        reach(0, Some(MAX_BLOCKS_AHEAD + 8), 7).unwrap_err();
        let mut far = m.clone();
        far.schedule(2, MAX_BLOCKS_AHEAD + 1, 0).unwrap();
        check_reach(&RunOptions::default(), &far, 0).unwrap_err();
    }

    #[test]
    fn at_least_one_block_unless_the_height_asked_for_is_reached() {
        let options =
            |blocks: u64, until_height: Option<u64>| RunOptions { blocks, until_height, ..RunOptions::default() };
        assert_eq!(min_blocks(&options(0, None), 5), 1);
        assert_eq!(min_blocks(&options(3, None), 5), 3);
        assert_eq!(min_blocks(&options(0, Some(5)), 5), 0);
        assert_eq!(min_blocks(&options(0, Some(9)), 5), 4);
        assert_eq!(min_blocks(&options(6, Some(9)), 5), 6);
    }

    #[test]
    fn a_run_in_memory_upgrades_a_small_chain() {
        let options = RunOptions { accounts: Some(8), to: Some(2), upgrade_at: vec![2], ..RunOptions::default() };
        let summary = run(&options, &mut Quiet).unwrap();
        assert_eq!(summary.data_dir, None);
        assert_eq!((summary.accounts, summary.first_height, summary.active_release), (8, 0, 2));
        assert_eq!(summary.blocks, summary.height);
        assert!(summary.genesis_seconds.is_some());
        assert!(summary.halted.is_none());
        assert!(summary.migrated.values().any(|n| *n == 8), "{:?}", summary.migrated);
    }
}
