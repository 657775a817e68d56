//! The versioned Move stdlib and everything that treats a release as a whole: the module
//! definitions of each release and their build, loading releases from the files chains ship them
//! in, the address registry, and the module dependency graph.
//!
//! This crate diffs nothing and touches no chain state.

pub mod build;
pub mod declarations;
pub mod definitions;
pub mod embedded;
pub mod graph;
pub mod registry;
pub mod release;

pub use release::{containers::ContainerKind, load, LoadOptions, Release, ReleaseError, ReleaseModule};
