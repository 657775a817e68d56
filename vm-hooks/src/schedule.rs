//! The schedule: which migrations run, in what order, from which block, built once.
//!
//! The prologue runs every block, and in almost every block nothing is due; so everything that
//! does not depend on state (each catalogue entry made concrete for its stored instances, its
//! runner, which module versions close when, which entry reads and writes which struct tag) is
//! worked out when the node starts, and the hook's hot path only compares a height.
//!
//! Order: releases by activation height; within a release, the catalogue's order (dependencies
//! first, by the new release's module graph, then the order of the declarations file), which the
//! catalogue's history check holds fixed.

use crate::config::{Budget, ChainConfig, ConfigError};
use binary_format::{AddressLength, ModuleId};
use migrations::catalogue::{Catalogue, CatalogueError, Checksum, Instance};
use migrations::runner::Runner;
use migrations::{StructTag, TypeTag};
use std::collections::BTreeMap;
use upgrade_spec::declarations::Scope;
use upgrade_spec::registry::ReleaseName;

/// How the hook runs migrations: the chain, and the stored instances of generic entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    /// The chain the hook runs in.
    pub chain: ChainConfig,
    /// The stored instances of entries whose struct has type parameters, by entry id:
    /// `coin-balance-v2` -> `[[0x1::GAS::GAS]]`. Entries not listed have one instance with no
    /// type arguments. A store cannot list the instantiations it holds, so the node says (a
    /// rehearsal finds them in the state it reads).
    pub instances: BTreeMap<String, Vec<Vec<TypeTag>>>,
}

impl HookConfig {
    /// A configuration for `chain` with no generic instances.
    pub fn new(chain: ChainConfig) -> HookConfig {
        HookConfig { chain, instances: BTreeMap::new() }
    }
}

/// A release and the block its migrations become due.
#[derive(Debug, Clone)]
pub struct ReleasePlan {
    /// The release, as the status records it (its number). Plans must be given in increasing
    /// order of release.
    pub release: ReleaseName,
    /// The block whose prologue activates the release (if governance allows): its
    /// system-account migrations run in that block, user ones from it. Consensus.
    pub height: u64,
    /// The catalogue of the release (from its predecessor).
    pub catalogue: Catalogue,
    /// The budget the release's migrations run under, when the release states one; otherwise
    /// the chain's. Recorded in the status at activation, so that every node then follows it.
    pub budget: Option<Budget>,
}

impl ReleasePlan {
    /// The plan of `release` at `height` with `catalogue`, running under the chain's budget.
    pub fn new(release: ReleaseName, height: u64, catalogue: Catalogue) -> ReleasePlan {
        ReleasePlan { release, height, catalogue, budget: None }
    }
}

/// Why releases and a configuration do not make a schedule. Found when the hook is built,
/// before any block.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Release plans not in strictly increasing order of release and of height.
    #[error("releases must be given in increasing order of release and height: {release} at {height} comes after {previous_release} at {previous_height}")]
    Order {
        /// The plan out of order.
        release: ReleaseName,
        /// Its height.
        height: u64,
        /// The plan before it.
        previous_release: ReleaseName,
        /// That plan's height.
        previous_height: u64,
    },
    /// The chain configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A release plan's own budget allows zero resources or zero bytes.
    #[error("the budget of {release} must allow at least one resource and one byte per block")]
    EmptyBudget {
        /// The release.
        release: ReleaseName,
    },
    /// Two catalogues hold an entry with one id: the status could not tell them apart.
    #[error("migration `{id}` is in two releases")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// [`HookConfig::instances`] names an entry no release has (a typo would otherwise leave
    /// an instance unmigrated).
    #[error("instances are configured for `{id}`, which no release has")]
    UnknownInstances {
        /// The unknown id.
        id: String,
    },
    /// An entry cannot be made concrete for configured type arguments (wrong count, a type
    /// that does not resolve, a transform that does not compile for them).
    #[error("migration `{id}`: {source}")]
    Instance {
        /// The entry's id.
        id: String,
        /// The catalogue's error.
        source: Box<CatalogueError>,
    },
    /// A catalogue built with another address width than the chain's.
    #[error("release {release} has {found}-byte addresses; the chain's are {expected}-byte")]
    Width {
        /// The release.
        release: ReleaseName,
        /// Its catalogue's width.
        found: AddressLength,
        /// The chain's width.
        expected: AddressLength,
    },
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
    /// The struct keeps its tag and changes layout where it stands.
    pub in_place: bool,
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
    /// (release, height, budget of its plan), in order.
    pub releases: Vec<(ReleaseName, u64, Option<Budget>)>,
    pub units: Vec<Unit>,
    pub catalogues: Vec<Catalogue>,
    /// New struct tag -> (unit, instance) of each versioned migration that produces it.
    pub producers: BTreeMap<StructTag, (usize, usize)>,
    /// Struct tag -> (unit, instance) of every migration that reads it, in schedule order: at
    /// most one versioned migration, any number in place (one per release that changes it).
    pub readers: BTreeMap<StructTag, Vec<(usize, usize)>>,
    /// Module versions that close when a release activates -> that release's position.
    pub closes: BTreeMap<ModuleId, usize>,
}

impl Schedule {
    pub fn new(plans: Vec<ReleasePlan>, config: &HookConfig) -> Result<Schedule, ScheduleError> {
        config.chain.validate()?;
        let mut schedule = Schedule {
            releases: Vec::new(),
            units: Vec::new(),
            catalogues: Vec::new(),
            producers: BTreeMap::new(),
            readers: BTreeMap::new(),
            closes: BTreeMap::new(),
        };
        let mut seen_instances = 0;
        for (release_index, plan) in plans.into_iter().enumerate() {
            if let Some(&(previous_release, previous_height, _)) = schedule.releases.last() {
                if plan.release <= previous_release || plan.height <= previous_height {
                    return Err(ScheduleError::Order {
                        release: plan.release,
                        height: plan.height,
                        previous_release,
                        previous_height,
                    });
                }
            }
            if plan.budget.is_some_and(|b| b.max_resources == 0 || b.max_bytes == 0) {
                return Err(ScheduleError::EmptyBudget { release: plan.release });
            }
            if plan.catalogue.address_length() != config.chain.address_length {
                return Err(ScheduleError::Width {
                    release: plan.release,
                    found: plan.catalogue.address_length(),
                    expected: config.chain.address_length,
                });
            }
            schedule.releases.push((plan.release, plan.height, plan.budget));
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
                let unit_index = schedule.units.len();
                let mut instances = Vec::with_capacity(args.len());
                for a in &args {
                    let instance = plan
                        .catalogue
                        .instance(entry, a)
                        .map_err(|source| ScheduleError::Instance { id: entry.id.clone(), source: Box::new(source) })?;
                    let runner = Runner::for_instance(&instance, entry.scope, &config.chain.system_accounts);
                    let at = (unit_index, instances.len());
                    if !instance.is_in_place() {
                        schedule.producers.insert(instance.new_tag.clone(), at);
                        schedule.closes.entry(instance.old_tag.module_id()).or_insert(release_index);
                    }
                    schedule.readers.entry(instance.old_tag.clone()).or_default().push(at);
                    instances.push((instance, runner));
                }
                schedule.units.push(Unit {
                    id: entry.id.clone(),
                    release: plan.release,
                    release_index,
                    checksum: entry.checksum,
                    scope: entry.scope,
                    in_place: entry.is_in_place(),
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

    /// The in-place (unit, instance) pairs that read `tag`, in schedule order.
    pub fn in_place_readers(&self, tag: &StructTag) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.readers
            .get(tag)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&(u, _)| self.units.get(u).is_some_and(|unit| unit.in_place))
    }
}
