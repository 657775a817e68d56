//! Everything a release engineer or framework author runs against releases: the canonical layout
//! rendering (for snapshots) and the compatibility checker, which finds every layout change
//! between two releases, classifies it, says what to do, and gates it with the registry and the
//! migration declarations.
//!
//! This crate runs no migrations and touches no state.

pub mod change;
pub mod check;
pub mod config;
pub mod diff;
pub mod gate;
pub mod layout;
pub mod report;
pub mod rules;
pub mod snapshot;

pub use check::{check, CheckOptions};
pub use report::{Report, Verdict};
