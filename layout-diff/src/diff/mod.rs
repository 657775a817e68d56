//! Everything that differs between two releases, each difference named by a rule.
//!
//! The comparison never stops at the first difference: every module, struct, field, variant,
//! function and friend is compared, and each difference becomes one `Change`. Struct pairs keep
//! their field mapping, from which migrations derive their transforms.

pub mod lineage;
pub mod structs;
pub mod types;

use crate::change::{Change, Detail};
use crate::rules::{Class, RuleId};
use binary_format::{text, Ability, Function, Module, ModuleId, Struct, Type, Visibility};
use lineage::{Lineage, Versioning};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use structs::{map_fields, FieldMapping, FieldSource, Renames};
use types::{relate, Relation};
use upgrade_spec::declarations::Declarations;
use upgrade_spec::registry::Registry;

/// Two versions of one struct.
#[derive(Debug, Clone)]
pub struct StructPair {
    pub old_module: ModuleId,
    pub new_module: ModuleId,
    /// The module's lineage name (its registry name).
    pub lineage: String,
    pub old: Struct,
    pub new: Struct,
    /// For structs of the same kind: where each new field comes from.
    pub mapping: Option<FieldMapping>,
    /// Whether the new layout differs from the old one in any way that matters to stored data.
    pub layout_changed: bool,
    /// Whether a transform can be derived (defaults aside).
    pub derivable: bool,
}

#[derive(Debug, Clone)]
pub struct Diff {
    pub lineage: Lineage,
    pub changes: Vec<Change>,
    pub struct_pairs: Vec<StructPair>,
}

struct Differ<'a> {
    old: BTreeMap<ModuleId, &'a Module>,
    new: BTreeMap<ModuleId, &'a Module>,
    lineage: Lineage,
    registry: Option<&'a Registry>,
    declarations: Option<&'a Declarations>,
    /// Struct derivability, by old struct: `None` while being computed (cycles are not derivable).
    derivable: RefCell<BTreeMap<(ModuleId, String), Option<bool>>>,
}

fn visibility_rank(v: Visibility) -> u8 {
    match v {
        Visibility::Private => 0,
        Visibility::Friend => 1,
        Visibility::Public => 2,
    }
}

impl<'a> Differ<'a> {
    fn lineage_name(&self, id: &ModuleId) -> String {
        lineage::lineage_name(id, self.registry)
    }

    fn renames(&self, old: &ModuleId, new: &ModuleId, name: &str) -> BTreeMap<String, String> {
        let lineage = self.lineage_name(new);
        self.declarations
            .and_then(|d| d.find(&lineage, name, old.address, new.address))
            .map(|d| d.renames.clone())
            .unwrap_or_default()
    }

    fn find_struct(modules: &BTreeMap<ModuleId, &'a Module>, t: &Type) -> Option<(ModuleId, &'a Struct)> {
        let Type::Datatype(d) = t else { return None };
        let m = modules.get(&d.module)?;
        Some((d.module.clone(), m.find_struct(&d.name)?))
    }

    /// Whether the changes between two versions of a struct (named by types of the old and new
    /// release) can be carried over by a derived transform without declared defaults.
    fn struct_derivable(&self, old_t: &Type, new_t: &Type) -> bool {
        let (Some((om, os)), Some((nm, ns))) =
            (Self::find_struct(&self.old, old_t), Self::find_struct(&self.new, new_t))
        else {
            return false;
        };
        let key = (om.clone(), os.name.clone());
        if let Some(known) = self.derivable.borrow().get(&key) {
            return known.unwrap_or(false);
        }
        self.derivable.borrow_mut().insert(key.clone(), None);
        let result = self.pair_derivable(&om, os, &nm, ns, false);
        self.derivable.borrow_mut().insert(key, Some(result));
        result
    }

    fn relate(&self, old: &Type, new: &Type) -> Relation {
        relate(old, new, &self.lineage, &mut |a, b| self.struct_derivable(a, b))
    }

    /// Derivability of a struct pair; `top_level` allows added fields (their defaults are
    /// declared with the migration).
    fn pair_derivable(&self, om: &ModuleId, os: &Struct, nm: &ModuleId, ns: &Struct, top_level: bool) -> bool {
        if os.is_enum() != ns.is_enum() || os.type_params.len() != ns.type_params.len() || os.native || ns.native {
            return false;
        }
        if let (Some(ov), Some(nv)) = (&os.variants, &ns.variants) {
            return ov.len() <= nv.len()
                && ov.iter().zip(nv).all(|(a, b)| {
                    a.name == b.name
                        && a.fields.len() == b.fields.len()
                        && a.fields
                            .iter()
                            .zip(&b.fields)
                            .all(|(x, y)| x.name == y.name && self.relate(&x.ty, &y.ty) == Relation::Same)
                });
        }
        let renames = self.renames(om, nm, &ns.name);
        let mapping =
            map_fields(&os.fields, &ns.fields, &renames, Renames::Guess, &mut |a, b| self.relate(&a.ty, &b.ty));
        mapping.sources.iter().all(|s| match s {
            FieldSource::Old { relation, .. } => relation.derivable(),
            FieldSource::Added => top_level,
        })
    }

    fn compare_modules(&self, om: &Module, nm: &Module, changes: &mut Vec<Change>, pairs: &mut Vec<StructPair>) {
        let (oid, nid) = (om.id(), nm.id());
        let moved = oid != nid;
        let tag = |c: Change| if moved { Change { from: Some(oid.clone()), ..c } } else { c };
        if nm.bytecode_version.number < om.bytecode_version.number {
            changes.push(tag(Change::new(
                RuleId::BytecodeVersionDowngraded,
                &nid,
                format!("bytecode version {} is older than {}", nm.bytecode_version, om.bytecode_version),
            )
            .old_new(om.bytecode_version, nm.bytecode_version)));
        }
        let successor = |id: &ModuleId| self.lineage.successor(id).clone();
        let new_friends: BTreeSet<ModuleId> = nm.friends.iter().cloned().collect();
        let old_friends: BTreeSet<ModuleId> = om.friends.iter().map(successor).collect();
        for f in old_friends.difference(&new_friends) {
            changes.push(tag(
                Change::new(RuleId::FriendRemoved, &nid, format!("{f} is no longer a friend")).item(&f.to_string())
            ));
        }
        for f in new_friends.difference(&old_friends) {
            changes
                .push(tag(Change::new(RuleId::FriendAdded, &nid, format!("{f} became a friend")).item(&f.to_string())));
        }
        for os in &om.structs {
            match nm.find_struct(&os.name) {
                // Identical declarations: nothing to report, and no pair (pairs matter only
                // where a layout changes). Most structs of most releases take this path.
                Some(ns) if ns == os => {}
                None => changes.push(tag(Change::new(
                    RuleId::StructRemoved,
                    &nid,
                    format!("struct {} was removed", os.name),
                )
                .item(&os.name))),
                Some(ns) => {
                    let before = changes.len();
                    let pair = self.compare_structs(&oid, os, &nid, ns, changes);
                    for c in changes.iter_mut().skip(before) {
                        if moved {
                            c.from = Some(oid.clone());
                        }
                    }
                    pairs.push(pair);
                }
            }
        }
        for ns in nm.structs.iter().filter(|s| om.find_struct(&s.name).is_none()) {
            let kind = if ns.is_enum() { "enum" } else { "struct" };
            changes.push(tag(
                Change::new(RuleId::StructAdded, &nid, format!("{kind} {} was added", ns.name)).item(&ns.name)
            ));
        }
        self.compare_functions(om, nm, changes, &tag);
    }

    fn compare_structs(
        &self,
        oid: &ModuleId,
        os: &Struct,
        nid: &ModuleId,
        ns: &Struct,
        changes: &mut Vec<Change>,
    ) -> StructPair {
        let before = changes.len();
        let name = ns.name.as_str();
        let at = |rule: RuleId, message: String| Change::new(rule, nid, message).item(name);
        for a in Ability::ALL {
            match (os.abilities.has(a), ns.abilities.has(a)) {
                (false, true) => changes.push(
                    at(RuleId::StructAbilityAdded, format!("gained `{}`", a.name()))
                        .old_new(os.abilities, ns.abilities),
                ),
                (true, false) => {
                    let rule = if matches!(a, Ability::Key | Ability::Store) {
                        RuleId::StructStorageAbilityRemoved
                    } else {
                        RuleId::StructAbilityRemoved
                    };
                    changes.push(at(rule, format!("lost `{}`", a.name())).old_new(os.abilities, ns.abilities));
                }
                _ => {}
            }
        }
        if os.type_params.len() != ns.type_params.len() {
            changes.push(
                at(
                    RuleId::StructTypeParametersChanged,
                    format!("{} type parameters became {}", os.type_params.len(), ns.type_params.len()),
                )
                .old_new(os.type_params.len(), ns.type_params.len())
                .derivable(false),
            );
        } else {
            for (i, (op, np)) in os.type_params.iter().zip(&ns.type_params).enumerate() {
                let p = format!("T{i}");
                for a in Ability::ALL {
                    match (op.constraints.has(a), np.constraints.has(a)) {
                        (false, true) => changes.push(
                            at(RuleId::StructTypeParameterConstrained, format!("{p} now requires `{}`", a.name()))
                                .field(&p)
                                .old_new(op.constraints, np.constraints),
                        ),
                        (true, false) => changes.push(
                            at(RuleId::StructTypeParameterRelaxed, format!("{p} no longer requires `{}`", a.name()))
                                .field(&p)
                                .old_new(op.constraints, np.constraints),
                        ),
                        _ => {}
                    }
                }
                match (op.phantom, np.phantom) {
                    (false, true) => changes
                        .push(at(RuleId::StructTypeParameterMadePhantom, format!("{p} became phantom")).field(&p)),
                    (true, false) => changes.push(
                        at(RuleId::StructTypeParameterUnphantomed, format!("{p} is no longer phantom")).field(&p),
                    ),
                    _ => {}
                }
            }
        }
        let mut mapping = None;
        if os.is_enum() != ns.is_enum() || os.native != ns.native {
            let kind = |s: &Struct| {
                if s.is_enum() {
                    "enum"
                } else if s.native {
                    "native struct"
                } else {
                    "struct"
                }
            };
            changes.push(
                at(RuleId::StructKindChanged, format!("{} became {}", kind(os), kind(ns)))
                    .old_new(kind(os), kind(ns))
                    .derivable(false),
            );
        } else if let (Some(ov), Some(nv)) = (&os.variants, &ns.variants) {
            self.compare_variants(nid, name, ov, nv, changes);
        } else {
            let renames = self.renames(oid, nid, name);
            let m = map_fields(&os.fields, &ns.fields, &renames, Renames::Guess, &mut |a, b| self.relate(&a.ty, &b.ty));
            self.field_changes(nid, name, os, ns, &m, changes);
            mapping = Some(m);
        }
        let layout_changed = changes.iter().skip(before).any(|c| c.class() == Class::LayoutBreaking)
            || mapping.as_ref().is_some_and(|m| !m.is_identity());
        let derivable = self.pair_derivable(oid, os, nid, ns, true);
        StructPair {
            old_module: oid.clone(),
            new_module: nid.clone(),
            lineage: self.lineage_name(nid),
            old: os.clone(),
            new: ns.clone(),
            mapping,
            layout_changed,
            derivable,
        }
    }

    fn field_changes(
        &self,
        nid: &ModuleId,
        name: &str,
        os: &Struct,
        ns: &Struct,
        m: &FieldMapping,
        changes: &mut Vec<Change>,
    ) {
        let at = |rule: RuleId, field: &str, message: String| Change::new(rule, nid, message).item(name).field(field);
        for (ni, source) in m.sources.iter().enumerate() {
            let Some(nf) = ns.fields.get(ni) else { continue };
            match source {
                FieldSource::Added => {
                    let place = if ni + 1 == ns.fields.len() { "appended" } else { "inserted" };
                    changes.push(
                        at(RuleId::StructFieldAdded, &nf.name, format!("field `{}: {}` {place}", nf.name, nf.ty))
                            .old_new("", &nf.ty)
                            .derivable(true),
                    );
                }
                FieldSource::Old { index, relation, renamed, declared_rename } => {
                    let Some(of) = os.fields.get(*index) else { continue };
                    if *renamed {
                        let how = if *declared_rename { "declared" } else { "not declared" };
                        changes.push(
                            at(
                                RuleId::StructFieldRenamed,
                                &nf.name,
                                format!("field `{}` renamed to `{}` (rename {how})", of.name, nf.name),
                            )
                            .old_new(&of.name, &nf.name)
                            .derivable(true)
                            .detail(Detail::Renamed { declared: *declared_rename }),
                        );
                    }
                    if *relation != Relation::Same {
                        let what = match relation {
                            Relation::Widened => "widened",
                            Relation::Repointed { derivable: true } => "moved to the new version of its struct",
                            Relation::Repointed { derivable: false } => {
                                "moved to the new version of its struct, whose changes are not derivable"
                            }
                            _ => "retyped",
                        };
                        changes.push(
                            at(
                                RuleId::StructFieldRetyped,
                                &nf.name,
                                format!("field `{}` {what}: {} to {}", nf.name, of.ty, nf.ty),
                            )
                            .old_new(&of.ty, &nf.ty)
                            .derivable(relation.derivable())
                            .detail(Detail::Retyped(*relation)),
                        );
                    }
                }
            }
        }
        for &oi in &m.removed {
            let Some(of) = os.fields.get(oi) else { continue };
            changes.push(
                at(RuleId::StructFieldRemoved, &of.name, format!("field `{}: {}` removed", of.name, of.ty))
                    .old_new(&of.ty, "")
                    .derivable(true),
            );
        }
        if !m.reordered.is_empty() {
            let order = |s: &Struct| s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ");
            changes.push(
                Change::new(
                    RuleId::StructFieldsReordered,
                    nid,
                    format!(
                        "fields {} moved",
                        m.reordered.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                    ),
                )
                .item(name)
                .old_new(order(os), order(ns))
                .derivable(true),
            );
        }
    }

    fn compare_variants(
        &self,
        nid: &ModuleId,
        name: &str,
        ov: &[binary_format::Variant],
        nv: &[binary_format::Variant],
        changes: &mut Vec<Change>,
    ) {
        let at =
            |rule: RuleId, variant: &str, message: String| Change::new(rule, nid, message).item(name).field(variant);
        let names = |vs: &[binary_format::Variant]| vs.iter().map(|v| v.name.clone()).collect::<Vec<_>>();
        let (on, nn) = (names(ov), names(nv));
        for v in ov {
            match nv.iter().find(|n| n.name == v.name) {
                None => changes.push(
                    at(RuleId::EnumVariantRemoved, &v.name, format!("variant {} removed", v.name)).derivable(false),
                ),
                Some(nvar) => {
                    let same_fields = v.fields.len() == nvar.fields.len()
                        && v.fields
                            .iter()
                            .zip(&nvar.fields)
                            .all(|(a, b)| a.name == b.name && self.relate(&a.ty, &b.ty) == Relation::Same);
                    if !same_fields {
                        let text = |fs: &[binary_format::Field]| {
                            fs.iter().map(|f| format!("{}: {}", f.name, f.ty)).collect::<Vec<_>>().join(", ")
                        };
                        changes.push(
                            at(RuleId::EnumVariantChanged, &v.name, format!("variant {} fields changed", v.name))
                                .old_new(text(&v.fields), text(&nvar.fields))
                                .derivable(false),
                        );
                    }
                }
            }
        }
        let kept_old: Vec<&String> = on.iter().filter(|n| nn.contains(n)).collect();
        let kept_new: Vec<&String> = nn.iter().filter(|n| on.contains(n)).collect();
        if kept_old != kept_new {
            changes.push(
                at(RuleId::EnumVariantsReordered, name, "variants reordered".to_owned())
                    .old_new(on.join(", "), nn.join(", "))
                    .derivable(false),
            );
        }
        for (j, v) in nv.iter().enumerate() {
            if on.contains(&v.name) {
                continue;
            }
            let before_existing = nn.iter().skip(j + 1).any(|n| on.contains(n));
            if before_existing {
                changes.push(
                    at(
                        RuleId::EnumVariantInserted,
                        &v.name,
                        format!("variant {} inserted before existing ones", v.name),
                    )
                    .derivable(false),
                );
            } else {
                changes.push(at(RuleId::EnumVariantAdded, &v.name, format!("variant {} appended", v.name)));
            }
        }
    }

    fn compare_functions(&self, om: &Module, nm: &Module, changes: &mut Vec<Change>, tag: &dyn Fn(Change) -> Change) {
        let nid = nm.id();
        let exposed = |f: &Function| f.visibility != Visibility::Private || f.entry;
        for of in om.functions.iter().filter(|f| exposed(f)) {
            let at = |rule: RuleId, message: String| tag(Change::new(rule, &nid, message).item(&of.name));
            let Some(nf) = nm.find_function(&of.name) else {
                changes.push(at(
                    RuleId::FunctionRemoved,
                    format!("{} function {} removed", of.visibility.as_str(), of.name),
                ));
                continue;
            };
            let same_types = |a: &[Type], b: &[Type]| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| matches!(self.relate(x, y), Relation::Same | Relation::Repointed { .. }))
            };
            if of.type_params != nf.type_params
                || !same_types(&of.params, &nf.params)
                || !same_types(&of.returns, &nf.returns)
            {
                changes.push(
                    at(RuleId::FunctionSignatureChanged, format!("signature of {} changed", of.name))
                        .old_new(text::signature(of), text::signature(nf)),
                );
            }
            match visibility_rank(nf.visibility).cmp(&visibility_rank(of.visibility)) {
                std::cmp::Ordering::Less => changes.push(
                    at(
                        RuleId::FunctionVisibilityReduced,
                        format!("{} became {}", of.visibility.as_str(), nf.visibility.as_str()),
                    )
                    .old_new(of.visibility.as_str(), nf.visibility.as_str()),
                ),
                std::cmp::Ordering::Greater => changes.push(
                    at(
                        RuleId::FunctionVisibilityWidened,
                        format!("{} became {}", of.visibility.as_str(), nf.visibility.as_str()),
                    )
                    .old_new(of.visibility.as_str(), nf.visibility.as_str()),
                ),
                std::cmp::Ordering::Equal => {}
            }
            match (of.entry, nf.entry) {
                (true, false) => {
                    changes.push(at(RuleId::FunctionEntryRemoved, format!("{} is no longer entry", of.name)))
                }
                (false, true) => changes.push(at(RuleId::FunctionEntryAdded, format!("{} became entry", of.name))),
                _ => {}
            }
        }
        for nf in nm.functions.iter().filter(|f| exposed(f) && om.find_function(&f.name).is_none()) {
            changes.push(tag(Change::new(
                RuleId::FunctionAdded,
                &nid,
                format!("{} function {} added", nf.visibility.as_str(), nf.name),
            )
            .item(&nf.name)));
        }
    }
}

/// What a diff is computed with; all optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiffOptions<'a> {
    /// The address registry: which modules are versions of which.
    pub registry: Option<&'a Registry>,
    /// Declared migrations: their renames name fields.
    pub declarations: Option<&'a Declarations>,
    /// Where modules move without a registry (the chain's scheme).
    pub versioning: Versioning,
}

/// Compares two releases' modules, under the seed's versioning scheme.
pub fn diff(
    old: &[&Module],
    new: &[&Module],
    registry: Option<&Registry>,
    declarations: Option<&Declarations>,
) -> Diff {
    diff_with(old, new, DiffOptions { registry, declarations, versioning: Versioning::ReservedRange })
}

/// Compares two releases' modules with `options`.
pub fn diff_with(old: &[&Module], new: &[&Module], options: DiffOptions<'_>) -> Diff {
    let DiffOptions { registry, declarations, versioning } = options;
    let lineage = Lineage::with_versioning(old, new, registry, versioning);
    let d = Differ {
        old: old.iter().map(|m| (m.id(), *m)).collect(),
        new: new.iter().map(|m| (m.id(), *m)).collect(),
        lineage,
        registry,
        declarations,
        derivable: RefCell::new(BTreeMap::new()),
    };
    let mut changes = Vec::new();
    let mut pairs = Vec::new();
    for id in &d.lineage.removed {
        let has_data = d.old.get(id).is_some_and(|m| m.structs.iter().any(|s| s.abilities.has(Ability::Key)));
        let what = if has_data { "its stored structs can no longer be read" } else { "its importers no longer link" };
        changes.push(Change::new(RuleId::ModuleRemoved, id, format!("module {id} was removed: {what}")));
    }
    for id in &d.lineage.added {
        changes.push(Change::new(RuleId::ModuleAdded, id, format!("module {id} was added")));
    }
    for id in &d.lineage.kept {
        if let (Some(om), Some(nm)) = (d.old.get(id), d.new.get(id)) {
            let before = changes.len();
            d.compare_modules(om, nm, &mut changes, &mut pairs);
            // A superseded (closed) version must stay exactly as published.
            if d.lineage.superseded.contains(id) {
                let breaking: Vec<Change> = changes.drain(before..).collect();
                for c in breaking {
                    if c.is_breaking() || matches!(c.rule, RuleId::StructAdded | RuleId::FunctionAdded) {
                        changes.push(Change {
                            rule: RuleId::ClosedVersionChanged,
                            message: format!("closed version changed: {}", c.message),
                            derivable: None,
                            detail: None,
                            ..c
                        });
                    }
                }
            }
        }
    }
    for (old_id, new_id) in &d.lineage.moves {
        if let (Some(om), Some(nm)) = (d.old.get(old_id), d.new.get(new_id)) {
            d.compare_modules(om, nm, &mut changes, &mut pairs);
        }
    }
    // By rule id text, so that the order does not depend on the rules' documentation order.
    changes.sort_by(|a, b| {
        (&a.module, &a.item, &a.field, a.rule.as_str()).cmp(&(&b.module, &b.item, &b.field, b.rule.as_str()))
    });
    Diff { lineage: d.lineage, changes, struct_pairs: pairs }
}
