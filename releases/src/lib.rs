//! Release files, as release engineers and tools have them: a release loaded from a folder of
//! `.mv` files or from a container (a module bundle, an Aptos release bundle `.mrb`, a Sui
//! package snapshot), with one address length decided for the whole release ([`load`]); and the
//! module dependency graph of a release ([`graph`]).
//!
//! Tooling, not a node: a node reads its framework from its own state.

pub mod containers;
pub mod graph;
mod load;

pub use containers::ContainerKind;
pub use load::{
    from_modules, label, load, Failures, LoadOptions, ModuleError, ModuleFailure, Release, ReleaseError, ReleaseModule,
    MAX_FAILURE_EXAMPLES, MAX_RELEASE_FILE,
};
