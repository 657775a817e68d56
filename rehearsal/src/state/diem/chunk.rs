//! A chunk file, streamed: records of a 4-byte big-endian length and that many bytes. The end
//! of the file must fall between records; a length that runs past the file is refused before
//! anything is allocated for it. A file that ends early (a record cut short, a gzip stream
//! without its end) is [`StateError::Truncated`], anything else wrong [`StateError::Corrupt`]:
//! Diem-family and Aptos-based backups frame their chunks alike and share this reader.

use crate::state::lines::GZIP_MAGIC;
use crate::state::StateError;
use flate2::read::MultiGzDecoder;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// What a chunk file is to [`input_files`]: up to 1 TiB, streamed.
pub const CHUNK_FILE: input_files::Kind = input_files::Kind::new("backup chunk", 1 << 40);
/// The largest record read (a chunk closes before 1 GiB, but one record may pass it: the bound
/// is on memory, and a length past it is refused).
pub const MAX_RECORD: u64 = 1 << 30;
const BUFFER: usize = 1 << 20;

/// Reads one chunk file's records in order.
pub struct ChunkReader {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    /// The offset of the next record in the (unpacked) file.
    offset: u64,
    /// The file's size, when it is not compressed.
    size: Option<u64>,
}

impl std::fmt::Debug for ChunkReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkReader").field("path", &self.path).field("offset", &self.offset).finish()
    }
}

impl ChunkReader {
    pub fn open(path: &Path) -> Result<ChunkReader, StateError> {
        let (file, size) = input_files::open(path, CHUNK_FILE)?;
        let mut plain = BufReader::with_capacity(BUFFER, file);
        let head = plain.fill_buf().map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
        let (reader, size): (Box<dyn BufRead>, _) = if head.starts_with(&GZIP_MAGIC) {
            (Box::new(BufReader::with_capacity(BUFFER, MultiGzDecoder::new(plain))), None)
        } else {
            (Box::new(plain), size)
        };
        Ok(ChunkReader { path: path.to_path_buf(), reader, offset: 0, size })
    }

    fn corrupt(&self, offset: u64, reason: String) -> StateError {
        StateError::Corrupt { path: self.path.clone(), offset, reason }
    }

    fn truncated(&self, offset: u64, reason: String) -> StateError {
        StateError::Truncated { path: self.path.clone(), offset, reason }
    }

    /// A read error: an end of stream where more was due is a truncation (a gzip stream cut
    /// short ends so), anything else damage.
    fn read_error(&self, offset: u64, what: &str, e: &std::io::Error) -> StateError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            self.truncated(offset, format!("truncated: cannot read {what}: {e}"))
        } else {
            self.corrupt(offset, format!("cannot read {what}: {e}"))
        }
    }

    /// Reads up to `buf.len()` bytes; the count read (less only at the end).
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, StateError> {
        let mut n = 0;
        while n < buf.len() {
            match self.reader.read(buf.get_mut(n..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_error(self.offset + n as u64, "the file", &e)),
            }
        }
        Ok(n)
    }

    /// The next record's payload into `buf`, and its offset; `None` at the end of the file.
    pub fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>, StateError> {
        let at = self.offset;
        let mut len = [0u8; 4];
        match self.fill(&mut len)? {
            0 => return Ok(None),
            4 => {}
            n => return Err(self.truncated(at, format!("truncated: a record length of 4 bytes, only {n} left"))),
        }
        let n = u64::from(u32::from_be_bytes(len));
        if let Some(size) = self.size {
            let left = size.saturating_sub(at + 4);
            if n > left {
                return Err(self.truncated(
                    at,
                    format!("a record of {n} bytes runs past the end of the file ({left} bytes left)"),
                ));
            }
        }
        if n > MAX_RECORD {
            return Err(self.corrupt(at, format!("a record of {n} bytes, more than the limit of {MAX_RECORD}")));
        }
        buf.clear();
        let read =
            (&mut self.reader).take(n).read_to_end(buf).map_err(|e| self.read_error(at + 4, "the record", &e))?;
        if (read as u64) < n {
            return Err(self.truncated(at, format!("truncated: a record of {n} bytes, only {read} left in the file")));
        }
        self.offset = at + 4 + n;
        Ok(Some(at))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes read so far, unpacked (the offset of the next record).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Whether the file is gzipped.
    pub fn compressed(&self) -> bool {
        self.size.is_none()
    }
}
