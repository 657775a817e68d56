//! Derived transforms: a migration's change compiled once into a byte-level plan (copy spans,
//! skip spans, insert constant bytes, widen integers) that turns a resource's old BCS bytes into
//! its new bytes without building a value tree.
//!
//! The plan comes from the same field mapping the compatibility checker reports (fields matched
//! by name and declared renames; never by guess), over the two versions' full BCS layouts.
//! Fixed-size runs are coalesced, so a struct that only gains a field becomes one copy and one
//! insert. Variable-size values (vectors, and structs holding them) are walked to find their end
//! by a `Skipper` compiled from their layout.
//!
//! A plan accepts exactly the bytes `value::decode` accepts with the old layout: besides lengths,
//! variant tags and the end of the input, every bool byte (copied or skipped) must be 0 or 1, so a
//! corrupt resource is an error for its account instead of being copied into a new resource that
//! no longer decodes. Bools therefore end a fixed-size run rather than joining it.

use crate::layout::{FieldLayout, Layout, StructLayout, MAX_LAYOUT_DEPTH};
use binary_format::bcs::{self, Reader};
use layout_diff::diff::structs::{map_fields, FieldSource, Named, Renames};
use layout_diff::diff::types::Relation;
use std::collections::BTreeMap;

impl Named for FieldLayout {
    fn name(&self) -> &str {
        &self.name
    }
}

/// Why a transform cannot be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The new layout adds a field and the declaration gives it no default.
    #[error("field `{field}` is new: declare its value with `defaults = {{ {field} = \"...\" }}`")]
    MissingDefault {
        /// The new field.
        field: String,
    },
    /// A field's type changes in a way no derived rule covers (a narrowing, a type swapped for
    /// another, an enum changed).
    #[error("field `{field}` changes from {old} to {new}, which no derived rule covers: use a hand-written transform")]
    NotDerivable {
        /// The field, by its new name.
        field: String,
        /// Its old type.
        old: String,
        /// Its new type.
        new: String,
    },
    /// A declared default that is not for a new field, or whose literal does not encode as the
    /// field's type.
    #[error("default of field `{field}`: {message}")]
    BadDefault {
        /// The field named by the default.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A declared rename whose names are not a field of the new layout and a field of the old
    /// one that the new layout does not also have.
    #[error("rename of `{new}` from `{old}`: {reason}")]
    BadRename {
        /// The new field name.
        new: String,
        /// The old field name.
        old: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A resource's bytes did not match the old layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {offset})")]
pub struct TranscodeError {
    /// Offset in the old bytes where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl From<bcs::Error> for TranscodeError {
    #[cold]
    fn from(e: bcs::Error) -> TranscodeError {
        TranscodeError { offset: e.offset(), message: e.message() }
    }
}

/// How to find the end of a value of some layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skipper {
    /// `n` bytes, whatever they hold.
    Fixed(usize),
    /// One byte that must be 0 or 1. Not merged into `Fixed` runs: a span is only copied or
    /// skipped once its bools are checked, so that bytes the old layout does not decode are an
    /// error rather than copied into the new resource.
    Bool,
    /// A ULEB128 length, then that many elements.
    Vector(Box<Skipper>),
    /// Consecutive values.
    Seq(Vec<Skipper>),
    /// A ULEB128 variant index, then that variant's fields.
    Enum(Vec<Skipper>),
}

impl Skipper {
    /// Whether `input` is exactly one value of the skipper's layout: what [`crate::decode`]
    /// accepts, without building the value (call it for the reason when this says no).
    pub fn accepts(&self, input: &[u8]) -> bool {
        let mut r = Reader::new(input);
        self.skip(&mut r, 0).is_ok() && r.is_empty()
    }

    /// The skipper of a layout, with adjacent fixed-size parts merged.
    pub fn of(layout: &Layout) -> Skipper {
        match layout {
            Layout::Bool => Skipper::Bool,
            Layout::U8 => Skipper::Fixed(1),
            Layout::U16 => Skipper::Fixed(2),
            Layout::U32 => Skipper::Fixed(4),
            Layout::U64 => Skipper::Fixed(8),
            Layout::U128 => Skipper::Fixed(16),
            Layout::U256 => Skipper::Fixed(32),
            Layout::Address(len) | Layout::Signer(len) => Skipper::Fixed(len.bytes()),
            Layout::Vector(e) => Skipper::Vector(Box::new(Skipper::of(e))),
            Layout::Struct(s) => Skipper::seq(s.fields.iter().map(|f| Skipper::of(&f.layout))),
            Layout::Enum(e) => Skipper::Enum(
                e.variants.iter().map(|v| Skipper::seq(v.fields.iter().map(|f| Skipper::of(&f.layout)))).collect(),
            ),
        }
    }

    /// A sequence with adjacent fixed parts merged; a single fixed part stays `Fixed`.
    fn seq(parts: impl Iterator<Item = Skipper>) -> Skipper {
        let mut out: Vec<Skipper> = Vec::new();
        for p in parts {
            match (out.last_mut(), p) {
                (Some(Skipper::Fixed(a)), Skipper::Fixed(b)) => *a += b,
                (_, Skipper::Seq(inner)) => out.extend(inner),
                (_, p) => out.push(p),
            }
        }
        match out.as_slice() {
            [] => Skipper::Fixed(0),
            [Skipper::Fixed(n)] => Skipper::Fixed(*n),
            _ => Skipper::Seq(out),
        }
    }

    /// [`Skipper::skip`], with the flat shapes (a fixed run, a vector of fixed-size elements)
    /// passed over here, without a call: the shapes most copied values have.
    #[inline]
    fn skip_flat(&self, r: &mut Reader<'_>, depth: usize) -> Result<(), bcs::Error> {
        if depth > MAX_LAYOUT_DEPTH {
            // Refused there, as every value this deep is.
            return self.skip(r, depth);
        }
        match self {
            Skipper::Fixed(n) => r.skip(*n, "a value"),
            Skipper::Vector(e) => match **e {
                Skipper::Fixed(n) => {
                    let len = r.sequence(n.max(1), "a vector length")?;
                    r.skip(len.saturating_mul(n), "a vector")
                }
                _ => self.skip(r, depth),
            },
            _ => self.skip(r, depth),
        }
    }

    /// Passes over one value. Vector lengths are checked as [`crate::decode`] checks them: at
    /// most BCS's sequence limit, and no more elements than the bytes left can hold.
    fn skip(&self, r: &mut Reader<'_>, depth: usize) -> Result<(), bcs::Error> {
        if depth > MAX_LAYOUT_DEPTH {
            return Err(r.fail(bcs::ErrorKind::TooDeep { limit: MAX_LAYOUT_DEPTH }, "a value"));
        }
        match self {
            Skipper::Fixed(n) => r.skip(*n, "a value"),
            Skipper::Bool => r.bool("a bool").map(drop),
            Skipper::Vector(e) => match **e {
                Skipper::Fixed(n) => {
                    let len = r.sequence(n.max(1), "a vector length")?;
                    r.skip(len.saturating_mul(n), "a vector")
                }
                Skipper::Bool => {
                    let len = r.sequence(1, "a vector length")?;
                    r.bools(len, "a vector of bools").map(drop)
                }
                ref e => {
                    for _ in 0..r.sequence(1, "a vector length")? {
                        e.skip(r, depth + 1)?;
                    }
                    Ok(())
                }
            },
            Skipper::Seq(parts) => parts.iter().try_for_each(|s| s.skip(r, depth + 1)),
            Skipper::Enum(variants) => {
                let (_, v) = r.variant_in(variants, "a variant index")?;
                v.skip(r, depth + 1)
            }
        }
    }
}

/// How one old value becomes one new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValuePlan {
    /// Same layout: copy the value's bytes.
    Copy(Skipper),
    /// Unsigned integer widened: copy `from` bytes, append zeros up to `to` (little endian).
    Widen {
        /// Bytes of the old integer (1, 2, 4, 8 or 16).
        from: usize,
        /// Bytes of the new integer, more than `from`.
        to: usize,
    },
    /// A vector whose elements change.
    Vector(Box<ValuePlan>),
    /// A nested struct whose layout changes (same name, fields matched by name).
    Struct(Box<StructPlan>),
}

/// One step of a struct plan that keeps field order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Copy `n` bytes.
    Copy(usize),
    /// Skip `n` bytes (removed fixed-size fields).
    Skip(usize),
    /// Skip one value (a removed variable-size field).
    SkipValue(Skipper),
    /// Write constant bytes (a new field's declared default).
    Insert(Vec<u8>),
    /// Transform one value.
    Value(ValuePlan),
}

/// How an old struct value becomes a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructPlan {
    /// Fields keep their relative order: one pass.
    Stream(Vec<Op>),
    /// Fields are reordered: find every old field's span, then emit in the new order.
    Reorder {
        /// How to find the end of each old field, in old order.
        old_fields: Vec<Skipper>,
        /// What to write for each new field, in new order.
        emit: Vec<Emit>,
    },
}

/// What a reordering plan writes for one new field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emit {
    /// An old field's value, transformed.
    Field {
        /// The old field's position.
        index: usize,
        /// How its value becomes the new one.
        plan: ValuePlan,
    },
    /// Constant bytes (a new field's declared default).
    Insert(Vec<u8>),
}

fn fixed_size(layout: &Layout) -> Option<usize> {
    match Skipper::of(layout) {
        Skipper::Fixed(n) => Some(n),
        _ => None,
    }
}

fn int_width(l: &Layout) -> Option<usize> {
    Some(match l {
        Layout::U8 => 1,
        Layout::U16 => 2,
        Layout::U32 => 4,
        Layout::U64 => 8,
        Layout::U128 => 16,
        Layout::U256 => 32,
        _ => return None,
    })
}

/// Relates an old and a new layout (for the shared field mapping).
fn relate_layouts(old: &Layout, new: &Layout) -> Relation {
    if old == new {
        return Relation::Same;
    }
    match (old, new) {
        (Layout::Vector(a), Layout::Vector(b)) => relate_layouts(a, b),
        (Layout::Struct(a), Layout::Struct(b)) if a.name == b.name => {
            Relation::Repointed { derivable: compile_struct(a, b, &BTreeMap::new(), &BTreeMap::new()).is_ok() }
        }
        _ => match (int_width(old), int_width(new)) {
            (Some(a), Some(b)) if a < b => Relation::Widened,
            _ => Relation::Different,
        },
    }
}

fn value_plan(field: &str, old: &Layout, new: &Layout) -> Result<ValuePlan, PlanError> {
    if old == new {
        return Ok(ValuePlan::Copy(Skipper::of(old)));
    }
    match (old, new) {
        (Layout::Vector(a), Layout::Vector(b)) => Ok(ValuePlan::Vector(Box::new(value_plan(field, a, b)?))),
        (Layout::Struct(a), Layout::Struct(b)) if a.name == b.name => {
            Ok(ValuePlan::Struct(Box::new(compile_struct(a, b, &BTreeMap::new(), &BTreeMap::new())?)))
        }
        _ => match (int_width(old), int_width(new)) {
            (Some(from), Some(to)) if from < to => Ok(ValuePlan::Widen { from, to }),
            _ => Err(PlanError::NotDerivable { field: field.to_owned(), old: describe(old), new: describe(new) }),
        },
    }
}

fn describe(l: &Layout) -> String {
    match l {
        Layout::Struct(s) => format!("{}::{}", s.module, s.name),
        Layout::Enum(e) => format!("enum {}::{}", e.module, e.name),
        Layout::Vector(e) => format!("vector<{}>", describe(e)),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Compiles the plan from `old` to `new`. `renames` maps new field names to old ones; `defaults`
/// gives the BCS bytes of fields the new layout adds.
pub fn compile_struct(
    old: &StructLayout,
    new: &StructLayout,
    renames: &BTreeMap<String, String>,
    defaults: &BTreeMap<String, Vec<u8>>,
) -> Result<StructPlan, PlanError> {
    let mapping = map_fields(&old.fields, &new.fields, renames, Renames::DeclaredOnly, &mut |a, b| {
        relate_layouts(&a.layout, &b.layout)
    });
    let mut emits = Vec::with_capacity(new.fields.len());
    for (nf, source) in new.fields.iter().zip(&mapping.sources) {
        emits.push(match source {
            FieldSource::Added => Emit::Insert(
                defaults.get(&nf.name).cloned().ok_or_else(|| PlanError::MissingDefault { field: nf.name.clone() })?,
            ),
            FieldSource::Old { index, .. } => {
                let of = old.fields.get(*index).ok_or_else(|| PlanError::MissingDefault { field: nf.name.clone() })?;
                Emit::Field { index: *index, plan: value_plan(&nf.name, &of.layout, &nf.layout)? }
            }
        });
    }
    if !mapping.reordered.is_empty() {
        return Ok(StructPlan::Reorder {
            old_fields: old.fields.iter().map(|f| Skipper::of(&f.layout)).collect(),
            emit: emits,
        });
    }
    // In order: walk the old fields once, skipping the removed ones between used ones.
    let mut ops: Vec<Op> = Vec::new();
    let push = |ops: &mut Vec<Op>, op: Op| match (ops.last_mut(), op) {
        (Some(Op::Copy(a)), Op::Copy(b)) => *a += b,
        (Some(Op::Skip(a)), Op::Skip(b)) => *a += b,
        (Some(Op::Insert(a)), Op::Insert(b)) => a.extend(b),
        (_, op) => ops.push(op),
    };
    let skip_old = |ops: &mut Vec<Op>, f: &FieldLayout| match fixed_size(&f.layout) {
        Some(n) => push(ops, Op::Skip(n)),
        None => push(ops, Op::SkipValue(Skipper::of(&f.layout))),
    };
    let mut next_old = 0usize;
    for e in emits {
        match e {
            Emit::Insert(bytes) => push(&mut ops, Op::Insert(bytes)),
            Emit::Field { index, plan } => {
                for f in old.fields.iter().take(index).skip(next_old) {
                    skip_old(&mut ops, f);
                }
                next_old = index + 1;
                match plan {
                    ValuePlan::Copy(Skipper::Fixed(n)) => push(&mut ops, Op::Copy(n)),
                    plan => push(&mut ops, Op::Value(plan)),
                }
            }
        }
    }
    for f in old.fields.iter().skip(next_old) {
        skip_old(&mut ops, f);
    }
    Ok(StructPlan::Stream(ops))
}

/// A derived transform for one stored struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedPlan {
    /// The plan of the stored struct itself.
    pub root: StructPlan,
}

impl DerivedPlan {
    /// Compiles the plan from `old` to `new` (see [`compile_struct`]): renames map new field
    /// names to old ones, defaults give the BCS bytes of each field the new layout adds.
    pub fn compile(
        old: &StructLayout,
        new: &StructLayout,
        renames: &BTreeMap<String, String>,
        defaults: &BTreeMap<String, Vec<u8>>,
    ) -> Result<DerivedPlan, PlanError> {
        Ok(DerivedPlan { root: compile_struct(old, new, renames, defaults)? })
    }

    /// Transcodes one resource, appending the new bytes to `out`. The input must be exactly one
    /// value of the old layout; on error `out` is left as it was.
    pub fn transcode(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), TranscodeError> {
        let start = out.len();
        let mut r = Reader::new(input);
        let result = run_struct(&self.root, &mut r, out, 0).and_then(|()| r.finish("the value"));
        result.map_err(|e| {
            out.truncate(start);
            TranscodeError::from(e)
        })
    }
}

fn run_value(plan: &ValuePlan, r: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), bcs::Error> {
    match plan {
        ValuePlan::Copy(s) => {
            let start = r.position();
            s.skip_flat(r, depth)?;
            out.extend_from_slice(r.since(start));
        }
        ValuePlan::Widen { from, to } => {
            out.extend_from_slice(r.bytes(*from, "an integer")?);
            out.resize(out.len() + (to - from), 0);
        }
        ValuePlan::Vector(elem) => {
            let start = r.position();
            let len = r.sequence(1, "a vector length")?;
            out.extend_from_slice(r.since(start));
            for _ in 0..len {
                run_value(elem, r, out, depth + 1)?;
            }
        }
        ValuePlan::Struct(s) => run_struct(s, r, out, depth + 1)?,
    }
    Ok(())
}

fn run_struct(plan: &StructPlan, r: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), bcs::Error> {
    if depth > MAX_LAYOUT_DEPTH {
        return Err(r.fail(bcs::ErrorKind::TooDeep { limit: MAX_LAYOUT_DEPTH }, "a value"));
    }
    match plan {
        StructPlan::Stream(ops) => {
            for op in ops {
                match op {
                    Op::Copy(n) => out.extend_from_slice(r.bytes(*n, "a field")?),
                    Op::Skip(n) => r.skip(*n, "a removed field")?,
                    Op::SkipValue(s) => s.skip_flat(r, depth)?,
                    Op::Insert(bytes) => out.extend_from_slice(bytes),
                    Op::Value(v) => run_value(v, r, out, depth)?,
                }
            }
        }
        StructPlan::Reorder { old_fields, emit } => {
            let mut spans = Vec::with_capacity(old_fields.len());
            for s in old_fields {
                spans.push(r.position());
                s.skip_flat(r, depth)?;
            }
            for e in emit {
                match e {
                    Emit::Insert(bytes) => out.extend_from_slice(bytes),
                    Emit::Field { index, plan } => {
                        let Some(&start) = spans.get(*index) else {
                            let kind =
                                bcs::ErrorKind::UnknownVariant { index: *index as u64, count: spans.len() as u64 };
                            return Err(r.fail(kind, "the plan's old field"));
                        };
                        run_value(plan, &mut r.at(start), out, depth)?;
                    }
                }
            }
        }
    }
    Ok(())
}
