#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The prologue's cost:
//! - `noop`: a block with nothing due (before an activation height, and after every migration
//!   is done): the path every block takes almost always. Target: under 100 ns per call.
//! - `migrate`: the v1 -> v2 user migrations of 5,000 accounts (13,334 resources: balances,
//!   wallets, stakes) under a budget of 1,000 resources per block, run block by block to the
//!   end; throughput in resources per second, and the time of one block printed after;
//! - `migrate-in-place`: the same for the 32-byte framework of `devchain::framework`, whose
//!   structs change in place (5,000 users: 10,000 resources), measured in the same run;
//! - `read`: one read during the window that migrates its account on access, versioned (a
//!   balance of the stdlib chain) and in place (an account of the framework chain, ahead of the
//!   cursor: migrated and recorded as ahead), beside a plain read of a migrated resource.
//!
//! Run: `cargo bench -p devchain --bench prologue`.

use criterion::{BatchSize, Criterion, Throughput};
use devchain::framework;
use devchain::support::*;
use migrations::store::InMemoryStore;
use migrations::AccountAddress;
use std::hint::black_box;
use std::time::{Duration, Instant};
use vm_hooks::{AllowAll, Budget, Hook};

const ACCOUNTS: u32 = 5_000;

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let plans = plans();
    let budget = Budget { max_resources: 1_000, max_bytes: 1 << 20 };
    // A hook over a new chain whose genesis scheduled the releases (the chain's record is what
    // the hook follows: a hook over a chain that scheduled nothing has nothing to run).
    let new_hook = |store: &mut InMemoryStore| {
        let mut hook = Hook::new(plans.clone(), config(budget), Box::new(AllowAll)).unwrap();
        schedule_at_genesis(&mut hook, store);
        hook
    };

    // The no-op: each block a new height, as a chain calls it (a height called again takes the
    // slow path: a discarded block's height is worked out again).
    let mut store = genesis(10);
    let far = 1u64 << 40;
    let mut waiting =
        Hook::new(plans_with(&devchain::handlers(), far, far + 10), config(budget), Box::new(AllowAll)).unwrap();
    schedule_at_genesis(&mut waiting, &mut store);
    assert!(waiting.maybe_migrate(&mut store, 1).unwrap().idle);
    let mut done_store = genesis(10);
    let mut done = new_hook(&mut done_store);
    run_blocks(&mut done, &mut done_store, 1, V3_HEIGHT + 5);
    assert!(done.all_done());
    {
        let mut g = c.benchmark_group("prologue");
        let mut height = 1u64;
        g.bench_function("noop-before-activation", |b| {
            b.iter(|| {
                height += 1;
                waiting.maybe_migrate(black_box(&mut store), black_box(height)).unwrap()
            })
        });
        let mut height = V3_HEIGHT + 5;
        g.bench_function("noop-all-done", |b| {
            b.iter(|| {
                height += 1;
                done.maybe_migrate(black_box(&mut done_store), black_box(height)).unwrap()
            })
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
                    let mut h = new_hook(&mut s);
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

    // The same on the 32-byte framework, in place.
    const USERS: u32 = 5_000;
    const IN_PLACE_AT: u64 = 2;
    let framework_genesis = framework::genesis(USERS).unwrap();
    let in_place_hook = |store: &mut InMemoryStore| {
        let mut hook =
            Hook::new(framework::plans(IN_PLACE_AT).unwrap(), framework::config(budget).unwrap(), Box::new(AllowAll))
                .unwrap();
        schedule_at_genesis(&mut hook, store);
        hook
    };
    {
        let mut g = c.benchmark_group("prologue");
        g.sample_size(10).throughput(Throughput::Elements(u64::from(USERS) * 2));
        g.bench_function("migrate-in-place-5000-users-budget-1000", |b| {
            b.iter_batched(
                || {
                    let mut s = framework_genesis.clone();
                    let h = in_place_hook(&mut s);
                    (s, h)
                },
                |(mut s, mut h)| {
                    let mut block = 1;
                    while !h.all_done() {
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

    // Reads during the window. Each measured read migrates an account no earlier read touched;
    // the state is rebuilt (untimed) when they run out.
    {
        let mut g = c.benchmark_group("read");
        let versioned_state = || {
            let mut s = genesis_store.clone();
            let mut h = new_hook(&mut s);
            for block in 1..=V2_HEIGHT {
                h.maybe_migrate(&mut s, block).unwrap();
            }
            (s, h)
        };
        let balance = tag(BALANCE_V2);
        g.bench_function("on-access-versioned", |b| {
            b.iter_custom(|iters| measure_reads(iters, ACCOUNTS, &versioned_state, account, &balance))
        });
        let in_place_state = || {
            let mut s = framework_genesis.clone();
            let mut h = in_place_hook(&mut s);
            for block in 1..=IN_PLACE_AT {
                h.maybe_migrate(&mut s, block).unwrap();
            }
            (s, h)
        };
        let account_tag = framework::tag(framework::ACCOUNT).unwrap();
        // Accounts from the end of key order: ahead of the cursor.
        let mut ahead: Vec<AccountAddress> = (1..=USERS).map(framework::user).collect();
        ahead.sort();
        ahead.reverse();
        g.bench_function("on-access-in-place", |b| {
            b.iter_custom(|iters| {
                measure_reads(iters, USERS / 2, &in_place_state, |n| ahead[(n - 1) as usize], &account_tag)
            })
        });
        let (mut s, mut h) = versioned_state();
        h.read_resource(&mut s, account(1), &balance).unwrap();
        g.bench_function("plain-migrated", |b| {
            b.iter(|| h.read_resource(black_box(&mut s), black_box(account(1)), &balance).unwrap())
        });
        g.finish();
    }

    // One line per block: what a block of 1,000 resources costs, including the status rewrite
    // and the atomic apply.
    let mut s = genesis_store.clone();
    let mut h = new_hook(&mut s);
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
    println!("  versioned: mean of {} busy blocks: {:.2} ms", busy.len(), mean.as_secs_f64() * 1e3);
    let mut s = framework_genesis.clone();
    let mut h = in_place_hook(&mut s);
    let mut busy = Vec::new();
    let mut block = 1;
    while !h.all_done() {
        let t = Instant::now();
        let r = h.maybe_migrate(&mut s, block).unwrap();
        if r.resources > 0 {
            busy.push(t.elapsed());
        }
        block += 1;
    }
    let mean = busy.iter().sum::<Duration>() / u32::try_from(busy.len().max(1)).unwrap();
    println!("  in place:  mean of {} busy blocks: {:.2} ms", busy.len(), mean.as_secs_f64() * 1e3);
    c.final_summary();
}

/// Times `iters` reads of `tag` at accounts `at(1)`, `at(2)`, ... (each migrated on access),
/// rebuilding the state from `state` (untimed) every `per_state` reads.
fn measure_reads(
    iters: u64,
    per_state: u32,
    state: &dyn Fn() -> (InMemoryStore, Hook),
    at: impl Fn(u32) -> AccountAddress,
    tag: &migrations::StructTag,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let (mut s, mut h) = state();
        let n = left.min(u64::from(per_state));
        let t = Instant::now();
        for i in 1..=n {
            black_box(h.read_resource(&mut s, at(u32::try_from(i).unwrap()), tag).unwrap());
        }
        total += t.elapsed();
        left -= n;
    }
    total
}
