//! Durability on disk: a file renamed or linked into a directory survives a power loss only
//! once the directory's entries are synced too, not only the file's bytes.

use std::fs::File;
use std::io;
use std::path::Path;

/// Makes the entries of `dir` durable: a file just renamed or linked into it is still there
/// after a power loss. On Unix; elsewhere a directory cannot be opened as a file, and this
/// does nothing.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}
