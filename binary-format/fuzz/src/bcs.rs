//! The `bcs` target: the one BCS reader (`binary_format::bcs::Reader`) over arbitrary bytes, alone
//! and through the decoders built on it. The first byte picks a shape:
//! - a reader program: the next bytes script calls of every method (with their limits, minimum
//!   element sizes and a memory budget) over the rest;
//! - a struct tag, in each address width (`StructTag::from_bcs`);
//! - a value of one of a few layouts (`decode_within`, with and without a budget), checked
//!   against the derived plans' skipper and transcoder, which must accept exactly what decoding
//!   accepts.
//!
//! The contract: no panic; every error lies inside the input (offsets are the base's plus the
//! position); what reads is canonical (it encodes back to the same bytes); counts are checked
//! before allocation, and a budget bounds what a decode allocates.

use crate::{check_alloc, measured};
use binary_format::bcs::{ErrorKind, Reader};
use binary_format::{write_uleb, AddressLength, ModuleId};
use migrations::plan::{DerivedPlan, Skipper};
use migrations::value::{decode_within, encode, DecodeErrorKind};
use migrations::{EnumLayout, FieldLayout, Layout, StructLayout, StructTag, Value, VariantLayout};
use std::collections::BTreeMap;

/// Heap bytes a budgeted decode may allocate beyond its budget: the error, its path and the
/// strings in it.
pub const BUDGET_SLACK: usize = 64 * 1024;

/// Shapes the first byte picks among (modulo): the reader program, the struct tag, then one per
/// layout.
pub fn shapes() -> usize {
    2 + layouts().len()
}

/// Runs `data` through the shape its first byte picks.
pub fn check_bcs(data: &[u8]) {
    let Some((&shape, rest)) = data.split_first() else { return };
    match usize::from(shape) % shapes() {
        0 => check_program(rest),
        1 => check_tag(rest),
        n => {
            let layouts = layouts();
            if let Some(layout) = layouts.get(n - 2) {
                check_value(rest, layout);
            }
        }
    }
}

fn module() -> ModuleId {
    ModuleId::parse("0x1::Fuzz").unwrap_or_else(|| panic!("a module id"))
}

fn field(name: &str, layout: Layout) -> FieldLayout {
    FieldLayout { name: name.to_owned(), layout }
}

fn structure(name: &str, fields: Vec<FieldLayout>) -> StructLayout {
    StructLayout { module: module(), name: name.to_owned(), fields }
}

fn vector(element: Layout) -> Layout {
    Layout::Vector(Box::new(element))
}

/// Typical stored shapes: bytes, a struct with a nested struct and a vector of addresses, an enum,
/// the migration status (vectors of structs of byte strings), deep vectors of bools, and every
/// integer width with a signer.
pub fn layouts() -> Vec<Layout> {
    let coin = structure("Coin", vec![field("value", Layout::U64)]);
    let stake = structure(
        "Stake",
        vec![
            field("locked", Layout::Struct(Box::new(coin))),
            field("pending", Layout::U64),
            field("buddies", vector(Layout::Address(AddressLength::Bytes16))),
        ],
    );
    let choice = EnumLayout {
        module: module(),
        name: "Choice".to_owned(),
        variants: vec![
            VariantLayout { name: "None".to_owned(), fields: vec![] },
            VariantLayout { name: "One".to_owned(), fields: vec![field("v", Layout::U8)] },
            VariantLayout {
                name: "Pair".to_owned(),
                fields: vec![field("flag", Layout::Bool), field("items", vector(Layout::U16))],
            },
        ],
    };
    let pair = |name: &str, a: Layout, b: Layout| Layout::Struct(Box::new(structure(name, vec![field("a", a), field("b", b)])));
    let status = structure(
        "Status",
        vec![
            field("activations", vector(pair("Activation", Layout::U64, Layout::U64))),
            field("completed", vector(pair("Completed", vector(Layout::U8), vector(Layout::U8)))),
            field("failed", vector(pair("Failure", Layout::Address(AddressLength::Bytes32), vector(Layout::U8)))),
            field("choice", Layout::Enum(Box::new(choice))),
        ],
    );
    let wide = structure(
        "Wide",
        vec![
            field("a", Layout::U16),
            field("b", Layout::U32),
            field("c", Layout::U128),
            field("d", Layout::U256),
            field("e", Layout::Signer(AddressLength::Bytes20)),
            field("f", Layout::Bool),
        ],
    );
    vec![
        vector(Layout::U8),
        Layout::Struct(Box::new(stake)),
        Layout::Struct(Box::new(status)),
        vector(vector(vector(Layout::Bool))),
        Layout::Struct(Box::new(wide)),
    ]
}

/// A reader program: `[base, script length, script.., input..]`; each pair of script bytes is an
/// operation and its argument, run over the input whatever happened before.
pub fn check_program(data: &[u8]) {
    let [base, n, rest @ ..] = data else { return };
    let (script, input) = rest.split_at(usize::from(*n).min(rest.len()));
    let base = usize::from(*base) << 12;
    let budget = usize::from(script.first().copied().unwrap_or(0)) << 6;
    let mut r = Reader::with_base(input, base).with_budget(budget);
    for op in script.chunks(2) {
        let (code, arg) = (op.first().copied().unwrap_or(0), op.get(1).copied().unwrap_or(0));
        let before = r.position();
        let result = step(&mut r, code, arg, input.len());
        assert!(r.position() <= input.len(), "the position passed the end: op {code} {arg}");
        match result {
            // Every operation but `at` (15) reads forward.
            Ok(()) => assert!(r.position() >= before || code % 16 == 15, "a read went backwards: op {code} {arg}"),
            Err(e) => {
                assert!(
                    (base..=base + input.len()).contains(&e.offset()),
                    "op {code} {arg}: error offset {:#x} outside the input at {base:#x} of {} bytes: {e:?}",
                    e.offset(),
                    input.len()
                );
                let text = e.to_string();
                assert!(text.ends_with(&format!("(at offset {:#x})", e.offset())), "{text}");
                assert!(!e.message().is_empty());
            }
        }
    }
    match r.finish("the program's input") {
        Ok(()) => assert!(r.is_empty()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::TrailingBytes { count: r.remaining() }),
    }
}

/// One operation of a program, with what it promises when it succeeds.
fn step(r: &mut Reader<'_>, code: u8, arg: u8, len: usize) -> Result<(), binary_format::bcs::Error> {
    let before = r.position();
    let limit = u64::from(arg) * u64::from(arg);
    match code % 16 {
        0 => drop(r.u8("a u8")?),
        1 => drop(r.u16("a u16")?),
        2 => drop(r.u64("a u64")?),
        3 => drop(r.u256("a u256")?),
        4 => drop(r.u32_be("a length")?),
        5 => drop(r.bool("a bool")?),
        6 => {
            let bools = r.bools(usize::from(arg), "bools")?;
            assert!(bools.iter().all(|&b| b <= 1));
        }
        7 => {
            let max = if arg == 0xff { u64::MAX } else { limit };
            let value = r.uleb(max, "a ULEB128")?;
            assert!(value <= max);
            let mut canonical = Vec::new();
            write_uleb(&mut canonical, value);
            assert_eq!(r.since(before), &canonical[..], "a ULEB128 that is not canonical read as {value}");
        }
        8 => {
            let min_size = usize::from(arg % 5);
            let n = r.count(limit, min_size, "a count")?;
            assert!(n as u64 <= limit);
            assert!(n * min_size <= r.remaining(), "{n} elements of {min_size} bytes in {} bytes", r.remaining());
        }
        9 => {
            let bytes = r.prefixed(limit, "a byte string")?;
            assert!(bytes.len() as u64 <= limit);
        }
        10 => drop(r.string(limit, "a string")?),
        11 => {
            let left = r.budget_left();
            let (items, peak) = measured(|| r.list(limit, 1, "a list", |r| r.u8("an element")));
            let items = items?;
            assert!(items.len() <= left, "a list of {} bytes within a budget of {left}", items.len());
            assert!(peak <= left.saturating_add(BUDGET_SLACK), "a list allocated {peak} with a budget of {left}");
            assert_eq!(r.budget_left(), left - items.len());
        }
        12 => {
            let count = usize::from(arg % 8);
            assert!(r.variant(count, "a variant")? < count);
        }
        13 => {
            let width = AddressLength::ALL.get(usize::from(arg) % 3).copied().unwrap_or_default();
            r.address(width, "an address")?;
            assert_eq!(r.position() - before, width.bytes());
        }
        14 => r.skip(usize::from(arg), "bytes")?,
        _ => {
            let moved = r.at(usize::from(arg) % (len + 1));
            assert!(moved.position() <= len);
            *r = moved;
        }
    }
    Ok(())
}

/// A struct tag in every width: what reads is canonical, errors lie inside the input.
pub fn check_tag(data: &[u8]) {
    for width in AddressLength::ALL {
        match StructTag::from_bcs(data, width) {
            Ok(tag) => {
                assert_eq!(tag.to_bcs(), data, "a tag that is not canonical read as {tag}");
                assert!(tag.has_width(width));
            }
            Err(migrations::KeyError::Decode { offset, reason }) => {
                assert!(offset <= data.len(), "tag error at {offset} of {} bytes: {reason}", data.len());
            }
            Err(_) => {}
        }
    }
}

/// A value of `layout`: decoded with no budget and with a small one (from the first byte),
/// canonical, within its budget, and accepted by the plans exactly when it decodes.
pub fn check_value(data: &[u8], layout: &Layout) {
    let (unbounded, peak) = measured(|| decode_within(data, layout, usize::MAX));
    check_alloc(data, peak, "decode");
    let accepted = Skipper::of(layout).accepts(data);
    match &unbounded {
        Ok(value) => {
            assert!(accepted, "the skipper refused bytes that decode");
            assert_eq!(encode(value, layout).ok().as_deref(), Some(data), "a value that is not canonical decoded");
        }
        Err(e) => {
            assert!(!accepted, "the skipper accepted bytes that do not decode: {e}");
            assert!(e.offset <= data.len(), "decode error at {} of {} bytes: {e}", e.offset, data.len());
        }
    }
    let budget = usize::from(data.first().copied().unwrap_or(0)) << 4;
    let (bounded, peak) = measured(|| decode_within(data, layout, budget));
    assert!(peak <= budget + BUDGET_SLACK, "a decode allocated {peak} bytes with a budget of {budget}");
    match (&unbounded, &bounded) {
        (Ok(value), Ok(within)) => assert!(value == within && value.footprint() <= budget),
        (Ok(value), Err(e)) => assert!(
            matches!(e.kind, DecodeErrorKind::OverBudget { .. }) && value.footprint() > budget,
            "refused within {budget} though it takes {}: {e}",
            value.footprint()
        ),
        (Err(_), Ok(_)) => panic!("a budget made bytes decode that do not"),
        (Err(_), Err(_)) => {}
    }
    if let Layout::Struct(s) = layout {
        check_plans(data, s, unbounded.is_ok());
    }
}

/// The plan that copies the struct, and the one that appends a field, accept exactly what
/// decoding accepts, and write what they promise.
fn check_plans(data: &[u8], s: &StructLayout, decodes: bool) {
    let mut grown = s.clone();
    grown.fields.push(field("added", Layout::U64));
    let defaults = BTreeMap::from([("added".to_owned(), 7u64.to_le_bytes().to_vec())]);
    for (new, appended) in [(s, &[][..]), (&grown, &7u64.to_le_bytes()[..])] {
        let Ok(plan) = DerivedPlan::compile(s, new, &BTreeMap::new(), &defaults) else { continue };
        let mut out = vec![0xee];
        match plan.transcode(data, &mut out) {
            Ok(()) => {
                assert!(decodes, "a plan accepted bytes that do not decode");
                assert_eq!(out.get(1..), Some([data, appended].concat().as_slice()));
            }
            Err(e) => {
                assert!(!decodes, "a plan refused bytes that decode: {e}");
                assert_eq!(out, [0xee], "a failed transcode left output behind");
                assert!(e.offset <= data.len());
            }
        }
    }
}

/// Seeds of every shape: programs, tags of each width, and values of each layout (valid ones,
/// and the same with a byte more).
pub fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Shape 0, base 0: a ULEB128, a count, a byte string, a list, a bool, a variant.
    let script: &[u8] = &[7, 0xff, 8, 3, 9, 16, 11, 4, 5, 0, 12, 3];
    let mut program = vec![0u8, 0, script.len() as u8];
    program.extend(script);
    program.extend([0xac, 0x02, 2, 0, 0, 3, b'a', b'b', b'c', 2, 1, 2, 1, 2]);
    out.push(program);
    for text in ["0x1::Coin::Balance<0x1::GAS::GAS, vector<u16>>", "0x1::M::S", "0x2::N::T<vector<vector<u256>>>"] {
        for width in AddressLength::ALL {
            if let Ok(tag) = StructTag::parse(text, width) {
                out.push([&[1u8][..], &tag.to_bcs()].concat());
            }
        }
    }
    for (i, layout) in layouts().iter().enumerate() {
        let value = sample(layout, i);
        if let Ok(bytes) = encode(&value, layout) {
            let shape = (2 + i) as u8;
            out.push([&[shape][..], &bytes].concat());
            out.push([&[shape][..], &bytes, &[0]].concat());
        }
    }
    out
}

/// A value of `layout` with a little of everything (`seed` varies the lengths).
fn sample(layout: &Layout, seed: usize) -> Value {
    match layout {
        Layout::Bool => Value::Bool(seed % 2 == 1),
        Layout::U8 => Value::U8(seed as u8),
        Layout::U16 => Value::U16(seed as u16),
        Layout::U32 => Value::U32(seed as u32),
        Layout::U64 => Value::U64(seed as u64),
        Layout::U128 => Value::U128(seed as u128),
        Layout::U256 => Value::U256(migrations::U256::from(seed as u128)),
        Layout::Address(_) => Value::Address(binary_format::Address::from_u64(seed as u64)),
        Layout::Signer(_) => Value::Signer(binary_format::Address::from_u64(seed as u64)),
        Layout::Vector(e) if **e == Layout::U8 => Value::Bytes((0..seed + 3).map(|b| b as u8).collect()),
        Layout::Vector(e) => Value::Vector((0..seed % 3 + 1).map(|i| sample(e, seed + i)).collect()),
        Layout::Struct(s) => Value::Struct(s.fields.iter().map(|f| sample(&f.layout, seed + 1)).collect()),
        Layout::Enum(e) => {
            let index = seed % e.variants.len().max(1);
            let fields = e.variants.get(index).map_or(vec![], |v| v.fields.iter().map(|f| sample(&f.layout, seed)).collect());
            Value::Variant { index: index as u32, fields }
        }
    }
}
