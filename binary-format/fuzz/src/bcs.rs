//! The `bcs` target: the one BCS reader (`binary_format::bcs::Reader`) over arbitrary bytes, as a
//! reader program: the first bytes script calls of every method (with their limits, minimum
//! element sizes and a memory budget) over the rest. The decoders built on the reader (struct
//! tags, values, the derived plans) have their own target, `decoders` in `migrations/fuzz`.
//!
//! The contract: no panic; every error lies inside the input (offsets are the base's plus the
//! position); what reads is canonical (a ULEB128 encodes back to the same bytes); counts are
//! checked before allocation, and a budget bounds what a list allocates.

use binary_format::bcs::{ErrorKind, Reader};
use binary_format::{write_uleb, AddressLength};
use fuzz_support::measured;

/// Heap bytes a budgeted read may allocate beyond its budget: the error, its path and the
/// strings in it.
pub const BUDGET_SLACK: usize = 64 * 1024;

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

/// Seeds of reader programs.
pub fn seeds() -> Vec<Vec<u8>> {
    // Base 0: a ULEB128, a count, a byte string, a list, a bool, a variant.
    let script: &[u8] = &[7, 0xff, 8, 3, 9, 16, 11, 4, 5, 0, 12, 3];
    let mut program = vec![0u8, script.len() as u8];
    program.extend(script);
    program.extend([0xac, 0x02, 2, 0, 0, 3, b'a', b'b', b'c', 2, 1, 2, 1, 2]);
    vec![program]
}
