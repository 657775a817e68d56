//! The versioned Move stdlib and everything that treats a release as a whole: loading releases
//! from the files chains ship them in.
//!
//! This crate diffs nothing and touches no chain state.

pub mod release;

pub use release::{containers::ContainerKind, load, LoadOptions, Release, ReleaseError, ReleaseModule};
