#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Resources per second for rewriting one stored resource, the work a migration does per
//! account.
//!
//! The baseline is what a migration written against `move-core-types` does: decode into a
//! `MoveValue`, change a field, encode. Beside it, the same through our `Value`. Derived
//! byte-level plans will join this group, so that one run compares them all on the same
//! machine. Three sizes of real stdlib v1 resources:
//! - small: `0x1::Account::Account` (41 bytes: a 32-byte key and a counter);
//! - medium: `0x1::Vouch::Vouch` with 12 buddies (201 bytes);
//! - large: `0x1::Migrations::Status` with vectors of nested structs (about 4 KB).
//!
//! After criterion's report, the medians are printed as resources per second.
//! Run: `cargo bench -p migrations --bench transcode`.

use binary_format::Address;
use criterion::{BenchmarkId, Criterion, Throughput};
use migrations::core_types::parse_struct_tag;
use migrations::value::{decode, encode};
use migrations::{Layout, ReleaseIndex, Value};
use move_core_types::value::{MoveStruct, MoveTypeLayout, MoveValue};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

const GROUP: &str = "transcode";
const BASELINE: &str = "move-core-types";
const OURS: &str = "value";

struct Case {
    name: &'static str,
    layout: Layout,
    move_layout: MoveTypeLayout,
    bytes: Vec<u8>,
    /// Which field to change: a path of field indexes to a u64, `usize::MAX` meaning the last
    /// element of a vector.
    path: &'static [usize],
}

fn bytes_of(n: usize, seed: u8) -> Value {
    Value::Vector((0..n).map(|i| Value::U8(seed.wrapping_add(i as u8))).collect())
}

fn address(n: u64) -> Value {
    Value::Address(Address::from_u64(0xa000_0000_0000 + n))
}

fn cases() -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../stdlib/releases/v1");
    let release = stdlib::release::load(&path, stdlib::release::LoadOptions::default()).unwrap();
    let index = ReleaseIndex::new(release.modules.iter().map(|m| &m.module), release.address_length).unwrap();
    let layout = |tag: &str| index.layout_of_struct_tag(&parse_struct_tag(tag).unwrap()).unwrap();

    let account = Value::Struct(vec![bytes_of(32, 7), Value::U64(41)]);
    let vouch = Value::Struct(vec![Value::Vector((0..12).map(address).collect()), Value::U64(90)]);
    let activation = |i: u64| Value::Struct(vec![Value::U64(i), Value::U64(1_000 * i)]);
    let completed =
        |i: u64| Value::Struct(vec![bytes_of(16, i as u8), bytes_of(32, 3 * i as u8), Value::U64(1_000 * i + 7)]);
    let in_progress = |i: u64| Value::Struct(vec![bytes_of(16, i as u8), bytes_of(32, 5), Value::U64(i)]);
    let failure = |i: u64| Value::Struct(vec![address(i), bytes_of(8, 1), bytes_of(100, i as u8)]);
    let status = Value::Struct(vec![
        Value::Vector((1..=20).map(activation).collect()),
        Value::Vector((1..=40).map(completed).collect()),
        Value::Vector((1..=2).map(in_progress).collect()),
        Value::Vector((1..=10).map(failure).collect()),
    ]);

    let mut out = Vec::new();
    for (name, tag, value, path) in [
        ("small", "0x1::Account::Account", account, &[1usize][..]),
        ("medium", "0x1::Vouch::Vouch", vouch, &[1][..]),
        ("large", "0x1::Migrations::Status", status, &[1, usize::MAX, 2][..]),
    ] {
        let layout = layout(tag);
        let bytes = encode(&value, &layout).unwrap();
        let move_layout = layout.to_move_layout().unwrap();
        out.push(Case { name, layout, move_layout, bytes, path });
    }
    out
}

fn step<T>(items: &mut [T], i: usize) -> &mut T {
    let i = if i == usize::MAX { items.len() - 1 } else { i };
    &mut items[i]
}

/// The baseline: decode into `MoveValue`, add one to a u64 field, encode.
fn through_move_value(case: &Case) -> Vec<u8> {
    let mut value = MoveValue::simple_deserialize(&case.bytes, &case.move_layout).unwrap();
    let mut at = &mut value;
    for &i in case.path {
        at = match at {
            MoveValue::Struct(MoveStruct::Runtime(fields)) => step(fields, i),
            MoveValue::Vector(items) => step(items, i),
            other => panic!("no field {i} in {other:?}"),
        };
    }
    match at {
        MoveValue::U64(n) => *n += 1,
        other => panic!("not a u64: {other:?}"),
    }
    value.simple_serialize().unwrap()
}

/// The same through our `Value`.
fn through_value(case: &Case) -> Vec<u8> {
    let mut value = decode(&case.bytes, &case.layout).unwrap();
    let mut at = &mut value;
    for &i in case.path {
        at = match at {
            Value::Struct(fields) => step(fields, i),
            Value::Vector(items) => step(items, i),
            other => panic!("no field {i} in {other:?}"),
        };
    }
    match at {
        Value::U64(n) => *n += 1,
        other => panic!("not a u64: {other:?}"),
    }
    encode(&value, &case.layout).unwrap()
}

fn transcode(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group(GROUP);
    group.measurement_time(Duration::from_secs(3));
    for case in cases {
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new(BASELINE, case.name), case, |b, case| {
            b.iter(|| through_move_value(black_box(case)))
        });
        group.bench_with_input(BenchmarkId::new(OURS, case.name), case, |b, case| {
            b.iter(|| through_value(black_box(case)))
        });
    }
    group.finish();
}

/// Where criterion writes its estimates: as criterion decides it, but without asking cargo.
fn output_directory() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("criterion")
}

/// The median time per iteration of one benchmark, in nanoseconds, from criterion's estimates.
fn median_ns(dir: &Path, function: &str, size: &str) -> Option<f64> {
    let path = dir.join(GROUP).join(function).join(size).join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn print_medians(dir: &Path, cases: &[Case]) {
    let mut lines = Vec::new();
    for case in cases {
        let (Some(base), Some(ours)) = (median_ns(dir, BASELINE, case.name), median_ns(dir, OURS, case.name)) else {
            return;
        };
        lines.push(format!(
            "{:<7} {:>6} B  {BASELINE}: {:>10.0} resources/s ({:>8.0} ns)   {OURS}: {:>10.0} resources/s ({:>8.0} ns)   {:.2}x",
            case.name,
            case.bytes.len(),
            1e9 / base,
            base,
            1e9 / ours,
            ours,
            base / ours,
        ));
    }
    println!("\nmedians, decode -> change one u64 -> encode:");
    for line in lines {
        println!("{line}");
    }
}

fn main() {
    let cases = cases();
    for case in &cases {
        // Both paths make the same bytes, and change exactly what they should.
        let expected = through_move_value(case);
        assert_eq!(through_value(case), expected, "{}", case.name);
        assert_ne!(expected, case.bytes, "{}", case.name);
        assert_eq!(expected.len(), case.bytes.len(), "{}", case.name);
    }
    let dir = output_directory();
    let mut criterion = Criterion::default().output_directory(&dir).configure_from_args();
    transcode(&mut criterion, &cases);
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once and measures nothing: no medians then.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        print_medians(&dir, &cases);
    }
}
