//! What a run reports: blocks, migrations, quarantine, prologue times, throughput, state root.
//!
//! Data and its text form only: a run fills it from what the node gathered while producing
//! blocks (`node::Tally`), and the node knows nothing of it.

use crate::manifest::Activation;
use crate::transactions::TransactionCounts;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Percentiles of a set of durations, in milliseconds (nearest rank, to the precision of
/// [`Durations`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub total_ms: f64,
}

/// Sub-buckets per power of two of a [`Durations`] histogram: 2^7, so that a bucket spans less
/// than 1/128 of the values in it.
const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
/// Buckets covering every `u64` of nanoseconds: values below [`SUB`] one each, then [`SUB`] per
/// power of two up to 2^63.
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// Durations recorded one at a time into a fixed histogram (log-linear, 7,424 buckets, 58 KiB):
/// the count, total and maximum exact, a percentile within 0.8% above the nearest-rank value
/// (never below it, never above the maximum), in memory that does not grow with the number
/// recorded (a run of a million blocks kept three vectors of a million durations).
#[derive(Debug, Clone, Default)]
pub struct Durations {
    /// Empty until the first duration is recorded.
    buckets: Vec<u64>,
    count: u64,
    total_nanos: u128,
    max_nanos: u64,
}

/// The bucket of `nanos`.
fn bucket(nanos: u64) -> usize {
    if nanos < SUB as u64 {
        return nanos as usize;
    }
    let exponent = 63 - nanos.leading_zeros();
    let mantissa = (nanos >> (exponent - SUB_BITS)) as usize;
    (exponent - SUB_BITS + 1) as usize * SUB + (mantissa - SUB)
}

/// The largest value bucket `index` holds.
fn bucket_top(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let (group, rest) = (index / SUB, (index % SUB) as u64);
    let shift = group as u32 - 1;
    ((SUB as u64 + rest) << shift).saturating_add((1u64 << shift) - 1)
}

impl Durations {
    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        if self.buckets.is_empty() {
            self.buckets = vec![0; BUCKETS];
        }
        if let Some(n) = self.buckets.get_mut(bucket(nanos)) {
            *n += 1;
        }
        self.count += 1;
        self.total_nanos += u128::from(nanos);
        self.max_nanos = self.max_nanos.max(nanos);
    }

    /// How many were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The nearest-rank `q` quantile (0 < q <= 1), in nanoseconds: the top of its bucket, at
    /// most the maximum.
    fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_top(index).min(self.max_nanos);
            }
        }
        self.max_nanos
    }

    /// p50, p99, maximum and total, in milliseconds.
    pub fn percentiles(&self) -> Percentiles {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        Percentiles {
            count: usize::try_from(self.count).unwrap_or(usize::MAX),
            p50_ms: ms(self.quantile(0.50)),
            p99_ms: ms(self.quantile(0.99)),
            max_ms: ms(self.max_nanos),
            total_ms: self.total_nanos as f64 / 1e6,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub data_dir: Option<String>,
    pub accounts: u32,
    pub genesis_seconds: Option<f64>,
    pub first_height: u64,
    pub height: u64,
    pub blocks: u64,
    pub activations: Vec<Activation>,
    pub active_release: u32,
    /// Resources moved by each migration during this run (user and system accounts, by the
    /// prologue's pass and by transactions reading them).
    pub migrated: BTreeMap<String, u64>,
    /// Accounts quarantined, per migration (their old bytes kept).
    pub quarantined: BTreeMap<String, u64>,
    /// Prologue time of the blocks that did migration work.
    pub prologue_busy: Percentiles,
    /// Prologue time of every block.
    pub prologue_all: Percentiles,
    /// Commit time of the blocks that did migration work (their prologue's writes, their
    /// transactions' and the height, in one store transaction).
    pub commit_busy: Percentiles,
    /// User resources migrated per second of prologue time.
    pub resources_per_second: f64,
    /// User resources migrated per second of prologue and commit time.
    pub resources_per_second_committed: f64,
    pub transactions: TransactionCounts,
    pub wall_seconds: f64,
    pub halted: Option<String>,
    pub state_root: String,
}

impl RunSummary {
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "chain: {} accounts, {}",
            self.accounts,
            self.data_dir.as_deref().map_or("in memory".to_owned(), |d| format!("data dir {d}"))
        );
        if let Some(g) = self.genesis_seconds {
            let _ = writeln!(s, "genesis: {g:.2} s");
        }
        let plan: Vec<String> = self.activations.iter().map(|a| format!("v{} at {}", a.release, a.height)).collect();
        let _ = writeln!(
            s,
            "blocks: {} (heights {}..={}); active release v{}; schedule: {}",
            self.blocks,
            self.first_height + 1,
            self.height,
            self.active_release,
            if plan.is_empty() { "none".to_owned() } else { plan.join(", ") }
        );
        let _ = writeln!(s, "migrated:");
        for (id, n) in &self.migrated {
            let _ = writeln!(s, "  {id:<18} {n:>10}");
        }
        let q: u64 = self.quarantined.values().sum();
        let _ = writeln!(s, "quarantined accounts: {q}");
        for (id, n) in self.quarantined.iter().filter(|(_, n)| **n > 0) {
            let _ = writeln!(s, "  {id:<18} {n:>10}");
        }
        let p = &self.prologue_busy;
        let _ = writeln!(
            s,
            "prologue per block with migration work ({} blocks): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            p.count, p.p50_ms, p.p99_ms, p.max_ms
        );
        let a = &self.prologue_all;
        let _ = writeln!(
            s,
            "prologue per block, all {} blocks: p50 {:.4} ms, p99 {:.2} ms, max {:.2} ms",
            a.count, a.p50_ms, a.p99_ms, a.max_ms
        );
        let c = &self.commit_busy;
        let _ = writeln!(
            s,
            "block commit, same blocks (migration and transaction writes, one transaction): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            c.p50_ms, c.p99_ms, c.max_ms
        );
        let _ = writeln!(
            s,
            "throughput: {:.0} resources/s of prologue time, {:.0} with the commits",
            self.resources_per_second, self.resources_per_second_committed
        );
        let t = &self.transactions;
        let _ = writeln!(
            s,
            "transactions: {} applied, {} rejected, {} refused (quiesced)",
            t.applied, t.rejected, t.quiesced
        );
        if let Some(h) = &self.halted {
            let _ = writeln!(s, "HALTED: {h} (blocks go on; governance must decide)");
        }
        let _ = writeln!(s, "wall time: {:.2} s", self.wall_seconds);
        let _ = writeln!(s, "state root: {}", self.state_root);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(times: &[Duration]) -> Percentiles {
        let mut d = Durations::default();
        for t in times {
            d.record(*t);
        }
        d.percentiles()
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = of(&times);
        assert_eq!((p.count, p.max_ms, p.total_ms), (100, 100.0, 5050.0));
        // Within the bucket's width above the exact values (50 and 99 ms), never below.
        assert!((50.0..50.0 * (1.0 + 1.0 / 128.0)).contains(&p.p50_ms), "{p:?}");
        assert!((99.0..99.0 * (1.0 + 1.0 / 128.0)).contains(&p.p99_ms), "{p:?}");
        assert_eq!(of(&[]).count, 0);
        assert_eq!(of(&[]).p99_ms, 0.0);
        assert_eq!(of(&[Duration::from_millis(3)]).p99_ms, 3.0, "never above the maximum");
        assert_eq!(of(&[Duration::from_nanos(100), Duration::from_nanos(7)]).p50_ms, 7e-6, "small values exact");
    }

    #[test]
    fn every_value_falls_in_a_bucket_whose_top_is_at_most_0_8_percent_above_it() {
        let mut previous_top = None;
        for index in 0..BUCKETS {
            let top = bucket_top(index);
            assert!(previous_top.is_none_or(|p| top > p), "buckets increase at {index}");
            assert_eq!(bucket(top), index, "{top}");
            previous_top = Some(top);
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        for v in [0u64, 1, 127, 128, 129, 255, 256, 1_000, 123_456_789, 10_000_000_000, u64::MAX / 3] {
            let top = bucket_top(bucket(v));
            assert!(top >= v && (top - v) as f64 <= v as f64 / 128.0, "{v} -> {top}");
        }
    }
}
