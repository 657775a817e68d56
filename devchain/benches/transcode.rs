#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! Resources per second for rewriting one stored resource, the work a migration does per
//! account, compared in one run on the same machine:
//! - (a) `move-core-types`: the baseline, what a migration written against `move-core-types`
//!   does: decode into a `MoveValue`, make the change, encode;
//! - (b) `value`: the same through our `Value`;
//! - (c) `derived-plan`: the byte-level plan derived from the layout diff (through
//!   `Instance::transform`, as the runner calls it, when the stdlib catalogue has the entry);
//! - (d) `hand-written`: the stdlib's `stake_weight` transform, through the catalogue instance;
//!   beside it, `hand-written-direct`: the same handler between our decoder and encoder with
//!   layouts built once, which is what (d) costs without `Instance::transform`'s per-call work.
//!
//! Each resource is migrated with a realistic change, the same change on every path:
//! - small: `0x1::Epoch::Epoch` (32 bytes) gains `height: u64 = 0` (stdlib `epoch-v2`);
//! - medium: `0x1::Vouch::Vouch` with 12 buddies (201 bytes) loses `epoch_vouched: u64`
//!   (stdlib `vouch-v3`);
//! - large: `0x1::Migrations::Status` with vectors of nested structs (4 KB) gains a `u64` field
//!   appended with a default (no stdlib entry: the plan is compiled directly);
//! - stake: `0x5::Stake::Stake` (32 bytes) becomes v3, `weight = locked.value + pending`
//!   (stdlib `stake-v3`, hand-written).
//!
//! Every path allocates the new resource's bytes, as the runner does. After criterion's report, a
//! table gives each path's median time and resources per second, and the speed-up of (c) and (d)
//! over (a). Run: `cargo bench -p devchain --bench transcode`.

use binary_format::{Address, AddressLength, Module};
use criterion::{BenchmarkId, Criterion, Throughput};
use migrations::catalogue::{Catalogue, Compiled, Instance};
use migrations::handlers::HandlerContext;
use migrations::literal::encode_literal;
use migrations::plan::DerivedPlan;
use migrations::value::{decode, encode, encode_into};
use migrations::{FieldLayout, Layout, StructLayout, Value};
use move_core_types::value::{MoveStruct, MoveTypeLayout, MoveValue};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

const GROUP: &str = "transcode";
const BASELINE: &str = "move-core-types";
const OURS: &str = "value";
const DERIVED: &str = "derived-plan";
const HAND_WRITTEN: &str = "hand-written";
const HAND_WRITTEN_DIRECT: &str = "hand-written-direct";

/// The change a case makes, on either kind of value tree.
#[derive(Debug, Clone, Copy)]
enum Change {
    /// A `u64` field appended with this value.
    AppendU64(u64),
    /// The field at this position removed.
    Remove(usize),
    /// Stake v2 -> v3: `[locked, pending, unlock_epoch]` -> `[locked, unlock_epoch, weight]`.
    StakeWeight,
}

/// How the new bytes are made on the fast path.
enum Fast {
    Instance(Box<Instance>),
    Plan(DerivedPlan),
}

impl Fast {
    fn transform(&self, old: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(old.len() + 16);
        match self {
            Fast::Instance(i) => i.transform(old, &mut out).unwrap(),
            Fast::Plan(p) => p.transcode(old, &mut out).unwrap(),
        }
        out
    }

    /// Which of (c) or (d) this is.
    fn function(&self) -> &'static str {
        match self {
            Fast::Instance(i) if matches!(i.compiled, Compiled::HandWritten(_)) => HAND_WRITTEN,
            _ => DERIVED,
        }
    }

    /// A hand-written instance's handler, called directly: decode, handler, encode, with the
    /// layouts wrapped once rather than per resource.
    fn direct(&self, case: &Case, old: &[u8]) -> Option<Vec<u8>> {
        let Fast::Instance(i) = self else { return None };
        let Compiled::HandWritten(handler) = i.compiled else { return None };
        let value = decode(old, &case.old_layout).unwrap();
        let new = handler(&value, &HandlerContext { old: &i.old_layout, new: &i.new_layout }).unwrap();
        let mut out = Vec::with_capacity(old.len() + 16);
        encode_into(&new, &case.new_layout, &mut out).unwrap();
        Some(out)
    }
}

struct Case {
    name: &'static str,
    what: &'static str,
    old_layout: Layout,
    new_layout: Layout,
    move_layout: MoveTypeLayout,
    bytes: Vec<u8>,
    change: Change,
    fast: Fast,
}

fn release(n: usize) -> Vec<Module> {
    stdlib::build::build_release(n).unwrap().modules.into_iter().map(|m| m.module).collect()
}

/// The stdlib catalogue of the release after `old` (0: v1 -> v2, 1: v2 -> v3), as the runner
/// would build it.
fn catalogue(old: usize) -> Catalogue {
    devchain::catalogue(old, &devchain::handlers()).unwrap()
}

fn instance(c: &Catalogue, id: &str) -> Instance {
    c.instance(c.entry(id).unwrap(), &[]).unwrap()
}

fn bytes_of(n: usize, seed: u8) -> Value {
    Value::Bytes((0..n).map(|i| seed.wrapping_add(i as u8)).collect())
}

fn address(n: u64) -> Value {
    Value::Address(Address::from_u64(0xa000_0000_0000 + n))
}

fn layout_of(s: &StructLayout) -> Layout {
    Layout::Struct(Box::new(s.clone()))
}

fn case(name: &'static str, what: &'static str, instance: Instance, value: Value, change: Change) -> Case {
    let (old_layout, new_layout) = (layout_of(&instance.old_layout), layout_of(&instance.new_layout));
    let bytes = encode(&value, &old_layout).unwrap();
    let move_layout = migrations::core_types::move_layout(&old_layout).unwrap();
    Case { name, what, old_layout, new_layout, move_layout, bytes, change, fast: Fast::Instance(Box::new(instance)) }
}

fn cases() -> Vec<Case> {
    let (v2, v3) = (catalogue(0), catalogue(1));

    let timer = Value::Struct(vec![Value::U64(1_700_000_000), Value::U64(60)]);
    let epoch = Value::Struct(vec![Value::U64(41), Value::U64(7), timer]);
    let vouch = Value::Struct(vec![Value::Vector((0..12).map(address).collect()), Value::U64(90)]);
    let stake = Value::Struct(vec![Value::Struct(vec![Value::U128(5_000_000)]), Value::U64(20), Value::U64(9)]);

    // The status as the stdlib lays it out: each release scheduled (number, label, heights, the
    // budget and limits it runs under, its entries and their checksums, its tables), then the
    // migrations completed, running and failed (their migration, key and reason).
    let planned = |i: u64| Value::Struct(vec![bytes_of(16, i as u8), bytes_of(32, 7 * i as u8)]);
    let scheduled = |i: u64| {
        Value::Struct(vec![
            Value::U64(i),
            bytes_of(5, b'0' + i as u8),
            Value::U64(1_000 * i),
            Value::U64(1_000 * i + 3),
            Value::U64(1_000),
            Value::U64(1 << 20),
            Value::U64(16),
            Value::U64(1 << 16),
            Value::Vector((2 * i..2 * i + 2).map(planned).collect()),
            bytes_of(0, 0),
        ])
    };
    let completed =
        |i: u64| Value::Struct(vec![bytes_of(16, i as u8), bytes_of(32, 3 * i as u8), Value::U64(1_000 * i + 7)]);
    let in_progress = |i: u64| Value::Struct(vec![bytes_of(16, i as u8), bytes_of(32, 5), Value::U64(i)]);
    let failure = |i: u64| Value::Struct(vec![bytes_of(8, 1), bytes_of(17, i as u8), bytes_of(100, i as u8)]);
    let status = Value::Struct(vec![
        Value::Vector((1..=2).map(scheduled).collect()),
        Value::Vector((1..=40).map(completed).collect()),
        Value::Vector((1..=2).map(in_progress).collect()),
        Value::Vector((1..=10).map(failure).collect()),
    ]);
    // Status gains a field appended with a default: no stdlib release does this, so the plan is
    // compiled from the v1 layout and a hand-made new one.
    let v1 = release(0);
    let index = migrations::ReleaseIndex::new(v1.iter(), AddressLength::Bytes16).unwrap();
    let tag = migrations::StructTag::parse("0x1::Migrations::Status", binary_format::AddressLength::Bytes16).unwrap();
    let Layout::Struct(old_status) = index.layout_of_struct_tag(&tag).unwrap() else { panic!("not a struct") };
    let mut new_status = old_status.clone();
    new_status.fields.push(FieldLayout { name: "last_checked".into(), layout: Layout::U64 });
    let defaults = BTreeMap::from([("last_checked".to_owned(), encode_literal("0", &Layout::U64).unwrap())]);
    let plan = DerivedPlan::compile(&old_status, &new_status, &BTreeMap::new(), &defaults).unwrap();
    let (old_layout, new_layout) = (layout_of(&old_status), layout_of(&new_status));
    let large = Case {
        name: "large",
        what: "Migrations::Status +field",
        bytes: encode(&status, &old_layout).unwrap(),
        move_layout: migrations::core_types::move_layout(&old_layout).unwrap(),
        old_layout,
        new_layout,
        change: Change::AppendU64(0),
        fast: Fast::Plan(plan),
    };

    vec![
        case("small", "Epoch +height (epoch-v2)", instance(&v2, "epoch-v2"), epoch, Change::AppendU64(0)),
        case("medium", "Vouch -epoch_vouched (vouch-v3)", instance(&v3, "vouch-v3"), vouch, Change::Remove(1)),
        large,
        case("stake", "Stake weight (stake-v3)", instance(&v3, "stake-v3"), stake, Change::StakeWeight),
    ]
}

/// (a) The baseline: decode into `MoveValue`, change, encode.
fn through_move_value(case: &Case) -> Vec<u8> {
    let value = MoveValue::simple_deserialize(&case.bytes, &case.move_layout).unwrap();
    let MoveValue::Struct(s) = value else { panic!("not a struct") };
    let mut fields = s.into_fields();
    match case.change {
        Change::AppendU64(n) => fields.push(MoveValue::U64(n)),
        Change::Remove(i) => {
            fields.remove(i);
        }
        Change::StakeWeight => {
            let [locked, MoveValue::U64(pending), unlock_epoch] = <[MoveValue; 3]>::try_from(fields).unwrap() else {
                panic!("not a v2 stake")
            };
            let MoveValue::Struct(coin) = &locked else { panic!("not a coin") };
            let Some(MoveValue::U128(value)) = coin.fields().first() else { panic!("not a coin") };
            let weight = value.checked_add(u128::from(pending)).unwrap();
            fields = vec![locked, unlock_epoch, MoveValue::U128(weight)];
        }
    }
    MoveValue::Struct(MoveStruct::Runtime(fields)).simple_serialize().unwrap()
}

/// (b) The same through our `Value`.
fn through_value(case: &Case) -> Vec<u8> {
    let value = decode(&case.bytes, &case.old_layout).unwrap();
    let Value::Struct(mut fields) = value else { panic!("not a struct") };
    match case.change {
        Change::AppendU64(n) => fields.push(Value::U64(n)),
        Change::Remove(i) => {
            fields.remove(i);
        }
        Change::StakeWeight => {
            let [locked, Value::U64(pending), unlock_epoch] = <[Value; 3]>::try_from(fields).unwrap() else {
                panic!("not a v2 stake")
            };
            let value = locked.fields().and_then(|f| f.first()).and_then(Value::as_u128).unwrap();
            let weight = value.checked_add(u128::from(pending)).unwrap();
            fields = vec![locked, unlock_epoch, Value::U128(weight)];
        }
    }
    encode(&Value::Struct(fields), &case.new_layout).unwrap()
}

fn transcode(c: &mut Criterion, cases: &[Case]) {
    let mut group = c.benchmark_group(GROUP);
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    for case in cases {
        group.bench_with_input(BenchmarkId::new(BASELINE, case.name), case, |b, case| {
            b.iter(|| through_move_value(black_box(case)))
        });
        group.bench_with_input(BenchmarkId::new(OURS, case.name), case, |b, case| {
            b.iter(|| through_value(black_box(case)))
        });
        group.bench_with_input(BenchmarkId::new(case.fast.function(), case.name), case, |b, case| {
            b.iter(|| black_box(case).fast.transform(&case.bytes))
        });
        if case.fast.direct(case, &case.bytes).is_some() {
            group.bench_with_input(BenchmarkId::new(HAND_WRITTEN_DIRECT, case.name), case, |b, case| {
                b.iter(|| black_box(case).fast.direct(case, &case.bytes))
            });
        }
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
fn median_ns(dir: &Path, function: &str, case: &str) -> Option<f64> {
    let path = dir.join(GROUP).join(function).join(case).join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn cell(ns: Option<f64>) -> String {
    match ns {
        Some(ns) => format!("{ns:>8.0} ns {:>6.2} M/s", 1e3 / ns),
        None => format!("{:>20}", "-"),
    }
}

fn print_summary(dir: &Path, cases: &[Case]) {
    println!("\nmedians per resource, and resources per second (M/s: millions per second), this run:");
    println!(
        "{:<7} {:<32} {:>11}  {:>20}  {:>20}  {:>20}  {:>20}  {:>9}",
        "case",
        "migration",
        "bytes",
        "(a) move-core-types",
        "(b) value",
        "(c) derived plan",
        "(d) hand-written",
        "(c|d)/(a)"
    );
    let mut slowest: Option<f64> = None;
    let mut notes = Vec::new();
    for case in cases {
        let base = median_ns(dir, BASELINE, case.name);
        let fast = median_ns(dir, case.fast.function(), case.name);
        let (derived, hand) = match case.fast.function() {
            DERIVED => (fast, None),
            _ => (None, fast),
        };
        // How many times faster than the baseline.
        let speedup = |ns: Option<f64>| base.zip(ns).map(|(b, f)| b / f);
        let ratio = speedup(fast);
        if case.fast.function() == DERIVED {
            slowest = match (slowest, ratio) {
                (Some(s), Some(r)) => Some(s.min(r)),
                (s, r) => s.or(r),
            };
        }
        let new_len = case.fast.transform(&case.bytes).len();
        println!(
            "{:<7} {:<32} {:>4} -> {:>4}  {}  {}  {}  {}  {:>9}",
            case.name,
            case.what,
            case.bytes.len(),
            new_len,
            cell(base),
            cell(median_ns(dir, OURS, case.name)),
            cell(derived),
            cell(hand),
            ratio.map_or("-".to_owned(), |r| format!("{r:.2}x")),
        );
        if let Some(direct) = median_ns(dir, HAND_WRITTEN_DIRECT, case.name) {
            notes.push(format!(
                "{}: the handler between decode and encode with layouts built once: {} ({:.2}x (a))",
                case.name,
                cell(Some(direct)).trim(),
                speedup(Some(direct)).unwrap_or(f64::NAN),
            ));
        }
    }
    for note in notes {
        println!("{note}");
    }
    if let Some(s) = slowest {
        let verdict = if s >= 5.0 { "met" } else { "NOT met" };
        println!("derived plans vs the move-core-types baseline: at least {s:.1}x (target 5x: {verdict})");
    }
}

fn main() {
    let cases = cases();
    for case in &cases {
        // Every path makes the same bytes, and they decode with the new layout.
        let expected = through_move_value(case);
        assert_eq!(through_value(case), expected, "{}", case.name);
        assert_eq!(case.fast.transform(&case.bytes), expected, "{}", case.name);
        if let Some(direct) = case.fast.direct(case, &case.bytes) {
            assert_eq!(direct, expected, "{}", case.name);
        }
        decode(&expected, &case.new_layout).unwrap();
    }
    let dir = output_directory();
    let mut criterion = Criterion::default().output_directory(&dir).configure_from_args();
    transcode(&mut criterion, &cases);
    criterion.final_summary();
    // `cargo test --benches` runs each benchmark once and measures nothing: no medians then.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        print_summary(&dir, &cases);
    }
}
