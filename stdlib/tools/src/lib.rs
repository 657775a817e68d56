//! Release tooling for the stdlib, kept out of what a node compiles: `build-releases` (the stdlib
//! definitions built into `stdlib/releases`) and [`registry_edit`] (the registry file changed in
//! place, as `compat-checker registry bump|add` does).

pub mod registry_edit;

pub use registry_edit::{add_module_file, bump_file};
