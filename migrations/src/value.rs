//! Stored values: BCS bytes decoded with a [`Layout`] into a [`Value`] tree, and encoded back.
//!
//! Our own `Value` rather than `move-core-types`' `MoveValue`, because in 0.0.3 `MoveValue` has
//! no `u16`, `u32`, `u256` and no enums, and its decoder reports neither the byte offset nor the
//! field where stored bytes went wrong. Conversions to and from `MoveValue` exist where the value
//! is representable: the benchmark baseline ("decode into `MoveValue`, change, encode") and the
//! property tests run through `move-core-types` itself.
//!
//! Stored bytes are untrusted: a truncated, corrupt or over-long resource is a [`DecodeError`]
//! with the byte offset and the field path (`Stake.locked.value`), never a panic. The bytes are
//! read with [`binary_format::bcs::Reader`]: a vector's length is checked against the bytes left
//! before anything is allocated for it, ULEB128 lengths must be canonical (as BCS requires: one
//! encoding per value), and nesting is bounded.
//!
//! A `vector<u8>` decodes to [`Value::Bytes`], one byte of memory per byte of input; any other
//! vector is a [`Value::Vector`] of values (48 bytes each). [`decode_within`] bounds what a
//! decoded value may take in memory, so that a resource from untrusted state is refused before
//! it is allocated rather than exhausting the machine.

use crate::layout::{FieldLayout, Layout, MAX_LAYOUT_DEPTH};
use crate::u256::U256;
use binary_format::bcs::{self, Reader};
use binary_format::{Address, AddressLength};
use std::fmt;
use std::mem::size_of;

/// Longest sequence BCS allows (2^31 - 1), for vector lengths.
pub use binary_format::limits::MAX_SEQUENCE_LENGTH;

/// A decoded value. Struct fields and enum variants are positional: their names live in the
/// layout, so that a vector of a million structs does not hold a million copies of each name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A `bool`.
    Bool(bool),
    /// A `u8`.
    U8(u8),
    /// A `u16`.
    U16(u16),
    /// A `u32`.
    U32(u32),
    /// A `u64`.
    U64(u64),
    /// A `u128`.
    U128(u128),
    /// A `u256`.
    U256(U256),
    /// An address, as a number: its width is the layout's, checked when encoded.
    Address(Address),
    /// A signer, held as its address.
    Signer(Address),
    /// A `vector<u8>`, as its bytes: what [`decode`] gives for that layout (a `Vector` of `U8`
    /// values would take 48 bytes of memory per byte). [`encode`] takes either form.
    Bytes(Vec<u8>),
    /// A vector's elements (of any element type but `u8`, when decoded).
    Vector(Vec<Value>),
    /// A struct's fields, in layout order.
    Struct(Vec<Value>),
    /// An enum value: the variant's index in declaration order, and its fields.
    Variant {
        /// The variant's index in the layout's `variants`.
        index: u32,
        /// The variant's fields, in layout order.
        fields: Vec<Value>,
    },
}

impl Value {
    /// What kind of value this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::U8(_) => "u8",
            Value::U16(_) => "u16",
            Value::U32(_) => "u32",
            Value::U64(_) => "u64",
            Value::U128(_) => "u128",
            Value::U256(_) => "u256",
            Value::Address(_) => "address",
            Value::Signer(_) => "signer",
            Value::Bytes(_) => "vector<u8>",
            Value::Vector(_) => "vector",
            Value::Struct(_) => "struct",
            Value::Variant { .. } => "enum",
        }
    }

    /// The fields of a struct or enum value.
    pub fn fields(&self) -> Option<&[Value]> {
        match self {
            Value::Struct(fields) | Value::Variant { fields, .. } => Some(fields),
            _ => None,
        }
    }

    /// The fields of a struct or enum value, to change in place (a handler's edit).
    pub fn fields_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Struct(fields) | Value::Variant { fields, .. } => Some(fields),
            _ => None,
        }
    }

    /// The number, if this is a `u64` (no conversion from other widths).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(n) => Some(*n),
            _ => None,
        }
    }

    /// The number, if this is a `u128` (no conversion from other widths).
    pub fn as_u128(&self) -> Option<u128> {
        match self {
            Value::U128(n) => Some(*n),
            _ => None,
        }
    }

    /// The bytes, if this is a byte vector ([`Value::Bytes`]).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// Bytes of memory the value takes as [`decode`] builds it: the value itself and every
    /// vector it owns (their lengths, which is what decoding allocates). What
    /// [`decode_within`]'s budget is measured in.
    pub fn footprint(&self) -> usize {
        size_of::<Value>().saturating_add(self.owned())
    }

    /// Heap bytes the value owns.
    fn owned(&self) -> usize {
        match self {
            Value::Bytes(bytes) => bytes.len(),
            Value::Vector(items) | Value::Struct(items) | Value::Variant { fields: items, .. } => items
                .iter()
                .map(Value::owned)
                .fold(items.len().saturating_mul(size_of::<Value>()), usize::saturating_add),
            _ => 0,
        }
    }
}

/// One step of a path into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A struct (the root) or a field, by name.
    Field(String),
    /// An element of a vector.
    Index(u64),
    /// The variant of an enum.
    Variant(String),
}

/// Where in a value something happened: `Stake.locked.value`, `Vouch.my_buddies[3]`,
/// `Status.entry::Active.since`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<Segment>);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Field(name) if i == 0 => f.write_str(name)?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Variant(name) => write!(f, "::{name}")?,
            }
        }
        Ok(())
    }
}

fn in_path(path: &FieldPath) -> String {
    if path.0.is_empty() {
        String::new()
    } else {
        format!(" in {path}")
    }
}

/// Stored bytes that do not decode with the layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}{}: {kind}", in_path(.path))]
pub struct DecodeError {
    /// Offset in the input where the problem was found.
    pub offset: usize,
    /// The value being read; empty at the top level.
    pub path: FieldPath,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

/// What was wrong with stored bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The bytes end inside a value (truncated).
    #[error("{needed} bytes needed, {remaining} left")]
    UnexpectedEnd {
        /// Bytes the value needs.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A bool byte other than 0 or 1.
    #[error("{0:#04x} is not a bool")]
    InvalidBool(u8),
    /// A length or variant index with a redundant trailing zero byte.
    #[error("ULEB128 is not canonical (a value has one encoding in BCS)")]
    NonCanonicalUleb128,
    /// A length or variant index over 32 bits.
    #[error("ULEB128 value does not fit in 32 bits")]
    Uleb128Overflow,
    /// A vector length over [`MAX_SEQUENCE_LENGTH`].
    #[error("vector length {length} is larger than BCS allows ({MAX_SEQUENCE_LENGTH})")]
    SequenceTooLong {
        /// The length read.
        length: u64,
    },
    /// A vector length the remaining bytes cannot hold: refused before allocating.
    #[error(
        "vector of {length} elements of at least {min_size} bytes each does not fit in the {remaining} bytes left"
    )]
    LengthTooLarge {
        /// The length read.
        length: u64,
        /// Fewest bytes one element takes.
        min_size: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A variant index the enum does not have.
    #[error("variant {index} of an enum with {count} variants")]
    VariantOutOfRange {
        /// The index read.
        index: u32,
        /// The enum's variants.
        count: usize,
    },
    /// Bytes after one whole value: the resource is not of this layout.
    #[error("{count} bytes left after the value")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// Nesting deeper than [`MAX_LAYOUT_DEPTH`].
    #[error("value nests deeper than {limit}")]
    TooDeep {
        /// The bound.
        limit: usize,
    },
    /// The decoded value would take more memory than [`decode_within`]'s budget: refused
    /// before the vector or struct that would pass it is allocated.
    #[error("the value needs {needed} more bytes of memory, over the {left} left of its budget")]
    OverBudget {
        /// Bytes of memory the vector or struct needs.
        needed: usize,
        /// Bytes left of the budget.
        left: usize,
    },
    /// A reader error of a kind no read of this decoder produces (kept rather than lost).
    #[error("{0}")]
    Other(String),
}

/// A reader error as a decode error, at the same offset, with an empty path (each level of the
/// value adds its segment while the error unwinds).
impl From<bcs::Error> for Failed<DecodeError> {
    #[cold]
    fn from(e: bcs::Error) -> Failed<DecodeError> {
        use bcs::ErrorKind as Read;
        let kind = match e.kind() {
            Read::UnexpectedEnd { needed, remaining } => DecodeErrorKind::UnexpectedEnd { needed, remaining },
            Read::InvalidBool(b) => DecodeErrorKind::InvalidBool(b),
            Read::NonCanonical => DecodeErrorKind::NonCanonicalUleb128,
            // A length that fits BCS's 32 bits but is over its sequence limit.
            Read::OverLimit { value: Some(length), .. } if length <= u64::from(u32::MAX) => {
                DecodeErrorKind::SequenceTooLong { length }
            }
            Read::OverLimit { .. } | Read::TooLarge { .. } => DecodeErrorKind::Uleb128Overflow,
            Read::CountTooLarge { count, min_size, remaining } => {
                DecodeErrorKind::LengthTooLarge { length: count, min_size, remaining }
            }
            Read::UnknownVariant { index, count } => DecodeErrorKind::VariantOutOfRange {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                count: usize::try_from(count).unwrap_or(usize::MAX),
            },
            Read::TooDeep { limit } => DecodeErrorKind::TooDeep { limit },
            Read::OverBudget { needed, left } => DecodeErrorKind::OverBudget { needed, left },
            Read::TrailingBytes { count } => DecodeErrorKind::TrailingBytes { count },
            Read::NotUtf8 | Read::WrongLength { .. } => DecodeErrorKind::Other(e.message()),
        };
        Box::new(DecodeError { offset: e.offset(), path: FieldPath::default(), kind })
    }
}

/// A value that does not fit the layout it is encoded with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode{}: {kind}", in_path(.path))]
pub struct EncodeError {
    /// Where in the value; empty at the top level.
    pub path: FieldPath,
    /// What did not fit.
    pub kind: EncodeErrorKind,
}

/// How a value did not fit its layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeErrorKind {
    /// A value of another kind than the layout's (a `u32` where it has `u64`).
    #[error("{found} value where the layout has {expected}")]
    Mismatch {
        /// The layout's kind.
        expected: &'static str,
        /// The value's kind.
        found: &'static str,
    },
    /// A struct or variant with another number of fields than the layout's.
    #[error("{found} fields where the layout has {expected}")]
    FieldCount {
        /// Fields in the layout.
        expected: usize,
        /// Fields in the value.
        found: usize,
    },
    /// A variant index the enum does not have.
    #[error("variant {index} of an enum with {count} variants")]
    VariantOutOfRange {
        /// The value's index.
        index: u32,
        /// The enum's variants.
        count: usize,
    },
    /// An address too large for the layout's width (never truncated).
    #[error("address {address} does not fit in {length} bytes")]
    AddressTooLong {
        /// The value.
        address: Address,
        /// The layout's width.
        length: AddressLength,
    },
    /// A vector longer than [`MAX_SEQUENCE_LENGTH`].
    #[error("vector of {length} elements is longer than BCS allows ({MAX_SEQUENCE_LENGTH})")]
    SequenceTooLong {
        /// Its length.
        length: usize,
    },
    /// Nesting deeper than [`MAX_LAYOUT_DEPTH`].
    #[error("value nests deeper than {limit}")]
    TooDeep {
        /// The bound.
        limit: usize,
    },
}

fn layout_kind(layout: &Layout) -> &'static str {
    match layout {
        Layout::Bool => "bool",
        Layout::U8 => "u8",
        Layout::U16 => "u16",
        Layout::U32 => "u32",
        Layout::U64 => "u64",
        Layout::U128 => "u128",
        Layout::U256 => "u256",
        Layout::Address(_) => "address",
        Layout::Signer(_) => "signer",
        Layout::Vector(_) => "vector",
        Layout::Struct(_) => "struct",
        Layout::Enum(_) => "enum",
    }
}

/// The path a decode or encode error starts from: the root struct's or enum's name.
fn root_segment(layout: &Layout) -> Option<Segment> {
    match layout {
        Layout::Struct(s) => Some(Segment::Field(s.name.clone())),
        Layout::Enum(e) => Some(Segment::Field(e.name.clone())),
        _ => None,
    }
}

/// Decodes all of `bytes` with `layout`; bytes left over are an error. The value may take up to
/// [`size_of::<Value>()`] bytes of memory per byte of input (a `vector<bool>`): for bytes from
/// untrusted state, bound it with [`decode_within`].
pub fn decode(bytes: &[u8], layout: &Layout) -> Result<Value, DecodeError> {
    decode_within(bytes, layout, usize::MAX)
}

/// Decodes all of `bytes` with `layout`, the value taking at most `budget` bytes of memory (as
/// [`Value::footprint`] counts them). Each vector and struct is charged before it is allocated,
/// so a value over budget is a [`DecodeErrorKind::OverBudget`] at the offset of the vector or
/// struct that would pass it, never an allocation failure.
pub fn decode_within(bytes: &[u8], layout: &Layout, budget: usize) -> Result<Value, DecodeError> {
    let mut r = Reader::new(bytes).with_budget(budget);
    let value = r
        .charge(size_of::<Value>(), "the value")
        .map_err(Failed::from)
        .and_then(|()| value(&mut r, layout, 1))
        .map_err(|mut e| {
            e.path.0.extend(root_segment(layout));
            e.path.0.reverse();
            *e
        })?;
    r.finish("the value").map_err(|e| *Failed::from(e))?;
    Ok(value)
}

/// Encodes `value` with `layout`.
pub fn encode(value: &Value, layout: &Layout) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(layout.min_size());
    encode_into(value, layout, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `value` to `out`. On error, `out` may hold part of the encoding.
pub fn encode_into(value: &Value, layout: &Layout, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write_value(value, layout, out, 1).map_err(|mut e| {
        e.path.0.extend(root_segment(layout));
        e.path.0.reverse();
        *e
    })
}

/// Appends the canonical ULEB128 encoding of `n` (a BCS length or variant index).
pub fn write_uleb128(out: &mut Vec<u8>, n: u32) {
    binary_format::write_uleb(out, u64::from(n));
}

/// Errors travel boxed inside the decoder and encoder: a `Result` the size of a `Value` is
/// cheaper to return on the path that succeeds, which is the one that matters.
type Failed<E> = Box<E>;

/// Errors are built where they happen with an empty path; each level adds its segment while
/// unwinding (so the path is built reversed, and only on the error path).
fn within(segment: impl FnOnce() -> Segment) -> impl FnOnce(Failed<DecodeError>) -> Failed<DecodeError> {
    move |mut e| {
        e.path.0.push(segment());
        e
    }
}

/// One value: primitives here, inline; vectors, structs and enums in [`composite`], the only
/// place that recurses (and so the only one that checks depth).
#[inline(always)]
fn value(r: &mut Reader<'_>, layout: &Layout, depth: usize) -> Result<Value, Failed<DecodeError>> {
    Ok(match layout {
        Layout::Bool => Value::Bool(r.bool("a bool")?),
        Layout::U8 => Value::U8(r.u8("a u8")?),
        Layout::U16 => Value::U16(r.u16("a u16")?),
        Layout::U32 => Value::U32(r.u32("a u32")?),
        Layout::U64 => Value::U64(r.u64("a u64")?),
        Layout::U128 => Value::U128(r.u128("a u128")?),
        Layout::U256 => Value::U256(U256::from_le_bytes(r.u256("a u256")?)),
        Layout::Address(len) => Value::Address(r.address(*len, "an address")?),
        Layout::Signer(len) => Value::Signer(r.address(*len, "a signer")?),
        Layout::Vector(_) | Layout::Struct(_) | Layout::Enum(_) => return composite(r, layout, depth),
    })
}

fn composite(r: &mut Reader<'_>, layout: &Layout, depth: usize) -> Result<Value, Failed<DecodeError>> {
    if depth > MAX_LAYOUT_DEPTH {
        return Err(r.fail(bcs::ErrorKind::TooDeep { limit: MAX_LAYOUT_DEPTH }, "a value").into());
    }
    Ok(match layout {
        Layout::Vector(element) => vector(r, element, depth)?,
        Layout::Struct(s) => Value::Struct(fields(r, &s.fields, depth)?),
        Layout::Enum(e) => {
            let (index, variant) = r.variant_in(&e.variants, "a variant index")?;
            let fields =
                fields(r, &variant.fields, depth).map_err(within(|| Segment::Variant(variant.name.clone())))?;
            Value::Variant { index, fields }
        }
        primitive => value(r, primitive, depth)?,
    })
}

fn vector(r: &mut Reader<'_>, element: &Layout, depth: usize) -> Result<Value, Failed<DecodeError>> {
    if let Layout::U8 = element {
        // Bytes, the commonest vector: one bounds check, one byte of memory per byte.
        let start = r.position();
        let length = r.sequence(1, "a vector length")?;
        r.charge_for(start, length, "a byte vector")?;
        return Ok(Value::Bytes(r.bytes(length, "a byte vector")?.to_vec()));
    }
    // Every element takes at least one byte here: a struct without fields cannot be declared
    // in Move, so this refuses nothing real and bounds the allocation by the input's size.
    let min_size = element.min_size().max(1);
    let mut i = 0u64;
    let items = r.list(MAX_SEQUENCE_LENGTH, min_size, "a vector length", |r| -> Result<_, Failed<DecodeError>> {
        let item = value(r, element, depth + 1).map_err(within(|| Segment::Index(i)))?;
        i += 1;
        Ok(item)
    })?;
    Ok(Value::Vector(items))
}

fn fields(r: &mut Reader<'_>, fields: &[FieldLayout], depth: usize) -> Result<Vec<Value>, Failed<DecodeError>> {
    r.charge(fields.len().saturating_mul(size_of::<Value>()), "a struct")?;
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        out.push(value(r, &f.layout, depth + 1).map_err(within(|| Segment::Field(f.name.clone())))?);
    }
    Ok(out)
}

fn encode_fail(kind: EncodeErrorKind) -> Failed<EncodeError> {
    Box::new(EncodeError { path: FieldPath::default(), kind })
}

fn encode_within(segment: impl FnOnce() -> Segment) -> impl FnOnce(Failed<EncodeError>) -> Failed<EncodeError> {
    move |mut e| {
        e.path.0.push(segment());
        e
    }
}

fn write_address(out: &mut Vec<u8>, address: &Address, length: AddressLength) -> Result<(), Failed<EncodeError>> {
    let bytes = address
        .to_be_bytes(length)
        .ok_or_else(|| encode_fail(EncodeErrorKind::AddressTooLong { address: *address, length }))?;
    out.extend_from_slice(bytes);
    Ok(())
}

fn write_length(out: &mut Vec<u8>, length: usize) -> Result<(), Failed<EncodeError>> {
    match u32::try_from(length) {
        Ok(n) if u64::from(n) <= MAX_SEQUENCE_LENGTH => {
            write_uleb128(out, n);
            Ok(())
        }
        _ => Err(encode_fail(EncodeErrorKind::SequenceTooLong { length })),
    }
}

fn write_fields(
    values: &[Value],
    fields: &[FieldLayout],
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Failed<EncodeError>> {
    if values.len() != fields.len() {
        return Err(encode_fail(EncodeErrorKind::FieldCount { expected: fields.len(), found: values.len() }));
    }
    for (v, f) in values.iter().zip(fields) {
        write_value(v, &f.layout, out, depth + 1).map_err(encode_within(|| Segment::Field(f.name.clone())))?;
    }
    Ok(())
}

/// One value: primitives here, inline; the rest in [`write_composite`], the only recursion.
#[inline(always)]
fn write_value(value: &Value, layout: &Layout, out: &mut Vec<u8>, depth: usize) -> Result<(), Failed<EncodeError>> {
    match (value, layout) {
        (Value::Bool(b), Layout::Bool) => out.push(u8::from(*b)),
        (Value::U8(n), Layout::U8) => out.push(*n),
        (Value::U16(n), Layout::U16) => out.extend_from_slice(&n.to_le_bytes()),
        (Value::U32(n), Layout::U32) => out.extend_from_slice(&n.to_le_bytes()),
        (Value::U64(n), Layout::U64) => out.extend_from_slice(&n.to_le_bytes()),
        (Value::U128(n), Layout::U128) => out.extend_from_slice(&n.to_le_bytes()),
        (Value::U256(n), Layout::U256) => out.extend_from_slice(n.as_le_bytes()),
        (Value::Address(a), Layout::Address(len)) | (Value::Signer(a), Layout::Signer(len)) => {
            write_address(out, a, *len)?
        }
        _ => write_composite(value, layout, out, depth)?,
    }
    Ok(())
}

fn write_composite(value: &Value, layout: &Layout, out: &mut Vec<u8>, depth: usize) -> Result<(), Failed<EncodeError>> {
    if depth > MAX_LAYOUT_DEPTH {
        return Err(encode_fail(EncodeErrorKind::TooDeep { limit: MAX_LAYOUT_DEPTH }));
    }
    match (value, layout) {
        (Value::Bytes(bytes), Layout::Vector(element)) if **element == Layout::U8 => {
            write_length(out, bytes.len())?;
            out.extend_from_slice(bytes);
        }
        (Value::Vector(items), Layout::Vector(element)) => {
            write_length(out, items.len())?;
            if let Layout::U8 = **element {
                // Bytes built by hand as values (decoding gives `Value::Bytes`).
                out.reserve(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::U8(b) => out.push(*b),
                        other => {
                            let kind = EncodeErrorKind::Mismatch { expected: "u8", found: other.kind() };
                            return Err(encode_within(|| Segment::Index(i as u64))(encode_fail(kind)));
                        }
                    }
                }
                return Ok(());
            }
            for (i, item) in items.iter().enumerate() {
                write_value(item, element, out, depth + 1).map_err(encode_within(|| Segment::Index(i as u64)))?;
            }
        }
        (Value::Struct(values), Layout::Struct(s)) => write_fields(values, &s.fields, out, depth)?,
        (Value::Variant { index, fields }, Layout::Enum(e)) => {
            let variant = e.variants.get(*index as usize).ok_or_else(|| {
                encode_fail(EncodeErrorKind::VariantOutOfRange { index: *index, count: e.variants.len() })
            })?;
            write_uleb128(out, *index);
            write_fields(fields, &variant.fields, out, depth)
                .map_err(encode_within(|| Segment::Variant(variant.name.clone())))?;
        }
        (value, layout) => {
            return Err(encode_fail(EncodeErrorKind::Mismatch { expected: layout_kind(layout), found: value.kind() }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{EnumLayout, StructLayout, VariantLayout};
    use binary_format::ModuleId;

    fn field(name: &str, layout: Layout) -> FieldLayout {
        FieldLayout { name: name.into(), layout }
    }

    fn structure(name: &str, fields: Vec<FieldLayout>) -> Layout {
        Layout::Struct(Box::new(StructLayout { module: ModuleId::parse("0x1::M").unwrap(), name: name.into(), fields }))
    }

    /// `Stake { locked: Coin { value: u64 }, pending: u64, buddies: vector<address> }`.
    fn stake() -> Layout {
        structure(
            "Stake",
            vec![
                field("locked", structure("Coin", vec![field("value", Layout::U64)])),
                field("pending", Layout::U64),
                field("buddies", Layout::Vector(Box::new(Layout::Address(AddressLength::Bytes16)))),
            ],
        )
    }

    fn option_u8() -> Layout {
        Layout::Enum(Box::new(EnumLayout {
            module: ModuleId::parse("0x1::M").unwrap(),
            name: "Option".into(),
            variants: vec![
                VariantLayout { name: "None".into(), fields: vec![] },
                VariantLayout { name: "Some".into(), fields: vec![field("v", Layout::U8)] },
            ],
        }))
    }

    #[test]
    fn truncation_names_offset_and_field() {
        let value = Value::Struct(vec![
            Value::Struct(vec![Value::U64(5)]),
            Value::U64(7),
            Value::Vector(vec![Value::Address(Address::from_u64(1))]),
        ]);
        let bytes = encode(&value, &stake()).unwrap();
        assert_eq!(bytes.len(), 8 + 8 + 1 + 16);
        assert_eq!(decode(&bytes, &stake()).unwrap(), value);
        let err = decode(bytes.get(..3).unwrap(), &stake()).unwrap_err();
        assert_eq!(err.to_string(), "byte 0 in Stake.locked.value: 8 bytes needed, 3 left");
        // One address claimed, three bytes left: refused at the length.
        let err = decode(bytes.get(..20).unwrap(), &stake()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "byte 16 in Stake.buddies: vector of 1 elements of at least 16 bytes each does not fit in the 3 bytes left"
        );
        let nested = Layout::Vector(Box::new(Layout::Vector(Box::new(Layout::U8))));
        let err = decode(&[2, 1, 5, 3, 1], &nested).unwrap_err();
        assert_eq!((err.offset, err.path.to_string()), (3, "[1]".to_owned()));
        let mut long = bytes.clone();
        long.push(0);
        let err = decode(&long, &stake()).unwrap_err();
        assert_eq!(
            err,
            DecodeError { offset: 33, path: FieldPath::default(), kind: DecodeErrorKind::TrailingBytes { count: 1 } }
        );
    }

    #[test]
    fn huge_vector_lengths_are_refused_before_allocating() {
        // Length 2^31 - 1 with 16 bytes left.
        let mut bytes = vec![0u8; 16];
        bytes.extend([0xff, 0xff, 0xff, 0xff, 0x07]);
        bytes.extend([0u8; 16]);
        let err = decode(&bytes, &stake()).unwrap_err();
        assert_eq!(err.offset, 16);
        assert!(matches!(
            err.kind,
            DecodeErrorKind::LengthTooLarge { length: 2147483647, min_size: 16, remaining: 16 }
        ));
        // 2^31 is over BCS's limit; 2^32 overflows the 32 bits a length has.
        let too_long = [0x80, 0x80, 0x80, 0x80, 0x08];
        let err = decode(&too_long, &Layout::Vector(Box::new(Layout::U8))).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::SequenceTooLong { .. }), "{err}");
        let err = decode(&[0x80, 0x80, 0x80, 0x80, 0x10], &Layout::Vector(Box::new(Layout::U8))).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::Uleb128Overflow);
        let err = decode(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], &Layout::Vector(Box::new(Layout::U8))).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::Uleb128Overflow);
    }

    #[test]
    fn uleb128_must_be_canonical() {
        let layout = Layout::Vector(Box::new(Layout::U8));
        assert_eq!(decode(&[0x01, 0x07], &layout).unwrap(), Value::Bytes(vec![7]));
        let err = decode(&[0x81, 0x00, 0x07], &layout).unwrap_err();
        assert_eq!((err.offset, err.kind), (0, DecodeErrorKind::NonCanonicalUleb128));
        let mut out = Vec::new();
        write_uleb128(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!(out, ::bcs::to_bytes(&vec![0u8; 300]).unwrap().get(..2).unwrap());
    }

    #[test]
    fn byte_vectors_decode_as_bytes_and_encode_from_either_form() {
        let layout = Layout::Vector(Box::new(Layout::U8));
        let bytes = encode(&Value::Bytes(vec![1, 2, 3]), &layout).unwrap();
        assert_eq!(bytes, [3, 1, 2, 3]);
        let by_hand = Value::Vector(vec![Value::U8(1), Value::U8(2), Value::U8(3)]);
        assert_eq!(encode(&by_hand, &layout).unwrap(), bytes);
        assert_eq!(decode(&bytes, &layout).unwrap(), Value::Bytes(vec![1, 2, 3]));
        assert_eq!(decode(&bytes, &layout).unwrap().as_bytes(), Some(&[1u8, 2, 3][..]));
        let err = encode(&Value::Bytes(vec![1]), &Layout::Vector(Box::new(Layout::U16))).unwrap_err();
        assert_eq!(err.to_string(), "cannot encode: vector<u8> value where the layout has vector");
        // A byte vector costs a byte of memory per byte, not a value per byte.
        let big = Value::Bytes(vec![0; 1000]);
        assert_eq!(big.footprint(), size_of::<Value>() + 1000);
        assert_eq!(by_hand.footprint(), 4 * size_of::<Value>());
    }

    #[test]
    fn a_budget_refuses_a_value_before_allocating_it() {
        let value = Value::Struct(vec![
            Value::Struct(vec![Value::U64(5)]),
            Value::U64(7),
            Value::Vector(vec![Value::Address(Address::from_u64(1)), Value::Address(Address::from_u64(2))]),
        ]);
        let bytes = encode(&value, &stake()).unwrap();
        let needed = value.footprint();
        assert_eq!(needed, size_of::<Value>() * (1 + 3 + 1 + 2));
        assert_eq!(decode_within(&bytes, &stake(), needed).unwrap(), value);
        let err = decode_within(&bytes, &stake(), needed - 1).unwrap_err();
        let left = needed - 1 - size_of::<Value>() * (1 + 3 + 1);
        assert_eq!(err.kind, DecodeErrorKind::OverBudget { needed: 2 * size_of::<Value>(), left });
        assert_eq!((err.offset, err.path.to_string()), (16, "Stake.buddies".to_owned()));
        // A byte vector is charged its length, at its length's offset, before it is copied.
        let mut long = Vec::new();
        write_uleb128(&mut long, 1 << 20);
        long.resize(long.len() + (1 << 20), 0xab);
        let layout = Layout::Vector(Box::new(Layout::U8));
        let err = decode_within(&long, &layout, 1 << 19).unwrap_err();
        let left = (1 << 19) - size_of::<Value>();
        assert_eq!((err.offset, &err.kind), (0, &DecodeErrorKind::OverBudget { needed: 1 << 20, left }));
        let message =
            format!("byte 0: the value needs 1048576 more bytes of memory, over the {left} left of its budget");
        assert_eq!(err.to_string(), message);
    }

    #[test]
    fn bools_and_variants_are_checked() {
        let err = decode(&[2], &Layout::Bool).unwrap_err();
        assert_eq!(err.to_string(), "byte 0: 0x02 is not a bool");
        let err = decode(&[5], &option_u8()).unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::VariantOutOfRange { index: 5, count: 2 });
        let err = decode(&[1], &option_u8()).unwrap_err();
        assert_eq!(err.to_string(), "byte 1 in Option::Some.v: 1 bytes needed, 0 left");
    }

    #[test]
    fn enums_encode_as_serde_enums_do_in_bcs() {
        #[derive(serde::Serialize)]
        enum Shape {
            #[allow(dead_code)]
            Empty,
            Pair(u8, u16),
        }
        let layout = Layout::Enum(Box::new(EnumLayout {
            module: ModuleId::parse("0x1::M").unwrap(),
            name: "Shape".into(),
            variants: vec![
                VariantLayout { name: "Empty".into(), fields: vec![] },
                VariantLayout { name: "Pair".into(), fields: vec![field("a", Layout::U8), field("b", Layout::U16)] },
            ],
        }));
        let value = Value::Variant { index: 1, fields: vec![Value::U8(3), Value::U16(0x102)] };
        let bytes = encode(&value, &layout).unwrap();
        assert_eq!(bytes, ::bcs::to_bytes(&Shape::Pair(3, 0x102)).unwrap());
        assert_eq!(decode(&bytes, &layout).unwrap(), value);
        let wide = Layout::U256;
        let n = Value::U256(U256::from(u128::MAX));
        assert_eq!(decode(&encode(&n, &wide).unwrap(), &wide).unwrap(), n);
    }

    #[test]
    fn encoding_checks_the_value_against_the_layout() {
        let bad = Value::Struct(vec![Value::Struct(vec![Value::U32(5)]), Value::U64(7), Value::Vector(vec![])]);
        let err = encode(&bad, &stake()).unwrap_err();
        assert_eq!(err.to_string(), "cannot encode in Stake.locked.value: u32 value where the layout has u64");
        let short = Value::Struct(vec![Value::U64(7)]);
        assert!(matches!(
            encode(&short, &stake()).unwrap_err().kind,
            EncodeErrorKind::FieldCount { expected: 3, found: 1 }
        ));
        let far = Address::parse_hex(&format!("0x1{}", "0".repeat(32))).unwrap();
        let err = encode(&Value::Address(far), &Layout::Address(AddressLength::Bytes16)).unwrap_err();
        assert!(matches!(err.kind, EncodeErrorKind::AddressTooLong { .. }));
        let bytes = Layout::Vector(Box::new(Layout::U8));
        let err = encode(&Value::Vector(vec![Value::U8(1), Value::Bool(true)]), &bytes).unwrap_err();
        assert_eq!(err.to_string(), "cannot encode in [1]: bool value where the layout has u8");
        let err = encode(&Value::Variant { index: 2, fields: vec![] }, &option_u8()).unwrap_err();
        assert!(matches!(err.kind, EncodeErrorKind::VariantOutOfRange { index: 2, count: 2 }));
    }

    #[test]
    fn deep_hand_built_layouts_are_refused_not_overflowed() {
        let mut layout = Layout::U8;
        let mut value = Value::U8(0);
        for _ in 0..MAX_LAYOUT_DEPTH + 5 {
            layout = Layout::Vector(Box::new(layout));
            value = Value::Vector(vec![value]);
        }
        assert!(matches!(encode(&value, &layout).unwrap_err().kind, EncodeErrorKind::TooDeep { .. }));
        let bytes = vec![1u8; MAX_LAYOUT_DEPTH + 6];
        assert!(matches!(decode(&bytes, &layout).unwrap_err().kind, DecodeErrorKind::TooDeep { .. }));
    }
}
