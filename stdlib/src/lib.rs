//! This project's own versioned stdlib: the module definitions of releases v1..v3 in text form,
//! the build that turns them into `.mv` files and bundles, and the committed files compiled in
//! ([`embedded`]: the registry, the migration declarations, the releases).
//!
//! Release tooling and the synthetic chain (`devchain`) use it; a node for a real chain never
//! compiles it.

pub mod build;
pub mod definitions;
pub mod embedded;
