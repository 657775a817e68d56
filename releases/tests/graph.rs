//! Stale imports and cycles, on releases built for the purpose.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::{text, ModuleId};
use releases::graph::{DependencyGraph, Versions};
use std::path::Path;
use upgrade_spec::registry::Registry;

const REGISTRY: &str = r#"
genesis = "0x1"
[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x2", release = "v2", predecessor = "0x1" },
]
[modules.Reconfigure]
versions = [{ address = "0x1", release = "v1" }]
[modules.Stats]
retired = true
versions = [{ address = "0x1", release = "v1", closed = true }]
"#;

fn graph(release: &str) -> DependencyGraph {
    let registry = Registry::parse(REGISTRY, Path::new("test-registry.toml")).unwrap();
    let modules = text::parse(release).unwrap();
    DependencyGraph::new(&modules, &Versions::from_registry(&registry))
}

fn id(s: &str) -> ModuleId {
    ModuleId::parse(s).unwrap()
}

const EPOCHS: &str = "
module 0x1::Epoch (bytecode v6)
module 0x2::Epoch (bytecode v6)
  uses 0x1::Epoch
";

#[test]
fn an_open_module_importing_an_old_version_is_stale() {
    let g = graph(&format!("{EPOCHS}\nmodule 0x1::Reconfigure (bytecode v6)\n  uses 0x1::Epoch\n"));
    let stale = g.stale_imports();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(
        (&stale[0].importer, &stale[0].imported, &stale[0].newest),
        (&id("0x1::Reconfigure"), &id("0x1::Epoch"), &id("0x2::Epoch"))
    );
    assert!(g.to_dot().contains("\"0x1::Reconfigure\" -> \"0x1::Epoch\" [color=red, label=\"stale\"]"));
}

#[test]
fn importing_the_newest_version_or_ones_own_predecessor_is_not_stale() {
    // 0x2::Epoch imports its predecessor (its migration reads it); Reconfigure imports the newest.
    let g = graph(&format!("{EPOCHS}\nmodule 0x1::Reconfigure (bytecode v6)\n  uses 0x2::Epoch\n"));
    assert!(g.stale_imports().is_empty(), "{:?}", g.stale_imports());
}

#[test]
fn closed_modules_keep_their_old_imports() {
    // In a release where 0x1::Epoch is superseded, a closed module may still import it.
    let g = graph(&format!("{EPOCHS}\nmodule 0x1::Stats (bytecode v6)\n  uses 0x1::Epoch\n"));
    assert!(g.stale_imports().is_empty(), "{:?}", g.stale_imports());
}

#[test]
fn staleness_is_judged_within_the_release() {
    // Release v1 holds only 0x1::Epoch: it is the newest there, so importing it is fine.
    let g = graph("module 0x1::Epoch (bytecode v6)\nmodule 0x1::Reconfigure (bytecode v6)\n  uses 0x1::Epoch\n");
    assert!(g.stale_imports().is_empty());
    let epoch = g.nodes().find(|n| n.id == id("0x1::Epoch")).unwrap();
    assert!(!epoch.version.as_ref().unwrap().closed);
}

#[test]
fn the_create_signer_cycle_blocks_a_publishing_order() {
    let g = graph(
        "module 0x1::Account (bytecode v6)\n  uses 0x1::Epoch\n\
         module 0x1::Epoch (bytecode v6)\n  uses 0x1::Migrations\n\
         module 0x1::Migrations (bytecode v6)\n  uses 0x1::Account\n",
    );
    let cycles = g.cycles();
    assert_eq!(cycles, vec![vec![id("0x1::Account"), id("0x1::Epoch"), id("0x1::Migrations"), id("0x1::Account")]]);
    assert!(g.topological_order().is_err());
    assert_eq!(g.to_json()["cycles"][0][0], "0x1::Account");
}
