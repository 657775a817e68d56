//! `check OLD NEW`: the compatibility gate.

use crate::{CheckFormat, Outcome};
use binary_format::AddressLength;
use compat_checker::config::Config;
use compat_checker::{check, CheckOptions};
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
}

fn name(path: &Path) -> String {
    path.display().to_string()
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
    let options =
        CheckOptions { registry: registry.as_ref(), declarations: declarations.as_ref(), config: config.as_ref() };
    let old_modules: Vec<_> = old.modules.iter().map(|m| &m.module).collect();
    let new_modules: Vec<_> = new.modules.iter().map(|m| &m.module).collect();
    let (report, _) = check(&name(args.old), &old_modules, &name(args.new), &new_modules, options);
    let color = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    super::print(&match args.format {
        CheckFormat::Text => report.to_text(color),
        CheckFormat::Json => report.to_json(),
        CheckFormat::Github => report.to_github(),
    })?;
    Ok(if report.passes() { Outcome::Ok } else { Outcome::CheckFailed })
}
