//! The rehearsal's scratch directory (a sorted copy of the source, the runs its writes spill
//! to): removed when the run ends on any path that returns or unwinds, and, when the process
//! is killed, by the next run that uses the same place.
//!
//! Each scratch directory holds a lock file locked for as long as its run lives; the operating
//! system releases the lock when the process ends however it ends. A run first sweeps its
//! place for scratch directories of its own kind whose lock it can take: their run is gone,
//! and they are removed. A directory whose lock is held belongs to a run under way and is left
//! alone; so is anything that is not a directory of ours (a link, another user's, no lock file).
//! A run killed in the moment between making its directory and its lock file leaves an empty
//! directory that no sweep claims: it cannot be told from a run starting at that moment.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// The lock file inside each scratch directory.
pub const LOCK_FILE: &str = "rehearsal.lock";

/// A scratch directory, locked while it lives and removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
    /// Held for the run's life: dropping it (or the process ending) releases the lock.
    _lock: File,
}

impl Scratch {
    /// A new scratch directory in `place` named `prefix…`, after removing the leftovers of
    /// killed runs there. Returns it and how many leftovers were removed.
    pub fn new(place: &Path, prefix: &str) -> io::Result<(Scratch, usize)> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(place)?;
        let lock = File::create_new(dir.path().join(LOCK_FILE))?;
        lock.try_lock().map_err(|e| match e {
            TryLockError::Error(e) => e,
            TryLockError::WouldBlock => io::Error::other("a new scratch directory's lock is held"),
        })?;
        // Ours is locked, so the sweep leaves it; its owner is the user leftovers must have.
        let ours = fs::symlink_metadata(dir.path())?;
        let swept = sweep(place, prefix, &ours);
        Ok((Scratch { dir, _lock: lock }, swept))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Removes the scratch directories named `prefix…` in `place` whose run is gone and whose owner
/// is `ours`'s; returns how many. Anything it cannot read or remove is left as it is (the run
/// goes on: a leftover costs disk space, not correctness).
fn sweep(place: &Path, prefix: &str, ours: &fs::Metadata) -> usize {
    let Ok(entries) = fs::read_dir(place) else { return 0 };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(|n| n.starts_with(prefix)) {
            continue;
        }
        let path = entry.path();
        if is_leftover(&path, ours) && fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether `path` is a scratch directory of ours (a real directory, of the same owner as
/// `ours`, holding a lock file that is a regular file) whose lock nobody holds.
fn is_leftover(path: &Path, ours: &fs::Metadata) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else { return false };
    if !meta.is_dir() || !same_owner(&meta, ours) {
        return false;
    }
    let lock_path: PathBuf = path.join(LOCK_FILE);
    match fs::symlink_metadata(&lock_path) {
        Ok(m) if m.is_file() => {}
        _ => return false,
    }
    let Ok(lock) = File::open(&lock_path) else { return false };
    // Taken: the run that made it is gone (the lock is dropped with `lock` at once).
    lock.try_lock().is_ok()
}

#[cfg(unix)]
fn same_owner(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.uid() == b.uid()
}

#[cfg(not(unix))]
fn same_owner(_: &fs::Metadata, _: &fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_runs_leftover_is_removed_and_a_live_runs_is_kept() {
        let place = tempfile::tempdir().unwrap();
        // A live run's scratch: its lock is held by `live`.
        let (live, swept) = Scratch::new(place.path(), "rehearsal-").unwrap();
        assert_eq!(swept, 0);
        // A killed run's: the directory and its lock file, the lock released.
        let dead = place.path().join("rehearsal-dead");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join(LOCK_FILE), b"").unwrap();
        fs::write(dead.join("runs-0"), vec![0u8; 4096]).unwrap();
        // Not ours to remove: no lock file, another prefix, a link.
        let foreign = place.path().join("rehearsal-foreign");
        fs::create_dir(&foreign).unwrap();
        let other = place.path().join("other-dead");
        fs::create_dir(&other).unwrap();
        fs::write(other.join(LOCK_FILE), b"").unwrap();

        let (next, swept) = Scratch::new(place.path(), "rehearsal-").unwrap();
        assert_eq!(swept, 1);
        assert!(!dead.exists());
        assert!(live.path().exists() && foreign.exists() && other.exists() && next.path().exists());

        let (live_path, next_path) = (live.path().to_path_buf(), next.path().to_path_buf());
        drop(live);
        drop(next);
        assert!(!live_path.exists() && !next_path.exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_named_like_a_scratch_directory_is_not_followed() {
        let place = tempfile::tempdir().unwrap();
        let target = tempfile::tempdir().unwrap();
        fs::write(target.path().join(LOCK_FILE), b"").unwrap();
        fs::write(target.path().join("precious"), b"keep").unwrap();
        std::os::unix::fs::symlink(target.path(), place.path().join("rehearsal-link")).unwrap();
        let (_scratch, swept) = Scratch::new(place.path(), "rehearsal-").unwrap();
        assert_eq!(swept, 0);
        assert!(target.path().join("precious").exists());
    }
}
