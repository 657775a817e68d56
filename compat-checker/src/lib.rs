//! Everything a release engineer or framework author runs against releases: the canonical layout
//! rendering (for snapshots) and, built on it, the compatibility checker.
//!
//! This crate runs no migrations and touches no state.

pub mod layout;
