//! What a snapshot is read from: a regular file, through the one bounded reader every input
//! file goes through (`input_files`: no directory, device or FIFO, at most [`SNAPSHOT_FILE`]'s
//! limit), or, when the operator allows special files, a stream (a FIFO, `/dev/stdin`) copied
//! into a file first: a snapshot is read twice (verified whole, then imported) and its footer is
//! found from its end, which a stream cannot give.

use crate::error::{io_error, SnapshotError};
use crate::format::{len_u64, BUFFER, MAGIC, MAX_SNAPSHOT_BYTES, SNAPSHOT_FILE};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// A snapshot file about to be read, checked.
#[derive(Debug)]
pub enum Input {
    /// A regular file within the limit: read where it is.
    File,
    /// A FIFO or character device, opened (a FIFO's writer is connected): [`spool`] it.
    Stream(File),
}

/// Checks that `path` can be read as a snapshot: a regular file within the limit (not read
/// yet), or, if `special_files`, also a FIFO or character device (opened: a FIFO waits here for
/// its writer, and must be read through the handle returned, opening it again would wait for
/// another).
pub fn check_input(path: &Path, special_files: bool) -> Result<Input, SnapshotError> {
    let kind = if special_files { SNAPSHOT_FILE.allowing_special_files() } else { SNAPSHOT_FILE };
    let (file, size) = input_files::open(path, kind)?;
    Ok(if size.is_some() { Input::File } else { Input::Stream(file) })
}

/// Copies the stream `file`, opened from `from` by [`check_input`], into the new file `to`,
/// within the limit; stops at once if it does not start with the magic (`/dev/zero` is not read
/// for gigabytes). Errors name `from`. The copy is not synced: it is read back at once, then
/// removed with the staging directory it is written in.
pub fn spool(from: &Path, file: File, to: &Path) -> Result<(), SnapshotError> {
    let mut out = OpenOptions::new().write(true).create_new(true).open(to).map_err(io_error(to))?;
    let mut input = file.take(MAX_SNAPSHOT_BYTES.saturating_add(1));
    let mut head = Vec::with_capacity(MAGIC.len());
    (&mut input).take(MAGIC.len() as u64).read_to_end(&mut head).map_err(io_error(from))?;
    if !MAGIC.starts_with(&head) || head.is_empty() {
        return Err(SnapshotError::NotASnapshot { path: from.to_path_buf() });
    }
    out.write_all(&head).map_err(io_error(to))?;
    let mut copied = len_u64(head.len());
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(SnapshotError::Io { path: from.to_path_buf(), source: e }),
        };
        out.write_all(buf.get(..n).unwrap_or_default()).map_err(io_error(to))?;
        copied += len_u64(n);
    }
    input_files::check_end(from, SNAPSHOT_FILE, copied)?;
    Ok(())
}
