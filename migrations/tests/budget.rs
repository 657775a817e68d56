#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! A decoded value's memory is bounded: a `vector<u8>` takes a byte per byte of input, and
//! `decode_within` refuses a value over its budget before allocating it. (A 64 MiB `vector<u8>`
//! used to take 3.2 GB as a vector of `Value::U8`; peak RSS is measured by
//! `cargo run --release -p migrations --example decode_memory`.)

use binary_format::ModuleId;
use migrations::value::{decode_within, write_uleb128, DecodeErrorKind};
use migrations::{FieldLayout, Layout, StructLayout, Value};
use std::mem::size_of;

const SIZE: usize = 64 << 20;

/// `0x1::Blob::Blob { data: vector<u8> }` holding `SIZE` bytes.
fn blob() -> (Layout, Vec<u8>) {
    let layout = Layout::Struct(Box::new(StructLayout {
        module: ModuleId::parse("0x1::Blob").unwrap(),
        name: "Blob".into(),
        fields: vec![FieldLayout { name: "data".into(), layout: Layout::Vector(Box::new(Layout::U8)) }],
    }));
    let mut bytes = Vec::with_capacity(SIZE + 5);
    write_uleb128(&mut bytes, SIZE as u32);
    bytes.resize(SIZE + 4, 0x5a);
    (layout, bytes)
}

#[test]
fn a_64_mib_byte_vector_is_refused_by_a_1_mib_budget_at_its_length() {
    let (layout, bytes) = blob();
    let err = decode_within(&bytes, &layout, 1 << 20).unwrap_err();
    let left = (1 << 20) - 2 * size_of::<Value>();
    assert_eq!(err.kind, DecodeErrorKind::OverBudget { needed: SIZE, left });
    assert_eq!((err.offset, err.path.to_string()), (0, "Blob.data".to_owned()));
}

#[test]
fn a_64_mib_byte_vector_decodes_into_its_size_and_two_values() {
    let (layout, bytes) = blob();
    let value = decode_within(&bytes, &layout, SIZE + 2 * size_of::<Value>()).unwrap();
    assert_eq!(value.footprint(), SIZE + 2 * size_of::<Value>());
    let data = value.fields().and_then(|f| f.first()).and_then(Value::as_bytes).unwrap();
    assert_eq!((data.len(), data.first(), data.last()), (SIZE, Some(&0x5a), Some(&0x5a)));
}
