//! The verdicts on a release pair — the chain's and ours (stored data) — and their text, JSON
//! and GitHub renderings.

use crate::advice::CommonCause;
use crate::chain::ChainVerdict;
use crate::escape::{shown, workflow_data, workflow_property};
use crate::finding::{Concern, Finding, Status};
use binary_format::ModuleId;
use layout_diff::storage::{Cause, Need, Storage};
use layout_diff::Class;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Version of the JSON report schema. Schema 2 adds `summary`, `gate`, `chain`, `storage`,
/// `causes` and `warnings`, and per change `concern` and `file`; schema 1's keys are unchanged.
pub const REPORT_SCHEMA: u32 = 2;

/// Width text is wrapped to.
const WIDTH: usize = 100;
/// Width a finding's first line (with its columns) is wrapped to.
const HEAD_WIDTH: usize = 140;
/// Findings of one kind shown in full before the rest are folded.
const SHOWN: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing breaks: upgrade in place, node by node.
    RollingUpgrade,
    /// Breaking changes, every one handled (by migrations, or accepted by the chain).
    UpgradeWithMigrations,
    /// What the check gates on fails: the chain rejects the upgrade, or stored data is not safe.
    Blocked,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::RollingUpgrade => "rolling upgrade",
            Verdict::UpgradeWithMigrations => "upgrade with migrations",
            Verdict::Blocked => "blocked",
        }
    }
}

/// What fails the check (`--gate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GateOn {
    /// The chain's verdict only.
    Chain,
    /// Stored data only.
    Storage,
    /// Both.
    #[default]
    Both,
}

impl GateOn {
    pub fn chain(self) -> bool {
        matches!(self, GateOn::Chain | GateOn::Both)
    }

    pub fn storage(self) -> bool {
        matches!(self, GateOn::Storage | GateOn::Both)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Counts {
    pub compatible: usize,
    pub linking_breaking: usize,
    pub layout_breaking: usize,
    pub handled: usize,
    pub unhandled: usize,
    pub allowed: usize,
}

/// A stored struct whose instances this upgrade must rewrite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationDue {
    pub module: ModuleId,
    #[serde(rename = "struct")]
    pub struct_name: String,
    /// Its module in the old release (the same id in place).
    pub from: ModuleId,
    /// `in-place` or `versioned`.
    pub remedy: &'static str,
    /// What changed: `own layout`, or the nested struct.
    pub causes: Vec<String>,
    pub derivable: bool,
    /// It is a container's key type: the stored keys themselves change.
    pub keys_change: bool,
    pub declared: bool,
}

/// Ours: is stored data safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StorageVerdict {
    pub safe: bool,
    /// Layout-breaking changes of structs that can be in storage.
    pub stored_changes: usize,
    pub handled: usize,
    pub unhandled: usize,
    /// Layout-breaking changes of structs nothing can store (nothing to migrate).
    pub not_stored: usize,
    /// The stored structs the upgrade must migrate.
    pub migrations: Vec<MigrationDue>,
    /// What layouts cannot tell (heterogeneous containers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl StorageVerdict {
    pub fn new(
        findings: &[Finding],
        problems: &[String],
        needs: &[Need],
        stored: &Storage,
        declared: impl Fn(&Need) -> bool,
    ) -> StorageVerdict {
        let ours: Vec<&Finding> = findings.iter().filter(|f| f.concern == Concern::Storage).collect();
        let unhandled = ours.iter().filter(|f| matches!(f.status, Status::Unhandled { .. })).count();
        StorageVerdict {
            safe: unhandled == 0 && problems.is_empty(),
            stored_changes: ours.iter().filter(|f| f.class() == Class::LayoutBreaking).count(),
            handled: ours.iter().filter(|f| f.status == Status::Handled).count(),
            unhandled,
            not_stored: findings.iter().filter(|f| f.status == Status::NotStored).count(),
            migrations: needs
                .iter()
                .map(|n| MigrationDue {
                    module: n.new_module.clone(),
                    struct_name: n.name.clone(),
                    from: n.old_module.clone(),
                    remedy: if n.in_place() { "in-place" } else { "versioned" },
                    causes: n
                        .causes
                        .iter()
                        .map(|c| match c {
                            Cause::Own => "own layout".to_owned(),
                            Cause::Nested { module, name } => format!("nested {module}::{name}"),
                        })
                        .collect(),
                    derivable: n.derivable,
                    keys_change: n.keys_change,
                    declared: declared(n),
                })
                .collect(),
            notes: stored.notes.iter().cloned().collect(),
        }
    }

    /// The structs changing layout with nothing to carry their data over.
    fn undeclared(&self, findings: &[Finding]) -> usize {
        let mut items: Vec<String> = self
            .migrations
            .iter()
            .filter(|m| !m.declared)
            .map(|m| format!("{}::{}", m.module, m.struct_name))
            .collect();
        if !items.is_empty() {
            return items.len();
        }
        for f in findings.iter().filter(|f| f.concern == Concern::Storage && f.class() == Class::LayoutBreaking) {
            if matches!(f.status, Status::Unhandled { .. }) && f.from.is_none() {
                items.push(format!("{}::{}", f.module, f.item.as_deref().unwrap_or("")));
            }
        }
        items.sort();
        items.dedup();
        items.len()
    }

    /// The storage half of the summary.
    fn sentence(&self, findings: &[Finding], problems: usize) -> String {
        if self.safe {
            let declared = self.migrations.iter().filter(|m| m.declared).count();
            return if declared == 0 {
                "safe".to_owned()
            } else {
                format!(
                    "safe ({declared} stored struct{} migrate{}, each declared)",
                    plural(declared),
                    if declared == 1 { "s" } else { "" }
                )
            };
        }
        let n = self.undeclared(findings);
        if n > 0 {
            format!(
                "{n} stored struct{} change{} layout with no migration — the network would halt at the first access",
                plural(n),
                if n == 1 { "s" } else { "" }
            )
        } else if self.unhandled > 0 {
            format!("not safe: {} change{} of stored data not taken care of", self.unhandled, plural(self.unhandled))
        } else {
            format!("not safe: {problems} problem{} with the registry or the declarations", plural(problems))
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub old: String,
    pub new: String,
    pub verdict: Verdict,
    pub counts: Counts,
    /// Both verdicts in one sentence.
    pub summary: String,
    pub gate: GateOn,
    pub chain: ChainVerdict,
    pub storage: StorageVerdict,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<CommonCause>,
    /// Problems of the gate's own inputs that block the release: registry rules broken,
    /// declared migrations that match no change or contradict the release.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// What does not block but deserves a look (an allow-list entry that matched nothing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub changes: Vec<Finding>,
    /// The file of each module, where known.
    #[serde(skip)]
    pub files: BTreeMap<ModuleId, String>,
}

impl Report {
    /// The report of both verdicts; `gate` says which of them decide `verdict`.
    pub fn with_verdicts(
        old: impl Into<String>,
        new: impl Into<String>,
        changes: Vec<Finding>,
        problems: Vec<String>,
        chain: ChainVerdict,
        storage: StorageVerdict,
        gate: GateOn,
    ) -> Report {
        let mut counts = Counts::default();
        for c in &changes {
            match c.class() {
                Class::Compatible => counts.compatible += 1,
                Class::LinkingBreaking => counts.linking_breaking += 1,
                Class::LayoutBreaking => counts.layout_breaking += 1,
            }
            match c.status {
                Status::Handled => counts.handled += 1,
                Status::Unhandled { .. } => counts.unhandled += 1,
                Status::Allowed { .. } => counts.allowed += 1,
                Status::Compatible | Status::NotStored | Status::Accepted { .. } => {}
            }
        }
        let blocked = (gate.chain() && !chain.accepts) || (gate.storage() && !storage.safe);
        let verdict = if blocked {
            Verdict::Blocked
        } else if counts.handled > 0 || counts.allowed > 0 {
            Verdict::UpgradeWithMigrations
        } else {
            Verdict::RollingUpgrade
        };
        let storage_text = storage.sentence(&changes, problems.len());
        let summary = if chain.checked {
            format!("{}; stored data: {storage_text}", chain.sentence())
        } else if storage.safe {
            format!("{}: stored data is {storage_text}", chain.sentence())
        } else {
            format!("{}: {storage_text}", chain.sentence())
        };
        let causes = crate::advice::common_causes(&changes, &chain);
        let files = changes.iter().filter_map(|f| Some((f.module.clone(), f.file.clone()?))).collect();
        Report {
            schema: REPORT_SCHEMA,
            old: old.into(),
            new: new.into(),
            verdict,
            counts,
            summary,
            gate,
            chain,
            storage,
            causes,
            problems,
            warnings: Vec::new(),
            changes,
            files,
        }
    }

    pub fn passes(&self) -> bool {
        self.verdict != Verdict::Blocked
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Text for people: both verdicts, then the changes grouped by module, long lines wrapped
    /// and repeats folded; `color` adds ANSI colours. Every name and message is [`shown`]: what
    /// a release holds never reaches the terminal (or a CI log) as a control character.
    pub fn to_text(&self, color: bool) -> String {
        let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() };
        let mut out = String::new();
        let verdict_color = match self.verdict {
            Verdict::RollingUpgrade => "32",
            Verdict::UpgradeWithMigrations => "33",
            Verdict::Blocked => "1;31",
        };
        let _ = writeln!(
            out,
            "{} -> {}: {}",
            shown(&self.old),
            shown(&self.new),
            paint(verdict_color, self.verdict.as_str())
        );
        out.push_str(&wrap(&shown(&self.summary), "", "  ", WIDTH));
        let ch = &self.chain;
        let protocol = ch.protocol_version.map(|v| format!(", protocol {v}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "chain: {} ({}{protocol}; {}), gate: {}",
            ch.chain,
            ch.policy,
            shown(&ch.decided),
            match self.gate {
                GateOn::Chain => "chain",
                GateOn::Storage => "storage",
                GateOn::Both => "chain and storage",
            }
        );
        let c = &self.counts;
        let _ = writeln!(
            out,
            "{} changes: {} compatible, {} linking-breaking, {} layout-breaking ({} handled, {} unhandled, {} allowed)",
            self.changes.len(),
            c.compatible,
            c.linking_breaking,
            c.layout_breaking,
            c.handled,
            c.unhandled,
            c.allowed
        );
        for p in &self.problems {
            out.push_str(&wrap(&format!("{} {}", paint("1;31", "problem:"), shown(p)), "", "  ", WIDTH));
        }
        for w in &self.warnings {
            out.push_str(&wrap(&format!("{} {}", paint("33", "warning:"), shown(w)), "", "  ", WIDTH));
        }
        for n in ch.notes.iter().chain(&self.storage.notes) {
            out.push_str(&wrap(&format!("note: {}", shown(n)), "", "  ", WIDTH));
        }
        if !ch.rejections.is_empty() {
            let _ = writeln!(
                out,
                "\n{}",
                paint("1", &format!("{} rejects {} module(s):", ch.chain.title(), ch.rejected_modules.len()))
            );
            let mut by_module: BTreeMap<&ModuleId, Vec<&crate::chain::Rejection>> = BTreeMap::new();
            for r in &ch.rejections {
                by_module.entry(&r.module).or_default().push(r);
            }
            for (module, rs) in by_module {
                let _ = writeln!(out, "  {}", shown(&module.to_string()));
                let mut by_rule: BTreeMap<&str, Vec<&crate::chain::Rejection>> = BTreeMap::new();
                for r in rs {
                    by_rule.entry(r.rule.as_str()).or_default().push(r);
                }
                for (rule, rs) in by_rule {
                    for r in rs.iter().take(SHOWN) {
                        out.push_str(&wrap(&format!("{rule}: {}", shown(&r.reason)), "    ", "        ", WIDTH));
                        if let (Some(o), Some(n)) = (&r.old, &r.new) {
                            out.push_str(&wrap(
                                &format!("{} -> {}", shown(o), shown(n)),
                                "        ",
                                "          ",
                                WIDTH,
                            ));
                        }
                    }
                    if rs.len() > SHOWN {
                        let rest: Vec<&str> = rs.iter().skip(SHOWN).filter_map(|r| r.item.as_deref()).collect();
                        out.push_str(&wrap(
                            &format!("and {} more like this: {}", rs.len() - SHOWN, shown(&rest.join(", "))),
                            "    ",
                            "      ",
                            WIDTH,
                        ));
                    }
                }
            }
        }
        if !self.storage.migrations.is_empty() {
            let _ = writeln!(out, "\n{}", paint("1", "stored structs to migrate:"));
            let listed = if self.storage.migrations.len() > 4 * SHOWN + 1 { 4 * SHOWN } else { usize::MAX };
            for m in self.storage.migrations.iter().take(listed) {
                let state = if m.declared { "declared" } else { "NOT DECLARED" };
                let mut line = format!(
                    "{}::{} ({}, {}; {}): {}",
                    m.module,
                    m.struct_name,
                    m.remedy,
                    if m.derivable { "derived" } else { "hand-written" },
                    state,
                    m.causes.join(", ")
                );
                if m.keys_change {
                    line.push_str(" — a container key type: the stored keys themselves change");
                }
                out.push_str(&wrap(&shown(&line), "  ", "    ", WIDTH));
            }
            if self.storage.migrations.len() > listed {
                let rest: Vec<String> = self
                    .storage
                    .migrations
                    .iter()
                    .skip(listed)
                    .map(|m| {
                        format!("{}::{}{}", m.module, m.struct_name, if m.declared { "" } else { " (not declared)" })
                    })
                    .collect();
                out.push_str(&wrap(
                    &format!("and {} more: {}", rest.len(), shown(&rest.join(", "))),
                    "  ",
                    "    ",
                    WIDTH,
                ));
            }
        }
        for cause in &self.causes {
            let _ = writeln!(out, "\n{}", paint("1", &format!("one cause: {}", shown(&cause.cause))));
            out.push_str(&wrap(
                &format!(
                    "{} changes ({} in structs, {} in function signatures): {}",
                    cause.changes.len(),
                    cause.structs,
                    cause.functions,
                    shown(&fold_list(&cause.changes, 8))
                ),
                "  ",
                "    ",
                WIDTH,
            ));
            out.push_str(&wrap(&format!("fix: {}", shown(&cause.advice)), "  ", "    ", WIDTH));
        }
        let mut by_module: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
        for ch in &self.changes {
            let key = match &ch.from {
                Some(from) => format!("{} (versioned from {from})", ch.module),
                None => ch.module.to_string(),
            };
            by_module.entry(key).or_default().push(ch);
        }
        for (module, changes) in by_module {
            let _ = writeln!(out, "\n{}", paint("1", &shown(&module)));
            // Repeats (same rule, status and advice) are shown SHOWN times, then folded.
            let mut groups: BTreeMap<(&str, &str, &str), Vec<usize>> = BTreeMap::new();
            for (i, ch) in changes.iter().enumerate() {
                groups.entry((ch.rule.as_str(), ch.status.as_str(), ch.suggestion.as_str())).or_default().push(i);
            }
            let mut hidden = std::collections::BTreeSet::new();
            let mut folded_after: BTreeMap<usize, (usize, Vec<String>)> = BTreeMap::new();
            for group in groups.values().filter(|g| g.len() > SHOWN + 1) {
                let rest: Vec<String> = group
                    .iter()
                    .skip(SHOWN)
                    .filter_map(|&i| changes.get(i))
                    .map(|f| what(f).trim_end_matches(": ").to_owned())
                    .collect();
                hidden.extend(group.iter().skip(SHOWN).copied());
                if let Some(&last) = group.get(SHOWN - 1) {
                    folded_after.insert(last, (group.len() - SHOWN, rest));
                }
            }
            for (i, ch) in changes.iter().enumerate() {
                if hidden.contains(&i) {
                    continue;
                }
                self.finding_text(&mut out, ch, &paint);
                if let Some((n, rest)) = folded_after.get(&i) {
                    out.push_str(&wrap(
                        &format!("and {n} more like this: {}", shown(&rest.join(", "))),
                        "            ",
                        "              ",
                        WIDTH,
                    ));
                }
            }
        }
        out
    }

    fn finding_text(&self, out: &mut String, ch: &Finding, paint: &dyn Fn(&str, &str) -> String) {
        let (status, code) = match &ch.status {
            Status::Compatible => ("ok", "32"),
            Status::Handled => ("handled", "33"),
            Status::Unhandled { .. } => ("UNHANDLED", "1;31"),
            Status::Allowed { .. } => ("allowed", "36"),
            Status::NotStored => ("not stored", "32"),
            Status::Accepted { .. } => ("accepted", "32"),
        };
        let head = format!(
            "  {:<9} {:<16} {:<34} {}{}",
            paint(code, status),
            ch.class().as_str(),
            ch.rule.as_str(),
            shown(&what(ch)),
            shown(&ch.message)
        );
        // The columns take a third of the line: only a long message wraps.
        out.push_str(&wrap(&head, "", "            ", HEAD_WIDTH));
        if let (Some(o), Some(n)) = (&ch.old, &ch.new) {
            if !o.is_empty() && !n.is_empty() && !ch.message.contains(n.as_str()) {
                out.push_str(&wrap(&format!("{} -> {}", shown(o), shown(n)), "            ", "              ", WIDTH));
            }
        }
        if let Some(d) = ch.derivable {
            let _ = writeln!(out, "            transform: {}", if d { "derived" } else { "hand-written" });
        }
        if ch.is_breaking() || matches!(ch.status, Status::Unhandled { .. }) {
            out.push_str(&wrap(&format!("fix: {}", shown(&ch.suggestion)), "            ", "              ", WIDTH));
        }
        match &ch.status {
            Status::Unhandled { missing } => {
                for m in missing {
                    out.push_str(&wrap(&format!("missing: {}", shown(m)), "            ", "              ", WIDTH));
                }
            }
            Status::Allowed { reason } => {
                let _ = writeln!(out, "            allowed: {}", shown(reason));
            }
            Status::Accepted { by } => {
                let _ = writeln!(out, "            accepted by: {}", shown(by));
            }
            _ => {}
        }
    }

    /// GitHub Actions workflow commands: an error per unhandled change and per module the chain
    /// rejects (when gated on), a warning per handled breaking one, a notice with both verdicts.
    /// Annotations carry `file=` where the module's file is known. Every message and property
    /// goes through [`workflow_data`] or [`workflow_property`]: one workflow command a line.
    pub fn to_github(&self) -> String {
        let escape = workflow_data;
        let prop = workflow_property;
        let file = |f: Option<&String>| f.map(|f| format!("file={},", prop(f))).unwrap_or_default();
        let mut out = String::new();
        for ch in &self.changes {
            let level = match &ch.status {
                Status::Unhandled { .. } if ch.concern == Concern::Chain && !self.gate.chain() => "warning",
                Status::Unhandled { .. } if ch.concern == Concern::Storage && !self.gate.storage() => "warning",
                Status::Unhandled { .. } => "error",
                Status::Handled | Status::Allowed { .. } => "warning",
                Status::Compatible | Status::NotStored | Status::Accepted { .. } => continue,
            };
            let mut message = format!("{}: {}. Fix: {}", ch.location(), ch.message, ch.suggestion);
            if let Status::Unhandled { missing } = &ch.status {
                message.push_str(&format!(" Missing: {}", missing.join("; ")));
            }
            let _ = writeln!(
                out,
                "::{level} {}title={}::{}",
                file(ch.file.as_ref()),
                prop(&format!("{} ({})", ch.rule, ch.class().as_str())),
                escape(&message)
            );
        }
        let level = if self.gate.chain() { "error" } else { "warning" };
        for r in &self.chain.rejections {
            let mut message = format!("{}: {}", r.module, r.reason);
            if let (Some(o), Some(n)) = (&r.old, &r.new) {
                message.push_str(&format!(" ({o} -> {n})"));
            }
            let _ = writeln!(
                out,
                "::{level} {}title={}::{}",
                file(self.files.get(&r.module)),
                prop(&format!("{} rejects: {}", self.chain.chain.title(), r.rule)),
                escape(&message)
            );
        }
        for p in &self.problems {
            let _ = writeln!(out, "::error title=compat-checker::{}", escape(p));
        }
        for w in &self.warnings {
            let _ = writeln!(out, "::warning title=compat-checker::{}", escape(w));
        }
        let _ = writeln!(
            out,
            "::notice title=compat-checker::{}",
            escape(&format!("{} -> {}: {}. {}", self.old, self.new, self.verdict.as_str(), self.summary))
        );
        out
    }
}

/// `Item.field: ` for a finding's line.
fn what(ch: &Finding) -> String {
    match (&ch.item, &ch.field) {
        (Some(i), Some(f)) => format!("{i}.{f}: "),
        (Some(i), None) => format!("{i}: "),
        _ => String::new(),
    }
}

/// `a, b, c and 12 more`.
fn fold_list(items: &[String], shown: usize) -> String {
    if items.len() <= shown + 1 {
        return items.join(", ");
    }
    let head: Vec<&str> = items.iter().take(shown).map(String::as_str).collect();
    format!("{} and {} more", head.join(", "), items.len() - shown)
}

/// `text` wrapped at `width` columns on spaces: the first line after `first`, the rest after
/// `rest`; ends with a newline.
pub fn wrap(text: &str, first: &str, rest: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split(' ') {
        let fits = line.chars().count() + 1 + word.chars().count() <= width;
        if !empty && !fits {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_on_spaces_with_indents() {
        assert_eq!(wrap("a bb ccc dddd", "> ", "  ", 8), "> a bb\n  ccc\n  dddd\n");
        assert_eq!(wrap("short", "", "", 80), "short\n");
        assert_eq!(fold_list(&["a".into(), "b".into(), "c".into()], 1), "a and 2 more");
        assert_eq!(fold_list(&["a".into(), "b".into()], 1), "a, b");
    }
}
