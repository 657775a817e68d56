//! Writing a snapshot: [`SnapshotWriter`] takes entries in key order and writes them through one
//! large buffer, checking what the reader will check, computing the state root as it goes, and
//! publishing the file only when it is whole.

use crate::error::{io_error, SnapshotError};
use crate::format::{
    len_u64, Footer, Header, KindCounts, SnapshotInfo, BUFFER, FORMAT, KIND_END, KIND_ENTRY, MAGIC, MAX_EXTRA,
    MAX_FOOTER, MAX_HEADER, MAX_HEIGHT, MAX_KEY, MAX_VALUE, RECORDS, RESTART, VERSION,
};
use crate::keys::KeyChecker;
use crate::publish::Partial;
use binary_format::AddressLength;
use migrations::store::Store;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use vm_hooks::RootHasher;

/// A snapshot being written. Entries must come in strictly increasing key order; the file is
/// published by [`SnapshotWriter::finish`] (under its partial name until then, removed if the
/// writer is dropped).
pub struct SnapshotWriter {
    partial: Partial,
    target: PathBuf,
    file: File,
    buf: Vec<u8>,
    /// Bytes written so far (the offset of the next record).
    offset: u64,
    /// SHA-256 of the header, then the footer: the trailer.
    trailer: Sha256,
    height: u64,
    width: AddressLength,
    chain: Value,
    keys: KeyChecker,
    last: Vec<u8>,
    entries: u64,
    root: RootHasher,
    kinds: KindCounts,
    index: Vec<(u64, u64)>,
}

impl std::fmt::Debug for SnapshotWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotWriter").field("target", &self.target).field("entries", &self.entries).finish()
    }
}

fn write_uleb(out: &mut Vec<u8>, n: usize) {
    binary_format::write_uleb(out, len_u64(n));
}

impl SnapshotWriter {
    /// Starts a new snapshot at `path` of a state at `height`, with the caller's `chain`
    /// parameters in its header, every address `width` bytes. Refuses if `path` exists.
    pub fn create(
        path: &Path,
        height: u64,
        chain: Value,
        width: AddressLength,
    ) -> Result<SnapshotWriter, SnapshotError> {
        let bad = |reason: String| SnapshotError::BadState { path: path.to_path_buf(), reason };
        if height > MAX_HEIGHT {
            return Err(bad(format!("height {height} is beyond the highest height a chain reaches ({MAX_HEIGHT})")));
        }
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            height,
            address_length: width.bytes(),
            chain: chain.clone(),
            records: RECORDS.to_owned(),
        };
        let json = serde_json::to_vec(&header).map_err(|e| bad(e.to_string()))?;
        let len = u32::try_from(json.len()).ok().filter(|n| *n as usize <= MAX_HEADER).ok_or_else(|| {
            SnapshotError::TooLarge {
                path: path.to_path_buf(),
                what: "the header (the chain parameters)".to_owned(),
                size: len_u64(json.len()),
                max: len_u64(MAX_HEADER),
            }
        })?;
        let (partial, file) = Partial::create(path)?;
        let mut w = SnapshotWriter {
            partial,
            target: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(2 * BUFFER),
            offset: 0,
            trailer: Sha256::new(),
            height,
            width,
            chain,
            keys: KeyChecker::new(width),
            last: Vec::new(),
            entries: 0,
            root: RootHasher::new(),
            kinds: KindCounts::default(),
            index: Vec::new(),
        };
        let mut head = Vec::with_capacity(MAGIC.len() + 8 + json.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_be_bytes());
        head.extend_from_slice(&len.to_be_bytes());
        head.extend_from_slice(&json);
        w.trailer.update(&head);
        w.put(&head)?;
        Ok(w)
    }

    fn bad(&self, reason: String) -> SnapshotError {
        SnapshotError::BadState { path: self.target.clone(), reason }
    }

    fn too_large(&self, what: String, size: usize, max: usize) -> SnapshotError {
        SnapshotError::TooLarge { path: self.target.clone(), what, size: len_u64(size), max: len_u64(max) }
    }

    fn put(&mut self, data: &[u8]) -> Result<(), SnapshotError> {
        self.buf.extend_from_slice(data);
        self.offset += len_u64(data.len());
        if self.buf.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SnapshotError> {
        self.file.write_all(&self.buf).map_err(io_error(self.partial.path()))?;
        self.buf.clear();
        Ok(())
    }

    /// Adds an entry: a canonical state key, its value and its extra (a chain's metadata of the
    /// value, carried unchanged; empty for most). Keys must strictly increase.
    pub fn add(&mut self, key: &[u8], value: &[u8], extra: &[u8]) -> Result<(), SnapshotError> {
        if key.len() > MAX_KEY {
            return Err(self.too_large("a key".to_owned(), key.len(), MAX_KEY));
        }
        if value.len() > MAX_VALUE {
            let what = migrations::state_key::describe(key, self.width);
            return Err(self.too_large(what, value.len(), MAX_VALUE));
        }
        if extra.len() > MAX_EXTRA {
            return Err(self.too_large("an entry's extra".to_owned(), extra.len(), MAX_EXTRA));
        }
        if self.entries > 0 && key <= self.last.as_slice() {
            let (a, b) = (
                migrations::state_key::describe(key, self.width),
                migrations::state_key::describe(&self.last, self.width),
            );
            return Err(self.bad(format!("the state gave {a} after {b}: not in key order")));
        }
        if let Err(e) = self.keys.check(key) {
            return Err(self.bad(format!("{}: {e}", migrations::state_key::describe(key, self.width))));
        }
        self.kinds.add(key);
        let restart = self.entries.is_multiple_of(RESTART);
        let shared = if restart { 0 } else { migrations::state_key::common_prefix(key, &self.last) };
        if restart {
            self.index.push((self.entries, self.offset));
        }
        let mut head = Vec::with_capacity(16);
        head.push(KIND_ENTRY);
        write_uleb(&mut head, shared);
        write_uleb(&mut head, key.len() - shared);
        self.put(&head)?;
        self.put(key.get(shared..).unwrap_or_default())?;
        head.clear();
        write_uleb(&mut head, value.len());
        self.put(&head)?;
        self.put(value)?;
        head.clear();
        write_uleb(&mut head, extra.len());
        self.put(&head)?;
        self.put(extra)?;
        self.root.add_entry(key, value, extra);
        self.last.clear();
        self.last.extend_from_slice(key);
        self.entries += 1;
        Ok(())
    }

    /// Writes the end record, the footer and the trailer, syncs, and moves the file into place.
    pub fn finish(mut self) -> Result<SnapshotInfo, SnapshotError> {
        let end = self.offset;
        self.put(&[KIND_END])?;
        let root = std::mem::take(&mut self.root).finish();
        let tags = std::mem::replace(&mut self.keys, KeyChecker::new(self.width)).into_tags();
        let footer = Footer {
            format: FORMAT.to_owned(),
            version: VERSION,
            entries: self.entries,
            state_root: root.to_string(),
            kinds: self.kinds.to_map(),
            tags: tags.clone(),
            index: self.index.clone(),
            end,
        };
        let json = serde_json::to_vec(&footer).map_err(|e| self.bad(e.to_string()))?;
        let len = u32::try_from(json.len())
            .ok()
            .filter(|n| *n as usize <= MAX_FOOTER)
            .ok_or_else(|| self.too_large("the footer (counts and index)".to_owned(), json.len(), MAX_FOOTER))?;
        self.trailer.update(&json);
        self.trailer.update(len.to_be_bytes());
        self.put(&json)?;
        self.put(&len.to_be_bytes())?;
        let digest: [u8; 32] = std::mem::take(&mut self.trailer).finalize().into();
        self.put(&digest)?;
        self.flush()?;
        self.file.sync_all().map_err(io_error(self.partial.path()))?;
        let bytes = self.offset;
        let SnapshotWriter { partial, target, height, width, chain, entries, kinds, index, .. } = self;
        partial.publish(&target)?;
        Ok(SnapshotInfo {
            version: VERSION,
            height,
            address_length: width,
            chain,
            entries,
            state_root: root,
            kinds: kinds.to_map(),
            tags,
            index,
            end,
            bytes,
        })
    }
}

/// Writes the whole of `store` at `height` to a new snapshot file at `path`, with the caller's
/// `chain` parameters in the header, every address `width` bytes: one pass in key order.
/// Refuses if `path` exists; nothing is left at `path` on error.
pub fn export(
    store: &dyn Store,
    height: u64,
    chain: Value,
    width: AddressLength,
    path: &Path,
) -> Result<SnapshotInfo, SnapshotError> {
    let mut writer = SnapshotWriter::create(path, height, chain, width)?;
    let mut error = None;
    store.scan_keys(&[], None, &mut |key, value| match writer.add(key, value, &[]) {
        Ok(()) => true,
        Err(e) => {
            error = Some(e);
            false
        }
    })?;
    if let Some(e) = error {
        return Err(e);
    }
    writer.finish()
}
