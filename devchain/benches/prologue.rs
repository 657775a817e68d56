#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The prologue's cost:
//! - `noop`: a block with nothing due (before an activation height, and after every migration
//!   is done): the path every block takes almost always. Target: under 100 ns per call.
//! - `migrate`: the v1 -> v2 user migrations of 5,000 accounts (13,334 resources: balances,
//!   wallets, stakes) under a budget of 1,000 resources per block, run block by block to the
//!   end; throughput in resources per second, and the time of one block printed after.
//!
//! Run: `cargo bench -p devchain --bench prologue`.

use criterion::{BatchSize, Criterion, Throughput};
use devchain::support::*;
use std::hint::black_box;
use std::time::{Duration, Instant};
use vm_hooks::{AllowAll, Budget, Hook};

const ACCOUNTS: u32 = 5_000;

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let plans = plans();
    let budget = Budget { max_resources: 1_000, max_bytes: 1 << 20 };
    let new_hook = || Hook::new(plans.clone(), config(budget), Box::new(AllowAll)).unwrap();

    let mut store = genesis(10);
    let mut waiting = new_hook();
    assert!(waiting.maybe_migrate(&mut store, 1).unwrap().idle);
    let mut done = new_hook();
    let mut done_store = genesis(10);
    run_blocks(&mut done, &mut done_store, 1, V3_HEIGHT + 5);
    assert!(done.all_done());
    {
        let mut g = c.benchmark_group("prologue");
        g.bench_function("noop-before-activation", |b| {
            b.iter(|| waiting.maybe_migrate(black_box(&mut store), black_box(5)).unwrap())
        });
        g.bench_function("noop-all-done", |b| {
            b.iter(|| done.maybe_migrate(black_box(&mut done_store), black_box(V3_HEIGHT + 1_000)).unwrap())
        });
        g.finish();
    }

    // v2 only: activation at 10, and v3 far away.
    let genesis_store = genesis(ACCOUNTS);
    let resources = u64::from(ACCOUNTS) * 2 + u64::from(ACCOUNTS / 3);
    {
        let mut g = c.benchmark_group("prologue");
        g.sample_size(10).throughput(Throughput::Elements(resources));
        g.bench_function("migrate-5000-accounts-v2-budget-1000", |b| {
            b.iter_batched(
                || {
                    let mut s = genesis_store.clone();
                    let mut h = new_hook();
                    h.maybe_migrate(&mut s, 1).unwrap();
                    (s, h)
                },
                |(mut s, mut h)| {
                    let mut block = V2_HEIGHT;
                    while h.status().is_none_or(|st| !st.has_run("stake-v2")) {
                        h.maybe_migrate(&mut s, block).unwrap();
                        block += 1;
                    }
                    (s, h)
                },
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }

    // One line per block: what a block of 1,000 resources costs, including the status rewrite
    // and the atomic apply.
    let mut s = genesis_store.clone();
    let mut h = new_hook();
    h.maybe_migrate(&mut s, 1).unwrap();
    let mut times = Vec::new();
    let mut block = V2_HEIGHT;
    while h.status().is_none_or(|st| !st.has_run("stake-v2")) {
        let t = Instant::now();
        let r = h.maybe_migrate(&mut s, block).unwrap();
        times.push((block, t.elapsed(), r.resources, r.bytes));
        block += 1;
    }
    println!("\nper block (budget 1,000 resources):");
    for (block, t, resources, bytes) in &times {
        println!("  block {block}: {resources} resources, {bytes} bytes, {:.2} ms", t.as_secs_f64() * 1e3);
    }
    let busy: Vec<Duration> = times.iter().filter(|t| t.2 > 0).map(|t| t.1).collect();
    let mean = busy.iter().sum::<Duration>() / u32::try_from(busy.len().max(1)).unwrap();
    println!("  mean of {} busy blocks: {:.2} ms", busy.len(), mean.as_secs_f64() * 1e3);
    c.final_summary();
}
