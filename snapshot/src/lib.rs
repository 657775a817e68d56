//! Snapshots: a chain's whole state in one self-describing file, read in place.
//!
//! `devnet snapshot export FILE` / `import FILE`, the upgrade runbook's backup and rollback, and
//! the rehearsal's input and `--out` all go through this crate. A state can hold hundreds of
//! millions of entries, so nothing holds it in memory: [`SnapshotWriter`] streams entries out in
//! key order, [`Snapshot`] reads a file's frame (kilobytes) and then its entries on demand: whole
//! and checked ([`Snapshot::verify`]), by ranges that start at restart points so that threads
//! share a pass ([`Snapshot::ranges`], [`root_in_parallel`]), or by key, as a read-only
//! [`migrations::store::Store`] (a scan seeks to the restart point before its first key).
//!
//! # Format, version 2
//!
//! ```text
//! magic          21 bytes  "MOVE-DEVNET-SNAPSHOT\n"   (so `head -c 21 FILE` says what it is)
//! version        u32 BE    2
//! header length  u32 BE    at most 1 MiB
//! header         JSON      {"format": "move-devnet-snapshot", "version": 2, "height": u64,
//!                           "address_length": 16|20|32, "chain": <the caller's, opaque>,
//!                           "records": <this layout, in words>}
//! records        one kind byte each, then:
//!   1 = entry    ULEB128 bytes shared with the previous key, ULEB128 length + rest of the key,
//!                ULEB128 length + value, ULEB128 length + extra (a chain's metadata of the
//!                value, carried unchanged; empty for most)
//!   0 = end
//! footer         JSON      {"format", "version", "entries", "state_root": 64 hex digits,
//!                           "kinds": {kind: entries}, "tags": {rendered tag: entries},
//!                           "index": [[entry number, offset] of every 4096th entry], "end": offset}
//! footer length  u32 BE
//! trailer        32 bytes  SHA-256 of the bytes before the records, then of the footer and its length
//! ```
//!
//! Keys are canonical state keys ([`migrations::state_key`]: resources, resource groups, table
//! items, modules, raw keys) in strictly increasing order; every 4096th entry shares nothing with
//! the previous key and is indexed, so a reader may start there. The footer's root is
//! [`vm_hooks::state_root()`] of the entries (their extras included), and covers every record; the
//! trailer covers the header and the footer. The same state always exports to the same bytes.
//!
//! The file is untrusted: every length is checked against its limit and against the bytes left
//! before anything is allocated, and a damaged file is an error naming the file and the byte
//! offset, never a panic.
//!
//! # Where things are
//!
//! `format` (constants, limits, header, footer, [`SnapshotInfo`]), `error`, `keys` (checking
//! keys as they stream), `writer` ([`SnapshotWriter`], [`export`]), `publish` (the partial file
//! moved into place, never over another), `layout` (the frame), `entries` (decoding entries from
//! a restart point), `read` ([`Snapshot`], [`verify`], [`visit`], [`read_info`]), `import`, and
//! `input` (a stream copied into a file first).

mod entries;
mod error;
mod format;
mod import;
mod input;
mod keys;
mod layout;
mod publish;
mod read;
mod writer;

pub use entries::Entry;
pub use error::SnapshotError;
pub use format::{
    SnapshotInfo, FORMAT, MAGIC, MAX_EXTRA, MAX_FOOTER, MAX_HEADER, MAX_HEIGHT, MAX_KEY, MAX_SNAPSHOT_BYTES, MAX_VALUE,
    RESTART, SNAPSHOT_FILE, VERSION,
};
pub use import::import;
pub use input::{check_input, spool, Input};
pub use read::{read_info, root_in_parallel, verify, visit, Entries, EntryVisitor, Range, Snapshot};
pub use writer::{export, SnapshotWriter};
