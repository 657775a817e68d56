//! Decoding a snapshot's entries from a restart point: keys rebuilt from what they share with the
//! previous one, every length checked against its limit and against the bytes left before
//! anything is allocated, keys strictly increasing, restarts where the index says they are.

use crate::error::{corrupt, SnapshotError};
use crate::format::{len_u64, BUFFER, KIND_END, KIND_ENTRY, MAX_EXTRA, MAX_KEY, MAX_VALUE, RESTART};
use crate::layout::read_at;
use std::fs::File;
use std::path::Path;

/// One entry as read.
#[derive(Debug)]
pub struct Entry<'a> {
    /// Its canonical state key.
    pub key: &'a [u8],
    /// Its value.
    pub value: &'a [u8],
    /// Its extra (a chain's metadata of the value; usually empty).
    pub extra: &'a [u8],
    /// Its number among the snapshot's entries, from 0.
    pub number: u64,
    /// The byte offset of its record.
    pub offset: u64,
    /// The bytes its key shares with the key before it (0 at a restart point): a reader of a
    /// run of keys of one prefix knows a key is still in the run without comparing it.
    pub shared: usize,
}

/// Reads entries from one restart point up to the end of the records (or until stopped).
pub(crate) struct EntryReader<'f> {
    file: &'f File,
    path: &'f Path,
    /// File offset of `buf[0]`.
    base: u64,
    buf: Vec<u8>,
    /// Bytes of `buf` read from the file (the rest is room).
    filled: usize,
    /// Consumed up to `buf[pos]`.
    pos: usize,
    /// The end record's offset: reads stop there.
    end: u64,
    key: Vec<u8>,
    /// The key before `key`'s buffer, reused for the next key (no allocation per entry).
    spare: Vec<u8>,
    value: Vec<u8>,
    extra: Vec<u8>,
    number: u64,
    /// The restart offsets, to check restarts are where the index says.
    index: &'f [(u64, u64)],
    done: bool,
    /// The size of the next read: small at first, doubling up to [`BUFFER`], so that a reader
    /// that takes one entry (a restart key at open, a point read) reads a few KiB, not a MiB.
    block: usize,
}

/// The first read of a reader.
const FIRST_READ: usize = 4 << 10;

impl<'f> EntryReader<'f> {
    /// Reads from the restart point `restart` (an index entry: entry number and offset) until
    /// the end record at `end`.
    pub(crate) fn new(file: &'f File, path: &'f Path, restart: (u64, u64), end: u64, index: &'f [(u64, u64)]) -> Self {
        EntryReader {
            file,
            path,
            base: restart.1,
            buf: Vec::new(),
            filled: 0,
            pos: 0,
            end,
            key: Vec::new(),
            spare: Vec::new(),
            value: Vec::new(),
            extra: Vec::new(),
            number: restart.0,
            index,
            done: false,
            block: FIRST_READ,
        }
    }

    fn offset(&self) -> u64 {
        self.base + len_u64(self.pos)
    }

    /// Makes `n` bytes available at `pos`, within the records.
    fn need(&mut self, n: usize, what: &str) -> Result<(), SnapshotError> {
        if self.filled - self.pos >= n {
            return Ok(());
        }
        let at = self.offset();
        let left = (self.end + 1).saturating_sub(at);
        if len_u64(n) > left {
            return Err(corrupt(self.path, at, format!("the records end inside {what}")));
        }
        // Keep what is unread, read a large block more (never past the records). The buffer
        // keeps its size: only what it grows by is zeroed, once.
        self.buf.copy_within(self.pos..self.filled, 0);
        self.filled -= self.pos;
        self.base = at;
        self.pos = 0;
        let want = usize::try_from(left.min(len_u64(n.max(self.block)))).unwrap_or(n);
        self.block = (self.block * 2).min(BUFFER);
        if want > self.filled {
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            let have = self.filled;
            read_at(self.file, self.path, at + len_u64(have), self.buf.get_mut(have..want).unwrap_or_default())?;
            self.filled = want;
        }
        Ok(())
    }

    fn byte(&mut self, what: &str) -> Result<u8, SnapshotError> {
        self.need(1, what)?;
        let b = self.buf.get(..self.filled).and_then(|b| b.get(self.pos)).copied().unwrap_or(0);
        self.pos += 1;
        Ok(b)
    }

    /// A canonical ULEB128 of at most `max`, read by the shared BCS reader from the buffer.
    fn uleb(&mut self, max: usize, what: &'static str) -> Result<usize, SnapshotError> {
        let at = self.offset();
        // A ULEB128 of 64 bits takes at most 10 bytes; fewer may be left before the end record.
        let left = usize::try_from((self.end + 1).saturating_sub(at)).unwrap_or(usize::MAX);
        self.need(left.min(10), what)?;
        let mut r = binary_format::bcs::Reader::new(self.buf.get(self.pos..self.filled).unwrap_or_default());
        let value = r.uleb(len_u64(max), what).map_err(|e| corrupt(self.path, at, e.message()))?;
        self.pos += r.position();
        usize::try_from(value).map_err(|_| corrupt(self.path, at, format!("{what} of {value}, more than {max}")))
    }

    fn bytes_into(&mut self, n: usize, what: &str, out: &mut Vec<u8>) -> Result<(), SnapshotError> {
        self.need(n, what)?;
        out.extend_from_slice(self.buf.get(self.pos..self.pos + n).unwrap_or_default());
        self.pos += n;
        Ok(())
    }

    /// The next entry, or `None` at the end record.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry<'_>>, SnapshotError> {
        if self.done {
            return Ok(None);
        }
        let at = self.offset();
        if at == self.end {
            let kind = self.byte("the end record")?;
            if kind != KIND_END {
                return Err(corrupt(self.path, at, format!("the record at the end says kind {kind}, not the end")));
            }
            self.done = true;
            return Ok(None);
        }
        match self.byte("a record kind")? {
            KIND_ENTRY => {}
            KIND_END => return Err(corrupt(self.path, at, "an end record before the records end")),
            kind => return Err(corrupt(self.path, at, format!("unknown record kind {kind}"))),
        }
        let restart = self.number.is_multiple_of(RESTART);
        if restart {
            let expected = self.index.get(usize::try_from(self.number / RESTART).unwrap_or(usize::MAX)).map(|r| r.1);
            if expected != Some(at) {
                return Err(corrupt(
                    self.path,
                    at,
                    format!("entry {} starts here, the index says elsewhere", self.number),
                ));
            }
        }
        let shared = self.uleb(self.key.len(), "the bytes a key shares")?;
        if restart && shared != 0 {
            return Err(corrupt(self.path, at, "a restart entry shares bytes with the previous key"));
        }
        let suffix = self.uleb(MAX_KEY - shared, "the rest of a key")?;
        let mut key = std::mem::take(&mut self.spare);
        key.clear();
        key.extend_from_slice(self.key.get(..shared).unwrap_or_default());
        self.bytes_into(suffix, "a key", &mut key)?;
        if !self.key.is_empty() && !follows(&self.key, shared, &key) {
            return Err(corrupt(self.path, at, "keys out of order"));
        }
        if key.is_empty() {
            return Err(corrupt(self.path, at, "an empty key"));
        }
        self.spare = std::mem::replace(&mut self.key, key);
        let n = self.uleb(MAX_VALUE, "a value")?;
        self.value.clear();
        let mut value = std::mem::take(&mut self.value);
        self.bytes_into(n, "a value", &mut value)?;
        self.value = value;
        let n = self.uleb(MAX_EXTRA, "an extra")?;
        self.extra.clear();
        let mut extra = std::mem::take(&mut self.extra);
        self.bytes_into(n, "an extra", &mut extra)?;
        self.extra = extra;
        let number = self.number;
        self.number += 1;
        Ok(Some(Entry { key: &self.key, value: &self.value, extra: &self.extra, number, offset: at, shared }))
    }
}

/// Whether `key`, which shares its first `shared` bytes with `previous`, comes after it: told
/// by the first byte past what they share, without comparing the shared bytes again (keys of
/// one struct share most of theirs).
fn follows(previous: &[u8], shared: usize, key: &[u8]) -> bool {
    match (previous.get(shared), key.get(shared)) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(p), Some(k)) if k != p => k > p,
        _ => key > previous,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::layout;
    use crate::writer::SnapshotWriter;
    use binary_format::AddressLength;

    /// The order check from the byte past what two keys share says what comparing them does,
    /// for every way two short keys can share a prefix.
    #[test]
    fn a_key_follows_the_one_before_as_comparing_them_says() {
        let keys: Vec<Vec<u8>> = (0..4u8)
            .flat_map(|n| {
                (0..3u8.pow(u32::from(n))).map(move |i| (0..n).map(|d| (i / 3u8.pow(u32::from(d))) % 3).collect())
            })
            .collect();
        for previous in &keys {
            for key in &keys {
                for shared in 0..=previous.len().min(key.len()) {
                    if previous[..shared] == key[..shared] {
                        assert_eq!(follows(previous, shared, key), key > previous, "{previous:?} {key:?} {shared}");
                    }
                }
            }
        }
    }

    /// A reader that takes one entry (a restart key when a snapshot is opened, a point read)
    /// reads a few KiB, not a whole buffer: opening a snapshot of 10M entries reads one small
    /// block per restart point (it read 1 MiB each, 7 GB in all). Read on, it reads whole
    /// buffers and gives every entry back as written.
    #[test]
    fn a_reader_reads_little_for_one_entry_and_whole_buffers_for_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snap");
        let mut writer = SnapshotWriter::create(&path, 1, serde_json::json!({}), AddressLength::Bytes16).unwrap();
        let n = 8 * RESTART;
        for i in 0..n {
            let mut key = vec![0x05u8];
            key.extend_from_slice(&i.to_be_bytes());
            writer.add(&key, &vec![i as u8; (i % 600) as usize], &[]).unwrap();
        }
        writer.finish().unwrap();
        let layout::Layout { file, info } = layout::open(&path).unwrap();
        for &restart in &info.index {
            let mut reader = EntryReader::new(&file, &path, restart, info.end, &info.index);
            let key = reader.next_entry().unwrap().unwrap().key.to_vec();
            assert_eq!(key[1..], restart.0.to_be_bytes());
            assert!(reader.filled <= FIRST_READ, "{} bytes read for one entry", reader.filled);
        }
        let mut reader = EntryReader::new(&file, &path, info.index[0], info.end, &info.index);
        let mut seen = 0u64;
        while let Some(e) = reader.next_entry().unwrap() {
            assert_eq!(e.number, seen);
            assert_eq!(e.value, vec![seen as u8; (seen % 600) as usize].as_slice());
            seen += 1;
            assert!(reader.buf.len() <= BUFFER);
        }
        assert_eq!(seen, n);
        assert_eq!(reader.buf.len(), BUFFER, "a long read reads whole buffers");
    }
}
