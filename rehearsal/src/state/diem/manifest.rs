//! A state snapshot's `state.manifest`: its version, root hash and chunks, the chunk files
//! resolved against the backup's top directory (the parent of the manifest's folder), and
//! where a manifest is found when `--state` names that top directory.

use super::hash::Hash;
use crate::state::jsonl::GZIP_MAGIC;
use crate::state::StateError;
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// What a manifest (or a metadata file) is to [`input_files`].
pub const MANIFEST_FILE: input_files::Kind = input_files::Kind::new("backup manifest", 256 << 20);
/// The manifest's file name.
pub const MANIFEST_NAME: &str = "state.manifest";

#[derive(Deserialize)]
struct ManifestJson {
    version: u64,
    root_hash: String,
    chunks: Vec<ChunkJson>,
    #[serde(default)]
    epoch: Option<u64>,
}

#[derive(Deserialize)]
struct ChunkJson {
    first_idx: u64,
    last_idx: u64,
    first_key: String,
    last_key: String,
    blobs: String,
}

/// One chunk the manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The manifest's handle of the chunk file.
    pub handle: String,
    /// The file.
    pub path: PathBuf,
    /// Indexes of its first and last record (inclusive) in the whole snapshot.
    pub first_idx: u64,
    pub last_idx: u64,
    pub first_key: Hash,
    pub last_key: Hash,
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub path: PathBuf,
    pub version: u64,
    pub root_hash: Hash,
    pub chunks: Vec<Chunk>,
}

/// Reads a small file, gunzipping it when it starts with the gzip magic (some backup setups
/// compress every file, manifests included, under the same name).
pub fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>, StateError> {
    read_maybe_gzipped_as(path, MANIFEST_FILE)
}

/// [`read_maybe_gzipped`] for a file of `kind`, whose limit bounds it packed and unpacked.
pub fn read_maybe_gzipped_as(path: &Path, kind: input_files::Kind) -> Result<Vec<u8>, StateError> {
    let bytes = input_files::read(path, kind)?;
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes.as_slice())
        .take(kind.max_bytes + 1)
        .read_to_end(&mut out)
        .map_err(|e| StateError::Manifest { path: path.to_path_buf(), reason: format!("gzip: {e}") })?;
    if out.len() as u64 > kind.max_bytes {
        return Err(StateError::Manifest {
            path: path.to_path_buf(),
            reason: format!("larger than {} bytes unpacked, the limit for a {}", kind.max_bytes, kind.what),
        });
    }
    Ok(out)
}

/// A 32-byte hash from hex (either case; a `0x` prefix is tolerated).
pub fn parse_hash(s: &str) -> Option<Hash> {
    let bytes = crate::state::jsonl::decode_hex(s).ok()?;
    Hash::try_from(bytes.as_slice()).ok()
}

/// A handle made safe to join: relative, without `..`.
fn safe_relative(handle: &str) -> Option<PathBuf> {
    let p = Path::new(handle);
    p.components().all(|c| matches!(c, Component::Normal(_))).then(|| p.to_path_buf())
}

impl Manifest {
    /// Reads and checks the manifest at `path`, resolving each chunk file: the handle against
    /// the backup's top directory (the parent of the manifest's folder), or, for a folder that
    /// was moved on its own, the handle's file name beside the manifest. A chunk file found in
    /// neither place is an error.
    pub fn load(path: &Path) -> Result<Manifest, StateError> {
        let bad = |reason: String| StateError::Manifest { path: path.to_path_buf(), reason };
        let bytes = read_maybe_gzipped(path)?;
        let json: ManifestJson = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("not a Diem-family state snapshot manifest: {e}")))?;
        if json.epoch.is_some() {
            return Err(StateError::Unsupported {
                path: path.to_path_buf(),
                reason:
                    "an Aptos-based (v6+) state snapshot manifest (it has an `epoch`): its chunks are of another format"
                        .into(),
            });
        }
        let root_hash = parse_hash(&json.root_hash)
            .ok_or_else(|| bad(format!("root_hash {:?} is not 64 hex digits", json.root_hash)))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let top = dir.parent().unwrap_or(Path::new("."));
        let mut chunks = Vec::with_capacity(json.chunks.len().min(1 << 16));
        let mut next_idx = 0u64;
        for (i, c) in json.chunks.into_iter().enumerate() {
            let key = |s: &str, what: &str| {
                parse_hash(s).ok_or_else(|| bad(format!("chunk {i}: {what} {s:?} is not 64 hex digits")))
            };
            let first_key = key(&c.first_key, "first_key")?;
            let last_key = key(&c.last_key, "last_key")?;
            if c.first_idx != next_idx || c.last_idx < c.first_idx {
                return Err(bad(format!(
                    "chunk {i} holds records {}..={}, the chunks before it end at {}",
                    c.first_idx,
                    c.last_idx,
                    next_idx.wrapping_sub(1)
                )));
            }
            next_idx = c.last_idx.saturating_add(1);
            let relative = safe_relative(&c.blobs).ok_or_else(|| {
                bad(format!("chunk {i}: handle {:?} is not a relative path inside the backup", c.blobs))
            })?;
            let beside = relative.file_name().map(|n| dir.join(n));
            let candidates: Vec<PathBuf> = std::iter::once(top.join(&relative)).chain(beside).collect();
            let Some(found) = candidates.iter().find(|p| p.is_file()) else {
                let reason = match std::fs::metadata(top.join(&relative)) {
                    Ok(m) if m.is_dir() => "it is a directory".to_owned(),
                    Ok(_) => "it is not a regular file".to_owned(),
                    Err(e) => e.to_string(),
                };
                return Err(StateError::MissingChunk {
                    manifest: path.to_path_buf(),
                    handle: c.blobs,
                    chunk: top.join(&relative),
                    reason,
                });
            };
            chunks.push(Chunk {
                handle: c.blobs.clone(),
                path: found.clone(),
                first_idx: c.first_idx,
                last_idx: c.last_idx,
                first_key,
                last_key,
            });
        }
        Ok(Manifest { path: path.to_path_buf(), version: json.version, root_hash, chunks })
    }
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "StateSnapshotBackup")]
    state: Option<MetaState>,
}

#[derive(Deserialize)]
struct MetaState {
    version: u64,
    manifest: String,
}

/// The version in a folder name `state_ver_<V>.<xxxx>`.
fn version_of_folder(name: &str) -> Option<u64> {
    name.strip_prefix("state_ver_")?.split('.').next()?.parse().ok()
}

/// The manifest `path` stands for: the file itself, `DIR/state.manifest`, the newest state
/// snapshot the backup's `metadata/` names, or the newest `state_ver_*` folder's manifest.
pub fn locate(path: &Path) -> Result<Option<PathBuf>, StateError> {
    let meta = std::fs::metadata(path).map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
    if meta.is_file() {
        return Ok(Some(path.to_path_buf()));
    }
    let direct = path.join(MANIFEST_NAME);
    if direct.is_file() {
        return Ok(Some(direct));
    }
    let mut best: Option<(u64, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir(path.join("metadata")) {
        for entry in entries.flatten() {
            let p = entry.path();
            let named = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("state_snapshot_ver_"));
            if !named || !p.is_file() {
                continue;
            }
            let Ok(bytes) = read_maybe_gzipped(&p) else { continue };
            let Ok(Meta { state: Some(s) }) = serde_json::from_slice::<Meta>(bytes.trim_ascii()) else { continue };
            let Some(relative) = safe_relative(&s.manifest) else { continue };
            let manifest = path.join(relative);
            if manifest.is_file() && best.as_ref().is_none_or(|(v, _)| s.version > *v) {
                best = Some((s.version, manifest));
            }
        }
    }
    if best.is_none() {
        let mut folders: Vec<(u64, PathBuf)> = std::fs::read_dir(path)
            .map_err(|source| StateError::Io { path: path.to_path_buf(), source })?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_str().map(str::to_owned)?;
                let manifest = e.path().join(MANIFEST_NAME);
                manifest.is_file().then(|| (version_of_folder(&name).unwrap_or(0), manifest))
            })
            .collect();
        folders.sort();
        best = folders.pop();
    }
    Ok(best.map(|(_, p)| p))
}
