//! One upgrade, one judgement of what its stored data needs.
//!
//! An upgrade ([`Upgrade`]: two releases' modules, the new release's label, the registry, the
//! migration declarations, the chain's versioning scheme) is judged once ([`plan`]): the diff,
//! which structs can be stored, which stored structs must be migrated, and, for each, the one
//! declaration that migrates it (or why none does). The checker's gate reports from this plan,
//! the rehearsal gates on it, and the migrations catalogue is built from it: three users, one
//! answer, so none can call a struct declared that another calls undeclared.
//!
//! **The rule for a declaration.** A declaration migrates a need when it names the struct's
//! module (by its registry name, its own name without a registry), the struct, the version read
//! (`from`) and the version written (`to`), *and this upgrade's release label*. One that matches
//! everything but the release is a declaration of this change for another release: reported,
//! and the need stays undeclared (an in-place change of one module happens in many releases, and
//! a declaration written for one must not silently run in another).

use crate::diff::lineage::{lineage_name, Versioning};
use crate::diff::{diff_with, Diff, DiffOptions};
use crate::storage::{needs_migration_in, storage, Need, Storage};
use binary_format::Module;
use upgrade_spec::{Declaration, Declarations, Registry, ReleaseLabel};

/// An upgrade, as it is judged.
#[derive(Debug, Clone, Copy)]
pub struct Upgrade<'a> {
    /// The release the state was written with.
    pub old: &'a [&'a Module],
    /// The release to upgrade to.
    pub new: &'a [&'a Module],
    /// The new release's label, as declarations name it.
    pub release: &'a ReleaseLabel,
    /// The address registry: which modules are versions of which.
    pub registry: Option<&'a Registry>,
    /// The migration declarations.
    pub declarations: Option<&'a Declarations>,
    /// Where modules move without a registry (the chain's scheme).
    pub versioning: Versioning,
}

/// How a need is declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// By the declaration at this position of [`Declarations::entries`].
    By(usize),
    /// By no declaration.
    Not,
    /// Only by a declaration of this change that names another release (at this position).
    ForAnotherRelease(usize),
}

/// A struct whose stored instances the upgrade must migrate, and how it is declared.
#[derive(Debug, Clone)]
pub struct PlannedNeed {
    /// What must be migrated, and why.
    pub need: Need,
    /// The declaration that migrates it, if any.
    pub declared: Declared,
    /// Further declarations of this very change for this release (positions): one change has
    /// one migration, so each of these is an error.
    pub duplicates: Vec<usize>,
}

/// What the upgrade needs for its stored data: the one judgement.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every difference between the releases.
    pub diff: Diff,
    /// Which structs of the old release can be stored.
    pub stored: Storage,
    /// The stored structs to migrate, each with its declaration, in the order
    /// [`needs_migration_in`] gives.
    pub needs: Vec<PlannedNeed>,
}

impl Plan {
    /// The declaration of need `i`, when it is declared for this upgrade.
    pub fn declaration<'d>(
        &self,
        declarations: Option<&'d Declarations>,
        need: &PlannedNeed,
    ) -> Option<&'d Declaration> {
        match need.declared {
            Declared::By(i) => declarations?.entries().get(i),
            _ => None,
        }
    }

    /// The positions of the declarations that migrate one of the needs or declare one a second
    /// time, out of `count` declarations, in one pass over the needs (asked one declaration at a
    /// time, 100,000 declarations of one struct took seconds).
    pub fn used(&self, count: usize) -> Vec<bool> {
        let mut used = vec![false; count];
        for n in &self.needs {
            if let Declared::By(i) = n.declared {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
            }
            for &i in &n.duplicates {
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
            }
        }
        used
    }
}

impl<'a> Upgrade<'a> {
    /// The lineage name of a module of the new release: how declarations name it.
    pub fn lineage_name(&self, module: &binary_format::ModuleId) -> String {
        lineage_name(module, self.registry)
    }
}

/// Judges `upgrade`: its diff, what can be stored, what must be migrated and by which
/// declaration. Linear in the releases' size; declarations are looked up by what they migrate.
pub fn plan(upgrade: &Upgrade<'_>) -> Plan {
    let diff = diff_with(
        upgrade.old,
        upgrade.new,
        DiffOptions { registry: upgrade.registry, declarations: upgrade.declarations, versioning: upgrade.versioning },
    );
    let stored = storage(upgrade.old);
    let needs = needs_migration_in(&stored, upgrade.old, upgrade.new, &diff)
        .into_iter()
        .map(|need| {
            let (declared, duplicates) = match upgrade.declarations {
                None => (Declared::Not, Vec::new()),
                Some(d) => declared(d, upgrade, &need),
            };
            PlannedNeed { need, declared, duplicates }
        })
        .collect();
    Plan { diff, stored, needs }
}

/// The declaration of `need` for this upgrade (see the module docs for the rule), and the
/// further declarations of it for this release, which are errors.
fn declared(declarations: &Declarations, upgrade: &Upgrade<'_>, need: &Need) -> (Declared, Vec<usize>) {
    let module = upgrade.lineage_name(&need.new_module);
    let (from, to) = (need.old_module.address, need.new_module.address);
    let mut other = None;
    let mut ours = Vec::new();
    for i in declarations.positions_at(&module, &need.name, from, to) {
        match declarations.entries().get(i) {
            Some(d) if d.release == *upgrade.release => ours.push(i),
            Some(_) => {
                other.get_or_insert(i);
            }
            None => {}
        }
    }
    match ours.split_first() {
        Some((first, rest)) => (Declared::By(*first), rest.to_vec()),
        None => (other.map_or(Declared::Not, Declared::ForAnotherRelease), Vec::new()),
    }
}
