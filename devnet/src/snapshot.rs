//! Snapshots: the whole chain state in one self-describing, checksummed file.
//!
//! `devnet snapshot export FILE` / `import FILE` and the upgrade runbook's backup and rollback
//! go through this module. A state can hold millions of resources, so every operation streams:
//! [`export`] is one pass over [`SortedState::visit_sorted`], [`verify`] one pass over the file,
//! [`import`] a verifying pass then an applying pass; none holds the state in memory.
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

use crate::durable;
use migrations::core_types::render_struct_tag;
use migrations::store::{Store, StoreError, WriteBatch, DEFAULT_MAX_VALUE_SIZE};
use migrations::StructTag;
use move_core_types::account_address::AccountAddress;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use vm_hooks::persistent::{decode_prefix, tag_prefix};
use vm_hooks::{RootHasher, SortedState, StateRoot};

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
/// The largest resource value: the stores' default limit.
pub const MAX_VALUE: usize = DEFAULT_MAX_VALUE_SIZE;

const KIND_END: u8 = 0;
const KIND_TAG: u8 = 1;
const KIND_RESOURCE: u8 = 2;
/// The footer length field and the trailer.
const TAIL: u64 = 4 + 32;
const BUFFER: usize = 1 << 20;
const ACCOUNT: usize = AccountAddress::LENGTH;

const RECORDS: &str = "after the header, records, each a kind byte: 1 = a run of one struct tag starts: its key \
prefix (u32 big-endian length + canonical BCS of the StructTag); 2 = a resource of that tag: 16 account bytes, u32 \
big-endian value length, the value's BCS bytes; 0 = end. Keys (tag prefix, then account) strictly increase. Then the \
footer JSON, its length as u32 big-endian, and the SHA-256 of every byte before it.";

/// What a snapshot holds, from its header and footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub version: u32,
    pub height: u64,
    /// The caller's parameters, as given to [`export`].
    pub chain: Value,
    pub resources: u64,
    pub state_root: StateRoot,
    /// Resources per rendered struct tag.
    pub tags: BTreeMap<String, u64>,
    /// The file's size.
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} already exists: a snapshot never overwrites a file", .0.display())]
    Exists(PathBuf),
    #[error("{} is not a devnet snapshot: it does not start with \"MOVE-DEVNET-SNAPSHOT\"", .path.display())]
    NotASnapshot { path: PathBuf },
    #[error("{}: snapshot format version {found}, this devnet reads version {VERSION}", .path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("{}: corrupt snapshot at byte {offset}: {reason}", .path.display())]
    Corrupt { path: PathBuf, offset: u64, reason: String },
    #[error("{}: checksum mismatch: the trailer says SHA-256 {expected}, the content hashes to {found}", .path.display())]
    Checksum { path: PathBuf, expected: String, found: String },
    #[error("{}: state root mismatch: the footer says {expected}, the resources hash to {found}", .path.display())]
    RootMismatch { path: PathBuf, expected: StateRoot, found: StateRoot },
    /// Export: something of the state does not fit the format.
    #[error("{}: not written: {what} is {size} bytes, more than the format's limit of {max}", .path.display())]
    TooLarge { path: PathBuf, what: String, size: u64, max: u64 },
    /// Export: the state did not visit its resources in key order, or holds a bad key.
    #[error("{}: not written: {reason}", .path.display())]
    BadState { path: PathBuf, reason: String },
    /// Import: the second pass did not read what the verification read.
    #[error("{}: the file changed between its verification and the import; the store may hold part of it", .path.display())]
    Changed { path: PathBuf },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// [`visit`]: the caller's visitor stopped the walk.
    #[error("{}: {reason}", .path.display())]
    Visit { path: PathBuf, reason: String },
}

impl SnapshotError {
    /// Whether the file (or its name) is at fault, rather than the machine: a missing, foreign,
    /// corrupt or changed file, or one that would be overwritten.
    pub fn is_bad_input(&self) -> bool {
        match self {
            SnapshotError::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            SnapshotError::Exists(_)
            | SnapshotError::NotASnapshot { .. }
            | SnapshotError::Version { .. }
            | SnapshotError::Corrupt { .. }
            | SnapshotError::Checksum { .. }
            | SnapshotError::RootMismatch { .. }
            | SnapshotError::Changed { .. } => true,
            SnapshotError::TooLarge { .. }
            | SnapshotError::BadState { .. }
            | SnapshotError::Store(_)
            | SnapshotError::Visit { .. } => false,
        }
    }
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io { path: path.to_path_buf(), source }
}

fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt { path: path.to_path_buf(), offset, reason: reason.into() }
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    height: u64,
    chain: Value,
    #[serde(default)]
    records: String,
}

#[derive(Serialize, Deserialize)]
struct Footer {
    format: String,
    version: u32,
    resources: u64,
    state_root: String,
    tags: BTreeMap<String, u64>,
}

/// The file's SHA-256, computed on another thread: export and verification are bound by
/// SHA-256 (the state root is one too), so the checksum costs them no time on the thread that
/// parses and computes the root. Fed in large chunks; inline if no thread can be started.
enum Checksum {
    Inline(Sha256),
    /// Both are `Some` until `finish` or drop, which join the thread: a pass that fails never
    /// leaves a thread running behind it.
    Background {
        chunks: Option<mpsc::SyncSender<Vec<u8>>>,
        thread: Option<thread::JoinHandle<Sha256>>,
    },
}

impl Drop for Checksum {
    fn drop(&mut self) {
        if let Checksum::Background { chunks, thread } = self {
            drop(chunks.take());
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Checksum {
    fn new() -> Checksum {
        let (chunks, received) = mpsc::sync_channel::<Vec<u8>>(4);
        let spawned = thread::Builder::new().name("snapshot-sha256".to_owned()).spawn(move || {
            let mut sha = Sha256::new();
            for chunk in received {
                sha.update(&chunk);
            }
            sha
        });
        match spawned {
            Ok(thread) => Checksum::Background { chunks: Some(chunks), thread: Some(thread) },
            Err(_) => Checksum::Inline(Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Inline(sha) => sha.update(data),
            // A thread that is gone is reported by `finish`.
            Checksum::Background { chunks: Some(chunks), .. } => {
                let _ = chunks.send(data.to_vec());
            }
            Checksum::Background { chunks: None, .. } => {}
        }
    }

    fn finish(mut self) -> io::Result<[u8; 32]> {
        let sha = match &mut self {
            Checksum::Inline(sha) => std::mem::take(sha),
            Checksum::Background { chunks, thread } => {
                drop(chunks.take());
                let thread = thread.take().ok_or_else(|| io::Error::other("the checksum thread is gone"))?;
                thread.join().map_err(|_| io::Error::other("the checksum thread failed"))?
            }
        };
        Ok(sha.finalize().into())
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes a snapshot's bytes through one large buffer, hashing them as they go to the file.
struct Writer<'a> {
    /// The file written (named in I/O errors).
    path: &'a Path,
    /// The snapshot it becomes (named in errors about the content).
    target: &'a Path,
    file: File,
    buf: Vec<u8>,
    sha: Checksum,
    bytes: u64,
}

impl<'a> Writer<'a> {
    fn new(path: &'a Path, target: &'a Path, file: File) -> Writer<'a> {
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

    fn header(&mut self, height: u64, chain: Value) -> Result<(), SnapshotError> {
        let header = Header { format: FORMAT.to_owned(), version: VERSION, height, chain, records: RECORDS.to_owned() };
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

    fn tag(&mut self, prefix: &[u8]) -> Result<(), SnapshotError> {
        self.put(&[KIND_TAG])?;
        self.put(prefix)
    }

    fn resource(&mut self, account: &AccountAddress, value: &[u8]) -> Result<(), SnapshotError> {
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        self.put(&[KIND_RESOURCE])?;
        self.put(account.as_ref())?;
        self.put(&len.to_be_bytes())?;
        self.put(value)
    }

    /// The end record, the footer and its length.
    fn footer(&mut self, resources: u64, root: StateRoot, tags: BTreeMap<String, u64>) -> Result<(), SnapshotError> {
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
    fn finish(mut self) -> Result<u64, SnapshotError> {
        self.flush()?;
        let digest = self.sha.finish().map_err(io_error(self.path))?;
        self.file.write_all(&digest).map_err(io_error(self.path))?;
        self.file.sync_all().map_err(io_error(self.path))?;
        Ok(self.bytes + len_u64(digest.len()))
    }
}

/// Feeds the visited state to the writer, checking what the reader will check.
struct Exporter<'a> {
    writer: Writer<'a>,
    root: RootHasher,
    tags: BTreeMap<String, u64>,
    /// The current run: its tag prefix, rendered tag, resources, last account.
    prefix: Vec<u8>,
    rendered: Option<String>,
    run: u64,
    last: Option<AccountAddress>,
    /// The first error: the visitor cannot stop the visit, so the rest is skipped.
    error: Option<SnapshotError>,
}

impl Exporter<'_> {
    fn visit(&mut self, prefix: &[u8], account: &AccountAddress, value: &[u8]) {
        if self.error.is_none() {
            if let Err(e) = self.add(prefix, account, value) {
                self.error = Some(e);
            }
        }
    }

    fn bad(&self, reason: String) -> SnapshotError {
        SnapshotError::BadState { path: self.writer.target.to_path_buf(), reason }
    }

    fn add(&mut self, prefix: &[u8], account: &AccountAddress, value: &[u8]) -> Result<(), SnapshotError> {
        if self.rendered.is_none() || prefix != self.prefix.as_slice() {
            self.start_run(prefix)?;
        } else if self.last.is_some_and(|last| last >= *account) {
            let tag = self.rendered.as_deref().unwrap_or_default();
            return Err(self.bad(format!(
                "the state visited {} after {} under {tag}: not in key order",
                account.to_hex_literal(),
                self.last.map(|a| a.to_hex_literal()).unwrap_or_default()
            )));
        }
        if value.len() > MAX_VALUE {
            return Err(SnapshotError::TooLarge {
                path: self.writer.target.to_path_buf(),
                what: format!(
                    "resource {} at {}",
                    self.rendered.as_deref().unwrap_or_default(),
                    account.to_hex_literal()
                ),
                size: len_u64(value.len()),
                max: len_u64(MAX_VALUE),
            });
        }
        self.writer.resource(account, value)?;
        self.root.add(prefix, account, value);
        self.run += 1;
        self.last = Some(*account);
        Ok(())
    }

    fn start_run(&mut self, prefix: &[u8]) -> Result<(), SnapshotError> {
        if prefix.len() > MAX_TAG_PREFIX {
            return Err(SnapshotError::TooLarge {
                path: self.writer.target.to_path_buf(),
                what: "a struct tag's key prefix".to_owned(),
                size: len_u64(prefix.len()),
                max: len_u64(MAX_TAG_PREFIX),
            });
        }
        let tag = decode_prefix(prefix).map_err(|e| self.bad(format!("a key prefix does not decode: {e}")))?;
        let rendered = render_struct_tag(&tag);
        if tag_prefix(&tag).ok().as_deref() != Some(prefix) {
            return Err(self.bad(format!("the key prefix of {rendered} is not its canonical encoding")));
        }
        if let Some(previous) = &self.rendered {
            if prefix <= self.prefix.as_slice() {
                return Err(self.bad(format!("the state visited {rendered} after {previous}: not in key order")));
            }
        }
        self.close_run();
        self.writer.tag(prefix)?;
        self.prefix.clear();
        self.prefix.extend_from_slice(prefix);
        self.rendered = Some(rendered);
        self.last = None;
        Ok(())
    }

    fn close_run(&mut self) {
        if let Some(rendered) = self.rendered.take() {
            *self.tags.entry(rendered).or_default() += self.run;
        }
        self.run = 0;
    }
}

/// Removes the temporary file when dropped: after an error, or after the snapshot is linked
/// into place (renamed, there is nothing left to remove).
struct TempFile {
    path: PathBuf,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// `DIR/.NAME.partial` for `DIR/NAME`.
fn partial_path(path: &Path) -> Result<PathBuf, SnapshotError> {
    let name = path.file_name().ok_or_else(|| SnapshotError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let mut partial = OsString::from(".");
    partial.push(name);
    partial.push(".partial");
    Ok(path.with_file_name(partial))
}

fn exists(path: &Path) -> Result<bool, SnapshotError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(SnapshotError::Io { path: path.to_path_buf(), source }),
    }
}

/// Moves the complete temporary file to `path`, never replacing a file there: a hard link fails
/// if `path` exists; where links are not supported, a check then a rename.
fn publish(temp: &Path, path: &Path) -> Result<(), SnapshotError> {
    match fs::hard_link(temp, path) {
        // The caller's guard removes the temporary name.
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(SnapshotError::Exists(path.to_path_buf())),
        Err(_) => {
            if exists(path)? {
                return Err(SnapshotError::Exists(path.to_path_buf()));
            }
            fs::rename(temp, path).map_err(io_error(path))
        }
    }
}

/// Writes `state` at `height` to a new snapshot file at `path`, with the caller's `chain`
/// parameters in the header. Refuses if `path` exists. Writes `.NAME.partial` next to it,
/// fsyncs it, then moves it into place (and fsyncs the directory); on error the partial file is
/// removed and `path` is not created.
pub fn export(state: &dyn SortedState, height: u64, chain: Value, path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    if exists(path)? {
        return Err(SnapshotError::Exists(path.to_path_buf()));
    }
    let temp = partial_path(path)?;
    let file = match OpenOptions::new().write(true).create_new(true).open(&temp) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(SnapshotError::Exists(temp)),
        Err(source) => return Err(SnapshotError::Io { path: temp, source }),
    };
    let guard = TempFile { path: temp };
    let mut writer = Writer::new(&guard.path, path, file);
    writer.header(height, chain.clone())?;
    let mut exporter = Exporter {
        writer,
        root: RootHasher::new(),
        tags: BTreeMap::new(),
        prefix: Vec::new(),
        rendered: None,
        run: 0,
        last: None,
        error: None,
    };
    state.visit_sorted(&mut |prefix, account, value| exporter.visit(prefix, account, value))?;
    if let Some(e) = exporter.error.take() {
        return Err(e);
    }
    exporter.close_run();
    let Exporter { mut writer, root, tags, .. } = exporter;
    let resources = root.count();
    let state_root = root.finish();
    writer.footer(resources, state_root, tags.clone())?;
    let bytes = writer.finish()?;
    publish(&guard.path, path)?;
    sync_parent(path)?;
    Ok(SnapshotInfo { version: VERSION, height, chain, resources, state_root, tags, bytes })
}

/// Makes the new directory entry `path` durable.
fn sync_parent(path: &Path) -> Result<(), SnapshotError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    durable::sync_dir(parent).map_err(io_error(parent))
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Reads a snapshot through one large buffer, hashing the bytes it consumes (in large blocks,
/// when the buffer is refilled) and refusing to read past `limit`.
struct Reader<'a> {
    path: &'a Path,
    file: File,
    buf: Vec<u8>,
    /// `buf[start..end]` is read from the file and not consumed; `buf[hashed..start]` is
    /// consumed and not yet hashed.
    start: usize,
    end: usize,
    hashed: usize,
    /// The file offset of `buf[start]`.
    offset: u64,
    /// Reads stop here.
    limit: u64,
    /// The file's size.
    len: u64,
    /// `None` once the trailer is read.
    sha: Option<Checksum>,
}

impl<'a> Reader<'a> {
    /// Opens `path`, computing its checksum if `checksum`.
    fn open(path: &'a Path, checksum: bool) -> Result<Reader<'a>, SnapshotError> {
        let file = File::open(path).map_err(io_error(path))?;
        let meta = file.metadata().map_err(io_error(path))?;
        if !meta.is_file() {
            return Err(SnapshotError::Io {
                path: path.to_path_buf(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
            });
        }
        let len = meta.len();
        Ok(Reader {
            path,
            file,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            hashed: 0,
            offset: 0,
            limit: len,
            len,
            sha: checksum.then(Checksum::new),
        })
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> SnapshotError {
        corrupt(self.path, offset, reason)
    }

    fn left(&self) -> u64 {
        self.limit.saturating_sub(self.offset)
    }

    fn sync_hash(&mut self) {
        if let Some(consumed) = self.buf.get(self.hashed..self.start) {
            if let Some(sha) = &mut self.sha {
                sha.update(consumed);
            }
        }
        self.hashed = self.start;
    }

    /// Makes `n` bytes available in the buffer, if the limit allows.
    fn fill(&mut self, n: usize, what: &str) -> Result<(), SnapshotError> {
        if self.end - self.start >= n {
            return Ok(());
        }
        if self.left() < len_u64(n) {
            return Err(self.corrupt(
                self.offset,
                format!("truncated: {what} needs {n} bytes, only {} are left for it", self.left()),
            ));
        }
        self.sync_hash();
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        self.hashed = 0;
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.end < n {
            let Some(free) = self.buf.get_mut(self.end..) else { break };
            match self.file.read(free) {
                Ok(0) => {
                    return Err(self.corrupt(
                        self.offset + len_u64(self.end),
                        "the file ended early (did it change while being read?)",
                    ))
                }
                Ok(read) => self.end += read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(SnapshotError::Io { path: self.path.to_path_buf(), source }),
            }
        }
        Ok(())
    }

    /// The next `n` bytes, consumed.
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], SnapshotError> {
        self.fill(n, what)?;
        let start = self.start;
        self.start += n;
        self.offset += len_u64(n);
        match self.buf.get(start..start + n) {
            Some(bytes) => Ok(bytes),
            None => Err(corrupt(self.path, self.offset, format!("{what}: internal buffer error"))),
        }
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], SnapshotError> {
        let at = self.offset;
        let bytes = self.take(N, what)?;
        <[u8; N]>::try_from(bytes).map_err(|_| corrupt(self.path, at, format!("{what}: internal buffer error")))
    }

    fn byte(&mut self, what: &str) -> Result<u8, SnapshotError> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<u32, SnapshotError> {
        Ok(u32::from_be_bytes(self.array::<4>(what)?))
    }

    /// The 32 trailer bytes, not hashed, and the hash of everything before them.
    fn trailer(&mut self) -> Result<([u8; 32], [u8; 32]), SnapshotError> {
        self.sync_hash();
        let sha = self.sha.take().ok_or_else(|| self.corrupt(self.offset, "a second trailer"))?;
        let found = sha.finish().map_err(io_error(self.path))?;
        let expected = self.array::<32>("the trailer")?;
        self.hashed = self.start;
        Ok((expected, found))
    }

    /// Moves to `offset` (hashing stops making sense: for [`read_info`] only).
    fn seek(&mut self, offset: u64) -> Result<(), SnapshotError> {
        self.file.seek(SeekFrom::Start(offset)).map_err(io_error(self.path))?;
        self.start = 0;
        self.end = 0;
        self.hashed = 0;
        self.offset = offset;
        Ok(())
    }
}

/// Reads the magic, the version and the header; leaves the reader at the first record, its
/// limit before the footer length and trailer.
fn read_header(r: &mut Reader<'_>) -> Result<Header, SnapshotError> {
    let path = r.path;
    let head = MAGIC.len().min(usize::try_from(r.len).unwrap_or(usize::MAX));
    let magic = r.take(head, "the magic")?;
    if head == 0 || !MAGIC.starts_with(magic) {
        return Err(SnapshotError::NotASnapshot { path: path.to_path_buf() });
    }
    if head < MAGIC.len() {
        return Err(r.corrupt(r.offset, "truncated inside the magic"));
    }
    let version = r.u32("the format version")?;
    if version != VERSION {
        return Err(SnapshotError::Version { path: path.to_path_buf(), found: version });
    }
    r.limit = r.len.saturating_sub(TAIL);
    let at = r.offset;
    let len = r.u32("the header length")? as usize;
    if len > MAX_HEADER {
        return Err(r.corrupt(at, format!("the header length {len} is more than the limit of {MAX_HEADER}")));
    }
    let at = r.offset;
    let json = r.take(len, "the header")?;
    let header: Header =
        serde_json::from_slice(json).map_err(|e| corrupt(path, at, format!("the header is not valid JSON: {e}")))?;
    if header.format != FORMAT {
        return Err(corrupt(path, at, format!("the header's format is {:?}, not {FORMAT:?}", header.format)));
    }
    if header.version != VERSION {
        return Err(corrupt(
            path,
            at,
            format!("the header says version {}, the file's version field {VERSION}", header.version),
        ));
    }
    Ok(header)
}

/// One record, as handed to a pass's sink.
enum Item<'a> {
    Tag(&'a StructTag),
    Resource(&'a AccountAddress, &'a [u8]),
}

type Sink<'s> = &'s mut dyn FnMut(Item<'_>) -> Result<(), SnapshotError>;

/// What the records hold.
struct Body {
    resources: u64,
    /// The recomputed root, if asked for.
    root: Option<StateRoot>,
    tags: BTreeMap<String, u64>,
}

/// Reads the records up to and including the end record, checking their framing and order,
/// and recomputing the state root if `hash_root` (the most expensive part of a pass).
fn read_records(r: &mut Reader<'_>, sink: Sink<'_>, hash_root: bool) -> Result<Body, SnapshotError> {
    let path = r.path;
    let mut root = hash_root.then(RootHasher::new);
    let mut resources = 0u64;
    let mut tags: BTreeMap<String, u64> = BTreeMap::new();
    let mut prefix: Vec<u8> = Vec::new();
    // The current run: its tag, rendered, the offset of its record, its count and last account.
    let mut current: Option<(StructTag, String, u64)> = None;
    let mut run = 0u64;
    let mut last: Option<AccountAddress> = None;
    let close = |current: &mut Option<(StructTag, String, u64)>, run: u64, tags: &mut BTreeMap<String, u64>| {
        if let Some((_, rendered, at)) = current.take() {
            if run == 0 {
                return Err(corrupt(path, at, format!("the run of {rendered} holds no resource")));
            }
            *tags.entry(rendered).or_default() += run;
        }
        Ok(())
    };
    loop {
        let at = r.offset;
        match r.byte("a record kind")? {
            KIND_END => {
                close(&mut current, run, &mut tags)?;
                break;
            }
            KIND_TAG => {
                let len_at = r.offset;
                let len_bytes = r.array::<4>("a tag prefix length")?;
                let len = u32::from_be_bytes(len_bytes) as usize;
                if len > MAX_TAG_PREFIX - 4 {
                    return Err(r.corrupt(len_at, format!("a tag prefix of {len} bytes, more than {MAX_TAG_PREFIX}")));
                }
                let mut next = Vec::with_capacity(4 + len);
                next.extend_from_slice(&len_bytes);
                next.extend_from_slice(r.take(len, "a tag prefix")?);
                let tag = decode_prefix(&next)
                    .map_err(|e| corrupt(path, len_at, format!("a tag prefix does not decode: {e}")))?;
                let rendered = render_struct_tag(&tag);
                if tag_prefix(&tag).ok().as_ref() != Some(&next) {
                    return Err(corrupt(path, len_at, format!("the tag prefix of {rendered} is not canonical")));
                }
                if let Some((_, previous, _)) = &current {
                    if next <= prefix {
                        return Err(corrupt(
                            path,
                            at,
                            format!("keys out of order: the run of {rendered} comes after the run of {previous}"),
                        ));
                    }
                }
                close(&mut current, run, &mut tags)?;
                run = 0;
                last = None;
                prefix = next;
                sink(Item::Tag(&tag))?;
                current = Some((tag, rendered, at));
            }
            KIND_RESOURCE => {
                let Some((_, rendered, _)) = &current else {
                    return Err(r.corrupt(at, "a resource record before any tag record"));
                };
                let account = AccountAddress::new(r.array::<ACCOUNT>("an account")?);
                if let Some(previous) = last.filter(|previous| *previous >= account) {
                    return Err(corrupt(
                        path,
                        at,
                        format!(
                            "keys out of order: account {} comes after {} under {rendered}",
                            account.to_hex_literal(),
                            previous.to_hex_literal()
                        ),
                    ));
                }
                let len_at = r.offset;
                let len = r.u32("a value length")? as usize;
                if len > MAX_VALUE {
                    return Err(r.corrupt(len_at, format!("a value of {len} bytes, more than {MAX_VALUE}")));
                }
                let value = r.take(len, "a value")?;
                if let Some(root) = &mut root {
                    root.add(&prefix, &account, value);
                }
                sink(Item::Resource(&account, value))?;
                resources += 1;
                run += 1;
                last = Some(account);
            }
            kind => return Err(r.corrupt(at, format!("unknown record kind {kind}"))),
        }
    }
    Ok(Body { resources, root: root.map(RootHasher::finish), tags })
}

/// Parses a footer read at `at`.
fn parse_footer(path: &Path, at: u64, json: &[u8]) -> Result<(Footer, StateRoot), SnapshotError> {
    let footer: Footer =
        serde_json::from_slice(json).map_err(|e| corrupt(path, at, format!("the footer is not valid JSON: {e}")))?;
    if footer.format != FORMAT || footer.version != VERSION {
        return Err(corrupt(
            path,
            at,
            format!("the footer says format {:?} version {}", footer.format, footer.version),
        ));
    }
    let root = Some(&footer.state_root)
        .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|hex| hex.parse::<StateRoot>().ok())
        .ok_or_else(|| {
            let shown: String = footer.state_root.chars().take(80).collect();
            corrupt(path, at, format!("the footer's state root {shown:?} is not 64 hex digits"))
        })?;
    let sum = footer.tags.values().try_fold(0u64, |sum, n| sum.checked_add(*n));
    if sum != Some(footer.resources) {
        return Err(corrupt(
            path,
            at,
            format!("the footer's per-tag counts do not add up to its {} resources", footer.resources),
        ));
    }
    Ok((footer, root))
}

/// Reads the footer, its length and the trailer after the end record, and checks them against
/// the records. Returns the info and the file's checksum.
fn read_tail(r: &mut Reader<'_>, header: Header, body: Body) -> Result<(SnapshotInfo, [u8; 32]), SnapshotError> {
    let path = r.path;
    let at = r.offset;
    let footer_len = r.left();
    if footer_len > len_u64(MAX_FOOTER) {
        return Err(r.corrupt(at, format!("a footer of {footer_len} bytes, more than the limit of {MAX_FOOTER}")));
    }
    let json = r.take(usize::try_from(footer_len).unwrap_or(usize::MAX), "the footer")?.to_vec();
    r.limit = r.len;
    let len_at = r.offset;
    let stored = r.u32("the footer length")?;
    let (expected, found) = r.trailer()?;
    if expected != found {
        return Err(SnapshotError::Checksum { path: path.to_path_buf(), expected: hex(&expected), found: hex(&found) });
    }
    if u64::from(stored) != footer_len {
        return Err(r.corrupt(
            len_at,
            format!("the footer length field says {stored} bytes, the footer after the end record is {footer_len}"),
        ));
    }
    let (footer, root) = parse_footer(path, at, &json)?;
    if footer.resources != body.resources || footer.tags != body.tags {
        return Err(corrupt(
            path,
            at,
            format!(
                "the footer counts {} resources under {} tags, the records {} under {}",
                footer.resources,
                footer.tags.len(),
                body.resources,
                body.tags.len()
            ),
        ));
    }
    if let Some(found) = body.root.filter(|found| *found != root) {
        return Err(SnapshotError::RootMismatch { path: path.to_path_buf(), expected: root, found });
    }
    let info = SnapshotInfo {
        version: VERSION,
        height: header.height,
        chain: header.chain,
        resources: body.resources,
        state_root: root,
        tags: body.tags,
        bytes: r.len,
    };
    Ok((info, found))
}

/// Reads the whole file once, handing every record to `sink`, and checks everything (the state
/// root only if `hash_root`). Returns the info and the file's checksum.
fn pass(path: &Path, sink: Sink<'_>, hash_root: bool) -> Result<(SnapshotInfo, [u8; 32]), SnapshotError> {
    let mut r = Reader::open(path, true)?;
    let header = read_header(&mut r)?;
    let body = read_records(&mut r, sink, hash_root)?;
    read_tail(&mut r, header, body)
}

/// Checks a snapshot in one streaming pass: magic, version, header, the framing of every
/// record, keys strictly increasing, value sizes, footer counts, the recomputed state root
/// against the footer's, and the trailer's checksum.
pub fn verify(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    Ok(pass(path, &mut |_| Ok(()), true)?.0)
}

/// Called with the struct tag, account and bytes of each resource of a snapshot.
pub type ResourceVisitor<'a> = &'a mut dyn FnMut(&StructTag, &AccountAddress, &[u8]) -> Result<(), SnapshotError>;

/// Verifies `path` whole ([`verify`]), then calls `visit` with every resource in key order:
/// streaming, the file is read twice and never held. An error from `visit` stops the walk.
pub fn visit(path: &Path, visit: ResourceVisitor<'_>) -> Result<SnapshotInfo, SnapshotError> {
    let (verified, checksum) = pass(path, &mut |_| Ok(()), true)?;
    let mut tag: Option<StructTag> = None;
    let mut sink = |item: Item<'_>| {
        match item {
            Item::Tag(t) => tag = Some(t.clone()),
            Item::Resource(account, value) => {
                let Some(tag) = &tag else { return Err(SnapshotError::Changed { path: path.to_path_buf() }) };
                visit(tag, account, value)?;
            }
        }
        Ok(())
    };
    // The second pass skips the root: the same checksum means the same bytes as verified.
    let (info, again) = pass(path, &mut sink, false).map_err(|e| match e {
        e @ (SnapshotError::Store(_) | SnapshotError::Io { .. } | SnapshotError::Visit { .. }) => e,
        _ => SnapshotError::Changed { path: path.to_path_buf() },
    })?;
    if again != checksum || info != verified {
        return Err(SnapshotError::Changed { path: path.to_path_buf() });
    }
    Ok(info)
}

/// Verifies `path` whole, so that nothing is written from a bad file, then writes its
/// resources into `store` in batches of at most `resources_per_batch` resources (at least one),
/// calling `progress` with the resources written so far after each batch.
///
/// Resources are put on top of what `store` holds: give it an empty store to get the
/// snapshot's state (and root) back.
pub fn import(
    path: &Path,
    store: &mut dyn Store,
    resources_per_batch: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<SnapshotInfo, SnapshotError> {
    let per_batch = resources_per_batch.max(1);
    let mut batch = WriteBatch::new();
    let mut pending = 0usize;
    let mut written = 0u64;
    let info = visit(path, &mut |tag, account, value| {
        batch.put_ref(*account, tag, value.to_vec());
        pending += 1;
        if pending >= per_batch {
            store.apply(std::mem::take(&mut batch))?;
            written += len_u64(pending);
            pending = 0;
            progress(written);
        }
        Ok(())
    })?;
    if pending > 0 {
        store.apply(batch)?;
        written += len_u64(pending);
        progress(written);
    }
    Ok(info)
}

/// The header and footer of a snapshot, without reading the records or checking the checksum:
/// cheap, for listings. Use [`verify`] before trusting the file.
pub fn read_info(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    let mut r = Reader::open(path, false)?;
    let len = r.len;
    let header = read_header(&mut r)?;
    let body_at = r.offset;
    // At least the end record before the footer.
    let end_of_footer = r.len.saturating_sub(TAIL);
    if end_of_footer <= body_at {
        return Err(r.corrupt(r.len, "truncated: no room for the records, footer and trailer"));
    }
    r.seek(end_of_footer)?;
    r.limit = r.len;
    let stored = u64::from(r.u32("the footer length")?);
    let Some(footer_at) = end_of_footer.checked_sub(stored).filter(|at| *at > body_at) else {
        return Err(r.corrupt(end_of_footer, format!("the footer length {stored} points before the records")));
    };
    if stored > len_u64(MAX_FOOTER) {
        return Err(
            r.corrupt(end_of_footer, format!("a footer of {stored} bytes, more than the limit of {MAX_FOOTER}"))
        );
    }
    r.seek(footer_at - 1)?;
    r.limit = end_of_footer;
    if r.byte("the end record")? != KIND_END {
        return Err(r.corrupt(footer_at - 1, "no end record before the footer"));
    }
    let json = r.take(usize::try_from(stored).unwrap_or(usize::MAX), "the footer")?;
    let (footer, state_root) = parse_footer(path, footer_at, json)?;
    Ok(SnapshotInfo {
        version: VERSION,
        height: header.height,
        chain: header.chain,
        resources: footer.resources,
        state_root,
        tags: footer.tags,
        bytes: len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::core_types::parse_struct_tag;
    use migrations::store::InMemoryStore;
    use vm_hooks::{state_root, RedbStore};

    const TAGS: [&str; 4] =
        ["0x1::Coin::Balance<0x1::GAS::GAS>", "0x1::Wallet::Wallet", "0x2::A::A", "0x1::Vouch::Vouch<vector<u8>>"];

    fn store_with(accounts: u8) -> InMemoryStore {
        let mut batch = WriteBatch::new();
        for (i, t) in TAGS.iter().enumerate() {
            let tag = parse_struct_tag(t).unwrap();
            for n in 0..accounts {
                if !(n as usize + i).is_multiple_of(3) || i == 0 {
                    let mut account = [0u8; 16];
                    account[15] = n;
                    account[0] = n.wrapping_mul(37);
                    batch.put(AccountAddress::new(account), tag.clone(), vec![n; (n as usize * 7 + i) % 40]);
                }
            }
        }
        let mut store = InMemoryStore::new();
        store.apply(batch).unwrap();
        store
    }

    fn chain() -> Value {
        serde_json::json!({"accounts": 12, "activations": {"v2": 100, "v3": 200}, "budget": 500})
    }

    fn exported(dir: &Path, store: &InMemoryStore) -> (PathBuf, SnapshotInfo) {
        let path = dir.join("state.snap");
        let info = export(store, 42, chain(), &path).unwrap();
        (path, info)
    }

    #[test]
    fn round_trip_into_memory_and_redb() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(12);
        let root = state_root(&store).unwrap();
        let (path, info) = exported(dir.path(), &store);
        assert_eq!(info.state_root, root);
        assert_eq!(info.resources, store.len() as u64);
        assert_eq!(info.height, 42);
        assert_eq!(info.chain, chain());
        assert_eq!(info.version, VERSION);
        assert_eq!(info.bytes, fs::metadata(&path).unwrap().len());
        assert_eq!(info.tags.len(), TAGS.len());
        for t in TAGS {
            let tag = parse_struct_tag(t).unwrap();
            assert_eq!(info.tags[&render_struct_tag(&tag)], store.count(&tag) as u64);
        }
        assert_eq!(fs::read(&path).unwrap()[..MAGIC.len()], MAGIC[..]);
        assert_eq!(verify(&path).unwrap(), info);
        assert_eq!(read_info(&path).unwrap(), info);

        let mut memory = InMemoryStore::new();
        let mut calls = Vec::new();
        let imported = import(&path, &mut memory, 5, &mut |n| calls.push(n)).unwrap();
        assert_eq!(imported, info);
        assert_eq!(memory, store);
        assert_eq!(state_root(&memory).unwrap(), root);
        let total = info.resources;
        let expected: Vec<u64> = (1..=total.div_ceil(5)).map(|b| (b * 5).min(total)).collect();
        assert_eq!(calls, expected);

        let redb_dir = tempfile::tempdir().unwrap();
        let mut redb = RedbStore::open(redb_dir.path()).unwrap();
        import(&path, &mut redb, 1000, &mut |_| {}).unwrap();
        assert_eq!(state_root(&redb).unwrap(), root);

        // Export from redb gives the same bytes.
        let again = dir.path().join("again.snap");
        let info_again = export(&redb, 42, chain(), &again).unwrap();
        assert_eq!(info_again, info);
        assert_eq!(fs::read(&again).unwrap(), fs::read(&path).unwrap());
    }

    #[test]
    fn an_empty_state_exports_and_imports() {
        let dir = tempfile::tempdir().unwrap();
        let empty = InMemoryStore::new();
        let path = dir.path().join("empty.snap");
        let info = export(&empty, 0, Value::Null, &path).unwrap();
        assert_eq!(info.resources, 0);
        assert!(info.tags.is_empty());
        assert_eq!(info.state_root, state_root(&empty).unwrap());
        assert_eq!(verify(&path).unwrap(), info);
        assert_eq!(read_info(&path).unwrap(), info);
        let mut into = InMemoryStore::new();
        let mut calls = 0;
        assert_eq!(import(&path, &mut into, 10, &mut |_| calls += 1).unwrap(), info);
        assert!(into.is_empty());
        assert_eq!(calls, 0);
    }

    #[test]
    fn export_never_overwrites_and_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("taken");
        fs::write(&path, b"precious").unwrap();
        let err = export(&store_with(4), 1, Value::Null, &path).unwrap_err();
        assert!(matches!(&err, SnapshotError::Exists(p) if p == &path), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"precious");
        let listing = || {
            let mut names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            names.sort();
            names
        };
        assert_eq!(listing(), vec![OsString::from("taken")]);

        // An error while writing (a header too large) removes the partial file.
        let big = Value::String("x".repeat(MAX_HEADER + 1));
        let err = export(&store_with(4), 1, big, &dir.path().join("big")).unwrap_err();
        assert!(matches!(err, SnapshotError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("big: not written") && !err.to_string().contains("partial"), "{err}");
        assert_eq!(listing(), vec![OsString::from("taken")]);

        // A state visiting out of order is refused, nothing left behind.
        let err = export(&Backwards, 1, Value::Null, &dir.path().join("backwards")).unwrap_err();
        assert!(matches!(err, SnapshotError::BadState { .. }), "{err}");
        assert!(err.to_string().contains("not in key order"), "{err}");
        assert_eq!(listing(), vec![OsString::from("taken")]);

        // A stale partial file is not clobbered either.
        fs::write(dir.path().join(".fresh.partial"), b"stale").unwrap();
        let err = export(&store_with(4), 1, Value::Null, &dir.path().join("fresh")).unwrap_err();
        assert!(matches!(err, SnapshotError::Exists(_)), "{err}");
        assert_eq!(fs::read(dir.path().join(".fresh.partial")).unwrap(), b"stale");
    }

    /// Visits two accounts in decreasing order.
    struct Backwards;

    impl SortedState for Backwards {
        fn visit_sorted(
            &self,
            visit: &mut dyn FnMut(&[u8], &AccountAddress, &[u8]),
        ) -> Result<(), migrations::store::StoreError> {
            let prefix = tag_prefix(&parse_struct_tag(TAGS[0]).unwrap()).unwrap();
            visit(&prefix, &AccountAddress::new([2; 16]), b"b");
            visit(&prefix, &AccountAddress::new([1; 16]), b"a");
            Ok(())
        }
    }

    fn assert_one_line(err: &SnapshotError, path: &Path) {
        let message = err.to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = exported(dir.path(), &store_with(5));
        let bytes = fs::read(&path).unwrap();
        let cut = dir.path().join("cut");
        for len in 0..bytes.len() {
            fs::write(&cut, &bytes[..len]).unwrap();
            let err = verify(&cut).unwrap_err();
            assert_one_line(&err, &cut);
            let _ = read_info(&cut);
            let mut store = InMemoryStore::new();
            assert!(import(&cut, &mut store, 2, &mut |_| {}).is_err());
            assert!(store.is_empty());
        }
    }

    #[test]
    fn every_flipped_byte_is_an_error_and_imports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = exported(dir.path(), &store_with(5));
        let bytes = fs::read(&path).unwrap();
        let bad = dir.path().join("bad");
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= flip;
                fs::write(&bad, &damaged).unwrap();
                let err = verify(&bad).unwrap_err();
                assert_one_line(&err, &bad);
                assert!(
                    matches!(
                        err,
                        SnapshotError::Checksum { .. }
                            | SnapshotError::Corrupt { .. }
                            | SnapshotError::NotASnapshot { .. }
                            | SnapshotError::Version { .. }
                    ),
                    "byte {i}: {err}"
                );
                let _ = read_info(&bad);
                let mut store = InMemoryStore::new();
                assert!(import(&bad, &mut store, 1, &mut |_| {}).is_err());
                assert!(store.is_empty(), "byte {i}");
            }
        }
    }

    #[test]
    fn garbage_is_not_a_snapshot_and_other_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage");
        fs::write(&path, b"SQLite format 3\0 and more bytes than the magic").unwrap();
        assert!(matches!(verify(&path), Err(SnapshotError::NotASnapshot { .. })));
        assert!(matches!(read_info(&path), Err(SnapshotError::NotASnapshot { .. })));
        fs::write(&path, b"").unwrap();
        assert!(matches!(verify(&path), Err(SnapshotError::NotASnapshot { .. })));
        let mut v2 = MAGIC.to_vec();
        v2.extend_from_slice(&2u32.to_be_bytes());
        v2.extend_from_slice(&[0; 64]);
        fs::write(&path, &v2).unwrap();
        let err = verify(&path).unwrap_err();
        assert!(matches!(err, SnapshotError::Version { found: 2, .. }), "{err}");
        assert!(matches!(read_info(&path), Err(SnapshotError::Version { found: 2, .. })));
        let missing = dir.path().join("missing");
        assert!(matches!(verify(&missing), Err(SnapshotError::Io { .. })));
        assert!(matches!(verify(dir.path()), Err(SnapshotError::Io { .. })));
    }

    /// A record written by hand: tag, account (16 times this byte), value.
    type Handmade<'a> = (&'a str, u8, &'a [u8]);

    /// A file written by hand with `records` (kind, prefix or account, value), a footer that
    /// agrees with them and a valid trailer.
    fn handmade(path: &Path, records: &[Handmade<'_>], extra_tag: bool) {
        let file = OpenOptions::new().write(true).create_new(true).open(path).unwrap();
        let mut w = Writer::new(path, path, file);
        w.header(7, Value::Null).unwrap();
        let mut root = RootHasher::new();
        let mut tags = BTreeMap::new();
        let mut last_tag = "";
        for (t, account, value) in records {
            let tag = parse_struct_tag(t).unwrap();
            let prefix = tag_prefix(&tag).unwrap();
            if *t != last_tag || extra_tag {
                w.tag(&prefix).unwrap();
                last_tag = *t;
            }
            let account = AccountAddress::new([*account; 16]);
            w.resource(&account, value).unwrap();
            root.add(&prefix, &account, value);
            *tags.entry(render_struct_tag(&tag)).or_default() += 1;
        }
        w.footer(root.count(), root.finish(), tags).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn keys_out_of_order_are_refused_despite_a_valid_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let [a, b] = [TAGS[0], TAGS[1]];
        let (pa, pb) =
            (tag_prefix(&parse_struct_tag(a).unwrap()).unwrap(), tag_prefix(&parse_struct_tag(b).unwrap()).unwrap());
        let (low, high) = if pa < pb { (a, b) } else { (b, a) };
        let cases: [(&str, Vec<Handmade<'_>>, bool, &str); 5] = [
            ("accounts", vec![(low, 2, b"x"), (low, 1, b"y")], false, "account"),
            ("duplicate account", vec![(low, 1, b"x"), (low, 1, b"y")], false, "account"),
            ("tags", vec![(high, 1, b"x"), (low, 1, b"y")], false, "run of"),
            ("repeated tag", vec![(low, 1, b"x"), (low, 2, b"y")], true, "run of"),
            ("ok", vec![(low, 1, b"x"), (low, 2, b"y"), (high, 0, b"")], false, ""),
        ];
        for (name, records, extra_tag, what) in cases {
            let path = dir.path().join(name);
            handmade(&path, &records, extra_tag);
            match verify(&path) {
                Ok(info) => {
                    assert_eq!(name, "ok");
                    assert_eq!(info.resources, 3);
                }
                Err(err) => {
                    assert!(matches!(err, SnapshotError::Corrupt { .. }), "{name}: {err}");
                    assert!(err.to_string().contains("keys out of order") && err.to_string().contains(what), "{err}");
                    let mut store = InMemoryStore::new();
                    assert!(import(&path, &mut store, 1, &mut |_| {}).is_err());
                    assert!(store.is_empty());
                }
            }
        }
    }

    /// Recomputes the trailer of a file edited by hand.
    fn resign(bytes: &mut Vec<u8>) {
        bytes.truncate(bytes.len() - 32);
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
    }

    #[test]
    fn resigned_edits_are_caught_by_the_framing_the_counts_and_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let (path, info) = exported(dir.path(), &store_with(6));
        let bytes = fs::read(&path).unwrap();
        let header_len = u32::from_be_bytes(bytes[25..29].try_into().unwrap()) as usize;
        let header_json = 29..29 + header_len;
        let edited = dir.path().join("edited");
        for i in 0..bytes.len() - 32 {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x01;
            resign(&mut damaged);
            fs::write(&edited, &damaged).unwrap();
            match verify(&edited) {
                // Only the header's JSON is not covered by the footer or the root: a re-signed
                // edit of a value there (the height, the chain, the description) is a forgery
                // the checksum cannot see.
                Ok(other) => assert!(header_json.contains(&i), "byte {i}: {other:?} (was {info:?})"),
                Err(err) => {
                    assert_one_line(&err, &edited);
                    assert!(!matches!(err, SnapshotError::Checksum { .. }), "{err}");
                }
            }
        }

        // A value byte changed and re-signed: the root disagrees with the footer's.
        let mut i = header_json.end;
        let value_at = loop {
            let len_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            match bytes[i] {
                KIND_TAG => i += 1 + 4 + len_at(i + 1),
                KIND_RESOURCE if len_at(i + 17) > 0 => break i + 21,
                KIND_RESOURCE => i += 21,
                kind => panic!("kind {kind} at {i}"),
            }
        };
        let mut damaged = bytes.clone();
        damaged[value_at] ^= 0x01;
        resign(&mut damaged);
        fs::write(&edited, &damaged).unwrap();
        let err = verify(&edited).unwrap_err();
        assert!(matches!(err, SnapshotError::RootMismatch { .. }), "{err}");
        assert_one_line(&err, &edited);
    }

    /// A store whose first batch damages the snapshot being imported, past what the import has
    /// read so far.
    struct Meddler<'a> {
        inner: InMemoryStore,
        file: &'a Path,
        meddled: bool,
    }

    impl Store for Meddler<'_> {
        fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(account, tag)
        }

        fn scan(
            &self,
            tag: &StructTag,
            after: Option<&AccountAddress>,
            limit: usize,
        ) -> Result<Vec<(AccountAddress, Vec<u8>)>, StoreError> {
            self.inner.scan(tag, after, limit)
        }

        fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
            if !self.meddled {
                let mut bytes = fs::read(self.file).unwrap();
                let at = bytes.len() - 100;
                bytes[at] ^= 0x01;
                let mut file = OpenOptions::new().write(true).open(self.file).unwrap();
                file.write_all(&bytes).unwrap();
                self.meddled = true;
            }
            self.inner.apply(batch)
        }
    }

    #[test]
    fn a_file_changing_during_the_import_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let tag = parse_struct_tag(TAGS[1]).unwrap();
        let mut batch = WriteBatch::new();
        for n in 0..2_000u16 {
            let mut account = [0u8; 16];
            account[14..].copy_from_slice(&n.to_be_bytes());
            batch.put(AccountAddress::new(account), tag.clone(), vec![n as u8; 1_000]);
        }
        let mut store = InMemoryStore::new();
        store.apply(batch).unwrap();
        let (path, info) = exported(dir.path(), &store);
        assert!(info.bytes > BUFFER as u64 + 100_000);
        let mut meddler = Meddler { inner: InMemoryStore::new(), file: &path, meddled: false };
        let err = import(&path, &mut meddler, 100, &mut |_| {}).unwrap_err();
        assert!(matches!(err, SnapshotError::Changed { .. }), "{err}");
        assert_one_line(&err, &path);
        assert!(meddler.meddled);
        assert!(matches!(verify(&path), Err(SnapshotError::Checksum { .. })));
    }

    #[test]
    fn a_deeply_nested_tag_is_refused_without_exhausting_the_stack() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep");
        // 0x1::M::S<vector<vector<...<bool>...>>>, nested 60 000 deep: BCS is the address, the
        // module and name, one type argument, then 6 (vector) per level and 0 (bool).
        let mut bcs = vec![0u8; 15];
        bcs.extend_from_slice(&[1, 1, b'M', 1, b'S', 1]);
        bcs.extend(std::iter::repeat_n(6u8, 60_000));
        bcs.push(0);
        let mut prefix = (bcs.len() as u32).to_be_bytes().to_vec();
        prefix.extend_from_slice(&bcs);
        let file = OpenOptions::new().write(true).create_new(true).open(&path).unwrap();
        let mut w = Writer::new(&path, &path, file);
        w.header(1, Value::Null).unwrap();
        w.tag(&prefix).unwrap();
        w.resource(&AccountAddress::ZERO, b"x").unwrap();
        w.footer(0, state_root(&InMemoryStore::new()).unwrap(), BTreeMap::new()).unwrap();
        w.finish().unwrap();
        let err = verify(&path).unwrap_err();
        assert!(matches!(err, SnapshotError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("does not decode"), "{err}");
    }

    #[test]
    fn lengths_are_checked_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_be_bytes());
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        bytes.extend_from_slice(&[0; 100]);
        fs::write(&path, &bytes).unwrap();
        let err = verify(&path).unwrap_err();
        assert!(matches!(err, SnapshotError::Corrupt { offset: 25, .. }), "{err}");
        // A header claiming 1 MiB in a tiny file.
        bytes[25..29].copy_from_slice(&(MAX_HEADER as u32).to_be_bytes());
        fs::write(&path, &bytes).unwrap();
        let err = verify(&path).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
