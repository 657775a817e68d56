//! Writes a Diem/Libra-family backup from the format's facts: for tests and benchmarks of the
//! reader, and for turning any state this crate reads into an archive those chains' tools read.
//!
//! The layout is the one `diem-backup-cli` writes to a local directory: `TOP/state_ver_V.xxxx/`
//! holding `state.manifest`, chunk files `<first>-.chunk`, proofs `<first>-<last>.proof` and
//! `state.proof`, and `TOP/metadata/state_snapshot_ver_V.meta`. The proofs hold no real proof
//! (no reader of state needs them; the root is recomputed from the records).

use super::blob::{blob_of, record_payload};
use super::hash::{hex, Hash, Hashes, Prefix};
use super::paths::{module_path, resource_path, PathEncoding};
use super::smt::RootBuilder;
use crate::state::StateError;
use binary_format::ModuleId;
use migrations::{AccountAddress, StructTag};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One account of the state to write.
#[derive(Debug, Clone, Default)]
pub struct BackupAccount {
    pub resources: Vec<(StructTag, Vec<u8>)>,
    pub modules: Vec<(ModuleId, Vec<u8>)>,
}

/// How to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupOptions {
    pub prefix: Prefix,
    pub paths: PathEncoding,
    /// The ledger version the snapshot is of.
    pub version: u64,
    /// A chunk is closed before a record would take it past this many bytes.
    pub max_chunk_bytes: u64,
}

impl BackupOptions {
    /// The Libra era: `LIBRA::` hashes, hashed paths.
    pub fn libra(version: u64) -> BackupOptions {
        BackupOptions { prefix: Prefix::Libra, paths: PathEncoding::Hashed, version, max_chunk_bytes: 128 << 20 }
    }

    /// The Diem era: `DIEM::` hashes, BCS paths.
    pub fn diem(version: u64) -> BackupOptions {
        BackupOptions { prefix: Prefix::Diem, paths: PathEncoding::Bcs, version, max_chunk_bytes: 128 << 20 }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenBackup {
    pub manifest: PathBuf,
    pub root: Hash,
    pub records: u64,
    pub chunks: Vec<PathBuf>,
}

#[derive(Serialize)]
struct ManifestOut {
    version: u64,
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

/// Writes `accounts` as a backup under the top directory `top` (created if missing).
pub fn write_backup(
    top: &Path,
    accounts: impl IntoIterator<Item = (AccountAddress, BackupAccount)>,
    options: BackupOptions,
) -> Result<WrittenBackup, StateError> {
    let hashes = Hashes::new(options.prefix);
    let mut records: Vec<(Hash, Vec<u8>)> = Vec::new();
    for (address, account) in accounts {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (tag, bytes) in account.resources {
            entries.push((resource_path(&tag, options.paths, &hashes), bytes));
        }
        for (id, bytes) in account.modules {
            let path = module_path(&id, options.paths, &hashes).ok_or_else(|| StateError::Unsupported {
                path: top.to_path_buf(),
                reason: format!("module {id} has no 16-byte address"),
            })?;
            entries.push((path, bytes));
        }
        records.push((hashes.account(address.as_bytes()), blob_of(entries)));
    }
    records.sort_by_key(|r| r.0);
    let folder = format!("state_ver_{}.{:04x}", options.version, (options.version as u16) ^ 0x5eed);
    let dir = top.join(&folder);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut root = RootBuilder::new(hashes.clone());
    let mut chunks = Vec::new();
    let mut files = Vec::new();
    let mut start = 0usize;
    while start < records.len() {
        let mut end = start;
        let mut size = 0u64;
        while let Some((_, blob)) = records.get(end) {
            let framed = 4 + 40 + blob.len() as u64;
            if end > start && size + framed > options.max_chunk_bytes {
                break;
            }
            size += framed;
            end += 1;
        }
        let name = format!("{start}-.chunk");
        let path = dir.join(&name);
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io(&path))?);
        for (key, blob) in records.get(start..end).unwrap_or_default() {
            let payload = record_payload(key, blob);
            file.write_all(&(payload.len() as u32).to_be_bytes()).map_err(io(&path))?;
            file.write_all(&payload).map_err(io(&path))?;
            root.add(key, &hashes.blob(blob));
        }
        file.flush().map_err(io(&path))?;
        let proof = format!("{start}-{}.proof", end - 1);
        std::fs::write(dir.join(&proof), [0u8]).map_err(io(&dir))?;
        let key = |i: usize| records.get(i).map(|(k, _)| hex(k)).unwrap_or_default();
        chunks.push(ChunkOut {
            first_idx: start as u64,
            last_idx: (end - 1) as u64,
            first_key: key(start),
            last_key: key(end - 1),
            blobs: format!("{folder}/{name}"),
            proof: format!("{folder}/{proof}"),
        });
        files.push(path);
        start = end;
    }
    let root = root.finish();
    std::fs::write(dir.join("state.proof"), b"no proof: written by the rehearsal's test writer").map_err(io(&dir))?;
    let manifest =
        ManifestOut { version: options.version, root_hash: hex(&root), chunks, proof: format!("{folder}/state.proof") };
    let manifest_path = dir.join("state.manifest");
    let json = serde_json::to_vec(&manifest).map_err(|e| StateError::Sink(e.to_string()))?;
    std::fs::write(&manifest_path, json).map_err(io(&manifest_path))?;
    let meta = top.join("metadata");
    std::fs::create_dir_all(&meta).map_err(io(&meta))?;
    let line = format!(
        "{{\"StateSnapshotBackup\":{{\"version\":{},\"manifest\":\"{folder}/state.manifest\"}}}}\n",
        options.version
    );
    let meta_file = meta.join(format!("state_snapshot_ver_{}.meta", options.version));
    std::fs::write(&meta_file, line).map_err(io(&meta_file))?;
    Ok(WrittenBackup { manifest: manifest_path, root, records: records.len() as u64, chunks: files })
}
