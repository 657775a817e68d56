//! Checking a pair of large generated releases (250 modules each; the new one with layout changes
//! in a fifth of its modules): time per pair. `cargo bench -p compat-checker --bench check`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::generate::{self, Rng, Shape};
use binary_format::{AddressLength, Field, Module, Type, Version};
use compat_checker::{check, CheckOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

const MODULES: usize = 250;

fn releases() -> (Vec<Module>, Vec<Module>) {
    let shape = Shape {
        max_structs: 8,
        max_fields: 8,
        max_functions: 12,
        ..Shape::new(Version::new(6), AddressLength::Bytes32)
    };
    let old = generate::release(7, &shape, MODULES);
    let mut rng = Rng::new(99);
    let mut new = old.clone();
    for m in new.iter_mut() {
        if !rng.chance(20) {
            continue;
        }
        for s in m.structs.iter_mut().filter(|s| s.variants.is_none() && !s.native) {
            match rng.below(4) {
                0 => s.fields.push(Field { name: "added".into(), ty: Type::U64 }),
                1 if s.fields.len() > 1 => drop(s.fields.pop()),
                2 if s.fields.len() > 1 => s.fields.swap(0, 1),
                _ => {
                    if let Some(f) = s.fields.first_mut() {
                        f.ty = Type::U128;
                    }
                }
            }
        }
    }
    (old, new)
}

fn bench(c: &mut Criterion) {
    let (old, new) = releases();
    let (old, new): (Vec<&Module>, Vec<&Module>) = (old.iter().collect(), new.iter().collect());
    let changes = check("old", &old, "new", &new, CheckOptions::default()).0.changes.len();
    println!("pair: {MODULES} modules each, {changes} changes reported");
    let mut group = c.benchmark_group("check_pair");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20).measurement_time(Duration::from_secs(3));
    group.bench_function("250_modules_with_changes", |b| {
        b.iter(|| black_box(check("old", &old, "new", &new, CheckOptions::default())))
    });
    group.bench_function("250_modules_unchanged", |b| {
        b.iter(|| black_box(check("old", &old, "old", &old, CheckOptions::default())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
