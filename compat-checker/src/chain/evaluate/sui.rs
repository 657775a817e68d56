//! Sui: system packages (`framework`) and user packages (`compatible`, `additive`, `dep-only`).

use super::{
    by_id, entry_change, fields_text, lost, signature, subset, tparams_loosen_only, tparams_text, Bodies, Out,
};
use crate::chain::bodies::bodies;
use crate::chain::rules::ChainRuleId as Id;
use crate::chain::{Policy, Rejection, ReleaseView};
use binary_format::version::VERSION_5;
use binary_format::{Ability, AbilitySet, Address, Module, ModuleId, Struct, Type, Visibility};
use std::collections::{BTreeMap, BTreeSet};

/// The knobs of Sui's `Compatibility` for the two presets modelled.
struct SuiCompat {
    private_entry_linking: bool,
    disallowed_new: AbilitySet,
    framework: bool,
}

pub(super) fn sui(
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
        if policy != Policy::Framework && om.find_function("init").is_none() && nm.find_function("init").is_some() {
            o.reject(
                Id::SuiUserExistingModuleInit,
                Some("init"),
                None,
                Some(signature_of(nm, "init")),
                format!("existing module {} gained an init function, which an upgrade does not run", om.name),
            );
        }
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

/// `fun init(...)` of `m`, as the report shows a signature.
fn signature_of(m: &Module, name: &str) -> String {
    m.find_function(name).map(signature).unwrap_or_else(|| name.to_owned())
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
        // User packages before `disallow_change_struct_type_params_on_upgrade`: loosening was
        // allowed (a constraint dropped, a parameter made phantom), nothing else.
        let loosened_only = s.type_params.len() == n.type_params.len()
            && s.type_params
                .iter()
                .zip(&n.type_params)
                .all(|(op, np)| (!op.phantom || np.phantom) && subset(np.constraints, op.constraints));
        if !c.framework && !loosened_only {
            o.reject(
                Id::SuiUserTparamIncompatible,
                Some(&s.name),
                Some(tparams_text(s)),
                Some(tparams_text(n)),
                format!("type parameters of {} changed other than by loosening", s.name),
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
                    entry_change(f, "Sui"),
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
