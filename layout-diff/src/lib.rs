//! What changes between two releases of Move modules, and how each struct's fields map.
//!
//! Two stacks share this crate: the release engineer's checker (which gates, advises and
//! renders what the diff finds) and the node's migrations (which derive byte-level transforms
//! from the struct pairs' field mappings). So it holds the comparison and nothing that only one
//! of them needs: no report rendering, no gate, no CLI, no store.
//! - [`mod@diff`]: every difference between two releases, each a [`Change`] named by a rule, and
//!   the [`diff::StructPair`]s whose layouts migrations read;
//! - [`diff::lineage`]: which module of the new release continues which of the old;
//! - [`diff::structs`]: which new field comes from which old one (renames, reorders, retypes);
//! - [`diff::types`]: how an old field type relates to a new one across module versions;
//! - [`rules`]: every rule as data, with a typed [`RuleId`];
//! - [`storage`]: which structs can be in storage, and which changes need a migration;
//! - [`mod@plan`]: an upgrade judged once ([`plan()`]): its diff, what must be migrated and by which
//!   declaration, the one answer the checker, the rehearsal and the catalogue share.

pub mod change;
pub mod diff;
pub mod plan;
pub mod rules;
pub mod storage;

pub use change::{Change, Detail};
pub use diff::{diff, diff_with, Diff, DiffOptions, StructPair};
pub use plan::{plan, Declared, Plan, PlannedNeed, Upgrade};
pub use rules::{Class, Rule, RuleId};
