//! A state backup of an Aptos-based chain (Aptos, 0L's libra-framework and their forks), as
//! aptos-core's `backup-cli` (0L: `diem-db-tool`) writes it: a manifest, chunk files of
//! `(StateKey, StateValue)` records in key-hash order, and `state.proof`.
//!
//! [`AptosBackup::open`] finds the snapshot ([`layout`]), reads and checks its manifest
//! ([`manifest`]), decides the chain's hash salt from the data (the first record's key must
//! hash to the manifest's `first_key` under exactly one of `APTOS::` and `DIEM::`), and checks
//! that `state.proof` binds the manifest's root to a ledger info ([`proof`]; its signatures are
//! not checked). [`AptosBackup::visit`] then streams every record, typed ([`key`], [`value`]),
//! to a callback, holding one record at a time: it checks the framing, each chunk's first and
//! last key and record count, that key hashes strictly increase, and recomputes the state root
//! (a sparse Merkle tree over every record's key hash and value hash, the same fold as the Diem
//! reader's) to compare it with the manifest's at the end. Passes run on [`AptosOptions::threads`]
//! threads ([`AptosBackup::visit_on_threads`]: chunks read and hashed apart, the tree folded and
//! the records handed on in order), with the same result and the same first error as on one.
//!
//! Public archives hold chunks committed while still being written (a gzip stream without its
//! end, the last record cut, fewer records than the manifest says) and miss files. Such a state
//! is never called complete: it is refused, naming the file, unless [`AptosOptions::allow_partial`]
//! asks for what is readable, in which case the summary is marked partial and the root is not
//! verified. What was verified and what was not is spelled out by [`AptosBackup::checks`].

pub mod bcs;
pub mod group;
pub mod hash;
pub mod key;
pub mod layout;
pub mod limits;
pub mod manifest;
mod parallel;
pub mod proof;
pub mod record;
pub mod source;
pub mod value;
pub mod writer;

pub use group::{decode_group, decode_group_of_width, encode_group, GroupError, GroupMember};
pub use hash::Salt;
pub use key::{AptosStateKey, StatePath};
pub use source::AptosSource;
pub use value::Metadata;

use super::diem::chunk::ChunkReader;
use super::diem::hash::{hex, Hash, PLACEHOLDER};
use super::diem::manifest::read_maybe_gzipped_as;
use super::diem::smt::RootBuilder;
use super::{At, Origin, StateError};
use hash::Hashes;
use layout::Layout;
use limits::MAX_INCOMPLETE_LISTED;
use manifest::{Manifest, ManifestChunk};
use proof::{parse_state_proof, LedgerInfo, StateProof};
use record::{parse_record, Record};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What `state.proof` is to [`input_files`] (a ledger info with a validator set is a few MiB).
pub const PROOF_FILE: input_files::Kind = input_files::Kind::new("state proof", 64 << 20);

/// How to open a backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AptosOptions {
    /// The snapshot's version, when the top directory holds several (the newest otherwise).
    pub version: Option<u64>,
    /// Read what is there of an incomplete backup (truncated or missing chunks, a missing
    /// `state.proof`), marking the result partial, instead of refusing it.
    pub allow_partial: bool,
    /// Threads a pass reads chunks on (0 or 1: the caller's alone).
    pub threads: usize,
    /// Bytes the readers of a pass on many threads may hold for the fold, together (0: 64 MiB).
    pub memory: usize,
}

/// One record, as [`AptosBackup::visit`] hands it over.
#[derive(Debug, Clone, Copy)]
pub struct AptosRecord<'a> {
    pub key: &'a AptosStateKey,
    pub key_hash: Hash,
    /// The value's data (a resource's or table value's BCS bytes, a group's map, a module).
    pub value: &'a [u8],
    /// The value's storage metadata, kept to be written back unchanged.
    pub metadata: Option<&'a Metadata>,
    pub origin: &'a Origin,
}

/// Called with each record; an error stops the stream.
pub type RecordSink<'a> = &'a mut dyn FnMut(AptosRecord<'_>) -> Result<(), StateError>;

/// What `state.proof` established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum ProofStatus {
    /// The manifest's root is the transaction info's state checkpoint hash, and the transaction
    /// info is in the ledger info's accumulator (signatures not checked).
    Bound { ledger: LedgerInfo, siblings: usize },
    /// The file is missing (read as partial only).
    Missing { file: PathBuf },
}

/// Records of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    pub resources: u64,
    pub resource_groups: u64,
    pub modules: u64,
    pub table_items: u64,
    pub raw: u64,
    /// Access paths that read as no module, resource or group.
    pub unknown_paths: u64,
    /// Values with storage metadata.
    pub with_metadata: u64,
}

impl KindCounts {
    /// Adds `other`'s counts.
    fn add(&mut self, other: &KindCounts) {
        self.resources += other.resources;
        self.resource_groups += other.resource_groups;
        self.modules += other.modules;
        self.table_items += other.table_items;
        self.raw += other.raw;
        self.unknown_paths += other.unknown_paths;
        self.with_metadata += other.with_metadata;
    }
}

/// A chunk that was not read whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incomplete {
    pub file: PathBuf,
    pub records_read: u64,
    pub records_expected: u64,
    pub reason: String,
}

/// Whether the state root was verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum RootCheck {
    /// Recomputed over every record and equal to the manifest's.
    Verified,
    /// Not verified: the state is incomplete.
    NotVerified { reason: String },
}

/// What one pass over the records found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AptosSummary {
    pub records: u64,
    /// Bytes of records read (unpacked, framing included).
    pub bytes: u64,
    pub kinds: KindCounts,
    /// Whether part of the state was not read (see `incomplete`).
    pub partial: bool,
    /// Incomplete chunks (the first [`MAX_INCOMPLETE_LISTED`]), and how many there were.
    pub incomplete: Vec<Incomplete>,
    pub incomplete_chunks: u64,
    pub root: RootCheck,
}

/// What [`AptosBackup::info`] says of a backup once opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AptosInfo {
    pub manifest: PathBuf,
    pub top: PathBuf,
    pub version: u64,
    pub epoch: u64,
    pub salt: Salt,
    /// How the salt was decided.
    pub salt_from: &'static str,
    #[serde(serialize_with = "hash_hex")]
    pub root_hash: Hash,
    pub chunks: usize,
    /// Records the manifest says the state holds.
    pub records: u64,
    /// Chunk files the manifest names that are not there (read as partial only).
    pub missing_chunks: Vec<PathBuf>,
    pub proof: ProofStatus,
}

fn hash_hex<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(h))
}

/// What was verified, and what was not, in sentences for a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Checks {
    pub verified: Vec<String>,
    pub not_verified: Vec<String>,
}

/// A backup, opened.
#[derive(Debug)]
pub struct AptosBackup {
    layout: Layout,
    manifest: Manifest,
    options: AptosOptions,
    /// Each chunk's file, `None` when missing.
    files: Vec<Option<PathBuf>>,
    salt: Salt,
    salt_from: &'static str,
    proof: ProofStatus,
    /// The last complete pass's summary (then the root needs no recomputing).
    last: Option<AptosSummary>,
}

/// The outcome of reading the first record of the first chunk that has one.
fn first_record(files: &[Option<PathBuf>]) -> Result<Option<(usize, Vec<u8>)>, StateError> {
    let mut buf = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let Some(path) = file else { continue };
        match ChunkReader::open(path)?.next(&mut buf) {
            Ok(Some(_)) => return Ok(Some((i, buf))),
            Ok(None) | Err(StateError::Truncated { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Why reading is refused when `allow_partial` is not given.
fn incomplete_error(path: &Path, offset: u64, reason: &str) -> StateError {
    StateError::Truncated {
        path: path.to_path_buf(),
        offset,
        reason: format!("{reason}: the backup is incomplete (read what is there as partial with --allow-partial)"),
    }
}

impl AptosBackup {
    /// Opens the backup `path` names (its top directory, a snapshot folder, or a manifest):
    /// reads its manifest, resolves its files, decides the salt and checks `state.proof`.
    pub fn open(path: &Path, options: &AptosOptions) -> Result<AptosBackup, StateError> {
        let layout = Layout::locate(path, options.version)?;
        let manifest = layout.read_manifest()?;
        if let Some(v) = options.version.filter(|v| *v != manifest.version) {
            return Err(StateError::Unsupported {
                path: manifest.path.clone(),
                reason: format!("a snapshot of version {}, not the version {v} asked for", manifest.version),
            });
        }
        let mut files = Vec::with_capacity(manifest.chunks.len());
        for (i, c) in manifest.chunks.iter().enumerate() {
            let file = layout.resolve(&c.blobs, &format!("chunk {i}"))?;
            if file.is_none() && !options.allow_partial {
                return Err(StateError::MissingChunk {
                    manifest: manifest.path.clone(),
                    handle: c.blobs.clone(),
                    chunk: layout.expected(&c.blobs),
                    reason: "not there (nor with .gz, nor beside the manifest): the backup is incomplete (read what is there as partial with --allow-partial)".into(),
                });
            }
            files.push(file);
        }
        let proof = match layout.resolve(&manifest.proof, "state.proof")? {
            Some(p) => {
                let bytes = read_maybe_gzipped_as(&p, PROOF_FILE)?;
                let parsed = parse_state_proof(&bytes).map_err(|e| StateError::Corrupt {
                    path: p.clone(),
                    offset: e.offset as u64,
                    reason: format!("not a state proof (transaction info with proof, ledger info): {}", e.reason),
                })?;
                Some((p, parsed))
            }
            None if options.allow_partial => None,
            None => {
                return Err(StateError::Manifest {
                    path: manifest.path.clone(),
                    reason: format!(
                        "names state.proof `{}`, which is not there ({}): the root cannot be bound to a ledger info (read as partial with --allow-partial)",
                        manifest.proof,
                        layout.expected(&manifest.proof).display()
                    ),
                })
            }
        };
        let (salt, salt_from) = decide_salt(&manifest, &files, proof.as_ref().map(|(_, p)| p))?;
        let proof = match proof {
            Some((p, parsed)) => {
                parsed.verify(&Hashes::new(salt), manifest.version, &manifest.root_hash).map_err(|reason| {
                    StateError::Manifest {
                        path: p.clone(),
                        reason: format!("does not bind the manifest's root: {reason}"),
                    }
                })?;
                ProofStatus::Bound { ledger: parsed.ledger, siblings: parsed.siblings.len() }
            }
            None => ProofStatus::Missing { file: layout.expected(&manifest.proof) },
        };
        Ok(AptosBackup { layout, manifest, options: *options, files, salt, salt_from, proof, last: None })
    }

    /// The backup's identity and what opening it established.
    pub fn info(&self) -> AptosInfo {
        AptosInfo {
            manifest: self.manifest.path.clone(),
            top: self.layout.top.clone(),
            version: self.manifest.version,
            epoch: self.manifest.epoch,
            salt: self.salt,
            salt_from: self.salt_from,
            root_hash: self.manifest.root_hash,
            chunks: self.manifest.chunks.len(),
            records: self.manifest.records(),
            missing_chunks: self
                .manifest
                .chunks
                .iter()
                .zip(&self.files)
                .filter(|(_, f)| f.is_none())
                .map(|(c, _)| self.layout.expected(&c.blobs))
                .collect(),
            proof: self.proof.clone(),
        }
    }

    /// How it was opened.
    pub fn options(&self) -> &AptosOptions {
        &self.options
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The chunk files found, in the manifest's order.
    pub fn chunk_files(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().flatten().map(PathBuf::as_path)
    }

    /// The last complete pass's summary, if a pass has run.
    pub fn summary(&self) -> Option<&AptosSummary> {
        self.last.as_ref()
    }

    /// What was verified and what was not (after a pass, about the records and root too).
    pub fn checks(&self) -> Checks {
        let mut c = Checks::default();
        c.verified.push(format!(
            "the manifest: {} chunks numbering {} records from 0 without gap, their keys in order, every handle inside the backup",
            self.manifest.chunks.len(),
            self.manifest.records()
        ));
        c.verified.push(format!("the hash salt {}: {}", self.salt, self.salt_from));
        match &self.proof {
            ProofStatus::Bound { ledger, siblings } => c.verified.push(format!(
                "state.proof: the transaction info at version {} commits to the manifest's root and folds with its {siblings} accumulator siblings to the accumulator root of the ledger info at version {} (epoch {})",
                self.manifest.version, ledger.version, ledger.epoch
            )),
            ProofStatus::Missing { file } => {
                c.not_verified.push(format!("state.proof: missing ({}), the root is bound to no ledger info", file.display()))
            }
        }
        c.not_verified.push(
            "the ledger info's signatures: not read, so the ledger info itself is taken on trust (check it against the chain, e.g. its waypoint)".into(),
        );
        c.not_verified.push("the per-chunk range proofs: not read (the whole root is recomputed instead)".into());
        match &self.last {
            None => c.not_verified.push("the records and the state root: not read yet".into()),
            Some(s) => {
                c.verified.push(format!(
                    "{} records: framing, key and value decoded, key hashes strictly increasing, each chunk's first and last key and record count as the manifest says{}",
                    s.records,
                    if s.partial { " (for the chunks read whole)" } else { "" }
                ));
                match &s.root {
                    RootCheck::Verified => c.verified.push(format!(
                        "the state root: recomputed over every record (Jellyfish Merkle tree, {} hashes) and equal to the manifest's {}",
                        self.salt,
                        hex(&self.manifest.root_hash)
                    )),
                    RootCheck::NotVerified { reason } => c.not_verified.push(format!("the state root: {reason}")),
                }
            }
        }
        c
    }

    /// One pass with no callback: checks everything [`AptosBackup::visit`] checks.
    pub fn verify(&mut self) -> Result<AptosSummary, StateError> {
        self.pass(&|_| false, 0, &mut |_| Ok(()))
    }

    /// A pass on the threads the backup was opened with ([`AptosOptions::threads`]):
    /// [`AptosBackup::visit`] on one, [`AptosBackup::visit_on_threads`] on more, `f` given the
    /// records whose key `keep` accepts (on one thread, every record: `f` passes over the others),
    /// `keep_bytes` of their values a chunk at most.
    pub fn pass(
        &mut self,
        keep: &(dyn Fn(&AptosStateKey) -> bool + Sync),
        keep_bytes: usize,
        f: RecordSink<'_>,
    ) -> Result<AptosSummary, StateError> {
        match self.options.threads {
            0 | 1 => self.visit(f),
            threads => self.visit_on_threads(threads, keep, keep_bytes, f),
        }
    }

    /// Streams every record to `f`, in key-hash order, holding one at a time. The root is
    /// compared at the end (unless a complete pass already verified it): a caller that must not
    /// act on an unverified record either calls [`AptosBackup::verify`] first or discards what
    /// it got when this returns an error.
    pub fn visit(&mut self, f: RecordSink<'_>) -> Result<AptosSummary, StateError> {
        let hashes = Hashes::new(self.salt);
        let recompute = !matches!(self.last, Some(AptosSummary { root: RootCheck::Verified, .. }));
        let mut root = RootBuilder::new(hashes.clone());
        let mut previous: Option<Hash> = None;
        let mut s = AptosSummary::empty();
        let manifest_path = &self.manifest.path;
        for (c, file) in self.manifest.chunks.iter().zip(&self.files) {
            let Some(path) = file else {
                self.note_missing(&mut s, c);
                continue;
            };
            let file: Rc<Path> = Rc::from(path.as_path());
            let expected = c.records();
            let end = read_chunk(manifest_path, c, path, &hashes, &mut |r| {
                let index = c.first_idx.saturating_add(r.count);
                if r.count == 0 {
                    if let Some(p) = previous.filter(|p| *p >= r.key_hash) {
                        return Err(out_of_order(path, r.at, index, &r.rec.key, &r.key_hash, &p));
                    }
                }
                if r.count >= expected {
                    return Err(too_many(path, r.at, c));
                }
                if recompute {
                    root.add(&r.key_hash, &hashes.state_value(r.rec.value.bcs));
                }
                count_kind(&mut s.kinds, &r.rec.key, r.rec.value.metadata.is_some());
                let origin = Origin { file: file.clone(), at: At::Byte(r.at) };
                f(AptosRecord {
                    key: &r.rec.key,
                    key_hash: r.key_hash,
                    value: r.rec.value.data,
                    metadata: r.rec.value.metadata.as_ref(),
                    origin: &origin,
                })?;
                s.records += 1;
                s.bytes += r.framed;
                Ok(())
            })
            .map_err(ChunkError::into_error)?;
            previous = end.last.or(previous);
            self.finish_chunk(&mut s, c, path, &end)?;
        }
        self.conclude(s, recompute.then_some(root))
    }

    /// A pass's summary, its root compared with the manifest's (`root`: the tree the pass
    /// folded, `None` when an earlier complete pass verified it).
    fn conclude(&mut self, mut s: AptosSummary, root: Option<RootBuilder<Hashes>>) -> Result<AptosSummary, StateError> {
        s.root = if s.incomplete_chunks > 0 {
            RootCheck::NotVerified {
                reason: format!(
                    "not verified: {} of {} chunks were not read whole, so the state is incomplete",
                    s.incomplete_chunks,
                    self.manifest.chunks.len()
                ),
            }
        } else if let Some(root) = root {
            let found = root.finish();
            if found != self.manifest.root_hash {
                return Err(StateError::RootMismatch {
                    path: self.manifest.path.clone(),
                    expected: hex(&self.manifest.root_hash),
                    found: format!("{} ({} hashes, {} records)", hex(&found), self.salt, s.records),
                });
            }
            RootCheck::Verified
        } else {
            RootCheck::Verified
        };
        self.last = Some(s.clone());
        Ok(s)
    }

    /// Notes a chunk whose file is missing.
    fn note_missing(&self, s: &mut AptosSummary, c: &ManifestChunk) {
        let item = Incomplete {
            file: self.layout.expected(&c.blobs),
            records_read: 0,
            records_expected: c.records(),
            reason: "the chunk file is missing".to_owned(),
        };
        note(s, item);
    }

    /// The checks at a chunk's end: cut short (refused, or noted when partial reads are
    /// allowed), fewer records than the manifest says, its last key the manifest's.
    fn finish_chunk(
        &self,
        s: &mut AptosSummary,
        c: &ManifestChunk,
        path: &Path,
        end: &ChunkEnd,
    ) -> Result<(), StateError> {
        let expected = c.records();
        let short = |why: String| Incomplete {
            file: path.to_path_buf(),
            records_read: end.count,
            records_expected: expected,
            reason: why,
        };
        if let Some((offset, reason)) = &end.cut {
            let reason = format!("{reason} ({} of {expected} records read)", end.count);
            if !self.options.allow_partial {
                return Err(incomplete_error(path, *offset, &reason));
            }
            note(s, short(format!("at byte {offset}: {reason}")));
        } else if end.count < expected {
            let reason = format!("the chunk ends after {} records, the manifest says {expected}", end.count);
            if !self.options.allow_partial {
                return Err(incomplete_error(path, end.offset, &reason));
            }
            note(s, short(reason));
        } else if end.last != Some(c.last_key) {
            return Err(StateError::Manifest {
                path: self.manifest.path.clone(),
                reason: format!(
                    "chunk `{}`: its last record's key hashes to {}, the manifest's last_key is {}",
                    c.blobs,
                    end.last.map_or_else(|| "nothing".to_owned(), |k| hex(&k)),
                    hex(&c.last_key)
                ),
            });
        }
        Ok(())
    }
}

impl AptosSummary {
    fn empty() -> AptosSummary {
        AptosSummary {
            records: 0,
            bytes: 0,
            kinds: KindCounts::default(),
            partial: false,
            incomplete: Vec::new(),
            incomplete_chunks: 0,
            root: RootCheck::Verified,
        }
    }
}

/// The largest record buffer a chunk's reader keeps from one record to the next.
const KEEP_BUFFER: usize = 16 << 20;

/// One record of a chunk, as [`read_chunk`] hands it on.
pub(crate) struct ChunkRecord<'a> {
    /// Its place in the chunk, from 0.
    pub count: u64,
    /// The byte of its frame in the (unpacked) chunk.
    pub at: u64,
    pub rec: &'a Record<'a>,
    /// Its payload (the record's bytes without their frame), as `rec` was parsed from.
    pub payload: &'a [u8],
    pub key_hash: Hash,
    /// Its bytes with their frame.
    pub framed: u64,
}

/// How reading a chunk ended.
#[derive(Debug, Default)]
pub(crate) struct ChunkEnd {
    /// Records read.
    pub count: u64,
    /// The last one's key hash.
    pub last: Option<Hash>,
    /// Where the file was cut (a record or the gzip stream ending early), and why.
    pub cut: Option<(u64, String)>,
    /// The reader's offset at the end.
    pub offset: u64,
}

/// Why reading a chunk stopped: its own checks failed at record `record` (for record 0,
/// before the check against the chunk before: framing, parsing, the manifest's first key), or
/// the caller's handling of a record did.
#[derive(Debug)]
pub(crate) enum ChunkError {
    Checks { record: u64, error: StateError },
    Record(StateError),
}

impl ChunkError {
    pub(crate) fn into_error(self) -> StateError {
        match self {
            ChunkError::Checks { error, .. } | ChunkError::Record(error) => error,
        }
    }
}

/// Reads chunk `c` from `path`, checking every record's framing and parsing, the first key
/// against the manifest's and the order of keys within the chunk, and hands each to `each`.
pub(crate) fn read_chunk(
    manifest_path: &Path,
    c: &ManifestChunk,
    path: &Path,
    hashes: &Hashes,
    each: &mut dyn FnMut(ChunkRecord<'_>) -> Result<(), StateError>,
) -> Result<ChunkEnd, ChunkError> {
    let checks = |record: u64| move |error: StateError| ChunkError::Checks { record, error };
    let mut reader = ChunkReader::open(path).map_err(checks(0))?;
    let mut end = ChunkEnd::default();
    let mut buf = Vec::new();
    loop {
        // A record may be up to 1 GiB: its buffer is not kept for the records after it (a
        // reader on a thread of its own may wait, holding it, while the fold catches up).
        if buf.capacity() > KEEP_BUFFER {
            buf = Vec::new();
        }
        let at = match reader.next(&mut buf) {
            Ok(Some(at)) => at,
            Ok(None) => break,
            Err(StateError::Truncated { offset, reason, .. }) => {
                end.cut = Some((offset, reason));
                break;
            }
            Err(e) => return Err(checks(end.count)(e)),
        };
        let index = c.first_idx.saturating_add(end.count);
        let corrupt = |reason: String| StateError::Corrupt { path: path.to_path_buf(), offset: at, reason };
        let rec = parse_record(&buf)
            .map_err(|e| checks(end.count)(corrupt(format!("record {index}: not a state key and value: {e}"))))?;
        let key_hash = rec.encoding.hash(hashes);
        if end.count == 0 && key_hash != c.first_key {
            return Err(checks(0)(StateError::Manifest {
                path: manifest_path.to_path_buf(),
                reason: format!(
                    "chunk `{}`: its first record's key hashes to {}, the manifest's first_key is {}",
                    c.blobs,
                    hex(&key_hash),
                    hex(&c.first_key)
                ),
            }));
        }
        if let Some(p) = end.last.filter(|p| *p >= key_hash) {
            return Err(checks(end.count)(out_of_order(path, at, index, &rec.key, &key_hash, &p)));
        }
        let framed = 4 + buf.len() as u64;
        each(ChunkRecord { count: end.count, at, rec: &rec, payload: &buf, key_hash, framed })
            .map_err(ChunkError::Record)?;
        end.last = Some(key_hash);
        end.count += 1;
    }
    end.offset = reader.offset();
    Ok(end)
}

/// A record whose key hash does not come after the one before.
fn out_of_order(path: &Path, at: u64, index: u64, key: &AptosStateKey, hash: &Hash, previous: &Hash) -> StateError {
    StateError::Corrupt {
        path: path.to_path_buf(),
        offset: at,
        reason: format!(
            "keys out of order: record {index} ({key}) hashes to {}, not after {}",
            hex(hash),
            hex(previous)
        ),
    }
}

/// A record past the count the manifest gives its chunk.
fn too_many(path: &Path, at: u64, c: &ManifestChunk) -> StateError {
    StateError::Corrupt {
        path: path.to_path_buf(),
        offset: at,
        reason: format!(
            "the chunk holds more records than the {} the manifest says (records {}..={})",
            c.records(),
            c.first_idx,
            c.last_idx
        ),
    }
}

/// Records a chunk not read whole.
fn note(s: &mut AptosSummary, item: Incomplete) {
    s.partial = true;
    s.incomplete_chunks += 1;
    if s.incomplete.len() < MAX_INCOMPLETE_LISTED {
        s.incomplete.push(item);
    }
}

fn count_kind(k: &mut KindCounts, key: &AptosStateKey, with_metadata: bool) {
    match key {
        AptosStateKey::AccessPath { path, .. } => match path {
            StatePath::Code(_) => k.modules += 1,
            StatePath::Resource(_) => k.resources += 1,
            StatePath::ResourceGroup(_) => k.resource_groups += 1,
            StatePath::Unknown(_) => k.unknown_paths += 1,
        },
        AptosStateKey::TableItem { .. } => k.table_items += 1,
        AptosStateKey::Raw(_) => k.raw += 1,
    }
    k.with_metadata += u64::from(with_metadata);
}

/// The salt: the one under which the first record's key hashes to its chunk's `first_key`; for
/// a backup with no readable record, the one under which `state.proof` folds.
fn decide_salt(
    manifest: &Manifest,
    files: &[Option<PathBuf>],
    proof: Option<&StateProof>,
) -> Result<(Salt, &'static str), StateError> {
    let bad = |reason: String| StateError::Manifest { path: manifest.path.clone(), reason };
    if let Some((i, payload)) = first_record(files)? {
        let (Some(chunk), Some(Some(path))) = (manifest.chunks.get(i), files.get(i)) else {
            return Err(bad("a chunk without its manifest entry".into()));
        };
        let rec = parse_record(&payload).map_err(|e| StateError::Corrupt {
            path: path.clone(),
            offset: 0,
            reason: format!("the first record is not a state key and value: {e}"),
        })?;
        let hashes: Vec<(Salt, Hash)> = Salt::ALL.iter().map(|s| (*s, rec.encoding.hash(&Hashes::new(*s)))).collect();
        let matching: Vec<Salt> = hashes.iter().filter(|(_, h)| *h == chunk.first_key).map(|(s, _)| *s).collect();
        return match matching.as_slice() {
            [salt] => Ok((*salt, "the first record's key hashes to the manifest's first_key under it alone")),
            _ => Err(bad(format!(
                "chunk `{}`: its first record's key ({}) hashes to {}; the manifest's first_key is {}: not a snapshot of an Aptos-based chain with a known salt, or damaged",
                chunk.blobs,
                rec.key,
                hashes.iter().map(|(s, h)| format!("{} under {s}", hex(h))).collect::<Vec<_>>().join(" and "),
                hex(&chunk.first_key)
            ))),
        };
    }
    if !manifest.chunks.is_empty() {
        return Err(bad("no chunk holds a readable record, so the hash salt cannot be decided".into()));
    }
    if manifest.root_hash != PLACEHOLDER {
        return Err(bad(format!(
            "no chunks, but the root {} is not the empty tree's {}",
            hex(&manifest.root_hash),
            hex(&PLACEHOLDER)
        )));
    }
    let Some(p) = proof else {
        return Err(bad("an empty snapshot without state.proof: the hash salt cannot be decided".into()));
    };
    let folding: Vec<Salt> = Salt::ALL
        .into_iter()
        .filter(|s| p.folded_root(&Hashes::new(*s), manifest.version) == p.ledger.accumulator_root)
        .collect();
    match folding.as_slice() {
        [salt] => Ok((*salt, "an empty snapshot: state.proof folds to the ledger info's root under it alone")),
        _ => Err(bad("an empty snapshot whose state.proof folds under no known salt".into())),
    }
}
