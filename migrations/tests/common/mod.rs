//! Test strategies shared by the property tests: random values of a layout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code)]

use binary_format::Address;
use migrations::{FieldLayout, Layout, Value, U256};
use proptest::prelude::*;
use proptest::strategy::Union;

/// Random values of `layout`, vectors at most `max_len` long.
pub fn value_for(layout: &Layout, max_len: usize) -> BoxedStrategy<Value> {
    match layout {
        Layout::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        Layout::U8 => any::<u8>().prop_map(Value::U8).boxed(),
        Layout::U16 => any::<u16>().prop_map(Value::U16).boxed(),
        Layout::U32 => any::<u32>().prop_map(Value::U32).boxed(),
        Layout::U64 => any::<u64>().prop_map(Value::U64).boxed(),
        Layout::U128 => any::<u128>().prop_map(Value::U128).boxed(),
        Layout::U256 => any::<[u8; 32]>().prop_map(|b| Value::U256(U256::from_le_bytes(b))).boxed(),
        Layout::Address(len) | Layout::Signer(len) => {
            let signer = matches!(layout, Layout::Signer(_));
            prop::collection::vec(any::<u8>(), len.bytes())
                .prop_map(move |b| {
                    let a = Address::from_be_slice(&b).unwrap();
                    if signer {
                        Value::Signer(a)
                    } else {
                        Value::Address(a)
                    }
                })
                .boxed()
        }
        // A `vector<u8>` is `Value::Bytes`, as `decode` gives it.
        Layout::Vector(element) if **element == Layout::U8 => {
            prop::collection::vec(any::<u8>(), 0..max_len + 1).prop_map(Value::Bytes).boxed()
        }
        Layout::Vector(element) => {
            prop::collection::vec(value_for(element, max_len), 0..max_len + 1).prop_map(Value::Vector).boxed()
        }
        Layout::Struct(s) => values_for(&s.fields, max_len).prop_map(Value::Struct).boxed(),
        Layout::Enum(e) => Union::new(e.variants.iter().enumerate().map(|(i, v)| {
            let index = i as u32;
            values_for(&v.fields, max_len).prop_map(move |fields| Value::Variant { index, fields }).boxed()
        }))
        .boxed(),
    }
}

fn values_for(layouts: &[FieldLayout], max_len: usize) -> Vec<BoxedStrategy<Value>> {
    layouts.iter().map(|f| value_for(&f.layout, max_len)).collect()
}
