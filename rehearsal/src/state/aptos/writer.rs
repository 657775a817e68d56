//! Writes an Aptos-based backup from records, per the format's facts: for the reader's tests,
//! benchmarks and fuzz seeds, and for turning a state into an archive.
//!
//! The layout is the one `backup-cli` writes to a local directory: `TOP/state_epoch_E_ver_V.xxxx/`
//! holding `state.manifest`, chunk files `<first>-.chunk`, range proofs `<first>-<last>.proof`
//! and `state.proof`, and `TOP/metadata/state_snapshot_epoch_E_ver_V.meta`. Records are sorted by
//! key hash and framed as `u32` big-endian length + BCS `(StateKey, StateValue)`. The root is the
//! sparse Merkle root the reader recomputes; `state.proof` holds a transaction info committing
//! to it, accumulator siblings, and a ledger info whose accumulator root they fold to (no
//! signatures). The range proofs are placeholders: no reader of state needs them.
//!
//! Every file can be written plain, gzipped under its own name, or gzipped with a `.gz` suffix
//! (the manifest's handles keep the plain names, as archives that compress after the fact do).

use super::hash::{Hashes, Salt};
use super::key::AptosStateKey;
use super::proof::{state_proof_bytes, transaction_info_bytes};
use super::record::record_payload;
use super::value::Metadata;
use crate::state::diem::hash::{hex, Hash};
use crate::state::diem::smt::RootBuilder;
use crate::state::StateError;
use flate2::write::GzEncoder;
use serde::Serialize;
use sha3::{Digest, Sha3_256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Plain,
    /// Gzipped, under the plain name.
    Gzip,
    /// Gzipped, the name with `.gz` appended.
    GzipSuffix,
}

/// How to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    pub salt: Salt,
    /// The snapshot's version and epoch.
    pub version: u64,
    pub epoch: u64,
    /// The version of the ledger info `state.proof` ends at (at least `version`).
    pub ledger_version: u64,
    pub compression: Compression,
    /// Records per chunk file.
    pub records_per_chunk: usize,
}

impl WriteOptions {
    /// Plain files, chunks of 1,000 records, a ledger info three versions on.
    pub fn new(salt: Salt, version: u64) -> WriteOptions {
        WriteOptions {
            salt,
            version,
            epoch: 1 + version / 1_000,
            ledger_version: version.saturating_add(3),
            compression: Compression::Plain,
            records_per_chunk: 1_000,
        }
    }
}

/// A record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteRecord {
    pub key: AptosStateKey,
    pub data: Vec<u8>,
    pub metadata: Option<Metadata>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub top: PathBuf,
    /// The snapshot's folder.
    pub folder: PathBuf,
    /// The files as written (with `.gz` where the compression adds it).
    pub manifest: PathBuf,
    pub chunks: Vec<PathBuf>,
    pub state_proof: PathBuf,
    pub root: Hash,
    pub records: u64,
}

#[derive(Serialize)]
struct ManifestOut {
    version: u64,
    epoch: u64,
    root_hash: String,
    chunks: Vec<ChunkOut>,
    proof: String,
}

#[derive(Serialize)]
struct ChunkOut {
    first_idx: u64,
    last_idx: u64,
    first_key: String,
    last_key: String,
    blobs: String,
    proof: String,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

/// Writes `bytes` as `path` (plus `.gz` when the compression says); the file written.
fn write_file(path: &Path, bytes: &[u8], compression: Compression) -> Result<PathBuf, StateError> {
    let target = match compression {
        Compression::GzipSuffix => PathBuf::from(format!("{}.gz", path.display())),
        _ => path.to_path_buf(),
    };
    let file = std::io::BufWriter::new(std::fs::File::create(&target).map_err(io(&target))?);
    match compression {
        Compression::Plain => {
            let mut file = file;
            file.write_all(bytes).map_err(io(&target))?;
            file.flush().map_err(io(&target))?;
        }
        Compression::Gzip | Compression::GzipSuffix => {
            let mut gz = GzEncoder::new(file, flate2::Compression::fast());
            gz.write_all(bytes).map_err(io(&target))?;
            gz.finish().map_err(io(&target))?.flush().map_err(io(&target))?;
        }
    }
    Ok(target)
}

/// Deterministic filler hashes (accumulator siblings, transaction hashes).
fn filler(seed: &str, i: u64) -> Hash {
    let mut h = Sha3_256::new();
    h.update(seed.as_bytes());
    h.update(i.to_le_bytes());
    h.finalize().into()
}

/// Writes `records` as a backup under `top` (created if missing).
pub fn write_backup(
    top: &Path,
    records: impl IntoIterator<Item = WriteRecord>,
    options: WriteOptions,
) -> Result<Written, StateError> {
    let refuse = |reason: String| StateError::Unsupported { path: top.to_path_buf(), reason };
    if options.ledger_version < options.version || options.records_per_chunk == 0 {
        return Err(refuse("the ledger info must not be older than the snapshot, and chunks must hold records".into()));
    }
    let hashes = Hashes::new(options.salt);
    let mut sorted: Vec<(Hash, Hash, Vec<u8>)> = records
        .into_iter()
        .map(|r| {
            let payload = record_payload(&r.key, &r.data, r.metadata.as_ref());
            let key_len = r.key.to_bcs().len();
            let value_hash = hashes.state_value(payload.get(key_len..).unwrap_or_default());
            (r.key.hash(&hashes), value_hash, payload)
        })
        .collect();
    sorted.sort_by_key(|a| a.0);
    if let Some(w) = sorted.windows(2).find(|w| w.first().map(|a| a.0) == w.get(1).map(|b| b.0)) {
        return Err(refuse(format!("two records with key hash {}", w.first().map(|a| hex(&a.0)).unwrap_or_default())));
    }
    let folder_name =
        format!("state_epoch_{}_ver_{}.{:04x}", options.epoch, options.version, (options.version as u16) ^ 0x5eed);
    let folder = top.join(&folder_name);
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    let mut root = RootBuilder::new(hashes.clone());
    let (mut chunks, mut files) = (Vec::new(), Vec::new());
    for (n, group) in sorted.chunks(options.records_per_chunk).enumerate() {
        let first = (n * options.records_per_chunk) as u64;
        let last = first + group.len() as u64 - 1;
        let mut bytes = Vec::new();
        for (key, value_hash, payload) in group {
            bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            bytes.extend_from_slice(payload);
            root.add(key, value_hash);
        }
        let name = format!("{first}-.chunk");
        files.push(write_file(&folder.join(&name), &bytes, options.compression)?);
        let proof = format!("{first}-{last}.proof");
        write_file(&folder.join(&proof), &[0], options.compression)?;
        let key = |r: Option<&(Hash, Hash, Vec<u8>)>| r.map(|r| hex(&r.0)).unwrap_or_default();
        chunks.push(ChunkOut {
            first_idx: first,
            last_idx: last,
            first_key: key(group.first()),
            last_key: key(group.last()),
            blobs: format!("{folder_name}/{name}"),
            proof: format!("{folder_name}/{proof}"),
        });
    }
    let root = root.finish();
    let depth = u64::from(64 - options.ledger_version.leading_zeros()).max(1);
    let siblings: Vec<Hash> = (0..depth).map(|i| filler("accumulator sibling", i)).collect();
    let info = transaction_info_bytes(&root, &filler("transaction", options.version));
    let proof = state_proof_bytes(&hashes, &info, options.version, &siblings, options.epoch, options.ledger_version);
    let state_proof = write_file(&folder.join("state.proof"), &proof, options.compression)?;
    let manifest = ManifestOut {
        version: options.version,
        epoch: options.epoch,
        root_hash: hex(&root),
        chunks,
        proof: format!("{folder_name}/state.proof"),
    };
    let json = serde_json::to_vec(&manifest).map_err(|e| StateError::Sink(e.to_string()))?;
    let manifest = write_file(&folder.join("state.manifest"), &json, options.compression)?;
    let meta = top.join("metadata");
    std::fs::create_dir_all(&meta).map_err(io(&meta))?;
    let line = format!(
        "{{\"StateSnapshotBackup\":{{\"epoch\":{},\"version\":{},\"manifest\":\"{folder_name}/state.manifest\"}}}}\n",
        options.epoch, options.version
    );
    let meta_file = meta.join(format!("state_snapshot_epoch_{}_ver_{}.meta", options.epoch, options.version));
    std::fs::write(&meta_file, line).map_err(io(&meta_file))?;
    Ok(Written {
        top: top.to_path_buf(),
        folder,
        manifest,
        chunks: files,
        state_proof,
        root,
        records: sorted.len() as u64,
    })
}

/// Cuts `file` to its first `keep` bytes, as an archive committed while still being written
/// holds it (a gzip stream without its end, a record cut short).
pub fn cut(file: &Path, keep: u64) -> Result<(), StateError> {
    let f = std::fs::OpenOptions::new().write(true).open(file).map_err(io(file))?;
    f.set_len(keep).map_err(io(file))
}
