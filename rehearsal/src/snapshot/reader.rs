//! Reading a snapshot's bytes: through one large buffer, hashed as they are consumed, never
//! past a limit; a short file is an error at its offset.

use super::checksum::Checksum;
use super::error::{corrupt, io_error, SnapshotError};
use super::format::{len_u64, BUFFER, SNAPSHOT_FILE};

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Reads a snapshot through one large buffer, hashing the bytes it consumes (in large blocks,
/// when the buffer is refilled) and refusing to read past `limit`.
pub(super) struct Reader<'a> {
    pub(super) path: &'a Path,
    file: File,
    buf: Vec<u8>,
    /// `buf[start..end]` is read from the file and not consumed; `buf[hashed..start]` is
    /// consumed and not yet hashed.
    start: usize,
    end: usize,
    hashed: usize,
    /// The file offset of `buf[start]`.
    pub(super) offset: u64,
    /// Reads stop here.
    pub(super) limit: u64,
    /// The file's size.
    pub(super) len: u64,
    /// `None` once the trailer is read.
    sha: Option<Checksum>,
}

impl<'a> Reader<'a> {
    /// Opens `path`, computing its checksum if `checksum`.
    /// A regular file only, within [`SNAPSHOT_FILE`]'s limit (a stream is copied into one
    /// first: [`spool`](super::spool)), so that its size is known and it can be read twice.
    pub(super) fn open(path: &'a Path, checksum: bool) -> Result<Reader<'a>, SnapshotError> {
        let (file, size) = input_files::open(path, SNAPSHOT_FILE)?;
        let len = size.ok_or_else(|| SnapshotError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        })?;
        Ok(Reader {
            path,
            file,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            hashed: 0,
            offset: 0,
            limit: len,
            len,
            sha: checksum.then(Checksum::new),
        })
    }

    pub(super) fn corrupt(&self, offset: u64, reason: impl Into<String>) -> SnapshotError {
        corrupt(self.path, offset, reason)
    }

    pub(super) fn left(&self) -> u64 {
        self.limit.saturating_sub(self.offset)
    }

    fn sync_hash(&mut self) {
        if let Some(consumed) = self.buf.get(self.hashed..self.start) {
            if let Some(sha) = &mut self.sha {
                sha.update(consumed);
            }
        }
        self.hashed = self.start;
    }

    /// Makes `n` bytes available in the buffer, if the limit allows.
    fn fill(&mut self, n: usize, what: &str) -> Result<(), SnapshotError> {
        if self.end - self.start >= n {
            return Ok(());
        }
        if self.left() < len_u64(n) {
            return Err(self.corrupt(
                self.offset,
                format!("truncated: {what} needs {n} bytes, only {} are left for it", self.left()),
            ));
        }
        self.sync_hash();
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        self.hashed = 0;
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.end < n {
            let Some(free) = self.buf.get_mut(self.end..) else { break };
            match self.file.read(free) {
                Ok(0) => {
                    return Err(self.corrupt(
                        self.offset + len_u64(self.end),
                        "the file ended early (did it change while being read?)",
                    ))
                }
                Ok(read) => self.end += read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(SnapshotError::Io { path: self.path.to_path_buf(), source }),
            }
        }
        Ok(())
    }

    /// The next `n` bytes, consumed.
    pub(super) fn take(&mut self, n: usize, what: &str) -> Result<&[u8], SnapshotError> {
        self.fill(n, what)?;
        let start = self.start;
        self.start += n;
        self.offset += len_u64(n);
        match self.buf.get(start..start + n) {
            Some(bytes) => Ok(bytes),
            None => Err(corrupt(self.path, self.offset, format!("{what}: internal buffer error"))),
        }
    }

    pub(super) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], SnapshotError> {
        let at = self.offset;
        let bytes = self.take(N, what)?;
        <[u8; N]>::try_from(bytes).map_err(|_| corrupt(self.path, at, format!("{what}: internal buffer error")))
    }

    pub(super) fn byte(&mut self, what: &str) -> Result<u8, SnapshotError> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    pub(super) fn u32(&mut self, what: &str) -> Result<u32, SnapshotError> {
        Ok(u32::from_be_bytes(self.array::<4>(what)?))
    }

    /// The 32 trailer bytes, not hashed, and the hash of everything before them.
    pub(super) fn trailer(&mut self) -> Result<([u8; 32], [u8; 32]), SnapshotError> {
        self.sync_hash();
        let sha = self.sha.take().ok_or_else(|| self.corrupt(self.offset, "a second trailer"))?;
        let found = sha.finish().map_err(io_error(self.path))?;
        let expected = self.array::<32>("the trailer")?;
        self.hashed = self.start;
        Ok((expected, found))
    }

    /// Moves to `offset` (hashing stops making sense: for [`read_info`](super::read_info) only).
    pub(super) fn seek(&mut self, offset: u64) -> Result<(), SnapshotError> {
        self.file.seek(SeekFrom::Start(offset)).map_err(io_error(self.path))?;
        self.start = 0;
        self.end = 0;
        self.hashed = 0;
        self.offset = offset;
        Ok(())
    }
}
