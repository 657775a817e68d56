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

/// Percentiles of a set of durations, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub total_ms: f64,
}

impl Percentiles {
    pub fn of(times: &[Duration]) -> Percentiles {
        let mut sorted = times.to_vec();
        sorted.sort();
        let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e3);
        let rank = |q: f64| {
            let n = sorted.len();
            if n == 0 {
                return None;
            }
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            sorted.get(i)
        };
        Percentiles {
            count: sorted.len(),
            p50_ms: ms(rank(0.50)),
            p99_ms: ms(rank(0.99)),
            max_ms: ms(sorted.last()),
            total_ms: sorted.iter().map(|d| d.as_secs_f64() * 1e3).sum(),
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

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&times);
        assert_eq!((p.count, p.p50_ms, p.p99_ms, p.max_ms), (100, 50.0, 99.0, 100.0));
        assert_eq!(Percentiles::of(&[]).count, 0);
        assert_eq!(Percentiles::of(&[Duration::from_millis(3)]).p99_ms, 3.0);
    }
}
