//! `read(write(m)) == m` over generated modules of every version and flavor, and byte identity of
//! `serialize(parse(bytes))` for everything the writer produces.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::generate::{self, Rng, Shape};
use binary_format::{parse, read_layouts, read_module, serializer, write_module, Detail, NoResolver, ParseOptions};
use proptest::prelude::*;

fn shapes() -> impl Strategy<Value = Shape> {
    prop::sample::select(Shape::all_versions())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn read_of_write_is_identity(seed in any::<u64>(), shape in shapes()) {
        let m = generate::module(&mut Rng::new(seed), &shape, 0);
        let bytes = write_module(&m, shape.address_length, &NoResolver).expect("generated modules are writable");
        let back = read_module(&bytes, shape.address_length).expect("written modules read back");
        prop_assert_eq!(&back, &m);

        let layouts = read_layouts(&bytes, shape.address_length).expect("layouts read");
        prop_assert_eq!(&layouts.structs, &m.structs);
        prop_assert!(layouts.functions.is_empty());

        let raw = parse(&bytes, &ParseOptions::new(shape.address_length, Detail::Full)).expect("full parse");
        prop_assert_eq!(serializer::serialize(&raw).expect("re-serialize"), bytes);
    }
}

#[test]
fn every_shape_is_covered_with_enums_and_natives() {
    let mut saw_enum = [false; 2];
    let mut saw_native = false;
    for shape in Shape::all_versions() {
        for m in generate::release(7, &shape, 40) {
            saw_native |= m.structs.iter().any(|s| s.native);
            if m.structs.iter().any(|s| s.is_enum()) {
                saw_enum[usize::from(shape.version.is_sui())] = true;
            }
            let bytes = write_module(&m, shape.address_length, &NoResolver).unwrap();
            assert_eq!(read_module(&bytes, shape.address_length).unwrap(), m, "{}", shape.version);
        }
    }
    assert!(saw_enum[0] && saw_enum[1] && saw_native);
}

#[test]
fn framework_like_releases_parse_at_every_level_and_reserialize_identically() {
    for shape in Shape::all_versions() {
        let mut instructions = 0;
        for bytes in generate::framework_release(5, &shape, 8, 10, 60) {
            let raw = parse(&bytes, &ParseOptions::new(shape.address_length, Detail::Full)).unwrap();
            instructions +=
                raw.function_defs.iter().filter_map(|d| d.code.as_ref()).map(|c| c.code.len()).sum::<usize>();
            assert_eq!(serializer::serialize(&raw).unwrap(), bytes, "{}", shape.version);
            let layouts = read_layouts(&bytes, shape.address_length).unwrap();
            let full = read_module(&bytes, shape.address_length).unwrap();
            assert_eq!(layouts.structs, full.structs);
        }
        assert!(instructions > 1000, "{}: {instructions} instructions", shape.version);
    }
}
