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
    // Names first: they rule out almost every struct without building an address.
    CONTAINERS
        .iter()
        .find(|c| name == c.name && module.name == c.module && module.address == Address::from_u64(c.address))
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
    /// itself) as indices into `keys`: a release's structs are reached from many roots each, and
    /// keys are kept once.
    reached_from: BTreeMap<StructKey, BTreeSet<usize>>,
    /// The struct keys `reached_from` names by index.
    keys: Vec<StructKey>,
    /// What layouts cannot tell (heterogeneous containers), one sentence each, sorted.
    pub notes: BTreeSet<String>,
}

impl Storage {
    /// Every struct that can be in storage, in key order.
    pub fn stored(&self) -> impl Iterator<Item = &StructKey> {
        self.reached_from.keys()
    }

    /// The roots whose instances hold `key` (a root holds itself), in key order; none if it
    /// cannot be stored.
    pub fn reached_from(&self, key: &StructKey) -> Vec<&StructKey> {
        let mut roots: Vec<&StructKey> =
            self.reached_from.get(key).into_iter().flatten().filter_map(|i| self.keys.get(*i)).collect();
        roots.sort();
        roots
    }

    /// Whether instances of any struct of `module` can be in storage.
    pub fn module_is_stored(&self, module: &ModuleId) -> bool {
        self.reached_from.range((module.clone(), String::new())..).next().is_some_and(|((m, _), _)| m == module)
    }

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

/// The walk over one release's structs, each known by its index in `structs` (keys are built
/// once, at the end: a walk over thousands of structs compares and clones no strings).
struct Walker<'a> {
    /// Struct ids by module, then name.
    index: BTreeMap<ModuleId, BTreeMap<&'a str, usize>>,
    /// Every struct: its key and declaration.
    structs: Vec<(StructKey, &'a Struct)>,
    /// Why each root is stored on its own.
    roots: BTreeMap<usize, BTreeSet<RootKind>>,
    /// For each struct, the roots that reach it.
    reached_from: Vec<BTreeSet<usize>>,
    notes: BTreeSet<String>,
}

impl<'a> Walker<'a> {
    fn id(&self, module: &ModuleId, name: &str) -> Option<usize> {
        self.index.get(module).and_then(|names| names.get(name)).copied()
    }

    fn add_root(&mut self, id: usize, kind: RootKind) -> bool {
        let kinds = self.roots.entry(id).or_default();
        let first = kinds.is_empty();
        kinds.insert(kind);
        first
    }

    /// Marks every struct `t` holds as reached from `root`; container entries become roots.
    /// `holder` is the struct whose field `t` is (named in notes).
    fn visit(&mut self, t: &Type, root: usize, pending: &mut Vec<usize>, holder: usize) {
        match t {
            Type::Vector(inner) => self.visit(inner, root, pending, holder),
            Type::Datatype(d) => {
                if let Some(c) = container(&d.module, &d.name) {
                    if c.is_heterogeneous() {
                        let (module, name) = self.structs.get(holder).map(|(k, _)| (&k.0, &k.1)).unzip();
                        self.notes.insert(format!(
                            "{}::{} holds a {}: values of any type with `store` may be stored in it, and which \
                             cannot be told from layouts",
                            module.map(ToString::to_string).unwrap_or_default(),
                            name.map(String::as_str).unwrap_or_default(),
                            c.path()
                        ));
                    }
                    for (arg, role) in d.type_args.iter().zip(c.roles) {
                        let mut named = Vec::new();
                        datatypes(arg, &mut |m, n| named.extend(self.id(m, n)));
                        for id in named {
                            if self.add_root(id, RootKind::Entry { container: c.path(), role: *role }) {
                                pending.push(id);
                            }
                        }
                    }
                }
                let Some(id) = self.id(&d.module, &d.name) else { return };
                let Some(reached) = self.reached_from.get_mut(id) else { return };
                if !reached.insert(root) {
                    return;
                }
                let Some(&(_, s)) = self.structs.get(id) else { return };
                for f in s.fields.iter().chain(s.variants.iter().flatten().flat_map(|v| &v.fields)) {
                    if d.type_args.is_empty() || !has_type_parameter(&f.ty) {
                        self.visit(&f.ty, root, pending, id);
                    } else {
                        self.visit(&f.ty.substitute(&d.type_args), root, pending, id);
                    }
                }
                // Type arguments in phantom positions are not stored; the others were reached
                // through the fields they were substituted into.
            }
            _ => {}
        }
    }
}

/// Whether `t` names a type parameter (and so changes under substitution).
fn has_type_parameter(t: &Type) -> bool {
    match t {
        Type::TypeParameter(_) => true,
        Type::Vector(i) | Type::Reference(i) | Type::MutableReference(i) => has_type_parameter(i),
        Type::Datatype(d) => d.type_args.iter().any(has_type_parameter),
        _ => false,
    }
}

/// Calls `named` with every datatype named in `t`, at any depth.
fn datatypes(t: &Type, named: &mut dyn FnMut(&ModuleId, &str)) {
    match t {
        Type::Vector(i) | Type::Reference(i) | Type::MutableReference(i) => datatypes(i, named),
        Type::Datatype(d) => {
            named(&d.module, &d.name);
            d.type_args.iter().for_each(|a| datatypes(a, named));
        }
        _ => {}
    }
}

/// Which structs of `modules` (one release) can be in storage, and why.
pub fn storage(modules: &[&Module]) -> Storage {
    let mut w = Walker {
        index: BTreeMap::new(),
        structs: Vec::new(),
        roots: BTreeMap::new(),
        reached_from: Vec::new(),
        notes: BTreeSet::new(),
    };
    for m in modules {
        let id = m.id();
        for s in &m.structs {
            let names = w.index.entry(id.clone()).or_default();
            // A name declared twice (a release that repeats a module) keeps its first declaration.
            if !names.contains_key(s.name.as_str()) {
                names.insert(s.name.as_str(), w.structs.len());
                w.structs.push(((id.clone(), s.name.clone()), s));
            }
        }
    }
    w.reached_from = vec![BTreeSet::new(); w.structs.len()];
    let mut pending: Vec<usize> = Vec::new();
    // Keyed structs in key order, so that the walk (and the notes' wording) is the same for any
    // order of the modules.
    let mut keyed: Vec<usize> = (0..w.structs.len())
        .filter(|&i| w.structs.get(i).is_some_and(|(_, s)| s.abilities.has(Ability::Key)))
        .collect();
    keyed.sort_by(|a, b| w.structs.get(*a).map(|e| &e.0).cmp(&w.structs.get(*b).map(|e| &e.0)));
    for &id in &keyed {
        w.add_root(id, RootKind::Resource);
    }
    pending.extend(keyed);
    let mut done = vec![false; w.structs.len()];
    while let Some(root) = pending.pop() {
        match done.get_mut(root) {
            Some(seen) if !*seen => *seen = true,
            _ => continue,
        }
        let Some((key, s)) = w.structs.get(root) else { continue };
        // A root's own type parameters stay parameters: which instances exist is not known.
        let params = (0..s.type_params.len()).filter_map(|i| u16::try_from(i).ok()).map(Type::TypeParameter).collect();
        let ty = Type::datatype(key.0.clone(), key.1.clone(), params);
        w.visit(&ty, root, &mut pending, root);
    }
    let key_of = |id: usize| w.structs.get(id).map(|(k, _)| k.clone());
    let roots = w.roots.iter().filter_map(|(id, kinds)| Some((key_of(*id)?, kinds.clone()))).collect();
    let reached_from = w
        .reached_from
        .iter()
        .enumerate()
        .filter(|(_, roots)| !roots.is_empty())
        .filter_map(|(id, roots)| Some((key_of(id)?, roots.clone())))
        .collect();
    Storage { roots, reached_from, keys: w.structs.into_iter().map(|(k, _)| k).collect(), notes: w.notes }
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
    needs_migration_in(&storage(old), old, new, diff)
}

/// [`needs_migration`] with the old release's [`storage`] already computed (the checker needs
/// it for its own report too, and it is the costly part).
pub fn needs_migration_in(stored: &Storage, old: &[&Module], new: &[&Module], diff: &Diff) -> Vec<Need> {
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
        for root in stored.reached_from(changed_key) {
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
        // Who holds what: Deep is held by Holder only; a root holds itself.
        let key = |n: &str| (m.clone(), n.to_owned());
        assert_eq!(s.reached_from(&key("Deep")), vec![&key("Holder")]);
        assert_eq!(s.reached_from(&key("Holder")), vec![&key("Holder")]);
        assert!(s.reached_from(&key("Unused")).is_empty());
        assert!(s.stored().all(|k| s.is_stored(&k.0, &k.1)) && s.stored().any(|k| *k == key("Inner")));
        // The table's own struct is held by Holder; a module before or after `m` stores nothing.
        assert!(s.module_is_stored(&m) && s.module_is_stored(&id("0x1::table")));
        assert!(!s.module_is_stored(&id("0x1::l")) && !s.module_is_stored(&id("0x1::n")));
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
