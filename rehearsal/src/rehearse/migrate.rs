//! The migration, with the loop the prologue runs: a [`Hook`] over the scratch store, called
//! block after block until every migration is done, then its idempotence checked with
//! [`Hook::second_pass`]. The hook keeps its status under a tag of its own (not the chain's),
//! removed from the state afterwards.

use crate::error::RehearsalError;
use binary_format::{Address, AddressLength};
use migrations::catalogue::Catalogue;
use migrations::store::{Store, Watched, Write, WriteBatch};
use migrations::{AccountAddress, StructTag, TypeTag};
use std::collections::{BTreeMap, BTreeSet};
use upgrade_spec::registry::ReleaseName;
use vm_hooks::{
    Budget, ChainConfig, Decision, HaltedMigration, Hook, HookConfig, Policy, RedbStore, ReleasePlan, Status,
};

/// Blocks the loop runs at most (a loop that makes no progress stops long before).
const MAX_BLOCKS: u64 = 10_000_000;

/// Governance for a rehearsal: releases start at once; a migration that fails on more accounts
/// than allowed is given up (its remaining resources stay unmigrated, and are reported).
#[derive(Debug, Clone, Copy)]
struct Rehearsal;

impl Policy for Rehearsal {
    fn may_start(&self, _release: ReleaseName, _height: u64) -> bool {
        true
    }

    fn on_halted(&self, _halted: &HaltedMigration<'_>, _height: u64) -> Decision {
        Decision::Skip
    }
}

/// What the migration did.
#[derive(Debug, Default)]
pub struct Migrated {
    pub blocks: u64,
    /// Resources written per new tag.
    pub puts: BTreeMap<StructTag, u64>,
    /// Accounts a migration failed on: (migration, account, reason).
    pub failures: Vec<(String, String, String)>,
    /// Migrations given up: (migration, why).
    pub stopped: Vec<(String, String)>,
    /// What a second pass would migrate again, per migration.
    pub second_pass: Vec<(String, u64)>,
    /// Bytes read and written by the loop.
    pub bytes: u64,
}

/// A status tag no module of the state uses.
pub fn status_tag(width: AddressLength, taken: &BTreeSet<StructTag>) -> Result<StructTag, RehearsalError> {
    for n in 0..100 {
        let name = if n == 0 { "RehearsalHook".to_owned() } else { format!("RehearsalHook{n}") };
        let tag = StructTag::parse(&format!("0x0::{name}::Status"), width)
            .map_err(|e| RehearsalError::Options(e.to_string()))?;
        if !taken.contains(&tag) {
            return Ok(tag);
        }
    }
    Err(RehearsalError::Options("the state holds every status tag the rehearsal could use".into()))
}

/// Runs the catalogue's migrations over `store` to the end.
#[allow(clippy::too_many_arguments)]
pub fn migrate(
    store: &mut RedbStore,
    catalogue: Catalogue,
    release: ReleaseName,
    instances: BTreeMap<String, Vec<Vec<TypeTag>>>,
    status_tag: &StructTag,
    system: &[Address],
    budget: Budget,
    max_failures: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Migrated, RehearsalError> {
    let width = catalogue.address_length();
    let zero = AccountAddress::zero(width);
    let system: Vec<AccountAddress> = system
        .iter()
        .map(|a| AccountAddress::from_address(*a, width))
        .collect::<Result<_, _>>()
        .map_err(|e| RehearsalError::Options(format!("--system-account: {e}")))?;
    let chain = ChainConfig::new(width, zero, status_tag.clone(), system)
        .map_err(|e| RehearsalError::Options(e.to_string()))?
        .with_budget(budget)
        .with_max_quarantined(max_failures);
    let mut config = HookConfig::new(chain);
    config.instances = instances;
    let mut hook = Hook::new(vec![ReleasePlan::new(release, 1, catalogue)], config, Box::new(Rehearsal))?;
    let mut out = Migrated::default();
    // Counts the resources each batch puts, per tag (the migrated ones; not the hook's status).
    let mut puts: BTreeMap<StructTag, u64> = BTreeMap::new();
    let mut counting = Watched {
        inner: &mut *store,
        watch: |batch: &WriteBatch| {
            for (tag, _, write) in batch.iter() {
                if matches!(write, Write::Put(_)) && tag != status_tag {
                    *puts.entry(tag.clone()).or_default() += 1;
                }
            }
            Ok(())
        },
    };
    let mut done = 0u64;
    let mut idle = 0u32;
    for block in 1..=MAX_BLOCKS {
        let report = hook.maybe_migrate(&mut counting, block)?;
        out.blocks = block;
        out.bytes += report.bytes;
        done += report.resources + report.system_resources;
        progress(done);
        if hook.all_done() {
            break;
        }
        // Each block moves a migration or gives one up; a run of idle blocks means it cannot.
        idle = if report.idle { idle + 1 } else { 0 };
        if idle > 3 {
            return Err(RehearsalError::Options("the migration loop makes no progress".into()));
        }
    }
    out.puts = puts;
    let status = Status::load(&*store, hook.chain()).map_err(vm_hooks::HookError::from)?;
    for f in status.failures() {
        if f.is_migration_failure() {
            out.stopped.push((f.migration.clone(), f.reason.clone()));
        } else {
            out.failures.push((f.migration.clone(), f.account.to_string(), f.reason.clone()));
        }
    }
    out.second_pass = hook.second_pass(&*store)?;
    let mut remove = WriteBatch::new();
    remove.delete(zero, status_tag.clone());
    store.apply(remove)?;
    Ok(out)
}
