//! `graph RELEASE`: the module dependency graph, as DOT or JSON.

use crate::{GraphFormat, Outcome};
use binary_format::AddressLength;
use releases::graph::{DependencyGraph, Versions};
use std::path::Path;
use upgrade_spec::registry::Registry;

pub fn run(
    path: &Path,
    format: GraphFormat,
    registry: Option<&Path>,
    address_length: Option<AddressLength>,
) -> anyhow::Result<Outcome> {
    let versions = match registry {
        Some(path) => Versions::from_registry(&Registry::load(path)?),
        None => Versions::default(),
    };
    let release = super::load(path, address_length)?;
    let graph = DependencyGraph::new(release.modules.iter().map(|m| &m.module), &versions);
    super::print(&match format {
        GraphFormat::Dot => graph.to_dot(),
        GraphFormat::Json => format!("{}\n", serde_json::to_string_pretty(&graph.to_json())?),
    })?;
    for s in graph.stale_imports() {
        let line =
            format!("stale import: {} imports {}, but the newest version is {}", s.importer, s.imported, s.newest);
        eprintln!("{}", compat_checker::escape::shown(&line));
    }
    for c in graph.cycles() {
        let path: Vec<String> = c.iter().map(ToString::to_string).collect();
        eprintln!("dependency cycle: {}", compat_checker::escape::shown(&path.join(" -> ")));
    }
    Ok(if super::report_failures(&release) {
        Outcome::BadInput
    } else if graph.stale_imports().is_empty() && graph.cycles().is_empty() {
        Outcome::Ok
    } else {
        Outcome::CheckFailed
    })
}
