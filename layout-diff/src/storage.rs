//! Which structs can be in storage, and so which layout changes need a migration.
//!
//! One answer for the checker's gate and the migrations catalogue alike: [`needs_migration`].
//! Instances of a struct can be in storage when
//! - it has `key` (a top-level resource or object; version 1 nominal resources read as `key`);
//! - it is the key or value type of a chain's storage container (Aptos `0x1::table::Table`,
//!   `table_with_length`, `smart_table`, `smart_vector`, `big_vector`; Sui
//!   `0x2::dynamic_field::Field` and the containers built on it: `table`, `object_table`,
//!   `linked_table`, `table_vec`): its instances are stored as the container's entries;
//! - or it is reachable through the fields of such a struct (nested, at any depth, through
//!   vectors and type arguments).
//!
//! Sui's `bag` and `object_bag` are heterogeneous: which types are stored in one cannot be told
//! from layouts, so [`Storage::notes`] says so instead of guessing.
//!
//! A struct that can never be stored (`drop` only, nowhere nested) is not layout-breaking for
//! storage: no migration is needed. A *root* is a struct whose instances are stored on their own
//! (with `key`, or as a container's entry): it is what a migration rewrites. A nested struct's
//! change makes the migration of every root that reaches it due.

use crate::diff::{Diff, StructPair};
use binary_format::{Ability, Address, Module, ModuleId, Struct, Type};
use std::collections::{BTreeMap, BTreeSet};

/// A struct of a release: its module and name.
pub type StructKey = (ModuleId, String);

/// Which part of a container entry a type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Key,
    Value,
}

/// A chain storage container: a struct whose type arguments are stored as separate entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Container {
    /// The address of its module (`0x1` on Aptos, `0x2` on Sui).
    pub address: u64,
    pub module: &'static str,
    pub name: &'static str,
    /// The role of each type argument, in order; empty for a heterogeneous container.
    pub roles: &'static [Role],
}

impl Container {
    /// `0x1::table::Table`.
    pub fn path(&self) -> String {
        format!("{}::{}::{}", Address::from_u64(self.address), self.module, self.name)
    }

    /// Whether values of any type may be stored in it (Sui bags).
    pub fn is_heterogeneous(&self) -> bool {
        self.roles.is_empty()
    }
}

const KV: &[Role] = &[Role::Key, Role::Value];
const V: &[Role] = &[Role::Value];

/// Every storage container known, Aptos's then Sui's.
pub const CONTAINERS: &[Container] = &[
    Container { address: 1, module: "table", name: "Table", roles: KV },
    Container { address: 1, module: "table_with_length", name: "TableWithLength", roles: KV },
    Container { address: 1, module: "smart_table", name: "SmartTable", roles: KV },
    Container { address: 1, module: "smart_vector", name: "SmartVector", roles: V },
    Container { address: 1, module: "big_vector", name: "BigVector", roles: V },
    Container { address: 2, module: "dynamic_field", name: "Field", roles: KV },
    Container { address: 2, module: "table", name: "Table", roles: KV },
    Container { address: 2, module: "object_table", name: "ObjectTable", roles: KV },
    Container { address: 2, module: "linked_table", name: "LinkedTable", roles: KV },
    Container { address: 2, module: "table_vec", name: "TableVec", roles: V },
    Container { address: 2, module: "bag", name: "Bag", roles: &[] },
    Container { address: 2, module: "object_bag", name: "ObjectBag", roles: &[] },
];

/// The container `module::name` is, if it is one.
pub fn container(module: &ModuleId, name: &str) -> Option<&'static Container> {
    CONTAINERS
        .iter()
        .find(|c| module.address == Address::from_u64(c.address) && module.name == c.module && name == c.name)
}

/// Why a struct's instances are stored on their own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RootKind {
    /// It has `key`.
    Resource,
    /// It is the key or value type of a container entry (named by its path).
    Entry { container: String, role: Role },
}

/// Which structs of one release can be in storage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    /// Structs stored on their own, with why.
    pub roots: BTreeMap<StructKey, BTreeSet<RootKind>>,
    /// Every struct that can be in storage, with the roots whose instances hold it (a root holds
    /// itself).
    pub reached_from: BTreeMap<StructKey, BTreeSet<StructKey>>,
    /// What layouts cannot tell (heterogeneous containers), one sentence each, sorted.
    pub notes: BTreeSet<String>,
}

impl Storage {
    /// Whether instances of `module::name` can be in storage.
    pub fn is_stored(&self, module: &ModuleId, name: &str) -> bool {
        self.reached_from.contains_key(&(module.clone(), name.to_owned()))
    }

    /// Whether `module::name` is a root (stored on its own).
    pub fn is_root(&self, module: &ModuleId, name: &str) -> bool {
        self.roots.contains_key(&(module.clone(), name.to_owned()))
    }

    /// Whether `module::name` is a container's key type.
    pub fn is_container_key(&self, module: &ModuleId, name: &str) -> bool {
        self.roots
            .get(&(module.clone(), name.to_owned()))
            .is_some_and(|kinds| kinds.iter().any(|k| matches!(k, RootKind::Entry { role: Role::Key, .. })))
    }
}

struct Walker<'a> {
    structs: BTreeMap<StructKey, (&'a Module, &'a Struct)>,
    storage: Storage,
}

impl<'a> Walker<'a> {
    fn add_root(&mut self, key: &StructKey, kind: RootKind) -> bool {
        let kinds = self.storage.roots.entry(key.clone()).or_default();
        let first = kinds.is_empty();
        kinds.insert(kind);
        first
    }

    /// Marks every struct `t` holds as reached from `root`; container entries become roots.
    fn visit(&mut self, t: &Type, root: &StructKey, pending: &mut Vec<StructKey>, holder: &str) {
        match t {
            Type::Vector(inner) => self.visit(inner, root, pending, holder),
            Type::Datatype(d) => {
                if let Some(c) = container(&d.module, &d.name) {
                    if c.is_heterogeneous() {
                        self.storage.notes.insert(format!(
                            "{holder} holds a {}: values of any type with `store` may be stored in it, and which \
                             cannot be told from layouts",
                            c.path()
                        ));
                    }
                    for (arg, role) in d.type_args.iter().zip(c.roles) {
                        for key in datatypes(arg) {
                            if self.structs.contains_key(&key)
                                && self.add_root(&key, RootKind::Entry { container: c.path(), role: *role })
                            {
                                pending.push(key);
                            }
                        }
                    }
                }
                let key = (d.module.clone(), d.name.clone());
                let Some((_, s)) = self.structs.get(&key).copied() else { return };
                let reached = self.storage.reached_from.entry(key.clone()).or_default();
                if !reached.insert(root.clone()) {
                    return;
                }
                let fields: Vec<&Type> =
                    s.fields.iter().chain(s.variants.iter().flatten().flat_map(|v| &v.fields)).map(|f| &f.ty).collect();
                let holder = format!("{}::{}", key.0, key.1);
                for f in fields {
                    self.visit(&substitute(f, &d.type_args), root, pending, &holder);
                }
                // Type arguments in phantom positions are not stored; the others were reached
                // through the fields they were substituted into.
            }
            _ => {}
        }
    }
}

/// Every datatype named in `t`, at any depth.
fn datatypes(t: &Type) -> Vec<StructKey> {
    let mut out = Vec::new();
    fn walk(t: &Type, out: &mut Vec<StructKey>) {
        match t {
            Type::Vector(i) | Type::Reference(i) | Type::MutableReference(i) => walk(i, out),
            Type::Datatype(d) => {
                out.push((d.module.clone(), d.name.clone()));
                d.type_args.iter().for_each(|a| walk(a, out));
            }
            _ => {}
        }
    }
    walk(t, &mut out);
    out
}

/// `t` with type parameter `i` replaced by `args[i]` (unknown parameters stay).
fn substitute(t: &Type, args: &[Type]) -> Type {
    match t {
        Type::TypeParameter(i) => args.get(usize::from(*i)).cloned().unwrap_or_else(|| t.clone()),
        Type::Vector(i) => Type::Vector(Box::new(substitute(i, args))),
        Type::Datatype(d) => {
            let mut d = (**d).clone();
            d.type_args = d.type_args.iter().map(|a| substitute(a, args)).collect();
            Type::Datatype(Box::new(d))
        }
        other => other.clone(),
    }
}

/// Which structs of `modules` (one release) can be in storage, and why.
pub fn storage(modules: &[&Module]) -> Storage {
    let mut w = Walker { structs: BTreeMap::new(), storage: Storage::default() };
    for m in modules {
        for s in &m.structs {
            w.structs.insert((m.id(), s.name.clone()), (*m, s));
        }
    }
    let mut pending: Vec<StructKey> = Vec::new();
    let keyed: Vec<StructKey> =
        w.structs.iter().filter(|(_, (_, s))| s.abilities.has(Ability::Key)).map(|(k, _)| k.clone()).collect();
    for key in keyed {
        w.add_root(&key, RootKind::Resource);
        pending.push(key);
    }
    let mut done = BTreeSet::new();
    while let Some(root) = pending.pop() {
        if !done.insert(root.clone()) {
            continue;
        }
        let ty = Type::datatype(root.0.clone(), root.1.clone(), Vec::new());
        // A root's own type parameters stay parameters: which instances exist is not known.
        let generic = w.structs.get(&root).map_or(0, |(_, s)| s.type_params.len());
        let ty = match ty {
            Type::Datatype(mut d) => {
                d.type_args = (0..generic).filter_map(|i| u16::try_from(i).ok()).map(Type::TypeParameter).collect();
                Type::Datatype(d)
            }
            other => other,
        };
        let holder = format!("{}::{}", root.0, root.1);
        w.visit(&ty, &root, &mut pending, &holder);
    }
    w.storage
}

/// Why a root needs a migration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// Its own layout changed.
    Own,
    /// A struct it holds (at any depth) changed layout: `module::name` of the old release.
    Nested { module: ModuleId, name: String },
}

/// A struct whose stored instances must be rewritten for the new release.
#[derive(Debug, Clone)]
pub struct Need {
    /// The struct's module in the old release.
    pub old_module: ModuleId,
    /// Its module in the new release (the same id when it changes in place).
    pub new_module: ModuleId,
    pub name: String,
    /// Why its instances are stored on their own.
    pub kinds: BTreeSet<RootKind>,
    /// What changed: its own layout, nested structs, or both; sorted.
    pub causes: Vec<Cause>,
    /// The old and new declarations.
    pub old: Struct,
    pub new: Struct,
    /// Whether the transform can be derived (declared defaults aside).
    pub derivable: bool,
    /// The struct is a container's key type: the stored keys themselves change, which no
    /// transform of values can carry over.
    pub keys_change: bool,
}

impl Need {
    /// Whether the struct keeps its module id (an in-place migration is the only remedy that
    /// leaves it there).
    pub fn in_place(&self) -> bool {
        self.old_module == self.new_module
    }
}

/// The structs whose stored instances the upgrade `old` -> `new` (compared as `diff`) must
/// migrate: every root of the old release (stored on its own: `key`, or a container's entry)
/// whose own layout, or the layout of a struct it holds, changed. Sorted by new module and name.
///
/// This is the one place that decides it: the checker's gate requires a declaration for each,
/// and the migrations catalogue builds an entry for each.
pub fn needs_migration(old: &[&Module], new: &[&Module], diff: &Diff) -> Vec<Need> {
    let stored = storage(old);
    let changed: BTreeMap<StructKey, &StructPair> = diff
        .struct_pairs
        .iter()
        .filter(|p| p.layout_changed)
        .map(|p| ((p.old_module.clone(), p.old.name.clone()), p))
        .collect();
    let new_structs: BTreeMap<StructKey, &Struct> =
        new.iter().flat_map(|m| m.structs.iter().map(move |s| ((m.id(), s.name.clone()), s))).collect();
    let old_structs: BTreeMap<StructKey, &Struct> =
        old.iter().flat_map(|m| m.structs.iter().map(move |s| ((m.id(), s.name.clone()), s))).collect();
    // Root -> the changed structs it holds.
    let mut due: BTreeMap<StructKey, BTreeSet<StructKey>> = BTreeMap::new();
    for (changed_key, _) in changed.iter() {
        for root in stored.reached_from.get(changed_key).into_iter().flatten() {
            if stored.roots.contains_key(root) {
                due.entry(root.clone()).or_default().insert(changed_key.clone());
            }
        }
    }
    let mut out = Vec::new();
    for (root, held) in due {
        let (old_module, name) = root.clone();
        let new_module = diff.lineage.successor(&old_module).clone();
        let Some(new_struct) = new_structs.get(&(new_module.clone(), name.clone())) else { continue };
        let Some(old_struct) = old_structs.get(&root) else { continue };
        let mut causes: Vec<Cause> = held
            .iter()
            .map(|k| if *k == root { Cause::Own } else { Cause::Nested { module: k.0.clone(), name: k.1.clone() } })
            .collect();
        causes.sort();
        let derivable = held.iter().all(|k| changed.get(k).is_some_and(|p| p.derivable));
        let keys_change = stored.is_container_key(&old_module, &name)
            || changed.get(&root).is_some_and(|p| container_key_retyped(&p.old, &p.new));
        out.push(Need {
            old_module,
            new_module,
            name,
            kinds: stored.roots.get(&root).cloned().unwrap_or_default(),
            causes,
            old: (*old_struct).clone(),
            new: (*new_struct).clone(),
            derivable: derivable && !keys_change,
            keys_change,
        });
    }
    out.sort_by(|a, b| (&a.new_module, &a.name).cmp(&(&b.new_module, &b.name)));
    out
}

/// Whether a field of the same name holds a container in both versions with another key type.
fn container_key_retyped(old: &Struct, new: &Struct) -> bool {
    let key_of = |t: &Type| match t {
        Type::Datatype(d) => container(&d.module, &d.name)
            .filter(|c| c.roles.first() == Some(&Role::Key))
            .and_then(|_| d.type_args.first().cloned()),
        _ => None,
    };
    old.fields.iter().any(|of| {
        new.fields
            .iter()
            .any(|nf| nf.name == of.name && matches!((key_of(&of.ty), key_of(&nf.ty)), (Some(a), Some(b)) if a != b))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use binary_format::text;

    fn modules(src: &str) -> Vec<Module> {
        text::parse(src).unwrap()
    }

    fn refs(ms: &[Module]) -> Vec<&Module> {
        ms.iter().collect()
    }

    fn id(s: &str) -> ModuleId {
        ModuleId::parse(s).unwrap()
    }

    const APTOS_OLD: &str = "\
module 0x1::table (bytecode v6)
  struct Table<phantom T0: copy + drop, phantom T1> has store
    handle: address
module 0x1::m (bytecode v6)
  uses 0x1::table
  struct Constants has drop
    a: u64
  struct Holder has key
    items: 0x1::table::Table<0x1::m::K, vector<0x1::m::V>>
    inner: 0x1::m::Inner<0x1::m::Deep>
  struct Inner<T0> has store
    t: T0
  struct Deep has store
    d: u64
  struct K has copy, drop, store
    k: u64
  struct V has store
    v: u64
  struct Marker<phantom T0> has store
    x: u64
  struct Unused has store
    u: u64
";

    #[test]
    fn keys_nesting_and_container_entries_are_stored_drop_only_is_not() {
        let ms = modules(APTOS_OLD);
        let s = storage(&refs(&ms));
        let m = id("0x1::m");
        assert!(s.is_root(&m, "Holder"));
        assert!(s.is_stored(&m, "Inner") && !s.is_root(&m, "Inner"));
        // Reached through a substituted type argument of a nested struct.
        assert!(s.is_stored(&m, "Deep"));
        // Entries of a table are roots of their own; the key is flagged as a key.
        assert!(s.is_root(&m, "K") && s.is_container_key(&m, "K"));
        assert!(s.is_root(&m, "V") && !s.is_container_key(&m, "V"));
        assert!(!s.is_stored(&m, "Constants"));
        assert!(!s.is_stored(&m, "Unused"));
        assert!(!s.is_stored(&m, "Marker"));
        assert!(s.notes.is_empty());
    }

    #[test]
    fn a_nested_change_makes_the_storing_structs_migration_due_and_a_key_change_is_not_derivable() {
        let old = modules(APTOS_OLD);
        let new_text = APTOS_OLD
            .replace("  struct Deep has store\n    d: u64\n", "  struct Deep has store\n    d: u64\n    e: u64\n")
            .replace(
                "  struct K has copy, drop, store\n    k: u64\n",
                "  struct K has copy, drop, store\n    k: u128\n",
            )
            .replace("  struct Constants has drop\n    a: u64\n", "  struct Constants has drop\n    a: u128\n");
        let new = modules(&new_text);
        let d = crate::diff(&refs(&old), &refs(&new), None, None);
        let needs = needs_migration(&refs(&old), &refs(&new), &d);
        let names: Vec<&str> = needs.iter().map(|n| n.name.as_str()).collect();
        // Constants changed but is never stored; Deep is nested in Holder; K is a table key.
        assert_eq!(names, vec!["Holder", "K"]);
        let holder = &needs[0];
        assert!(holder.in_place());
        assert_eq!(holder.causes, vec![Cause::Nested { module: id("0x1::m"), name: "Deep".into() }]);
        assert!(!holder.keys_change);
        let k = &needs[1];
        assert_eq!(k.causes, vec![Cause::Own]);
        assert!(k.keys_change && !k.derivable);
    }

    #[test]
    fn a_bag_is_said_to_be_heterogeneous() {
        let ms = modules(
            "module 0x2::bag (bytecode v6)\n  struct Bag has store\n    size: u64\n\
             module 0x2::m (bytecode v6)\n  uses 0x2::bag\n  struct Shop has key\n    stock: 0x2::bag::Bag\n",
        );
        let s = storage(&refs(&ms));
        assert_eq!(s.notes.len(), 1);
        assert!(s.notes.iter().next().unwrap().contains("0x2::m::Shop holds a 0x2::bag::Bag"));
    }

    #[test]
    fn sui_dynamic_fields_store_their_name_and_value() {
        let ms = modules(
            "module 0x2::dynamic_field (bytecode v6)\n  struct Field<T0: copy + drop + store, T1: store> has key\n    name: T0\n    value: T1\n\
             module 0x2::m (bytecode v6)\n  uses 0x2::dynamic_field\n  struct Name has copy, drop, store\n    n: u64\n  struct Val has store\n    v: u64\n  struct Holder has key\n    f: 0x2::dynamic_field::Field<0x2::m::Name, 0x2::m::Val>\n",
        );
        let s = storage(&refs(&ms));
        let m = id("0x2::m");
        assert!(s.is_container_key(&m, "Name"));
        assert!(s.is_root(&m, "Val") && !s.is_container_key(&m, "Val"));
    }
}
