//! The gate: the upgrade judged once ([`layout_diff::plan()`]) and the checker's report on it, and
//! what the rehearsal needs of that judgement: the stored structs the upgrade must migrate, each
//! with the migration that carries it (or why none does), and the catalogue of the declared
//! migrations, built from the same plan.

use binary_format::{AddressLength, Module, ModuleId};
use compat_checker::chain::{ChainChoice, ProfileError, ReleaseView};
use compat_checker::{check_views, ChainOptions, CheckOptions};
use layout_diff::{Declared, Upgrade};
use migrations::catalogue::{Catalogue, CatalogueError};
use migrations::handlers::Handlers;
use std::collections::BTreeMap;
use upgrade_spec::declarations::Scope;
use upgrade_spec::{Declarations, Registry, ReleaseLabel};

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
    /// The stored structs the upgrade must migrate, by their old (module, name).
    pub needs: BTreeMap<(ModuleId, String), NeedInfo>,
    /// The declared migrations that validate.
    pub catalogue: Catalogue,
    /// What is wrong with the declarations as the catalogue reads them.
    pub catalogue_problems: Vec<String>,
}

/// The two releases as the gate judges them.
#[derive(Debug, Clone, Copy)]
pub struct Releases<'a> {
    pub old_name: &'a str,
    pub old: &'a ReleaseView<'a>,
    pub new_name: &'a str,
    pub new: &'a ReleaseView<'a>,
}

/// Judges the upgrade, runs the checker on it and builds the catalogue; fails when the chain
/// choice does not fit the chain the releases point to.
#[allow(clippy::too_many_arguments)]
pub fn run(
    releases: Releases<'_>,
    label: &ReleaseLabel,
    registry: Option<&Registry>,
    declarations: Option<&Declarations>,
    width: AddressLength,
    choice: ChainChoice,
    handlers: &Handlers,
) -> Result<Gate, ProfileError> {
    let options = CheckOptions { registry, declarations, config: None };
    let chain = ChainOptions { choice, release: Some(label.as_str()), ..ChainOptions::default() };
    let (report, _) = check_views(releases.old_name, releases.old, releases.new_name, releases.new, options, chain)?;
    let old: Vec<&Module> = releases.old.modules.clone();
    let new: Vec<&Module> = releases.new.modules.clone();
    let upgrade = Upgrade {
        old: &old,
        new: &new,
        release: label,
        registry,
        declarations,
        versioning: report.chain.chain.versioning(),
    };
    let plan = layout_diff::plan(&upgrade);
    let (catalogue, errors) = Catalogue::from_plan(&upgrade, &plan, handlers, width);
    let mut needs = BTreeMap::new();
    for planned in &plan.needs {
        let need = &planned.need;
        let change = format!("{}::{} -> {}::{}", need.old_module, need.name, need.new_module, need.name);
        let declared = plan.declaration(declarations, planned);
        let entry = declared.and_then(|d| catalogue.entry(&d.id));
        let (migration, why_not) = match (entry, planned.declared) {
            (Some(e), _) => (
                Some(Carried {
                    id: e.id.clone(),
                    in_place: e.is_in_place(),
                    system: matches!(e.scope, Scope::System | Scope::Both),
                    users: matches!(e.scope, Scope::Users | Scope::Both),
                }),
                None,
            ),
            (None, Declared::By(_)) => (None, Some("its declaration cannot be used (see the gate)".to_owned())),
            (None, Declared::ForAnotherRelease(_)) => {
                (None, Some("it is declared for another release than this one".to_owned()))
            }
            (None, Declared::Not) => (None, Some("no migration is declared for it".to_owned())),
        };
        needs.insert((need.old_module.clone(), need.name.clone()), NeedInfo { change, migration, why_not });
    }
    let catalogue_problems =
        errors.iter().filter(|e| !matches!(e, CatalogueError::Undeclared { .. })).map(ToString::to_string).collect();
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
        needs,
        catalogue,
        catalogue_problems,
    })
}

/// A stored struct (module, name) the upgrade must migrate, as the gate decides it and the pass counts it.
#[derive(Debug, Clone)]
pub struct NeedInfo {
    /// `0x1::Coin::Balance -> 0x3::Coin::Balance`.
    pub change: String,
    /// The migration that carries it, when one is declared and usable: its id, whether it is in
    /// place, and which accounts its scope covers.
    pub migration: Option<Carried>,
    /// Why none carries it, when none does.
    pub why_not: Option<String>,
}

/// How a declared migration carries a struct.
#[derive(Debug, Clone)]
pub struct Carried {
    pub id: String,
    pub in_place: bool,
    /// The scope's accounts: system only, users only, or both.
    pub system: bool,
    pub users: bool,
}
