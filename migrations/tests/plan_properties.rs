#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Property tests of derived plans: for generated struct layouts and values, and a generated
//! change of each derivable kind, the plan's bytes are the bytes of decode -> change the value
//! tree by hand -> encode with the new layout; where move-core-types can represent both layouts,
//! they are also the bytes move-core-types writes for the changed `MoveValue` (decoded by
//! move-core-types from the old bytes). Untrusted bytes never panic a plan: every error names an
//! offset within the input, leaves the output as it was, and a plan accepts exactly the bytes our
//! decoder accepts.
//!
//! Each kind of change has its own test, run with a fixed seed (deterministic) for
//! [`CASES`] cases (`PROPTEST_CASES` overrides). The layouts of a case are nested structs,
//! vectors (of structs too), every integer width, bools, 16-byte addresses and (in half of the
//! cases, which move-core-types cannot represent) enums, u16, u32 and u256, depth-limited. A
//! test makes sure that the field its change needs exists (a fixed-size field to remove, an
//! integer inside a vector of structs to widen...) by inserting one at a random position.

mod common;

use binary_format::{AddressLength, ModuleId};
use migrations::plan::DerivedPlan;
use migrations::value::{decode, encode};
use migrations::{EnumLayout, FieldLayout, Layout, StructLayout, Value, VariantLayout, U256};
use move_core_types::value::MoveValue;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::Union;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use std::collections::BTreeMap;

/// Cases per kind of change.
const CASES: u32 = 512;

// ---------------------------------------------------------------------------------------------
// Layouts and values.

/// Which types a case draws from: `Core` is what move-core-types 0.0.3 can represent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vocab {
    Core,
    Full,
}

fn module() -> ModuleId {
    ModuleId::parse("0x1::Gen").unwrap()
}

const A16: Layout = Layout::Address(AddressLength::Bytes16);

fn named(prefix: &str, layouts: Vec<Layout>) -> Vec<FieldLayout> {
    layouts.into_iter().enumerate().map(|(i, layout)| FieldLayout { name: format!("{prefix}{i}"), layout }).collect()
}

fn struct_layout(name: &str, layouts: Vec<Layout>) -> StructLayout {
    StructLayout { module: module(), name: name.to_owned(), fields: named("g", layouts) }
}

fn nested(layouts: Vec<Layout>) -> Layout {
    Layout::Struct(Box::new(struct_layout("Inner", layouts)))
}

fn enum_of(variants: Vec<Vec<Layout>>) -> Layout {
    let variants = variants
        .into_iter()
        .enumerate()
        .map(|(i, v)| VariantLayout { name: format!("V{i}"), fields: named("e", v) })
        .collect();
    Layout::Enum(Box::new(EnumLayout { module: module(), name: "E".into(), variants }))
}

fn ints(vocab: Vocab) -> &'static [Layout] {
    match vocab {
        Vocab::Core => &[Layout::U8, Layout::U64, Layout::U128],
        Vocab::Full => &[Layout::U8, Layout::U16, Layout::U32, Layout::U64, Layout::U128, Layout::U256],
    }
}

fn width(layout: &Layout) -> Option<usize> {
    Some(match layout {
        Layout::U8 => 1,
        Layout::U16 => 2,
        Layout::U32 => 4,
        Layout::U64 => 8,
        Layout::U128 => 16,
        Layout::U256 => 32,
        _ => return None,
    })
}

/// Integers that can be widened in this vocabulary.
fn narrow_int(vocab: Vocab) -> BoxedStrategy<Layout> {
    let choices: Vec<Layout> = ints(vocab).iter().filter(|l| **l != *ints(vocab).last().unwrap()).cloned().collect();
    prop::sample::select(choices).boxed()
}

fn leaf(vocab: Vocab) -> BoxedStrategy<Layout> {
    let mut choices = ints(vocab).to_vec();
    choices.extend([Layout::Bool, A16]);
    prop::sample::select(choices).boxed()
}

/// Any layout of the vocabulary, at most three levels of vectors, structs and enums below it.
fn layout(vocab: Vocab) -> BoxedStrategy<Layout> {
    leaf(vocab)
        .prop_recursive(3, 24, 4, move |inner| {
            let mut options = vec![
                (3, inner.clone().prop_map(|l| Layout::Vector(Box::new(l))).boxed()),
                (3, prop::collection::vec(inner.clone(), 1..4).prop_map(nested).boxed()),
            ];
            if vocab == Vocab::Full {
                options.push((
                    1,
                    prop::collection::vec(prop::collection::vec(inner, 0..3), 1..4).prop_map(enum_of).boxed(),
                ));
            }
            Union::new_weighted(options)
        })
        .boxed()
}

/// A fixed-size layout: primitives and structs of them.
fn fixed_layout(vocab: Vocab) -> BoxedStrategy<Layout> {
    leaf(vocab).prop_recursive(2, 8, 3, |inner| prop::collection::vec(inner, 1..4).prop_map(nested)).boxed()
}

/// A variable-size layout: a vector, an enum, or a struct holding one.
fn variable_layout(vocab: Vocab) -> BoxedStrategy<Layout> {
    let vector = layout(vocab).prop_map(|l| Layout::Vector(Box::new(l)));
    let holder =
        (prop::collection::vec(layout(vocab), 0..3), layout(vocab), any::<Index>()).prop_map(|(mut fs, l, at)| {
            fs.insert(at.index(fs.len() + 1), Layout::Vector(Box::new(l)));
            nested(fs)
        });
    let mut options = vec![(2, vector.boxed()), (2, holder.boxed())];
    if vocab == Vocab::Full {
        options.push((
            1,
            prop::collection::vec(prop::collection::vec(layout(vocab), 0..3), 1..4).prop_map(enum_of).boxed(),
        ));
    }
    Union::new_weighted(options).boxed()
}

/// A struct with an integer that can be widened somewhere in it, one or two structs down.
fn struct_with_int(vocab: Vocab) -> BoxedStrategy<Layout> {
    let one =
        (prop::collection::vec(layout(vocab), 0..3), narrow_int(vocab), any::<Index>()).prop_map(|(mut fs, i, at)| {
            fs.insert(at.index(fs.len() + 1), i);
            nested(fs)
        });
    let one = one.boxed();
    let two = (prop::collection::vec(layout(vocab), 0..2), one.clone(), any::<Index>()).prop_map(|(mut fs, s, at)| {
        fs.insert(at.index(fs.len() + 1), s);
        nested(fs)
    });
    prop_oneof![2 => one, 1 => two].boxed()
}

fn value_for(layout: &Layout) -> BoxedStrategy<Value> {
    common::value_for(layout, 3)
}

fn is_fixed(layout: &Layout) -> bool {
    match layout {
        Layout::Vector(_) | Layout::Enum(_) => false,
        Layout::Struct(s) => s.fields.iter().all(|f| is_fixed(&f.layout)),
        _ => true,
    }
}

// ---------------------------------------------------------------------------------------------
// Changes, as a specification of the new struct in terms of the old one. The same specification
// gives the new layout, the renames and defaults the plan is compiled with, and the new value
// built by hand from the old one.

#[derive(Debug, Clone)]
enum Source {
    Old { index: usize, edit: Edit },
    Added { layout: Layout, default: Value },
}

#[derive(Debug, Clone)]
struct NewField {
    name: String,
    source: Source,
}

/// How an old value becomes a new one.
#[derive(Debug, Clone)]
enum Edit {
    Same,
    Widen(Layout),
    Vector(Box<Edit>),
    Struct(Vec<NewField>),
}

fn identity(s: &StructLayout) -> Vec<NewField> {
    s.fields
        .iter()
        .enumerate()
        .map(|(index, f)| NewField { name: f.name.clone(), source: Source::Old { index, edit: Edit::Same } })
        .collect()
}

fn new_struct(old: &StructLayout, spec: &[NewField]) -> StructLayout {
    let fields = spec
        .iter()
        .map(|nf| FieldLayout {
            name: nf.name.clone(),
            layout: match &nf.source {
                Source::Old { index, edit } => new_layout(&old.fields[*index].layout, edit),
                Source::Added { layout, .. } => layout.clone(),
            },
        })
        .collect();
    StructLayout { module: old.module.clone(), name: old.name.clone(), fields }
}

fn new_layout(old: &Layout, edit: &Edit) -> Layout {
    match (old, edit) {
        (_, Edit::Same) => old.clone(),
        (_, Edit::Widen(to)) => to.clone(),
        (Layout::Vector(inner), Edit::Vector(e)) => Layout::Vector(Box::new(new_layout(inner, e))),
        (Layout::Struct(s), Edit::Struct(spec)) => Layout::Struct(Box::new(new_struct(s, spec))),
        _ => panic!("edit {edit:?} does not apply to {old}"),
    }
}

fn int_of(v: &Value) -> u128 {
    match v {
        Value::U8(n) => u128::from(*n),
        Value::U16(n) => u128::from(*n),
        Value::U32(n) => u128::from(*n),
        Value::U64(n) => u128::from(*n),
        Value::U128(n) => *n,
        other => panic!("not a widenable integer: {other:?}"),
    }
}

fn int_value(n: u128, layout: &Layout) -> Value {
    match layout {
        Layout::U16 => Value::U16(n.try_into().unwrap()),
        Layout::U32 => Value::U32(n.try_into().unwrap()),
        Layout::U64 => Value::U64(n.try_into().unwrap()),
        Layout::U128 => Value::U128(n),
        Layout::U256 => Value::U256(U256::from(n)),
        other => panic!("cannot widen to {other}"),
    }
}

/// The change applied by hand to a decoded value.
fn apply_struct(old: &[Value], spec: &[NewField]) -> Vec<Value> {
    spec.iter()
        .map(|nf| match &nf.source {
            Source::Old { index, edit } => apply(&old[*index], edit),
            Source::Added { default, .. } => default.clone(),
        })
        .collect()
}

fn apply(old: &Value, edit: &Edit) -> Value {
    match (old, edit) {
        (_, Edit::Same) => old.clone(),
        (_, Edit::Widen(to)) => int_value(int_of(old), to),
        (Value::Vector(items), Edit::Vector(e)) => Value::Vector(items.iter().map(|v| apply(v, e)).collect()),
        // A `vector<u8>` whose elements change is no longer bytes.
        (Value::Bytes(bytes), Edit::Vector(e)) => {
            Value::Vector(bytes.iter().map(|b| apply(&Value::U8(*b), e)).collect())
        }
        (Value::Struct(fields), Edit::Struct(spec)) => Value::Struct(apply_struct(fields, spec)),
        _ => panic!("edit {edit:?} does not apply to {old:?}"),
    }
}

/// A step from a struct (by the position of a field in its new-field list) or a vector (to its
/// elements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Field(usize),
    Elem,
}

/// Places inside the old value where a change can apply.
#[derive(Debug, Default)]
struct Sites {
    /// Integers not yet widened: path and layout.
    ints: Vec<(Vec<Step>, Layout)>,
    /// Nested structs (below the root): path to the struct value.
    structs: Vec<Vec<Step>>,
}

fn sites_in_struct(spec: &[NewField], old: &StructLayout, path: &mut Vec<Step>, out: &mut Sites) {
    for (p, nf) in spec.iter().enumerate() {
        if let Source::Old { index, edit } = &nf.source {
            path.push(Step::Field(p));
            sites_in_value(&old.fields[*index].layout, edit, path, out);
            path.pop();
        }
    }
}

fn sites_in_value(layout: &Layout, edit: &Edit, path: &mut Vec<Step>, out: &mut Sites) {
    match (layout, edit) {
        (_, Edit::Widen(_)) => {}
        (l, Edit::Same) if width(l).is_some() => out.ints.push((path.clone(), l.clone())),
        (Layout::Vector(inner), Edit::Same | Edit::Vector(_)) => {
            let e = match edit {
                Edit::Vector(e) => e,
                _ => &Edit::Same,
            };
            path.push(Step::Elem);
            sites_in_value(inner, e, path, out);
            path.pop();
        }
        (Layout::Struct(s), Edit::Same) => {
            out.structs.push(path.clone());
            sites_in_struct(&identity(s), s, path, out);
        }
        (Layout::Struct(s), Edit::Struct(spec)) => {
            out.structs.push(path.clone());
            sites_in_struct(spec, s, path, out);
        }
        _ => {}
    }
}

/// The edit at `path`, materializing `Same` into the structure the path goes through.
fn edit_in_struct<'a>(spec: &'a mut [NewField], old: &StructLayout, path: &[Step]) -> &'a mut Edit {
    let Step::Field(p) = path[0] else { panic!("{path:?} does not start at a field") };
    let Source::Old { index, edit } = &mut spec[p].source else { panic!("{path:?} goes through a new field") };
    edit_in_value(edit, &old.fields[*index].layout, &path[1..])
}

fn edit_in_value<'a>(edit: &'a mut Edit, layout: &Layout, path: &[Step]) -> &'a mut Edit {
    let Some(step) = path.first() else { return edit };
    match (layout, step) {
        (Layout::Vector(inner), Step::Elem) => {
            if matches!(edit, Edit::Same) {
                *edit = Edit::Vector(Box::new(Edit::Same));
            }
            let Edit::Vector(e) = edit else { panic!("not a vector edit") };
            edit_in_value(e, inner, &path[1..])
        }
        (Layout::Struct(s), Step::Field(_)) => {
            if matches!(edit, Edit::Same) {
                *edit = Edit::Struct(identity(s));
            }
            let Edit::Struct(spec) = edit else { panic!("not a struct edit") };
            edit_in_struct(spec, s, path)
        }
        _ => panic!("{path:?} does not fit {layout}"),
    }
}

/// The old layout of the value at `path`.
fn layout_at<'a>(spec: &[NewField], old: &'a StructLayout, path: &[Step]) -> &'a Layout {
    let Step::Field(p) = path[0] else { panic!() };
    let Source::Old { index, edit } = &spec[p].source else { panic!() };
    let mut layout = &old.fields[*index].layout;
    let mut edit = edit.clone();
    for step in &path[1..] {
        match (layout, step) {
            (Layout::Vector(inner), Step::Elem) => {
                layout = inner;
                edit = match edit {
                    Edit::Vector(e) => *e,
                    _ => Edit::Same,
                };
            }
            (Layout::Struct(s), Step::Field(q)) => {
                let nested_spec = match edit {
                    Edit::Struct(spec) => spec,
                    _ => identity(s),
                };
                let Source::Old { index, edit: e } = &nested_spec[*q].source else { panic!() };
                layout = &s.fields[*index].layout;
                edit = e.clone();
            }
            _ => panic!(),
        }
    }
    layout
}

/// Where a widening may happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WidenScope {
    /// A field of the root struct.
    Root,
    /// A field of a struct nested in the root (not through a vector).
    Nested,
    /// A field of a struct that is an element of a vector.
    InVectorOfStructs,
    Anywhere,
}

#[derive(Debug, Clone)]
enum Change {
    /// A new field with a default, at the end (`None`) or before an existing field.
    Add {
        before: Option<Index>,
        layout: Layout,
        default: Value,
    },
    /// A field of the root removed; `fixed` says which size it must have.
    Remove {
        which: Index,
        fixed: Option<bool>,
    },
    /// Two fields of the root trade places.
    Swap {
        a: Index,
        b: Index,
    },
    Widen {
        which: Index,
        to: Index,
        scope: WidenScope,
    },
    /// A field of the root renamed (declared).
    Rename {
        which: Index,
    },
    /// A field of a nested struct removed (nested structs take no defaults or renames).
    NestedRemove {
        which: Index,
        field: Index,
    },
    NestedSwap {
        which: Index,
        a: Index,
        b: Index,
    },
}

impl Change {
    fn name(&self) -> &'static str {
        match self {
            Change::Add { before: None, .. } => "append",
            Change::Add { before: Some(_), .. } => "insert",
            Change::Remove { .. } => "remove",
            Change::Swap { .. } => "swap",
            Change::Widen { .. } => "widen",
            Change::Rename { .. } => "rename",
            Change::NestedRemove { .. } => "nested-remove",
            Change::NestedSwap { .. } => "nested-swap",
        }
    }
}

/// What was done to a case, and how it was checked.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    /// Changes that applied.
    applied: usize,
    /// Also compared with move-core-types' own encoding.
    move_core_types: bool,
    /// The plan reorders the root struct.
    reordered: bool,
}

struct Changed {
    spec: Vec<NewField>,
    fresh: usize,
}

impl Changed {
    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    /// Applies `change`; `false` if the value has no place for it.
    fn apply(&mut self, old: &StructLayout, change: &Change, vocab: Vocab) -> bool {
        match change {
            Change::Add { before, layout, default } => {
                let name = self.fresh("added");
                let field =
                    NewField { name, source: Source::Added { layout: layout.clone(), default: default.clone() } };
                match before {
                    None => self.spec.push(field),
                    Some(i) => {
                        let at = i.index(self.spec.len());
                        self.spec.insert(at, field);
                    }
                }
                true
            }
            Change::Remove { which, fixed } => {
                if self.spec.len() < 2 {
                    return false;
                }
                let candidates: Vec<usize> = (0..self.spec.len())
                    .filter(|&p| match (&self.spec[p].source, fixed) {
                        (_, None) => true,
                        (Source::Old { index, edit }, Some(f)) => {
                            is_fixed(&new_layout(&old.fields[*index].layout, edit)) == *f
                        }
                        (Source::Added { .. }, Some(_)) => false,
                    })
                    .collect();
                if candidates.is_empty() {
                    return false;
                }
                self.spec.remove(candidates[which.index(candidates.len())]);
                true
            }
            Change::Swap { a, b } => {
                let n = self.spec.len();
                if n < 2 {
                    return false;
                }
                let a = a.index(n);
                let b = (a + 1 + b.index(n - 1)) % n;
                self.spec.swap(a, b);
                true
            }
            Change::Widen { which, to, scope } => {
                let mut sites = Sites::default();
                sites_in_struct(&self.spec, old, &mut Vec::new(), &mut sites);
                let candidates: Vec<&(Vec<Step>, Layout)> = sites
                    .ints
                    .iter()
                    .filter(|(path, l)| {
                        let wider = ints(vocab).iter().any(|w| width(w) > width(l));
                        let elem_then_field =
                            path.windows(2).any(|w| w[0] == Step::Elem && matches!(w[1], Step::Field(_)));
                        wider
                            && match scope {
                                WidenScope::Root => path.len() == 1,
                                WidenScope::Nested => path.len() > 1 && !path.contains(&Step::Elem),
                                WidenScope::InVectorOfStructs => elem_then_field,
                                WidenScope::Anywhere => true,
                            }
                    })
                    .collect();
                if candidates.is_empty() {
                    return false;
                }
                let (path, from) = candidates[which.index(candidates.len())].clone();
                let wider: Vec<&Layout> = ints(vocab).iter().filter(|w| width(w) > width(&from)).collect();
                let target = wider[to.index(wider.len())].clone();
                *edit_in_struct(&mut self.spec, old, &path) = Edit::Widen(target);
                true
            }
            Change::Rename { which } => {
                let candidates: Vec<usize> = (0..self.spec.len())
                    .filter(|&p| matches!(&self.spec[p].source, Source::Old { index, .. } if old.fields[*index].name == self.spec[p].name))
                    .collect();
                if candidates.is_empty() {
                    return false;
                }
                let p = candidates[which.index(candidates.len())];
                self.spec[p].name = self.fresh("renamed");
                true
            }
            Change::NestedRemove { which, field } | Change::NestedSwap { which, a: field, .. } => {
                let mut sites = Sites::default();
                sites_in_struct(&self.spec, old, &mut Vec::new(), &mut sites);
                let candidates: Vec<Vec<Step>> = sites
                    .structs
                    .into_iter()
                    .filter(|path| match layout_at(&self.spec, old, path) {
                        Layout::Struct(_) => nested_len(&self.spec, old, path) >= 2,
                        _ => false,
                    })
                    .collect();
                if candidates.is_empty() {
                    return false;
                }
                let path = candidates[which.index(candidates.len())].clone();
                let Layout::Struct(s) = layout_at(&self.spec, old, &path).clone() else { unreachable!() };
                let edit = edit_in_struct(&mut self.spec, old, &path);
                if matches!(edit, Edit::Same) {
                    *edit = Edit::Struct(identity(&s));
                }
                let Edit::Struct(nested_spec) = edit else { panic!("not a struct edit") };
                let n = nested_spec.len();
                match change {
                    Change::NestedRemove { .. } => {
                        nested_spec.remove(field.index(n));
                    }
                    Change::NestedSwap { b, .. } => {
                        let a = field.index(n);
                        let b = (a + 1 + b.index(n - 1)) % n;
                        nested_spec.swap(a, b);
                    }
                    _ => unreachable!(),
                }
                true
            }
        }
    }
}

/// How many fields the nested struct at `path` has in the new layout.
fn nested_len(spec: &[NewField], old: &StructLayout, path: &[Step]) -> usize {
    let mut spec = spec.to_vec();
    let layout = layout_at(&spec, old, path).clone();
    let Layout::Struct(s) = layout else { return 0 };
    match edit_in_struct(&mut spec, old, path) {
        Edit::Struct(fields) => fields.len(),
        _ => s.fields.len(),
    }
}

// ---------------------------------------------------------------------------------------------
// Cases.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Append,
    Insert,
    RemoveFixed,
    RemoveVariable,
    Swap,
    Widen,
    WidenNested,
    WidenInVectorOfStructs,
    Rename,
    Combined,
}

#[derive(Debug, Clone)]
struct Case {
    vocab: Vocab,
    old: StructLayout,
    value: Value,
    changes: Vec<Change>,
}

fn added(vocab: Vocab) -> BoxedStrategy<(Layout, Value)> {
    layout(vocab).prop_flat_map(|l| (Just(l.clone()), value_for(&l))).boxed()
}

fn change(kind: Kind, vocab: Vocab) -> BoxedStrategy<Change> {
    let index = any::<Index>;
    match kind {
        Kind::Append => {
            added(vocab).prop_map(|(layout, default)| Change::Add { before: None, layout, default }).boxed()
        }
        Kind::Insert => (added(vocab), index())
            .prop_map(|((layout, default), i)| Change::Add { before: Some(i), layout, default })
            .boxed(),
        Kind::RemoveFixed => index().prop_map(|which| Change::Remove { which, fixed: Some(true) }).boxed(),
        Kind::RemoveVariable => index().prop_map(|which| Change::Remove { which, fixed: Some(false) }).boxed(),
        Kind::Swap => (index(), index()).prop_map(|(a, b)| Change::Swap { a, b }).boxed(),
        Kind::Widen | Kind::WidenNested | Kind::WidenInVectorOfStructs => {
            let scope = match kind {
                Kind::Widen => WidenScope::Root,
                Kind::WidenNested => WidenScope::Nested,
                _ => WidenScope::InVectorOfStructs,
            };
            (index(), index()).prop_map(move |(which, to)| Change::Widen { which, to, scope }).boxed()
        }
        Kind::Rename => index().prop_map(|which| Change::Rename { which }).boxed(),
        Kind::Combined => prop_oneof![
            2 => change(Kind::Append, vocab),
            2 => change(Kind::Insert, vocab),
            2 => index().prop_map(|which| Change::Remove { which, fixed: None }),
            2 => change(Kind::Swap, vocab),
            3 => (index(), index()).prop_map(|(which, to)| Change::Widen { which, to, scope: WidenScope::Anywhere }),
            2 => change(Kind::Rename, vocab),
            1 => (index(), index()).prop_map(|(which, field)| Change::NestedRemove { which, field }),
            1 => (index(), index(), index()).prop_map(|(which, a, b)| Change::NestedSwap { which, a, b }),
        ]
        .boxed(),
    }
}

/// The field a kind needs, inserted at a random place so that the change has somewhere to go.
fn needed(kind: Kind, vocab: Vocab) -> BoxedStrategy<Option<Layout>> {
    match kind {
        Kind::RemoveFixed => fixed_layout(vocab).prop_map(Some).boxed(),
        Kind::RemoveVariable => variable_layout(vocab).prop_map(Some).boxed(),
        Kind::Widen => narrow_int(vocab).prop_map(Some).boxed(),
        Kind::WidenNested => struct_with_int(vocab).prop_map(Some).boxed(),
        Kind::WidenInVectorOfStructs => struct_with_int(vocab).prop_map(|s| Some(Layout::Vector(Box::new(s)))).boxed(),
        Kind::Combined => prop_oneof![Just(None), struct_with_int(vocab).prop_map(Some)].boxed(),
        _ => Just(None).boxed(),
    }
}

fn case(kind: Kind) -> impl Strategy<Value = Case> {
    let min_fields = if matches!(kind, Kind::Swap | Kind::Combined) { 2 } else { 1 };
    prop_oneof![Just(Vocab::Core), Just(Vocab::Full)]
        .prop_flat_map(move |vocab| {
            let changes = if kind == Kind::Combined {
                prop::collection::vec(change(kind, vocab), 2..6).boxed()
            } else {
                change(kind, vocab).prop_map(|c| vec![c]).boxed()
            };
            (
                Just(vocab),
                prop::collection::vec(layout(vocab), min_fields..6),
                needed(kind, vocab),
                any::<Index>(),
                changes,
            )
        })
        .prop_flat_map(|(vocab, mut fields, needed, at, changes)| {
            if let Some(l) = needed {
                fields.insert(at.index(fields.len() + 1), l);
            }
            let old = StructLayout { module: module(), name: "Root".into(), fields: named("f", fields) };
            let value = value_for(&Layout::Struct(Box::new(old.clone())));
            (Just(vocab), Just(old), value, Just(changes))
        })
        .prop_map(|(vocab, old, value, changes)| Case { vocab, old, value, changes })
}

/// What a case compiles to: the new layout, renames and defaults, and the expected new value.
struct Compiled {
    new: StructLayout,
    renames: BTreeMap<String, String>,
    defaults: BTreeMap<String, Vec<u8>>,
    spec: Vec<NewField>,
    applied: usize,
}

fn compile_case(case: &Case, require_all: bool) -> Result<Compiled, TestCaseError> {
    let mut changed = Changed { spec: identity(&case.old), fresh: 0 };
    let mut applied = 0;
    for c in &case.changes {
        if changed.apply(&case.old, c, case.vocab) {
            applied += 1;
        } else if require_all {
            return Err(TestCaseError::fail(format!("the generated layout has no place for {}", c.name())));
        }
    }
    let spec = changed.spec;
    let new = new_struct(&case.old, &spec);
    let mut renames = BTreeMap::new();
    let mut defaults = BTreeMap::new();
    for nf in &spec {
        match &nf.source {
            Source::Old { index, .. } if case.old.fields[*index].name != nf.name => {
                renames.insert(nf.name.clone(), case.old.fields[*index].name.clone());
            }
            Source::Added { layout, default } => {
                defaults.insert(nf.name.clone(), encode(default, layout).unwrap());
            }
            Source::Old { .. } => {}
        }
    }
    Ok(Compiled { new, renames, defaults, spec, applied })
}

fn root(s: &StructLayout) -> Layout {
    Layout::Struct(Box::new(s.clone()))
}

/// The property: the plan's bytes are the bytes of the value changed by hand, in our encoding
/// and (where representable) in move-core-types'.
fn check(case: &Case, require_all: bool) -> Result<Outcome, TestCaseError> {
    let c = compile_case(case, require_all)?;
    let (old_layout, new_layout) = (root(&case.old), root(&c.new));
    let plan = DerivedPlan::compile(&case.old, &c.new, &c.renames, &c.defaults)
        .map_err(|e| TestCaseError::fail(format!("no plan: {e}\nold {old_layout}\nnew {new_layout}")))?;
    let old_bytes = encode(&case.value, &old_layout).unwrap();
    let mut out = vec![0xAB, 0xCD];
    plan.transcode(&old_bytes, &mut out).map_err(|e| TestCaseError::fail(format!("transcode: {e}")))?;
    prop_assert_eq!(&out[..2], &[0xAB, 0xCD], "bytes before the output were touched");
    let out = &out[2..];

    // decode -> change by hand -> encode.
    let decoded = decode(&old_bytes, &old_layout).unwrap();
    let expected_value = Value::Struct(apply_struct(decoded.fields().unwrap(), &c.spec));
    let expected = encode(&expected_value, &new_layout).unwrap();
    prop_assert_eq!(
        out,
        &expected[..],
        "plan output differs\nold {}\nnew {}\nrenames {:?}\nplan {:?}",
        old_layout,
        new_layout,
        c.renames,
        plan
    );
    prop_assert_eq!(decode(out, &new_layout).unwrap(), expected_value.clone());

    // The same through move-core-types, where it can represent both layouts: its decoder reads
    // the old bytes, the change is made, its encoder writes the new bytes.
    let mut outcome = Outcome { applied: c.applied, move_core_types: false, reordered: false };
    if let (Ok(old_move), Ok(new_move)) =
        (migrations::core_types::move_layout(&old_layout), migrations::core_types::move_layout(&new_layout))
    {
        let theirs = MoveValue::simple_deserialize(&old_bytes, &old_move).unwrap();
        let theirs = migrations::core_types::value_of(theirs, &old_layout).unwrap();
        let changed = Value::Struct(apply_struct(theirs.fields().unwrap(), &c.spec));
        let bytes = migrations::core_types::move_value(&changed).unwrap().simple_serialize().unwrap();
        prop_assert_eq!(out, &bytes[..], "move-core-types encodes the changed value differently");
        let back = MoveValue::simple_deserialize(out, &new_move).unwrap();
        prop_assert_eq!(migrations::core_types::value_of(back, &new_layout).unwrap(), expected_value);
        outcome.move_core_types = true;
    }
    outcome.reordered = matches!(plan.root, migrations::plan::StructPlan::Reorder { .. });
    Ok(outcome)
}

/// Runs `test` over `cases` cases of `strategy`, deterministically (a fixed seed per test).
fn run<S: Strategy>(
    seed: u64,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<Outcome, TestCaseError>,
) -> Vec<Outcome>
where
    S::Value: std::fmt::Debug,
{
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(cases);
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let outcomes = std::cell::RefCell::new(Vec::new());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        let outcome = test(value)?;
        outcomes.borrow_mut().push(outcome);
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, value)) => panic!("{reason}\nminimal failing input: {value:#?}"),
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
    let outcomes = outcomes.into_inner();
    assert_eq!(outcomes.len(), cases as usize);
    outcomes
}

fn property(kind: Kind, seed: u64) -> Vec<Outcome> {
    let outcomes = run(seed, CASES, case(kind), |case| check(&case, kind != Kind::Combined));
    // Both vocabularies are exercised: a good share of cases also went through move-core-types.
    let through_core = outcomes.iter().filter(|o| o.move_core_types).count();
    assert!(through_core * 4 >= outcomes.len(), "{kind:?}: only {through_core} cases through move-core-types");
    assert!(through_core < outcomes.len(), "{kind:?}: no case outside move-core-types' vocabulary");
    let reordered = outcomes.iter().filter(|o| o.reordered).count();
    let changes = outcomes.iter().map(|o| o.applied).sum::<usize>();
    eprintln!(
        "{kind:?}: {} cases, {changes} changes applied, {through_core} also through move-core-types, \
         {reordered} reordering plans",
        outcomes.len()
    );
    outcomes
}

#[test]
fn field_appended_with_a_default() {
    property(Kind::Append, 1);
}

#[test]
fn field_inserted_before_the_end_with_a_default() {
    property(Kind::Insert, 2);
}

#[test]
fn fixed_size_field_removed() {
    property(Kind::RemoveFixed, 3);
}

#[test]
fn variable_size_field_removed() {
    property(Kind::RemoveVariable, 4);
}

#[test]
fn two_fields_swapped() {
    let outcomes = property(Kind::Swap, 5);
    let reordered = outcomes.iter().filter(|o| o.reordered).count();
    assert!(reordered * 2 >= outcomes.len(), "only {reordered} swaps compiled to a reordering plan");
}

#[test]
fn integer_widened_in_the_root_struct() {
    property(Kind::Widen, 6);
}

#[test]
fn integer_widened_in_a_nested_struct() {
    property(Kind::WidenNested, 7);
}

#[test]
fn integer_widened_in_a_vector_of_structs() {
    property(Kind::WidenInVectorOfStructs, 8);
}

#[test]
fn field_renamed_as_declared() {
    property(Kind::Rename, 9);
}

#[test]
fn combinations_of_changes() {
    let outcomes = property(Kind::Combined, 10);
    let several = outcomes.iter().filter(|o| o.applied >= 2).count();
    assert!(several * 2 >= outcomes.len(), "only {several} cases combined two changes or more");
}

// ---------------------------------------------------------------------------------------------
// Untrusted bytes.

#[derive(Debug, Clone)]
struct BadInput {
    case: Case,
    mutations: Vec<(Index, u8)>,
    trailing: Vec<u8>,
    random: Vec<u8>,
    prefix: Vec<u8>,
}

fn bad_input() -> impl Strategy<Value = BadInput> {
    (
        case(Kind::Combined),
        prop::collection::vec((any::<Index>(), any::<u8>()), 1..6),
        prop::collection::vec(any::<u8>(), 1..5),
        prop::collection::vec(any::<u8>(), 0..96),
        prop::collection::vec(any::<u8>(), 0..4),
    )
        .prop_map(|(case, mutations, trailing, random, prefix)| BadInput {
            case,
            mutations,
            trailing,
            random,
            prefix,
        })
}

/// Transcodes `input`: an error has an offset within the input and leaves `out` as it was; the
/// plan accepts exactly what our decoder accepts, and then writes the expected bytes.
fn transcode_checked(
    plan: &DerivedPlan,
    case: &Case,
    c: &Compiled,
    input: &[u8],
    prefix: &[u8],
) -> Result<bool, TestCaseError> {
    let mut out = prefix.to_vec();
    let result = plan.transcode(input, &mut out);
    let decoded = decode(input, &root(&case.old));
    match (result, decoded) {
        (Err(e), Err(_)) => {
            prop_assert!(e.offset <= input.len(), "offset {} outside {} bytes: {}", e.offset, input.len(), e);
            prop_assert_eq!(&out[..], prefix, "output changed on error");
            Ok(false)
        }
        (Ok(()), Ok(value)) => {
            prop_assert_eq!(&out[..prefix.len()], prefix);
            let expected =
                encode(&Value::Struct(apply_struct(value.fields().unwrap(), &c.spec)), &root(&c.new)).unwrap();
            prop_assert_eq!(&out[prefix.len()..], &expected[..]);
            Ok(true)
        }
        (Ok(()), Err(d)) => Err(TestCaseError::fail(format!(
            "the plan accepted bytes the old layout does not decode ({d}): {input:02x?}\nold {}",
            root(&case.old)
        ))),
        (Err(e), Ok(_)) => Err(TestCaseError::fail(format!("the plan refused a valid value: {e}: {input:02x?}"))),
    }
}

#[test]
fn untrusted_bytes_never_panic_and_leave_the_output_alone() {
    let outcomes = run(11, CASES, bad_input(), |bad| {
        let c = compile_case(&bad.case, false)?;
        let plan = DerivedPlan::compile(&bad.case.old, &c.new, &c.renames, &c.defaults).unwrap();
        let bytes = encode(&bad.case.value, &root(&bad.case.old)).unwrap();
        // Every strict prefix is an error (BCS is self-delimiting for a layout).
        for cut in 0..bytes.len() {
            let mut out = bad.prefix.clone();
            let e = plan.transcode(&bytes[..cut], &mut out).unwrap_err();
            prop_assert!(e.offset <= cut, "offset {} beyond a {}-byte prefix: {}", e.offset, cut, e);
            prop_assert_eq!(&out, &bad.prefix);
        }
        // Trailing bytes are an error, at the end of the value.
        let mut longer = bytes.clone();
        longer.extend(&bad.trailing);
        let mut out = bad.prefix.clone();
        let e = plan.transcode(&longer, &mut out).unwrap_err();
        prop_assert_eq!(e.offset, bytes.len());
        prop_assert_eq!(&out, &bad.prefix);
        // Corrupted bytes, and random bytes: accepted exactly when they decode.
        let mut accepted = 0;
        for &(at, byte) in &bad.mutations {
            let mut corrupt = bytes.clone();
            if !corrupt.is_empty() {
                let i = at.index(corrupt.len());
                corrupt[i] = byte;
                if byte % 5 == 0 {
                    corrupt.truncate(i);
                }
            }
            accepted += usize::from(transcode_checked(&plan, &bad.case, &c, &corrupt, &bad.prefix)?);
        }
        accepted += usize::from(transcode_checked(&plan, &bad.case, &c, &bad.random, &bad.prefix)?);
        Ok(Outcome { applied: accepted, move_core_types: false, reordered: false })
    });
    // Some corruptions still decode (a changed integer): both sides were exercised.
    assert!(outcomes.iter().any(|o| o.applied > 0));
}

#[test]
fn a_hand_corrupted_bool_is_refused_not_copied() {
    let bools = StructLayout {
        module: module(),
        name: "Root".into(),
        fields: named("f", vec![Layout::Bool, Layout::U64, Layout::Vector(Box::new(Layout::Bool)), Layout::Bool]),
    };
    let mut new = bools.clone();
    new.fields.push(FieldLayout { name: "extra".into(), layout: Layout::U8 });
    let defaults = BTreeMap::from([("extra".to_owned(), vec![7])]);
    let plan = DerivedPlan::compile(&bools, &new, &BTreeMap::new(), &defaults).unwrap();
    let good = [1, 1, 2, 3, 4, 5, 6, 7, 8, 2, 0, 1, 0];
    let mut out = Vec::new();
    plan.transcode(&good, &mut out).unwrap();
    assert_eq!(out, [&good[..], &[7]].concat());
    for at in [0, 10, 11, 12] {
        let mut bad = good;
        bad[at] = 2;
        let mut out = vec![9];
        let e = plan.transcode(&bad, &mut out).unwrap_err();
        assert_eq!((e.offset, out), (at, vec![9]), "{e}");
        assert!(decode(&bad, &root(&bools)).is_err());
    }
    // Removed fields are checked too: their bytes must still be a value of the old layout.
    let mut dropped = bools.clone();
    dropped.fields.remove(0);
    let plan = DerivedPlan::compile(&bools, &dropped, &BTreeMap::new(), &BTreeMap::new()).unwrap();
    let mut bad = good;
    bad[0] = 9;
    assert_eq!(plan.transcode(&bad, &mut Vec::new()).unwrap_err().offset, 0);
}

/// Changes that no rule derives are refused when the plan is compiled, never transcoded wrongly.
#[test]
fn underivable_changes_are_refused() {
    let old =
        StructLayout { module: module(), name: "Root".into(), fields: named("f", vec![Layout::U64, Layout::Bool]) };
    let (none, no_defaults) = (BTreeMap::new(), BTreeMap::new());
    let mut narrowed = old.clone();
    narrowed.fields[0].layout = Layout::U8;
    assert!(DerivedPlan::compile(&old, &narrowed, &none, &no_defaults).is_err());
    let mut retyped = old.clone();
    retyped.fields[1].layout = Layout::U8;
    assert!(DerivedPlan::compile(&old, &retyped, &none, &no_defaults).is_err());
    let mut added = old.clone();
    added.fields.push(FieldLayout { name: "x".into(), layout: Layout::U8 });
    assert!(DerivedPlan::compile(&old, &added, &none, &no_defaults).is_err(), "a new field needs a default");
    let mut renamed = old.clone();
    renamed.fields[0].name = "g".into();
    assert!(DerivedPlan::compile(&old, &renamed, &none, &no_defaults).is_err(), "an undeclared rename is not guessed");
}
