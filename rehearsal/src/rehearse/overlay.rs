//! The state a rehearsal migrates: the source, read in place and never written (a snapshot file
//! in canonical key order), and the hook's writes kept beside it, so that the state is never
//! copied. Writes are held in memory up to a budget, then spilled to sorted run files in the
//! scratch directory; reads merge the source with every layer of writes, the newest winning.
//!
//! An overlay may see only one key range of the source ([`Overlay::new`]'s `lo..hi`): a rehearsal
//! on many threads gives each thread a range, and each thread's hook migrates what lies in it.

use migrations::state_key::prefix_end;
use migrations::store::{Store, StoreError, Write, WriteBatch};
use snapshot::Snapshot;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// Bytes a write costs in memory beyond its key and value (the map's node, the vectors).
const ENTRY_OVERHEAD: usize = 64;
/// Every this many records of a run, its key and offset are kept in memory (for seeking).
const RUN_INDEX_EVERY: usize = 256;

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend { backend: "rehearsal overlay", source: e.to_string().into() }
}

/// A spilled layer of writes: a file of records in key order, and every 256th key's offset.
#[derive(Debug)]
struct Run {
    path: PathBuf,
    /// (key, offset of its record), every [`RUN_INDEX_EVERY`] records.
    index: Vec<(Vec<u8>, u64)>,
    len: u64,
}

/// One record of a run: u32 key length, key, a byte (1 put, 0 delete), and for a put u32 value
/// length and value. Little-endian.
fn write_record(out: &mut impl std::io::Write, key: &[u8], write: &Write) -> std::io::Result<()> {
    out.write_all(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes())?;
    out.write_all(key)?;
    match write {
        Write::Put(v) => {
            out.write_all(&[1])?;
            out.write_all(&u32::try_from(v.len()).unwrap_or(u32::MAX).to_le_bytes())?;
            out.write_all(v)
        }
        Write::Delete => out.write_all(&[0]),
    }
}

/// Reads a run's records from an offset, in order.
pub(crate) struct RunReader {
    reader: BufReader<File>,
    left: u64,
}

impl RunReader {
    fn open(run: &Run, key: &[u8]) -> Result<RunReader, StoreError> {
        let at = run.index.partition_point(|(k, _)| k.as_slice() <= key).saturating_sub(1);
        let offset = run.index.get(at).map_or(0, |(_, o)| *o);
        let mut file = File::open(&run.path).map_err(failed)?;
        file.seek(SeekFrom::Start(offset)).map_err(failed)?;
        Ok(RunReader { reader: BufReader::with_capacity(64 << 10, file), left: run.len.saturating_sub(offset) })
    }

    fn u32(&mut self) -> Result<usize, StoreError> {
        let mut b = [0u8; 4];
        self.reader.read_exact(&mut b).map_err(failed)?;
        self.left = self.left.saturating_sub(4);
        Ok(u32::from_le_bytes(b) as usize)
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, StoreError> {
        if n as u64 > self.left {
            return Err(failed("a run file ends inside a record"));
        }
        let mut v = vec![0u8; n];
        self.reader.read_exact(&mut v).map_err(failed)?;
        self.left -= n as u64;
        Ok(v)
    }

    fn next(&mut self) -> Result<Option<(Vec<u8>, Write)>, StoreError> {
        if self.left == 0 {
            return Ok(None);
        }
        let n = self.u32()?;
        let key = self.bytes(n)?;
        let tag = self.bytes(1)?;
        let write = if tag.first() == Some(&1) {
            let n = self.u32()?;
            Write::Put(self.bytes(n)?)
        } else {
            Write::Delete
        };
        Ok(Some((key, write)))
    }
}

/// A layer of writes, read from a key on: the memory layer or a run.
pub(crate) enum Layer<'a> {
    Memory(std::iter::Peekable<std::collections::btree_map::Range<'a, Vec<u8>, Write>>),
    Run { reader: RunReader, head: Option<(Vec<u8>, Write)> },
}

/// The writes of every layer from a key on, merged: the newest layer wins a key.
pub(crate) struct Writes<'a> {
    /// Newest first.
    layers: Vec<Layer<'a>>,
    end: Option<Vec<u8>>,
}

impl<'a> Writes<'a> {
    /// The writes of `layers` (newest first) merged, up to `end` (exclusive).
    pub(crate) fn of(layers: Vec<Layer<'a>>, end: Option<Vec<u8>>) -> Writes<'a> {
        Writes { layers, end }
    }

    /// The next write (key, write) in key order, or `None`.
    pub(crate) fn next_write(&mut self) -> Result<Option<(Vec<u8>, Write)>, StoreError> {
        // The smallest head key, and the first (newest) layer holding it.
        let mut best: Option<(Vec<u8>, usize)> = None;
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let key = match layer {
                Layer::Memory(it) => it.peek().map(|(k, _)| k.as_slice()),
                Layer::Run { head, .. } => head.as_ref().map(|(k, _)| k.as_slice()),
            };
            if let Some(k) = key {
                if best.as_ref().is_none_or(|(b, _)| k < b.as_slice()) {
                    best = Some((k.to_vec(), i));
                }
            }
        }
        let Some((key, winner)) = best else { return Ok(None) };
        if self.end.as_deref().is_some_and(|e| key.as_slice() >= e) {
            return Ok(None);
        }
        let mut out = None;
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let at_key = match layer {
                Layer::Memory(it) => it.peek().is_some_and(|(k, _)| **k == key),
                Layer::Run { head, .. } => head.as_ref().is_some_and(|(k, _)| *k == key),
            };
            if !at_key {
                continue;
            }
            let taken = match layer {
                Layer::Memory(it) => it.next().map(|(k, w)| (k.clone(), w.clone())),
                Layer::Run { reader, head } => {
                    let taken = head.take();
                    *head = reader.next()?;
                    taken
                }
            };
            if i == winner {
                out = taken;
            }
        }
        Ok(out)
    }
}

/// The source and the writes made over it, seen in the key range `lo..hi`.
pub struct Overlay<'s> {
    base: &'s Snapshot,
    /// The source keys this overlay sees: `lo` (inclusive) to `hi` (exclusive, `None`: the end).
    lo: Vec<u8>,
    hi: Option<Vec<u8>>,
    memory: BTreeMap<Vec<u8>, Write>,
    memory_bytes: usize,
    budget: usize,
    runs: Vec<Run>,
    dir: PathBuf,
    name: String,
}

impl std::fmt::Debug for Overlay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay").field("runs", &self.runs.len()).field("memory", &self.memory.len()).finish()
    }
}

impl<'s> Overlay<'s> {
    /// An overlay over the source keys `lo..hi` of `base`, holding at most `budget` bytes of
    /// writes in memory before spilling them to run files named `name`-N in `dir`.
    pub fn new(base: &'s Snapshot, lo: Vec<u8>, hi: Option<Vec<u8>>, budget: usize, dir: &Path, name: &str) -> Self {
        Overlay {
            base,
            lo,
            hi,
            memory: BTreeMap::new(),
            memory_bytes: 0,
            budget: budget.max(1 << 20),
            runs: Vec::new(),
            dir: dir.to_path_buf(),
            name: name.to_owned(),
        }
    }

    /// Bytes of writes held in memory now.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    fn spill(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(format!("{}-{}.run", self.name, self.runs.len()));
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(failed)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut index = Vec::new();
        let mut offset = 0u64;
        for (i, (key, write)) in std::mem::take(&mut self.memory).into_iter().enumerate() {
            if i % RUN_INDEX_EVERY == 0 {
                index.push((key.clone(), offset));
            }
            let mut record = Vec::with_capacity(key.len() + 16);
            write_record(&mut record, &key, &write).map_err(failed)?;
            out.write_all(&record).map_err(failed)?;
            offset += record.len() as u64;
        }
        out.flush().map_err(failed)?;
        self.runs.push(Run { path, index, len: offset });
        self.memory_bytes = 0;
        Ok(())
    }

    /// The writes (newest first: memory, then runs from the last spilled) from `from` on, up to
    /// `end` (exclusive).
    pub(crate) fn writes(&self, from: &[u8], end: Option<Vec<u8>>) -> Result<Writes<'_>, StoreError> {
        let layers = self.layers_to(from, end.clone())?;
        Ok(Writes { layers, end })
    }

    /// Every layer of writes from `from` on (newest first), to merge with other overlays'.
    pub(crate) fn layers(&self, from: &[u8]) -> Result<Vec<Layer<'_>>, StoreError> {
        self.layers_to(from, None)
    }

    fn layers_to(&self, from: &[u8], end: Option<Vec<u8>>) -> Result<Vec<Layer<'_>>, StoreError> {
        let mut layers = Vec::with_capacity(1 + self.runs.len());
        let upper = end.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        layers.push(Layer::Memory(self.memory.range((std::ops::Bound::Included(from.to_vec()), upper)).peekable()));
        for run in self.runs.iter().rev() {
            let mut reader = RunReader::open(run, from)?;
            let mut head = reader.next()?;
            while head.as_ref().is_some_and(|(k, _)| k.as_slice() < from) {
                head = reader.next()?;
            }
            layers.push(Layer::Run { reader, head });
        }
        Ok(layers)
    }

    /// Whether the source key `key` is in this overlay's range.
    fn in_range(&self, key: &[u8]) -> bool {
        key >= self.lo.as_slice() && self.hi.as_deref().is_none_or(|h| key < h)
    }
}

impl Store for Overlay<'_> {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(w) = self.memory.get(key) {
            return Ok(match w {
                Write::Put(v) => Some(v.clone()),
                Write::Delete => None,
            });
        }
        if !self.runs.is_empty() {
            let mut writes = self.writes(key, prefix_end(key))?;
            while let Some((k, w)) = writes.next_write()? {
                if k == key {
                    return Ok(match w {
                        Write::Put(v) => Some(v),
                        Write::Delete => None,
                    });
                }
                if k.as_slice() > key {
                    break;
                }
            }
        }
        if !self.in_range(key) {
            return Ok(None);
        }
        self.base.get_key(key)
    }

    /// The source's entries of the range merged with the writes, in key order.
    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let start: Vec<u8> = match after {
            Some(a) if a >= prefix => {
                let mut s = a.to_vec();
                s.push(0);
                s
            }
            _ => prefix.to_vec(),
        };
        let end = prefix_end(prefix);
        let mut writes = self.writes(&start, end.clone())?;
        let mut pending = writes.next_write()?;
        let mut going = true;
        // The source, clipped to the range.
        let base_after = after.filter(|a| *a >= prefix);
        let (lo, hi) = (self.lo.as_slice(), self.hi.as_deref());
        let mut error = None;
        self.base.scan_keys(prefix, base_after, &mut |key, value| {
            if key < lo {
                return true;
            }
            if hi.is_some_and(|h| key >= h) {
                return false;
            }
            // Writes before this key first.
            loop {
                match &pending {
                    Some((k, w)) if k.as_slice() < key => {
                        if let Write::Put(v) = w {
                            if !visit(k, v) {
                                going = false;
                                return false;
                            }
                        }
                        match writes.next_write() {
                            Ok(next) => pending = next,
                            Err(e) => {
                                error = Some(e);
                                return false;
                            }
                        }
                    }
                    _ => break,
                }
            }
            let shown = match &pending {
                Some((k, w)) if k.as_slice() == key => {
                    let shown = match w {
                        Write::Put(v) => visit(key, v),
                        Write::Delete => true,
                    };
                    match writes.next_write() {
                        Ok(next) => pending = next,
                        Err(e) => {
                            error = Some(e);
                            return false;
                        }
                    }
                    shown
                }
                _ => visit(key, value),
            };
            if !shown {
                going = false;
            }
            shown
        })?;
        if let Some(e) = error {
            return Err(e);
        }
        if !going {
            return Ok(());
        }
        // The writes past the base's last key.
        loop {
            match pending.take() {
                Some((k, Write::Put(v))) => {
                    if !visit(&k, &v) {
                        break;
                    }
                }
                Some((_, Write::Delete)) => {}
                None => break,
            }
            pending = writes.next_write()?;
        }
        Ok(())
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        for (key, write) in batch.into_writes() {
            let size = key.len() + ENTRY_OVERHEAD + if let Write::Put(v) = &write { v.len() } else { 0 };
            self.memory_bytes += size;
            self.memory.insert(key, write);
        }
        if self.memory_bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }
}
