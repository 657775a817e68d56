//! The stdlib's own committed files, compiled in: its registry and migration declarations. Tools
//! that run the built-in stdlib (benches, tests, a devnet) read them from here rather than from
//! paths relative to wherever they happen to run.

use binary_format::Module;
use std::path::Path;
use upgrade_spec::declarations::{Declarations, DeclarationsError};
use upgrade_spec::registry::{Registry, RegistryError};

/// `stdlib/registry.toml`.
pub const REGISTRY_TOML: &str = include_str!("../registry.toml");
/// `stdlib/migrations.toml`.
pub const MIGRATIONS_TOML: &str = include_str!("../migrations.toml");

/// The committed registry, checked.
pub fn registry() -> Result<Registry, RegistryError> {
    Registry::parse(REGISTRY_TOML, Path::new("stdlib/registry.toml"))
}

/// The committed migration declarations.
pub fn declarations() -> Result<Declarations, DeclarationsError> {
    Declarations::parse(MIGRATIONS_TOML, Path::new("stdlib/migrations.toml"))
}

/// The modules of release `index` (0 is v1), built from the definitions.
pub fn release_modules(index: usize) -> Result<Vec<Module>, crate::build::BuildError> {
    Ok(crate::build::build_release(index)?.modules.into_iter().map(|m| m.module).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_files_are_valid() {
        assert!(super::registry().is_ok());
        assert_eq!(super::declarations().unwrap().entries().len(), 7);
        assert_eq!(super::release_modules(0).unwrap().len(), 10);
    }
}
