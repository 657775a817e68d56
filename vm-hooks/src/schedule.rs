//! The schedule: which migrations this node can run, in what order, built once.
//!
//! The prologue runs every block, and in almost every block nothing is due; so everything that
//! does not depend on state (each catalogue entry's runner, which module versions close when,
//! which entry reads and writes which struct) is worked out when the node starts, and the hook's
//! hot path only compares a height.
//!
//! What the chain has scheduled, and with which parameters, is on chain
//! ([`crate::status::ReleaseRecord`]); this is the node's side of it: the code (catalogues and
//! transforms) it can run, and the values it would record if it scheduled them.
//!
//! Order: releases by number; within a release, the catalogue's order (dependencies first, by
//! the new release's module graph, then the order of the declarations file), which the
//! catalogue's history check holds fixed.

use crate::config::{Budget, ChainConfig, ConfigError};
use crate::status::ReleaseRecord;
use binary_format::{AddressLength, ModuleId};
use migrations::catalogue::{Catalogue, Checksum};
use migrations::runner::{MigratedTable, Runner, RunnerError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;
use upgrade_spec::declarations::Scope;
use upgrade_spec::ReleaseId;

/// How the hook runs migrations: the chain it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookConfig {
    /// The chain the hook runs in.
    pub chain: ChainConfig,
}

impl HookConfig {
    /// A configuration for `chain`.
    pub fn new(chain: ChainConfig) -> HookConfig {
        HookConfig { chain }
    }
}

/// A release this node can run, and the values it would schedule it with.
#[derive(Debug, Clone)]
pub struct ReleasePlan {
    /// The release. Plans must be given in increasing order of release number.
    pub release: ReleaseId,
    /// The block whose prologue activates the release (if governance allows), as this node
    /// would schedule it. Once scheduled, the chain's recorded height rules.
    pub height: u64,
    /// The catalogue of the release (from its predecessor).
    pub catalogue: Catalogue,
    /// The budget the release's migrations run under, when the release states one; otherwise
    /// the chain's. Recorded on chain when the release is scheduled.
    pub budget: Option<Budget>,
    /// The tables whose values the release's migrations rewrite (their handles and value
    /// types: state holds table items without types, so which tables hold a changed struct is
    /// found where the release is planned, by a rehearsal on the chain's state). Part of the
    /// release as its catalogue is: its checksum is recorded on chain, and a node with another
    /// list refuses to run.
    pub tables: Vec<MigratedTable>,
}

impl ReleasePlan {
    /// The plan of `release` at `height` with `catalogue`, running under the chain's budget.
    pub fn new(release: ReleaseId, height: u64, catalogue: Catalogue) -> ReleasePlan {
        ReleasePlan { release, height, catalogue, budget: None, tables: Vec::new() }
    }

    /// The same plan, rewriting also the values of `tables`.
    pub fn with_tables(self, tables: Vec<MigratedTable>) -> ReleasePlan {
        ReleasePlan { tables, ..self }
    }
}

/// The checksum of a release's table list: SHA-256 over each table's handle and the BCS of its
/// value type, in handle order. What the chain records, and every node compares with its own.
pub fn tables_checksum(tables: &[MigratedTable]) -> Checksum {
    let mut sorted: Vec<&MigratedTable> = tables.iter().collect();
    sorted.sort();
    let mut sha = Sha256::new();
    for t in sorted {
        sha.update(t.handle.as_bytes());
        let tag = t.value.to_bcs();
        sha.update((tag.len() as u64).to_le_bytes());
        sha.update(&tag);
    }
    Checksum(sha.finalize().into())
}

/// Why releases and a configuration do not make a schedule. Found when the hook is built,
/// before any block.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// Release plans not in strictly increasing order of release and of height.
    #[error("releases must be given in increasing order of release and height: {release} at {height} comes after {previous_release} at {previous_height}")]
    Order {
        /// The plan out of order.
        release: ReleaseId,
        /// Its height.
        height: u64,
        /// The plan before it.
        previous_release: ReleaseId,
        /// That plan's height.
        previous_height: u64,
    },
    /// A release's height of 0 (the first block is 1; 0 means "not yet" on chain).
    #[error("release {release} cannot activate at height 0: the first block is 1")]
    ZeroHeight {
        /// The release.
        release: ReleaseId,
    },
    /// The chain configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A release plan's own budget allows zero resources or zero bytes.
    #[error("the budget of {release} must allow at least one resource and one byte per block")]
    EmptyBudget {
        /// The release.
        release: ReleaseId,
    },
    /// Two catalogues hold an entry with one id: the status could not tell them apart.
    #[error("migration `{id}` is in two releases")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// An entry has no runner (its struct's layout does not resolve, its transform does not
    /// compile).
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// A table of a release that no migration of the release can rewrite: none reads its
    /// value type, or the one that does is scoped to the system accounts (a table item belongs
    /// to no account; the budgeted pass over users' values rewrites tables).
    #[error("release {release}: table {handle} holds {value}, {reason}")]
    Table {
        /// The release.
        release: ReleaseId,
        /// The table.
        handle: String,
        /// Its value type.
        value: String,
        /// Why no migration rewrites it.
        reason: String,
    },
    /// A catalogue built with another address width than the chain's.
    #[error("release {release} has {found}-byte addresses; the chain's are {expected}-byte")]
    Width {
        /// The release.
        release: ReleaseId,
        /// Its catalogue's width.
        found: AddressLength,
        /// The chain's width.
        expected: AddressLength,
    },
}

/// Values by struct (a module and a name: one struct across releases), found from a struct tag
/// without building its module's id: every access to a resource looks its struct up here, so the lookup allocates
/// nothing. A name is shared by few modules, so they are a short list under it.
#[derive(Debug, Clone)]
pub(crate) struct StructIndex<V> {
    by_name: BTreeMap<String, Vec<(ModuleId, V)>>,
}

impl<V> Default for StructIndex<V> {
    fn default() -> Self {
        StructIndex { by_name: BTreeMap::new() }
    }
}

impl<V> StructIndex<V> {
    /// The value of the struct `module::name`.
    pub fn get(&self, module: &ModuleId, name: &str) -> Option<&V> {
        self.by_name.get(name)?.iter().find(|(m, _)| m == module).map(|(_, v)| v)
    }

    /// The value of the struct `tag` is an instance of.
    pub fn of_tag(&self, tag: &migrations::StructTag) -> Option<&V> {
        let address = tag.address.address();
        self.by_name
            .get(tag.name.as_str())?
            .iter()
            .find(|(m, _)| m.address == address && m.name == tag.module)
            .map(|(_, v)| v)
    }

    /// The value of `module::name`, made with `make` when it has none.
    pub fn entry(&mut self, module: &ModuleId, name: &str, make: impl FnOnce() -> V) -> &mut V {
        let list = self.by_name.entry(name.to_owned()).or_default();
        let at = match list.iter().position(|(m, _)| m == module) {
            Some(at) => at,
            None => {
                list.push((module.clone(), make()));
                list.len() - 1
            }
        };
        match list.get_mut(at) {
            Some((_, v)) => v,
            None => unreachable!("the position was just found or pushed"),
        }
    }
}

/// One catalogue entry, ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub id: String,
    pub release: ReleaseId,
    /// Position of its release in the schedule.
    pub release_index: usize,
    pub checksum: Checksum,
    pub scope: Scope,
    /// The struct keeps its tag and changes layout where it stands.
    pub in_place: bool,
    pub runner: Runner,
}

impl Unit {
    pub fn has_system_part(&self) -> bool {
        matches!(self.scope, Scope::System | Scope::Both)
    }

    pub fn has_user_part(&self) -> bool {
        matches!(self.scope, Scope::Users | Scope::Both)
    }
}

/// A release the node can run.
#[derive(Debug, Clone)]
pub(crate) struct PlannedRelease {
    pub id: ReleaseId,
    pub height: u64,
    /// The plan's budget, or the chain's.
    pub budget: Budget,
    pub catalogue: Arc<Catalogue>,
    /// The checksum of its table list.
    pub tables: Checksum,
}

impl PlannedRelease {
    /// What scheduling it records on chain.
    pub fn record(&self, chain: &ChainConfig) -> ReleaseRecord {
        ReleaseRecord {
            number: u64::from(self.id.number()),
            label: self.id.label().to_string(),
            height: self.height,
            activated_at: 0,
            budget: self.budget,
            max_quarantined: chain.max_quarantined,
            max_value_size: chain.max_value_size,
            entries: self.catalogue.entries.iter().map(|e| (e.id.clone(), e.checksum)).collect(),
            tables: self.tables,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub releases: Vec<PlannedRelease>,
    pub units: Vec<Unit>,
    /// The old struct of every migration -> the units that read it, in schedule order: at most
    /// one versioned migration, any number in place (one per release that changes it).
    pub readers: StructIndex<Vec<usize>>,
    /// The new struct of every versioned migration -> the unit that produces it.
    pub producers: StructIndex<usize>,
    /// Module versions that close when a release activates -> that release's position.
    pub closes: BTreeMap<ModuleId, usize>,
}

impl Schedule {
    pub fn new(plans: Vec<ReleasePlan>, config: &HookConfig) -> Result<Schedule, ScheduleError> {
        let chain = &config.chain;
        chain.validate()?;
        let mut schedule = Schedule {
            releases: Vec::new(),
            units: Vec::new(),
            readers: StructIndex::default(),
            producers: StructIndex::default(),
            closes: BTreeMap::new(),
        };
        let max_value_size = usize::try_from(chain.max_value_size).unwrap_or(usize::MAX);
        for (release_index, plan) in plans.into_iter().enumerate() {
            if plan.height == 0 {
                return Err(ScheduleError::ZeroHeight { release: plan.release });
            }
            if let Some(previous) = schedule.releases.last() {
                if plan.release.number() <= previous.id.number() || plan.height <= previous.height {
                    return Err(ScheduleError::Order {
                        release: plan.release,
                        height: plan.height,
                        previous_release: previous.id.clone(),
                        previous_height: previous.height,
                    });
                }
            }
            if plan.budget.is_some_and(|b| b.max_resources == 0 || b.max_bytes == 0) {
                return Err(ScheduleError::EmptyBudget { release: plan.release });
            }
            if plan.catalogue.address_length() != chain.address_length {
                return Err(ScheduleError::Width {
                    release: plan.release,
                    found: plan.catalogue.address_length(),
                    expected: chain.address_length,
                });
            }
            let catalogue = Arc::new(plan.catalogue);
            // Each table goes to the migration of its value type's struct.
            for t in &plan.tables {
                let reader =
                    catalogue.entries.iter().find(|e| t.value.module_id() == e.from && t.value.name == e.struct_name);
                let reason = match reader {
                    None => Some("which no migration of the release reads".to_owned()),
                    Some(e) if e.scope == Scope::System => Some(format!(
                        "and migration `{}` is scoped to the system accounts: a table's items belong to no account, declare it for users or both",
                        e.id
                    )),
                    Some(_) => None,
                };
                if let Some(reason) = reason {
                    return Err(ScheduleError::Table {
                        release: plan.release.clone(),
                        handle: t.handle.to_string(),
                        value: t.value.to_string(),
                        reason,
                    });
                }
            }
            for entry in &catalogue.entries {
                if schedule.units.iter().any(|u| u.id == entry.id) {
                    return Err(ScheduleError::DuplicateId { id: entry.id.clone() });
                }
                let mut runner = Runner::new(catalogue.clone(), &entry.id, &chain.system_accounts, max_value_size)?;
                let tables: Vec<MigratedTable> = plan
                    .tables
                    .iter()
                    .filter(|t| t.value.module_id() == entry.from && t.value.name == entry.struct_name)
                    .cloned()
                    .collect();
                if !tables.is_empty() {
                    runner = runner.with_tables(&tables)?;
                }
                let at = schedule.units.len();
                if !entry.is_in_place() {
                    *schedule.producers.entry(&entry.to, &entry.struct_name, || at) = at;
                    schedule.closes.entry(entry.from.clone()).or_insert(release_index);
                }
                schedule.readers.entry(&entry.from, &entry.struct_name, Vec::new).push(at);
                schedule.units.push(Unit {
                    id: entry.id.clone(),
                    release: plan.release.clone(),
                    release_index,
                    checksum: entry.checksum,
                    scope: entry.scope,
                    in_place: entry.is_in_place(),
                    runner,
                });
            }
            schedule.releases.push(PlannedRelease {
                id: plan.release,
                height: plan.height,
                budget: plan.budget.unwrap_or(chain.budget),
                catalogue,
                tables: tables_checksum(&plan.tables),
            });
        }
        Ok(schedule)
    }

    /// The (id, checksum) of an entry, for the history check.
    pub fn checksum_of(&self, id: &str) -> Option<Checksum> {
        self.units.iter().find(|u| u.id == id).map(|u| u.checksum)
    }

    /// The planned release of number `number`, with its position.
    pub fn release(&self, number: u64) -> Option<(usize, &PlannedRelease)> {
        self.releases.iter().enumerate().find(|(_, r)| u64::from(r.id.number()) == number)
    }

    /// The in-place units that read the struct `module::name`, in schedule order.
    pub fn in_place_readers<'a>(&'a self, module: &ModuleId, name: &str) -> impl Iterator<Item = usize> + 'a {
        self.in_place(self.readers.get(module, name))
    }

    /// [`Schedule::in_place_readers`] of the struct `tag` is an instance of.
    pub fn in_place_readers_of<'a>(&'a self, tag: &migrations::StructTag) -> impl Iterator<Item = usize> + 'a {
        self.in_place(self.readers.of_tag(tag))
    }

    fn in_place<'a>(&'a self, readers: Option<&'a Vec<usize>>) -> impl Iterator<Item = usize> + 'a {
        readers.into_iter().flatten().copied().filter(|&u| self.units.get(u).is_some_and(|unit| unit.in_place))
    }
}
