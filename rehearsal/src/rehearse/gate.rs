//! The gate: the checker run once on OLD -> NEW (the only call of it in the rehearsal), and what
//! the rehearsal needs of its diff: the stored structs whose layout changes with no migration
//! declared (every stored instance of one would halt the chain), and the catalogue of the
//! declared migrations.

use binary_format::{AddressLength, Module, ModuleId};
use compat_checker::chain::{ChainChoice, ProfileError, ReleaseView};
use compat_checker::{check_views, ChainOptions, CheckOptions};
use layout_diff::diff::lineage::lineage_name;
use layout_diff::storage::needs_migration;
use migrations::catalogue::Catalogue;
use migrations::handlers::Handlers;
use std::collections::BTreeMap;
use upgrade_spec::declarations::Declarations;
use upgrade_spec::registry::Registry;

/// What the gate found.
#[derive(Debug)]
pub struct Gate {
    /// The checker's verdict.
    pub passes: bool,
    /// The chain profile it judged with (`aptos compatible`), and how it was decided.
    pub chain: String,
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

/// Runs the checker and builds the catalogue; fails when the chain choice does not fit the chain
/// the releases point to.
#[allow(clippy::too_many_arguments)]
pub fn run(
    old_name: &str,
    old: &[&Module],
    new_name: &str,
    new: &[&Module],
    label: &upgrade_spec::ReleaseLabel,
    registry: Option<&Registry>,
    declarations: Option<&Declarations>,
    width: AddressLength,
    choice: ChainChoice,
    handlers: &Handlers,
) -> Result<Gate, ProfileError> {
    let options = CheckOptions { registry, declarations, config: None };
    let chain = ChainOptions { choice, release: Some(label.as_str()), ..ChainOptions::default() };
    // Both releases have the state's address width (checked before the gate): it is evidence
    // for `--chain auto` that bare modules do not carry.
    let old_view = ReleaseView { address_length: Some(width), ..ReleaseView::of(old) };
    let new_view = ReleaseView { address_length: Some(width), ..ReleaseView::of(new) };
    let (report, diff) = check_views(old_name, &old_view, new_name, &new_view, options, chain)?;
    // The structs whose stored instances must be rewritten, as the checker and the catalogue
    // decide it (one function): those with no declaration would halt the chain.
    let mut undeclared = BTreeMap::new();
    for need in needs_migration(old, new, &diff) {
        let lineage = lineage_name(&need.new_module, registry);
        let declared = declarations
            .and_then(|d| d.find(&lineage, &need.name, need.old_module.address, need.new_module.address))
            .is_some_and(|d| d.release == *label);
        if !declared {
            undeclared.insert(
                (need.old_module.clone(), need.name.clone()),
                format!("{}::{} -> {}::{}", need.old_module, need.name, need.new_module, need.name),
            );
        }
    }
    let empty = Declarations::default();
    let (catalogue, errors) =
        Catalogue::build_partial(old, new, label, declarations.unwrap_or(&empty), registry, handlers, width);
    let catalogue_problems = errors
        .iter()
        .filter(|e| !matches!(e, migrations::catalogue::CatalogueError::Undeclared { .. }))
        .map(ToString::to_string)
        .collect();
    let protocol = report.chain.protocol_version.map(|v| format!(", protocol {v}")).unwrap_or_default();
    Ok(Gate {
        passes: report.passes(),
        chain: format!(
            "{} {}{protocol} ({})",
            report.chain.chain.as_str(),
            report.chain.policy.as_str(),
            report.chain.decided
        ),
        unhandled: report.counts.unhandled as u64,
        problems: report.problems.clone(),
        undeclared,
        catalogue,
        catalogue_problems,
    })
}
