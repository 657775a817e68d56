//! Aptos-based (0L): the legacy checker with friend linking off, and code.move's package checks.

use super::{by_id, datatype_linking, entry_change, signature, tparams_loosen_only, Out};
use crate::chain::rules::ChainRuleId as Id;
use crate::chain::{Chain, Rejection, ReleaseView};
use binary_format::version::VERSION_5;
use binary_format::{Address, Function, Module, ModuleId, Visibility};
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn aptos(old: &ReleaseView<'_>, new: &ReleaseView<'_>, list: &mut Vec<Rejection>) {
    let new_by_id = by_id(new);
    // Packages: named by the container where both sides say, else one per address.
    let named = !old.packages.is_empty() && !new.packages.is_empty();
    let package = |view: &ReleaseView<'_>, id: &ModuleId| -> String {
        if named {
            view.packages.get(id).cloned().unwrap_or_else(|| id.address.to_string())
        } else {
            id.address.to_string()
        }
    };
    let mut new_packages: BTreeMap<(Address, String), BTreeSet<String>> = BTreeMap::new();
    for m in &new.modules {
        new_packages.entry((m.address, package(new, &m.id()))).or_default().insert(m.name.clone());
    }
    for om in &old.modules {
        let id = om.id();
        let mut o = Out { module: &id, list };
        if let Some(nm) = new_by_id.get(&id) {
            aptos_module(om, nm, &mut o);
        }
        // A republished package must keep every module it had, wherever else the module went.
        let p = package(old, &id);
        if let Some(names) = new_packages.get(&(id.address, p.clone())) {
            if !names.contains(&om.name) {
                let reason = if named {
                    format!(
                        "package {p} at {} is republished without {}: code.move refuses it (EMODULE_MISSING)",
                        id.address, om.name
                    )
                } else {
                    format!(
                        "the package at {} is republished without {}: code.move refuses it (EMODULE_MISSING)",
                        id.address, om.name
                    )
                };
                o.reject(Id::AptosPkgModuleMissing, None, None, None, reason);
            }
        }
    }
}

fn aptos_module(om: &Module, nm: &Module, o: &mut Out<'_>) {
    datatype_linking(om, nm, o, Chain::Aptos);
    let exposed = |f: &Function| f.visibility != Visibility::Private || f.entry;
    let both_old = om.bytecode_version.number < VERSION_5 && nm.bytecode_version.number < VERSION_5;
    for f in om.functions.iter().filter(|f| exposed(f)) {
        // Friend functions are private on 0L's chain: nothing about them is checked.
        if f.visibility == Visibility::Friend {
            continue;
        }
        let Some(g) = nm.find_function(&f.name).filter(|g| exposed(g)) else {
            let (rule, what) = if f.visibility == Visibility::Public {
                (Id::AptosFnPublicMissing, "public function")
            } else {
                (Id::AptosFnPrivateEntryMissing, "entry function")
            };
            o.reject(
                rule,
                Some(&f.name),
                Some(signature(f)),
                nm.find_function(&f.name).map(signature),
                format!("{what} {} was removed or made private", f.name),
            );
            continue;
        };
        if f.visibility == Visibility::Public && g.visibility != Visibility::Public {
            o.reject(
                Id::AptosFnPublicVisibility,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("public function {} became {}", f.name, g.visibility.as_str()),
            );
        }
        let entry_ok = if both_old { f.entry == g.entry } else { !f.entry || g.entry };
        if !entry_ok {
            o.reject(
                Id::AptosFnEntryRemoved,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                entry_change(f, "Aptos"),
            );
        }
        if f.params != g.params || f.returns != g.returns {
            o.reject(
                Id::AptosFnSignature,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("signature of {} changed", f.name),
            );
        }
        if !tparams_loosen_only(f, g) {
            o.reject(
                Id::AptosFnTparam,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("type parameters of {} changed", f.name),
            );
        }
    }
}
