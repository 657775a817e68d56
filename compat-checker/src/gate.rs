//! Whether each breaking change is taken care of.
//!
//! A layout-breaking change is *handled* when the module moved to an address the registry
//! allocated for it (the version after the one it came from), the old version is kept in the new
//! release and closed, no open module still imports the old version, and a migration is declared
//! for every stored struct whose layout changed. A change made in place at the same address is
//! never handled: the VM would read old bytes with the new layout.

use crate::config::Config;
use crate::finding::{Finding, Status};
use binary_format::{Ability, Module, ModuleId};
use layout_diff::diff::lineage::lineage_name;
use layout_diff::{Class, Diff, RuleId};
use std::collections::BTreeSet;
use stdlib::declarations::Declarations;
use stdlib::graph::{DependencyGraph, Versions};
use stdlib::registry::Registry;

#[derive(Debug)]
pub struct Gate<'a> {
    pub registry: Option<&'a Registry>,
    pub declarations: Option<&'a Declarations>,
    pub config: Option<&'a Config>,
}

impl Gate<'_> {
    /// Problems with the gate's own inputs: registry rules the registry breaks, and declared
    /// migrations between versions this diff moves that match no layout change of a stored
    /// struct (a stale or mistyped declaration).
    pub fn problems(&self, diff: &Diff) -> Vec<String> {
        let mut out: Vec<String> = self
            .registry
            .map(|r| r.violations().iter().map(|v| format!("registry {}", v.render(r.origin()))).collect())
            .unwrap_or_default();
        if let Some(declarations) = self.declarations {
            for (from, to) in &diff.lineage.moves {
                let lineage = lineage_name(to, self.registry);
                for d in declarations
                    .entries
                    .iter()
                    .filter(|d| d.module == lineage && d.from == from.address && d.to == to.address)
                {
                    let real = diff.struct_pairs.iter().any(|p| {
                        p.new_module == *to && p.old_module == *from && p.new.name == d.struct_name && p.layout_changed
                    });
                    if !real {
                        out.push(format!(
                            "{}:{}: migration `{}` declares {}::{} from {} to {}, but its layout does not change",
                            declarations.origin.display(),
                            d.line,
                            d.id,
                            d.module,
                            d.struct_name,
                            d.from,
                            d.to
                        ));
                    }
                }
            }
        }
        out
    }

    /// Sets the status of every finding.
    pub fn apply(&self, findings: &mut [Finding], new: &[&Module]) {
        let versions = self.registry.map(Versions::from_registry).unwrap_or_default();
        let graph = DependencyGraph::new(new.iter().copied(), &versions);
        let stale = graph.stale_imports();
        let new_ids: BTreeSet<ModuleId> = new.iter().map(|m| m.id()).collect();
        let next = self.registry.and_then(|r| r.next_address().ok());
        for c in findings.iter_mut() {
            if let Some(allow) = self.config.and_then(|cfg| cfg.allowance(c.rule, &c.location())) {
                if c.is_breaking() {
                    c.status = Status::Allowed { reason: allow.reason.clone() };
                    continue;
                }
            }
            if c.class() == Class::Compatible {
                c.status = Status::Compatible;
                continue;
            }
            let mut missing = Vec::new();
            let name = lineage_name(&c.module, self.registry);
            match &c.from {
                None => match c.rule {
                    RuleId::ModuleRemoved => missing.push(format!("keep {} in the new release, closed", c.module)),
                    RuleId::ClosedVersionChanged => missing.push(format!("restore {} exactly as published", c.module)),
                    _ => {
                        let at = next.map_or_else(|| "the next registry address".to_owned(), |a| a.to_string());
                        missing.push(format!(
                            "{} changed in place: version {name} at {at} (`compat-checker registry bump {name} --release vN`), keep {} closed, and declare a migration",
                            c.module, c.module
                        ));
                    }
                },
                Some(from) => {
                    match self.registry {
                        None => missing
                            .push("no registry given (--registry): the new address must be allocated there".to_owned()),
                        Some(r) => match r.lookup(&c.module) {
                            Some((_, v)) if v.predecessor == Some(from.address) => {
                                if !r.is_closed(from) {
                                    missing.push(format!("the registry does not mark {from} closed"));
                                }
                            }
                            Some((_, v)) => missing.push(format!(
                                "the registry gives {} the predecessor {}, not {}",
                                c.module,
                                v.predecessor.map_or_else(|| "none".to_owned(), |a| a.to_string()),
                                from.address
                            )),
                            None => {
                                missing.push(format!("the registry has no version of {name} at {}", c.module.address))
                            }
                        },
                    }
                    if !new_ids.contains(from) {
                        missing.push(format!("keep the old version {from} in the new release, closed"));
                    }
                    for s in stale.iter().filter(|s| &s.imported == from) {
                        missing
                            .push(format!("{} still imports {from}: republish it importing {}", s.importer, c.module));
                    }
                    if c.class() == Class::LayoutBreaking {
                        if let Some(item) = &c.item {
                            let stored = new
                                .iter()
                                .find(|m| m.id() == c.module)
                                .and_then(|m| m.find_struct(item))
                                .is_some_and(|s| s.abilities.has(Ability::Key));
                            let declared =
                                self.declarations.and_then(|d| d.find(&name, item, from.address, c.module.address));
                            if stored && declared.is_none() {
                                missing.push(format!(
                                    "no migration declared for {name}::{item} from {} to {}",
                                    from.address, c.module.address
                                ));
                            }
                        }
                    }
                }
            }
            missing.sort();
            missing.dedup();
            c.status = if missing.is_empty() { Status::Handled } else { Status::Unhandled { missing } };
        }
    }
}
