//! Each chain's check, restated: which modules of an upgrade the chain rejects, and why.
//!
//! Modules are paired by id (address and name): real chains never move a module, so a module of
//! the same name at another address is a new one. Every module is compared and every failure
//! kept, where the chains stop at the first.

use super::bodies::{bodies, Body};
use super::rules::ChainRuleId as Id;
use super::{Chain, Policy, Profile, Rejection, ReleaseView};
use binary_format::version::VERSION_5;
use binary_format::{Ability, AbilitySet, Address, Function, Module, ModuleId, Struct, Type, Visibility};
use std::collections::{BTreeMap, BTreeSet};

/// A module's function bodies by name.
type Bodies = BTreeMap<String, Body>;

fn subset(a: AbilitySet, b: AbilitySet) -> bool {
    a.bits() & !b.bits() == 0
}

fn fields_text(s: &Struct) -> String {
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

fn tparams_text(s: &Struct) -> String {
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

/// `fun f<T0: copy>(u64): u128`, as the report shows a signature.
pub fn signature(f: &Function) -> String {
    let vis = match f.visibility {
        Visibility::Private => "",
        Visibility::Public => "public ",
        Visibility::Friend => "friend ",
    };
    let entry = if f.entry { "entry " } else { "" };
    let tps: Vec<String> = f
        .type_params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if p.constraints.is_empty() {
                format!("T{i}")
            } else {
                format!("T{i}: {}", p.constraints.iter().map(|a| a.name()).collect::<Vec<_>>().join(" + "))
            }
        })
        .collect();
    let tps = if tps.is_empty() { String::new() } else { format!("<{}>", tps.join(", ")) };
    let list = |ts: &[Type]| ts.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let ret = match f.returns.as_slice() {
        [] => String::new(),
        [one] => format!(": {one}"),
        many => format!(": ({})", list(many)),
    };
    format!("{vis}{entry}fun {}{tps}({}){ret}", f.name, list(&f.params))
}

/// Collects rejections for one module pair.
struct Out<'a> {
    module: &'a ModuleId,
    list: &'a mut Vec<Rejection>,
}

impl Out<'_> {
    fn reject(&mut self, rule: Id, item: Option<&str>, old: Option<String>, new: Option<String>, reason: String) {
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

fn tparams_loosen_only(old: &Function, new: &Function) -> bool {
    old.type_params.len() == new.type_params.len()
        && old.type_params.iter().zip(&new.type_params).all(|(o, n)| subset(n.constraints, o.constraints))
}

/// The checks of `profile` on `old` -> `new`: the rejections, and informational notes.
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
    (out, notes)
}

fn by_id<'a>(view: &ReleaseView<'a>) -> BTreeMap<ModuleId, &'a Module> {
    view.modules.iter().map(|m| (m.id(), *m)).collect()
}

// ---------------------------------------------------------------------------------------------
// Diem: a republished module must be fully compatible (struct and function linking, layout).

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

fn diem(old: &ReleaseView<'_>, new: &ReleaseView<'_>, list: &mut Vec<Rejection>) {
    let new_by_id = by_id(new);
    for om in &old.modules {
        let id = om.id();
        // A module the release does not carry is not published: it stays on chain unchecked.
        let Some(nm) = new_by_id.get(&id) else { continue };
        let mut o = Out { module: &id, list };
        diem_module(om, nm, &mut o);
    }
}

fn diem_module(om: &Module, nm: &Module, o: &mut Out<'_>) {
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

/// Struct rules Diem and Aptos share: abilities may be gained but not lost, type parameters may
/// be loosened or made phantom but nothing else, fields must stay as they were.
fn datatype_linking(om: &Module, nm: &Module, o: &mut Out<'_>, chain: Chain) {
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
fn lost(a: AbilitySet, b: AbilitySet) -> String {
    a.iter().filter(|x| !b.has(*x)).map(|x| format!("`{}`", x.name())).collect::<Vec<_>>().join(", ")
}

// ---------------------------------------------------------------------------------------------
// Aptos-based (0L): the legacy checker with friend linking off, and code.move's package checks.

fn aptos(old: &ReleaseView<'_>, new: &ReleaseView<'_>, list: &mut Vec<Rejection>) {
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
                if f.entry {
                    format!("{} is no longer entry", f.name)
                } else {
                    format!("{} became entry, which Aptos refuses between modules older than v5", f.name)
                },
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

// ---------------------------------------------------------------------------------------------
// Sui: system packages (`framework`) and user packages (`compatible`, `additive`, `dep-only`).

/// The knobs of Sui's `Compatibility` for the two presets modelled.
struct SuiCompat {
    private_entry_linking: bool,
    disallowed_new: AbilitySet,
    framework: bool,
}

fn sui(
    policy: Policy,
    old: &ReleaseView<'_>,
    new: &ReleaseView<'_>,
    list: &mut Vec<Rejection>,
    notes: &mut Vec<String>,
) {
    // Pairs of packages: by address; a user package whose upgrade carries another address (its
    // new storage id) is paired by module name, its modules' addresses read as the original.
    let old_addrs: BTreeSet<Address> = old.modules.iter().map(|m| m.address).collect();
    let new_addrs: BTreeSet<Address> = new.modules.iter().map(|m| m.address).collect();
    let rewrite = match (
        policy,
        old_addrs.iter().collect::<Vec<_>>().as_slice(),
        new_addrs.iter().collect::<Vec<_>>().as_slice(),
    ) {
        (p, [o], [n]) if p != Policy::Framework && o != n => Some((**n, **o)),
        _ => None,
    };
    let rewritten: Vec<Module>;
    let new_modules: Vec<&Module> = match rewrite {
        Some((from, to)) => {
            rewritten = new.modules.iter().map(|m| rewrite_address(m, from, to)).collect();
            notes.push(format!("the upgrade's modules at {from} are compared as the package's original id {to}"));
            rewritten.iter().collect()
        }
        None => new.modules.clone(),
    };
    let new_by_id: BTreeMap<ModuleId, &Module> = new_modules.iter().map(|m| (m.id(), *m)).collect();
    let new_bytes_of = |id: &ModuleId| -> Option<&[u8]> {
        match rewrite {
            Some((from, _)) => new.bytes.get(&ModuleId::new(from, id.name.clone())).copied(),
            None => new.bytes.get(id).copied(),
        }
    };
    let old_by_id = by_id(old);
    let present: BTreeSet<Address> = new_by_id.keys().map(|id| id.address).collect();
    let compat = match policy {
        Policy::Framework => Some(SuiCompat {
            private_entry_linking: true,
            disallowed_new: AbilitySet::of(&[Ability::Key]),
            framework: true,
        }),
        Policy::Compatible => Some(SuiCompat {
            private_entry_linking: false,
            disallowed_new: AbilitySet::of(&Ability::ALL),
            framework: false,
        }),
        _ => None,
    };
    for om in &old.modules {
        let id = om.id();
        let mut o = Out { module: &id, list };
        // A system package the new build does not carry is not upgraded: nothing is checked.
        if policy == Policy::Framework && !present.contains(&id.address) {
            continue;
        }
        let Some(nm) = new_by_id.get(&id) else {
            let (rule, reason) = if policy == Policy::Framework {
                (
                    Id::SuiFwModuleMissing,
                    format!(
                        "{} is missing from the new system package: validators do not adopt this framework",
                        om.name
                    ),
                )
            } else {
                (
                    Id::SuiUserModuleMissing,
                    format!("{} is missing from the upgrade: existing modules must all be kept", om.name),
                )
            };
            o.reject(rule, None, None, None, reason);
            continue;
        };
        match &compat {
            Some(c) => sui_compat(om, nm, c, &mut o),
            None => {
                let ob = old.bytes.get(&id).copied();
                let nb = new_bytes_of(&id);
                sui_inclusion(om, nm, policy == Policy::DepOnly, (ob, nb), old, new, &mut o, notes);
            }
        }
    }
    if policy != Policy::Framework {
        for nm in &new_modules {
            let id = nm.id();
            if old_by_id.contains_key(&id) {
                continue;
            }
            let mut o = Out { module: &id, list };
            if nm.find_function("init").is_some() {
                o.reject(
                    Id::SuiUserNewModuleInit,
                    Some("init"),
                    None,
                    None,
                    format!("new module {} has an init function, which an upgrade does not run", nm.name),
                );
            }
            if policy == Policy::DepOnly {
                o.reject(Id::SuiDeponlyNewModule, None, None, None, format!("module {} was added", nm.name));
            }
        }
    }
}

fn rewrite_address(m: &Module, from: Address, to: Address) -> Module {
    fn ty(t: &Type, from: Address, to: Address) -> Type {
        match t {
            Type::Vector(i) => Type::Vector(Box::new(ty(i, from, to))),
            Type::Reference(i) => Type::Reference(Box::new(ty(i, from, to))),
            Type::MutableReference(i) => Type::MutableReference(Box::new(ty(i, from, to))),
            Type::Datatype(d) => {
                let mut d = (**d).clone();
                if d.module.address == from {
                    d.module.address = to;
                }
                d.type_args = d.type_args.iter().map(|a| ty(a, from, to)).collect();
                Type::Datatype(Box::new(d))
            }
            other => other.clone(),
        }
    }
    let mut m = m.clone();
    if m.address == from {
        m.address = to;
    }
    let id = |i: &mut ModuleId| {
        if i.address == from {
            i.address = to;
        }
    };
    m.friends.iter_mut().for_each(id);
    m.dependencies.iter_mut().for_each(id);
    for s in &mut m.structs {
        for f in s.fields.iter_mut().chain(s.variants.iter_mut().flatten().flat_map(|v| v.fields.iter_mut())) {
            f.ty = ty(&f.ty, from, to);
        }
    }
    for f in &mut m.functions {
        f.params = f.params.iter().map(|t| ty(t, from, to)).collect();
        f.returns = f.returns.iter().map(|t| ty(t, from, to)).collect();
    }
    m
}

fn sui_compat(om: &Module, nm: &Module, c: &SuiCompat, o: &mut Out<'_>) {
    for s in &om.structs {
        let Some(n) = nm.find_struct(&s.name).filter(|n| n.is_enum() == s.is_enum()) else {
            let rule = if s.is_enum() { Id::SuiEnumMissing } else { Id::SuiStructMissing };
            let kind = if s.is_enum() { "enum" } else { "struct" };
            o.reject(
                rule,
                Some(&s.name),
                Some(fields_text(s)),
                nm.find_struct(&s.name).map(fields_text),
                format!("{kind} {} was removed", s.name),
            );
            continue;
        };
        if !subset(s.abilities, n.abilities) {
            o.reject(
                Id::SuiDatatypeAbilityLost,
                Some(&s.name),
                Some(s.abilities.to_string()),
                Some(n.abilities.to_string()),
                format!("{} lost {}", s.name, lost(s.abilities, n.abilities)),
            );
        }
        let gained = AbilitySet::from_bits(n.abilities.bits() & !s.abilities.bits() & c.disallowed_new.bits())
            .unwrap_or_default();
        if !gained.is_empty() {
            let rule = if c.framework { Id::SuiFwAbilityKeyAdded } else { Id::SuiUserAbilityAdded };
            o.reject(
                rule,
                Some(&s.name),
                Some(s.abilities.to_string()),
                Some(n.abilities.to_string()),
                format!("{} gained {}", s.name, lost(gained, AbilitySet::EMPTY)),
            );
        }
        if s.type_params != n.type_params {
            o.reject(
                Id::SuiDatatypeTparamChanged,
                Some(&s.name),
                Some(tparams_text(s)),
                Some(tparams_text(n)),
                format!("type parameters of {} changed", s.name),
            );
        }
        match (&s.variants, &n.variants) {
            (Some(ov), Some(nv)) => {
                if nv.len() > ov.len() {
                    o.reject(
                        Id::SuiEnumVariantAdded,
                        Some(&s.name),
                        Some(fields_text(s)),
                        Some(fields_text(n)),
                        format!("{} gained {} variant(s)", s.name, nv.len() - ov.len()),
                    );
                }
                if ov.iter().enumerate().any(|(i, v)| nv.get(i) != Some(v)) {
                    o.reject(
                        Id::SuiEnumVariantChanged,
                        Some(&s.name),
                        Some(fields_text(s)),
                        Some(fields_text(n)),
                        format!("existing variants of {} changed", s.name),
                    );
                }
            }
            _ => {
                if s.fields != n.fields {
                    o.reject(
                        Id::SuiStructFields,
                        Some(&s.name),
                        Some(fields_text(s)),
                        Some(fields_text(n)),
                        format!("the fields of {} changed", s.name),
                    );
                }
            }
        }
    }
    let both_old = om.bytecode_version.number < VERSION_5 && nm.bytecode_version.number < VERSION_5;
    for f in &om.functions {
        let public = f.visibility == Visibility::Public;
        let Some(g) = nm.find_function(&f.name) else {
            if public {
                o.reject(
                    Id::SuiFnPublicMissing,
                    Some(&f.name),
                    Some(signature(f)),
                    None,
                    format!("public function {} was removed", f.name),
                );
            } else if f.entry && f.visibility == Visibility::Private && c.private_entry_linking {
                // A removed friend (`public(package)`) entry function: Sui's checker counted it
                // against friend linking, which it never enforces, before a later form moved it
                // to entry linking; every real framework pair passes either way, and the
                // lenient reading is the one both forms agree on for them.
                o.reject(
                    Id::SuiFwPrivateEntryMissing,
                    Some(&f.name),
                    Some(signature(f)),
                    None,
                    format!("entry function {} was removed", f.name),
                );
            }
            continue;
        };
        if public && g.visibility != Visibility::Public {
            o.reject(
                Id::SuiFnPublicVisibility,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("public function {} became {}", f.name, g.visibility.as_str()),
            );
        }
        if c.private_entry_linking {
            let entry_broken =
                if both_old && f.visibility != Visibility::Private { f.entry != g.entry } else { f.entry && !g.entry };
            if entry_broken {
                o.reject(
                    Id::SuiFwEntryRemoved,
                    Some(&f.name),
                    Some(signature(f)),
                    Some(signature(g)),
                    if f.entry {
                        format!("{} is no longer entry", f.name)
                    } else {
                        format!("{} became entry, which Sui refuses between modules older than v5", f.name)
                    },
                );
            }
        }
        let same_sig = f.params == g.params && f.returns == g.returns && tparams_loosen_only(f, g);
        if !same_sig {
            if public {
                o.reject(
                    Id::SuiFnPublicSignature,
                    Some(&f.name),
                    Some(signature(f)),
                    Some(signature(g)),
                    format!("signature of public function {} changed", f.name),
                );
            } else if f.entry && c.private_entry_linking {
                o.reject(
                    Id::SuiFwEntrySignature,
                    Some(&f.name),
                    Some(signature(f)),
                    Some(signature(g)),
                    format!("signature of entry function {} changed", f.name),
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn sui_inclusion(
    om: &Module,
    nm: &Module,
    equal: bool,
    bytes: (Option<&[u8]>, Option<&[u8]>),
    old: &ReleaseView<'_>,
    new: &ReleaseView<'_>,
    o: &mut Out<'_>,
    notes: &mut Vec<String>,
) {
    if nm.bytecode_version.number < om.bytecode_version.number {
        o.reject(
            Id::SuiInclVersionDowngrade,
            None,
            Some(om.bytecode_version.to_string()),
            Some(nm.bytecode_version.to_string()),
            format!("bytecode version {} is older than {}", nm.bytecode_version.number, om.bytecode_version.number),
        );
    }
    for s in &om.structs {
        match nm.find_struct(&s.name).filter(|n| n.is_enum() == s.is_enum()) {
            None => o.reject(
                Id::SuiInclDatatypeMissing,
                Some(&s.name),
                Some(fields_text(s)),
                None,
                format!("{} was removed", s.name),
            ),
            Some(n) if n != s => {
                let rule = if s.is_enum() { Id::SuiInclEnumChanged } else { Id::SuiInclStructChanged };
                let show =
                    |x: &Struct| format!("{}{} has {} {{ {} }}", x.name, tparams_text(x), x.abilities, fields_text(x));
                o.reject(rule, Some(&s.name), Some(show(s)), Some(show(n)), format!("{} changed", s.name));
            }
            Some(_) => {}
        }
    }
    let address_length = |v: &ReleaseView<'_>| v.address_length.unwrap_or(binary_format::AddressLength::Bytes32);
    let read = |b: Option<&[u8]>, v: &ReleaseView<'_>| b.map(|b| bodies(b, address_length(v)));
    let (ob, nb): (Option<Bodies>, Option<Bodies>) = match (read(bytes.0, old), read(bytes.1, new)) {
        (Some(Ok(a)), Some(Ok(b))) => (Some(a), Some(b)),
        (Some(Err(e)), _) | (_, Some(Err(e))) => {
            notes.push(format!("{}: function bodies could not be read ({e}); bodies were not compared", om.id()));
            (None, None)
        }
        _ => {
            notes.push(format!("{}: module bytes not given; function bodies were not compared", om.id()));
            (None, None)
        }
    };
    for f in &om.functions {
        let Some(g) = nm.find_function(&f.name) else {
            o.reject(
                Id::SuiInclFnMissing,
                Some(&f.name),
                Some(signature(f)),
                None,
                format!("function {} was removed", f.name),
            );
            continue;
        };
        if f.visibility != g.visibility
            || f.entry != g.entry
            || f.type_params != g.type_params
            || f.params != g.params
            || f.returns != g.returns
        {
            o.reject(
                Id::SuiInclFnChanged,
                Some(&f.name),
                Some(signature(f)),
                Some(signature(g)),
                format!("function {} changed", f.name),
            );
        }
        if let (Some(ob), Some(nb)) = (&ob, &nb) {
            if ob.get(&f.name) != nb.get(&f.name) {
                let (a, b) = (ob.get(&f.name), nb.get(&f.name));
                let first = match (a, b) {
                    (Some(a), Some(b)) => {
                        if a.locals != b.locals {
                            format!("locals ({}) became ({})", a.locals.join(", "), b.locals.join(", "))
                        } else {
                            let i = a
                                .code
                                .iter()
                                .zip(&b.code)
                                .position(|(x, y)| x != y)
                                .unwrap_or(a.code.len().min(b.code.len()));
                            format!(
                                "instruction {i}: `{}` became `{}`",
                                a.code.get(i).map_or("(end)", |s| s.trim()),
                                b.code.get(i).map_or("(end)", |s| s.trim())
                            )
                        }
                    }
                    _ => "body missing".to_owned(),
                };
                o.reject(
                    Id::SuiInclFnBodyChanged,
                    Some(&f.name),
                    None,
                    None,
                    format!("body of {} changed: {first}", f.name),
                );
            }
        }
    }
    if equal {
        for s in nm.structs.iter().filter(|s| om.find_struct(&s.name).is_none()) {
            o.reject(Id::SuiEqNewMember, Some(&s.name), None, Some(fields_text(s)), format!("{} was added", s.name));
        }
        for f in nm.functions.iter().filter(|f| om.find_function(&f.name).is_none()) {
            o.reject(
                Id::SuiEqNewMember,
                Some(&f.name),
                None,
                Some(signature(f)),
                format!("function {} was added", f.name),
            );
        }
        if om.friends.len() != nm.friends.len() {
            o.reject(
                Id::SuiEqFriendCount,
                None,
                Some(om.friends.len().to_string()),
                Some(nm.friends.len().to_string()),
                format!("{} friend declarations became {}", om.friends.len(), nm.friends.len()),
            );
        }
    }
}
