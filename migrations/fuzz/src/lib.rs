//! The checks behind the `decoders` fuzz target, shared with the seed writer and the corpus
//! test: the decoders `migrations` builds on the one BCS reader (`binary_format::bcs::Reader`),
//! over arbitrary bytes. The first byte picks a shape:
//! - a struct tag, in each address width (`StructTag::from_bcs`);
//! - a value of one of a few layouts (`decode_within`, with and without a budget), checked
//!   against the derived plans' skipper and transcoder, which must accept exactly what decoding
//!   accepts.
//!
//! The reader alone (a scripted program of its methods) is the `bcs` target of
//! `binary-format/fuzz`.
//!
//! The contract: no panic; every error lies inside the input; what reads is canonical (it encodes
//! back to the same bytes); counts are checked before allocation, and a budget bounds what a
//! decode allocates.
//!
//! Allocation is measured by the counting global allocator of `fuzz-support`: the peak of live
//! heap bytes during one call, over what was live before it, must stay within [`ALLOC_BUDGET`]
//! (the bound of the bytecode reader's targets), and a budgeted decode's under its budget plus
//! [`BUDGET_SLACK`].

use binary_format::{AddressLength, ModuleId};
use fuzz_support::{measured, Budget};
use migrations::plan::{DerivedPlan, Skipper};
use migrations::value::{decode_within, encode, DecodeErrorKind};
use migrations::{EnumLayout, FieldLayout, Layout, StructLayout, StructTag, Value, VariantLayout};
use std::collections::BTreeMap;

/// The heap one unbudgeted decode may take: 256 live bytes per input byte (the bound of the
/// bytecode reader's targets), plus 256 KiB for fixed costs (error messages, small vectors).
pub const ALLOC_BUDGET: Budget = Budget { factor: 256, slack: 256 * 1024 };

/// Heap bytes a budgeted decode may allocate beyond its budget: the error, its path and the
/// strings in it.
pub const BUDGET_SLACK: usize = 64 * 1024;

/// Shapes the first byte picks among (modulo): the struct tag, then one per layout.
pub fn shapes() -> usize {
    1 + layouts().len()
}

/// The shape the first byte of `data` picks (0: the struct tag; `1 + i`: a value of the `i`th
/// layout), or none for empty input.
pub fn shape_of(data: &[u8]) -> Option<usize> {
    data.first().map(|&shape| usize::from(shape) % shapes())
}

/// The `decoders` target: runs `data` through the shape its first byte picks. True when the rest
/// reads as that shape.
pub fn check_decoders(data: &[u8]) -> bool {
    let (Some(shape), Some(rest)) = (shape_of(data), data.get(1..)) else { return false };
    match shape {
        0 => check_tag(rest),
        n => layouts().get(n - 1).is_some_and(|layout| check_value(rest, layout)),
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
    let pair = |name: &str, a: Layout, b: Layout| {
        Layout::Struct(Box::new(structure(name, vec![field("a", a), field("b", b)])))
    };
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

/// A struct tag in every width: what reads is canonical, errors lie inside the input. True when
/// it reads in some width.
pub fn check_tag(data: &[u8]) -> bool {
    let mut read = false;
    for width in AddressLength::ALL {
        match StructTag::from_bcs(data, width) {
            Ok(tag) => {
                assert_eq!(tag.to_bcs(), data, "a tag that is not canonical read as {tag}");
                assert!(tag.has_width(width));
                read = true;
            }
            Err(migrations::KeyError::Decode { offset, reason }) => {
                assert!(offset <= data.len(), "tag error at {offset} of {} bytes: {reason}", data.len());
            }
            Err(_) => {}
        }
    }
    read
}

/// A value of `layout`: decoded with no budget and with a small one (from the first byte),
/// canonical, within its budget, and accepted by the plans exactly when it decodes. True when it
/// decodes.
pub fn check_value(data: &[u8], layout: &Layout) -> bool {
    let (unbounded, peak) = measured(|| decode_within(data, layout, usize::MAX));
    ALLOC_BUDGET.check(data, peak, "decode");
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
    unbounded.is_ok()
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

/// Seeds of every shape, named: tags of each width, and values of each layout (valid ones, and
/// the same with a byte more, named `...-trailing`, which must not decode).
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let texts = ["0x1::Coin::Balance<0x1::GAS::GAS, vector<u16>>", "0x1::M::S", "0x2::N::T<vector<vector<u256>>>"];
    for (t, text) in texts.iter().enumerate() {
        for width in AddressLength::ALL {
            if let Ok(tag) = StructTag::parse(text, width) {
                out.push((format!("tag-{t}-a{}", width.bytes()), [&[0u8][..], &tag.to_bcs()].concat()));
            }
        }
    }
    for (i, layout) in layouts().iter().enumerate() {
        let value = sample(layout, i);
        if let Ok(bytes) = encode(&value, layout) {
            let shape = (1 + i) as u8;
            out.push((format!("value-{i}"), [&[shape][..], &bytes].concat()));
            out.push((format!("value-{i}-trailing"), [&[shape][..], &bytes, &[0]].concat()));
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
            let fields =
                e.variants.get(index).map_or(vec![], |v| v.fields.iter().map(|f| sample(&f.layout, seed)).collect());
            Value::Variant { index: index as u32, fields }
        }
    }
}
