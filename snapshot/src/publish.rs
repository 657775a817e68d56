//! Publishing a snapshot: written whole under a partial name beside its place, then moved
//! there without ever replacing a file, and the move made durable.

use crate::error::{io_error, SnapshotError};
use input_files::output;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// A snapshot being written, under its partial name `DIR/.NAME.partial` for `DIR/NAME`, locked
/// while this export writes it. Removed when dropped: after an error, or after the snapshot is
/// linked into place (renamed, there is nothing left to remove); the lock goes with it.
pub(crate) struct Partial {
    path: PathBuf,
    /// A second handle on the partial file, holding its lock until the file is in place and
    /// its partial name removed (the writer's handle is closed before that).
    _lock: File,
}

impl Partial {
    /// Creates the partial file of `path`, locked. Refuses if `path` exists, or if another
    /// export holds its partial file. A partial file nobody holds was left by an export that
    /// was killed: it is taken over, emptied. Anything else under that name (a directory, a
    /// link) is not ours and is left alone.
    pub(crate) fn create(path: &Path) -> Result<(Partial, File), SnapshotError> {
        let temp = partial_path(path)?;
        if exists(path)? {
            clear_published(&temp, path);
            return Err(SnapshotError::Exists(path.to_path_buf()));
        }
        match fs::symlink_metadata(&temp) {
            Ok(meta) if !meta.file_type().is_file() => return Err(SnapshotError::Exists(temp)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(SnapshotError::Io { path: temp, source }),
        }
        // A new partial file is created new (never through a link planted under its name); one
        // that is there (a regular file a moment ago) is opened without creating or truncating
        // anything, and written only once it is known to be the file that name holds (`names`
        // below: a link swapped in meanwhile is not). A missing or read-only directory is the
        // target's problem: named as the operator gave it.
        let file = match output::create_new(&temp) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new().write(true).open(&temp),
            created => created,
        }
        .map_err(io_error(path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(SnapshotError::InUse(temp)),
            Err(fs::TryLockError::Error(source)) => return Err(SnapshotError::Io { path: temp, source }),
        }
        // An export that has just finished removes its partial name while still holding the
        // lock: a file opened under that name just before is then locked here but named no
        // more, and is not ours to write.
        if !names(&temp, &file)? {
            return Err(SnapshotError::InUse(temp));
        }
        file.set_len(0).map_err(io_error(&temp))?;
        let lock = file.try_clone().map_err(io_error(&temp))?;
        Ok((Partial { path: temp, _lock: lock }, file))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the complete file to `path`, never replacing a file there, and makes the new
    /// directory entry durable.
    pub(crate) fn publish(self, path: &Path) -> Result<(), SnapshotError> {
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

/// Removes `temp`, the partial name of `path`, if it is left by an export killed between
/// linking the file into place and removing that name: the same file as `path`, held by no
/// export. Anything else is left as it is.
fn clear_published(temp: &Path, path: &Path) {
    let Ok(file) = File::open(temp) else { return };
    let same = fs::File::open(path).is_ok_and(|published| same_file(&file, &published));
    if same && file.try_lock().is_ok() && names(temp, &file).unwrap_or(false) {
        let _ = fs::remove_file(temp);
    }
}

#[cfg(unix)]
fn same_file(a: &File, b: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_a: &File, _b: &File) -> bool {
    false
}

/// Whether `path` names the open `file`.
#[cfg(unix)]
fn names(path: &Path, file: &File) -> Result<bool, SnapshotError> {
    use std::os::unix::fs::MetadataExt;
    let open = file.metadata().map_err(io_error(path))?;
    match fs::symlink_metadata(path) {
        Ok(named) => Ok((named.dev(), named.ino()) == (open.dev(), open.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(SnapshotError::Io { path: path.to_path_buf(), source }),
    }
}

#[cfg(not(unix))]
fn names(_path: &Path, _file: &File) -> Result<bool, SnapshotError> {
    Ok(true)
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
    output::sync_dir(parent).map_err(io_error(parent))
}
