//! The format's constants and limits (and the size of the I/O buffers), its record kinds, the header and the footer, and what a
//! snapshot holds ([`SnapshotInfo`]). The layout is described in the module above.

use binary_format::AddressLength;
use migrations::store::DEFAULT_MAX_VALUE_SIZE;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use vm_hooks::StateRoot;

/// The first bytes of every snapshot.
pub const MAGIC: &[u8; 21] = b"MOVE-DEVNET-SNAPSHOT\n";
/// The format's name, in the header and the footer.
pub const FORMAT: &str = "move-devnet-snapshot";
/// The format version this module writes and reads.
pub const VERSION: u32 = 1;
/// The largest header.
pub const MAX_HEADER: usize = 1 << 20;
/// The largest footer.
pub const MAX_FOOTER: usize = 64 << 20;
/// The largest tag prefix (its length field included).
pub const MAX_TAG_PREFIX: usize = 64 << 10;
/// The largest snapshot file read: 1 TiB, a state larger than any machine's memory (the file
/// is streamed, never held); a 10,000,000-account devnet chain is about 1 GB.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 40;
/// What a snapshot file is to [`input_files`]: a regular file of at most [`MAX_SNAPSHOT_BYTES`].
pub const SNAPSHOT_FILE: input_files::Kind = input_files::Kind::new("snapshot", MAX_SNAPSHOT_BYTES);
/// The highest height a snapshot may record: a chain producing a block a second would get there
/// in 34,000 years (the busiest real chains count versions in billions, under 2^35), and every
/// height computed from it stays far below `u64::MAX` and exact in JSON readers that use
/// doubles. A header claiming more is refused; an export beyond it is not written.
pub const MAX_HEIGHT: u64 = 1 << 40;
/// The largest resource value: the stores' default limit.
pub const MAX_VALUE: usize = DEFAULT_MAX_VALUE_SIZE;

/// Record kinds.
pub(super) const KIND_END: u8 = 0;
pub(super) const KIND_TAG: u8 = 1;
pub(super) const KIND_RESOURCE: u8 = 2;
/// The footer length field and the trailer.
pub(super) const TAIL: u64 = 4 + 32;
/// Not the format's, the files': the size of the buffers that writing and reading go through.
pub(super) const BUFFER: usize = 1 << 20;

/// The records' layout in words, in every header.
pub(super) const RECORDS: &str =
    "after the header, records, each a kind byte: 1 = a run of one struct tag starts: its key \
prefix (u32 big-endian length + canonical BCS of the StructTag); 2 = a resource of that tag: the account's bytes \
(address_length of them), u32 big-endian value length, the value's BCS bytes; 0 = end. Keys (tag prefix, then account) strictly increase. Then the \
footer JSON, its length as u32 big-endian, and the SHA-256 of every byte before it.";

/// What a snapshot holds, from its header and footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub version: u32,
    pub height: u64,
    /// The width of every address in the state.
    pub address_length: AddressLength,
    /// The caller's parameters, as given to [`export`](fn@super::export).
    pub chain: Value,
    pub resources: u64,
    pub state_root: StateRoot,
    /// Resources per rendered struct tag.
    pub tags: BTreeMap<String, u64>,
    /// The file's size.
    pub bytes: u64,
}

/// The header's JSON.
#[derive(Serialize, Deserialize)]
pub(super) struct Header {
    pub(super) format: String,
    pub(super) version: u32,
    pub(super) height: u64,
    /// Bytes per address (16, 20 or 32); snapshots written before it was recorded are 16.
    #[serde(default = "sixteen")]
    pub(super) address_length: usize,
    pub(super) chain: Value,
    #[serde(default)]
    pub(super) records: String,
}

fn sixteen() -> usize {
    16
}

/// The footer's JSON.
#[derive(Serialize, Deserialize)]
pub(super) struct Footer {
    pub(super) format: String,
    pub(super) version: u32,
    pub(super) resources: u64,
    pub(super) state_root: String,
    pub(super) tags: BTreeMap<String, u64>,
}

/// A length as the format's sizes and offsets count it.
pub(super) fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
