//! The order modules depend on each other in: dependencies first.
//!
//! One answer for everything that needs it: the migration catalogue runs entries of a module
//! after those of the modules it imports, and release tooling publishes modules in this order.
//! Deterministic: among modules ready at the same time, the smallest id comes first.

use binary_format::{Module, ModuleId};
use std::collections::{BTreeMap, BTreeSet};

/// The modules of `modules` that depend on each other in a cycle: no order exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("modules import each other in a cycle: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
pub struct Cycle(pub Vec<ModuleId>);

/// The ids of `modules`, each after every module of the set it imports (imports of modules
/// outside the set are ignored). Kahn's algorithm over sorted sets: O(edges · log modules).
pub fn dependency_order<'a>(modules: impl IntoIterator<Item = &'a Module>) -> Result<Vec<ModuleId>, Cycle> {
    let modules: Vec<&Module> = modules.into_iter().collect();
    let own: BTreeSet<ModuleId> = modules.iter().map(|m| m.id()).collect();
    let mut edges = Vec::new();
    for m in &modules {
        let id = m.id();
        edges.extend(m.dependencies.iter().filter(|d| own.contains(*d)).map(|d| (id.clone(), d.clone())));
    }
    order_of(own.iter().cloned(), edges)
}

/// The nodes, each after the nodes it points to by `edges` (importer -> imported).
pub fn order_of(
    nodes: impl IntoIterator<Item = ModuleId>,
    edges: impl IntoIterator<Item = (ModuleId, ModuleId)>,
) -> Result<Vec<ModuleId>, Cycle> {
    // Waiting: how many imports of each node are not placed yet; importers of each node.
    let mut waiting: BTreeMap<ModuleId, usize> = nodes.into_iter().map(|n| (n, 0)).collect();
    let mut importers: BTreeMap<ModuleId, BTreeSet<ModuleId>> = BTreeMap::new();
    for (from, to) in edges {
        if from == to || !waiting.contains_key(&to) {
            continue;
        }
        if importers.entry(to).or_default().insert(from.clone()) {
            *waiting.entry(from).or_default() += 1;
        }
    }
    let mut ready: BTreeSet<ModuleId> = waiting.iter().filter(|(_, n)| **n == 0).map(|(m, _)| m.clone()).collect();
    let mut out = Vec::with_capacity(waiting.len());
    while let Some(next) = ready.pop_first() {
        for importer in importers.get(&next).into_iter().flatten() {
            if let Some(n) = waiting.get_mut(importer) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    ready.insert(importer.clone());
                }
            }
        }
        waiting.remove(&next);
        out.push(next);
    }
    if waiting.is_empty() {
        Ok(out)
    } else {
        Err(Cycle(waiting.into_keys().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::Address;

    fn id(n: &str) -> ModuleId {
        ModuleId::new(Address::from_u64(1), n)
    }

    #[test]
    fn dependencies_first_smallest_first() {
        let order = order_of([id("c"), id("b"), id("a")], [(id("a"), id("c")), (id("b"), id("c"))]).unwrap();
        assert_eq!(order, vec![id("c"), id("a"), id("b")]);
    }

    #[test]
    fn a_cycle_names_its_members() {
        let err = order_of([id("a"), id("b"), id("z")], [(id("a"), id("b")), (id("b"), id("a"))]).unwrap_err();
        assert_eq!(err.0, vec![id("a"), id("b")]);
    }
}
