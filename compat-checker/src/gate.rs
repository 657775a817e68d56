//! Whether each breaking change is taken care of.
//!
//! Two concerns, judged apart:
//! - **stored data** (ours): a layout change of a struct whose instances can be in storage
//!   ([`layout_diff::storage`]) is *handled* when every stored struct that holds it has a
//!   declared migration, by either remedy: *versioned* (the module moved to the address the
//!   registry allocated for it, the old version is kept, closed, and no open module imports it)
//!   or *in place* (a declaration whose `from` equals its `to`, for this release). A struct that
//!   can never be stored needs nothing.
//! - **the chain** (theirs): a linking change made in place is what the chain's own check
//!   decides; it is accepted or rejected as the chain verdict says.

use crate::chain::{Chain, ChainVerdict, Profile};
use crate::config::Config;
use crate::finding::{Concern, Finding, Status};
use binary_format::{Address, Module, ModuleId};
use layout_diff::diff::lineage::lineage_name;
use layout_diff::storage::{Cause, Need, Storage};
use layout_diff::{Class, Diff, RuleId};
use releases::graph::{DependencyGraph, Versions};
use std::collections::{BTreeMap, BTreeSet};
use upgrade_spec::declarations::{Declaration, Declarations};
use upgrade_spec::registry::Registry;

#[derive(Debug)]
pub struct Gate<'a> {
    pub registry: Option<&'a Registry>,
    pub declarations: Option<&'a Declarations>,
    pub config: Option<&'a Config>,
}

/// What the gate judges with, beyond its inputs.
#[derive(Debug, Clone, Copy)]
pub struct GateContext<'a> {
    pub old: &'a [&'a Module],
    pub new: &'a [&'a Module],
    pub diff: &'a Diff,
    /// Which structs of the old release can be in storage.
    pub stored: &'a Storage,
    /// The stored structs this upgrade must migrate.
    pub needs: &'a [Need],
    /// Of them, the ones a declaration of this release migrates, by old module and name: the
    /// upgrade's one judgement ([`layout_diff::plan()`]), the catalogue's and the rehearsal's too.
    pub declared: &'a std::collections::BTreeSet<(ModuleId, String)>,
    pub chain: &'a ChainVerdict,
    pub profile: Profile,
    /// NEW's name as declarations give it (`v2`, a folder name).
    pub release: &'a str,
}

/// Whether `rule` changes the layout of one struct (or enum).
fn struct_layout_rule(rule: RuleId) -> bool {
    matches!(
        rule,
        RuleId::StructRemoved
            | RuleId::StructKindChanged
            | RuleId::StructStorageAbilityRemoved
            | RuleId::StructTypeParametersChanged
            | RuleId::StructFieldAdded
            | RuleId::StructFieldRemoved
            | RuleId::StructFieldsReordered
            | RuleId::StructFieldRenamed
            | RuleId::StructFieldRetyped
            | RuleId::StructNestedLayoutChanged
            | RuleId::EnumVariantInserted
            | RuleId::EnumVariantRemoved
            | RuleId::EnumVariantsReordered
            | RuleId::EnumVariantChanged
    )
}

impl Gate<'_> {
    /// Problems with the gate's own inputs: registry rules the registry breaks; declarations of
    /// this release (or between versions this diff moves) that match no layout change of a
    /// stored struct; declarations whose remedy contradicts the release.
    pub fn problems(&self, diff: &Diff, needs: &[Need], release: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .registry
            .map(|r| r.violations().iter().map(|v| format!("registry {}", v.render(r.origin()))).collect())
            .unwrap_or_default();
        let Some(declarations) = self.declarations else { return out };
        let at = |d: &Declaration| format!("{}:{}: migration `{}`", declarations.origin.display(), d.line, d.id);
        // What each declaration is compared with, indexed once by what a declaration names (its
        // module's lineage name, struct and addresses): one pass over the declarations, however
        // many there are.
        let lineage = |id: &ModuleId| lineage_name(id, self.registry);
        let mut moves: BTreeMap<(Address, String), (&ModuleId, &ModuleId)> = BTreeMap::new();
        for (from, to) in &diff.lineage.moves {
            moves.entry((from.address, lineage(to))).or_insert((from, to));
        }
        let mut needed: BTreeSet<(String, &str, Address, Address)> = BTreeSet::new();
        let mut in_place: BTreeSet<(String, &str, Address)> = BTreeSet::new();
        for n in needs {
            let name = lineage(&n.new_module);
            if n.in_place() {
                in_place.insert((name.clone(), n.name.as_str(), n.old_module.address));
            }
            needed.insert((name, n.name.as_str(), n.old_module.address, n.new_module.address));
        }
        for d in declarations.entries() {
            let moved = moves.get(&(d.from, d.module.clone())).copied();
            if needed.contains(&(d.module.clone(), d.struct_name.as_str(), d.from, d.to)) {
                continue;
            }
            if d.is_in_place() {
                if d.release != release {
                    continue;
                }
                match moved {
                    Some((from, to)) => out.push(format!(
                        "{}: declares {}::{} in place at {}, but the module moved from {from} to {to}: declare it from {} to {}",
                        at(d),
                        d.module,
                        d.struct_name,
                        d.from,
                        from.address,
                        to.address
                    )),
                    None => out.push(format!(
                        "{}: declares {}::{} in place at {}, but its layout does not change there (or it is never stored)",
                        at(d),
                        d.module,
                        d.struct_name,
                        d.from
                    )),
                }
                continue;
            }
            match moved {
                Some((_, to)) if to.address == d.to => out.push(format!(
                    "{}: declares {}::{} from {} to {}, but its layout does not change",
                    at(d),
                    d.module,
                    d.struct_name,
                    d.from,
                    d.to
                )),
                None if d.release == release
                    && in_place.contains(&(d.module.clone(), d.struct_name.as_str(), d.from)) =>
                {
                    out.push(format!(
                        "{}: declares {}::{} versioned from {} to {}, but the module did not move: declare it in place (from = to = {})",
                        at(d),
                        d.module,
                        d.struct_name,
                        d.from,
                        d.to,
                        d.from
                    ))
                }
                _ => {}
            }
        }
        out
    }

    /// Sets the status and concern of every finding.
    pub fn apply(&self, findings: &mut [Finding], ctx: &GateContext<'_>) {
        let versions = self.registry.map(Versions::from_registry).unwrap_or_default();
        let graph = DependencyGraph::new(ctx.new.iter().copied(), &versions);
        let stale = graph.stale_imports();
        let new_ids: BTreeSet<ModuleId> = ctx.new.iter().map(|m| m.id()).collect();
        let next = self.registry.and_then(|r| r.next_address().ok());
        for c in findings.iter_mut() {
            let storage_rule = struct_layout_rule(c.rule) || c.rule == RuleId::ClosedVersionChanged;
            let old_module = c.from.clone().unwrap_or_else(|| c.module.clone());
            let stored_item = c.item.as_deref().is_some_and(|i| ctx.stored.is_stored(&old_module, i));
            let concern = if c.class() == Class::Compatible {
                Concern::None
            } else if c.from.is_some()
                || c.rule == RuleId::ClosedVersionChanged
                || (struct_layout_rule(c.rule) && stored_item)
                || (c.rule == RuleId::ModuleRemoved && ctx.stored.module_is_stored(&c.module))
            {
                Concern::Storage
            } else if storage_rule {
                Concern::None
            } else {
                Concern::Chain
            };
            c.concern = concern;
            if let Some(allow) = self.config.and_then(|cfg| cfg.allowance(c.rule, &c.location())) {
                if c.is_breaking() {
                    c.status = Status::Allowed { reason: allow.reason.clone() };
                    continue;
                }
            }
            if c.class() == Class::Compatible {
                // Compatible for stored data and importers, but some chains refuse it (Sui: a
                // new `key`, a new variant, new code under dep-only).
                let refused =
                    ctx.chain.rejections.iter().any(|r| r.module == c.module && r.item.is_some() && r.item == c.item);
                if refused {
                    c.concern = Concern::Chain;
                    c.status = chain_status(ctx.chain, &c.module, c.item.as_deref());
                } else {
                    c.status = Status::Compatible;
                }
                continue;
            }
            if concern == Concern::None {
                // A layout change of a struct nothing stores.
                c.status = Status::NotStored;
                continue;
            }
            if concern == Concern::Chain {
                c.status = chain_status(ctx.chain, &c.module, c.item.as_deref());
                continue;
            }
            let mut missing = Vec::new();
            let name = lineage_name(&c.module, self.registry);
            match &c.from {
                None => match c.rule {
                    RuleId::ModuleRemoved => missing.push(format!(
                        "keep {} in the new release: its stored structs could no longer be read",
                        c.module
                    )),
                    RuleId::ClosedVersionChanged => missing.push(format!("restore {} exactly as published", c.module)),
                    RuleId::StructRemoved => missing.push(format!(
                        "keep {}::{}: its stored instances could no longer be read",
                        c.module,
                        c.item.as_deref().unwrap_or("")
                    )),
                    _ => {}
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
                }
            }
            if struct_layout_rule(c.rule) && stored_item {
                if let Some(item) = &c.item {
                    let key = (old_module.clone(), item.clone());
                    for need in ctx.needs.iter().filter(|n| {
                        (n.old_module == key.0 && n.name == key.1)
                            || n.causes.contains(&Cause::Nested { module: key.0.clone(), name: key.1.clone() })
                    }) {
                        if !ctx.declared.contains(&(need.old_module.clone(), need.name.clone())) {
                            missing.push(undeclared(need, self.registry, ctx, next));
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

/// What is missing for an undeclared migration.
fn undeclared(
    need: &Need,
    registry: Option<&Registry>,
    ctx: &GateContext<'_>,
    next: Option<binary_format::Address>,
) -> String {
    let name = lineage_name(&need.new_module, registry);
    if !need.in_place() {
        return format!(
            "no migration declared for {name}::{} from {} to {}",
            need.name, need.old_module.address, need.new_module.address
        );
    }
    let addr = need.new_module.address;
    let in_place = format!(
        "no migration declared for {name}::{} in place (`release = \"{}\"`, `from = to = \"{addr}\"`)",
        need.name, ctx.release
    );
    match ctx.profile.chain {
        Chain::Diem => {
            let at = next.map_or_else(|| "the next registry address".to_owned(), |a| a.to_string());
            format!(
                "{in_place}, or version {name} at {at} (`compat-checker registry bump {name} --release {}`), keep {} closed and declare it from {addr} to {at}",
                ctx.release, need.new_module
            )
        }
        chain => format!("{in_place} ({} modules cannot move to a new address)", chain.title()),
    }
}

/// The status of a linking change made in place: the chain's word on it.
pub fn chain_status(chain: &ChainVerdict, module: &ModuleId, item: Option<&str>) -> Status {
    let hits: Vec<String> = chain
        .rejections
        .iter()
        .filter(|r| &r.module == module && (r.item.as_deref() == item || r.item.is_none()))
        .map(|r| format!("{} rejects it ({}): {}", chain.chain.title(), r.rule, r.reason))
        .collect();
    if hits.is_empty() {
        Status::Accepted { by: format!("{} ({})", chain.chain, chain.policy) }
    } else {
        Status::Unhandled { missing: hits }
    }
}
