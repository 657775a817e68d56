//! Every bound the reader enforces, in one place (the deserializer and `bcs` name no other).
//!
//! Counts are checked against these *before* anything is allocated, and every count is also
//! checked against the bytes left in the input (an entry takes at least one byte), so a hostile
//! file can never make the reader allocate more than a small multiple of its own size.
//! `tests/limits.rs` fails when a bound here is not used by the code.

/// Largest module the reader accepts. Real framework modules are well under 1 MiB.
pub const MAX_MODULE_SIZE: usize = 64 * 1024 * 1024;
/// Tables a module may declare (the format defines fewer than 25 kinds).
pub const MAX_TABLE_COUNT: u64 = 64;
/// A table's offset and length: the reference format writes them as u32.
pub const MAX_TABLE_OFFSET: u64 = u32::MAX as u64;
/// Longest identifier, in bytes (the reference implementations allow 65535).
pub const MAX_IDENTIFIER_LEN: u64 = 65_535;
/// Entries in one table: every table index is a u16.
pub const MAX_TABLE_ENTRIES: usize = u16::MAX as usize + 1;
/// A table index: a u16 in every version.
pub const MAX_TABLE_INDEX: u64 = u16::MAX as u64;
/// Nesting of type constructors (`vector<vector<...>>`, references, instantiations).
pub const MAX_TYPE_DEPTH: usize = 256;
/// Type parameters of one struct or function, and so type arguments of one instantiation.
pub const MAX_TYPE_PARAMETERS: u64 = 255;
/// Fields of one struct or variant (a field handle's offset is below it).
pub const MAX_FIELDS: u64 = 255;
/// Variants of one enum (a variant index is below it, and so is a jump table's length).
pub const MAX_VARIANTS: u64 = 127;
/// Tokens in one signature of the pool, and parameters or results of one function type: the
/// reference reader's bound on a signature's length.
pub const MAX_SIGNATURE_TOKENS: u64 = 255;
/// Bytes of one constant's value: the reference writers keep constants under 64 KiB.
pub const MAX_CONSTANT_LEN: u64 = 65_535;
/// Bytes of one metadata entry's key (Aptos and Sui keys are short names).
pub const MAX_METADATA_KEY_LEN: u64 = 1_023;
/// Bytes of one metadata entry's value (Aptos keeps a package's attributes there).
pub const MAX_BLOB_LEN: u64 = 16 * 1024 * 1024;
/// Structs one function acquires: each is a struct definition, and a function names each once.
pub const MAX_ACQUIRES: u64 = 255;
/// A local's index in a code unit, and a function parameter's in an access specifier: a u8.
pub const MAX_LOCAL_INDEX: u64 = 255;
/// Access specifiers of one Aptos function (real ones have a handful).
pub const MAX_ACCESS_SPECIFIERS: u64 = 64;
/// Attributes of one Aptos function (two kinds are defined).
pub const MAX_FUNCTION_ATTRIBUTES: u64 = 16;
/// Instructions in one code unit.
pub const MAX_CODE_LEN: u64 = 65_535;
/// Jump tables of one Sui code unit (one per enum match), and a jump table's index.
pub const MAX_JUMP_TABLES: u64 = 127;
/// Bytes of names and types the normalized view may hold per byte of the module: real modules
/// need a few; a 64 KiB name or a signature of thousands of types used from every one-byte index
/// would otherwise take gigabytes.
pub const VIEW_BYTES_PER_MODULE_BYTE: usize = 64;
/// Bytes of the normalized view allowed on top of the per-byte share, for small modules.
pub const VIEW_SLACK: usize = 1 << 20;
/// Elements of one BCS sequence: BCS refuses longer ones (2^31 - 1).
pub const MAX_SEQUENCE_LENGTH: u64 = (1 << 31) - 1;
