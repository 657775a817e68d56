//! Publishing a snapshot: written whole under a partial name beside its place, then moved
//! there without ever replacing a file, and the move made durable.

use super::error::{io_error, SnapshotError};
use crate::durable;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// A snapshot being written, under its partial name `DIR/.NAME.partial` for `DIR/NAME`.
/// Removed when dropped: after an error, or after the snapshot is linked into place (renamed,
/// there is nothing left to remove).
pub(super) struct Partial {
    path: PathBuf,
}

impl Partial {
    /// Creates the partial file of `path`. Refuses if `path` exists, or its partial file (what
    /// another export is writing, or a stale one: it is not clobbered either).
    pub(super) fn create(path: &Path) -> Result<(Partial, File), SnapshotError> {
        if exists(path)? {
            return Err(SnapshotError::Exists(path.to_path_buf()));
        }
        let temp = partial_path(path)?;
        let file = match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(SnapshotError::Exists(temp)),
            Err(source) => return Err(SnapshotError::Io { path: temp, source }),
        };
        Ok((Partial { path: temp }, file))
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the complete file to `path`, never replacing a file there, and makes the new
    /// directory entry durable.
    pub(super) fn publish(self, path: &Path) -> Result<(), SnapshotError> {
        move_into_place(&self.path, path)?;
        sync_parent(path)
    }
}

impl Drop for Partial {
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
fn move_into_place(temp: &Path, path: &Path) -> Result<(), SnapshotError> {
    match fs::hard_link(temp, path) {
        // The caller's `Partial` removes the temporary name.
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

/// Makes the new directory entry `path` durable.
fn sync_parent(path: &Path) -> Result<(), SnapshotError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    durable::sync_dir(parent).map_err(io_error(parent))
}
