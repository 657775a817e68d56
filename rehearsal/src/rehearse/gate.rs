//! The gate: the checker run once on OLD -> NEW (the only call of it in the rehearsal), and what
//! the rehearsal needs of its diff: the stored structs whose layout changes with no migration
//! declared (every stored instance of one would halt the chain), and the catalogue of the
//! declared migrations.

use binary_format::{AddressLength, Module, ModuleId};
use compat_checker::{check, CheckOptions};
use migrations::catalogue::Catalogue;
use migrations::handlers::Handlers;
use std::collections::BTreeMap;
use stdlib::declarations::Declarations;
use stdlib::registry::Registry;

/// What the gate found.
#[derive(Debug)]
pub struct Gate {
    /// The checker's verdict.
    pub passes: bool,
    /// Changes it leaves unhandled.
    pub unhandled: u64,
    /// Problems of its inputs (registry rules, declarations matching no change).
    pub problems: Vec<String>,
    /// Stored structs of OLD whose layout changes with no declaration: (module, struct) -> the
    /// change as people read it (`0x1::Timer::Timer -> 0x1::Timer::Timer`).
    pub undeclared: BTreeMap<(ModuleId, String), String>,
    /// The declared migrations that validate.
    pub catalogue: Catalogue,
    /// What is wrong with the declarations as the catalogue reads them.
    pub catalogue_problems: Vec<String>,
}

/// Runs the checker and builds the catalogue.
#[allow(clippy::too_many_arguments)]
pub fn run(
    old_name: &str,
    old: &[&Module],
    new_name: &str,
    new: &[&Module],
    release: &str,
    registry: Option<&Registry>,
    declarations: Option<&Declarations>,
    width: AddressLength,
) -> Gate {
    let options = CheckOptions { registry, declarations, config: None };
    let (report, diff) = check(old_name, old, new_name, new, options);
    let mut undeclared = BTreeMap::new();
    for p in diff.struct_pairs.iter().filter(|p| p.layout_changed && p.is_stored()) {
        let declared = declarations
            .and_then(|d| d.find(&p.lineage, &p.new.name, p.old_module.address, p.new_module.address))
            .is_some();
        if !declared {
            undeclared.insert(
                (p.old_module.clone(), p.old.name.clone()),
                format!("{}::{} -> {}::{}", p.old_module, p.old.name, p.new_module, p.new.name),
            );
        }
    }
    let empty = Declarations::default();
    let (catalogue, errors) = Catalogue::build_partial(
        old,
        new,
        release,
        declarations.unwrap_or(&empty),
        registry,
        &Handlers::stdlib(),
        width,
    );
    let catalogue_problems = errors
        .iter()
        .filter(|e| !matches!(e, migrations::catalogue::CatalogueError::Undeclared { .. }))
        .map(ToString::to_string)
        .collect();
    Gate {
        passes: report.passes(),
        unhandled: report.counts.unhandled as u64,
        problems: report.problems.clone(),
        undeclared,
        catalogue,
        catalogue_problems,
    }
}
