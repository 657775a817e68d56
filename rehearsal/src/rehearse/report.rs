//! The report: what a release engineer reads (text) and what tools read (JSON, schema 2, as
//! `docs/rehearse.md` documents it). Everything in it but `run` (threads, blocks, phase times)
//! is the same whatever the number of threads.

use super::Bounded;
use crate::state::{ChainRoot, Problems, SourceInfo};
use compat_checker::escape::Text;
use serde::Serialize;

use super::findings::{Example, Halt, Removed};

/// An account a migration failed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The instantiation, where the list is of several ([`OtherInstantiations`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#struct: Option<String>,
    pub account: String,
    pub reason: String,
}

/// A stored value a migration left on the old version although it did not fail on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftBehind {
    /// The instantiation, where the list is of several ([`OtherInstantiations`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#struct: Option<String>,
    pub account: String,
    /// Why: outside the declaration's scope, or the migration was given up.
    pub reason: String,
}

/// One declared migration, for one instantiation of its struct, as it went. `found` is always
/// `migrated + failed + left_behind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StructReport {
    /// The instantiation read: `0x1::Coin::Balance<0x1::GAS::GAS>`.
    pub r#struct: String,
    pub migration: String,
    /// Stored instances found in the state.
    pub instances: u64,
    pub migrated: u64,
    pub failed: u64,
    /// Instances left on the old version without failing (outside the scope, or given up).
    pub left_behind: u64,
    pub failures: Vec<Failure>,
    pub left_examples: Vec<LeftBehind>,
}

/// One declared migration's instantiations past the first [`MAX_INSTANCES`](super::instances::MAX_INSTANCES) (by name), counted
/// together: a state may hold any number of instantiations of a generic struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherInstantiations {
    pub migration: String,
    /// How many instantiations; exact up to [`super::instances::EXACT_INSTANTIATIONS`], an
    /// estimate (within a few percent) past it.
    pub instantiations: u64,
    pub instantiations_exact: bool,
    /// Stored instances of them, and what became of them.
    pub instances: u64,
    pub migrated: u64,
    pub failed: u64,
    pub left_behind: u64,
    /// The first failures and values left behind in key order, each with its instantiation,
    /// and how many there are.
    pub failures: Vec<Failure>,
    pub failures_total: u64,
    pub left_examples: Vec<LeftBehind>,
    pub left_total: u64,
}

/// How the rehearsal ran (the only part of the report that depends on the machine and the
/// number of threads).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub threads: usize,
    /// Blocks the hook's loop ran, summed over the threads' key ranges.
    pub blocks: u64,
    pub phases: Vec<Phase>,
    /// Scratch directories of killed rehearsals found in this run's place and removed.
    pub leftovers_removed: usize,
    /// The process's peak resident memory when the report was made, in bytes (Linux: `VmHWM`;
    /// `null` where the system does not say). What `--cache-mb` bounds, with the releases, the
    /// report and a block of the file per thread beside it.
    pub peak_memory_bytes: Option<u64>,
}

/// The process's peak resident memory so far, where the system says it (Linux).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim();
    kib.parse::<u64>().ok()?.checked_mul(1024)
}

/// The state's tables and resource groups, as the rehearsal saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TablesReport {
    /// Tables whose key and value types are known, found in the state or stated.
    pub known: u64,
    pub found: u64,
    pub stated: u64,
    /// Of them, the tables the release's migrations rewrite (`--out DIR/tables.json` lists them).
    pub rewritten: u64,
    /// Tables with items in the state and no known types, and their items: not judged.
    pub unresolved: u64,
    pub unresolved_items: u64,
    /// Table values of known type judged, and resource-group members.
    pub values: u64,
    pub members: u64,
}

/// What the state is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateReport {
    pub format: &'static str,
    pub path: String,
    pub detail: String,
    /// Distinct accounts holding resources; an estimate (within a percent or two) past 200,000.
    pub accounts: u64,
    pub accounts_exact: bool,
    /// Entries of the state, and of them resources.
    pub entries: u64,
    pub resources: u64,
    /// Entries by kind (`resource`, `group`, `table_item`, `module`, `raw`).
    pub kinds: std::collections::BTreeMap<&'static str, u64>,
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
    /// Resources of the state do not decode with the old release: the rehearsal cannot say what
    /// the upgrade does to them (accept them with `accept_undecodable` to judge the rest).
    Inconclusive,
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
    pub left_behind: u64,
    pub would_halt: Vec<Halt>,
    pub removed: Vec<Removed>,
    /// Resources of structs neither release declares (user modules'): not the upgrade's.
    pub unknown_to_both: u64,
    /// The state's tables (found, stated, rewritten, unresolved) and group members.
    pub tables: TablesReport,
    pub structs: Vec<StructReport>,
    /// Instantiations past the first [`MAX_INSTANCES`](super::instances::MAX_INSTANCES), per migration.
    pub other_instantiations: Vec<OtherInstantiations>,
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
    pub run: RunReport,
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
        let approx = if s.accounts_exact { "" } else { "about " };
        let _ = writeln!(
            t,
            "  {approx}{} accounts, {} entries ({} resources), {} bytes",
            s.accounts, s.entries, s.resources, self.size_before
        );
        if let Some(root) = &s.chain_root {
            let _ = writeln!(
                t,
                "  chain root {} {} ({})",
                root.expected,
                if root.verified { "recomputed from the records, equal" } else { "NOT verified" },
                root.scheme
            );
            for n in &root.not_verified {
                let _ = writeln!(t, "    not verified: {}", n);
            }
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
            "migrations: {} resources migrated, {} failed, {} left behind, in {} blocks",
            self.migrated, self.failed, self.left_behind, self.run.blocks
        );
        for st in &self.structs {
            let _ = writeln!(
                t,
                "  {} ({}): {} found, {} migrated, {} failed, {} left on the old version",
                st.r#struct, st.migration, st.instances, st.migrated, st.failed, st.left_behind
            );
            for f in &st.failures {
                let _ = writeln!(t, "    failed {}: {}", f.account, f.reason);
            }
            for l in &st.left_examples {
                let _ = writeln!(t, "    left {}: {}", l.account, l.reason);
            }
        }
        for o in &self.other_instantiations {
            let _ = writeln!(
                t,
                "  and {}{} more instantiations ({}): {} found, {} migrated, {} failed, {} left on the old version",
                if o.instantiations_exact { "" } else { "about " },
                o.instantiations,
                o.migration,
                o.instances,
                o.migrated,
                o.failed,
                o.left_behind
            );
            for f in &o.failures {
                let _ =
                    writeln!(t, "    failed {} at {}: {}", f.r#struct.as_deref().unwrap_or("-"), f.account, f.reason);
            }
            if o.failures_total > o.failures.len() as u64 {
                let _ = writeln!(t, "    and {} more failures", o.failures_total - o.failures.len() as u64);
            }
            for l in &o.left_examples {
                let _ = writeln!(t, "    left {} at {}: {}", l.r#struct.as_deref().unwrap_or("-"), l.account, l.reason);
            }
            if o.left_total > o.left_examples.len() as u64 {
                let _ =
                    writeln!(t, "    and {} more left on the old version", o.left_total - o.left_examples.len() as u64);
            }
        }
        if !self.second_pass.is_empty() {
            for (id, n) in &self.second_pass {
                let _ = writeln!(t, "  NOT IDEMPOTENT: a second pass of {id} changes {n} resources");
            }
        }
        if self.unknown_to_both > 0 {
            let _ = writeln!(
                t,
                "{} resources of structs neither release declares (user modules'): not the upgrade's to judge",
                self.unknown_to_both
            );
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
        let _ = writeln!(t, "  ({} threads)", self.run.threads);
        if let Some(peak) = self.run.peak_memory_bytes {
            let _ = writeln!(t, "  (peak memory {:.0} MiB)", peak as f64 / f64::from(1u32 << 20));
        }
        if self.run.leftovers_removed > 0 {
            let _ = writeln!(t, "  (removed {} scratch directories of killed rehearsals)", self.run.leftovers_removed);
        }
        for p in &self.run.phases {
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
            Verdict::Inconclusive => {
                let _ = writeln!(t, "verdict: INCONCLUSIVE");
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

/// What [`build`] makes a report of.
#[allow(missing_debug_implementations)]
pub struct Parts<'a> {
    pub options: &'a super::Options,
    pub info: SourceInfo,
    pub chain_root: Option<ChainRoot>,
    pub problems: Problems,
    pub repeated: u64,
    pub from: String,
    pub from_source: &'static str,
    pub to: String,
    pub gate: super::gate::Gate,
    pub all: super::pass::Partial,
    pub stopped: Vec<(String, String)>,
    pub second_pass: Vec<(String, u64)>,
    pub root_before: vm_hooks::StateRoot,
    pub root_after: vm_hooks::StateRoot,
    pub out: Option<String>,
    pub blocks: u64,
    pub threads: usize,
    pub phases: Vec<Phase>,
    pub leftovers_removed: usize,
    pub tables: TablesReport,
}

/// The report of a rehearsal: counts, per-migration accounting, and the verdict with its reasons.
pub fn build(p: Parts<'_>) -> Report {
    let all = p.all;
    let mut structs = Vec::new();
    let (mut migrated, mut failed, mut left) = (0u64, 0u64, 0u64);
    for (tag, id, c) in all.instances.detailed() {
        migrated += c.migrated;
        failed += c.failed;
        left += c.left;
        structs.push(StructReport {
            r#struct: tag.to_owned(),
            migration: id.to_owned(),
            instances: c.found,
            migrated: c.migrated,
            failed: c.failed,
            left_behind: c.left,
            failures: c
                .failures
                .items()
                .iter()
                .map(|n| Failure { r#struct: None, account: n.held.clone(), reason: n.reason.clone() })
                .collect(),
            left_examples: c
                .left_examples
                .items()
                .iter()
                .map(|n| LeftBehind { r#struct: None, account: n.held.clone(), reason: n.reason.clone() })
                .collect(),
        });
    }
    let mut other_instantiations = Vec::new();
    for (id, o) in all.instances.others() {
        migrated += o.migrated;
        failed += o.failed;
        left += o.left;
        let (instantiations, instantiations_exact) = o.instantiations();
        other_instantiations.push(OtherInstantiations {
            migration: id.to_owned(),
            instantiations,
            instantiations_exact,
            instances: o.found,
            migrated: o.migrated,
            failed: o.failed,
            left_behind: o.left,
            failures: o
                .failures
                .items()
                .map(|(_, name, held, reason)| Failure {
                    r#struct: Some(name.clone()),
                    account: held.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            failures_total: o.failures.total,
            left_examples: o
                .left_examples
                .items()
                .map(|(_, name, held, reason)| LeftBehind {
                    r#struct: Some(name.clone()),
                    account: held.clone(),
                    reason: reason.clone(),
                })
                .collect(),
            left_total: o.left_examples.total,
        });
    }
    let mut reasons = Vec::new();
    let halting: u64 = all.halts.values().map(|h| h.accounts).sum();
    if halting > 0 {
        reasons.push(format!(
            "{halting} stored resources of {} structs change layout with no usable migration",
            all.halts.len()
        ));
    }
    if !p.gate.catalogue_problems.is_empty() {
        reasons.push(format!("{} declared migrations cannot be used (see the gate)", p.gate.catalogue_problems.len()));
    }
    if failed > 0 {
        reasons.push(format!("migrations failed on {failed} resources"));
    }
    for (id, why) in &p.stopped {
        reasons.push(format!("migration {id} was given up: {why}"));
    }
    if left > 0 {
        reasons.push(format!("{left} resources stay on the old version without failing (see each migration)"));
    }
    let removed: u64 = all.removed.values().map(|r| r.resources).sum();
    if removed > 0 {
        reasons.push(format!("{removed} resources of structs the new release removed"));
    }
    if all.broken_by_upgrade > 0 {
        reasons.push(format!("{} resources decode before the upgrade and not after", all.broken_by_upgrade));
    }
    for (id, n) in &p.second_pass {
        reasons.push(format!("a second pass of {id} changes {n} resources (not idempotent)"));
    }
    let undecodable_before = all.before.undecodable;
    let verdict = if !reasons.is_empty() {
        Verdict::WouldBreak
    } else if undecodable_before > 0 && !p.options.accept_undecodable {
        reasons.push(format!(
            "{undecodable_before} resources do not decode with the old release: what the upgrade does to them cannot be told (the first are listed under `before`)"
        ));
        Verdict::Inconclusive
    } else {
        Verdict::Safe
    };
    let (accounts, accounts_exact) = all.accounts.count();
    let mut problems = p.problems;
    if p.repeated > 0 {
        problems.add(
            crate::state::Problem {
                kind: crate::state::ProblemKind::Duplicate,
                origin: p.info.path.clone(),
                key: None,
                message: format!("{} entries repeat a key with the same value: counted once", p.repeated),
            },
            0,
        );
    }
    let complete = !problems.skipped_any();
    let root_verified = p.chain_root.as_ref().map(|r| r.verified);
    Report {
        schema: 2,
        state: StateReport {
            format: p.info.format,
            path: p.info.path.clone(),
            detail: p.info.detail.clone(),
            accounts,
            accounts_exact,
            entries: all.before.entries,
            resources: all.before.resources,
            kinds: all.kinds.clone(),
            root_verified,
            chain_root: p.chain_root,
            problems,
        },
        from: p.from,
        from_source: p.from_source,
        to: p.to,
        gate: GateReport {
            passes: p.gate.passes,
            unhandled: p.gate.unhandled,
            problems: p.gate.problems.clone(),
            catalogue_problems: p.gate.catalogue_problems.clone(),
            chain: Some(p.gate.chain.clone()),
        },
        before: Decoding {
            decoded: all.before.decoded,
            undecodable: all.before.undecodable,
            broken_by_upgrade: None,
            examples: all.before.examples,
        },
        after: Decoding {
            decoded: all.after.decoded,
            undecodable: all.after.undecodable,
            broken_by_upgrade: Some(all.broken_by_upgrade),
            examples: all.after.examples,
        },
        migrated,
        failed,
        left_behind: left,
        would_halt: all.halts.into_values().collect(),
        removed: all.removed.into_values().collect(),
        unknown_to_both: all.unknown,
        tables: p.tables,
        structs,
        other_instantiations,
        second_pass: p.second_pass,
        size_before: all.before.bytes,
        size_after: all.after.bytes,
        resources_after: all.after.resources,
        root_before: p.root_before.to_string(),
        root_after: p.root_after.to_string(),
        chain_root_after: None,
        out: p.out,
        run: RunReport {
            threads: p.threads,
            blocks: p.blocks,
            phases: p.phases,
            leftovers_removed: p.leftovers_removed,
            peak_memory_bytes: peak_memory_bytes(),
        },
        verdict,
        reasons,
        complete,
    }
}
