//! Unit tests for the parts that are private: line numbers and address arithmetic.

use super::*;

#[test]
fn addresses_as_numbers() {
    assert_eq!(to_u64(Address::from_u64(0x1000)), Some(0x1000));
    assert_eq!(to_u64(Address::ZERO), Some(0));
    let big = Address::parse_hex(&format!("0x1{}", "0".repeat(16))).unwrap();
    assert_eq!(to_u64(big), None);
    assert!(in_range(Address::from_u64(RESERVED_END)));
    assert!(!in_range(Address::from_u64(RESERVED_END + 1)));
    assert!(!in_range(big));
}

#[test]
fn lines_are_one_based_and_point_at_the_entry() {
    let text = "genesis = \"0x1\"\n\n[modules.Epoch]\nversions = [\n  { address = \"0x1\", release = \"v1\" },\n]\n";
    let r = Registry::parse(text, Path::new("r.toml")).unwrap();
    assert_eq!(r.lines.genesis, Some(1));
    assert_eq!(r.module_line("Epoch"), Some(3));
    assert_eq!(r.version_line("Epoch", 0), Some(5));
}
