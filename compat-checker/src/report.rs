//! The verdict on a release pair, and its text, JSON and GitHub renderings.

use crate::finding::{Finding, Status};
use layout_diff::Class;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Version of the JSON report schema.
pub const REPORT_SCHEMA: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing breaks: upgrade in place, node by node.
    RollingUpgrade,
    /// Breaking changes, every one handled by versioning and migrations.
    UpgradeWithMigrations,
    /// At least one breaking change is not handled: the upgrade would halt the network.
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

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub old: String,
    pub new: String,
    pub verdict: Verdict,
    pub counts: Counts,
    /// Problems of the gate's own inputs that block the release: registry rules broken,
    /// declared migrations that match no change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    pub changes: Vec<Finding>,
}

impl Report {
    pub fn new(old: impl Into<String>, new: impl Into<String>, changes: Vec<Finding>, problems: Vec<String>) -> Report {
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
                Status::Compatible => {}
            }
        }
        let verdict = if counts.unhandled > 0 || !problems.is_empty() {
            Verdict::Blocked
        } else if counts.handled > 0 || counts.allowed > 0 {
            Verdict::UpgradeWithMigrations
        } else {
            Verdict::RollingUpgrade
        };
        Report { schema: REPORT_SCHEMA, old: old.into(), new: new.into(), verdict, counts, problems, changes }
    }

    pub fn passes(&self) -> bool {
        self.verdict != Verdict::Blocked
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Text for people, grouped by module; `color` adds ANSI colours.
    pub fn to_text(&self, color: bool) -> String {
        let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() };
        let mut out = String::new();
        let verdict_color = match self.verdict {
            Verdict::RollingUpgrade => "32",
            Verdict::UpgradeWithMigrations => "33",
            Verdict::Blocked => "1;31",
        };
        let _ = writeln!(out, "{} -> {}: {}", self.old, self.new, paint(verdict_color, self.verdict.as_str()));
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
            let _ = writeln!(out, "{} {p}", paint("1;31", "problem:"));
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
            let _ = writeln!(out, "\n{}", paint("1", &module));
            for ch in changes {
                let (status, code) = match &ch.status {
                    Status::Compatible => ("ok", "32"),
                    Status::Handled => ("handled", "33"),
                    Status::Unhandled { .. } => ("UNHANDLED", "1;31"),
                    Status::Allowed { .. } => ("allowed", "36"),
                };
                let what = match (&ch.item, &ch.field) {
                    (Some(i), Some(f)) => format!("{i}.{f}: "),
                    (Some(i), None) => format!("{i}: "),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  {:<9} {:<16} {:<34} {what}{}",
                    paint(code, status),
                    ch.class().as_str(),
                    ch.rule.as_str(),
                    ch.message
                );
                if let Some(d) = ch.derivable {
                    let _ = writeln!(out, "            transform: {}", if d { "derived" } else { "hand-written" });
                }
                if ch.is_breaking() {
                    let _ = writeln!(out, "            fix: {}", ch.suggestion);
                }
                match &ch.status {
                    Status::Unhandled { missing } => {
                        for m in missing {
                            let _ = writeln!(out, "            missing: {m}");
                        }
                    }
                    Status::Allowed { reason } => {
                        let _ = writeln!(out, "            allowed: {reason}");
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// GitHub Actions workflow commands: an error per unhandled change, a warning per handled
    /// breaking one, a notice with the verdict.
    pub fn to_github(&self) -> String {
        let escape = |s: &str| s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
        let mut out = String::new();
        for ch in &self.changes {
            let level = match &ch.status {
                Status::Unhandled { .. } => "error",
                Status::Handled | Status::Allowed { .. } => "warning",
                Status::Compatible => continue,
            };
            let mut message = format!("{}: {}. Fix: {}", ch.location(), ch.message, ch.suggestion);
            if let Status::Unhandled { missing } = &ch.status {
                message.push_str(&format!(" Missing: {}", missing.join("; ")));
            }
            let _ = writeln!(
                out,
                "::{level} title={}::{}",
                escape(&format!("{} ({})", ch.rule, ch.class().as_str())),
                escape(&message)
            );
        }
        for p in &self.problems {
            let _ = writeln!(out, "::error title=compat-checker::{}", escape(p));
        }
        let _ = writeln!(
            out,
            "::notice title=compat-checker::{}",
            escape(&format!("{} -> {}: {}", self.old, self.new, self.verdict.as_str()))
        );
        out
    }
}
