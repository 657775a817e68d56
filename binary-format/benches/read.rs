//! Reading a large framework-like release: layouts only, the normalized view, and a full parse
//! (every table and instruction), measured on the same bytes in the same run.
//!
//! `cargo bench -p binary-format` prints criterion's figures (MB/s and modules/s per level) and
//! then a summary table with medians and the speed-up of each level over the full parse.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::deserializer::{parse, Detail, ParseOptions};
use binary_format::generate::{framework_release, Shape};
use binary_format::{normalize, read_layouts, read_module, AddressLength, Version};
use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

const LENGTH: AddressLength = AddressLength::Bytes32;

fn release() -> Vec<Vec<u8>> {
    // 250 modules of up to 40 functions of ~160 instructions: ~2.2 MB, mostly code, like a
    // real framework release.
    framework_release(42, &Shape::new(Version::new(6), LENGTH), 250, 40, 160)
}

type Reader = fn(&[u8]) -> usize;

fn layouts(b: &[u8]) -> usize {
    read_layouts(b, LENGTH).map(|m| m.structs.len()).unwrap_or(0)
}

fn normalized(b: &[u8]) -> usize {
    read_module(b, LENGTH).map(|m| m.functions.len()).unwrap_or(0)
}

fn full_parse(b: &[u8]) -> usize {
    parse(b, &ParseOptions::new(LENGTH, Detail::Full)).map(|m| m.function_defs.len()).unwrap_or(0)
}

fn full_parse_normalized(b: &[u8]) -> usize {
    parse(b, &ParseOptions::new(LENGTH, Detail::Full))
        .and_then(|m| normalize::normalize(&m))
        .map(|m| m.functions.len())
        .unwrap_or(0)
}

const LEVELS: [(&str, Reader); 4] = [
    ("layouts", layouts),
    ("normalized", normalized),
    ("full_parse", full_parse),
    ("full_parse_normalized", full_parse_normalized),
];

fn read_all(modules: &[Vec<u8>], f: Reader) -> usize {
    modules.iter().map(|m| f(m)).sum()
}

fn bench(c: &mut Criterion) {
    let modules = release();
    let bytes: usize = modules.iter().map(Vec::len).sum();
    for (unit, throughput) in
        [("MB", Throughput::Bytes(bytes as u64)), ("modules", Throughput::Elements(modules.len() as u64))]
    {
        let mut group = c.benchmark_group(format!("read_release_{unit}"));
        group.throughput(throughput);
        group.sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
        for (name, f) in LEVELS {
            group.bench_function(name, |b| {
                b.iter_batched(|| (), |()| black_box(read_all(&modules, f)), BatchSize::SmallInput)
            });
        }
        group.finish();
    }
}

/// Medians of repeated reads of the whole release, and each level against the full parse.
fn summary() {
    let modules = release();
    let bytes: usize = modules.iter().map(Vec::len).sum();
    println!("\nrelease: {} modules, {:.2} MB", modules.len(), bytes as f64 / 1e6);
    let mut medians = Vec::new();
    for (name, f) in LEVELS {
        let mut times: Vec<Duration> = (0..31)
            .map(|_| {
                let start = Instant::now();
                black_box(read_all(&modules, f));
                start.elapsed()
            })
            .collect();
        times.sort();
        medians.push((name, times.get(times.len() / 2).copied().unwrap_or_default()));
    }
    let full = medians.iter().find(|m| m.0 == "full_parse").map_or(Duration::from_secs(1), |m| m.1);
    println!("{:<24} {:>10} {:>10} {:>12} {:>14}", "level", "median", "MB/s", "modules/s", "vs full parse");
    for (name, t) in &medians {
        let secs = t.as_secs_f64();
        println!(
            "{name:<24} {:>8.2}ms {:>10.0} {:>12.0} {:>13.1}x",
            secs * 1e3,
            bytes as f64 / 1e6 / secs,
            modules.len() as f64 / secs,
            full.as_secs_f64() / secs
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
