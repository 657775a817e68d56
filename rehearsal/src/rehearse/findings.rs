//! What the pass finds, one stored value at a time, and the report lists: resources named in a
//! finding, structs that would halt the chain, structs the new release removed. Each keeps its
//! first examples in key order and counts the rest.

use super::Bounded;
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
    /// The source entry it was read from (number, byte offset in the file read), resolved to
    /// `origin` once the pass is done.
    #[serde(skip)]
    pub entry: Option<(u64, u64)>,
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
