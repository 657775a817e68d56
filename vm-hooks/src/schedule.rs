//! The schedule: which migrations run, in what order, from which block, built once.
//!
//! The prologue runs every block, and in almost every block nothing is due; so everything that
//! does not depend on state (each catalogue entry made concrete for its stored instances, its
//! runner, which module versions close when, which entry produces which struct tag) is worked
//! out when the node starts, and the hook's hot path only compares a height.
//!
//! Order: releases by activation height; within a release, the catalogue's order (the order of
//! the declarations file, which the catalogue's history check holds fixed).

use binary_format::ModuleId;
use migrations::catalogue::{Catalogue, CatalogueError, Checksum, Instance};
use migrations::core_types::module_id_of_tag;
use migrations::runner::Runner;
use migrations::{StructTag, TypeTag};
use std::collections::BTreeMap;
use stdlib::declarations::Scope;
use stdlib::registry::ReleaseName;

/// Work allowed per block for user-account migrations. System-account migrations are not
/// counted: they must finish in their activation block whatever it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Resources visited (migrated or failed).
    pub max_resources: u64,
    /// Bytes read plus bytes written. A resource larger than this alone is migrated alone in a
    /// block (otherwise it would never be), the only time a block goes over.
    pub max_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { max_resources: 1_000, max_bytes: 1 << 20 }
    }
}

/// How the hook runs migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    pub budget: Budget,
    /// Accounts a migration may quarantine before it is deemed broken (its transform, not the
    /// accounts): it then halts, its chunk is rolled back, and governance decides.
    pub max_quarantined: u64,
    /// The stored instances of entries whose struct has type parameters, by entry id:
    /// `coin-balance-v2` -> `[[0x1::GAS::GAS]]`. Entries not listed have one instance with no
    /// type arguments. The store cannot list the instantiations it holds, so the node says.
    pub instances: BTreeMap<String, Vec<Vec<TypeTag>>>,
}

impl Default for HookConfig {
    fn default() -> Self {
        HookConfig { budget: Budget::default(), max_quarantined: 16, instances: BTreeMap::new() }
    }
}

/// A release and the block its migrations become due.
#[derive(Debug, Clone)]
pub struct ReleasePlan {
    pub release: ReleaseName,
    pub height: u64,
    /// The catalogue of the release (from its predecessor).
    pub catalogue: Catalogue,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("releases must be given in increasing order of release and height: {release} at {height} comes after {previous_release} at {previous_height}")]
    Order { release: ReleaseName, height: u64, previous_release: ReleaseName, previous_height: u64 },
    #[error("the budget must allow at least one resource and one byte per block")]
    EmptyBudget,
    #[error("migration `{id}` is in two releases")]
    DuplicateId { id: String },
    #[error("instances are configured for `{id}`, which no release has")]
    UnknownInstances { id: String },
    #[error("migration `{id}`: {source}")]
    Instance { id: String, source: CatalogueError },
}

/// One entry, concrete.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub id: String,
    pub release: ReleaseName,
    /// Position of its release in the schedule.
    pub release_index: usize,
    pub checksum: Checksum,
    pub scope: Scope,
    pub instances: Vec<(Instance, Runner)>,
}

impl Unit {
    pub fn has_system_part(&self) -> bool {
        matches!(self.scope, Scope::System | Scope::Both)
    }

    pub fn has_user_part(&self) -> bool {
        matches!(self.scope, Scope::Users | Scope::Both)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    /// (release, height), in order.
    pub releases: Vec<(ReleaseName, u64)>,
    pub units: Vec<Unit>,
    pub catalogues: Vec<Catalogue>,
    /// New struct tag -> (unit, instance) that produces it.
    pub producers: BTreeMap<StructTag, (usize, usize)>,
    /// Old struct tag -> (unit, instance) that reads it.
    pub consumers: BTreeMap<StructTag, (usize, usize)>,
    /// Module versions that close when a release activates -> that release's position.
    pub closes: BTreeMap<ModuleId, usize>,
}

impl Schedule {
    pub fn new(plans: Vec<ReleasePlan>, config: &HookConfig) -> Result<Schedule, ScheduleError> {
        if config.budget.max_resources == 0 || config.budget.max_bytes == 0 {
            return Err(ScheduleError::EmptyBudget);
        }
        let mut schedule = Schedule {
            releases: Vec::new(),
            units: Vec::new(),
            catalogues: Vec::new(),
            producers: BTreeMap::new(),
            consumers: BTreeMap::new(),
            closes: BTreeMap::new(),
        };
        let mut seen_instances = 0;
        for (release_index, plan) in plans.into_iter().enumerate() {
            if let Some(&(previous_release, previous_height)) = schedule.releases.last() {
                if plan.release <= previous_release || plan.height <= previous_height {
                    return Err(ScheduleError::Order {
                        release: plan.release,
                        height: plan.height,
                        previous_release,
                        previous_height,
                    });
                }
            }
            schedule.releases.push((plan.release, plan.height));
            for entry in &plan.catalogue.entries {
                if schedule.units.iter().any(|u| u.id == entry.id) {
                    return Err(ScheduleError::DuplicateId { id: entry.id.clone() });
                }
                let args = match config.instances.get(&entry.id) {
                    Some(args) => {
                        seen_instances += 1;
                        args.clone()
                    }
                    None => vec![Vec::new()],
                };
                let mut instances = Vec::with_capacity(args.len());
                for a in &args {
                    let instance = plan
                        .catalogue
                        .instance(entry, a)
                        .map_err(|source| ScheduleError::Instance { id: entry.id.clone(), source })?;
                    let runner = Runner::for_instance(&instance, entry.scope);
                    schedule.producers.insert(instance.new_tag.clone(), (schedule.units.len(), instances.len()));
                    schedule.consumers.insert(instance.old_tag.clone(), (schedule.units.len(), instances.len()));
                    schedule.closes.entry(module_id_of_tag(&instance.old_tag)).or_insert(release_index);
                    instances.push((instance, runner));
                }
                schedule.units.push(Unit {
                    id: entry.id.clone(),
                    release: plan.release,
                    release_index,
                    checksum: entry.checksum,
                    scope: entry.scope,
                    instances,
                });
            }
            schedule.catalogues.push(plan.catalogue);
        }
        if seen_instances != config.instances.len() {
            let unknown = config.instances.keys().find(|id| !schedule.units.iter().any(|u| &u.id == *id));
            return Err(ScheduleError::UnknownInstances { id: unknown.cloned().unwrap_or_default() });
        }
        Ok(schedule)
    }

    /// The (id, checksum) of every entry, for the history check.
    pub fn checksum_of(&self, id: &str) -> Option<Checksum> {
        self.units.iter().find(|u| u.id == id).map(|u| u.checksum)
    }
}
