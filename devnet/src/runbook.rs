//! `devnet upgrade --to vN`: the upgrade as an operator runs it, one step at a time.
//!
//! pre-flight (the release gate and the catalogue), backup (a verified snapshot), quiesce
//! (transactions touching the modules the release changes are refused; the rest of the chain
//! goes on), migrate (activation at the next block, blocks until every migration is done),
//! verify (everything decodes with its new layout, counts move from old versions to new ones,
//! the supply is conserved, a second pass changes nothing), resume. A failure stops the runbook
//! at that step; a failure at or after migrate restores the backup. `--dry-run` runs it all on
//! a copy of the data directory and reports what would happen (try-runtime style).

use crate::census::{self, Census};
use crate::chain_store::{open_persistent, ChainStore};
use crate::error::DevnetError;
use crate::manifest::Manifest;
use crate::node::{BlockOutcome, Node};
use crate::snapshot::{self, SnapshotInfo};
use crate::summary::{Percentiles, Tally};
use binary_format::Module;
use migrations::core_types::render_struct_tag;
use std::path::{Path, PathBuf};
use stdlib::registry::ReleaseName;
use vm_hooks::devchain::release_modules;
use vm_hooks::persistent::DB_FILE;
use vm_hooks::state_root;

/// Where backups go, inside the data directory.
pub const BACKUP_DIR: &str = "backups";
/// Blocks the migrate step may take before it gives up.
const MAX_MIGRATE_BLOCKS: u64 = 1_000_000;

#[derive(Debug, Clone, Copy)]
pub struct UpgradeOptions {
    pub to: u32,
    pub dry_run: bool,
}

/// A step of the runbook as it passed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepReport {
    pub step: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// What the runbook did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UpgradeReport {
    pub from: u32,
    pub to: u32,
    pub dry_run: bool,
    pub steps: Vec<StepReport>,
    pub blocks: u64,
    pub height: u64,
    pub state_root: String,
}

/// Called as each step passes, and after each block of the migrate step.
pub trait Progress {
    fn step(&mut self, step: &StepReport);
    fn migrating(&mut self, _pending: u64) {}
    fn block(&mut self, _outcome: &BlockOutcome) {}
    fn done_migrating(&mut self) {}
}

/// Runs the runbook on the chain in `dir`.
pub fn upgrade(dir: &Path, options: UpgradeOptions, progress: &mut dyn Progress) -> Result<UpgradeReport, DevnetError> {
    let manifest = Manifest::load(dir)?;
    let store = open_persistent(dir)?;
    if !options.dry_run {
        return Runbook { dir: dir.to_path_buf(), options, steps: Vec::new(), progress }.run(manifest, store);
    }
    // Work on a copy, beside the data directory so that it is on the same disk.
    drop(store);
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let copy = tempfile::Builder::new()
        .prefix(".devnet-dry-run-")
        .tempdir_in(parent)
        .map_err(|e| DevnetError::io(parent, e))?;
    for file in [DB_FILE, crate::manifest::MANIFEST_FILE] {
        std::fs::copy(dir.join(file), copy.path().join(file)).map_err(|e| DevnetError::io(&dir.join(file), e))?;
    }
    let store = open_persistent(copy.path())?;
    Runbook { dir: copy.path().to_path_buf(), options, steps: Vec::new(), progress }.run(manifest, store)
}

struct Runbook<'p> {
    /// The data directory worked on (a copy for a dry run).
    dir: PathBuf,
    options: UpgradeOptions,
    steps: Vec<StepReport>,
    progress: &'p mut dyn Progress,
}

impl Runbook<'_> {
    fn pass(&mut self, step: &'static str, detail: String) {
        self.report(step, true, detail);
    }

    fn report(&mut self, step: &'static str, ok: bool, detail: String) {
        let report = StepReport { step, ok, detail };
        self.progress.step(&report);
        self.steps.push(report);
    }

    fn run(mut self, manifest: Manifest, store: vm_hooks::RedbStore) -> Result<UpgradeReport, DevnetError> {
        let mut node = Node::new(Box::new(store), manifest)?;
        let from = node.active_release()?;
        let to = self.options.to;
        crate::manifest::check_upgrade_release(to)?;
        if to <= from {
            return Err(DevnetError::bad_input(format!(
                "the chain is already on v{from}; nothing to upgrade to v{to}"
            )));
        }
        // The runbook starts from a quiet chain.
        let status = node.status()?;
        if let Some(m) = status.in_progress().first() {
            return Err(DevnetError::bad_input(format!(
                "migration `{}` of v{from} is still running; finish it with `devnet run` before upgrading",
                m.id
            )));
        }

        self.preflight(from, to)?;
        let (backup, before) = self.backup(&node, from)?;
        let quiesced = self.quiesce(&mut node, from, to)?;
        let outcome = match self.migrate(&mut node, from, to) {
            Ok(blocks) => self.verify(&node, &before, from, to).map(|()| blocks).map_err(|e| ("verify", e)),
            Err(e) => Err(("migrate", e)),
        };
        let blocks = match outcome {
            Ok(blocks) => blocks,
            Err((step, failure)) => {
                self.report(step, false, failure.to_string());
                drop(node);
                let restored = self.rollback(&backup)?;
                return Err(DevnetError::failed(format!(
                    "{failure}; rolled back to height {} (state root {})",
                    restored.height, restored.state_root
                )));
            }
        };
        node.resume();
        self.pass("resume", format!("transactions touching {} admitted again", quiesced.join(", ")));
        let root = state_root(node.store())?;
        if self.options.dry_run {
            self.pass("dry run", "done on a copy; the data directory was not changed".to_owned());
        }
        Ok(UpgradeReport {
            from,
            to,
            dry_run: self.options.dry_run,
            steps: self.steps,
            blocks,
            height: node.height(),
            state_root: root.to_string(),
        })
    }

    /// The release gate (compat-checker with the registry and the declarations) and the
    /// catalogues for every release from `from` to `to`.
    fn preflight(&mut self, from: u32, to: u32) -> Result<(), DevnetError> {
        let registry = stdlib::embedded::registry().map_err(|e| DevnetError::failed(format!("registry: {e}")))?;
        let declarations =
            stdlib::embedded::declarations().map_err(|e| DevnetError::failed(format!("declarations: {e}")))?;
        let mut details = Vec::new();
        for r in from + 1..=to {
            let old = release_modules(ReleaseName::new(r - 1))?;
            let new = release_modules(ReleaseName::new(r))?;
            let (old, new): (Vec<&Module>, Vec<&Module>) = (old.iter().collect(), new.iter().collect());
            let options = compat_checker::CheckOptions {
                registry: Some(&registry),
                declarations: Some(&declarations),
                config: None,
            };
            let (report, _) = compat_checker::check(&format!("v{}", r - 1), &old, &format!("v{r}"), &new, options);
            if report.verdict == compat_checker::Verdict::Blocked {
                return Err(DevnetError::failed(format!(
                    "pre-flight failed: v{} -> v{r} is blocked:\n{}",
                    r - 1,
                    report.to_text(false)
                )));
            }
            let plans = vm_hooks::devchain::plans(&[(ReleaseName::new(r), 1)])?;
            let ids: Vec<&str> = plans.iter().flat_map(|p| &p.catalogue.entries).map(|e| e.id.as_str()).collect();
            details.push(format!("v{} -> v{r}: {}; catalogue: {}", r - 1, report.verdict.as_str(), ids.join(", ")));
        }
        self.pass("pre-flight", details.join("; "));
        Ok(())
    }

    /// A snapshot of the state before anything changes, verified, and a census of it.
    fn backup(&mut self, node: &Node, from: u32) -> Result<(PathBuf, Census), DevnetError> {
        let dir = self.dir.join(BACKUP_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| DevnetError::io(&dir, e))?;
        let height = node.height();
        let path = (0..)
            .map(|n| {
                dir.join(format!("h{height}-v{from}{}.snapshot", if n == 0 { String::new() } else { format!("-{n}") }))
            })
            .find(|p| !p.exists())
            .unwrap_or_else(|| dir.join(format!("h{height}-v{from}.snapshot")));
        let info = snapshot::export(node.store(), height, node.manifest().to_json(), &path)?;
        snapshot::verify(&path)?;
        let before = census::take(node.store(), from)?;
        let warning = match before.undecodable_count {
            0 => String::new(),
            n => format!("; warning: {n} resources already do not decode with their v{from} layout"),
        };
        self.pass(
            "backup",
            format!(
                "{} ({} resources, {} bytes, height {height}, state root {}), verified{warning}",
                path.display(),
                info.resources,
                info.bytes,
                info.state_root
            ),
        );
        Ok((path, before))
    }

    /// Transactions touching the modules the releases change are refused from the next block.
    fn quiesce(&mut self, node: &mut Node, from: u32, to: u32) -> Result<Vec<String>, DevnetError> {
        let plans = vm_hooks::devchain::plans(
            &(from + 1..=to).zip(1u64..).map(|(r, h)| (ReleaseName::new(r), h)).collect::<Vec<_>>(),
        )?;
        let names: std::collections::BTreeSet<String> =
            plans.iter().flat_map(|p| &p.catalogue.entries).map(|e| e.module.clone()).collect();
        node.quiesce(names.clone());
        let names: Vec<String> = names.into_iter().collect();
        self.pass(
            "quiesce",
            format!("transactions touching {} refused; the rest of the chain goes on", names.join(", ")),
        );
        Ok(names)
    }

    /// Schedules each release at the next block and produces blocks until its migrations end.
    fn migrate(&mut self, node: &mut Node, from: u32, to: u32) -> Result<u64, DevnetError> {
        let mut blocks = 0;
        for release in from + 1..=to {
            let mut manifest = node.manifest().clone();
            // Activations scheduled for later by `devnet run` give way to the runbook's.
            manifest.activations.retain(|a| a.release < release);
            manifest.schedule(release, node.height() + 1, node.height())?;
            manifest.save(&self.dir)?;
            node.replan(manifest)?;
            let pending: u64 = node.pending_by_migration()?.values().sum();
            self.progress.migrating(pending);
            let progress = &mut *self.progress;
            let tally: Tally = node.drive(1, MAX_MIGRATE_BLOCKS, &mut |_, b| progress.block(b))?;
            self.progress.done_migrating();
            blocks += tally.blocks;
            if let Some(halted) = node.halted() {
                return Err(DevnetError::failed(format!("migrate failed: {halted}")));
            }
            if !node.upgraded() {
                return Err(DevnetError::failed(format!(
                    "migrate failed: v{release} not done in {MAX_MIGRATE_BLOCKS} blocks"
                )));
            }
            let prologue = Percentiles::of(&tally.busy);
            self.pass(
                "migrate",
                format!(
                    "v{release} activated at height {}; {} resources migrated ({} in system accounts), {} quarantined, in {} blocks (prologue p50 {:.2} ms, p99 {:.2} ms); transfers: {} applied, {} refused",
                    node.height() + 1 - tally.blocks,
                    tally.migrated + tally.system_resources,
                    tally.system_resources,
                    tally.quarantined,
                    tally.blocks,
                    prologue.p50_ms,
                    prologue.p99_ms,
                    tally.transfers.applied,
                    tally.transfers.quiesced
                ),
            );
        }
        Ok(blocks)
    }

    /// Everything decodes with the new layouts, counts move from old versions to new ones, the
    /// supply is conserved, a second pass changes nothing.
    fn verify(&mut self, node: &Node, before: &Census, from: u32, to: u32) -> Result<(), DevnetError> {
        let after = census::take(node.store(), to)?;
        let mut problems = Vec::new();
        if after.undecodable_count > 0 {
            problems.push(format!(
                "{} resources do not decode with their v{to} layout: {}",
                after.undecodable_count,
                after.undecodable.join("; ")
            ));
        }
        if after.resources() != before.resources() {
            problems.push(format!("{} resources before, {} after", before.resources(), after.resources()));
        }
        if after.supply != before.supply {
            problems.push(format!("supply {} before, {} after", before.supply, after.supply));
        }
        let hook = node.hook();
        let status = node.status()?;
        // The migrations of this upgrade (earlier releases' were verified when they ran).
        let ours: Vec<_> = hook.migrations().into_iter().filter(|m| m.release.number() > from).collect();
        for m in &ours {
            for (old, new) in &m.versions {
                let left = after.count(&render_struct_tag(old));
                if left > 0 {
                    problems.push(format!(
                        "{}: {left} resources still in {} ({} quarantined)",
                        m.id,
                        render_struct_tag(old),
                        status.quarantined(m.id)
                    ));
                }
                // Count the versions this one replaces, in the census before.
                if ours.iter().all(|other| other.versions.iter().all(|(o, _)| o != new)) {
                    let mut expected = 0;
                    let mut tag = Some(*old);
                    while let Some(t) = tag {
                        expected += before.count(&render_struct_tag(t));
                        tag = hook.predecessor(t);
                    }
                    let found = after.count(&render_struct_tag(new));
                    if found != expected {
                        problems.push(format!(
                            "{}: {found} resources in {}, {expected} expected",
                            m.id,
                            render_struct_tag(new)
                        ));
                    }
                }
            }
        }
        let second = hook.second_pass(node.store())?;
        for (id, n) in &second {
            problems.push(format!("{id}: a second pass would change {n} resources"));
        }
        if !problems.is_empty() {
            return Err(DevnetError::failed(format!("verify failed: {}", problems.join("; "))));
        }
        self.pass(
            "verify",
            format!(
                "{} resources decode with their v{to} layouts; counts moved to the new versions; supply {} conserved; a second pass changes nothing",
                after.resources(),
                after.supply
            ),
        );
        Ok(())
    }

    /// Restores the backup into the data directory: imported beside it, checked against the
    /// root it records, then swapped in, with the manifest it carries.
    fn rollback(&mut self, backup: &Path) -> Result<SnapshotInfo, DevnetError> {
        let restore = self.dir.join(".restore");
        if restore.exists() {
            std::fs::remove_dir_all(&restore).map_err(|e| DevnetError::io(&restore, e))?;
        }
        std::fs::create_dir_all(&restore).map_err(|e| DevnetError::io(&restore, e))?;
        let info = {
            let mut store = crate::chain_store::create_persistent(&restore)?;
            let info = snapshot::import(backup, &mut store, 50_000, &mut |_| {})?;
            store.commit_block(migrations::WriteBatch::new(), info.height)?;
            let root = state_root(&store)?;
            if root != info.state_root {
                return Err(DevnetError::failed(format!(
                    "rollback failed: {} restores to root {root}, not {}; the data directory is left as the failed upgrade left it",
                    backup.display(),
                    info.state_root
                )));
            }
            info
        };
        let manifest = Manifest::parse(&info.chain.to_string(), backup)?;
        std::fs::rename(restore.join(DB_FILE), self.dir.join(DB_FILE)).map_err(|e| DevnetError::io(&self.dir, e))?;
        manifest.save(&self.dir)?;
        let _ = std::fs::remove_dir_all(&restore);
        self.pass(
            "rollback",
            format!("restored {} (height {}, state root {})", backup.display(), info.height, info.state_root),
        );
        Ok(info)
    }
}
