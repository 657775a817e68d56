#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The prologue's time per block while a 1M-account migration runs under a budget: genesis on
//! stdlib v1 with 1,000,000 accounts (balances, wallets, vouches and a third with stakes), v2
//! activated, blocks produced until its user migrations are done; p50, p99 and max of the
//! prologue's time per block, and the total.
//!
//! Run: `cargo bench -p devchain --bench million` (set `ACCOUNTS` to change the size, `BUDGET` the
//! resources a block migrates, 10,000 by default).

use devchain::support::*;
use std::time::{Duration, Instant};
use vm_hooks::{AllowAll, Budget, Hook};

/// v3 far away: this bench measures the v2 migration alone.
const V3_LATER: u64 = 1 << 40;

fn main() {
    let accounts: u32 = std::env::var("ACCOUNTS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let max_resources = std::env::var("BUDGET").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let budget = Budget { max_resources, max_bytes: 1 << 20 };
    let started = Instant::now();
    let mut store = genesis(accounts);
    println!("genesis: {accounts} accounts in {:.1} s", started.elapsed().as_secs_f64());
    let plans = plans_with(&devchain::handlers(), V2_HEIGHT, V3_LATER);
    let mut hook = Hook::new(plans, config(budget), Box::new(AllowAll)).unwrap();
    // The chain's genesis schedules the releases: the hook follows the chain's record.
    schedule_at_genesis(&mut hook, &mut store);
    hook.maybe_migrate(&mut store, 1).unwrap();
    let mut times: Vec<Duration> = Vec::new();
    let mut resources = 0u64;
    let mut block = V2_HEIGHT;
    while hook.status().is_none_or(|s| !s.has_run("stake-v2")) && block < V3_LATER {
        let t = Instant::now();
        let report = hook.maybe_migrate(&mut store, block).unwrap();
        times.push(t.elapsed());
        resources += report.resources + report.system_resources;
        assert!(report.resources <= budget.max_resources);
        block += 1;
    }
    assert!(hook.status().is_some_and(|s| s.has_run("stake-v2")), "not done by block {block}");
    let total: Duration = times.iter().sum();
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "v2 migration: {resources} resources in {} blocks (budget {} resources), prologue per block: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; total {:.2} s, {:.0} resources/s",
        times.len(),
        budget.max_resources,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        total.as_secs_f64(),
        resources as f64 / total.as_secs_f64()
    );
}
