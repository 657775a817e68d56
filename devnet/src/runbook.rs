//! `devnet upgrade --to vN`: the upgrade as an operator runs it, one step at a time.
//!
//! pre-flight (the release gate and the catalogue), backup (a verified snapshot and a census),
//! quiesce (transactions touching the modules the release changes are refused; the rest of the
//! chain goes on), migrate (activation at the next block, blocks until every migration is
//! done), verify, resume. A failure stops the runbook at that step; a failure at or after
//! migrate restores the backup. `--dry-run` runs it all on a copy of the data directory and
//! reports what would happen (try-runtime style).
//!
//! From the backup on, a journal in the store says where the runbook is, so a runbook killed at
//! any point is taken up again by the next `devnet upgrade` (migrate goes on, or the rollback is
//! done again); `devnet run` refuses the chain until then. The journal lives in the same store
//! as the state, and a rollback swaps in a whole store (state, schedule, no journal) with one
//! rename: the data directory holds either the upgraded chain or the backed-up one.

use crate::census::{self, Census};
use crate::chain_store::{open_chain, replace_chain, store_from_snapshot, Cache, ChainStore};
use crate::data_dir::{DataDir, Scratch, DRY_RUN, RESTORE};
use crate::drill;
use crate::error::DevnetError;
use crate::manifest::{check_upgrade_release, Manifest};
use crate::node::{BlockOutcome, Node, Tally};
use crate::snapshot;
use crate::view::Publisher;
use binary_format::Module;
use devchain::release_modules;
use migrations::StateKey;
use redb_store::{RedbStore, DB_FILE};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use upgrade_spec::registry::ReleaseName;
use vm_hooks::state_root;

pub use crate::data_dir::BACKUP_DIR;
pub use crate::journal::{Journal, Phase, JOURNAL_KEY};
/// The store's node value that names a backup being taken, until the journal names it.
pub const BACKUP_PENDING_KEY: &str = "backup-pending";
/// Blocks the migrate step may take before it gives up.
const MAX_MIGRATE_BLOCKS: u64 = 1_000_000;
/// Mismatches listed in full by verify; beyond this they are counted.
const MAX_LISTED: usize = 10;

#[derive(Debug, Clone, Copy)]
pub struct UpgradeOptions {
    pub to: u32,
    pub dry_run: bool,
    /// The store's page cache (the live store's, the copy's, a restored backup's).
    pub cache: Cache,
}

/// A step of the runbook as it passed or failed.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// What the runbook did.
#[derive(Debug, Clone, Serialize)]
pub struct UpgradeReport {
    pub from: u32,
    pub to: u32,
    pub dry_run: bool,
    pub steps: Vec<StepReport>,
    pub blocks: u64,
    pub height: u64,
    pub state_root: String,
}

/// Called as each step passes or fails, and after each block of the migrate step.
pub trait Progress {
    fn step(&mut self, step: &StepReport);
    fn migrating(&mut self, _pending: u64) {}
    fn block(&mut self, _outcome: &BlockOutcome) {}
    fn done_migrating(&mut self) {}
}

/// Removes the backup a runbook was taking when it was killed (named in the store, not yet in
/// a journal), and forgets it. Only a file the runbook names itself is removed: a name that is
/// not `backups/NAME.snapshot` is forgotten, not followed.
pub fn clear_orphan_backup(dir: &Path, store: &mut dyn ChainStore) -> Result<(), DevnetError> {
    let Some(pending) = store.node_value(BACKUP_PENDING_KEY)? else { return Ok(()) };
    let pending = PathBuf::from(String::from_utf8_lossy(&pending).into_owned());
    let journal = Journal::load(store)?;
    let ours = pending.parent() == Some(Path::new(BACKUP_DIR))
        && pending.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        && pending.extension().is_some_and(|e| e == "snapshot")
        && pending.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if ours && journal.is_none_or(|j| j.backup != pending) {
        crate::data_dir::remove_any(&dir.join(&pending))?;
    }
    store.set_node_value(BACKUP_PENDING_KEY, None)?;
    Ok(())
}

/// Runs the runbook on the chain in `dir`.
pub fn upgrade(dir: &Path, options: UpgradeOptions, progress: &mut dyn Progress) -> Result<UpgradeReport, DevnetError> {
    check_upgrade_release(options.to)?;
    let data = DataDir::lock(dir, false)?;
    data.clear_leftovers()?;
    let (mut store, manifest) = open_chain(dir, options.cache)?;
    clear_orphan_backup(dir, &mut store)?;
    if !options.dry_run {
        return Runbook { dir: dir.to_path_buf(), view: None, options, steps: Vec::new(), progress }
            .run(store, manifest);
    }
    // A dry run starts from a quiet chain: one under an upgrade is taken up, not rehearsed.
    if let Some(j) = Journal::load(&store)? {
        return Err(DevnetError::bad_input(format!(
            "an upgrade v{} -> v{} is under way; `devnet upgrade --to v{}` takes it up (no dry run of it)",
            j.from, j.to, j.to
        )));
    }
    // Work on a copy inside the data directory (so on the same disk), held like the store: it
    // goes when the dry run ends, and if the dry run is killed, the next command removes it.
    drop(store);
    let copy = Scratch::new(&data, DRY_RUN)?;
    input_files::output::copy_new(&dir.join(DB_FILE), &copy.path().join(DB_FILE))
        .map_err(|e| DevnetError::io(&dir.join(DB_FILE), e))?;
    let (store, manifest) = open_chain(copy.path(), options.cache)?;
    Runbook { dir: copy.path().to_path_buf(), view: None, options, steps: Vec::new(), progress }.run(store, manifest)
}

struct Runbook<'p> {
    /// The data directory worked on (a copy for a dry run).
    dir: PathBuf,
    view: Option<Publisher>,
    options: UpgradeOptions,
    steps: Vec<StepReport>,
    progress: &'p mut dyn Progress,
}

impl Runbook<'_> {
    fn publish(&self, node: &Node) {
        if let Some(view) = &self.view {
            view.publish(node);
        }
    }

    fn report(&mut self, step: &'static str, ok: bool, detail: String) {
        let report = StepReport { step, ok, detail };
        self.progress.step(&report);
        self.steps.push(report);
    }

    fn pass(&mut self, step: &'static str, detail: String) {
        self.report(step, true, detail);
    }

    /// Reports `step` failed when `result` is an error.
    fn check<T>(&mut self, step: &'static str, result: Result<T, DevnetError>) -> Result<T, DevnetError> {
        if let Err(e) = &result {
            self.report(step, false, e.to_string());
        }
        result
    }

    fn run(mut self, store: RedbStore, manifest: Manifest) -> Result<UpgradeReport, DevnetError> {
        let mut node = Node::new(Box::new(store), manifest)?;
        // `status` reads this while the runbook holds the store (not for a dry run's copy: the
        // chain's own store is free then).
        self.view = (!self.options.dry_run).then(|| Publisher::new(&self.dir, &node));
        let to = self.options.to;
        let journal = match Journal::load(node.store())? {
            Some(journal) => {
                if journal.to != to {
                    return Err(DevnetError::bad_input(format!(
                        "an upgrade v{} -> v{} was interrupted; `devnet upgrade --to v{}` takes it up again",
                        journal.from, journal.to, journal.to
                    )));
                }
                let phase = journal.phase.as_str();
                self.pass(
                    "take up",
                    format!(
                        "the upgrade v{} -> v{to} interrupted at its {phase} step goes on (backup {})",
                        journal.from,
                        journal.backup.display()
                    ),
                );
                if journal.phase == Phase::Rollback {
                    return Err(self.roll_back(node, &journal, "an interrupted rollback".to_owned()));
                }
                journal
            }
            None => self.start(&mut node, to)?,
        };
        self.publish(&node);
        let quiesced = self.quiesce(&mut node, journal.from, to)?;
        let outcome = match self.migrate(&mut node, journal.from, to) {
            Ok(blocks) => self.verify(&node, &journal).map(|()| blocks),
            Err(e) => Err(e),
        };
        let blocks = match outcome {
            Ok(blocks) => blocks,
            Err(failure) => return Err(self.roll_back(node, &journal, failure.to_string())),
        };
        node.resume()?;
        node.store_mut().set_node_value(JOURNAL_KEY, None)?;
        self.publish(&node);
        self.pass("resume", format!("transactions touching {} admitted again", quiesced.join(", ")));
        let root = state_root(node.store())?;
        if self.options.dry_run {
            self.pass("dry run", "done on a copy; the data directory was not changed".to_owned());
        }
        Ok(UpgradeReport {
            from: journal.from,
            to,
            dry_run: self.options.dry_run,
            steps: self.steps,
            blocks,
            height: node.height(),
            state_root: root.to_string(),
        })
    }

    /// Checks that the chain can start an upgrade to `to`, then pre-flight and backup; returns
    /// the journal, saved.
    fn start(&mut self, node: &mut Node, to: u32) -> Result<Journal, DevnetError> {
        let status = node.status()?;
        if let Some(m) = status.in_progress().first() {
            return Err(DevnetError::bad_input(format!(
                "migration `{}` is still running; finish it with `devnet run` before an upgrade",
                m.id
            )));
        }
        let from = node.active_release()?;
        if to <= from {
            return Err(DevnetError::bad_input(format!(
                "the chain is already on v{from}; nothing to upgrade to v{to}"
            )));
        }
        let preflight = self.preflight(from, to);
        self.check("pre-flight", preflight)?;
        let backup = self.backup(node, from);
        let (path, info, before) = self.check("backup", backup)?;
        let journal = Journal {
            from,
            to,
            phase: Phase::Migrate,
            backup: path,
            backup_height: info.height,
            backup_root: info.state_root.to_string(),
            backup_resources: info.resources(),
            before,
        };
        // A store that fails here (a full disk) has changed nothing on chain: say so, and that
        // the backup it names as pending goes with the next command.
        let saved = journal.save(node.store_mut()).map_err(|e| {
            DevnetError::failed(format!(
                "{e}; nothing on the chain changed, and the next devnet command removes the backup {}",
                journal.backup.display()
            ))
        });
        self.check("journal", saved)?;
        node.store_mut().set_node_value(BACKUP_PENDING_KEY, None)?;
        Ok(journal)
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
                    "pre-flight failed: v{} -> v{r} is blocked ({} unhandled changes, {} problems; \
                     `compat-checker check` gives the report)",
                    r - 1,
                    report.counts.unhandled,
                    report.problems.len()
                )));
            }
            let plans = devchain::plans(&[(ReleaseName::new(r), 1)])?;
            let ids: Vec<&str> = plans.iter().flat_map(|p| &p.catalogue.entries).map(|e| e.id.as_str()).collect();
            details.push(format!("v{} -> v{r}: {}; catalogue: {}", r - 1, report.verdict.as_str(), ids.join(", ")));
        }
        self.pass("pre-flight", details.join("; "));
        Ok(())
    }

    /// A snapshot of the state before anything changes, verified, and a census of it.
    fn backup(&mut self, node: &mut Node, from: u32) -> Result<(PathBuf, snapshot::SnapshotInfo, Census), DevnetError> {
        let dir = self.dir.join(BACKUP_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| DevnetError::io(&dir, e))?;
        // The backup goes inside the data directory: never where a link under that name leads.
        if std::fs::symlink_metadata(&dir).map_err(|e| DevnetError::io(&dir, e))?.file_type().is_symlink() {
            return Err(DevnetError::bad_input(format!(
                "{}: a symbolic link, not a directory: backups are written only inside the data directory",
                dir.display()
            )));
        }
        let height = node.height();
        let name = |n: u32| match n {
            0 => format!("h{height}-v{from}.snapshot"),
            n => format!("h{height}-v{from}-{n}.snapshot"),
        };
        let mut n = 0;
        while dir.join(name(n)).exists() {
            n += 1;
        }
        let relative = Path::new(BACKUP_DIR).join(name(n));
        let path = self.dir.join(&relative);
        // Named in the store before it exists, until the journal names it: a backup that fails
        // is removed at once, one whose runbook was killed by the next command.
        let pending = relative.to_string_lossy().into_owned();
        node.store_mut().set_node_value(BACKUP_PENDING_KEY, Some(pending.as_bytes()))?;
        let taken = snapshot::export(node.store(), height, node.manifest().to_json(), devchain::WIDTH, &path)
            .and_then(|info| snapshot::verify(&path).map(|_| info))
            .map_err(DevnetError::from)
            .and_then(|info| {
                drill::crash_point("backup");
                Ok((info, census::take(node.store(), from)?))
            });
        let (info, before) = match taken {
            Ok(taken) => taken,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                node.store_mut().set_node_value(BACKUP_PENDING_KEY, None)?;
                return Err(e);
            }
        };
        let warning = match before.undecodable_count {
            0 => String::new(),
            n => format!("; warning: {n} resources already do not decode with their v{from} layout"),
        };
        self.pass(
            "backup",
            format!(
                "{} ({} resources, {} bytes, height {height}, state root {}), verified{warning}",
                path.display(),
                info.resources(),
                info.bytes,
                info.state_root
            ),
        );
        Ok((relative, info, before))
    }

    /// Transactions touching the modules the releases change are refused from the next block.
    fn quiesce(&mut self, node: &mut Node, from: u32, to: u32) -> Result<Vec<String>, DevnetError> {
        let releases: Vec<(ReleaseName, u64)> =
            (from + 1..=to).zip(1u64..).map(|(r, h)| (ReleaseName::new(r), h)).collect();
        let plans = devchain::plans(&releases)?;
        let names: std::collections::BTreeSet<String> =
            plans.iter().flat_map(|p| &p.catalogue.entries).map(|e| e.module.clone()).collect();
        node.quiesce(names.clone())?;
        let names: Vec<String> = names.into_iter().collect();
        self.pass(
            "quiesce",
            format!("transactions touching {} refused; the rest of the chain goes on", names.join(", ")),
        );
        Ok(names)
    }

    /// Activates each release not yet active at the next block and produces blocks until its
    /// migrations end.
    fn migrate(&mut self, node: &mut Node, from: u32, to: u32) -> Result<u64, DevnetError> {
        let result = self.migrate_releases(node, from, to);
        self.check("migrate", result)
    }

    fn migrate_releases(&mut self, node: &mut Node, from: u32, to: u32) -> Result<u64, DevnetError> {
        let mut blocks = 0;
        // Releases beyond the target that `devnet run` had scheduled are left unscheduled: an
        // upgrade goes through the runbook, release by release.
        let dropped: Vec<String> = node
            .manifest()
            .activations
            .iter()
            .filter(|a| a.release > to)
            .map(|a| format!("v{} (was at height {})", a.release, a.height))
            .collect();
        if !dropped.is_empty() {
            let mut manifest = node.manifest().clone();
            manifest.activations.retain(|a| a.release <= to);
            node.replan(manifest)?;
            self.pass(
                "unschedule",
                format!("{} no longer scheduled; `devnet upgrade` takes them later", dropped.join(", ")),
            );
        }
        for release in from + 1..=to {
            if node.active_release()? < release {
                let mut manifest = node.manifest().clone();
                // Activations scheduled for later (by `devnet run`) give way to the runbook's.
                manifest.activations.retain(|a| a.release < release);
                manifest.schedule(release, node.height() + 1, node.height())?;
                node.replan(manifest)?;
            }
            let pending: u64 = node.pending_by_migration()?.values().sum();
            self.progress.migrating(pending);
            let (progress, view) = (&mut *self.progress, &self.view);
            let tally: Tally = node.drive(0, MAX_MIGRATE_BLOCKS, &mut |node, b| {
                if let Some(view) = view {
                    view.publish(node);
                }
                progress.block(b)
            })?;
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
            let prologue = tally.busy.percentiles();
            let commit = tally.busy_commits.percentiles();
            let activated = node.status()?.release(u64::from(release)).map_or(0, |r| r.activated_at);
            self.pass(
                "migrate",
                format!(
                    "v{release} active since height {activated}; {} resources migrated ({} in system accounts), \
                     {} quarantined, in {} blocks (prologue p50 {:.2} ms, p99 {:.2} ms; block commit p99 {:.2} ms); transactions: {} applied, {} refused",
                    tally.migrated + tally.system_resources,
                    tally.system_resources,
                    tally.quarantined,
                    tally.blocks,
                    prologue.p50_ms,
                    prologue.p99_ms,
                    commit.p99_ms,
                    tally.transactions.applied,
                    tally.transactions.quiesced
                ),
            );
        }
        Ok(blocks)
    }

    /// Verifies the migrated state against the backup. Quiesce froze every module the upgrade
    /// migrates, so each migrated resource must be exactly what the migrations make of its
    /// backed-up bytes (replayed here from the backup file, not from the store), and nothing may
    /// be left in an old version. Besides: every resource decodes with its new layout, no
    /// resource appeared or vanished, the coin supply is conserved, and a second pass of every
    /// migration (staged, dropped) migrates nothing.
    fn verify(&mut self, node: &Node, journal: &Journal) -> Result<(), DevnetError> {
        let result = verify_against_backup(node, journal, &self.dir);
        let detail = self.check("verify", result)?;
        self.pass("verify", detail);
        Ok(())
    }

    /// Restores the backup, after `failure`, and returns the error to exit with. The journal
    /// is first set to rollback, so that a rollback killed half-way is done again. Each message
    /// says what the next `devnet upgrade` will do, which is what the journal says.
    fn roll_back(&mut self, mut node: Node, journal: &Journal, failure: String) -> DevnetError {
        let marked = Journal { phase: Phase::Rollback, ..journal.clone() }.save(node.store_mut());
        drop(node);
        let backup = self.dir.join(&journal.backup);
        if let Err(e) = marked {
            // Nothing was rolled back and the journal still says migrate (a full disk, typically):
            // the next runbook takes the migration up, which is also what gets a chain whose
            // machine failed back on its feet; if the migration was at fault, it fails again and
            // the rollback happens then.
            self.report("rollback", false, format!("not started: the journal could not be set to it: {e}"));
            return DevnetError::failed(format!(
                "{failure}; the rollback could not start ({e}): {} holds the chain part-way through the upgrade, its \
                 journal at the migrate step, so the next `devnet upgrade --to v{}` takes the migration up again, \
                 verifies it, and rolls back only if that fails; the backup is {}",
                self.dir.display(),
                journal.to,
                backup.display()
            ));
        }
        match self.restore(journal) {
            Ok(detail) => {
                self.pass("rollback", detail);
                DevnetError::failed(format!(
                    "{failure}; rolled back to height {} (state root {})",
                    journal.backup_height, journal.backup_root
                ))
            }
            Err(e) => {
                self.report("rollback", false, e.to_string());
                DevnetError::failed(format!(
                    "{failure}; rollback failed: {e}; {} holds the unverified state and the journal at its rollback \
                     step, so the next `devnet upgrade --to v{}` does the rollback again; the backup is {}",
                    self.dir.display(),
                    journal.to,
                    backup.display()
                ))
            }
        }
    }

    /// Imports the backup into a store beside the live one, checks it is the backup the journal
    /// recorded (height, root, size), gives it the backed-up schedule, and renames it over the
    /// live store: one rename, so the directory holds one whole chain or the other.
    fn restore(&mut self, journal: &Journal) -> Result<String, DevnetError> {
        let backup = self.dir.join(&journal.backup);
        replace_chain(&self.dir, RESTORE, |restore| {
            let (_, info, _) = store_from_snapshot(&backup, &backup, restore, self.options.cache, &mut |_| {})?;
            if info.height != journal.backup_height
                || info.state_root.to_string() != journal.backup_root
                || info.resources() != journal.backup_resources
            {
                return Err(DevnetError::failed(format!(
                    "{} is not the backup taken (height {}, root {}, {} resources; the journal says height {}, \
                     root {}, {} resources)",
                    backup.display(),
                    info.height,
                    info.state_root,
                    info.resources(),
                    journal.backup_height,
                    journal.backup_root,
                    journal.backup_resources
                )));
            }
            Ok(())
        })?;
        Ok(format!(
            "restored {} (height {}, state root {}), checked against the journal",
            backup.display(),
            journal.backup_height,
            journal.backup_root
        ))
    }
}

/// The checks of verify; the step's detail when they pass.
fn verify_against_backup(node: &Node, journal: &Journal, dir: &Path) -> Result<String, DevnetError> {
    let (from, to, before) = (journal.from, journal.to, &journal.before);
    let after = census::take(node.store(), to)?;
    let mut problems = Vec::new();
    // Resources that were already undecodable (quarantined by an earlier upgrade) stay so.
    if after.undecodable_count > before.undecodable_count {
        problems.push(format!(
            "{} resources do not decode with their v{to} layout ({} did before): {}",
            after.undecodable_count,
            before.undecodable_count,
            after.undecodable.join("; ")
        ));
    }
    if after.resources() != before.resources() {
        problems.push(format!("{} resources before, {} after", before.resources(), after.resources()));
    }
    if after.supply != before.supply {
        problems.push(format!("coin supply {} before, {} after", before.supply, after.supply));
    }
    // Replay the upgrade's migrations on the backup and compare with the store.
    let hook = node.hook();
    let store = node.store();
    let after_release = from;
    let mut replayed = 0u64;
    let mut produced: BTreeMap<String, u64> = BTreeMap::new();
    // Per backed-up tag a migration reads: how many of its resources must stay (they do not
    // migrate, so they are quarantined with their old bytes).
    let mut staying: BTreeMap<String, u64> = BTreeMap::new();
    let mut mismatches: Vec<String> = Vec::new();
    let mut mismatch_count = 0u64;
    let mut mismatch = |what: String| {
        mismatch_count += 1;
        if mismatches.len() < MAX_LISTED {
            mismatches.push(what);
        }
    };
    let backup = dir.join(&journal.backup);
    snapshot::visit(&backup, &mut |entry| {
        let Ok(StateKey::Resource { account, tag }) = StateKey::decode(entry.key, devchain::WIDTH) else {
            return Ok(true);
        };
        let (account, tag) = (&account, &tag);
        let Some(result) = hook.replay(tag, entry.value, after_release) else { return Ok(true) };
        let at = account;
        let stays = staying.entry(tag.to_string()).or_default();
        match result {
            Err(reason) => {
                *stays += 1;
                mismatch(format!("{tag} at {at} does not migrate: {reason}"));
            }
            Ok((final_tag, expected)) => {
                replayed += 1;
                *produced.entry(final_tag.to_string()).or_default() += 1;
                let found = store.get(account, &final_tag).map_err(snapshot::SnapshotError::Store)?;
                if found.as_deref() != Some(expected.as_slice()) {
                    let what = if found.is_some() { "differs from" } else { "is missing, unlike" };
                    mismatch(format!("{final_tag} at {at} {what} the migration of its backed-up {tag}"));
                }
            }
        }
        Ok(true)
    })?;
    if mismatch_count > 0 {
        problems.push(format!(
            "{mismatch_count} resources are not what the migrations make of the backup: {}",
            mismatches.join("; ")
        ));
    }
    // An old version still held beside its new one would show here (and in the total).
    for (tag, n) in &staying {
        if after.count(tag) != *n {
            problems.push(format!("{tag}: {} resources still held, {n} expected", after.count(tag)));
        }
    }
    for (tag, n) in &produced {
        let found = after.count(tag).saturating_sub(before.count(tag));
        if found != *n {
            problems.push(format!("{tag}: {found} new resources, {n} expected from the backup"));
        }
    }
    for (id, n) in hook.second_pass(store)? {
        problems.push(format!("{id}: a second pass would migrate {n} more resources"));
    }
    if !problems.is_empty() {
        return Err(DevnetError::failed(format!("verify failed: {}", problems.join("; "))));
    }
    Ok(format!(
        "{replayed} migrated resources equal the migrations replayed on the backup; {} resources decode with \
         their v{to} layouts; coin supply {} conserved; a second pass migrates nothing",
        after.resources(),
        after.supply
    ))
}
