//! `registry check|bump|add`: the stdlib address registry.

use crate::{Outcome, RegistryCommand};
use anyhow::Context;
use std::path::Path;
use upgrade_spec::registry::{Registry, ReleaseName};

fn release_name(s: &str) -> anyhow::Result<ReleaseName> {
    s.parse::<ReleaseName>().map_err(|e| anyhow::anyhow!("{e}"))
}

pub fn run(command: RegistryCommand) -> anyhow::Result<Outcome> {
    match command {
        RegistryCommand::Check { registry, releases } => check(&registry, releases.as_deref()),
        RegistryCommand::Bump { module, release, registry } => {
            let v = stdlib_tools::bump_file(&registry, &module, release_name(&release)?)?;
            let predecessor = v.predecessor.map(|a| a.to_string()).unwrap_or_default();
            println!(
                "{module}: {predecessor} -> {} (release {}), {} updated",
                v.address,
                v.release,
                registry.display()
            );
            Ok(Outcome::Ok)
        }
        RegistryCommand::Add { module, release, registry } => {
            let v = stdlib_tools::add_module_file(&registry, &module, release_name(&release)?)?;
            println!("{module}: new at {} (release {}), {} updated", v.address, v.release, registry.display());
            Ok(Outcome::Ok)
        }
    }
}

fn check(path: &Path, releases: Option<&Path>) -> anyhow::Result<Outcome> {
    // A registry that breaks a rule is bad input: `load` lists every violation.
    let registry = Registry::load(path)?;
    let dir = match releases {
        Some(dir) => Some(dir.to_path_buf()),
        None => path.parent().map(|p| p.join("releases")).filter(|d| d.is_dir()),
    };
    let mut problems = 0;
    let mut checked = Vec::new();
    if let Some(dir) = dir {
        let mut folders: Vec<(ReleaseName, std::path::PathBuf)> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| Some((e.file_name().to_str()?.parse::<ReleaseName>().ok()?, e.path())))
            .collect();
        folders.sort();
        for (name, folder) in folders {
            let release = super::load(&folder, None)?;
            if super::report_failures(&release) {
                return Ok(Outcome::BadInput);
            }
            let ids: Vec<_> = release.modules.iter().map(|m| m.module.id()).collect();
            for v in registry.check_release(name, &ids) {
                eprintln!("{}", v.render(path));
                problems += 1;
            }
            checked.push(name.to_string());
        }
    }
    if problems > 0 {
        return Ok(Outcome::CheckFailed);
    }
    let modules = registry.modules().count();
    let versions: usize = registry.modules().map(|(_, e)| e.versions().len()).sum();
    let against = if checked.is_empty() { String::new() } else { format!("; releases {} agree", checked.join(", ")) };
    println!("{}: {modules} modules, {versions} versions, every rule holds{against}", path.display());
    Ok(Outcome::Ok)
}
