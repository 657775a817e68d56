//! What a source skipped or found odd, counted by kind with the first few examples: the report
//! names each with its file, place and key, and a state larger than memory cannot make the list
//! grow past a bound.

use serde::Serialize;
use std::collections::BTreeMap;

/// Examples kept per kind of problem.
pub const EXAMPLES_PER_KIND: usize = 10;
/// Longest origin, key or message an example keeps, in bytes: a path or a key from the input
/// may be of any length (a 200 KB path was quoted whole).
pub const MAX_EXAMPLE_TEXT: usize = 512;

/// `text` cut to [`MAX_EXAMPLE_TEXT`] bytes at a character boundary, saying how long it was.
fn bounded(text: String) -> String {
    if text.len() <= MAX_EXAMPLE_TEXT {
        return text;
    }
    let mut end = MAX_EXAMPLE_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", text.get(..end).unwrap_or_default(), text.len())
}

/// A kind of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// A line that is not JSON, or not an object.
    NotAnObject,
    /// An object that is no kind of line (or the fields of several), or a line the reader does
    /// not take (a table key or a group past its bound, a table's types not kept).
    BadLine,
    /// Hex with odd length or a non-hex digit.
    BadHex,
    /// An address that does not parse or does not fit the chain's width.
    BadAddress,
    /// A type that does not parse: a struct tag, or a table's key or value type.
    BadType,
    /// A value that does not read as what its key says it is: a resource group's value that is
    /// not the BCS map of its members in BCS order.
    BadValue,
    /// A resource key (a hashed struct tag, or an access path) that resolves to no struct.
    UnresolvedKey,
    /// A record whose account (a hash of its address) matches no candidate address.
    UnresolvedAccount,
    /// A module that does not read, or whose key does not match it.
    BadModule,
    /// Bytes that are framed correctly but not in canonical order (read anyway).
    NonCanonical,
    /// Resources given more than once under one key (the last one read is kept), or a group's
    /// member given twice with the same bytes (kept once).
    Duplicate,
    /// State the rehearsal cannot carry yet (table items, resource groups, raw keys of an
    /// Aptos-based backup): counted and named, not rehearsed.
    NotYetRehearsed,
    /// Part of the input was not there or ended early (a backup read as partial), or its root
    /// is bound to no ledger info.
    Incomplete,
    /// A resource given more than once under one key with different bytes (found when the
    /// rehearsal sorts the input), a group member given twice with different bytes, or a table
    /// stated with different types: which one the state means is unknown.
    Conflict,
    /// The raw address scan's budget for a run was spent: records it did not scan whole (their
    /// accounts, if still unknown, are counted as [`ProblemKind::UnresolvedAccount`]).
    ScanBudget,
    /// A table whose items the state holds, and whose key and value types nothing gives (no
    /// value of the state holds it, no `--table-types` names it): its items cannot be judged.
    UnresolvedTable,
    /// A table stated or found with two different sets of types.
    TableConflict,
    /// A value that would take more memory built than one value is given, where a reader
    /// builds one to learn something of it (the addresses an unnamed account's resources
    /// mention, the tables a value holds): not built, so what it would have told is not known
    /// (an account left unnamed, a table left unresolved, each counted as such).
    ValueBudget,
}

impl ProblemKind {
    /// Whether items were skipped because of it (the rest only note something odd).
    pub fn skips(self) -> bool {
        !matches!(
            self,
            ProblemKind::NonCanonical
                | ProblemKind::BadModule
                | ProblemKind::Duplicate
                | ProblemKind::ScanBudget
                | ProblemKind::ValueBudget
        )
    }
}

/// One problem: where, which key, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// `FILE:LINE` or `FILE at byte N`.
    pub origin: String,
    /// The key concerned (account, type, hash), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub message: String,
}

/// Problems of one read, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Problems {
    /// Problems per kind.
    pub counts: BTreeMap<ProblemKind, u64>,
    /// Resources skipped (not rehearsed) because of them.
    pub skipped_resources: u64,
    /// The first few of each kind.
    pub examples: Vec<Problem>,
}

impl Problems {
    /// Records a problem that skipped `resources` resources.
    pub fn add(&mut self, problem: Problem, resources: u64) {
        let count = self.counts.entry(problem.kind).or_default();
        *count += 1;
        self.skipped_resources += resources;
        if *count as usize <= EXAMPLES_PER_KIND {
            self.examples.push(Problem {
                origin: bounded(problem.origin),
                key: problem.key.map(bounded),
                message: bounded(problem.message),
                ..problem
            });
        }
    }

    /// Adds the problems `later` recorded, as if each had been added here after these.
    pub fn append(&mut self, later: Problems) {
        for (kind, n) in later.counts {
            *self.counts.entry(kind).or_default() += n;
        }
        self.skipped_resources += later.skipped_resources;
        for p in later.examples {
            if self.examples.iter().filter(|e| e.kind == p.kind).count() < EXAMPLES_PER_KIND {
                self.examples.push(p);
            }
        }
    }

    /// Problems in all.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Whether anything was skipped.
    pub fn skipped_any(&self) -> bool {
        self.counts.iter().any(|(kind, n)| kind.skips() && *n > 0)
    }
}
