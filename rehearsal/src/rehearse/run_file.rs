//! A run file: an overlay's writes spilled to the scratch directory, in key order, written once
//! and read back by the loop's later scans, by merges of runs, and by the pass.
//!
//! A record is `uleb(shared) uleb(rest) key[shared..] uleb(value)`, then the value for a put:
//! `shared` bytes of the key are the previous record's, and `value` is the value's length plus
//! one, or 0 for a delete. State keys of one kind and tag share most of their bytes (the tag,
//! 40 to 80 of a resource key's 60 to 100): a run holds about half the bytes a record of whole
//! keys would. The record at each index point holds its whole key, so that a reader starts
//! there.
//!
//! Both sides work on their own buffer of the file, not a call per field: the writer appends
//! records to one and writes it out whole; the reader reads the file a block at a time and takes
//! records from it. A run is private to one rehearsal (made and removed by it), but it is still
//! read as bytes that may be damaged: a record that does not parse is an error, never a panic.

use binary_format::write_uleb;
use migrations::state_key::common_prefix;
use migrations::store::StoreError;
use std::fs::File;
use std::io::Write as _;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The index holds the key of the first record and of the first record after each further this
/// many bytes of the file: a reader starts there and reads a block of this size at a time. The
/// index is then a few hundred bytes a MiB of run.
const INDEX_BYTES: u64 = 64 << 10;
/// The writer's buffer, written out when full.
const WRITE_BUFFER: usize = 1 << 20;

pub(crate) fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend { backend: "rehearsal overlay", source: e.to_string().into() }
}

/// A spilled layer of writes: a file of records in key order, and an index of it.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) path: PathBuf,
    /// The file, open for the run's life: readers share it (they read at an offset), so that a
    /// scan opens no file, and a run takes one descriptor however many read it (a pass's ranges
    /// read every thread's runs at once).
    file: Arc<File>,
    /// (key, offset of its record), every [`INDEX_BYTES`] of the file.
    index: Vec<(Vec<u8>, u64)>,
    len: u64,
    /// 0 for a spill; a merge of runs of level `n` is of level `n + 1`.
    pub(crate) level: u32,
    /// The last key a reader was opened at, and the run's first key at or after it (`None`:
    /// none): the next scan from a key between the two knows the run's first key after it
    /// without reading the file. The loop's scans move forward block after block over keys no
    /// run holds (a run holds keys the loop has passed, and keys of other structs).
    next_after: Mutex<Option<NextAfter>>,
}

/// A key a reader was opened at, and the run's first key at or after it (`None`: none).
type NextAfter = (Vec<u8>, Option<Vec<u8>>);

impl Run {
    /// Whether the run surely holds no key in `from..end` (`end` `None`: to the end), known
    /// from what an earlier reader found, without reading the file.
    pub(crate) fn holds_none_in(&self, from: &[u8], end: Option<&[u8]>) -> bool {
        let known = self.next_after.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &*known {
            // The first key at or after `checked` is `next`: none lies in `checked..next`, so
            // none lies in `from..end` when `end` is at or before `next` (and if `from` is past
            // `next`, so is `end`, and the answer is no).
            Some((checked, next)) if checked.as_slice() <= from => {
                next.as_deref().is_none_or(|n| end.is_some_and(|e| n >= e))
            }
            _ => false,
        }
    }

    /// Records that the run's first key at or after `from` is `next` (`None`: none).
    pub(crate) fn remember_next_after(&self, from: &[u8], next: Option<&[u8]>) {
        let mut known = self.next_after.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *known = Some((from.to_vec(), next.map(<[u8]>::to_vec)));
    }
}

/// Writes a run file, record by record in key order.
pub(crate) struct RunWriter {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    index: Vec<(Vec<u8>, u64)>,
    /// Bytes written to the file so far.
    flushed: u64,
    /// Where the next record is indexed.
    next_indexed: u64,
    /// The last key written (the next record shares a prefix of it).
    last: Vec<u8>,
}

impl RunWriter {
    pub(crate) fn create(path: PathBuf) -> Result<RunWriter, StoreError> {
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(failed)?;
        Ok(RunWriter {
            path,
            file,
            buf: Vec::with_capacity(WRITE_BUFFER + (64 << 10)),
            index: Vec::new(),
            flushed: 0,
            next_indexed: 0,
            last: Vec::new(),
        })
    }

    /// Adds a write: a put of `value`, or (`None`) a delete. Keys come in ascending order.
    pub(crate) fn add(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        let at = self.flushed + self.buf.len() as u64;
        let shared = if at >= self.next_indexed {
            self.index.push((key.to_vec(), at));
            self.next_indexed = at + INDEX_BYTES;
            0
        } else {
            common_prefix(&self.last, key)
        };
        let rest = key.get(shared..).unwrap_or_default();
        write_uleb(&mut self.buf, shared as u64);
        write_uleb(&mut self.buf, rest.len() as u64);
        self.buf.extend_from_slice(rest);
        match value {
            Some(v) => {
                write_uleb(&mut self.buf, v.len() as u64 + 1);
                self.buf.extend_from_slice(v);
            }
            None => self.buf.push(0),
        }
        self.last.truncate(shared);
        self.last.extend_from_slice(rest);
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.file.write_all(&self.buf).map_err(failed)?;
        self.flushed += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    pub(crate) fn finish(mut self, level: u32) -> Result<Run, StoreError> {
        self.flush()?;
        Ok(Run {
            path: self.path,
            file: Arc::new(self.file),
            index: self.index,
            len: self.flushed,
            level,
            next_after: Mutex::new(None),
        })
    }
}

/// Reads a run's records from an index point on, in order, lending each: [`RunReader::head`]
/// is the record read last, [`RunReader::advance`] reads the next.
pub(crate) struct RunReader {
    file: Arc<File>,
    /// The file's next byte to read, and its length.
    offset: u64,
    len: u64,
    /// Bytes read and not yet taken: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// The last record's key (the next one shares a prefix of it).
    key: Vec<u8>,
    /// The last record: `None` past the end, else its value's place in `buf` (`None`: a delete).
    head: Option<Option<(usize, usize)>>,
    /// Bytes the last record's key shares with the key before it (0 for the first read).
    shared: usize,
    /// Bytes the next read takes at least: [`FIRST_READ`], doubled by each read up to
    /// `max_block`.
    block: usize,
    max_block: usize,
}

/// What a reader reads first. Most readers a scan opens take a record or two (a block's scan
/// opens every run, and most runs hold nothing in its range past their first record): reading a
/// whole block for each was a tenth of the loop at 10,000,000 accounts.
const FIRST_READ: usize = 4 << 10;

/// What a reader of a merge of runs reads at most at a time: a merge reads [`super::overlay`]'s
/// fan-in of runs at once, and each reader's block is held at once (64 blocks of 64 KiB raised a
/// 10,000,000-account rehearsal's peak memory by a fifth; the files are in the page cache, and
/// four times the reads cost nothing measurable).
const MERGE_READ: usize = 16 << 10;

/// A record's parts, as offsets in the reader's buffer.
struct Parsed {
    shared: usize,
    rest: (usize, usize),
    value: Option<(usize, usize)>,
    end: usize,
}

/// Reads a uleb at `*at` of `buf`; `None` when `buf` ends first (or it is too long).
fn get_uleb(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// Parses the record at `start` of `buf`: `None` when `buf` ends inside it.
fn parse(buf: &[u8], start: usize) -> Option<Parsed> {
    let mut at = start;
    let shared = usize::try_from(get_uleb(buf, &mut at)?).ok()?;
    let rest = usize::try_from(get_uleb(buf, &mut at)?).ok()?;
    let rest_at = at;
    at = at.checked_add(rest)?;
    let value = get_uleb(buf, &mut at)?;
    let value = match value.checked_sub(1) {
        None => None,
        Some(n) => {
            let n = usize::try_from(n).ok()?;
            let value_at = at;
            at = at.checked_add(n)?;
            Some((value_at, at))
        }
    };
    (at <= buf.len()).then_some(Parsed { shared, rest: (rest_at, rest_at + rest), value, end: at })
}

impl RunReader {
    /// A reader of `run` from the last index point at or before `key`, its first record read.
    #[cfg(test)]
    pub(crate) fn open(run: &Run, key: &[u8]) -> Result<RunReader, StoreError> {
        RunReader::open_reading(run, key, INDEX_BYTES as usize)
    }

    /// A reader of `run` at its first record at or after `key`, reading at most `max_block`
    /// (from [`MERGE_READ`] to the index's spacing) at a time; what it finds is remembered by
    /// the run ([`Run::holds_none_in`]).
    pub(crate) fn at(run: &Run, key: &[u8], max_block: usize) -> Result<RunReader, StoreError> {
        let mut reader = RunReader::open_reading(run, key, max_block.clamp(MERGE_READ, INDEX_BYTES as usize))?;
        while reader.head_key().is_some_and(|k| k < key) {
            reader.advance()?;
        }
        run.remember_next_after(key, reader.head_key());
        Ok(reader)
    }

    /// A reader of the whole of `run` for a merge of runs, reading [`MERGE_READ`] at a time.
    pub(crate) fn merging(run: &Run) -> Result<RunReader, StoreError> {
        RunReader::open_reading(run, &[], MERGE_READ)
    }

    fn open_reading(run: &Run, key: &[u8], max_block: usize) -> Result<RunReader, StoreError> {
        let at = run.index.partition_point(|(k, _)| k.as_slice() <= key).saturating_sub(1);
        let offset = run.index.get(at).map_or(0, |(_, o)| *o);
        let file = Arc::clone(&run.file);
        let mut reader = RunReader {
            file,
            offset,
            len: run.len,
            buf: Vec::new(),
            pos: 0,
            key: Vec::new(),
            head: None,
            shared: 0,
            block: FIRST_READ.min(max_block),
            max_block,
        };
        reader.advance()?;
        reader.shared = 0;
        Ok(reader)
    }

    /// The record read last: its key and value (`None`: a delete); `None` past the last.
    pub(crate) fn head(&self) -> Option<(&[u8], Option<&[u8]>)> {
        let value = (*self.head.as_ref()?).map(|(from, to)| self.buf.get(from..to).unwrap_or_default());
        Some((self.key.as_slice(), value))
    }

    /// Bytes the key of the record read last shares with the key read before it (0 for the
    /// first: nothing was read before it).
    pub(crate) fn shared(&self) -> usize {
        self.shared
    }

    /// The key of the record read last.
    pub(crate) fn head_key(&self) -> Option<&[u8]> {
        self.head.is_some().then_some(self.key.as_slice())
    }

    /// Reads more of the file after the bytes not yet taken, at least `block`, and at least
    /// `need` bytes in all when the file has them. Whether anything was read.
    fn refill(&mut self, need: usize) -> Result<bool, StoreError> {
        let left = self.len.saturating_sub(self.offset);
        if left == 0 {
            return Ok(false);
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        let kept = self.buf.len();
        let want = self.block.max(need.saturating_sub(kept));
        self.block = (self.block * 2).min(self.max_block);
        let n = usize::try_from(left).map_or(want, |l| l.min(want));
        self.buf.resize(kept + n, 0);
        let into = self.buf.get_mut(kept..).unwrap_or_default();
        self.file.read_exact_at(into, self.offset).map_err(failed)?;
        self.offset += n as u64;
        Ok(true)
    }

    /// Reads the next record (past the last, none).
    pub(crate) fn advance(&mut self) -> Result<(), StoreError> {
        let parsed = loop {
            if let Some(p) = parse(&self.buf, self.pos) {
                break p;
            }
            // The record goes on past the buffer (or the buffer is empty): read more, twice
            // what is held when a record is larger than a block.
            let held = self.buf.len() - self.pos.min(self.buf.len());
            if !self.refill(held.saturating_mul(2))? {
                if held == 0 {
                    self.head = None;
                    return Ok(());
                }
                self.head = None;
                return Err(failed("a run file ends inside a record"));
            }
        };
        let rest = self.buf.get(parsed.rest.0..parsed.rest.1).unwrap_or_default();
        if parsed.shared > self.key.len() {
            self.head = None;
            return Err(failed("a run file's record shares more of a key than the key before it has"));
        }
        self.key.truncate(parsed.shared);
        self.key.extend_from_slice(rest);
        self.shared = parsed.shared;
        self.head = Some(parsed.value);
        self.pos = parsed.end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(run: &Run, from: &[u8]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        let mut reader = RunReader::open(run, from).unwrap();
        let mut out = Vec::new();
        while let Some((k, v)) = reader.head() {
            out.push((k.to_vec(), v.map(<[u8]>::to_vec)));
            reader.advance().unwrap();
        }
        out
    }

    /// Keys sharing long prefixes, values of every size (some larger than a block), deletes:
    /// read back whole from the start, and from every index point on.
    #[test]
    fn records_read_back_as_written_from_the_start_and_from_any_index_point() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = RunWriter::create(dir.path().join("r.run")).unwrap();
        let mut written = Vec::new();
        for i in 0..20_000u32 {
            let mut key = b"resource/0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>/".to_vec();
            key.extend_from_slice(&i.to_be_bytes());
            let value = match i % 7 {
                0 => None,
                1 if i % 1000 == 1 => Some(vec![(i % 251) as u8; 200_000]),
                _ => Some(vec![(i % 251) as u8; (i % 300) as usize]),
            };
            writer.add(&key, value.as_deref()).unwrap();
            written.push((key, value));
        }
        let run = writer.finish(0).unwrap();
        assert!(run.index.len() > 10, "{}", run.index.len());
        assert_eq!(read_all(&run, &[]), written);
        for (key, _) in &run.index {
            let from = written.iter().position(|(k, _)| k == key).unwrap();
            let read = read_all(&run, key);
            assert_eq!(read, written[from..], "from {key:?}");
        }
    }

    /// What a run remembers of its readers never says a key range is empty when the run holds
    /// a key there: checked against the keys themselves for scans moving forward (the loop's)
    /// and jumping back, over ranges inside, across and between the run's keys.
    #[test]
    fn a_run_known_empty_in_a_range_holds_no_key_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = RunWriter::create(dir.path().join("r.run")).unwrap();
        let key = |i: u32| {
            let mut k = b"resource/0x1::coin::CoinStore/".to_vec();
            k.extend_from_slice(&i.to_be_bytes());
            k
        };
        // Stretches of keys with gaps between them: 0..1000, 5000..6000, 9000..9500.
        let keys: Vec<Vec<u8>> = (0..1000).chain(5000..6000).chain(9000..9500).map(key).collect();
        for k in &keys {
            writer.add(k, Some(&[1; 30])).unwrap();
        }
        let run = writer.finish(0).unwrap();
        let holds = |from: &[u8], end: Option<&[u8]>| {
            keys.iter().any(|k| k.as_slice() >= from && end.is_none_or(|e| k.as_slice() < e))
        };
        let mut seed = 0x9e37_79b9_u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let (mut skipped, mut from_n) = (0, 0u32);
        for step in 0..3000 {
            // Mostly forward by a little, sometimes back or far.
            from_n = match next(10) {
                0 => next(10_000) as u32,
                _ => from_n + next(40) as u32,
            };
            let from = key(from_n);
            let end = match step % 3 {
                0 => None,
                1 => Some(key(from_n + 1 + next(3000) as u32)),
                _ => Some(b"resource/0x1::coin::CoinStore/\xff".to_vec()),
            };
            if run.holds_none_in(&from, end.as_deref()) {
                assert!(!holds(&from, end.as_deref()), "said empty: from {from_n}, end {end:?}");
                skipped += 1;
            } else {
                let reader = RunReader::at(&run, &from, INDEX_BYTES as usize).unwrap();
                let first = keys.iter().find(|k| k.as_slice() >= from.as_slice());
                assert_eq!(reader.head_key(), first.map(Vec::as_slice));
            }
        }
        assert!(skipped > 500, "{skipped} ranges known empty");
    }

    #[test]
    fn a_damaged_run_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = RunWriter::create(dir.path().join("r.run")).unwrap();
        for i in 0..200u32 {
            writer.add(format!("key/{i:05}").as_bytes(), Some(&[7; 20])).unwrap();
        }
        let run = writer.finish(0).unwrap();
        let bytes = std::fs::read(&run.path).unwrap();
        // Cut short, and bytes overwritten: every outcome is records or an error.
        for cut in [1, 2, 5, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&run.path, &bytes[..cut]).unwrap();
            let mut reader = RunReader::open(&run, &[]);
            assert!(
                reader.is_err() || (0..300).any(|_| reader.as_mut().map_or(true, |r| r.advance().is_err())),
                "cut at {cut}"
            );
        }
        for at in (0..bytes.len()).step_by(13) {
            let mut damaged = bytes.clone();
            damaged[at] = 0xff;
            std::fs::write(&run.path, &damaged).unwrap();
            let Ok(mut reader) = RunReader::open(&run, &[]) else { continue };
            for _ in 0..300 {
                if reader.head().is_none() || reader.advance().is_err() {
                    break;
                }
            }
        }
    }
}
