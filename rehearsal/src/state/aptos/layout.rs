//! Where an Aptos-based backup's files are: its top directory holds `metadata/` and one folder
//! per state snapshot, `state_epoch_<E>_ver_<V>.<suffix>/`, each with `state.manifest`, the
//! chunk files (`0-.chunk`, ...), a range proof per chunk and `state.proof`. The manifest names
//! files by handles relative to the top directory.
//!
//! Archives often gzip every file, under the same name or with a `.gz` suffix: a handle is
//! looked for as it is and with `.gz`, then (for a snapshot folder moved on its own) by its file
//! name beside the manifest; whether a file is gzipped is read off its magic bytes, never its
//! name. Whatever is found must be a regular file that stays inside the top directory once
//! symbolic links are followed: a link out of the backup is refused, never read.

use super::limits::MAX_VERSIONS_LISTED;
use super::manifest::{safe_relative, Manifest};
use crate::state::diem::manifest::{read_maybe_gzipped, MANIFEST_NAME};
use crate::state::StateError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The suffix archives add to gzipped files.
const GZ: &str = ".gz";
/// The prefix of a state snapshot's folder.
const FOLDER_PREFIX: &str = "state_epoch_";

/// Where a backup is, once its manifest is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The backup's top directory, as given.
    pub top: PathBuf,
    /// The same with every symbolic link followed: every file read must be under it.
    canonical_top: PathBuf,
    /// The manifest file (maybe `state.manifest.gz`).
    pub manifest: PathBuf,
}

/// A non-empty path's parent, `.` for a bare name.
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.to_path_buf(), source }
}

/// The manifest in folder `dir`, plain or with `.gz`.
fn manifest_in(dir: &Path) -> Option<PathBuf> {
    [MANIFEST_NAME.to_owned(), format!("{MANIFEST_NAME}{GZ}")].into_iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// `(epoch, version)` of a folder named `state_epoch_<E>_ver_<V>[.suffix]`.
pub fn folder_version(name: &str) -> Option<(u64, u64)> {
    let rest = name.strip_prefix(FOLDER_PREFIX)?;
    let rest = rest.split('.').next()?;
    let (epoch, version) = rest.split_once("_ver_")?;
    Some((epoch.parse().ok()?, version.parse().ok()?))
}

/// Snapshot folders under `top` that hold a manifest: `(version, epoch, manifest)`, sorted.
fn snapshot_folders(top: &Path) -> Result<Vec<(u64, u64, PathBuf)>, StateError> {
    let mut found: Vec<(u64, u64, PathBuf)> = std::fs::read_dir(top)
        .map_err(io(top))?
        .flatten()
        .filter_map(|e| {
            let (epoch, version) = folder_version(e.file_name().to_str()?)?;
            Some((version, epoch, manifest_in(&e.path())?))
        })
        .collect();
    found.sort();
    Ok(found)
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "StateSnapshotBackup")]
    state: Option<MetaState>,
}

/// An Aptos-based snapshot's metadata line (a Diem-era one has no `epoch`).
#[derive(Deserialize)]
struct MetaState {
    #[serde(rename = "epoch")]
    _epoch: u64,
    version: u64,
    manifest: String,
}

/// Snapshots the backup's `metadata/` files name: `(version, manifest)`.
fn metadata_snapshots(top: &Path) -> Vec<(u64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(top.join("metadata")) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let p = entry.path();
        let Ok(bytes) = read_maybe_gzipped(&p) else { continue };
        for line in bytes.split(|b| *b == b'\n') {
            let Ok(Meta { state: Some(s) }) = serde_json::from_slice::<Meta>(line.trim_ascii()) else { continue };
            let Some(relative) = safe_relative(&s.manifest) else { continue };
            let manifest = top.join(relative);
            if let Some(m) = [manifest.clone(), PathBuf::from(format!("{}{GZ}", manifest.display()))]
                .into_iter()
                .find(|m| m.is_file())
            {
                out.push((s.version, m));
            }
        }
    }
    out.sort();
    out
}

impl Layout {
    /// The backup `path` names: a manifest file, a snapshot folder, or the top directory (the
    /// newest snapshot, or the one at `version`).
    pub fn locate(path: &Path, version: Option<u64>) -> Result<Layout, StateError> {
        let meta = std::fs::metadata(path).map_err(io(path))?;
        let (top, manifest) = if meta.is_file() {
            (parent(parent(path)).to_path_buf(), path.to_path_buf())
        } else if let Some(m) = manifest_in(path) {
            (parent(path).to_path_buf(), m)
        } else {
            let folders = snapshot_folders(path)?;
            let chosen = match version {
                Some(v) => folders.iter().rev().find(|(fv, _, _)| *fv == v).map(|(_, _, m)| m.clone()),
                None => folders.last().map(|(_, _, m)| m.clone()),
            };
            let chosen = chosen.or_else(|| {
                let named = metadata_snapshots(path);
                match version {
                    Some(v) => named.into_iter().rev().find(|(nv, _)| *nv == v).map(|(_, m)| m),
                    None => named.into_iter().next_back().map(|(_, m)| m),
                }
            });
            let Some(m) = chosen else {
                let reason = match (version, folders.is_empty()) {
                    (_, true) => format!(
                        "no state snapshot here: no {FOLDER_PREFIX}<E>_ver_<V> folder with a {MANIFEST_NAME}, and no metadata/ file naming one"
                    ),
                    (Some(v), false) => {
                        let listed: Vec<String> =
                            folders.iter().rev().take(MAX_VERSIONS_LISTED).map(|(v, _, _)| v.to_string()).collect();
                        format!("no state snapshot at version {v}; the backup holds versions {} (newest first)", listed.join(", "))
                    }
                    (None, false) => "no state snapshot found".into(),
                };
                return Err(StateError::Unsupported { path: path.to_path_buf(), reason });
            };
            (path.to_path_buf(), m)
        };
        let canonical_top = std::fs::canonicalize(&top).map_err(io(&top))?;
        let layout = Layout { top, canonical_top, manifest };
        layout.inside(&layout.manifest, "the manifest")?;
        Ok(layout)
    }

    /// Checks that `file` is a regular file inside the backup once links are followed.
    fn inside(&self, file: &Path, what: &str) -> Result<(), StateError> {
        let real = std::fs::canonicalize(file).map_err(io(file))?;
        if !real.starts_with(&self.canonical_top) {
            return Err(StateError::Unsupported {
                path: file.to_path_buf(),
                reason: format!(
                    "{what} is a symbolic link that leads out of the backup (to {}, outside {}): refused",
                    real.display(),
                    self.canonical_top.display()
                ),
            });
        }
        if !real.is_file() {
            return Err(StateError::Unsupported {
                path: file.to_path_buf(),
                reason: format!("{what} is not a regular file"),
            });
        }
        Ok(())
    }

    /// The file a manifest handle names. `Ok(None)` when no candidate exists (the caller decides
    /// whether a missing file is an error); an error when one exists but leads out of the
    /// backup or is not a regular file.
    pub fn resolve(&self, handle: &str, what: &str) -> Result<Option<PathBuf>, StateError> {
        let Some(relative) = safe_relative(handle) else {
            return Err(StateError::Manifest {
                path: self.manifest.clone(),
                reason: format!("{what} {handle:?} is not a relative path inside the backup"),
            });
        };
        let direct = self.top.join(relative);
        let beside = relative.file_name().map(|n| parent(&self.manifest).join(n));
        let candidates = [Some(direct.clone()), Some(with_gz(&direct)), beside.clone(), beside.as_deref().map(with_gz)];
        for candidate in candidates.into_iter().flatten() {
            if std::fs::symlink_metadata(&candidate).is_ok() {
                self.inside(&candidate, &format!("{what} `{handle}`"))?;
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    /// What [`Layout::resolve`] tried first, for a message about a missing file.
    pub fn expected(&self, handle: &str) -> PathBuf {
        safe_relative(handle).map_or_else(|| self.top.join(handle), |r| self.top.join(r))
    }

    /// Reads the manifest.
    pub fn read_manifest(&self) -> Result<Manifest, StateError> {
        Manifest::parse(&read_maybe_gzipped(&self.manifest)?, &self.manifest)
    }
}

fn with_gz(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(GZ);
    PathBuf::from(s)
}

/// Whether `path` looks like an Aptos-based backup: a manifest with an `epoch`, a folder holding
/// one, or a top directory with a snapshot folder or metadata naming one.
pub fn looks_like_aptos(path: &Path) -> bool {
    let is_aptos_manifest = |p: &Path| read_maybe_gzipped(p).is_ok_and(|b| Manifest::is_aptos_bytes(&b));
    if path.is_file() {
        return is_aptos_manifest(path);
    }
    if let Some(m) = manifest_in(path) {
        return is_aptos_manifest(&m);
    }
    snapshot_folders(path).is_ok_and(|f| !f.is_empty()) || !metadata_snapshots(path).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_give_their_epoch_and_version() {
        assert_eq!(folder_version("state_epoch_116_ver_38180075.05af"), Some((116, 38_180_075)));
        assert_eq!(folder_version("state_epoch_0_ver_0"), Some((0, 0)));
        for bad in ["state_ver_5.ab", "state_epoch_x_ver_5", "state_epoch_1_ver_", "epoch_1_ver_2"] {
            assert_eq!(folder_version(bad), None, "{bad}");
        }
        assert_eq!(parent(Path::new("state.manifest")), Path::new("."));
        assert_eq!(with_gz(Path::new("a/0-.chunk")), PathBuf::from("a/0-.chunk.gz"));
    }
}
