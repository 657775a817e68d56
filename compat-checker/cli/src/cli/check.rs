//! `check OLD NEW`: the compatibility gate, with the chain's verdict beside ours.

use crate::{ChainArg, CheckFormat, GateArg, Outcome, PolicyArg};
use binary_format::AddressLength;
use compat_checker::chain::{Chain, Policy, Profile, ReleaseView};
use compat_checker::config::Config;
use compat_checker::{check_views, ChainOptions, CheckOptions, GateOn};
use std::io::IsTerminal;
use std::path::Path;
use stdlib::declarations::Declarations;
use stdlib::registry::Registry;

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
    let chain = match args.chain {
        ChainArg::Auto => None,
        ChainArg::Diem => Some(Chain::Diem),
        ChainArg::Aptos => Some(Chain::Aptos),
        ChainArg::Sui => Some(Chain::Sui),
    };
    let profile = match (chain, args.policy) {
        (Some(c), Some(p)) => Some(Profile::new(c, policy(p))?),
        (Some(c), None) => Some(Profile::default_for(c)),
        (None, None) => None,
        (None, Some(p)) => {
            // The chain is decided from the releases; the path given must be one of its paths.
            let (decided, _) = compat_checker::check::decide_profile(None, &old_view, &new_view);
            Some(Profile::new(decided.chain, policy(p))?)
        }
    };
    let decided_auto = chain.is_none();
    let options =
        CheckOptions { registry: registry.as_ref(), declarations: declarations.as_ref(), config: config.as_ref() };
    let gate = match args.gate {
        GateArg::Chain => GateOn::Chain,
        GateArg::Storage => GateOn::Storage,
        GateArg::Both => GateOn::Both,
    };
    let chain_options = ChainOptions { profile, gate, release: args.release };
    let (mut report, _) = check_views(&name(args.old), &old_view, &name(args.new), &new_view, options, chain_options);
    if decided_auto && args.policy.is_some() {
        // The chain was still decided automatically; say so rather than "given".
        let (_, why) = compat_checker::check::decide_profile(None, &old_view, &new_view);
        report.chain.decided = why;
    }
    let color = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    super::print(&match args.format {
        CheckFormat::Text => report.to_text(color),
        CheckFormat::Json => report.to_json(),
        CheckFormat::Github => report.to_github(),
    })?;
    Ok(if report.passes() { Outcome::Ok } else { Outcome::CheckFailed })
}
