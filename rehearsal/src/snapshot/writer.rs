//! Writing a snapshot's bytes: the magic, the header, records, the footer and the trailer,
//! through one large buffer and hashed as they go to the file.

use super::checksum::Checksum;
use super::error::{io_error, SnapshotError};
use super::format::MAX_HEIGHT;
use super::format::{
    len_u64, Footer, Header, BUFFER, FORMAT, KIND_END, KIND_RESOURCE, KIND_TAG, MAGIC, MAX_FOOTER, MAX_HEADER,
    MAX_VALUE, RECORDS, VERSION,
};
use binary_format::AddressLength;
use migrations::AccountAddress;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use vm_hooks::StateRoot;

/// Writes a snapshot's bytes through one large buffer, hashing them as they go to the file.
pub(super) struct Writer<'a> {
    /// The file written (named in I/O errors).
    path: &'a Path,
    /// The snapshot it becomes (named in errors about the content).
    pub(super) target: &'a Path,
    file: File,
    buf: Vec<u8>,
    sha: Checksum,
    bytes: u64,
}

impl<'a> Writer<'a> {
    pub(super) fn new(path: &'a Path, target: &'a Path, file: File) -> Writer<'a> {
        Writer { path, target, file, buf: Vec::with_capacity(BUFFER + MAX_VALUE), sha: Checksum::new(), bytes: 0 }
    }

    fn put(&mut self, data: &[u8]) -> Result<(), SnapshotError> {
        self.buf.extend_from_slice(data);
        self.bytes += len_u64(data.len());
        if self.buf.len() >= BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SnapshotError> {
        self.sha.update(&self.buf);
        self.file.write_all(&self.buf).map_err(io_error(self.path))?;
        self.buf.clear();
        Ok(())
    }

    pub(super) fn header(&mut self, height: u64, width: AddressLength, chain: Value) -> Result<(), SnapshotError> {
        if height > MAX_HEIGHT {
            return Err(SnapshotError::BadState {
                path: self.target.to_path_buf(),
                reason: format!("height {height} is beyond the highest height a chain reaches ({MAX_HEIGHT})"),
            });
        }
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            height,
            address_length: width.bytes(),
            chain,
            records: RECORDS.to_owned(),
        };
        let json = serde_json::to_vec(&header)
            .map_err(|e| SnapshotError::BadState { path: self.target.to_path_buf(), reason: e.to_string() })?;
        let len = u32::try_from(json.len()).ok().filter(|n| *n as usize <= MAX_HEADER).ok_or_else(|| {
            SnapshotError::TooLarge {
                path: self.target.to_path_buf(),
                what: "the header (the chain parameters)".to_owned(),
                size: len_u64(json.len()),
                max: len_u64(MAX_HEADER),
            }
        })?;
        self.put(MAGIC)?;
        self.put(&VERSION.to_be_bytes())?;
        self.put(&len.to_be_bytes())?;
        self.put(&json)
    }

    pub(super) fn tag(&mut self, prefix: &[u8]) -> Result<(), SnapshotError> {
        self.put(&[KIND_TAG])?;
        self.put(prefix)
    }

    pub(super) fn resource(&mut self, account: &AccountAddress, value: &[u8]) -> Result<(), SnapshotError> {
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        self.put(&[KIND_RESOURCE])?;
        self.put(account.as_bytes())?;
        self.put(&len.to_be_bytes())?;
        self.put(value)
    }

    /// The end record, the footer and its length.
    pub(super) fn footer(
        &mut self,
        resources: u64,
        root: StateRoot,
        tags: BTreeMap<String, u64>,
    ) -> Result<(), SnapshotError> {
        let footer =
            Footer { format: FORMAT.to_owned(), version: VERSION, resources, state_root: root.to_string(), tags };
        let json = serde_json::to_vec(&footer)
            .map_err(|e| SnapshotError::BadState { path: self.target.to_path_buf(), reason: e.to_string() })?;
        let len = u32::try_from(json.len()).ok().filter(|n| *n as usize <= MAX_FOOTER).ok_or_else(|| {
            SnapshotError::TooLarge {
                path: self.target.to_path_buf(),
                what: "the footer (the per-tag counts)".to_owned(),
                size: len_u64(json.len()),
                max: len_u64(MAX_FOOTER),
            }
        })?;
        self.put(&[KIND_END])?;
        self.put(&json)?;
        self.put(&len.to_be_bytes())
    }

    /// Writes the trailer, fsyncs, and returns the file's size.
    pub(super) fn finish(mut self) -> Result<u64, SnapshotError> {
        self.flush()?;
        let digest = self.sha.finish().map_err(io_error(self.path))?;
        self.file.write_all(&digest).map_err(io_error(self.path))?;
        self.file.sync_all().map_err(io_error(self.path))?;
        Ok(self.bytes + len_u64(digest.len()))
    }
}
