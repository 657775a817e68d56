//! The rehearsal: an upgrade run on a copy of a chain's state, never touching the chain.
//!
//! The state is read in place: a snapshot in canonical key order is the source itself, and any
//! other source (JSON Lines, a backup ordered by hashes) is sorted once into one, in bounded
//! memory. Then, on every thread, for its key range of the state:
//! 1. **migrate**: a [`vm_hooks::Hook`] over an overlay of the source (the source read, never
//!    written; the hook's writes kept beside it, spilled to disk past a budget), called block
//!    after block with the loop the prologue runs, until every migration is done;
//! 2. **pass** (over its own key ranges, four a thread, taken in turn, balanced over the source
//!    and the values put): the source and every range's writes merged in key order, in one
//!    read: every resource decoded before (old layouts) and after (new layouts), both roots, every
//!    stored instance of a changed struct accounted for (migrated, failed, or left behind with
//!    why), the instances that would halt the chain named.
//! 3. **second pass**, only when the pass found values left on the old version: the migrations
//!    run once more over the migrated state, to say which would change it again (the only
//!    values a second pass can migrate are values left: see [`migrate`]).
//!
//! The ranges' results join in key order: the report (and the `--out` snapshot) is the same on
//! any number of threads. Memory holds the migration's writes up to a budget, a block of the
//! file per thread, the layouts and bounded lists of examples; the state itself stays on disk.

pub mod distinct;
pub mod findings;
pub mod gate;
pub mod instances;
pub mod layouts;
pub mod migrate;
pub mod options;
pub mod out;
pub mod overlay;
pub mod pass;
pub mod progress;
pub mod ranges;
pub mod releases;
pub mod report;
pub mod run_file;
pub mod scratch;
pub mod sorted;
pub mod tables;

pub use options::Options;
pub use progress::{Progress, Silent};
pub use report::{Report, Verdict};

use crate::error::RehearsalError;
use crate::state::{self, Context, Problem, ProblemKind, Problems};
use binary_format::Module;
use compat_checker::chain::ReleaseView;
use migrations::runner::MigratedTable;
use migrations::{AccountAddress, TypeTag};
use overlay::Overlay;
use pass::{Partial, PassInput};
use report::Phase;
use scratch::Scratch;
use serde::Serialize;
use snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use upgrade_spec::declarations::Scope;
use upgrade_spec::{Declarations, Registry, ReleaseId};
use vm_hooks::{Budget, StateRoot};

/// The snapshot file `--out DIR` writes.
pub const OUT_FILE: &str = "state.snap";
/// The tables the release rewrites, written beside it (`--out DIR/tables.json`): what a node's
/// release plan takes, as a JSON array of `{"handle", "value_type"}`, sorted by handle.
pub const TABLES_FILE: &str = "tables.json";
/// The pass's key ranges per thread, when there are several threads.
const PASS_TASKS_PER_THREAD: usize = 4;
/// The sorted copy of a source not in key order, in the scratch directory.
const SORTED_FILE: &str = "sorted.snap";

/// A list kept to its first `max` items, with the count of all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bounded<T> {
    pub total: u64,
    items: Vec<T>,
    #[serde(skip)]
    max: usize,
}

impl<T> Default for Bounded<T> {
    fn default() -> Self {
        Bounded::new(0)
    }
}

impl<T> Bounded<T> {
    pub fn new(max: usize) -> Bounded<T> {
        Bounded { total: 0, items: Vec::new(), max }
    }

    pub fn push(&mut self, item: T) {
        self.total += 1;
        if self.items.len() < self.max {
            self.items.push(item);
        }
    }

    pub fn items(&self) -> &[T] {
        &self.items
    }

    pub fn items_mut(&mut self) -> &mut [T] {
        &mut self.items
    }

    /// Counts an item, building it with `make` only if it is kept.
    pub fn push_with(&mut self, make: impl FnOnce() -> T) {
        self.total += 1;
        if self.items.len() < self.max {
            self.items.push(make());
        }
    }

    /// Whether a pushed item would be kept (callers skip building one that would not).
    pub fn wants_more(&self) -> bool {
        self.items.len() < self.max
    }

    /// Counts one item without keeping it.
    pub fn count_one(&mut self) {
        self.total += 1;
    }

    /// This list followed by `other` (the next key range's): the first items of both, in order.
    /// (An empty default list takes the other's bound: merging starts from one.)
    pub fn extend(&mut self, other: Bounded<T>) {
        self.max = self.max.max(other.max);
        self.total += other.total;
        let room = self.max.saturating_sub(self.items.len());
        self.items.extend(other.items.into_iter().take(room));
    }
}

/// Times the phases.
struct Phases {
    list: Vec<Phase>,
    started: Instant,
}

impl Phases {
    fn start(&mut self, progress: &mut dyn Progress, name: &str, total: Option<u64>) {
        progress.start(name, total);
        self.started = Instant::now();
    }

    fn end(&mut self, progress: &mut dyn Progress, name: &str, bytes: u64, resources: u64) {
        progress.finish();
        self.list.push(Phase::new(name, self.started.elapsed().as_secs_f64(), bytes, resources));
    }
}

/// Counts a worker finished and wakes the thread waiting for them when dropped: when the worker
/// returns, and when it panics too (the waiting thread would wait for ever).
struct Finish<'a> {
    finished: &'a AtomicUsize,
    waiting: std::thread::Thread,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.finished.fetch_add(1, Ordering::Release);
        self.waiting.unpark();
    }
}

/// Runs `work` on one thread per range, showing the progress they count together, and returns
/// their results in range order.
fn on_threads<T: Send>(
    ranges: usize,
    progress: &mut dyn Progress,
    work: &(dyn Fn(usize, &AtomicU64) -> Result<T, RehearsalError> + Sync),
) -> Result<Vec<T>, RehearsalError> {
    on_pool(ranges, ranges, progress, work)
}

/// Runs `work` for each of `tasks` on `threads` threads, each taking the next task not taken
/// when it is done with one, showing the progress they count together, and returns the tasks'
/// results in task order. More tasks than threads even out tasks of unequal cost (a range's
/// cost depends on what it holds, which its size only estimates); which thread ran a task never
/// changes its result.
fn on_pool<T: Send>(
    tasks: usize,
    threads: usize,
    progress: &mut dyn Progress,
    work: &(dyn Fn(usize, &AtomicU64) -> Result<T, RehearsalError> + Sync),
) -> Result<Vec<T>, RehearsalError> {
    let threads = threads.clamp(1, tasks.max(1));
    let done = AtomicU64::new(0);
    let next = AtomicUsize::new(0);
    // Set by a task that fails: no task is taken after it (its error is the first in order).
    let stop = std::sync::atomic::AtomicBool::new(false);
    // Workers that returned; the last one wakes this thread at once (a phase ends when its
    // slowest task does, not at the next tick of the progress display).
    let finished = AtomicUsize::new(0);
    let waiting = std::thread::current();
    let results: Vec<std::sync::Mutex<Option<Result<T, RehearsalError>>>> =
        (0..tasks).map(|_| std::sync::Mutex::new(None)).collect();
    let panicked = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn({
                    let (done, next, stop, finished, waiting, results) =
                        (&done, &next, &stop, &finished, waiting.clone(), &results);
                    move || {
                        let _finish = Finish { finished, waiting };
                        while !stop.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(slot) = results.get(i) else { break };
                            let result = work(i, done);
                            let failed = result.is_err();
                            if let Ok(mut slot) = slot.lock() {
                                *slot = Some(result);
                            }
                            if failed {
                                stop.store(true, Ordering::Relaxed);
                            }
                        }
                    }
                })
            })
            .collect();
        while finished.load(Ordering::Acquire) < handles.len() {
            progress.advance(done.load(Ordering::Relaxed));
            std::thread::park_timeout(Duration::from_millis(50));
        }
        progress.advance(done.load(Ordering::Relaxed));
        // Every thread joined (not stopping at the first that panicked).
        let mut panicked = false;
        for h in handles {
            panicked |= h.join().is_err();
        }
        panicked
    });
    if panicked {
        return Err(RehearsalError::Thread("a thread panicked".into()));
    }
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                // A task no thread ran: one before it failed, and that error comes first.
                .unwrap_or_else(|| Err(RehearsalError::Thread("a task was not run after an error".into())))
        })
        .collect()
}

/// Checks `--out DIR` before any work: the directory can be made, and the snapshot it would
/// hold does not exist.
fn check_out(options: &Options) -> Result<(), RehearsalError> {
    let Some(dir) = &options.out else { return Ok(()) };
    std::fs::create_dir_all(dir).map_err(|source| RehearsalError::Io { path: dir.clone(), source })?;
    let path = dir.join(OUT_FILE);
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(RehearsalError::Options(format!(
            "--out: {} exists: a rehearsal never overwrites a file",
            path.display()
        )));
    }
    Ok(())
}

/// The old release as the modules the state holds, named for the report.
fn old_from_state(
    source: &mut dyn crate::state::StateSource,
    options: &Options,
) -> Result<(::releases::Release, String, &'static str), RehearsalError> {
    match releases::from_state(source, &options.state, options.address_length)? {
        Some(r) => {
            let name = format!("the {} modules held by the state", r.modules.len());
            Ok((r, name, "state"))
        }
        None => Err(RehearsalError::Options(format!(
            "{}: the state holds no modules: name the release it was written with (--from)",
            options.state.display()
        ))),
    }
}

/// Rehearses the upgrade `options` describes. Errors are for input that cannot be rehearsed at
/// all (bad input) or a failing machine; everything else is in the report.
pub fn rehearse(options: &Options, progress: &mut dyn Progress) -> Result<Report, RehearsalError> {
    let mut phases = Phases { list: Vec::new(), started: Instant::now() };
    check_out(options)?;
    let threads = options.threads.max(1);
    // An Aptos-based backup is read on the same threads, within a quarter of the memory (the
    // sort it feeds takes the rest).
    let mut open = options.open;
    open.aptos.threads = threads;
    open.aptos.memory = (options.cache_bytes / 4).max(1);
    let (_, mut source) = state::open(&options.state, open)?;
    let new = releases::load(&options.to, options.address_length)?;
    // The old release: given, or the state's modules. A source that collects its modules while
    // it hands its entries on is sorted first and read once (an Aptos-based backup read twice
    // spent a third of its rehearsal in the modules' pass); any other is asked for its modules
    // now, before the long read, as its entries may need them.
    let sort_first = options.from.is_none()
        && source.in_place().is_none()
        && source.info().width.is_some()
        && source.collect_modules_with_entries();
    let early = match &options.from {
        Some(from) => Some((releases::load(from, options.address_length)?, from.display().to_string(), "given")),
        None if !sort_first => Some(old_from_state(&mut *source, options)?),
        None => None,
    };
    let width = match (&early, source.info().width) {
        (Some((old, ..)), _) => old.address_length,
        (None, Some(w)) => w,
        (None, None) => return Err(RehearsalError::Options("the state's address width is not known".into())),
    };
    if let Some(asked) = options.address_length.filter(|a| early.is_none() && *a != width) {
        return Err(RehearsalError::Options(format!(
            "the state has {width}-byte addresses, --address-length {asked}-byte ones"
        )));
    }
    if new.address_length != width {
        let old = if early.is_some() { "the old release" } else { "the state" };
        return Err(RehearsalError::Options(format!(
            "{old} has {width}-byte addresses, the new release {}-byte ones",
            new.address_length
        )));
    }
    if let Some(w) = source.info().width.filter(|w| *w != width) {
        return Err(RehearsalError::Options(format!(
            "the state has {w}-byte addresses, the release {width}-byte ones (--address-length)"
        )));
    }
    let system: Vec<AccountAddress> = options
        .system_accounts
        .iter()
        .map(|a| AccountAddress::from_address(*a, width))
        .collect::<Result<_, _>>()
        .map_err(|e| RehearsalError::Options(format!("--system-account: {e}")))?;
    let registry = options
        .registry
        .as_deref()
        .map(Registry::load_unchecked)
        .transpose()
        .map_err(|e| RehearsalError::Config(e.to_string()))?;
    let declarations = options
        .migrations
        .as_deref()
        .map(Declarations::load)
        .transpose()
        .map_err(|e| RehearsalError::Config(e.to_string()))?;
    let new_modules: Vec<&Module> = new.modules.iter().map(|m| &m.module).collect();
    let to_name = options.to.display().to_string();
    let label = releases::label(&options.to)?;
    // In `--out`'s folder (the migrated state is moved into place from there), or the temp dir.
    let (place, prefix) = match &options.out {
        Some(dir) => (dir.clone(), ".rehearsal-"),
        None => (std::env::temp_dir(), "rehearsal-"),
    };
    let (scratch, leftovers_removed) =
        Scratch::new(&place, prefix).map_err(|source| RehearsalError::Io { path: place.clone(), source })?;

    // The source, in canonical key order.
    let mut problems = Problems::default();
    let value_budget = options.value_budget();
    let early_modules: Vec<&Module> =
        early.as_ref().map(|(old, ..)| old.modules.iter().map(|m| &m.module).collect()).unwrap_or_default();
    let context = Context { width, modules: &early_modules, value_budget };
    let sorted_copy: Option<Snapshot>;
    let mut origins = None;
    let mut repeated = 0u64;
    if source.in_place().is_none() {
        phases.start(progress, "sort", None);
        let (snap, table, sorted) = sorted::sort_into(
            &mut *source,
            &context,
            &mut problems,
            scratch.path(),
            &scratch.path().join(SORTED_FILE),
            width,
            options.cache_bytes,
            options.examples,
            &mut |n| progress.advance(n),
        )?;
        repeated = sorted.repeated;
        origins = Some(table);
        phases.end(progress, "sort", snap.info().bytes, sorted.read);
        sorted_copy = Some(snap);
    } else {
        sorted_copy = None;
    }
    let (old, from_name, from_source) = match early {
        Some(given) => given,
        None => {
            let (old, name, from) = old_from_state(&mut *source, options)?;
            if old.address_length != width {
                return Err(RehearsalError::Options(format!(
                    "the state has {width}-byte addresses, its modules {}-byte ones",
                    old.address_length
                )));
            }
            (old, name, from)
        }
    };
    let old_modules: Vec<&Module> = old.modules.iter().map(|m| &m.module).collect();
    let info = source.info();
    let base: &Snapshot = match (&sorted_copy, source.in_place()) {
        (Some(s), _) => s,
        (None, Some(s)) => s,
        (None, None) => return Err(RehearsalError::Options("the state could not be read in order".into())),
    };

    phases.start(progress, "gate", None);
    let (old_view, new_view) = (ReleaseView::of_release(&old), ReleaseView::of_release(&new));
    // The state's format is evidence of the chain that wrote it: only Aptos-based chains write
    // Aptos-format backups.
    let mut choice = options.chain;
    if info.format == "aptos-backup" && choice.hint.is_none() {
        choice.hint = Some(compat_checker::chain::detect::Hint::AptosBackup);
    }
    let gate = gate::run(
        gate::Releases { old_name: &from_name, old: &old_view, new_name: &to_name, new: &new_view },
        &label,
        registry.as_ref(),
        declarations.as_ref(),
        width,
        choice,
        &options.handlers,
    )
    .map_err(|e| RehearsalError::Options(e.to_string()))?;
    phases.end(progress, "gate", 0, 0);

    // The tables' types: stated by the user and the source, and found in the state.
    phases.start(progress, "tables", None);
    let mut stated = options.table_types.clone();
    stated.extend(source.table_types());
    let resolution = tables::resolve(base, &old_modules, width, &stated, options.examples, value_budget)?;
    phases.end(progress, "tables", 0, resolution.found);
    for (handle, items) in resolution.unresolved.items() {
        problems.add(
            Problem {
                kind: ProblemKind::UnresolvedTable,
                origin: info.path.clone(),
                key: Some(format!("table {handle}")),
                message: format!(
                    "{items} items of a table whose types nothing gives (no value of the state holds it): name them with --table-types"
                ),
            },
            *items,
        );
    }
    if let Some(first) = resolution.over_budget.items().first() {
        problems.add(
            Problem {
                kind: ProblemKind::ValueBudget,
                origin: info.path.clone(),
                key: Some(first.clone()),
                message: format!(
                    "{} values that can hold tables would take more than the {value_budget} bytes of memory one value is given if decoded: the tables they hold are not found from them (--cache-mb)",
                    resolution.over_budget.total
                ),
            },
            0,
        );
    }
    for conflict in resolution.conflicts.items() {
        problems.add(
            Problem {
                kind: ProblemKind::TableConflict,
                origin: info.path.clone(),
                key: None,
                message: conflict.clone(),
            },
            0,
        );
    }
    // The tables the migrations rewrite: those whose values are instances of a migrated
    // struct whose migration may write them (a system-scoped one may not: items belong to no
    // account).
    let migrated_tables: Vec<MigratedTable> = resolution
        .types
        .iter()
        .filter_map(|(handle, t)| match &t.value {
            TypeTag::Struct(tag) => gate
                .catalogue
                .entries
                .iter()
                .find(|e| tag.module_id() == e.from && tag.name == e.struct_name && e.scope != Scope::System)
                .map(|_| MigratedTable { handle: *handle, value: (**tag).clone() }),
            _ => None,
        })
        .collect();
    let migrated_handles: BTreeSet<AccountAddress> = migrated_tables.iter().map(|t| t.handle).collect();

    // The rehearsal runs one upgrade: its number only orders it after nothing.
    let release = ReleaseId::new(1, label.clone());
    // Key ranges: one per thread, each starting at a restart point of the source, sharing the
    // loop's work (what its migrations walk).
    let walked = {
        let whole = migrate::chain(&gate.catalogue, &system, options.budget, snapshot::MAX_VALUE)?;
        migrate::walked(&gate.catalogue, &migrated_tables, &release, &whole)?
    };
    let ranges = ranges::loop_ranges(base, threads, &walked);
    let bounds = ranges::bounds_of(base, &ranges);
    // A block's writes are held until it ends, and the overlays' share one budget: each thread
    // takes its share of both, so that memory does not grow with the threads either.
    let shares = u64::try_from(ranges.len().max(1)).unwrap_or(1);
    let budget = Budget {
        max_resources: (options.budget.max_resources / shares).max(1),
        max_bytes: (options.budget.max_bytes / shares).max(1),
    };
    let chain = migrate::chain(&gate.catalogue, &system, budget, snapshot::MAX_VALUE)?;
    let memory = options.cache_bytes / ranges.len().max(1);

    let in_scope = base.info().entries;
    phases.start(progress, "migrate", Some(in_scope));
    let migrated = on_threads(ranges.len(), progress, &|i, done| {
        let (lo, hi) = bounds.get(i).cloned().unwrap_or_default();
        let mut last = 0u64;
        migrate::migrate_range(
            base,
            lo,
            hi,
            &gate.catalogue,
            &migrated_tables,
            &release,
            &chain,
            memory,
            scratch.path(),
            (&format!("writes-{i}"), ranges.len()),
            &mut |n| {
                done.fetch_add(n.saturating_sub(last), Ordering::Relaxed);
                last = n;
            },
        )
    })?;
    let (overlays, results): (Vec<Overlay<'_>>, Vec<migrate::Migrated>) = migrated.into_iter().unzip();
    let migrate_bytes: u64 = results.iter().map(|r| r.bytes).sum();
    phases.end(progress, "migrate", migrate_bytes, results.iter().map(|r| r.puts).sum());

    let mut failures: BTreeMap<Vec<u8>, (String, String)> = BTreeMap::new();
    let mut stopped = Vec::new();
    for r in &results {
        for (id, key, reason) in &r.failures {
            failures.insert(key.clone(), (id.clone(), reason.clone()));
        }
        stopped.extend(r.stopped.iter().cloned());
    }
    stopped.sort();
    stopped.dedup();

    // The pass's key ranges balance the source's entries and the values put: a versioned
    // migration moves values to keys that may all lie in one range of the source.
    let sorted = |of: fn(&migrate::Migrated) -> &migrate::Samples| {
        let mut all: Vec<(&[u8], u64)> =
            results.iter().flat_map(|r| of(r).keys.iter().map(|(k, w)| (k.as_slice(), *w))).collect();
        all.sort_unstable();
        all
    };
    let (puts, deletes) = (sorted(|r| &r.put_samples), sorted(|r| &r.delete_samples));
    // More ranges than threads, taken in turn: a range's cost depends on what it holds (a
    // source entry a versioned migration deleted costs the pass more than one it put), which
    // the balance only estimates.
    let pass_tasks = if threads > 1 { threads * PASS_TASKS_PER_THREAD } else { 1 };
    let pass_ranges = ranges::balanced_ranges(base, pass_tasks, &puts, &deletes);
    phases.start(progress, "pass", Some(base.info().entries));
    let input = PassInput {
        base,
        overlays: &overlays,
        old: &old_modules,
        new: &new_modules,
        width,
        needs: &gate.needs,
        failures: &failures,
        system_accounts: &system,
        examples: options.examples,
        tables: &resolution.types,
        migrated_tables: &migrated_handles,
        value_budget,
    };
    let partials = on_pool(pass_ranges.len(), threads, progress, &|i, done| {
        let Some(range) = pass_ranges.get(i) else { return Ok(Partial::default()) };
        pass::pass_range(&input, range.restart, &range.lo, range.hi.as_deref(), i == 0, done)
    })?;
    let mut all = Partial::default();
    for p in partials {
        all.merge(p);
    }
    // Each example names where it was read: the place in the input the sort recorded, or the
    // byte of the snapshot read in place.
    for example in all.before.examples.items_mut().iter_mut().chain(all.after.examples.items_mut()) {
        if let Some((number, offset)) = example.entry {
            example.origin = match &origins {
                Some(table) => table.of(number),
                None => Some(format!("{} at byte {offset}", options.state.display())),
            };
        }
    }
    phases.end(progress, "pass", all.before.bytes + all.after.bytes, all.before.entries);
    // Only values the pass found left on the old version can be migrated again (see
    // `migrate`): with none, a second pass has nothing to do and is not run.
    let mut second_pass: BTreeMap<String, u64> = BTreeMap::new();
    if all.instances.left() > 0 {
        phases.start(progress, "second-pass", None);
        let passes = on_threads(overlays.len(), progress, &|i, _done| match overlays.get(i) {
            Some(overlay) => migrate::second_pass(overlay, &gate.catalogue, &migrated_tables, &release, &chain),
            None => Ok(Vec::new()),
        })?;
        for (id, n) in passes.into_iter().flatten() {
            *second_pass.entry(id).or_default() += n;
        }
        phases.end(progress, "second-pass", 0, 0);
    }
    let (all_table_values, all_members) = (all.table_values, all.members);
    let root_before = StateRoot::of_runs([all.before.pages.clone()]);
    let root_after = StateRoot::of_runs([all.after.pages.clone()]);
    // A snapshot read in place is verified by this very pass: its root must be the footer's.
    let mut chain_root = info.chain_root.clone();
    if sorted_copy.is_none() {
        if root_before != base.info().state_root {
            return Err(RehearsalError::Out(snapshot::SnapshotError::RootMismatch {
                path: options.state.clone(),
                expected: base.info().state_root,
                found: root_before,
            }));
        }
        if let Some(r) = &mut chain_root {
            r.verified = true;
        }
    }

    let mut out_path = None;
    if let Some(dir) = &options.out {
        phases.start(progress, "export", Some(all.after.entries));
        let path = dir.join(OUT_FILE);
        let (height, params) = info.snapshot.clone().unwrap_or_else(|| {
            (
                0,
                serde_json::json!({"rehearsal": {"state": info.path, "format": info.format, "from": from_name, "to": to_name}}),
            )
        });
        out::write(base, &overlays, &path, height, params, width)?;
        // The table list a node's release plan takes (`ReleasePlan::with_tables`).
        out::write_tables(&dir.join(TABLES_FILE), &migrated_tables)?;
        phases.end(progress, "export", all.after.bytes, all.after.entries);
        out_path = Some(path.display().to_string());
    }
    drop(overlays);
    Ok(report::build(report::Parts {
        options,
        info,
        chain_root,
        problems,
        repeated,
        from: from_name,
        from_source,
        to: to_name,
        gate,
        all,
        stopped,
        second_pass: second_pass.into_iter().collect(),
        root_before,
        root_after,
        out: out_path,
        blocks: results.iter().map(|r| r.blocks).sum(),
        threads: ranges.len(),
        leftovers_removed,
        phases: phases.list,
        tables: report::TablesReport {
            known: resolution.types.len() as u64,
            found: resolution.found,
            stated: resolution.stated,
            rewritten: migrated_tables.len() as u64,
            unresolved: resolution.unresolved.total,
            unresolved_items: resolution.unresolved_items,
            values: all_table_values,
            members: all_members,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::{on_pool, on_threads, Bounded, Silent};
    use crate::error::RehearsalError;

    /// Results come in range order whichever thread ends first, and a thread that panics is an
    /// error, not a wait for ever.
    #[test]
    fn threads_give_their_results_in_order_and_a_panic_is_an_error() {
        let out = on_threads(4, &mut Silent, &|i, done| {
            std::thread::sleep(std::time::Duration::from_millis(((4 - i) * 5) as u64));
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(i * 10)
        })
        .unwrap();
        assert_eq!(out, [0, 10, 20, 30]);
        let panicked = on_threads(3, &mut Silent, &|i, _| {
            if i == 1 {
                panic!("a worker fails");
            }
            Ok(i)
        });
        assert!(matches!(panicked, Err(RehearsalError::Thread(_))), "{panicked:?}");
    }

    /// More tasks than threads: every task runs once, results in task order; a failing task's
    /// error is the result, the first in task order.
    #[test]
    fn a_pool_runs_every_task_once_and_gives_results_in_task_order() {
        let ran = std::sync::atomic::AtomicUsize::new(0);
        let out = on_pool(9, 2, &mut Silent, &|i, _| {
            std::thread::sleep(std::time::Duration::from_millis(((9 - i) % 4) as u64));
            ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(i)
        })
        .unwrap();
        assert_eq!(out, (0..9).collect::<Vec<_>>());
        assert_eq!(ran.load(std::sync::atomic::Ordering::Relaxed), 9);
        let failed = on_pool(9, 2, &mut Silent, &|i, _| {
            if i == 4 {
                return Err(RehearsalError::Options("task 4".into()));
            }
            Ok(i)
        });
        assert!(matches!(&failed, Err(RehearsalError::Options(m)) if m == "task 4"), "{failed:?}");
    }

    #[test]
    fn examples_merged_in_range_order_keep_the_first_and_count_all() {
        let range = |items: &[u32]| {
            let mut b = Bounded::new(3);
            for i in items {
                b.push(*i);
            }
            b
        };
        // Merging starts from an empty default list, as the pass's does.
        let mut all = Bounded::default();
        all.extend(range(&[1, 2]));
        all.extend(range(&[]));
        all.extend(range(&[3, 4, 5, 6]));
        assert_eq!(all.items(), [1, 2, 3]);
        assert_eq!(all.total, 6);
    }
}
