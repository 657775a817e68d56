//! Each chain's check, restated: which modules of an upgrade the chain rejects, and why. One
//! file per chain ([`diem`], [`aptos`], [`sui`]); what they share is here.
//!
//! Modules are paired by id (address and name): real chains never move a module, so a module of
//! the same name at another address is a new one. Every module is compared and every failure
//! kept, where the chains stop at the first.

mod aptos;
mod diem;
mod sui;

use super::bodies::Body;
use super::rules::ChainRuleId as Id;
use super::{Chain, Policy, Profile, Rejection, ReleaseView};
use aptos::aptos;
use binary_format::{AbilitySet, Function, Module, ModuleId, Struct};
use diem::diem;
use std::collections::{BTreeMap, BTreeSet};
use sui::sui;

/// A module's function bodies by name.
pub(super) type Bodies = BTreeMap<String, Body>;

pub(super) fn subset(a: AbilitySet, b: AbilitySet) -> bool {
    a.bits() & !b.bits() == 0
}

pub(super) fn fields_text(s: &Struct) -> String {
    if let Some(vs) = &s.variants {
        return vs
            .iter()
            .map(|v| {
                let fs = v.fields.iter().map(|f| format!("{}: {}", f.name, f.ty)).collect::<Vec<_>>().join(", ");
                if fs.is_empty() {
                    v.name.clone()
                } else {
                    format!("{} {{ {fs} }}", v.name)
                }
            })
            .collect::<Vec<_>>()
            .join(" | ");
    }
    s.fields.iter().map(|f| format!("{}: {}", f.name, f.ty)).collect::<Vec<_>>().join(", ")
}

pub(super) fn tparams_text(s: &Struct) -> String {
    let ps: Vec<String> = s
        .type_params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ph = if p.phantom { "phantom " } else { "" };
            if p.constraints.is_empty() {
                format!("{ph}T{i}")
            } else {
                format!("{ph}T{i}: {}", p.constraints.iter().map(|a| a.name()).collect::<Vec<_>>().join(" + "))
            }
        })
        .collect();
    format!("<{}>", ps.join(", "))
}

/// Why a function's `entry` change is refused: it lost `entry`, or (between modules older than
/// bytecode v5, on `chain`) gained it.
pub(super) fn entry_change(f: &Function, chain: &str) -> String {
    if f.entry {
        format!("{} is no longer entry", f.name)
    } else {
        format!("{} became entry, which {chain} refuses between modules older than v5", f.name)
    }
}

/// `public fun f<T0: copy>(u64): u128`, as the report shows a signature.
pub fn signature(f: &Function) -> String {
    binary_format::text::declaration(f)
}

/// Collects rejections for one module pair.
pub(super) struct Out<'a> {
    pub(super) module: &'a ModuleId,
    pub(super) list: &'a mut Vec<Rejection>,
}

impl Out<'_> {
    pub(super) fn reject(
        &mut self,
        rule: Id,
        item: Option<&str>,
        old: Option<String>,
        new: Option<String>,
        reason: String,
    ) {
        self.list.push(Rejection {
            module: self.module.clone(),
            rule,
            item: item.map(str::to_owned),
            old,
            new,
            reason,
        });
    }
}

pub(super) fn tparams_loosen_only(old: &Function, new: &Function) -> bool {
    old.type_params.len() == new.type_params.len()
        && old.type_params.iter().zip(&new.type_params).all(|(o, n)| subset(n.constraints, o.constraints))
}

/// The checks of `profile` on `old` -> `new`: the rejections, and informational notes. Every
/// check of the path runs; a rule that does not apply at the profile's protocol version (Sui)
/// rejects nothing.
pub fn evaluate(profile: Profile, old: &ReleaseView<'_>, new: &ReleaseView<'_>) -> (Vec<Rejection>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    match (profile.chain, profile.policy) {
        (Chain::Diem, Policy::Framework) => {
            let mut would = Vec::new();
            diem(old, new, &mut would);
            let modules: BTreeSet<String> = would.iter().map(|r| r.module.to_string()).collect();
            if !modules.is_empty() {
                notes.push(format!(
                    "informational, as Diem's release tool printed it: published as modules, the VM's check would reject {} module{} ({})",
                    modules.len(),
                    if modules.len() == 1 { "" } else { "s" },
                    modules.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        (Chain::Diem, _) => diem(old, new, &mut out),
        (Chain::Aptos, Policy::Arbitrary) => {
            let mut would = Vec::new();
            aptos(old, new, &mut would);
            let modules: BTreeSet<String> = would.iter().map(|r| r.module.to_string()).collect();
            if !modules.is_empty() {
                notes.push(format!(
                    "informational: under the compatible policy Aptos would reject {} module{} ({})",
                    modules.len(),
                    if modules.len() == 1 { "" } else { "s" },
                    modules.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        (Chain::Aptos, _) => aptos(old, new, &mut out),
        (Chain::Sui, policy) => sui(policy, old, new, &mut out, &mut notes),
    }
    out.retain(|r| profile.applies(r.rule));
    (out, notes)
}

pub(super) fn by_id<'a>(view: &ReleaseView<'a>) -> BTreeMap<ModuleId, &'a Module> {
    view.modules.iter().map(|m| (m.id(), *m)).collect()
}

/// Struct rules Diem and Aptos share: abilities may be gained but not lost, type parameters may
/// be loosened or made phantom but nothing else, fields must stay as they were.
pub(super) fn datatype_linking(om: &Module, nm: &Module, o: &mut Out<'_>, chain: Chain) {
    let ids = |diem: Id, aptos: Id| if chain == Chain::Diem { diem } else { aptos };
    for s in &om.structs {
        let Some(n) = nm.find_struct(&s.name) else {
            o.reject(
                ids(Id::DiemStructMissing, Id::AptosStructMissing),
                Some(&s.name),
                Some(fields_text(s)),
                None,
                format!("struct {} was removed", s.name),
            );
            continue;
        };
        if !subset(s.abilities, n.abilities) {
            o.reject(
                ids(Id::DiemStructAbilityLost, Id::AptosStructAbilityLost),
                Some(&s.name),
                Some(s.abilities.to_string()),
                Some(n.abilities.to_string()),
                format!("{} lost {}", s.name, lost(s.abilities, n.abilities)),
            );
        }
        if s.type_params.len() != n.type_params.len() {
            o.reject(
                ids(Id::DiemStructTparamCount, Id::AptosStructTparamCount),
                Some(&s.name),
                Some(tparams_text(s)),
                Some(tparams_text(n)),
                format!("{} type parameters of {} became {}", s.type_params.len(), s.name, n.type_params.len()),
            );
        } else {
            for (i, (op, np)) in s.type_params.iter().zip(&n.type_params).enumerate() {
                if op.phantom && !np.phantom {
                    o.reject(
                        ids(Id::DiemStructTparamUnphantom, Id::AptosStructTparamUnphantom),
                        Some(&s.name),
                        Some(tparams_text(s)),
                        Some(tparams_text(n)),
                        format!("T{i} of {} is no longer phantom", s.name),
                    );
                }
                if !subset(np.constraints, op.constraints) {
                    o.reject(
                        ids(Id::DiemStructTparamConstraintAdded, Id::AptosStructTparamConstraintAdded),
                        Some(&s.name),
                        Some(tparams_text(s)),
                        Some(tparams_text(n)),
                        format!("T{i} of {} now requires {}", s.name, lost(np.constraints, op.constraints)),
                    );
                }
            }
        }
        match (&s.variants, &n.variants, chain) {
            (None, None, _) | (_, _, Chain::Diem) => {
                if s.fields != n.fields || s.variants != n.variants {
                    o.reject(
                        ids(Id::DiemStructFields, Id::AptosStructFields),
                        Some(&s.name),
                        Some(fields_text(s)),
                        Some(fields_text(n)),
                        format!("the fields of {} changed", s.name),
                    );
                }
            }
            (Some(ov), Some(nv), _) => {
                let prefix = ov.len() <= nv.len() && ov.iter().zip(nv).all(|(a, b)| a == b);
                if !prefix {
                    o.reject(
                        Id::AptosEnumVariants,
                        Some(&s.name),
                        Some(fields_text(s)),
                        Some(fields_text(n)),
                        format!("existing variants of {} changed (only appending is allowed)", s.name),
                    );
                }
            }
            _ => o.reject(
                Id::AptosEnumVariants,
                Some(&s.name),
                Some(fields_text(s)),
                Some(fields_text(n)),
                format!("{} changed between struct and enum", s.name),
            ),
        }
    }
}

/// The abilities of `a` not in `b`, as `store, key`.
pub(super) fn lost(a: AbilitySet, b: AbilitySet) -> String {
    a.iter().filter(|x| !b.has(*x)).map(|x| format!("`{}`", x.name())).collect::<Vec<_>>().join(", ")
}
