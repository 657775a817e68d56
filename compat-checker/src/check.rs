//! The checker as a library: compare two releases, classify, judge stored data and the chain's
//! own check, and give both verdicts.

use crate::chain::{self, detect, ChainChoice, ChainVerdict, Profile, ProfileError, ReleaseView};
use crate::config::Config;
use crate::finding::Finding;
use crate::gate::{Gate, GateContext};
use crate::report::{GateOn, Report, StorageVerdict};
use binary_format::Module;
use binary_format::ModuleId;
use layout_diff::storage::{Cause, Need};
use layout_diff::{Change, Declared, Diff, Plan, RuleId, Upgrade};
use std::collections::BTreeSet;
use upgrade_spec::declarations::Declarations;
use upgrade_spec::registry::Registry;
use upgrade_spec::{ReleaseId, ReleaseLabel};

/// What the check is gated with; all optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions<'a> {
    pub registry: Option<&'a Registry>,
    pub declarations: Option<&'a Declarations>,
    pub config: Option<&'a Config>,
}

/// Which chain's rules judge the upgrade, and what the verdict gates on.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChainOptions<'a> {
    /// The chain, the upgrade path and (Sui) the protocol version; what is absent is decided:
    /// the chain from the releases (`auto`), the path as its default, the version as the newest.
    pub choice: ChainChoice,
    /// What fails the check: the chain's verdict, stored data, or both.
    pub gate: GateOn,
    /// NEW's name as the declarations give it; `None` takes the file name of `new_name` without
    /// its extension (`v2` for `stdlib/releases/v2`).
    pub release: Option<&'a str>,
}

/// Compares `old` with `new` (bare modules; the chain decided from them, on its default path)
/// and returns the report, and the diff it rests on.
pub fn check(
    old_name: &str,
    old: &[&Module],
    new_name: &str,
    new: &[&Module],
    options: CheckOptions<'_>,
) -> (Report, Diff) {
    let (old, new) = (ReleaseView::of(old), ReleaseView::of(new));
    let (chain, decided) = decide_chain(None, &old, &new);
    let profile = Profile::default_for(chain);
    check_profile(old_name, &old, new_name, &new, options, ChainOptions::default(), profile, decided)
}

/// Compares two releases as loaded (their containers, files and bytes known). Fails only when
/// the chain choice does not fit the chain the releases point to.
pub fn check_releases(
    old_name: &str,
    old: &releases::Release,
    new_name: &str,
    new: &releases::Release,
    options: CheckOptions<'_>,
    chain: ChainOptions<'_>,
) -> Result<(Report, Diff), ProfileError> {
    check_views(old_name, &ReleaseView::of_release(old), new_name, &ReleaseView::of_release(new), options, chain)
}

fn evidence<'a>(v: &'a ReleaseView<'_>) -> detect::Evidence<'a> {
    detect::Evidence { kind: v.kind, address_length: v.address_length, modules: &v.modules }
}

fn decide_chain(hint: Option<detect::Hint>, old: &ReleaseView<'_>, new: &ReleaseView<'_>) -> (chain::Chain, String) {
    detect::decide_with(hint, &evidence(old), &evidence(new))
}

/// The profile `choice` asks for on the chain it names, or on the one the releases point to,
/// with how the chain was decided (`given`, or what `auto` saw). `check` and `rehearse` both
/// decide through it.
pub fn decide_profile(
    choice: ChainChoice,
    old: &ReleaseView<'_>,
    new: &ReleaseView<'_>,
) -> Result<(Profile, String), ProfileError> {
    match choice.chain {
        Some(chain) => Ok((choice.profile_for(chain)?, "given".to_owned())),
        None => {
            let (chain, why) = decide_chain(choice.hint, old, new);
            match choice.profile_for(chain) {
                Ok(profile) => Ok((profile, why)),
                Err(error) => Err(ProfileError::Decided { chain, why, error: Box::new(error) }),
            }
        }
    }
}

/// The check on two release views. Fails only when the chain choice does not fit the chain the
/// releases point to (a path or a protocol version that chain does not have).
pub fn check_views(
    old_name: &str,
    old: &ReleaseView<'_>,
    new_name: &str,
    new: &ReleaseView<'_>,
    options: CheckOptions<'_>,
    chain_options: ChainOptions<'_>,
) -> Result<(Report, Diff), ProfileError> {
    let (profile, decided) = decide_profile(chain_options.choice, old, new)?;
    Ok(check_profile(old_name, old, new_name, new, options, chain_options, profile, decided))
}

#[allow(clippy::too_many_arguments)]
fn check_profile(
    old_name: &str,
    old: &ReleaseView<'_>,
    new_name: &str,
    new: &ReleaseView<'_>,
    options: CheckOptions<'_>,
    chain_options: ChainOptions<'_>,
    profile: Profile,
    decided: String,
) -> (Report, Diff) {
    let label = chain_options.release.map_or_else(|| releases::label(new_name), str::to_owned);
    // The upgrade judged once: the diff, what can be stored, what must be migrated and by which
    // declaration, as the catalogue and the rehearsal judge it.
    let release = release_label(&label);
    let upgrade = Upgrade {
        old: &old.modules,
        new: &new.modules,
        release: &release,
        registry: options.registry,
        declarations: options.declarations,
        versioning: profile.chain.versioning(),
    };
    let plan = layout_diff::plan(&upgrade);
    let declared: BTreeSet<(ModuleId, String)> = plan
        .needs
        .iter()
        .filter(|p| matches!(p.declared, Declared::By(_)))
        .map(|p| (p.need.old_module.clone(), p.need.name.clone()))
        .collect();
    let Plan { diff: d, stored, needs } = plan;
    let needs: Vec<Need> = needs.into_iter().map(|p| p.need).collect();
    let verdict: ChainVerdict = chain::verdict(profile, old, new, decided);
    let mut changes = d.changes.clone();
    changes.extend(nested_changes(&needs, &changes));
    changes.sort_by(|a, b| {
        (&a.module, &a.item, &a.field, a.rule.as_str()).cmp(&(&b.module, &b.item, &b.field, b.rule.as_str()))
    });
    let mut findings: Vec<Finding> = changes
        .into_iter()
        .map(|change| {
            let suggestion = crate::advice::suggestion(&change);
            Finding::new(change, suggestion)
        })
        .collect();
    for f in &mut findings {
        let id = f.from.clone().filter(|_| f.rule == RuleId::ModuleRemoved).unwrap_or_else(|| f.module.clone());
        f.file = new.origins.get(&id).or_else(|| old.origins.get(&id)).cloned();
    }
    let gate = Gate { registry: options.registry, declarations: options.declarations, config: options.config };
    let ctx = GateContext {
        old: &old.modules,
        new: &new.modules,
        diff: &d,
        stored: &stored,
        needs: &needs,
        declared: &declared,
        chain: &verdict,
        profile,
        release: &label,
    };
    gate.apply(&mut findings, &ctx);
    for f in &mut findings {
        f.suggestion = crate::advice::fitted(f, &ctx);
    }
    let problems = gate.problems(&d, &needs, &label);
    let storage = StorageVerdict::new(&findings, &problems, &needs, &stored, |n| {
        declared.contains(&(n.old_module.clone(), n.name.clone()))
    });
    let warnings = options
        .config
        .map(|c| c.unmatched(findings.iter().filter(|f| f.is_breaking()).map(|f| (f.rule, f.location()))))
        .unwrap_or_default();
    let mut report =
        Report::with_verdicts(old_name, new_name, findings, problems, verdict, storage, chain_options.gate);
    report.warnings = warnings;
    (report, d)
}

/// A change for each stored struct that is due a migration only because a struct it holds
/// changed (its own declaration is unchanged, so the diff says nothing of it).
fn nested_changes(needs: &[Need], changes: &[Change]) -> Vec<Change> {
    let mut out = Vec::new();
    for n in needs {
        let retyped = changes.iter().any(|c| {
            c.module == n.new_module
                && c.item.as_deref() == Some(n.name.as_str())
                && c.rule == RuleId::StructFieldRetyped
        });
        if retyped {
            continue;
        }
        let nested: Vec<String> = n
            .causes
            .iter()
            .filter_map(|c| match c {
                Cause::Nested { module, name } => Some(format!("{module}::{name}")),
                Cause::Own => None,
            })
            .collect();
        if nested.is_empty() {
            continue;
        }
        let mut c = Change::new(
            RuleId::StructNestedLayoutChanged,
            &n.new_module,
            format!("holds {}, whose layout changed", nested.join(", ")),
        )
        .item(&n.name)
        .derivable(n.derivable);
        if !n.in_place() {
            c.from = Some(n.old_module.clone());
        }
        c.old = Some(nested.join(", "));
        out.push(c);
    }
    out
}

/// The release label declarations are matched against: NEW's name, with anything a label cannot
/// hold made `_` (no valid declaration names such a release, so nothing can match it by chance
/// that would not match its name).
fn release_label(name: &str) -> ReleaseLabel {
    let cleaned: String = name
        .chars()
        .take(upgrade_spec::release::MAX_RELEASE_LABEL)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') { c } else { '_' })
        .collect();
    ReleaseLabel::new(&cleaned).unwrap_or_else(|_| ReleaseId::numbered(0).label().clone())
}
