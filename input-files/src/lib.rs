//! One bounded reader for every file the tools take.
//!
//! A path from a command line or a configuration is untrusted: it may name `/dev/zero`, a FIFO
//! that never ends, a directory, or a file of gigabytes where a few kilobytes are expected. Each
//! kind of input therefore has a [`Kind`] with a size limit, and every read goes through
//! [`read`], [`read_to_string`] or [`open`], which refuse anything but a regular file (unless
//! the caller's user asked for special files with [`Kind::allowing_special_files`]) and never
//! read more than the limit plus one byte. The error names the file and says what it was.
//!
//! What the tools write goes through [`output`]: a new file, never written through a link.

pub mod output;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A kind of input file and its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// What the file is, for messages: "registry", "snapshot", ...
    pub what: &'static str,
    /// Largest size read, in bytes.
    pub max_bytes: u64,
    /// Whether FIFOs and character devices may be read (up to the limit).
    pub special_files: bool,
}

impl Kind {
    /// A kind of regular files of at most `max_bytes`.
    pub const fn new(what: &'static str, max_bytes: u64) -> Kind {
        Kind { what, max_bytes, special_files: false }
    }

    /// The same kind, also reading FIFOs and character devices (process substitution,
    /// `/dev/stdin`), still within the limit.
    pub const fn allowing_special_files(self) -> Kind {
        Kind { special_files: true, ..self }
    }
}

/// Why an input file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: is {found}, not a regular file ({what} files must be regular files)", .path.display())]
    NotRegular { path: PathBuf, what: &'static str, found: &'static str },
    #[error("{}: larger than the {max}-byte limit for a {what} file", .path.display())]
    TooLarge { path: PathBuf, what: &'static str, max: u64 },
    #[error("{}: not UTF-8 text (a {what} file is text)", .path.display())]
    NotText { path: PathBuf, what: &'static str },
}

impl InputError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            InputError::Io { path, .. }
            | InputError::NotRegular { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::NotText { path, .. } => path,
        }
    }
}

fn file_type_name(meta: &std::fs::Metadata) -> &'static str {
    describe(&meta.file_type())
}

/// What a file of type `t` is, for messages: "a directory", "a FIFO", "a symbolic link", ...
pub fn describe(t: &std::fs::FileType) -> &'static str {
    if t.is_file() {
        return "a regular file";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// Whether an I/O error is about a path as the operator gave it (missing, not permitted, the
/// wrong kind of file) rather than about the machine (a full disk, a failing device): the first
/// is bad input (exit 2 in the command-line tools), the second is not.
pub fn is_bad_path(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        NotFound
            | PermissionDenied
            | AlreadyExists
            | IsADirectory
            | NotADirectory
            | ReadOnlyFilesystem
            | InvalidFilename
    )
}

/// Opens `path` for reading as `kind`: a regular file within the limit (its size is known up
/// front), or, when the kind allows it, a FIFO or character device (whose size is not). Returns
/// the file and a reader that stops one byte past the limit, so a caller that streams notices an
/// oversize input as [`InputError::TooLarge`] from [`check_end`].
pub fn open(path: &Path, kind: Kind) -> Result<(File, Option<u64>), InputError> {
    let io = |source| InputError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    let size = if meta.is_file() {
        if meta.len() > kind.max_bytes {
            return Err(InputError::TooLarge { path: path.to_path_buf(), what: kind.what, max: kind.max_bytes });
        }
        Some(meta.len())
    } else {
        let found = file_type_name(&meta);
        let special = found == "a FIFO" || found == "a character device";
        if !(kind.special_files && special) {
            return Err(InputError::NotRegular { path: path.to_path_buf(), what: kind.what, found });
        }
        None
    };
    Ok((File::open(path).map_err(io)?, size))
}

/// Reads the whole of `path` as `kind`.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, InputError> {
    let (file, size) = open(path, kind)?;
    let mut out = Vec::with_capacity(usize::try_from(size.unwrap_or(0)).unwrap_or(0));
    file.take(kind.max_bytes.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| InputError::Io { path: path.to_path_buf(), source })?;
    if out.len() as u64 > kind.max_bytes {
        return Err(InputError::TooLarge { path: path.to_path_buf(), what: kind.what, max: kind.max_bytes });
    }
    Ok(out)
}

/// Reads the whole of `path` as `kind`, as UTF-8 text.
pub fn read_to_string(path: &Path, kind: Kind) -> Result<String, InputError> {
    String::from_utf8(read(path, kind)?).map_err(|_| InputError::NotText { path: path.to_path_buf(), what: kind.what })
}

/// For a streaming reader: an error if `read_so_far` went past the kind's limit.
pub fn check_end(path: &Path, kind: Kind, read_so_far: u64) -> Result<(), InputError> {
    if read_so_far > kind.max_bytes {
        Err(InputError::TooLarge { path: path.to_path_buf(), what: kind.what, max: kind.max_bytes })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Kind = Kind::new("test", 8);

    #[test]
    fn regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"12345678").unwrap();
        assert_eq!(read(&path, SMALL).unwrap(), b"12345678");
        assert_eq!(read_to_string(&path, SMALL).unwrap(), "12345678");
        std::fs::write(&path, b"123456789").unwrap();
        let err = read(&path, SMALL).unwrap_err();
        assert!(matches!(err, InputError::TooLarge { max: 8, .. }), "{err}");
        assert!(err.to_string().ends_with("larger than the 8-byte limit for a test file"), "{err}");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_to_string(&path, SMALL), Err(InputError::NotText { .. })));
    }

    #[test]
    fn directories_devices_and_missing_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(dir.path(), SMALL).unwrap_err();
        assert!(err.to_string().contains("is a directory, not a regular file"), "{err}");
        assert!(matches!(read(&dir.path().join("nope"), SMALL), Err(InputError::Io { .. })));
        #[cfg(unix)]
        {
            let err = read(Path::new("/dev/zero"), SMALL).unwrap_err();
            assert!(err.to_string().contains("is a character device"), "{err}");
            // Allowed, a device is still read only up to the limit.
            let err = read(Path::new("/dev/zero"), SMALL.allowing_special_files()).unwrap_err();
            assert!(matches!(err, InputError::TooLarge { .. }), "{err}");
            assert_eq!(read(Path::new("/dev/null"), SMALL.allowing_special_files()).unwrap(), b"");
        }
    }
}
