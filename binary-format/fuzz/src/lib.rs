//! The checks behind the fuzz targets, shared with the seed writer.
//!
//! The reader's contract: arbitrary bytes never panic, hang or allocate more than a small
//! multiple of the input, and every reader error carries a byte offset. A module that parses with
//! `Detail::Full` also serializes, and the bytes written parse back to an equal `RawModule`.
//!
//! Allocation is measured by the counting global allocator of `fuzz-support`: the peak of live
//! heap bytes during one call, over what was live before it, must stay within [`ALLOC_BUDGET`].

pub mod bcs;

use binary_format::deserializer::{parse, Detail, ParseOptions};
use binary_format::raw::RawModule;
use binary_format::{detect_address_length, read_layouts, read_module, serializer, AddressLength, Error, ErrorKind};
use fuzz_support::{measured, Budget};

/// The heap one call may take: 256 live bytes per input byte, plus 256 KiB for fixed costs (error
/// messages, small vectors). A parsed module holds a few dozen bytes per input byte (tokens and
/// instructions are enum values in vectors that grow by doubling) and the normalized view a few
/// more (owned names); this leaves room for both.
pub const ALLOC_BUDGET: Budget = Budget { factor: 256, slack: 256 * 1024 };

pub const DETAILS: [Detail; 3] = [Detail::Layouts, Detail::Signatures, Detail::Full];

/// A reader error must say where it was found, inside the input, and what it is.
pub fn check_error(input: &[u8], e: &Error, what: &str) {
    let offset = e.offset().unwrap_or_else(|| panic!("{what}: error without an offset: {e:?}"));
    assert!(
        offset <= input.len(),
        "{what}: error offset {offset} is past the end of the {}-byte input: {e:?}",
        input.len()
    );
    assert!(!e.message().is_empty(), "{what}: error without a message");
}

/// `parse(serialize(m)) == m`, and the bytes written are a fixed point of the writer.
pub fn check_identity(m: &RawModule<'_>, options: &ParseOptions) {
    let bytes = serializer::serialize(m).unwrap_or_else(|e| panic!("a module that parsed does not serialize: {e:?}"));
    let back = parse(&bytes, options).unwrap_or_else(|e| panic!("a serialized module does not parse: {e:?}"));
    assert_eq!(&back, m, "parse(serialize(m)) != m");
    let again = serializer::serialize(&back).unwrap_or_else(|e| panic!("a re-parsed module does not serialize: {e:?}"));
    assert_eq!(again, bytes, "serialize is not a fixed point");
}

/// The `read_module` target: every address length, every detail level, both normalized reads.
pub fn check_read(data: &[u8]) {
    for length in AddressLength::ALL {
        let mut parsed: Vec<Option<RawModule<'_>>> = Vec::with_capacity(DETAILS.len());
        for detail in DETAILS {
            let options = ParseOptions::new(length, detail);
            let (result, peak) = measured(|| parse(data, &options));
            ALLOC_BUDGET.check(data, peak, "parse");
            match result {
                Ok(m) => {
                    if detail == Detail::Full {
                        check_identity(&m, &options);
                    }
                    parsed.push(Some(m));
                }
                Err(e) => {
                    check_error(data, &e, "parse");
                    parsed.push(None);
                }
            }
        }
        // Each level decodes a superset of the tables of the one before it.
        let ok: Vec<bool> = parsed.iter().map(Option::is_some).collect();
        assert!(
            ok.windows(2).all(|w| w[0] || !w[1]),
            "a higher detail level parsed where a lower one failed: {ok:?} ({length})"
        );
        if let [Some(layouts), Some(signatures), ..] = parsed.as_slice() {
            assert_eq!(layouts.struct_defs, signatures.struct_defs);
            assert_eq!(layouts.enum_defs, signatures.enum_defs);
            assert_eq!(layouts.datatype_handles, signatures.datatype_handles);
        }
        drop(parsed);

        let (module, peak) = measured(|| read_module(data, length));
        ALLOC_BUDGET.check(data, peak, "read_module");
        let (layouts, peak) = measured(|| read_layouts(data, length));
        ALLOC_BUDGET.check(data, peak, "read_layouts");
        // The normalized reads parse as `Detail::Signatures` and `Detail::Layouts` do; they may
        // only add a limit of their own.
        for (read, parsed, what) in [(&module, ok[1], "read_module"), (&layouts, ok[0], "read_layouts")] {
            match read {
                Ok(_) => assert!(parsed, "{what} succeeded where its parse failed"),
                Err(e) => assert!(
                    !parsed || e.kind() == ErrorKind::LimitExceeded,
                    "{what} failed where its parse succeeded: {e:?}"
                ),
            }
        }
        match (&module, &layouts) {
            (Ok(m), Ok(l)) => {
                assert_eq!(m.structs, l.structs);
                assert_eq!(m.dependencies, l.dependencies);
                assert!(l.functions.is_empty());
            }
            _ => {
                if let Err(e) = &module {
                    check_error(data, e, "read_module");
                }
                if let Err(e) = &layouts {
                    check_error(data, e, "read_layouts");
                }
            }
        }
    }
}

/// Splits `data` before each occurrence of the magic, so that concatenated modules come apart.
pub fn split_modules(data: &[u8]) -> Vec<&[u8]> {
    const MAGIC: [u8; 4] = [0xA1, 0x1C, 0xEB, 0x0B];
    let mut starts: Vec<usize> =
        data.windows(MAGIC.len()).enumerate().filter(|(_, w)| *w == MAGIC).map(|(i, _)| i).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut out: Vec<&[u8]> = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(data.len());
        out.push(data.get(start..end).unwrap_or_default());
    }
    out
}

/// The `detect` target: the decision is well formed and does not depend on module order.
pub fn check_detect(data: &[u8]) {
    let modules = split_modules(data);
    let (d, peak) = measured(|| detect_address_length(modules.iter().copied()));
    ALLOC_BUDGET.check(data, peak, "detect_address_length");
    assert_eq!(d.scores.len(), AddressLength::ALL.len());
    for (length, ok, _) in &d.scores {
        assert!(*ok <= modules.len(), "{length}: {ok} of {} parse", modules.len());
    }
    assert!(d.scores.iter().any(|s| s.0 == d.length));
    let reversed = detect_address_length(modules.iter().rev().copied());
    assert_eq!(reversed, d, "detection depends on module order");
}
