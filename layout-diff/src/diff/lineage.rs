//! Which module of the new release continues which module of the old one.
//!
//! Modules are matched by address and name. A module *versioned* to a new address is matched
//! to its previous version through the registry, or, without one, only where the chain versions
//! modules that way ([`Versioning`]): the seed's scheme moves a module inside the reserved stdlib
//! range 0x0..=0x1000, and real chains never move modules (Sui's `0xdee9::math` is a new module,
//! not a new version of `0x2::math`). Versions of one module form a
//! lineage; the newest of the old release is compared with the newest of the new one, and every
//! module present in both is also compared with itself (an old version kept, closed, must not
//! change).

use binary_format::{Address, Module, ModuleId};
use std::collections::{BTreeMap, BTreeSet};
use upgrade_spec::registry::Registry;

/// Highest address of the range the seed reserves for stdlib versions (0x0..=0x1000).
pub const RESERVED_RANGE_END: u64 = 0x1000;

/// How modules of a chain take new versions when no registry says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versioning {
    /// The seed's Diem-family scheme: a module of the same name at another address continues the
    /// old one only when both addresses lie in the reserved range 0x0..=0x1000.
    #[default]
    ReservedRange,
    /// Modules never move (Aptos, Sui and every real chain): a module of the same name at another
    /// address is a new module.
    Fixed,
}

/// Whether `address` lies in the reserved stdlib range 0x0..=0x1000.
pub fn in_reserved_range(address: Address) -> bool {
    address <= Address::from_u64(RESERVED_RANGE_END)
}

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
    /// The lineage of `old` -> `new` under the seed's scheme ([`Versioning::ReservedRange`]).
    pub fn new(old: &[&Module], new: &[&Module], registry: Option<&Registry>) -> Lineage {
        Lineage::with_versioning(old, new, registry, Versioning::ReservedRange)
    }

    /// The lineage of `old` -> `new`; without a registry, `versioning` says where modules move.
    pub fn with_versioning(
        old: &[&Module],
        new: &[&Module],
        registry: Option<&Registry>,
        versioning: Versioning,
    ) -> Lineage {
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
                // Without a registry, a move is taken only where the chain versions modules.
                let may_move = |o: &ModuleId| {
                    registry.is_some()
                        || (versioning == Versioning::ReservedRange
                            && in_reserved_range(o.address)
                            && in_reserved_range(newest.address))
                };
                match old_newest {
                    Some(o) if o != newest && !old_ids.contains(newest) && may_move(o) => {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use binary_format::text;

    fn ids(l: &Lineage) -> (Vec<String>, Vec<String>) {
        (l.moves.iter().map(|(a, b)| format!("{a}->{b}")).collect(), l.added.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn without_a_registry_modules_move_only_inside_the_reserved_range_under_the_seeds_scheme() {
        let old = text::parse(
            "module 0x2::math (bytecode v6)\n  public fun f()\nmodule 0x1::Epoch (bytecode v6)\n  public fun f()\n",
        )
        .unwrap();
        let new = text::parse(
            "module 0x2::math (bytecode v6)\n  public fun f()\nmodule 0xdee9::math (bytecode v6)\n  public fun g()\nmodule 0x2::Epoch (bytecode v6)\n  public fun f()\n",
        )
        .unwrap();
        let (old, new): (Vec<&Module>, Vec<&Module>) = (old.iter().collect(), new.iter().collect());
        // Sui p004 -> p005: 0xdee9::math is a new module, 0x2::math is still there.
        let seed = Lineage::with_versioning(&old, &new, None, Versioning::ReservedRange);
        assert_eq!(ids(&seed), (vec!["0x1::Epoch->0x2::Epoch".to_owned()], vec!["0xdee9::math".to_owned()]));
        let fixed = Lineage::with_versioning(&old, &new, None, Versioning::Fixed);
        assert!(fixed.moves.is_empty());
        assert_eq!(fixed.added.len(), 2);
        assert_eq!(fixed.removed.iter().map(ToString::to_string).collect::<Vec<_>>(), vec!["0x1::Epoch"]);
    }
}
