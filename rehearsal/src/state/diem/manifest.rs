//! A state snapshot's `state.manifest`: its version, root hash and chunks, the chunk files
//! resolved against the backup's top directory (the parent of the manifest's folder), and
//! where a manifest is found when `--state` names that top directory.
//!
//! A backup is untrusted: a file in it may be a symbolic link to anywhere (`/etc/passwd` as a
//! chunk). A link is followed only to a regular file inside the folder the backup was given as
//! ([`inside`]); any other is refused with a one-line reason, and nothing is read through it.

use super::hash::Hash;
use crate::state::lines::{shown, GZIP_MAGIC};
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

/// Whether `path` (in the backup whose canonical top directory is `root`) can be read: `Some`
/// if it is a regular file inside `root`, symbolic links (of it or of a folder on the way)
/// resolved; `None` if nothing is there; why not otherwise (a link out of the backup, a
/// directory, a FIFO), never quoting what a link leads to.
pub fn inside(root: &Path, path: &Path) -> Result<Option<PathBuf>, String> {
    use std::io::ErrorKind::{NotADirectory, NotFound};
    let link = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta.file_type().is_symlink(),
        Err(e) if matches!(e.kind(), NotFound | NotADirectory) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let target = std::fs::canonicalize(path).map_err(|_| "it is a symbolic link that leads nowhere".to_owned())?;
    if !target.starts_with(root) {
        return Err("it leads outside the backup through a symbolic link: not followed".to_owned());
    }
    let kind = std::fs::metadata(&target).map_err(|e| e.to_string())?.file_type();
    match (kind.is_file(), link) {
        (true, _) => Ok(Some(path.to_path_buf())),
        (false, true) => Err("it is a symbolic link to something other than a regular file".to_owned()),
        (false, false) => Err(format!("it is {}, not a regular file", input_files::describe(&kind))),
    }
}

/// The canonical form of the backup folder `dir`, which links inside it may lead into.
fn root_of(dir: &Path) -> Result<PathBuf, StateError> {
    std::fs::canonicalize(dir).map_err(|source| StateError::Io { path: dir.to_path_buf(), source })
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
            .ok_or_else(|| bad(format!("root_hash `{}` is not 64 hex digits", shown(&json.root_hash))))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let top = match dir.parent() {
            Some(t) if !t.as_os_str().is_empty() => t,
            _ => Path::new("."),
        };
        let root = root_of(top)?;
        let mut chunks = Vec::with_capacity(json.chunks.len().min(1 << 16));
        let mut next_idx = 0u64;
        for (i, c) in json.chunks.into_iter().enumerate() {
            let key = |s: &str, what: &str| {
                parse_hash(s).ok_or_else(|| bad(format!("chunk {i}: {what} `{}` is not 64 hex digits", shown(s))))
            };
            let first_key = key(&c.first_key, "first_key")?;
            let last_key = key(&c.last_key, "last_key")?;
            if c.first_idx != next_idx || c.last_idx < c.first_idx {
                let before = match next_idx.checked_sub(1) {
                    Some(last) => format!("the chunks before it end at record {last}"),
                    None => "the first chunk starts at record 0".to_owned(),
                };
                return Err(bad(format!("chunk {i} holds records {}..={}: {before}", c.first_idx, c.last_idx)));
            }
            next_idx = c.last_idx.saturating_add(1);
            let relative = safe_relative(&c.blobs).ok_or_else(|| {
                bad(format!("chunk {i}: handle `{}` is not a relative path inside the backup", shown(&c.blobs)))
            })?;
            let beside = relative.file_name().map(|n| dir.join(n));
            let missing = |chunk: PathBuf, reason: String| StateError::MissingChunk {
                manifest: path.to_path_buf(),
                handle: c.blobs.clone(),
                chunk,
                reason,
            };
            let mut found = None;
            for candidate in std::iter::once(top.join(&relative)).chain(beside) {
                match inside(&root, &candidate) {
                    Ok(Some(file)) => {
                        found = Some(file);
                        break;
                    }
                    Ok(None) => {}
                    Err(reason) => return Err(missing(candidate, reason)),
                }
            }
            let Some(found) = found else {
                return Err(missing(top.join(&relative), "no such file".to_owned()));
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
/// snapshot the backup's `metadata/` names, or the newest `state_ver_*` folder's manifest. Inside
/// the folder, a link is followed only to a file inside it ([`inside`]).
pub fn locate(path: &Path) -> Result<Option<PathBuf>, StateError> {
    let meta = std::fs::metadata(path).map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
    if meta.is_file() {
        return Ok(Some(path.to_path_buf()));
    }
    let root = root_of(path)?;
    let refused = |file: &Path, reason: String| StateError::Manifest { path: file.to_path_buf(), reason };
    let within = |file: &Path| inside(&root, file).map_err(|reason| refused(file, reason));
    let direct = path.join(MANIFEST_NAME);
    if let Some(direct) = within(&direct)? {
        return Ok(Some(direct));
    }
    let mut best: Option<(u64, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir(path.join("metadata")) {
        for entry in entries.flatten() {
            let p = entry.path();
            let named = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("state_snapshot_ver_"));
            if !named {
                continue;
            }
            let Some(p) = within(&p)? else { continue };
            let Ok(bytes) = read_maybe_gzipped(&p) else { continue };
            let Ok(Meta { state: Some(s) }) = serde_json::from_slice::<Meta>(bytes.trim_ascii()) else { continue };
            let Some(relative) = safe_relative(&s.manifest) else { continue };
            let Some(manifest) = within(&path.join(relative))? else { continue };
            if best.as_ref().is_none_or(|(v, _)| s.version > *v) {
                best = Some((s.version, manifest));
            }
        }
    }
    if best.is_none() {
        let mut folders: Vec<(u64, PathBuf)> = Vec::new();
        for e in
            std::fs::read_dir(path).map_err(|source| StateError::Io { path: path.to_path_buf(), source })?.flatten()
        {
            let Some(name) = e.file_name().to_str().map(str::to_owned) else { continue };
            if let Some(manifest) = within(&e.path().join(MANIFEST_NAME))? {
                folders.push((version_of_folder(&name).unwrap_or(0), manifest));
            }
        }
        folders.sort();
        best = folders.pop();
    }
    Ok(best.map(|(_, p)| p))
}
