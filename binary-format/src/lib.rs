//! Reading and writing Move bytecode modules, as real chains ship them.
//!
//! Written from the format's public description; no code from the reference implementations.
//! Covers bytecode versions 1 to 7 of Diem, 0L, Aptos and Sui (and Aptos 8 to 10), addresses of
//! 16, 20 and 32 bytes, and both encodings of enums.
//!
//! Three levels of reading, cheapest first:
//! - [`read_layouts`]: structs and enums only; function definitions are never decoded.
//! - [`read_module`]: the whole normalized view, function signatures included.
//! - [`parse`] with [`Detail::Full`]: every table, instructions included (`raw::RawModule`).
//!
//! The crate knows nothing of releases, registries or chain state.

pub mod ability;
pub mod address;
pub mod bcs;
pub mod builder;
pub mod deserializer;
pub mod detect;
pub mod error;
pub mod format;
#[cfg(any(test, feature = "generate"))]
pub mod generate;
pub mod identifier;
pub mod limits;
pub mod module;
pub mod normalize;
pub mod opcodes;
pub mod raw;
pub mod serializer;
pub mod text;
pub mod types;
pub mod version;

pub use ability::{Ability, AbilitySet};
pub use address::{Address, AddressLength};
pub use bcs::{uleb_len, write_uleb, Reader};
pub use builder::{DatatypeDecl, DatatypeResolver, NoResolver};
pub use deserializer::{parse, Detail, ParseOptions};
pub use detect::{detect_address_length, Detection};
pub use error::{Error, ErrorKind, Result};
pub use module::{DatatypeTypeParameter, Field, Function, FunctionTypeParameter, Module, Struct, Variant, Visibility};
pub use types::{DatatypeRef, ModuleId, Type};
pub use version::Version;

/// Bytes of names and types the normalized view of a module may hold (see
/// [`limits::VIEW_BYTES_PER_MODULE_BYTE`]).
fn view_budget(bytes: &[u8]) -> usize {
    bytes.len().saturating_mul(limits::VIEW_BYTES_PER_MODULE_BYTE).saturating_add(limits::VIEW_SLACK)
}

/// Parses a module with `options` and normalizes it, the view bounded by the module's size.
pub fn read_with(bytes: &[u8], options: &ParseOptions) -> Result<Module> {
    normalize::normalize_within(&parse(bytes, options)?, view_budget(bytes))
}

/// Reads the normalized view of a module, function signatures included.
pub fn read_module(bytes: &[u8], address_length: AddressLength) -> Result<Module> {
    read_with(bytes, &ParseOptions::new(address_length, Detail::Signatures))
}

/// Reads a module's structs and enums without decoding its functions.
pub fn read_layouts(bytes: &[u8], address_length: AddressLength) -> Result<Module> {
    read_with(bytes, &ParseOptions::new(address_length, Detail::Layouts))
}

/// Writes a normalized module as `.mv` bytes with minimal function bodies.
pub fn write_module(
    module: &Module,
    address_length: AddressLength,
    resolver: &dyn DatatypeResolver,
) -> Result<Vec<u8>> {
    serializer::serialize(&builder::build(module, address_length, resolver)?)
}
