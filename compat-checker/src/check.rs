//! The checker as a library: compare two releases, classify, gate, and give the verdict.

use crate::config::Config;
use crate::finding::Finding;
use crate::gate::Gate;
use crate::report::Report;
use binary_format::Module;
use layout_diff::{diff, Diff};
use stdlib::declarations::Declarations;
use stdlib::registry::Registry;

/// What the check is gated with; all optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions<'a> {
    pub registry: Option<&'a Registry>,
    pub declarations: Option<&'a Declarations>,
    pub config: Option<&'a Config>,
}

/// Compares `old` with `new` and returns the report, and the diff it rests on (its struct pairs
/// are what migrations derive their transforms from).
pub fn check(
    old_name: &str,
    old: &[&Module],
    new_name: &str,
    new: &[&Module],
    options: CheckOptions<'_>,
) -> (Report, Diff) {
    let d = diff(old, new, options.registry, options.declarations);
    let gate = Gate { registry: options.registry, declarations: options.declarations, config: options.config };
    let mut findings: Vec<Finding> = d.changes.iter().cloned().map(Finding::new).collect();
    gate.apply(&mut findings, new);
    let report = Report::new(old_name, new_name, findings, gate.problems(&d));
    (report, d)
}
