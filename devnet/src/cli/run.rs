//! `devnet run`: create or resume a chain, produce blocks through its upgrades, summarize.

use super::bar;
use crate::RunArgs;
use devnet::chain_store::{
    create_chain, create_persistent, holds_chain, open_chain, save_manifest, ChainStore, MemoryChain,
};
use devnet::manifest::Manifest;
use devnet::node::Node;
use devnet::runbook::Journal;
use devnet::summary::{Percentiles, RunSummary};
use devnet::DevnetError;
use std::collections::BTreeMap;
use std::time::Instant;
use vm_hooks::devchain::Genesis;
use vm_hooks::{state_root, Budget};

const DEFAULT_ACCOUNTS: u32 = 100_000;
const DEFAULT_BUDGET: Budget = Budget { max_resources: 10_000, max_bytes: 8 << 20 };
const DEFAULT_TRANSFERS: u32 = 100;
/// Heights of v2 and v3 on a new chain; releases scheduled on a resumed chain come this many
/// blocks apart.
const DEFAULT_HEIGHTS: [u64; 2] = [10, 20];
const SPACING: u64 = 10;
/// Blocks one run may be asked to produce (activation heights, `--blocks`, `--until-height`):
/// a typo of a few digits would otherwise keep the node producing idle blocks for days.
const MAX_BLOCKS_AHEAD: u64 = 1_000_000;

/// Refuses a run that would produce more than [`MAX_BLOCKS_AHEAD`] blocks from height `now`.
fn check_reach(args: &RunArgs, manifest: &Manifest, now: u64) -> Result<(), DevnetError> {
    let furthest = [
        args.blocks.saturating_add(now),
        args.until_height.unwrap_or(0),
        manifest.activations.last().map_or(0, |a| a.height),
    ];
    match furthest.iter().max() {
        Some(&h) if h.saturating_sub(now) > MAX_BLOCKS_AHEAD => Err(DevnetError::bad_input(format!(
            "height {h} is more than {MAX_BLOCKS_AHEAD} blocks past the chain's height {now}; run in steps"
        ))),
        _ => Ok(()),
    }
}
/// Accounts written per genesis batch: bounds memory whatever the chain's size.
const GENESIS_BATCH: u32 = 20_000;

pub fn run(args: &RunArgs) -> Result<(), DevnetError> {
    let started = Instant::now();
    let dir = &args.data.data_dir;
    let mut genesis_seconds = None;
    let mut node = if !args.in_memory && holds_chain(dir) {
        resume(args)?
    } else {
        let manifest = new_manifest(args)?;
        let genesis = Genesis { accounts: manifest.accounts, corrupt: manifest.corrupt };
        let write_genesis = |store: &mut dyn ChainStore| -> Result<f64, DevnetError> {
            let t = Instant::now();
            let progress = bar(u64::from(manifest.accounts), "accounts");
            progress.set_message("genesis on v1");
            genesis.write(store, GENESIS_BATCH, &mut |n| progress.set_position(u64::from(n)))?;
            progress.finish_and_clear();
            Ok(t.elapsed().as_secs_f64())
        };
        let store: Box<dyn ChainStore> = if args.in_memory {
            let mut store = MemoryChain::default();
            genesis_seconds = Some(write_genesis(&mut store)?);
            save_manifest(&mut store, &manifest)?;
            Box::new(store)
        } else {
            genesis_seconds = Some(create_chain(dir, |staging| {
                let mut store = create_persistent(staging)?;
                let seconds = write_genesis(&mut store)?;
                save_manifest(&mut store, &manifest)?;
                Ok(seconds)
            })?);
            Box::new(open_chain(dir)?.0)
        };
        Node::new(store, manifest)?
    };
    let first_height = node.height();
    let pending_before = node.pending_by_migration()?;
    let progress = bar(pending_before.values().sum(), "resources");
    // At least one block, unless a height was asked for and reached.
    let min_blocks = match args.until_height {
        Some(h) => args.blocks.max(h.saturating_sub(first_height)),
        None => args.blocks.max(1),
    };
    let tally = node.drive(min_blocks, u64::MAX, &mut |node, b| {
        progress.inc(b.report.resources + b.report.system_resources);
        progress.set_message(format!("height {} · v{}", b.height, 1 + node.hook().activated_releases()));
    })?;
    progress.finish_and_clear();
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
    let prologue_busy = Percentiles::of(&tally.busy);
    let commit_busy = Percentiles::of(&tally.busy_commits);
    let per_second = |ms: f64| if ms > 0.0 { tally.user_resources as f64 / (ms / 1e3) } else { 0.0 };
    let summary = RunSummary {
        data_dir: (!args.in_memory).then(|| dir.display().to_string()),
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
        prologue_all: Percentiles::of(&tally.all),
        commit_busy,
        resources_per_second: per_second(prologue_busy.total_ms),
        resources_per_second_committed: per_second(prologue_busy.total_ms + commit_busy.total_ms),
        transactions: tally.transactions,
        wall_seconds: started.elapsed().as_secs_f64(),
        halted: node.halted(),
        state_root: state_root(node.store())?.to_string(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).map_err(|e| DevnetError::failed(e.to_string()))?);
    } else {
        print!("{}", summary.text());
    }
    match summary.halted {
        Some(h) => Err(DevnetError::failed(format!("{h}; the chain goes on, the upgrade waits for governance"))),
        None => Ok(()),
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

fn budget(args: &RunArgs, base: Budget) -> Result<Budget, DevnetError> {
    let b = Budget {
        max_resources: args.budget.unwrap_or(base.max_resources),
        max_bytes: args.budget_bytes.unwrap_or(base.max_bytes),
    };
    if b.max_resources == 0 || b.max_bytes == 0 {
        return Err(DevnetError::bad_input("--budget and --budget-bytes must be at least 1"));
    }
    Ok(b)
}

fn new_manifest(args: &RunArgs) -> Result<Manifest, DevnetError> {
    let accounts = args.accounts.unwrap_or(DEFAULT_ACCOUNTS);
    if accounts == 0 {
        return Err(DevnetError::bad_input("--accounts must be at least 1"));
    }
    let corrupt = args.corrupt.unwrap_or(0);
    if corrupt > accounts {
        return Err(DevnetError::bad_input(format!("--corrupt {corrupt} is more than the {accounts} accounts")));
    }
    let mut manifest =
        Manifest::new(accounts, corrupt, args.transfers.unwrap_or(DEFAULT_TRANSFERS), budget(args, DEFAULT_BUDGET)?);
    let to = args.to.unwrap_or(3);
    let heights: Vec<u64> = if args.upgrade_at.is_empty() {
        DEFAULT_HEIGHTS.iter().copied().take(to.saturating_sub(1) as usize).collect()
    } else {
        args.upgrade_at.clone()
    };
    schedule(&mut manifest, 1, to, &heights, 0)?;
    check_reach(args, &manifest, 0)?;
    Ok(manifest)
}

fn resume(args: &RunArgs) -> Result<Node, DevnetError> {
    let dir = &args.data.data_dir;
    let (store, mut manifest) = open_chain(dir)?;
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
    if let Some(a) = args.accounts.filter(|a| *a != manifest.accounts) {
        return Err(refuse("--accounts", a, manifest.accounts));
    }
    if let Some(c) = args.corrupt.filter(|c| *c != manifest.corrupt) {
        return Err(refuse("--corrupt", c, manifest.corrupt));
    }
    let now = store.height()?;
    let node = Node::new(Box::new(store), manifest.clone())?;
    let active = node.active_release()?;
    let mut changed = false;
    if args.to.is_some() || !args.upgrade_at.is_empty() {
        let to = args.to.unwrap_or(manifest.target().max(active));
        if to < active {
            return Err(DevnetError::bad_input(format!("the chain is already on v{active}; --to v{to} is behind it")));
        }
        schedule(&mut manifest, active, to, &args.upgrade_at, now)?;
        changed = true;
    }
    if let Some(t) = args.transfers {
        manifest.transfers_per_block = t;
        changed = true;
    }
    if args.budget.is_some() || args.budget_bytes.is_some() {
        let b = budget(args, manifest.budget())?;
        manifest.max_resources_per_block = b.max_resources;
        manifest.max_bytes_per_block = b.max_bytes;
        changed = true;
    }
    check_reach(args, &manifest, now)?;
    if !changed {
        return Ok(node);
    }
    let mut node = node;
    node.replan(manifest)?;
    Ok(node)
}
