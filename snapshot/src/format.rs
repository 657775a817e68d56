//! The format's constants and limits (and the size of the I/O buffers), its record kinds, the
//! header and the footer, and what a snapshot holds ([`SnapshotInfo`]). The layout is described
//! in the crate docs.

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
/// The format version this crate writes and reads.
pub const VERSION: u32 = 2;
/// The largest header.
pub const MAX_HEADER: usize = 1 << 20;
/// The largest footer (it holds the restart index: a few bytes per [`RESTART`] entries).
pub const MAX_FOOTER: usize = 64 << 20;
/// The longest key (a struct tag is bounded by its nesting and names; a table item's key is the
/// BCS of a key value).
pub const MAX_KEY: usize = 64 << 10;
/// The largest value. Real chains store values of a few MiB at most (0L's oracle resource is
/// ~2 MB); a snapshot of a rehearsal keeps them whole.
pub const MAX_VALUE: usize = 64 << 20;
/// The largest extra of an entry (a chain's own metadata of a value, carried unchanged: Aptos'
/// `StateValue` metadata is a few dozen bytes).
pub const MAX_EXTRA: usize = 4 << 10;
/// Every this many entries, a key is written whole (not compressed against the previous one) and
/// indexed in the footer: where a reader may start.
pub const RESTART: u64 = 4096;
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
/// The largest value the devnet's store takes (what an import refuses above).
pub const STORE_VALUE: usize = DEFAULT_MAX_VALUE_SIZE;

/// Record kinds.
pub(crate) const KIND_END: u8 = 0;
pub(crate) const KIND_ENTRY: u8 = 1;
/// The footer length field and the trailer.
pub(crate) const TAIL: u64 = 4 + 32;
/// Not the format's, the files': the size of the buffers that writing and reading go through.
pub(crate) const BUFFER: usize = 1 << 20;

/// The records' layout in words, in every header.
pub(crate) const RECORDS: &str = "after the header, records, each a kind byte: 1 = an entry: \
ULEB128 bytes shared with the previous entry's key, ULEB128 length and bytes of the rest of the \
key (a canonical state key: kind byte, then the key's fields), ULEB128 length and bytes of the \
value, ULEB128 length and bytes of the extra (a chain's metadata of the value, usually empty); \
every 4096th entry shares nothing; 0 = end. Keys strictly increase. Then the footer JSON, its \
length as u32 big-endian, and the SHA-256 of the header and footer bytes (the state root in the \
footer covers every entry).";

/// What a snapshot holds, from its header and footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The format version.
    pub version: u32,
    /// The chain's height the state is at.
    pub height: u64,
    /// The width of every address in the state.
    pub address_length: AddressLength,
    /// The caller's parameters, as given to [`export`](crate::export).
    pub chain: Value,
    /// Entries in the state.
    pub entries: u64,
    /// The state root ([`vm_hooks::state_root()`] of the entries).
    pub state_root: StateRoot,
    /// Entries per kind (`resource`, `group`, `table_item`, `module`, `raw`).
    pub kinds: BTreeMap<String, u64>,
    /// Resources and groups per rendered struct tag.
    pub tags: BTreeMap<String, u64>,
    /// Where a reader may start: (entry number, byte offset of its record), every [`RESTART`]
    /// entries.
    pub index: Vec<(u64, u64)>,
    /// The byte offset of the end record.
    pub end: u64,
    /// The file's size.
    pub bytes: u64,
}

impl SnapshotInfo {
    /// Resources in the state (entries of the resource kind).
    pub fn resources(&self) -> u64 {
        self.kinds.get("resource").copied().unwrap_or(0)
    }
}

/// The header's JSON.
#[derive(Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) format: String,
    pub(crate) version: u32,
    pub(crate) height: u64,
    pub(crate) address_length: usize,
    pub(crate) chain: Value,
    #[serde(default)]
    pub(crate) records: String,
}

/// The footer's JSON.
#[derive(Serialize, Deserialize)]
pub(crate) struct Footer {
    pub(crate) format: String,
    pub(crate) version: u32,
    pub(crate) entries: u64,
    pub(crate) state_root: String,
    pub(crate) kinds: BTreeMap<String, u64>,
    pub(crate) tags: BTreeMap<String, u64>,
    /// (entry number, offset) of every restart, in order.
    pub(crate) index: Vec<(u64, u64)>,
    /// The offset of the end record.
    pub(crate) end: u64,
}

/// A length as the format's sizes and offsets count it.
pub(crate) fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Entries counted per kind (by a key's first byte), as the footer names them.
#[derive(Debug, Clone, Default)]
pub(crate) struct KindCounts([u64; 6]);

impl KindCounts {
    const NAMES: [&'static str; 6] = ["reserved", "resource", "group", "table_item", "module", "raw"];

    /// Counts `key` (a checked key: its first byte is a kind).
    #[inline]
    pub(crate) fn add(&mut self, key: &[u8]) {
        if let Some(n) = key.first().and_then(|&k| self.0.get_mut(usize::from(k))) {
            *n += 1;
        }
    }

    /// The counts by name, kinds with none left out.
    pub(crate) fn to_map(&self) -> BTreeMap<String, u64> {
        Self::NAMES.iter().zip(self.0).filter(|(_, n)| *n > 0).map(|(k, n)| ((*k).to_owned(), n)).collect()
    }
}
