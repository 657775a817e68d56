#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Property tests: generated layouts and values round-trip through BCS, agree with
//! move-core-types' own encoding where it can represent them, and untrusted bytes never panic.

mod common;

use binary_format::{AddressLength, ModuleId};
use migrations::value::{decode, decode_within, encode, DecodeErrorKind};
use migrations::{EnumLayout, FieldLayout, Layout, StructLayout, Value, VariantLayout};
use move_core_types::value::MoveValue;
use proptest::prelude::*;

fn parse_struct_tag(s: &str) -> Result<migrations::StructTag, migrations::KeyError> {
    migrations::StructTag::parse(s, binary_format::AddressLength::Bytes16)
}

fn module() -> ModuleId {
    ModuleId::parse("0x1::Gen").unwrap()
}

fn fields(layouts: Vec<Layout>) -> Vec<FieldLayout> {
    layouts.into_iter().enumerate().map(|(i, layout)| FieldLayout { name: format!("f{i}"), layout }).collect()
}

fn struct_of(layouts: Vec<Layout>) -> Layout {
    Layout::Struct(Box::new(StructLayout { module: module(), name: "S".into(), fields: fields(layouts) }))
}

fn enum_of(variants: Vec<Vec<Layout>>) -> Layout {
    let variants = variants
        .into_iter()
        .enumerate()
        .map(|(i, v)| VariantLayout { name: format!("V{i}"), fields: fields(v) })
        .collect();
    Layout::Enum(Box::new(EnumLayout { module: module(), name: "E".into(), variants }))
}

/// Any layout: every width, every address length, enums. Structs have at least one field, as
/// Move requires.
fn any_layout() -> impl Strategy<Value = Layout> {
    let leaf = prop_oneof![
        Just(Layout::Bool),
        Just(Layout::U8),
        Just(Layout::U16),
        Just(Layout::U32),
        Just(Layout::U64),
        Just(Layout::U128),
        Just(Layout::U256),
        prop_oneof![Just(AddressLength::Bytes16), Just(AddressLength::Bytes20), Just(AddressLength::Bytes32)]
            .prop_map(Layout::Address),
        Just(Layout::Signer(AddressLength::Bytes16)),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|l| Layout::Vector(Box::new(l))),
            prop::collection::vec(inner.clone(), 1..4).prop_map(struct_of),
            prop::collection::vec(prop::collection::vec(inner, 0..3), 1..4).prop_map(enum_of),
        ]
    })
}

/// Layouts move-core-types 0.0.3 can represent.
fn representable_layout() -> impl Strategy<Value = Layout> {
    let leaf = prop_oneof![
        Just(Layout::Bool),
        Just(Layout::U8),
        Just(Layout::U64),
        Just(Layout::U128),
        Just(Layout::Address(AddressLength::Bytes16)),
        Just(Layout::Signer(AddressLength::Bytes16)),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|l| Layout::Vector(Box::new(l))),
            prop::collection::vec(inner, 1..4).prop_map(struct_of),
        ]
    })
}

fn value_for(layout: &Layout) -> BoxedStrategy<Value> {
    common::value_for(layout, 4)
}

fn with_value(layouts: impl Strategy<Value = Layout>) -> impl Strategy<Value = (Layout, Value)> {
    layouts.prop_flat_map(|l| {
        let v = value_for(&l);
        (Just(l), v)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bytes_value_bytes_round_trips((layout, value) in with_value(any_layout())) {
        let bytes = encode(&value, &layout).unwrap();
        prop_assert!(bytes.len() >= layout.min_size());
        let decoded = decode(&bytes, &layout).unwrap();
        prop_assert_eq!(&decoded, &value);
        prop_assert_eq!(encode(&decoded, &layout).unwrap(), bytes);
    }

    /// Any strict prefix is an error at or before its end, and a byte more is trailing: BCS is
    /// self-delimiting for a given layout.
    #[test]
    fn truncated_and_extended_bytes_are_errors((layout, value) in with_value(any_layout())) {
        let bytes = encode(&value, &layout).unwrap();
        for cut in 0..bytes.len() {
            let err = decode(&bytes[..cut], &layout).unwrap_err();
            prop_assert!(err.offset <= cut, "{} at cut {}", err, cut);
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let err = decode(&longer, &layout).unwrap_err();
        prop_assert_eq!(err.kind, DecodeErrorKind::TrailingBytes { count: 1 });
        prop_assert_eq!(err.offset, bytes.len());
    }

    /// Our encoding is move-core-types' encoding, and its decoding is ours.
    #[test]
    fn agrees_with_move_core_types((layout, value) in with_value(representable_layout())) {
        let move_layout = migrations::core_types::move_layout(&layout).unwrap();
        let move_value = migrations::core_types::move_value(&value).unwrap();
        let bytes = encode(&value, &layout).unwrap();
        prop_assert_eq!(move_value.simple_serialize().unwrap(), bytes.clone());
        let theirs = MoveValue::simple_deserialize(&bytes, &move_layout).unwrap();
        prop_assert_eq!(&theirs, &move_value);
        prop_assert_eq!(migrations::core_types::value_of(theirs, &layout).unwrap(), value);
    }

    /// Corrupt bytes: we accept exactly what move-core-types accepts, with the same value.
    #[test]
    fn corrupt_bytes_are_judged_as_move_core_types_judges_them(
        (layout, value) in with_value(representable_layout()),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&value, &layout).unwrap();
        if !bytes.is_empty() {
            let i = position.index(bytes.len());
            bytes[i] = byte;
            if byte % 4 == 0 {
                bytes.truncate(cut.index(bytes.len()));
            }
        }
        let ours = decode(&bytes, &layout);
        let theirs = MoveValue::simple_deserialize(&bytes, &migrations::core_types::move_layout(&layout).unwrap());
        match (ours, theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, migrations::core_types::value_of(b, &layout).unwrap()),
            (Err(_), Err(_)) => {}
            (a, b) => prop_assert!(false, "ours {:?}, move-core-types {:?}", a, b.map_err(|e| e.to_string())),
        }
    }

    /// The budget is charged exactly what the decoded value takes: its footprint is enough, a
    /// byte less is refused (never an allocation failure), and any budget either decodes the
    /// value or says it is over.
    #[test]
    fn a_value_decodes_within_its_footprint_and_not_a_byte_less(
        (layout, value) in with_value(any_layout()),
        budget in 0usize..4096,
    ) {
        let bytes = encode(&value, &layout).unwrap();
        let footprint = value.footprint();
        prop_assert_eq!(decode_within(&bytes, &layout, footprint).unwrap(), value.clone());
        let err = decode_within(&bytes, &layout, footprint - 1).unwrap_err();
        prop_assert!(matches!(err.kind, DecodeErrorKind::OverBudget { .. }), "{}", err);
        match decode_within(&bytes, &layout, budget) {
            Ok(v) => prop_assert!(budget >= footprint && v == value, "decoded within {}", budget),
            Err(e) => {
                let over = matches!(e.kind, DecodeErrorKind::OverBudget { .. });
                prop_assert!(budget < footprint && over, "{} with a budget of {}", e, budget);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(layout in any_layout(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(e) = decode(&bytes, &layout) {
            prop_assert!(e.offset <= bytes.len());
        }
    }

    #[test]
    fn struct_tag_text_never_panics(text in ".{0,64}", nested in "[<>0x1:a-zA-Z_, ]{0,64}") {
        let _ = parse_struct_tag(&text);
        let _ = parse_struct_tag(&nested);
    }
}
