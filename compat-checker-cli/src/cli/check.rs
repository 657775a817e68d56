//! `check OLD NEW`: the compatibility gate, with the chain's verdict beside ours.

use crate::{ChainArg, CheckFormat, GateArg, Outcome, PolicyArg};
use binary_format::AddressLength;
use compat_checker::chain::{Chain, ChainChoice, Policy, ReleaseView};
use compat_checker::config::Config;
use compat_checker::{check_views, ChainOptions, CheckOptions, GateOn};
use std::io::IsTerminal;
use std::path::Path;
use upgrade_spec::declarations::Declarations;
use upgrade_spec::registry::Registry;

#[derive(Debug)]
pub struct Args<'a> {
    pub old: &'a Path,
    pub new: &'a Path,
    pub registry: Option<&'a Path>,
    pub migrations: Option<&'a Path>,
    pub config: Option<&'a Path>,
    pub format: CheckFormat,
    pub address_length: Option<AddressLength>,
    pub chain: ChainArg,
    pub policy: Option<PolicyArg>,
    pub protocol_version: Option<u64>,
    pub gate: GateArg,
    pub release: Option<&'a str>,
}

fn name(path: &Path) -> String {
    path.display().to_string()
}

fn policy(p: PolicyArg) -> Policy {
    match p {
        PolicyArg::Framework => Policy::Framework,
        PolicyArg::Compatible => Policy::Compatible,
        PolicyArg::Arbitrary => Policy::Arbitrary,
        PolicyArg::Additive => Policy::Additive,
        PolicyArg::DepOnly => Policy::DepOnly,
    }
}

fn chain_of(arg: ChainArg) -> Option<Chain> {
    match arg {
        ChainArg::Auto => None,
        ChainArg::Diem => Some(Chain::Diem),
        ChainArg::Aptos => Some(Chain::Aptos),
        ChainArg::Sui => Some(Chain::Sui),
    }
}

/// What `--chain`, `--policy` and `--protocol-version` ask for, `check` and `rehearse` alike: with
/// `auto` the chain is decided from the releases and the policy and version apply to it (the
/// library decides, [`compat_checker::check::decide_profile`]). What cannot fit any release (a
/// path the given chain lacks, a protocol version no chain knows) is refused here, before any
/// release is read.
pub fn choice(
    chain: ChainArg,
    policy_arg: Option<PolicyArg>,
    protocol_version: Option<u64>,
) -> anyhow::Result<ChainChoice> {
    let choice = ChainChoice { chain: chain_of(chain), policy: policy_arg.map(policy), protocol_version, hint: None };
    choice.validate()?;
    Ok(choice)
}

pub fn run(args: Args<'_>) -> anyhow::Result<Outcome> {
    // A registry that does not parse is bad input; one that breaks a rule blocks the check
    // (the report lists the violations).
    let registry = args.registry.map(Registry::load_unchecked).transpose()?;
    let declarations = args.migrations.map(Declarations::load).transpose()?;
    let config = args.config.map(Config::load).transpose()?;
    let old = super::load(args.old, args.address_length)?;
    let new = super::load(args.new, args.address_length)?;
    // A module that does not read is bad input: the check would be incomplete.
    let bad = super::report_failures(&old) | super::report_failures(&new);
    if bad {
        return Ok(Outcome::BadInput);
    }
    let (old_view, new_view) = (ReleaseView::of_release(&old), ReleaseView::of_release(&new));
    let choice = choice(args.chain, args.policy, args.protocol_version)?;
    let options =
        CheckOptions { registry: registry.as_ref(), declarations: declarations.as_ref(), config: config.as_ref() };
    let gate = match args.gate {
        GateArg::Chain => GateOn::Chain,
        GateArg::Storage => GateOn::Storage,
        GateArg::Both => GateOn::Both,
    };
    let chain_options = ChainOptions { choice, gate, release: args.release };
    // Declarations that cannot be right (a default that does not fit its field, a rename of a
    // field that does not exist, an unknown handler, a future release) are bad input: the
    // migrations catalogue says which, with the entry and its line.
    if let Some(declarations) = &declarations {
        let label = args.release.map_or_else(|| releases::label(&name(args.new)), str::to_owned);
        let problems = declaration_problems(&old, &new, &label, declarations, registry.as_ref());
        if !problems.is_empty() {
            // One write: a file of 100,000 wrong declarations is as many lines.
            let mut text = String::new();
            for p in &problems {
                text.push_str("error: ");
                text.push_str(&compat_checker::escape::shown(p));
                text.push('\n');
            }
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
            return Ok(Outcome::BadInput);
        }
    }
    let (report, _) = check_views(&name(args.old), &old_view, &name(args.new), &new_view, options, chain_options)?;
    let color = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    super::print(&match args.format {
        CheckFormat::Text => report.to_text(color),
        CheckFormat::Json => report.to_json(),
        CheckFormat::Github => report.to_github(),
    })?;
    Ok(if report.passes() { Outcome::Ok } else { Outcome::CheckFailed })
}

/// What is wrong with the declarations themselves, each naming the file, line and entry: what
/// the migrations catalogue refuses to build (a default that does not fit its field, a rename of
/// a field either side lacks, a transform that cannot be derived, an unknown hand-written
/// handler), a declaration of one of this upgrade's changes that names another release, and
/// (with a registry) a release the registry never heard of. Whether every change is declared is
/// the gate's question, not this one's.
fn declaration_problems(
    old: &releases::Release,
    new: &releases::Release,
    label: &str,
    declarations: &Declarations,
    registry: Option<&Registry>,
) -> Vec<String> {
    use migrations::catalogue::{Catalogue, CatalogueError};
    // Each declaration's line by its id, found once: an error per declaration must not search
    // them all (100,000 declarations, each wrong, would take minutes).
    let lines: std::collections::BTreeMap<&str, usize> =
        declarations.entries().iter().map(|d| (d.id.as_str(), d.line)).collect();
    let at = |id: &str| format!("{}:{}", declarations.origin.display(), lines.get(id).copied().unwrap_or(0));
    let mut problems = Vec::new();
    let o: Vec<&binary_format::Module> = old.modules.iter().map(|m| &m.module).collect();
    let n: Vec<&binary_format::Module> = new.modules.iter().map(|m| &m.module).collect();
    // With a registry, a `vN` release it has never heard of cannot be in the history.
    let newest = registry.and_then(|r| r.modules().flat_map(|(_, e)| e.versions().iter().map(|v| v.release)).max());
    if let Some(newest) = newest {
        for d in declarations.entries() {
            if let Ok(r) = d.release.as_str().parse::<upgrade_spec::registry::ReleaseName>() {
                if r > newest && d.release != label {
                    problems.push(format!(
                        "{}:{}: migration `{}` names release {}, which the registry does not know (its newest is {newest})",
                        declarations.origin.display(),
                        d.line,
                        d.id,
                        d.release
                    ));
                }
            }
        }
    }
    let handlers = devchain::handlers();
    let Ok(label) = upgrade_spec::ReleaseLabel::new(label) else { return problems };
    let mut builder =
        Catalogue::builder(&o, &n, &label, new.address_length).declarations(declarations).handlers(&handlers);
    if let Some(registry) = registry {
        builder = builder.registry(registry);
    }
    if let Err(errors) = builder.build() {
        for e in errors.0 {
            match &e {
                CatalogueError::Transform { id, .. }
                | CatalogueError::UnknownHandler { id, .. }
                | CatalogueError::Layout { id, .. } => problems.push(format!("{}: {e}", at(id))),
                // It names its line itself.
                CatalogueError::OtherRelease { .. } | CatalogueError::Duplicate { .. } => {
                    problems.push(format!("{}: {e}", declarations.origin.display()));
                }
                // Undeclared changes, declarations matching no change and changed table keys are
                // the gate's to report, with the rest of the report.
                _ => {}
            }
        }
    }
    problems
}
