//! Which module of the new release continues which module of the old one.
//!
//! Modules are matched by address and name. A module *versioned* to a new address is matched
//! to its previous version through the registry, or, without one, when a module of that name
//! appears at an address where the old release did not have it. Versions of one module form a
//! lineage; the newest of the old release is compared with the newest of the new one, and every
//! module present in both is also compared with itself (an old version kept, closed, must not
//! change).

use binary_format::{Module, ModuleId};
use std::collections::{BTreeMap, BTreeSet};
use stdlib::registry::Registry;

#[derive(Debug, Clone, Default)]
pub struct Lineage {
    /// Old newest version -> new newest version, where they differ.
    pub moves: BTreeMap<ModuleId, ModuleId>,
    /// Ids in both releases.
    pub kept: BTreeSet<ModuleId>,
    /// New ids continuing no old module.
    pub added: BTreeSet<ModuleId>,
    /// Old ids the new release lacks and nothing continues.
    pub removed: BTreeSet<ModuleId>,
    /// Ids of the new release that a newer version of the same module supersedes.
    pub superseded: BTreeSet<ModuleId>,
}

/// The lineage a module belongs to: its registry name, or its own name without a registry.
pub fn lineage_name(id: &ModuleId, registry: Option<&Registry>) -> String {
    registry.and_then(|r| r.lookup(id)).map_or_else(|| id.name.clone(), |(name, _)| name.to_owned())
}

impl Lineage {
    pub fn new(old: &[&Module], new: &[&Module], registry: Option<&Registry>) -> Lineage {
        let old_ids: BTreeSet<ModuleId> = old.iter().map(|m| m.id()).collect();
        let new_ids: BTreeSet<ModuleId> = new.iter().map(|m| m.id()).collect();
        let group = |ids: &BTreeSet<ModuleId>| {
            let mut g: BTreeMap<String, Vec<ModuleId>> = BTreeMap::new();
            for id in ids {
                g.entry(lineage_name(id, registry)).or_default().push(id.clone());
            }
            // Newest last: versions take increasing addresses.
            g.values_mut().for_each(|v| v.sort_by_key(|id| id.address));
            g
        };
        let (old_groups, new_groups) = (group(&old_ids), group(&new_ids));
        let mut l = Lineage { kept: old_ids.intersection(&new_ids).cloned().collect(), ..Lineage::default() };
        let mut continued = BTreeSet::new();
        for (name, versions) in &new_groups {
            if let Some(newest) = versions.last() {
                // With a registry every older version is superseded. Without one, same-named
                // modules at different addresses may be unrelated (Sui's 0x1::bcs and 0x2::bcs):
                // only a version just moved away from counts (below).
                if registry.is_some() {
                    l.superseded.extend(
                        versions
                            .iter()
                            .filter(|v| *v != newest && registry.and_then(|r| r.lookup(v)).is_some())
                            .cloned(),
                    );
                }
                let old_newest = old_groups.get(name).and_then(|v| v.last());
                match old_newest {
                    Some(o) if o != newest && !old_ids.contains(newest) => {
                        l.moves.insert(o.clone(), newest.clone());
                        continued.insert(newest.clone());
                        if new_ids.contains(o) {
                            l.superseded.insert(o.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        for id in &new_ids {
            if !old_ids.contains(id) && !continued.contains(id) {
                l.added.insert(id.clone());
            }
        }
        for id in &old_ids {
            if !new_ids.contains(id) && !l.moves.contains_key(id) {
                l.removed.insert(id.clone());
            }
        }
        l
    }

    /// The module id `old` continues as in the new release, for comparing types across it.
    pub fn successor<'a>(&'a self, old: &'a ModuleId) -> &'a ModuleId {
        self.moves.get(old).unwrap_or(old)
    }
}
