//! The module dependency graph of a release, from the module handles in its bytecode.
//!
//! Answers what versioning needs: which open modules still import an old version (stale
//! imports), where the imports form a cycle (the seed's `create_signer` cycle), the order to
//! publish modules and run migrations in (dependencies first), and what must be republished when
//! one module is versioned (everything that imports it, transitively).

use binary_format::{Address, Module, ModuleId};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What is known of a module as a version: which module it is a version of, whether it is the
/// newest one, and whether it is closed. Comes from the registry, and is then judged within the
/// release being graphed: the newest version *present* is the open one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    /// The module's name in the registry (its versions share it).
    pub module: String,
    /// Address of the newest version of that module in the release.
    pub newest: Address,
    /// Addresses of all versions of the module, oldest first.
    pub versions: Vec<Address>,
    pub closed: bool,
    /// Retired modules are closed in every release.
    #[serde(skip)]
    pub retired: bool,
}

/// Version information for the modules of a release, by id.
#[derive(Debug, Clone, Default)]
pub struct Versions(BTreeMap<ModuleId, VersionInfo>);

impl Versions {
    pub fn new(entries: impl IntoIterator<Item = (ModuleId, VersionInfo)>) -> Self {
        Versions(entries.into_iter().collect())
    }

    pub fn get(&self, id: &ModuleId) -> Option<&VersionInfo> {
        self.0.get(id)
    }

    /// Every version the registry knows.
    pub fn from_registry(registry: &upgrade_spec::Registry) -> Versions {
        let mut out = BTreeMap::new();
        for (name, entry) in registry.modules() {
            let versions: Vec<Address> = entry.versions().iter().map(|v| v.address).collect();
            let Some(newest) = entry.newest().map(|v| v.address) else { continue };
            for v in entry.versions() {
                let info = VersionInfo {
                    module: name.to_owned(),
                    newest,
                    versions: versions.clone(),
                    closed: v.closed || entry.is_retired(),
                    retired: entry.is_retired(),
                };
                out.insert(v.id(name), info);
            }
        }
        Versions(out)
    }
}

/// An open module importing a version of a module that is not the newest in the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleImport {
    pub importer: ModuleId,
    pub imported: ModuleId,
    pub newest: ModuleId,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub id: ModuleId,
    /// Imported by the release but not part of it.
    pub external: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionInfo>,
}

#[derive(Debug, Clone)]
pub struct DependencyGraph {
    graph: DiGraph<Node, ()>,
    index: BTreeMap<ModuleId, NodeIndex>,
}

impl DependencyGraph {
    /// The graph of `modules`; an edge goes from importer to imported.
    pub fn new<'a>(modules: impl IntoIterator<Item = &'a Module>, versions: &Versions) -> Self {
        let modules: Vec<&Module> = modules.into_iter().collect();
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        let own: BTreeSet<ModuleId> = modules.iter().map(|m| m.id()).collect();
        let mut ids: BTreeSet<ModuleId> = own.clone();
        ids.extend(modules.iter().flat_map(|m| m.dependencies.iter().cloned()));
        // The newest version of each module present in this release.
        let mut newest: BTreeMap<&str, (usize, Address)> = BTreeMap::new();
        for id in &own {
            if let Some(v) = versions.get(id) {
                let position = v.versions.iter().position(|a| *a == id.address).unwrap_or(0);
                let entry = newest.entry(v.module.as_str()).or_insert((position, id.address));
                if position >= entry.0 {
                    *entry = (position, id.address);
                }
            }
        }
        for id in ids {
            let version = versions.get(&id).map(|v| {
                let newest = newest.get(v.module.as_str()).map_or(v.newest, |n| n.1);
                VersionInfo { newest, closed: v.retired || id.address != newest, ..v.clone() }
            });
            let node = Node { external: !own.contains(&id), version, id: id.clone() };
            index.insert(id, graph.add_node(node));
        }
        for m in &modules {
            let Some(&from) = index.get(&m.id()) else { continue };
            for dep in &m.dependencies {
                if let Some(&to) = index.get(dep) {
                    graph.add_edge(from, to, ());
                }
            }
        }
        DependencyGraph { graph, index }
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.index.values().filter_map(|&i| self.graph.node_weight(i))
    }

    fn id(&self, i: NodeIndex) -> Option<&ModuleId> {
        self.graph.node_weight(i).map(|n| &n.id)
    }

    /// Direct imports of a module, sorted.
    pub fn imports(&self, id: &ModuleId) -> Vec<ModuleId> {
        let Some(&i) = self.index.get(id) else { return Vec::new() };
        let mut out: Vec<ModuleId> = self.graph.neighbors(i).filter_map(|n| self.id(n).cloned()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every import edge, sorted: (importer, imported).
    pub fn edges(&self) -> Vec<(ModuleId, ModuleId)> {
        let mut out: Vec<_> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .filter_map(|(a, b)| Some((self.id(a)?.clone(), self.id(b)?.clone())))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Everything that imports `id`, directly or not: what must be republished when it is
    /// versioned. Sorted.
    pub fn dependents(&self, id: &ModuleId) -> Vec<ModuleId> {
        let Some(&start) = self.index.get(id) else { return Vec::new() };
        let mut seen = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(n) = stack.pop() {
            for d in self.graph.neighbors_directed(n, petgraph::Direction::Incoming) {
                if d != start && seen.insert(d) {
                    stack.push(d);
                }
            }
        }
        let mut out: Vec<ModuleId> = seen.into_iter().filter_map(|n| self.id(n).cloned()).collect();
        out.sort();
        out
    }

    /// Each import cycle once, as a path that starts and ends at its smallest module:
    /// `[a, b, c, a]`. Sorted.
    pub fn cycles(&self) -> Vec<Vec<ModuleId>> {
        let mut out = Vec::new();
        for scc in petgraph::algo::tarjan_scc(&self.graph) {
            let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
            let Some(&start) = scc.iter().min_by_key(|&&n| self.id(n)) else { continue };
            let self_loop = self.graph.contains_edge(start, start);
            if scc.len() == 1 && !self_loop {
                continue;
            }
            if let Some(path) = self.cycle_through(start, &members) {
                out.push(path.into_iter().filter_map(|n| self.id(n).cloned()).collect());
            }
        }
        out.sort();
        out
    }

    /// A path from `start` back to itself inside `members`, visiting neighbours in id order.
    fn cycle_through(&self, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Option<Vec<NodeIndex>> {
        let sorted_neighbors = |n: NodeIndex| {
            let mut v: Vec<NodeIndex> = self.graph.neighbors(n).filter(|m| members.contains(m)).collect();
            v.sort_by_key(|&m| self.id(m));
            v.dedup();
            v
        };
        let mut path = vec![start];
        let mut visited = BTreeSet::from([start]);
        let mut stack = vec![sorted_neighbors(start).into_iter()];
        while let Some(next) = stack.last_mut().map(Iterator::next) {
            match next {
                Some(n) if n == start => {
                    path.push(start);
                    return Some(path);
                }
                Some(n) if visited.insert(n) => {
                    path.push(n);
                    stack.push(sorted_neighbors(n).into_iter());
                }
                Some(_) => {}
                None => {
                    stack.pop();
                    path.pop();
                }
            }
        }
        None
    }

    /// Modules with their dependencies first, ties broken by id: the order to publish modules
    /// and to run migrations in. `Err` with the cycles when there is no such order.
    pub fn topological_order(&self) -> Result<Vec<ModuleId>, Vec<Vec<ModuleId>>> {
        // The one order every tool and the migration catalogue use (`upgrade_spec::order`).
        upgrade_spec::order::order_of(self.nodes().map(|n| n.id.clone()), self.edges()).map_err(|_| self.cycles())
    }

    /// Open modules that import a version of a module other than its newest. A new version may
    /// import its own predecessors: that is where its migration reads the old data from.
    pub fn stale_imports(&self) -> Vec<StaleImport> {
        let mut out = Vec::new();
        for node in self.nodes().filter(|n| !n.external) {
            if node.version.as_ref().is_some_and(|v| v.closed) {
                continue;
            }
            for dep in self.imports(&node.id) {
                let Some(info) = self.index.get(&dep).and_then(|&i| self.graph.node_weight(i)?.version.clone()) else {
                    continue;
                };
                let own_predecessor = node.version.as_ref().is_some_and(|v| v.module == info.module);
                if dep.address != info.newest && !own_predecessor {
                    let newest = ModuleId::new(info.newest, dep.name.clone());
                    out.push(StaleImport { importer: node.id.clone(), imported: dep, newest });
                }
            }
        }
        out
    }

    /// Graphviz DOT: closed versions dashed, external modules grey, stale imports red.
    pub fn to_dot(&self) -> String {
        let stale: BTreeSet<(ModuleId, ModuleId)> =
            self.stale_imports().into_iter().map(|s| (s.importer, s.imported)).collect();
        let mut out = String::from("digraph stdlib {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
        for n in self.nodes() {
            let mut attrs = Vec::new();
            let mut label = n.id.to_string();
            if let Some(v) = &n.version {
                let position = v.versions.iter().position(|a| *a == n.id.address).map_or(0, |p| p + 1);
                label.push_str(&format!("\\nversion {position} of {}", v.versions.len()));
                if v.closed {
                    label.push_str(" (closed)");
                    attrs.push("style=dashed".to_owned());
                }
            }
            if n.external {
                attrs.push("color=grey".to_owned());
                attrs.push("fontcolor=grey".to_owned());
            }
            attrs.insert(0, format!("label=\"{label}\""));
            out.push_str(&format!("  \"{}\" [{}];\n", n.id, attrs.join(", ")));
        }
        for (a, b) in self.edges() {
            let color = if stale.contains(&(a.clone(), b.clone())) { " [color=red, label=\"stale\"]" } else { "" };
            out.push_str(&format!("  \"{a}\" -> \"{b}\"{color};\n"));
        }
        out.push_str("}\n");
        out
    }

    /// The JSON report: nodes with their versions and transitive dependents, edges, stale
    /// imports, cycles and the topological order.
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct JsonNode<'a> {
            #[serde(flatten)]
            node: &'a Node,
            imports: Vec<ModuleId>,
            dependents: Vec<ModuleId>,
        }
        let nodes: Vec<JsonNode<'_>> = self
            .nodes()
            .map(|node| JsonNode { node, imports: self.imports(&node.id), dependents: self.dependents(&node.id) })
            .collect();
        serde_json::json!({
            "schema": 1,
            "modules": nodes,
            "stale_imports": self.stale_imports(),
            "cycles": self.cycles(),
            "topological_order": self.topological_order().ok(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::text;

    fn graph(src: &str) -> DependencyGraph {
        let modules = text::parse(src).unwrap();
        DependencyGraph::new(&modules, &Versions::default())
    }

    #[test]
    fn create_signer_cycle_is_reported_with_its_path() {
        let g = graph(
            "module 0x1::Account (bytecode v6)\n  uses 0x1::Migrations\n\
             module 0x1::Migrations (bytecode v6)\n  uses 0x1::Epoch\n\
             module 0x1::Epoch (bytecode v6)\n  uses 0x1::Account\n\
             module 0x1::Coin (bytecode v6)\n  uses 0x1::Account\n",
        );
        let cycles = g.cycles();
        let names: Vec<Vec<String>> = cycles.iter().map(|c| c.iter().map(ToString::to_string).collect()).collect();
        assert_eq!(names, vec![vec!["0x1::Account", "0x1::Migrations", "0x1::Epoch", "0x1::Account"]]);
        assert_eq!(g.topological_order().unwrap_err(), cycles);
    }

    #[test]
    fn order_puts_dependencies_first_and_dependents_are_transitive() {
        let g = graph(
            "module 0x1::C (bytecode v6)\n  uses 0x1::B\n\
             module 0x1::B (bytecode v6)\n  uses 0x1::A\n\
             module 0x1::A (bytecode v6)\n\
             module 0x1::D (bytecode v6)\n  uses 0x1::A\n",
        );
        let order: Vec<String> = g.topological_order().unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(order, ["0x1::A", "0x1::B", "0x1::C", "0x1::D"]);
        let a = ModuleId::parse("0x1::A").unwrap();
        let deps: Vec<String> = g.dependents(&a).iter().map(ToString::to_string).collect();
        assert_eq!(deps, ["0x1::B", "0x1::C", "0x1::D"]);
        assert!(g.cycles().is_empty());
    }
}
