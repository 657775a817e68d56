#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Every bound in `src/limits.rs` is used by the code, and the reader names no bound of its own:
//! a limit that is declared but not enforced would be a promise the reader does not keep. Behaviour
//! tests feed input just over the bounds whose use is easy to miss.

use binary_format::bcs::{ErrorKind as ReadKind, Reader};
use binary_format::{limits, parse, write_uleb, AddressLength, Detail, ErrorKind, ParseOptions};
use std::path::Path;

fn source(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The code of a file: its lines, without comments and without its `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let body = text.split("#[cfg(test)]").next().unwrap_or_default();
    body.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

fn limit_names() -> Vec<String> {
    code(&source("limits.rs"))
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .map(|l| l.split(':').next().unwrap_or_default().trim().to_owned())
        .collect()
}

#[test]
fn every_limit_is_used_by_the_code() {
    let names = limit_names();
    assert!(names.len() >= 20, "the table was not read: {names:?}");
    let mut others = String::new();
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") && path.file_name().is_some_and(|n| n != "limits.rs") {
            others.push_str(&code(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    let unused: Vec<&String> = names.iter().filter(|n| !others.contains(&format!("limits::{n}"))).collect();
    assert!(unused.is_empty(), "limits declared but used nowhere in src/: {unused:?}");
}

/// The deserializer's and the reader's counts, lengths and maxima are named: no `count(255, ..)`,
/// `uleb(127, ..)` or `prefixed(1023, ..)` left.
#[test]
fn no_bound_is_a_literal_in_the_readers() {
    for file in ["deserializer.rs", "bcs.rs"] {
        let code = code(&source(file));
        for call in ["count(", "prefixed(", "list(", "uleb("] {
            for (i, _) in code.match_indices(&format!(".{call}")) {
                let args = &code[i + call.len() + 1..];
                let first = args.trim_start();
                assert!(
                    !first.starts_with(|ch: char| ch.is_ascii_digit()) || first.starts_with("1,"),
                    "{file}: a literal bound in `.{call}{}`",
                    &args[..args.find(')').unwrap_or(args.len()).min(60)]
                );
            }
        }
    }
}

mod common;

/// The error of a full parse of a version 6 module with one table: `kind`, holding `prefix`, a
/// ULEB128 length of `n` and `n` bytes of `fill`, then `suffix`.
fn over(kind: u8, prefix: &[u8], n: u64, fill: u8, suffix: &[u8]) -> binary_format::Error {
    let mut table = prefix.to_vec();
    write_uleb(&mut table, n);
    table.extend(std::iter::repeat_n(fill, n as usize));
    table.extend(suffix);
    let bytes = common::module(6, &[(kind, table)]);
    parse(&bytes, &ParseOptions::new(AddressLength::Bytes16, Detail::Full)).unwrap_err()
}

#[test]
fn a_signature_one_token_over_the_limit_is_refused() {
    // Signatures (0x05): bools.
    let err = over(0x05, &[], limits::MAX_SIGNATURE_TOKENS + 1, 0x1, &[]);
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert!(err.message().contains("signature length is 256, more than the limit 255"), "{err}");
}

#[test]
fn a_metadata_key_one_byte_over_the_limit_is_refused() {
    // Metadata (0x10): a key, then an empty value.
    let err = over(0x10, &[], limits::MAX_METADATA_KEY_LEN + 1, b'k', &[0]);
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert!(err.message().contains("metadata key length is 1024, more than the limit 1023"), "{err}");
}

#[test]
fn a_constant_one_byte_over_the_limit_is_refused() {
    // Constants (0x06): a vector<u8>.
    let err = over(0x06, &[0x0a, 0x02], limits::MAX_CONSTANT_LEN + 1, 7, &[]);
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    assert!(err.message().contains("constant length is 65536, more than the limit 65535"), "{err}");
}

#[test]
fn a_bcs_sequence_one_over_the_limit_is_refused_without_reading_its_elements() {
    let mut bytes = Vec::new();
    write_uleb(&mut bytes, limits::MAX_SEQUENCE_LENGTH + 1);
    let err = Reader::new(&bytes).sequence(1, "vector length").unwrap_err();
    assert_eq!(
        err.kind(),
        ReadKind::OverLimit { value: Some(limits::MAX_SEQUENCE_LENGTH + 1), limit: limits::MAX_SEQUENCE_LENGTH }
    );
}
