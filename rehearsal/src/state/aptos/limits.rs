//! Every bound the Aptos backup reader puts on what a file may ask of it, with why. A count or
//! length past one is an error naming the file and the place, before anything is allocated.

/// Chunks one manifest may list (a mainnet snapshot of a billion records in chunks of ~100 MB
/// holds a few thousand).
pub const MAX_CHUNKS: usize = 1 << 20;

/// Bytes of a table item's key, a raw key, or an access path (Aptos caps a key far lower; this
/// only bounds memory).
pub const MAX_KEY_BYTES: u64 = 1 << 20;

/// Bytes of a state value's data (a record is at most [`crate::state::diem::chunk::MAX_RECORD`]).
pub const MAX_VALUE_BYTES: u64 = 1 << 30;

/// Members of one resource group (Aptos groups hold a handful; the bound is on memory).
pub const MAX_GROUP_MEMBERS: u64 = 1 << 16;

/// Siblings of a transaction accumulator proof (Aptos' own bound: leaves are numbered in 63 bits).
pub const MAX_ACCUMULATOR_SIBLINGS: u64 = 63;

/// Bytes of a Move identifier in a module id (Move's own bound is lower).
pub const MAX_IDENTIFIER_BYTES: u64 = 255;

/// Bytes of an abort's reason or description in a transaction status.
pub const MAX_ABORT_TEXT: u64 = 1 << 16;

/// Incomplete chunks named one by one in a summary (the rest are counted).
pub const MAX_INCOMPLETE_LISTED: usize = 32;

/// Snapshot folders named in the message that says `--version` matched none.
pub const MAX_VERSIONS_LISTED: usize = 10;
