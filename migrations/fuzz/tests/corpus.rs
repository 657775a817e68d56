//! The target's body over a generated corpus, in a normal test: where `cargo fuzz` cannot be
//! installed (offline), this is the fuzzing the suite does. Deterministic: the same inputs every
//! run (a fixed seed): the writer's seeds, their mutants, and hand-made inputs that claim huge
//! lengths, counts and nesting. Run with `cargo test --release -- --nocapture` in
//! `migrations/fuzz` to see the executions and outcomes.
//!
//! The allocation counters are process-wide, so the tests take turns (`one_at_a_time`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use fuzz_support::{mutate, one_at_a_time, Rng};
use migrations_fuzz::{check_decoders, layouts, shape_of, shapes};
use std::collections::BTreeMap;

/// The writer's seeds of the shapes `wanted` keeps; each must read exactly when it is not a
/// `...-trailing` one.
fn seeds(wanted: impl Fn(usize) -> bool) -> Vec<Vec<u8>> {
    let seeds: Vec<_> =
        migrations_fuzz::seeds().into_iter().filter(|(_, b)| shape_of(b).is_some_and(&wanted)).collect();
    for (name, bytes) in &seeds {
        assert_eq!(check_decoders(bytes), !name.ends_with("-trailing"), "seed {name} does not read as it should");
    }
    seeds.into_iter().map(|(_, b)| b).collect()
}

/// Runs the target on `extra` and `n` mutants of `seeds` (the first byte, the shape, is mutated
/// like any other); the outcomes counted by shape and by whether the input read.
fn run(what: &str, seed: u64, n: usize, seeds: &[Vec<u8>], extra: &[Vec<u8>]) -> BTreeMap<(usize, bool), usize> {
    let _turn = one_at_a_time();
    assert!(!seeds.is_empty(), "{what}: no seeds");
    let mut outcomes = BTreeMap::new();
    let mut count = |input: &[u8]| {
        let read = check_decoders(input);
        if let Some(shape) = shape_of(input) {
            *outcomes.entry((shape, read)).or_insert(0) += 1;
        }
    };
    for input in extra {
        count(input);
    }
    let mut rng = Rng::new(seed);
    for _ in 0..n {
        let pick = rng.below(seeds.len());
        count(&mutate(&mut rng, &seeds[pick]));
    }
    println!("{what}: {} executions, (shape, read): {outcomes:?}", n + extra.len());
    outcomes
}

/// Both outcomes reached for `shape`: inputs that read, and inputs refused.
fn both(what: &str, shape: usize, outcomes: &BTreeMap<(usize, bool), usize>) {
    assert!(outcomes.get(&(shape, true)).is_some_and(|n| *n > 0), "{what}: no input of shape {shape} read");
    assert!(outcomes.get(&(shape, false)).is_some_and(|n| *n > 0), "{what}: no input of shape {shape} refused");
}

#[test]
fn the_seeds_cover_every_shape() {
    let covered: Vec<usize> = migrations_fuzz::seeds().iter().filter_map(|(_, b)| shape_of(b)).collect();
    for shape in 0..shapes() {
        assert!(covered.contains(&shape), "no seed of shape {shape}");
    }
    assert_eq!(shapes(), 1 + layouts().len());
    // Nothing reads from nothing, or from a shape byte alone where the shape needs bytes.
    assert!(!check_decoders(&[]));
    assert!(!check_decoders(&[0]));
}

#[test]
fn tag_shape_over_mutated_tags_and_huge_claims() {
    let name = |address: usize| [vec![0u8; 1 + address], vec![1, b'M', 1, b'S']].concat();
    let huge = vec![
        // An identifier claiming four billion bytes; four billion type arguments.
        [vec![0u8; 17], vec![0xff, 0xff, 0xff, 0xff, 0x0f]].concat(),
        [name(32), vec![0xff, 0xff, 0xff, 0xff, 0x0f]].concat(),
        // A type argument nested a thousand vectors deep, then a u64.
        [name(16), vec![1], vec![6; 1_000], vec![2]].concat(),
        // A struct tag as its own type argument, over and over, cut short.
        [name(20), [vec![1, 7], vec![0u8; 20], vec![1, b'M', 1, b'S']].concat().repeat(200)].concat(),
    ];
    let outcomes = run("tags", 31, 15_000, &seeds(|s| s == 0), &huge);
    both("tags", 0, &outcomes);
}

#[test]
fn value_shapes_over_mutated_values_and_huge_counts() {
    let huge = vec![
        // Bytes claiming four billion; a stake whose buddies claim as many addresses.
        vec![1, 0xff, 0xff, 0xff, 0xff, 0x0f],
        [vec![2], vec![0u8; 16], vec![0xff, 0xff, 0xff, 0xff, 0x0f]].concat(),
        // The status claiming 2^24 activations, and as many completions after none.
        vec![3, 0x80, 0x80, 0x80, 0x08],
        vec![3, 0, 0x80, 0x80, 0x80, 0x08],
        // Deep vectors claiming 2^31 - 1 elements; and 200 bools under a budget of 16 bytes.
        vec![4, 0xff, 0xff, 0xff, 0xff, 0x07],
        [vec![4, 1, 1, 0xc8, 0x01], vec![1; 200]].concat(),
        // Every integer width, cut short.
        vec![5, 1, 2, 3],
    ];
    let outcomes = run("values", 32, 40_000, &seeds(|s| s > 0), &huge);
    for shape in 1..shapes() {
        both("values", shape, &outcomes);
    }
}
