//! Every bound the reader enforces, in one place.
//!
//! Counts are checked against these *before* anything is allocated, and every count is also
//! checked against the bytes left in the input (an entry takes at least one byte), so a hostile
//! file can never make the reader allocate more than a small multiple of its own size.

/// Largest module the reader accepts. Real framework modules are well under 1 MiB.
pub const MAX_MODULE_SIZE: usize = 64 * 1024 * 1024;
/// Tables a module may declare (the format defines fewer than 25 kinds).
pub const MAX_TABLE_COUNT: u64 = 64;
/// Longest identifier, in bytes (the reference implementations allow 65535).
pub const MAX_IDENTIFIER_LEN: u64 = 65_535;
/// Entries in one table: every table index is a u16.
pub const MAX_TABLE_ENTRIES: usize = u16::MAX as usize + 1;
/// Nesting of type constructors (`vector<vector<...>>`, references, instantiations).
pub const MAX_TYPE_DEPTH: usize = 256;
/// Type parameters of one struct or function.
pub const MAX_TYPE_PARAMETERS: u64 = 255;
/// Fields of one struct or variant.
pub const MAX_FIELDS: u64 = 255;
/// Variants of one enum.
pub const MAX_VARIANTS: u64 = 127;
/// Tokens in one signature.
pub const MAX_SIGNATURE_TOKENS: u64 = 65_535;
/// Bytes of one constant's or metadata entry's value.
pub const MAX_BLOB_LEN: u64 = 16 * 1024 * 1024;
/// Instructions in one code unit.
pub const MAX_CODE_LEN: u64 = 65_535;
/// Modules in one release.
pub const MAX_MODULES_PER_RELEASE: u64 = 65_535;
