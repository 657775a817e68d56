#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Bounded mutation testing of the reader, for the normal suite (the open-ended version is the
//! cargo-fuzz project in `fuzz/`).
//!
//! Generated modules of every shape are written, then mutated deterministically: bit flips, bytes
//! set to 0x00/0x7f/0x80/0xff, truncations, insertions, deletions, duplicated ranges, large and
//! malformed ULEB128 values. Every mutant is read with every address length at every detail level
//! and with `read_module`/`read_layouts`. The contract checked: no panic, every error has an
//! offset inside the input and a message, a higher detail level never succeeds where a lower one
//! fails, and a mutant that parses with `Detail::Full` serializes and parses back equal.

use binary_format::generate::{self, Rng, Shape};
use binary_format::{
    parse, read_layouts, read_module, serializer, write_module, write_uleb, AddressLength, Detail, Error, ErrorKind,
    NoResolver, ParseOptions,
};
use std::collections::BTreeMap;

mod common;
use common::module;

const DETAILS: [Detail; 3] = [Detail::Layouts, Detail::Signatures, Detail::Full];
const MODULES_PER_SHAPE: usize = 5;
const FRAMEWORK_MODULES_PER_SHAPE: usize = 2;
const MUTANTS_PER_MODULE: usize = 150;

/// What happened to the mutants, to check the mutations reach past the header.
#[derive(Debug, Default)]
struct Stats {
    mutants: usize,
    full_parses: usize,
    layout_parses: usize,
    errors: BTreeMap<String, usize>,
}

fn check_error(input: &[u8], e: &Error, what: &str) {
    let offset = e.offset().unwrap_or_else(|| panic!("{what}: error without an offset: {e:?}\ninput: {}", hex(input)));
    assert!(
        offset <= input.len(),
        "{what}: offset {offset} past the end of {} bytes: {e:?}\ninput: {}",
        input.len(),
        hex(input)
    );
    assert!(!e.message().is_empty(), "{what}: empty message\ninput: {}", hex(input));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Reads `input` every way the crate offers and checks the contract.
fn check(input: &[u8], stats: &mut Stats) {
    stats.mutants += 1;
    for length in AddressLength::ALL {
        let mut ok = [false; 3];
        for (i, detail) in DETAILS.into_iter().enumerate() {
            let options = ParseOptions::new(length, detail);
            match parse(input, &options) {
                Ok(m) => {
                    ok[i] = true;
                    if detail == Detail::Full {
                        stats.full_parses += 1;
                        let bytes = serializer::serialize(&m)
                            .unwrap_or_else(|e| panic!("parsed but does not serialize: {e:?}\ninput: {}", hex(input)));
                        let back = parse(&bytes, &options)
                            .unwrap_or_else(|e| panic!("serialized but does not parse: {e:?}\ninput: {}", hex(input)));
                        assert_eq!(back, m, "identity fails ({length})\ninput: {}", hex(input));
                    }
                }
                Err(e) => {
                    check_error(input, &e, "parse");
                    *stats.errors.entry(format!("{:?}", e.kind())).or_default() += 1;
                }
            }
        }
        assert!(
            ok[0] >= ok[1] && ok[1] >= ok[2],
            "a higher detail level parsed where a lower one failed: {ok:?} ({length})\ninput: {}",
            hex(input)
        );
        stats.layout_parses += usize::from(ok[0]);
        let module = read_module(input, length);
        let layouts = read_layouts(input, length);
        // The normalized reads parse as `Signatures` and `Layouts` do, and may only add a limit.
        for (read, parsed, what) in [(&module, ok[1], "read_module"), (&layouts, ok[0], "read_layouts")] {
            match read {
                Ok(_) => assert!(parsed, "{what} succeeded where its parse failed\ninput: {}", hex(input)),
                Err(e) => assert!(
                    !parsed || e.kind() == ErrorKind::LimitExceeded,
                    "{what} failed where its parse succeeded: {e:?}\ninput: {}",
                    hex(input)
                ),
            }
        }
        match (&module, &layouts) {
            (Ok(m), Ok(l)) => assert_eq!(m.structs, l.structs),
            _ => {
                if let Err(e) = &module {
                    check_error(input, e, "read_module");
                }
                if let Err(e) = &layouts {
                    check_error(input, e, "read_layouts");
                }
            }
        }
    }
}

/// ULEB128 values that stress counts, indices and lengths, plus malformed encodings.
const ULEBS: [&[u8]; 10] = [
    &[0xff, 0x01],                                                       // 255
    &[0xff, 0xff, 0x03],                                                 // 65535
    &[0x80, 0x80, 0x04],                                                 // 65536
    &[0xff, 0xff, 0xff, 0xff, 0x0f],                                     // u32::MAX
    &[0x80, 0x80, 0x80, 0x80, 0x10],                                     // 2^32
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],       // u64::MAX
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],       // overflows 64 bits
    &[0x80, 0x00],                                                       // overlong zero
    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // too many groups
    &[0x80],                                                             // unterminated at the end of a table
];

const INTERESTING: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/// A position, biased towards the header and table directory.
fn position(rng: &mut Rng, len: usize) -> usize {
    if len == 0 {
        0
    } else if rng.chance(35) {
        rng.below(len.min(48))
    } else {
        rng.below(len)
    }
}

fn mutate_once(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    let at = position(rng, len);
    match rng.below(9) {
        0 if len > 0 => bytes[at] ^= 1 << rng.below(8),
        1 if len > 0 => bytes[at] = *rng.pick(&INTERESTING).unwrap(),
        2 => bytes.truncate(at),
        3 => {
            let n = 1 + rng.below(8);
            let fresh: Vec<u8> = (0..n)
                .map(|_| if rng.chance(50) { *rng.pick(&INTERESTING).unwrap() } else { rng.next_u64() as u8 })
                .collect();
            bytes.splice(at..at, fresh);
        }
        4 if len > 0 => {
            let end = (at + 1 + rng.below(16)).min(len);
            bytes.drain(at..end);
        }
        5 if len > 0 => {
            let end = (at + 1 + rng.below(32)).min(len);
            let copy = bytes[at..end].to_vec();
            let to = rng.below(len + 1);
            bytes.splice(to..to, copy);
        }
        6 => {
            // Replace one byte (a count, an index, a length...) by a large or malformed ULEB.
            let value = rng.pick(&ULEBS).unwrap().to_vec();
            let end = (at + 1).min(len);
            bytes.splice(at..end, value);
        }
        7 if len >= 4 => {
            // A 32-bit little-endian word (the version word, an immediate).
            let at = at.min(len - 4);
            let word: u32 = *rng.pick(&[0, 1, 7, 0x0500_0007, 0x0a00_0008, 0x8000_0000, u32::MAX]).unwrap();
            bytes[at..at + 4].copy_from_slice(&word.to_le_bytes());
        }
        _ if len > 1 => {
            let other = rng.below(len);
            bytes.swap(at, other);
        }
        _ => bytes.push(rng.next_u64() as u8),
    }
}

/// Per shape: modules written by `write_module` (minimal bodies), and framework-like modules
/// whose bodies use every opcode of their version.
fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, shape) in Shape::all_versions().into_iter().enumerate() {
        let seed = 0x6d75_7461 + i as u64;
        for m in generate::release(seed, &shape, MODULES_PER_SHAPE) {
            out.push(write_module(&m, shape.address_length, &NoResolver).unwrap());
        }
        let framework = generate::framework_release(seed, &shape, FRAMEWORK_MODULES_PER_SHAPE, 3, 12);
        assert_eq!(framework.len(), FRAMEWORK_MODULES_PER_SHAPE);
        out.extend(framework);
    }
    out
}

#[test]
fn mutants_of_every_shape_keep_the_contract() {
    let mut rng = Rng::new(0x00c0_ffee);
    let mut stats = Stats::default();
    for original in seeds() {
        check(&original, &mut stats);
        for _ in 0..MUTANTS_PER_MODULE {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(3) {
                mutate_once(&mut rng, &mut bytes);
            }
            check(&bytes, &mut stats);
        }
    }
    eprintln!("{stats:?}");
    let expected =
        Shape::all_versions().len() * (MODULES_PER_SHAPE + FRAMEWORK_MODULES_PER_SHAPE) * (MUTANTS_PER_MODULE + 1);
    assert_eq!(stats.mutants, expected);
    // The mutations must reach past the header: some mutants still parse, errors are varied.
    assert!(stats.full_parses > stats.mutants / 20, "too few full parses: {stats:?}");
    assert!(stats.layout_parses > stats.full_parses, "{stats:?}");
    for kind in [
        ErrorKind::UnexpectedEof,
        ErrorKind::BadTable,
        ErrorKind::IndexOutOfBounds,
        ErrorKind::BadLeb128,
        ErrorKind::BadEncoding,
        ErrorKind::TrailingBytes,
    ] {
        assert!(stats.errors.contains_key(&format!("{kind:?}")), "no mutant produced {kind:?}: {stats:?}");
    }
}

/// Inputs that fixed bugs; each is checked like a mutant.
const REGRESSIONS: &[&str] = &[
    // Nested function types that each reserved 255 result tokens before reading one (fixed by
    // reserving at most 4): 54 bytes made the parser hold 114 KB.
    "a11ceb0b080000000105002901100000ff01100000ff01100000ff01100000ff01100000ff01100000ff01100000ff01100000ff0100",
];

#[test]
fn regressions_keep_the_contract() {
    let mut stats = Stats::default();
    for input in REGRESSIONS {
        check(&unhex(input), &mut stats);
    }
}

/// Headers and entries that claim gigabytes: each must fail at once, before allocating for it.
fn huge_claims() -> Vec<(&'static str, Vec<u8>)> {
    const IDS: u8 = 0x07;
    const ADDRESSES: u8 = 0x08;
    const MODULE_HANDLES: u8 = 0x01;
    const STRUCT_HANDLES: u8 = 0x02;
    const SIGNATURES: u8 = 0x05;
    const CONSTANTS: u8 = 0x06;
    const FUNCTION_HANDLES: u8 = 0x03;
    const FUNCTION_DEFS: u8 = 0x0c;
    const STRUCT_DEFS: u8 = 0x0a;
    const METADATA: u8 = 0x10;
    let head = |count: &[u8]| {
        let mut out = vec![0xa1, 0x1c, 0xeb, 0x0b, 0x06, 0, 0, 0];
        out.extend(count);
        out
    };
    let with = |mut out: Vec<u8>, tail: &[u8]| {
        out.extend(tail);
        out
    };
    let ids = || {
        let mut t = Vec::new();
        for name in ["M", "f"] {
            write_uleb(&mut t, name.len() as u64);
            t.extend(name.as_bytes());
        }
        (IDS, t)
    };
    let base = || vec![ids(), (ADDRESSES, vec![0; 16]), (MODULE_HANDLES, vec![0, 0])];
    let plus = |extra: Vec<(u8, Vec<u8>)>| {
        let mut tables = base();
        tables.extend(extra);
        module(6, &tables)
    };
    let u32_max = [0xff, 0xff, 0xff, 0xff, 0x0f];
    let u64_max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let mut table_4g = Vec::new();
    write_uleb(&mut table_4g, u64::from(u32::MAX));
    let fields = |count: &[u8]| {
        let mut t = vec![0, 0x02];
        t.extend(count);
        t.extend([0, 0x01]);
        t
    };
    let code = |count: &[u8]| {
        let mut t = vec![0, 0x01, 0x00, 0x00, 0x00];
        t.extend(count);
        t.push(0x02);
        t
    };
    vec![
        ("table count u64::MAX", head(&u64_max)),
        ("table count u32::MAX", head(&u32_max)),
        ("table count 2^32", head(&[0x80, 0x80, 0x80, 0x80, 0x10])),
        ("table count 64, no headers", head(&[0x40])),
        ("a 4 GiB table", with(head(&[1, IDS, 0]), &table_4g)),
        (
            "two 2 GiB tables",
            with(
                head(&[2, IDS, 0, 0x80, 0x80, 0x80, 0x80, 0x08, ADDRESSES]),
                &[0x80, 0x80, 0x80, 0x80, 0x08, 0x80, 0x80, 0x80, 0x80, 0x08],
            ),
        ),
        ("a table at offset 4 GiB", with(head(&[1, IDS]), &[0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])),
        ("a table offset past 64 bits", with(head(&[1, IDS]), &[0xff; 12])),
        ("an identifier of 4 GiB", module(6, &[(IDS, with(u32_max.to_vec(), b"M"))])),
        ("an identifier of 65535 bytes", module(6, &[(IDS, vec![0xff, 0xff, 0x03, b'M'])])),
        ("an address table of 4 GiB", with(head(&[1, ADDRESSES, 0]), &table_4g)),
        ("a struct handle with u64::MAX type parameters", plus(vec![(STRUCT_HANDLES, with(vec![0, 0, 0], &u64_max))])),
        (
            "a struct with u32::MAX fields",
            plus(vec![(STRUCT_HANDLES, vec![0, 0, 0, 0]), (STRUCT_DEFS, fields(&u32_max))]),
        ),
        (
            "a struct with 255 fields in 2 bytes",
            plus(vec![(STRUCT_HANDLES, vec![0, 0, 0, 0]), (STRUCT_DEFS, fields(&[0xff, 0x01]))]),
        ),
        ("a signature of u64::MAX tokens", plus(vec![(SIGNATURES, u64_max.to_vec())])),
        (
            "a type instantiation of u32::MAX arguments",
            plus(vec![(STRUCT_HANDLES, vec![0, 0, 0, 0]), (SIGNATURES, with(vec![1, 0x0b, 0], &u32_max))]),
        ),
        ("a constant of 4 GiB", plus(vec![(CONSTANTS, with(vec![0x02], &u32_max))])),
        ("a metadata value of u64::MAX bytes", plus(vec![(METADATA, with(vec![1, b'k'], &u64_max))])),
        (
            "a code unit of 65535 instructions",
            plus(vec![
                (SIGNATURES, vec![0]),
                (FUNCTION_HANDLES, vec![0, 1, 0, 0, 0]),
                (FUNCTION_DEFS, code(&[0xff, 0xff, 0x03])),
            ]),
        ),
        (
            "a code unit of u32::MAX instructions",
            plus(vec![(SIGNATURES, vec![0]), (FUNCTION_HANDLES, vec![0, 1, 0, 0, 0]), (FUNCTION_DEFS, code(&u32_max))]),
        ),
        (
            "a function with u64::MAX acquires",
            plus(vec![
                (SIGNATURES, vec![0]),
                (FUNCTION_HANDLES, vec![0, 1, 0, 0, 0]),
                (FUNCTION_DEFS, with(vec![0, 0x01, 0x00], &u64_max)),
            ]),
        ),
    ]
}

/// Reads every huge claim every way (`check`); each full parse must be an error.
fn read_huge_claims() {
    let mut stats = Stats::default();
    for (name, bytes) in huge_claims() {
        for length in AddressLength::ALL {
            // `Detail::Layouts` skips the function tables, so only a full parse must fail.
            let e = parse(&bytes, &ParseOptions::new(length, Detail::Full)).map(|_| ()).expect_err(name);
            check_error(&bytes, &e, name);
        }
        check(&bytes, &mut stats);
    }
}

#[test]
fn huge_claimed_sizes_fail_fast() {
    let start = std::time::Instant::now();
    read_huge_claims();
    let mut kinds = BTreeMap::new();
    for (name, bytes) in huge_claims() {
        let e = parse(&bytes, &ParseOptions::new(AddressLength::Bytes16, Detail::Full)).map(|_| ()).unwrap_err();
        *kinds.entry(format!("{:?}", e.kind())).or_insert(0) += 1;
        assert!(
            matches!(
                e.kind(),
                ErrorKind::LimitExceeded | ErrorKind::UnexpectedEof | ErrorKind::BadTable | ErrorKind::BadLeb128
            ),
            "{name}: {e:?}"
        );
    }
    assert!(kinds.len() >= 3, "{kinds:?}");
    // Generous for a loaded debug build; an allocation or a walk sized by a claim takes seconds.
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
}

/// The same inputs in a child process whose address space is capped at 1 GiB: an allocation sized
/// by any of the claimed counts (gigabytes) would abort it. The test runs itself as that child,
/// told by `CHILD_ENV`.
#[cfg(target_os = "linux")]
#[test]
fn huge_claimed_sizes_do_not_allocate() {
    if std::env::var_os(CHILD_ENV).is_some() {
        read_huge_claims();
        read_amplifiers();
        println!("{CHILD_DONE}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            r#"ulimit -v 1048576 && exec "$0" --exact huge_claimed_sizes_do_not_allocate --nocapture --test-threads=1"#,
        )
        .arg(exe)
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(CHILD_DONE),
        "reading the huge claims under a 1 GiB address-space limit failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

const CHILD_ENV: &str = "BINARY_FORMAT_MEMORY_LIMITED_CHILD";
const CHILD_DONE: &str = "huge claims read under the limit";

/// A module with one big signature: 255 tokens of `vector^254<u8>`, about 65 000 types.
fn big_signature() -> Vec<u8> {
    let mut sig = vec![0xff, 0x01];
    for _ in 0..255 {
        sig.extend([0x0a; 254]);
        sig.push(0x02);
    }
    sig
}

/// Modules whose normalized view would take gigabytes: a 60 000-byte name used by each of 7 650
/// fields (three copies each), and the big signature used by 10 000 native functions of 4 bytes.
fn amplifiers() -> Vec<(&'static str, Vec<u8>)> {
    let mut ids = Vec::new();
    write_uleb(&mut ids, 60_000);
    ids.extend(std::iter::repeat_n(b'a', 60_000));
    let mut defs = Vec::new();
    for _ in 0..30 {
        defs.extend([0, 0x02, 0xff, 0x01]);
        for _ in 0..255 {
            defs.extend([0, 0x08, 0]);
        }
    }
    let long_name =
        module(6, &[(0x07, ids), (0x08, vec![0; 16]), (0x01, vec![0, 0]), (0x02, vec![0, 0, 0, 0]), (0x0a, defs)]);
    let mut functions = Vec::new();
    for _ in 0..10_000 {
        functions.extend([0, 0x01, 0x02, 0x00]);
    }
    let shared_signature = module(
        6,
        &[
            (0x07, vec![1, b'M', 1, b'f']),
            (0x08, vec![0; 16]),
            (0x01, vec![0, 0]),
            (0x05, big_signature()),
            (0x03, vec![0, 1, 0, 0, 0]),
            (0x0c, functions),
        ],
    );
    vec![("a long name used by every field", long_name), ("a big signature used by every function", shared_signature)]
}

/// The normalized reads refuse them with a limit, instead of allocating gigabytes. Run only under
/// the address-space cap of `huge_claimed_sizes_do_not_allocate`.
fn read_amplifiers() {
    let mut stats = Stats::default();
    for (name, bytes) in amplifiers() {
        check(&bytes, &mut stats);
        let e = read_module(&bytes, AddressLength::Bytes16).map(|_| ()).expect_err(name);
        assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{name}: {e:?}");
    }
}

#[test]
fn signature_scope_checks_are_linear() {
    // The big signature used by 16 000 function handles: its type parameters are found once, not
    // 32 000 times (that took minutes).
    let mut handles = Vec::new();
    for _ in 0..16_000 {
        handles.extend([0, 1, 0, 0, 0]);
    }
    let bytes = module(
        6,
        &[
            (0x07, vec![1, b'M', 1, b'f']),
            (0x08, vec![0; 16]),
            (0x01, vec![0, 0]),
            (0x05, big_signature()),
            (0x03, handles),
        ],
    );
    let start = std::time::Instant::now();
    parse(&bytes, &ParseOptions::new(AddressLength::Bytes16, Detail::Signatures)).unwrap();
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
}
