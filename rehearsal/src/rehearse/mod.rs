//! The rehearsal: an upgrade run on a copy of a chain's state, never touching the chain.
//!
//! One streaming read of the state into a scratch store (the embedded one, redb, in a temporary
//! directory or under `--out`), every resource decoded with the old layouts on the way; the gate
//! (the checker on OLD -> NEW) and the catalogue of the declared migrations; the migrations run
//! by a [`vm_hooks::Hook`] over the scratch store, block after block, with the loop the prologue
//! runs, until all are done; their idempotence checked with a second pass; every resource
//! decoded with the new layouts; our state root before and after. Memory holds no more than a
//! batch of resources, a block's work, the layouts and bounded lists of examples: the state
//! itself lives on disk.

pub mod gate;
pub mod load;
pub mod migrate;
pub mod options;
pub mod progress;
pub mod releases;
pub mod report;
pub mod side;
pub mod verify;

pub use options::Options;
pub use progress::{Progress, Silent};
pub use report::{Report, Verdict};

use crate::error::RehearsalError;
use crate::state::{self, Context};
use binary_format::Module;
use migrations::{ReleaseIndex, StructTag, TypeTag};
use report::{Decoding, Failure, GateReport, Phase, StateReport, StructReport};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;
use upgrade_spec::declarations::Declarations;
use upgrade_spec::registry::{Registry, ReleaseName};
use vm_hooks::{RedbOptions, RedbStore, SortedState};

/// The largest resource the scratch store takes (real states hold resources of a few MiB).
pub const MAX_RESOURCE: usize = 256 << 20;
/// The snapshot file `--out DIR` writes.
pub const OUT_FILE: &str = "state.snap";

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

/// Rehearses the upgrade `options` describes. Errors are for input that cannot be rehearsed at
/// all (bad input) or a failing machine; everything else is in the report.
pub fn rehearse(options: &Options, progress: &mut dyn Progress) -> Result<Report, RehearsalError> {
    let mut phases = Phases { list: Vec::new(), started: Instant::now() };
    let (_, mut source) = state::open(&options.state, options.open)?;
    let new = releases::load(&options.to, options.address_length)?;
    let (old, from_source) = match &options.from {
        Some(from) => (releases::load(from, options.address_length)?, "given"),
        None => match releases::from_state(&mut *source, &options.state, options.address_length)? {
            Some(r) => (r, "state"),
            None => {
                return Err(RehearsalError::Options(format!(
                    "{}: the state holds no modules: name the release it was written with (--from)",
                    options.state.display()
                )))
            }
        },
    };
    let width = old.address_length;
    if new.address_length != width {
        return Err(RehearsalError::Options(format!(
            "the old release has {width}-byte addresses, the new one {}-byte ones",
            new.address_length
        )));
    }
    if let Some(w) = source.info().width.filter(|w| *w != width) {
        return Err(RehearsalError::Options(format!(
            "the state has {w}-byte addresses, the release {width}-byte ones (--address-length)"
        )));
    }
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
    let old_modules: Vec<&Module> = old.modules.iter().map(|m| &m.module).collect();
    let new_modules: Vec<&Module> = new.modules.iter().map(|m| &m.module).collect();
    let from_name = match from_source {
        "given" => options.from.as_deref().map(|p| p.display().to_string()).unwrap_or_default(),
        _ => format!("the {} modules held by the state", old_modules.len()),
    };
    let to_name = options.to.display().to_string();
    let label = releases::label(&options.to)?;

    phases.start(progress, "gate", None);
    let gate = gate::run(
        &from_name,
        &old_modules,
        &to_name,
        &new_modules,
        &label,
        registry.as_ref(),
        declarations.as_ref(),
        width,
        options.chain,
        &options.handlers,
    );
    phases.end(progress, "gate", 0, 0);

    // The scratch state: under --out when given, so that it sits where the result goes.
    let scratch = match &options.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| RehearsalError::Io { path: dir.clone(), source })?;
            tempfile::Builder::new().prefix(".rehearsal-").tempdir_in(dir)
        }
        None => tempfile::Builder::new().prefix("rehearsal-").tempdir(),
    }
    .map_err(|source| RehearsalError::Io { path: options.out.clone().unwrap_or_default(), source })?;
    // A scratch store: its cache bounds the memory the state takes, and its commits need not
    // reach the disk (it is thrown away, or exported, when the rehearsal ends).
    let scratch_options =
        RedbOptions { max_value_size: MAX_RESOURCE, cache_bytes: Some(options.cache_bytes), durable: false };
    let mut store = RedbStore::open_with(scratch.path(), scratch_options)?;
    let mut side = side::Side::create(scratch.path(), options.cache_bytes / 4)?;

    phases.start(progress, "read", None);
    let old_index = ReleaseIndex::new(old_modules.iter().copied(), width).map_err(|e| RehearsalError::Release {
        path: options.from.clone().unwrap_or_else(|| options.state.clone()),
        reason: e.to_string(),
    })?;
    let mut old_layouts = load::Layouts::new(old_index);
    let context = Context { width, modules: &old_modules };
    // Migrations of structs with type parameters run per stored instance.
    let generic: Vec<(String, binary_format::ModuleId, String)> = gate
        .catalogue
        .entries
        .iter()
        .filter(|e| {
            old_layouts
                .index()
                .module(&e.from)
                .and_then(|m| m.find_struct(&e.struct_name))
                .is_some_and(|s| !s.type_params.is_empty())
        })
        .map(|e| (e.id.clone(), e.from.clone(), e.struct_name.clone()))
        .collect();
    let loaded = load::load(
        &mut *source,
        &context,
        &mut old_layouts,
        &gate.undeclared,
        &generic,
        &mut store,
        &mut side,
        options.examples,
        &mut |n| progress.advance(n),
    )?;
    phases.end(progress, "read", loaded.bytes, loaded.resources);
    let info = source.info();

    phases.start(progress, "root-before", Some(loaded.resources));
    let mut hasher = vm_hooks::RootHasher::new();
    store.visit_sorted(&mut |prefix, account, bytes| hasher.add(prefix, account, bytes))?;
    let held = hasher.count();
    let root_before = hasher.finish();
    phases.end(progress, "root-before", loaded.bytes, loaded.resources);
    // Keys given twice (an interchange file may repeat one): the store keeps the last, and the
    // report says how many there were; copies with other bytes make the state incomplete.
    let mut loaded = loaded;
    let stored = loaded.resources;
    if held < stored {
        crate::state::duplicates::report(
            &mut *source,
            &context,
            &store,
            stored - held,
            &info.path,
            &mut loaded.problems,
        )?;
    }

    // Every generic migration is made concrete for the instances the state holds (none: the
    // migration has nothing to do).
    let mut instances: BTreeMap<String, Vec<Vec<TypeTag>>> = BTreeMap::new();
    for (id, _, _) in &generic {
        let seen = loaded.instances.get(id).map(|s| s.iter().cloned().collect()).unwrap_or_default();
        instances.insert(id.clone(), seen);
    }
    let taken: BTreeSet<StructTag> = loaded.tags.keys().cloned().collect();
    let status_tag = migrate::status_tag(width, &taken)?;
    // The rehearsal runs one upgrade: its number only orders it after nothing.
    let release = ReleaseName::new(1);
    let entries: Vec<(String, Vec<(StructTag, StructTag)>)> = gate
        .catalogue
        .entries
        .iter()
        .map(|e| {
            let args: Vec<Vec<TypeTag>> = instances.get(&e.id).cloned().unwrap_or_else(|| vec![Vec::new()]);
            let pairs = args
                .iter()
                .filter_map(|a| gate.catalogue.instance(e, a).ok())
                .map(|i| (i.old_tag, i.new_tag))
                .collect();
            (e.id.clone(), pairs)
        })
        .collect();
    let in_scope: u64 =
        entries.iter().flat_map(|(_, p)| p).map(|(old, _)| loaded.tags.get(old).copied().unwrap_or(0)).sum();

    phases.start(progress, "migrate", Some(in_scope));
    let migrated = migrate::migrate(
        &mut store,
        gate.catalogue.clone(),
        release,
        instances,
        &status_tag,
        &options.system_accounts,
        options.budget,
        options.max_failures,
        &mut |n| progress.advance(n),
    )?;
    phases.end(progress, "migrate", migrated.bytes, in_scope);

    phases.start(progress, "decode-after", Some(loaded.resources));
    let new_index = ReleaseIndex::new(new_modules.iter().copied(), width)
        .map_err(|e| RehearsalError::Release { path: options.to.clone(), reason: e.to_string() })?;
    let mut new_layouts = load::Layouts::new(new_index);
    let after = verify::scan(&store, &mut new_layouts, &side, width, options.examples, &mut |n| progress.advance(n))?;
    phases.end(progress, "decode-after", after.bytes, after.resources);

    let mut out_path = None;
    if let Some(dir) = &options.out {
        phases.start(progress, "export", Some(after.resources));
        let path = dir.join(OUT_FILE);
        let (height, chain) = info.snapshot.clone().unwrap_or_else(|| {
            (
                0,
                serde_json::json!({"rehearsal": {"state": info.path, "format": info.format, "from": from_name, "to": to_name}}),
            )
        });
        crate::snapshot::export(&store, height, chain, width, &path)?;
        phases.end(progress, "export", after.bytes, after.resources);
        out_path = Some(path.display().to_string());
    }

    // Per migration and instance.
    let mut structs = Vec::new();
    let mut failed = 0u64;
    for (id, pairs) in &entries {
        let failures: Vec<Failure> = migrated
            .failures
            .iter()
            .filter(|(m, _, _)| m == id)
            .map(|(_, account, reason)| Failure { account: account.clone(), reason: reason.clone() })
            .collect();
        failed += failures.len() as u64;
        let mut first = true;
        for (old_tag, new_tag) in pairs {
            let found = loaded.tags.get(old_tag).copied().unwrap_or(0);
            let in_place = old_tag == new_tag;
            let f: Vec<Failure> = if first { failures.clone() } else { Vec::new() };
            first = false;
            let left = if in_place { f.len() as u64 } else { after.tags.get(old_tag).copied().unwrap_or(0) };
            structs.push(StructReport {
                r#struct: format!("{old_tag} -> {new_tag}"),
                migration: id.clone(),
                instances: found,
                migrated: migrated.puts.get(new_tag).copied().unwrap_or(0),
                failed: f.len() as u64,
                left_on_old_version: left,
                failures: f,
            });
        }
    }
    let total_migrated: u64 = structs.iter().map(|s| s.migrated).sum();
    let left: u64 = structs.iter().map(|s| s.left_on_old_version.saturating_sub(s.failed)).sum();

    let mut reasons = Vec::new();
    let halting: u64 = loaded.halts.values().map(|h| h.accounts).sum();
    if halting > 0 {
        reasons.push(format!(
            "{halting} stored resources of {} structs change layout with no migration declared",
            loaded.halts.len()
        ));
    }
    if !gate.catalogue_problems.is_empty() {
        reasons.push(format!("{} declared migrations cannot be used (see the gate)", gate.catalogue_problems.len()));
    }
    if failed > 0 {
        reasons.push(format!("migrations failed on {failed} accounts"));
    }
    for (id, why) in &migrated.stopped {
        reasons.push(format!("migration {id} stopped: {why}"));
    }
    if left > 0 {
        reasons.push(format!("{left} resources stay on a closed old version (outside their migration's scope)"));
    }
    let removed: u64 = after.removed.values().map(|r| r.resources).sum();
    if removed > 0 {
        reasons.push(format!("{removed} resources of structs the new release removed"));
    }
    if after.broken_by_upgrade > 0 {
        reasons.push(format!("{} resources decode before the upgrade and not after", after.broken_by_upgrade));
    }
    for (id, n) in &migrated.second_pass {
        reasons.push(format!("a second pass of {id} changes {n} resources (not idempotent)"));
    }
    let verdict = if reasons.is_empty() { Verdict::Safe } else { Verdict::WouldBreak };
    let root_verified = info.chain_root.as_ref().map(|r| r.verified);
    let complete = !loaded.problems.skipped_any();
    Ok(Report {
        schema: 1,
        state: StateReport {
            format: info.format,
            path: info.path.clone(),
            detail: info.detail.clone(),
            accounts: side.accounts()?,
            resources: loaded.resources,
            root_verified,
            chain_root: info.chain_root.clone(),
            problems: loaded.problems,
        },
        from: from_name,
        from_source,
        to: to_name,
        gate: GateReport {
            passes: gate.passes,
            unhandled: gate.unhandled,
            problems: gate.problems,
            catalogue_problems: gate.catalogue_problems,
            chain: Some(gate.chain.clone()),
        },
        before: Decoding {
            decoded: loaded.decoded,
            undecodable: loaded.undecodable,
            broken_by_upgrade: None,
            examples: loaded.undecodable_examples,
        },
        after: Decoding {
            decoded: after.decoded,
            undecodable: after.undecodable,
            broken_by_upgrade: Some(after.broken_by_upgrade),
            examples: after.examples,
        },
        migrated: total_migrated,
        failed,
        would_halt: loaded.halts.into_values().collect(),
        removed: after.removed.into_values().collect(),
        structs,
        second_pass: migrated.second_pass,
        size_before: loaded.bytes,
        size_after: after.bytes,
        resources_after: after.resources,
        root_before: root_before.to_string(),
        root_after: after.root.map(|r| r.to_string()).unwrap_or_default(),
        chain_root_after: None,
        out: out_path,
        blocks: migrated.blocks,
        phases: phases.list,
        verdict,
        reasons,
        complete,
    })
}
