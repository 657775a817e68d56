//! The data directory: one process writes it at a time, and what a killed command left in it is
//! recognised and cleared by the next one.
//!
//! Every command that writes a chain (`run`, `upgrade`, `snapshot import`, and `snapshot
//! export`, which holds the store) first takes [`DataDir::lock`]: an exclusive lock on the
//! directory itself, taken before anything is written there, held until the command ends and
//! released by the kernel however the process ends. A second process gets a clear "in use"
//! (bad input, exit 2) instead of racing the first through genesis. `status` takes no lock: it
//! only reads. The lock is on the directory, not on a file in it, so a refused command leaves
//! nothing behind (redb's own lock on `state.redb` is another one, taken when the store opens).
//!
//! Holding the lock, a command knows that nothing else uses the directory, so whatever
//! temporaries it finds were left by a killed command: [`DataDir::clear_leftovers`] removes them
//! (the staging directory of a creation or an import, the store a rollback was restoring, a dry
//! run's copy, the partial file of a backup, the status view of a node: `crate::view`).

use crate::error::DevnetError;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// Where a new chain (a genesis or an import) is built, inside the data directory: its store
/// is renamed into place once whole.
pub const STAGING: &str = ".staging";
/// Where a rollback imports the backup before renaming it over the store.
pub const RESTORE: &str = ".restore";
/// Where a dry run works on its copy of the store.
pub const DRY_RUN: &str = ".dry-run";
/// Where the runbook keeps its backups (its partial files are leftovers too).
pub const BACKUP_DIR: &str = "backups";
/// The view a running node publishes for `status` (see `crate::view`), and where it is
/// written before it is renamed into place.
pub const VIEW_FILE: &str = ".status-view.json";
pub const VIEW_PARTIAL: &str = ".status-view.json.partial";

/// A data directory this process holds: nothing else writes it until this is dropped.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    /// Whether this process made the directory: a command that fails before a chain is in
    /// place removes it again (if it is empty), so that a refused command leaves nothing.
    created: bool,
    /// Holds the lock while open (`None` where directories cannot be locked: not on Unix).
    _lock: Option<File>,
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.created {
            // Fails, as it should, unless the directory is empty.
            let _ = fs::remove_dir(&self.path);
        }
    }
}

fn in_use(dir: &Path) -> DevnetError {
    DevnetError::bad_input(format!(
        "{}: in use by another devnet process (a run, an upgrade, a snapshot import or export); try again once it \
         has finished",
        dir.display()
    ))
}

impl DataDir {
    /// Takes `dir` for this process; creates it (and its parents) first if `create` and it is
    /// absent, else it must exist. Fails with "in use" if another process holds it.
    pub fn lock(dir: &Path, create: bool) -> Result<DataDir, DevnetError> {
        let existed = match fs::symlink_metadata(dir) {
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(DevnetError::io(dir, e)),
        };
        if !existed {
            if !create {
                return Err(DevnetError::bad_input(format!("{}: no such data directory", dir.display())));
            }
            fs::create_dir_all(dir).map_err(|e| DevnetError::io(dir, e))?;
        }
        if !dir.is_dir() {
            return Err(DevnetError::bad_input(format!("{}: exists and is not a directory", dir.display())));
        }
        let lock = lock_directory(dir)?;
        Ok(DataDir { path: dir.to_path_buf(), created: !existed, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes what a killed command left (see the module's documentation). Only the holder of
    /// the lock may: anything else would remove what a running command is writing.
    pub fn clear_leftovers(&self) -> Result<(), DevnetError> {
        for name in [STAGING, RESTORE, DRY_RUN, VIEW_FILE, VIEW_PARTIAL] {
            remove_any(&self.path.join(name))?;
        }
        let backups = self.path.join(BACKUP_DIR);
        if backups.is_dir() {
            for entry in fs::read_dir(&backups).map_err(|e| DevnetError::io(&backups, e))? {
                let entry = entry.map_err(|e| DevnetError::io(&backups, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.ends_with(".partial") {
                    remove_any(&entry.path())?;
                }
            }
        }
        Ok(())
    }
}

/// A directory inside the data directory for a command's own use (a dry run's copy), removed
/// when dropped; if the process is killed, the next command that takes the directory removes it.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Makes `data/name` afresh.
    pub fn new(data: &DataDir, name: &str) -> Result<Scratch, DevnetError> {
        let path = data.path.join(name);
        remove_any(&path)?;
        fs::create_dir(&path).map_err(|e| DevnetError::io(&path, e))?;
        Ok(Scratch { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = remove_any(&self.path);
    }
}

/// Removes `path`, a directory with its contents or a file, if it exists.
pub(crate) fn remove_any(path: &Path) -> Result<(), DevnetError> {
    let removed = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    removed.map_err(|e| DevnetError::io(path, e))
}

/// Locks the directory `dir` exclusively, without waiting.
#[cfg(unix)]
fn lock_directory(dir: &Path) -> Result<Option<File>, DevnetError> {
    use std::os::unix::fs::MetadataExt;
    let file = File::open(dir).map_err(|e| DevnetError::io(dir, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Err(in_use(dir)),
        Err(fs::TryLockError::Error(e)) => return Err(DevnetError::io(dir, e)),
    }
    // A creation that failed removes the directory it made; if another made it again between
    // the open and the lock, the lock is on a directory the path no longer names.
    let locked = file.metadata().map_err(|e| DevnetError::io(dir, e))?;
    let named = fs::metadata(dir).map_err(|e| DevnetError::io(dir, e))?;
    if (locked.dev(), locked.ino()) != (named.dev(), named.ino()) {
        return Err(in_use(dir));
    }
    Ok(Some(file))
}

/// Elsewhere a directory cannot be opened as a file: no lock (redb's lock on the store remains).
#[cfg(not(unix))]
fn lock_directory(_dir: &Path) -> Result<Option<File>, DevnetError> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_a_made_directory_goes_if_nothing_was_put_in_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        assert!(DataDir::lock(&dir, false).unwrap_err().to_string().contains("no such data directory"));
        let held = DataDir::lock(&dir, true).unwrap();
        if cfg!(unix) {
            let e = DataDir::lock(&dir, true).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("in use by another devnet process"), "{e}");
        }
        drop(held);
        assert!(!dir.exists(), "made, and nothing put in it");
        let held = DataDir::lock(&dir, true).unwrap();
        fs::create_dir_all(held.path().join(STAGING).join("x")).unwrap();
        fs::create_dir_all(held.path().join(BACKUP_DIR)).unwrap();
        fs::write(held.path().join(BACKUP_DIR).join(".h1-v1.snapshot.partial"), b"half").unwrap();
        fs::write(held.path().join(BACKUP_DIR).join("h1-v1.snapshot"), b"whole").unwrap();
        fs::write(held.path().join(DRY_RUN), b"a file where a directory was").unwrap();
        held.clear_leftovers().unwrap();
        assert_eq!(fs::read_dir(held.path()).unwrap().count(), 1, "only the backups are left");
        assert_eq!(fs::read_dir(held.path().join(BACKUP_DIR)).unwrap().count(), 1);
        drop(held);
        assert!(dir.exists(), "not empty: kept");
        // A directory that was there before is never removed.
        let empty = tmp.path().join("empty");
        fs::create_dir(&empty).unwrap();
        drop(DataDir::lock(&empty, true).unwrap());
        assert!(empty.is_dir());
        fs::write(tmp.path().join("file"), b"").unwrap();
        assert!(DataDir::lock(&tmp.path().join("file"), true).unwrap_err().to_string().contains("not a directory"));
    }
}
