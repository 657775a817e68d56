//! Diem: a republished module must be fully compatible (struct and function linking, layout).

use super::{by_id, datatype_linking, signature, tparams_loosen_only, Out};
use crate::chain::rules::ChainRuleId as Id;
use crate::chain::{Chain, Rejection, ReleaseView};
use binary_format::version::VERSION_5;
use binary_format::{Function, Module, ModuleId, Visibility};
use std::collections::BTreeSet;

#[derive(Clone, Copy, PartialEq, Eq)]
enum DiemVisibility {
    Private,
    Public,
    Script,
    Friend,
}

/// Diem's readers keep version 2-4 `script` visibility as its own; ours reads it as public entry.
fn diem_visibility(f: &Function, version: u32) -> DiemVisibility {
    match f.visibility {
        Visibility::Public if f.entry && version < VERSION_5 => DiemVisibility::Script,
        Visibility::Public => DiemVisibility::Public,
        Visibility::Friend => DiemVisibility::Friend,
        Visibility::Private => DiemVisibility::Private,
    }
}

pub(super) fn diem(old: &ReleaseView<'_>, new: &ReleaseView<'_>, list: &mut Vec<Rejection>) {
    let new_by_id = by_id(new);
    for om in &old.modules {
        let id = om.id();
        // A module the release does not carry is not published: it stays on chain unchecked.
        let Some(nm) = new_by_id.get(&id) else { continue };
        let mut o = Out { module: &id, list };
        diem_module(om, nm, &mut o);
    }
}

pub(super) fn diem_module(om: &Module, nm: &Module, o: &mut Out<'_>) {
    datatype_linking(om, nm, o, Chain::Diem);
    let (ov, nv) = (om.bytecode_version.number, nm.bytecode_version.number);
    for f in &om.functions {
        let fv = diem_visibility(f, ov);
        if fv == DiemVisibility::Private {
            continue;
        }
        let g = nm.find_function(&f.name).filter(|g| diem_visibility(g, nv) != DiemVisibility::Private);
        let Some(g) = g else {
            o.reject(
                Id::DiemFnExposedMissing,
                Some(&f.name),
                Some(signature(f)),
                nm.find_function(&f.name).map(signature),
                format!("{} was removed or made private; modules calling it no longer link", f.name),
            );
            continue;
        };
        let gv = diem_visibility(g, nv);
        let vis_ok = matches!(
            (fv, gv),
            (DiemVisibility::Public, DiemVisibility::Public)
                | (DiemVisibility::Script, DiemVisibility::Script)
                | (DiemVisibility::Friend, DiemVisibility::Public | DiemVisibility::Friend)
        );
        if !vis_ok {
            o.reject(
                Id::DiemFnVisibility,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("visibility of {} changed in a way Diem does not allow", f.name),
            );
        }
        if f.params != g.params {
            o.reject(
                Id::DiemFnParams,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("parameters of {} changed", f.name),
            );
        }
        if f.returns != g.returns {
            o.reject(
                Id::DiemFnReturn,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("results of {} changed", f.name),
            );
        }
        if !tparams_loosen_only(f, g) {
            o.reject(
                Id::DiemFnTparam,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("type parameters of {} changed", f.name),
            );
        }
    }
    let new_friends: BTreeSet<&ModuleId> = nm.friends.iter().collect();
    for f in om.friends.iter().filter(|f| !new_friends.contains(f)) {
        o.reject(
            Id::DiemFriendDeclRemoved,
            Some(&f.to_string()),
            Some(f.to_string()),
            None,
            format!("{f} is no longer a friend of the module"),
        );
    }
}
