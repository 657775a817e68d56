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

use crate::layout::{FieldLayout, Layout, StructLayout};
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
        self.skip(input, 0, 0).is_ok_and(|end| end == input.len())
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

    /// The position after one value starting at `pos`.
    fn skip(&self, input: &[u8], pos: usize, depth: usize) -> Result<usize, TranscodeError> {
        if depth > crate::layout::MAX_LAYOUT_DEPTH {
            return Err(TranscodeError { offset: pos, message: "value nests too deep".to_owned() });
        }
        match self {
            Skipper::Fixed(n) => end(input, pos, *n),
            Skipper::Bool => bools(input, pos, 1),
            Skipper::Vector(e) => {
                let (len, mut p) = uleb(input, pos)?;
                match **e {
                    Skipper::Fixed(n) => {
                        let bytes = usize::try_from(len).ok().and_then(|l| l.checked_mul(n));
                        return bytes.map_or_else(|| Err(eof(pos)), |b| end(input, p, b));
                    }
                    Skipper::Bool => {
                        return usize::try_from(len).map_or_else(|_| Err(eof(pos)), |l| bools(input, p, l))
                    }
                    _ => {}
                }
                // Each element takes at least one byte unless it is empty: bound the loop by
                // the input, so a hostile length cannot make us spin.
                if len > (input.len() - p) as u64 && *e.as_ref() != Skipper::Fixed(0) {
                    return Err(eof(pos));
                }
                for _ in 0..len {
                    p = e.skip(input, p, depth + 1)?;
                }
                Ok(p)
            }
            Skipper::Seq(parts) => parts.iter().try_fold(pos, |p, s| s.skip(input, p, depth + 1)),
            Skipper::Enum(variants) => {
                let (tag, p) = uleb(input, pos)?;
                let v = usize::try_from(tag).ok().and_then(|t| variants.get(t)).ok_or_else(|| TranscodeError {
                    offset: pos,
                    message: format!("variant {tag} does not exist ({} variants)", variants.len()),
                })?;
                v.skip(input, p, depth + 1)
            }
        }
    }
}

/// The position after `n` bools starting at `pos`, each checked to be 0 or 1.
fn bools(input: &[u8], pos: usize, n: usize) -> Result<usize, TranscodeError> {
    let e = end(input, pos, n)?;
    match input.get(pos..e).and_then(|bytes| bytes.iter().position(|&b| b > 1)) {
        None => Ok(e),
        Some(i) => Err(TranscodeError {
            offset: pos + i,
            message: format!("{:#04x} is not a bool", input.get(pos + i).copied().unwrap_or_default()),
        }),
    }
}

fn eof(offset: usize) -> TranscodeError {
    TranscodeError { offset, message: "the bytes end inside a value".to_owned() }
}

fn end(input: &[u8], pos: usize, n: usize) -> Result<usize, TranscodeError> {
    pos.checked_add(n).filter(|&e| e <= input.len()).ok_or_else(|| eof(pos))
}

/// A canonical ULEB128 u32 (BCS lengths and tags), and the position after it.
fn uleb(input: &[u8], pos: usize) -> Result<(u64, usize), TranscodeError> {
    let mut value: u64 = 0;
    for i in 0..5 {
        let b = *input.get(pos + i).ok_or_else(|| eof(pos))?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if i > 0 && b == 0 || value > u64::from(u32::MAX) {
                return Err(TranscodeError { offset: pos, message: "non-canonical ULEB128 length".to_owned() });
            }
            return Ok((value, pos + i + 1));
        }
    }
    Err(TranscodeError { offset: pos, message: "ULEB128 length too long".to_owned() })
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
        let result = run_struct(&self.root, input, 0, out, 0).and_then(|pos| {
            if pos == input.len() {
                Ok(())
            } else {
                Err(TranscodeError { offset: pos, message: format!("{} bytes after the value", input.len() - pos) })
            }
        });
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

fn slice(input: &[u8], from: usize, to: usize) -> Result<&[u8], TranscodeError> {
    input.get(from..to).ok_or_else(|| eof(from))
}

fn run_value(
    plan: &ValuePlan,
    input: &[u8],
    pos: usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<usize, TranscodeError> {
    match plan {
        ValuePlan::Copy(s) => {
            let e = s.skip(input, pos, depth)?;
            out.extend_from_slice(slice(input, pos, e)?);
            Ok(e)
        }
        ValuePlan::Widen { from, to } => {
            let e = end(input, pos, *from)?;
            out.extend_from_slice(slice(input, pos, e)?);
            out.resize(out.len() + (to - from), 0);
            Ok(e)
        }
        ValuePlan::Vector(elem) => {
            let (len, mut p) = uleb(input, pos)?;
            if len > (input.len() - p) as u64 {
                return Err(eof(pos));
            }
            out.extend_from_slice(slice(input, pos, p)?);
            for _ in 0..len {
                p = run_value(elem, input, p, out, depth + 1)?;
            }
            Ok(p)
        }
        ValuePlan::Struct(s) => run_struct(s, input, pos, out, depth + 1),
    }
}

fn run_struct(
    plan: &StructPlan,
    input: &[u8],
    mut pos: usize,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<usize, TranscodeError> {
    if depth > crate::layout::MAX_LAYOUT_DEPTH {
        return Err(TranscodeError { offset: pos, message: "value nests too deep".to_owned() });
    }
    match plan {
        StructPlan::Stream(ops) => {
            for op in ops {
                pos = match op {
                    Op::Copy(n) => {
                        let e = end(input, pos, *n)?;
                        out.extend_from_slice(slice(input, pos, e)?);
                        e
                    }
                    Op::Skip(n) => end(input, pos, *n)?,
                    Op::SkipValue(s) => s.skip(input, pos, depth)?,
                    Op::Insert(bytes) => {
                        out.extend_from_slice(bytes);
                        pos
                    }
                    Op::Value(v) => run_value(v, input, pos, out, depth)?,
                };
            }
            Ok(pos)
        }
        StructPlan::Reorder { old_fields, emit } => {
            let mut spans = Vec::with_capacity(old_fields.len());
            for s in old_fields {
                let e = s.skip(input, pos, depth)?;
                spans.push(pos);
                pos = e;
            }
            for e in emit {
                match e {
                    Emit::Insert(bytes) => out.extend_from_slice(bytes),
                    Emit::Field { index, plan } => {
                        let start = *spans.get(*index).ok_or_else(|| eof(pos))?;
                        run_value(plan, input, start, out, depth)?;
                    }
                }
            }
            Ok(pos)
        }
    }
}
