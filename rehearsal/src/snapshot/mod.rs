//! Snapshots: the whole chain state in one self-describing, checksummed file.
//!
//! `devnet snapshot export FILE` / `import FILE` and the upgrade runbook's backup and rollback
//! go through this module. A state can hold millions of resources, so every operation streams:
//! [`export`](fn@export) is one pass over [`SortedState::visit_sorted`], [`verify`] one pass
//! over the file, [`import`](fn@import) a verifying pass then an applying pass; none holds the
//! state in memory.
//!
//! # Format, version 1
//!
//! All integers are big-endian.
//!
//! ```text
//! magic          21 bytes  "MOVE-DEVNET-SNAPSHOT\n"   (so `head -c 21 FILE` says what it is)
//! version        u32       1
//! header length  u32       at most 1 MiB
//! header         JSON      {"format": "move-devnet-snapshot", "version": 1, "height": u64,
//!                           "chain": <the caller's parameters, opaque>, "records": <this layout, in words>}
//! records        one kind byte each, then:
//!   1 = tag      the tag's key prefix: u32 length + canonical BCS of the StructTag
//!                (vm_hooks::persistent::tag_prefix, at most 64 KiB); starts a run of that tag
//!   2 = resource 16 account bytes, u32 value length (at most 1 MiB), the value's bytes
//!   0 = end
//! footer         JSON      {"format", "version", "resources": u64, "state_root": 64 hex digits,
//!                           "tags": {rendered struct tag: resources, sorted}}
//! footer length  u32       so that a reader finds the footer from the end (at most 64 MiB)
//! trailer        32 bytes  SHA-256 of every byte before it
//! ```
//!
//! Records come in key order, the order of [`SortedState::visit_sorted`] and of the redb keys:
//! each tag prefix is strictly greater (bytewise) than the previous one, so every tag has one
//! run, and accounts strictly increase within a run. Since a prefix starts with its own length,
//! no prefix is a prefix of another, and this is exactly "the key prefix ++ account strictly
//! increases". A run holds at least one resource. The footer's root is
//! [`vm_hooks::state_root()`] of the state, computed ([`RootHasher`]) while the records are
//! written or read, so export and verification are single passes. The same state always
//! exports to the same bytes (no timestamps).
//!
//! The file is untrusted: every length is checked against its limit and against the bytes left
//! in the file before anything is allocated, and a damaged file is an error naming the file and
//! the byte offset, never a panic.
//!
//! # Where things are
//!
//! `input` (what a snapshot is read from: a regular file within its limit, or a stream copied
//! into one), `format` (the constants, limits and record kinds; header, footer and [`SnapshotInfo`]),
//! `error`, `checksum` (the SHA-256 thread both directions use); writing: `writer` (the bytes),
//! `export` (the state's records, checked as the reader will check them) and `publish` (the
//! partial file moved into place, never over another); reading: `reader` (the bytes, within
//! limits), `parse` (the header, the records and the footer, checked), `read` ([`verify`],
//! [`visit`], [`read_info`]) and `import`.
//!
//! [`SortedState::visit_sorted`]: vm_hooks::SortedState::visit_sorted
//! [`RootHasher`]: vm_hooks::RootHasher

mod checksum;
mod error;
mod export;
mod format;
mod import;
mod input;
mod parse;
mod publish;
mod read;
mod reader;
#[cfg(test)]
mod testing;
mod writer;

pub use error::SnapshotError;
pub use export::export;
pub use format::{
    SnapshotInfo, FORMAT, MAGIC, MAX_FOOTER, MAX_HEADER, MAX_HEIGHT, MAX_SNAPSHOT_BYTES, MAX_TAG_PREFIX, MAX_VALUE,
    SNAPSHOT_FILE, VERSION,
};
pub use import::import;
pub use input::{check_input, spool, Input};
pub use read::{read_info, verify, visit, ResourceVisitor};
