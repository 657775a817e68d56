//! Everything a release engineer or framework author runs against releases: the canonical layout
//! rendering (for snapshots) and the compatibility checker, which finds every layout change
//! between two releases, classifies it, says what to do, and gates it with the registry and the
//! migration declarations.
//!
//! This crate runs no migrations and touches no state.

pub mod advice;
pub mod chain;
pub mod check;
pub mod config;
pub mod escape;
pub mod finding;
pub mod gate;
pub mod layout;
pub mod report;
pub mod snapshot;

pub use chain::{Chain, ChainChoice, ChainVerdict, Policy, Profile};
pub use check::{check, check_releases, check_views, ChainOptions, CheckOptions};
pub use finding::{Finding, Status};
pub use layout_diff::{rules, Class, RuleId};
pub use report::{GateOn, Report, Verdict};
