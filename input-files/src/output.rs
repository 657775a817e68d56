//! Files the tools write: a new file, never written through a link.
//!
//! A directory a tool writes in (a devnet's data directory, a backups folder, the folder a
//! snapshot is exported to) may be shared, and a symbolic link planted there under the name of a
//! file the tool is about to write would redirect the write to any file its user may change.
//! Every file is therefore created with [`create_new`] (`O_CREAT | O_EXCL`: it fails if anything
//! is at the path, a dangling link included, and never follows one), and a file that replaces
//! another is written whole under a partial name and renamed over it ([`replace`]: a rename
//! replaces a link at the target, it never writes through it). The standard library offers no
//! `O_NOFOLLOW`; these two need none.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates `path` for writing: a new, empty file. Fails with [`io::ErrorKind::AlreadyExists`]
/// if anything is there, a symbolic link (dangling or not) included, which is never followed.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Replaces `path` with a file holding `bytes`, never writing through a link: written under
/// `partial` (its sibling; a leftover there is removed first, a link itself and never what it
/// points to), then renamed over `path`, so a reader finds the old file or the new one. Nothing
/// is synced (a node publishes its status view this way after every block): a file that must
/// survive a power loss is synced by its writer, and its directory with [`sync_dir`].
pub fn replace(path: &Path, partial: &Path, bytes: &[u8]) -> io::Result<()> {
    match fs::remove_file(partial) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let written = create_new(partial).and_then(|mut file| file.write_all(bytes));
    match written.and_then(|()| fs::rename(partial, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            // Ours only if we created it; a file planted after the removal refused the creation
            // and is left as it is.
            if e.kind() != io::ErrorKind::AlreadyExists {
                let _ = fs::remove_file(partial);
            }
            Err(e)
        }
    }
}

/// Copies the regular file `from` into the new file `to` ([`create_new`]: nothing at `to` is
/// replaced or followed), not synced. Returns the bytes copied.
pub fn copy_new(from: &Path, to: &Path) -> io::Result<u64> {
    let mut source = File::open(from)?;
    if !source.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a regular file", from.display())));
    }
    let mut target = create_new(to)?;
    io::copy(&mut source, &mut target)
}

/// Whether `dir` can be a directory to write in: absent (to be made), or a directory (a link to
/// one is the operator's choice). Anything else is named for what it is: `/dev/full` is "a
/// character device, not a directory", where creating it would say "File exists".
pub fn check_directory(dir: &Path) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(meta) => Err(format!("{}: is {}, not a directory", dir.display(), crate::describe(&meta.file_type()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::symlink_metadata(dir) {
            Ok(_) => Err(format!("{}: a symbolic link that leads nowhere, not a directory", dir.display())),
            Err(_) => Ok(()),
        },
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// Makes the entries of `dir` durable: a file just renamed or linked into it is still there
/// after a power loss, not only its bytes. On Unix; elsewhere a directory cannot be opened as a
/// file, and this does nothing.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_link_at_the_target_is_never_written_through() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"precious").unwrap();
        let (path, partial) = (dir.path().join("view"), dir.path().join("view.partial"));
        // A link where the partial file goes, and one where the file goes.
        symlink(&outside, &partial).unwrap();
        symlink(&outside, &path).unwrap();
        replace(&path, &partial, b"new").unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"precious");
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert!(fs::symlink_metadata(&partial).is_err(), "the partial name is renamed away");
        // A new file refuses any link, dangling or not.
        for target in [outside.clone(), dir.path().join("missing")] {
            let link = dir.path().join("link");
            let _ = fs::remove_file(&link);
            symlink(&target, &link).unwrap();
            assert_eq!(create_new(&link).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
            assert_eq!(copy_new(&path, &link).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        }
        assert!(!dir.path().join("missing").exists(), "a dangling link's target is not created");
        assert_eq!(fs::read(&outside).unwrap(), b"precious");
        let copy = dir.path().join("copy");
        assert_eq!(copy_new(&path, &copy).unwrap(), 3);
        assert_eq!(fs::read(&copy).unwrap(), b"new");
        sync_dir(dir.path()).unwrap();
    }

    #[test]
    fn a_directory_to_write_in_is_a_directory_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check_directory(dir.path()), Ok(()));
        assert_eq!(check_directory(&dir.path().join("new")), Ok(()));
        fs::write(dir.path().join("file"), b"").unwrap();
        let err = check_directory(&dir.path().join("file")).unwrap_err();
        assert!(err.ends_with("file: is a regular file, not a directory"), "{err}");
        #[cfg(unix)]
        {
            let err = check_directory(Path::new("/dev/full")).unwrap_err();
            assert_eq!(err, "/dev/full: is a character device, not a directory");
        }
    }
}
