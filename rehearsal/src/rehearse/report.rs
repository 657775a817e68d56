//! The report: what a release engineer reads (text) and what tools read (JSON, schema 1, as
//! `docs/rehearse.md` documents it).

use super::Bounded;
use crate::state::{ChainRoot, Problems};
use compat_checker::escape::Text;
use serde::Serialize;

/// One resource named in a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    pub r#struct: String,
    pub account: String,
    /// Where it was read, when the finding comes from the input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    pub reason: String,
}

/// Stored instances of a struct whose layout changes with no migration declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Halt {
    /// The change: `0x1::Timer::Timer -> 0x1::Timer::Timer`.
    pub r#struct: String,
    /// Accounts holding one (resources of the struct, one per account and instance).
    pub accounts: u64,
    pub examples: Bounded<String>,
}

impl Halt {
    pub fn new(change: &str, examples: usize) -> Halt {
        Halt { r#struct: change.to_owned(), accounts: 0, examples: Bounded::new(examples) }
    }
}

/// Resources of a struct the new release no longer has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub r#struct: String,
    pub resources: u64,
    pub examples: Bounded<String>,
}

impl Removed {
    pub fn new(name: &str, examples: usize) -> Removed {
        Removed { r#struct: name.to_owned(), resources: 0, examples: Bounded::new(examples) }
    }
}

/// An account a migration failed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub account: String,
    pub reason: String,
}

/// One declared migration as it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StructReport {
    /// The struct's instance: `0x1::Coin::Balance<0x1::GAS::GAS> -> 0x3::Coin::Balance<0x1::GAS::GAS>`.
    pub r#struct: String,
    pub migration: String,
    /// Stored instances found in the state.
    pub instances: u64,
    pub migrated: u64,
    pub failed: u64,
    /// Instances still on the old version afterwards (out of the migration's scope, or failed).
    pub left_on_old_version: u64,
    pub failures: Vec<Failure>,
}

/// What the state is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateReport {
    pub format: &'static str,
    pub path: String,
    pub detail: String,
    pub accounts: u64,
    pub resources: u64,
    /// Whether the chain's own root (or the snapshot's) was recomputed equal; `null` when the
    /// format has none.
    pub root_verified: Option<bool>,
    pub chain_root: Option<ChainRoot>,
    /// What was skipped or odd in the input.
    pub problems: Problems,
}

/// Decoding before or after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decoding {
    pub decoded: u64,
    pub undecodable: u64,
    /// After only: undecodable now but decodable before (broken by the upgrade).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken_by_upgrade: Option<u64>,
    pub examples: Bounded<Example>,
}

/// One phase's time and throughput.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub name: String,
    pub seconds: f64,
    /// Bytes of state the phase went through.
    pub bytes: u64,
    pub resources: u64,
    pub mb_per_second: f64,
    pub resources_per_second: f64,
}

impl Phase {
    pub fn new(name: &str, seconds: f64, bytes: u64, resources: u64) -> Phase {
        let rate = |n: u64| if seconds > 0.0 { n as f64 / seconds } else { 0.0 };
        Phase {
            name: name.to_owned(),
            seconds,
            bytes,
            resources,
            mb_per_second: rate(bytes) / 1e6,
            resources_per_second: rate(resources),
        }
    }
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateReport {
    pub passes: bool,
    pub unhandled: u64,
    pub problems: Vec<String>,
    /// Declarations the catalogue could not use.
    pub catalogue_problems: Vec<String>,
    /// The chain's rules the gate judged with (`aptos compatible`), and how they were decided.
    pub chain: Option<String>,
}

/// The rehearsal's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Safe,
    WouldBreak,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub schema: u32,
    pub state: StateReport,
    pub from: String,
    /// `given` (`--from`) or `state` (the modules the state holds).
    pub from_source: &'static str,
    pub to: String,
    pub gate: GateReport,
    pub before: Decoding,
    pub after: Decoding,
    pub migrated: u64,
    pub failed: u64,
    pub would_halt: Vec<Halt>,
    pub removed: Vec<Removed>,
    pub structs: Vec<StructReport>,
    /// Resources a second pass of the migrations would change (empty when idempotent).
    pub second_pass: Vec<(String, u64)>,
    pub size_before: u64,
    pub size_after: u64,
    pub resources_after: u64,
    pub root_before: String,
    pub root_after: String,
    /// The chain's own root after the upgrade, where computed (not yet: `null`).
    pub chain_root_after: Option<String>,
    /// Where the migrated state was written (`--out`).
    pub out: Option<String>,
    pub blocks: u64,
    pub phases: Vec<Phase>,
    pub verdict: Verdict,
    /// Why it would break.
    pub reasons: Vec<String>,
    /// Whether every resource of the input was rehearsed (nothing skipped).
    pub complete: bool,
}

impl Report {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }

    /// Text for people; every line goes through [`Text`], so names and messages from the state
    /// and the releases never reach a terminal or a CI log as control characters.
    pub fn to_text(&self) -> String {
        let mut t = Text::new();
        let s = &self.state;
        let _ = writeln!(t, "state: {} ({}): {}", s.path, s.format, s.detail);
        let _ = writeln!(t, "  {} accounts, {} resources, {} bytes", s.accounts, s.resources, self.size_before);
        if let Some(root) = &s.chain_root {
            let _ = writeln!(
                t,
                "  chain root {} {} ({})",
                root.expected,
                if root.verified { "verified" } else { "NOT verified" },
                root.scheme
            );
        }
        if s.problems.total() > 0 {
            let _ = writeln!(
                t,
                "  input problems: {} ({} resources skipped)",
                s.problems.total(),
                s.problems.skipped_resources
            );
            for p in &s.problems.examples {
                let key = p.key.as_deref().map(|k| format!(" [{k}]")).unwrap_or_default();
                let _ = writeln!(t, "    {}{key}: {}", p.origin, p.message);
            }
        }
        let _ = writeln!(t, "from {} ({}) to {}", self.from, self.from_source, self.to);
        let g = &self.gate;
        let _ = writeln!(
            t,
            "gate: {} ({} unhandled changes){}",
            if g.passes { "passes" } else { "fails" },
            g.unhandled,
            g.chain.as_deref().map(|c| format!(", chain {c}")).unwrap_or_default()
        );
        for p in g.problems.iter().chain(&g.catalogue_problems) {
            let _ = writeln!(t, "  {p}");
        }
        let _ = writeln!(
            t,
            "before: {} decoded, {} undecodable (broken before the upgrade)",
            self.before.decoded, self.before.undecodable
        );
        for e in self.before.examples.items() {
            let _ =
                writeln!(t, "  {} at {} ({}): {}", e.r#struct, e.account, e.origin.as_deref().unwrap_or("-"), e.reason);
        }
        if !self.would_halt.is_empty() {
            let _ = writeln!(t, "WOULD HALT: stored instances whose layout changes with no migration declared");
            for h in &self.would_halt {
                let _ = writeln!(
                    t,
                    "  {}: {} accounts: {}{}",
                    h.r#struct,
                    h.accounts,
                    h.examples.items().join(", "),
                    more(&h.examples)
                );
            }
        }
        let _ = writeln!(
            t,
            "migrations: {} resources migrated, {} failed, in {} blocks",
            self.migrated, self.failed, self.blocks
        );
        for st in &self.structs {
            let _ = writeln!(
                t,
                "  {} ({}): {} found, {} migrated, {} failed, {} left on the old version",
                st.r#struct, st.migration, st.instances, st.migrated, st.failed, st.left_on_old_version
            );
            for f in &st.failures {
                let _ = writeln!(t, "    {}: {}", f.account, f.reason);
            }
        }
        if !self.second_pass.is_empty() {
            for (id, n) in &self.second_pass {
                let _ = writeln!(t, "  NOT IDEMPOTENT: a second pass of {id} changes {n} resources");
            }
        }
        for r in &self.removed {
            let _ = writeln!(
                t,
                "removed struct {}: {} resources: {}{}",
                r.r#struct,
                r.resources,
                r.examples.items().join(", "),
                more(&r.examples)
            );
        }
        let a = &self.after;
        let _ = writeln!(
            t,
            "after: {} decoded, {} undecodable ({} broken by the upgrade)",
            a.decoded,
            a.undecodable,
            a.broken_by_upgrade.unwrap_or(0)
        );
        for e in a.examples.items() {
            let _ = writeln!(t, "  {} at {}: {}", e.r#struct, e.account, e.reason);
        }
        let _ = writeln!(
            t,
            "size: {} -> {} bytes, {} -> {} resources",
            self.size_before, self.size_after, s.resources, self.resources_after
        );
        let _ = writeln!(t, "root: {} -> {}", self.root_before, self.root_after);
        if let Some(out) = &self.out {
            let _ = writeln!(t, "migrated state written to {out}");
        }
        let _ = writeln!(t, "phases:");
        for p in &self.phases {
            let _ = writeln!(
                t,
                "  {:<12} {:>8.3} s {:>10.1} MB/s {:>12.0} resources/s",
                p.name, p.seconds, p.mb_per_second, p.resources_per_second
            );
        }
        match self.verdict {
            Verdict::Safe => {
                let _ = writeln!(t, "verdict: safe");
            }
            Verdict::WouldBreak => {
                let _ = writeln!(t, "verdict: WOULD BREAK");
                for r in &self.reasons {
                    let _ = writeln!(t, "  {r}");
                }
            }
        }
        if !self.complete {
            let _ = writeln!(
                t,
                "incomplete: {} resources of the input were skipped (see input problems)",
                s.problems.skipped_resources
            );
        }
        t.into_string()
    }
}

fn more<T>(b: &Bounded<T>) -> String {
    let extra = b.total.saturating_sub(b.items().len() as u64);
    if extra > 0 {
        format!(" and {extra} more")
    } else {
        String::new()
    }
}
