//! What an upgrade is declared as, for everything that judges or runs one: which release a
//! thing belongs to ([`release`]), the seed's registry of versioned module addresses
//! ([`registry`]), the migration declarations ([`declarations`]) and the order modules depend on
//! each other in ([`order`]).
//!
//! A node compiles this crate: it holds data and the rules that check it, nothing that reads
//! files. Reading the registry and declarations files (TOML) is the `toml` feature's, which
//! release tooling turns on.

pub mod declarations;
pub mod order;
pub mod registry;
pub mod release;

pub use declarations::{Declaration, Declarations, DeclarationsError, RawDeclaration, Scope, TransformKind};
pub use registry::{Registry, ReleaseName};
pub use release::{ReleaseId, ReleaseLabel};
