//! The state a rehearsal migrates: the source, read in place and never written (a snapshot file
//! in canonical key order), and the hook's writes kept beside it, so that the state is never
//! copied. Writes are held in memory up to a budget, then spilled to sorted run files in the
//! scratch directory; reads merge the source with every layer of writes, the newest winning.
//!
//! In memory, each batch the hook applies (a block's writes, already in key order) is kept as it
//! comes, a sorted segment, instead of being inserted key by key into one map: a block of
//! 100,000 migrated values would otherwise cost 200,000 searches of a map of hundreds of
//! thousands of long keys (a fifth of the rehearsal's time). A segment holds its keys and values
//! in one buffer (not two allocations a write, freed one by one at the spill: a tenth of the
//! rehearsal's time, and half its memory). Segments are merged two by two as soon as the newer
//! one is as large as the one before it (so there are never more than about log2 of the writes
//! held) while they are small, and all of them into one run file when they spill. A batch as
//! large as the largest merged segment (a block's writes, most often) is written as a run at
//! once instead: held, it was copied into a segment, then again into a run at the next spill
//! (1,000,000 accounts on one thread: the loop 1.36 -> 1.23 s, peak memory 148 -> 66 MB).
//!
//! An overlay may see only one key range of the source ([`Overlay::new`]'s `lo..hi`): a rehearsal
//! on many threads gives each thread a range, and each thread's hook migrates what lies in it.

use super::run_file::{failed, Run, RunReader, RunWriter};
use migrations::state_key::prefix_end;
use migrations::store::{Store, StoreError, Write, WriteBatch};
use snapshot::Snapshot;
use std::path::{Path, PathBuf};

/// Run files all of a rehearsal's overlays hold at most, a level: a run holds its file open (one
/// descriptor, however many read it), under the usual limit of 1,024 open files. An overlay
/// merges its runs of one level into one run of the next as soon as it holds its share of them
/// ([`fan_in`]).
const FILES: usize = 512;

/// Runs of one level an overlay holds at most, whatever its share: a pass reads every run at
/// once (in [`PASS_READ`]).
const MAX_FAN_IN: usize = 256;

/// Runs of one level merged into one run of the next when an overlay is one of `overlays`: the
/// rehearsal's share of [`FILES`], from 16 to [`MAX_FAN_IN`]. A merge rewrites every write of
/// the runs it merges (at 10,000,000 accounts on one thread, 64 a level merged three times and
/// rewrote 38 million records, 1.2 s of the loop's 8.4 s); wide, a state of tens of millions of
/// accounts merges seldom. What kept it narrow was that every scan of the loop read every run
/// at its start; a run now remembers where its next key is ([`Run::holds_none_in`]), and a scan
/// reads only the runs that hold a key where it looks.
pub(crate) fn fan_in(overlays: usize) -> usize {
    (FILES / overlays.max(1)).clamp(16, MAX_FAN_IN)
}

/// What a reader of a run in a scan of the loop reads at most at a time (the index's spacing).
const INDEX_READ: usize = 64 << 10;

/// What the readers of one pass range hold at most, all runs together: a pass reads every run
/// at once, and a rehearsal of tens of millions of values holds hundreds.
const PASS_READ: usize = 4 << 20;

/// What each of a pass's `runs` readers reads at a time: [`PASS_READ`] shared, each between a
/// merge's block and the index's spacing.
pub(crate) fn read_block(runs: usize) -> usize {
    PASS_READ / runs.max(1)
}

/// The largest segment a merge of segments makes, as a share of the budget (1/n); a batch at
/// least this large goes to a run of its own.
const DIRECT_SHARE: usize = 8;

/// Where a write of a [`Segment`] is in its buffer: the key at `at`, the value after it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    at: usize,
    key: u32,
    /// The value's length, or [`DELETE`].
    value: u32,
}

/// A [`Slot`]'s value length that says the write is a delete.
const DELETE: u32 = u32::MAX;

/// Sorted writes with distinct keys (one batch as the hook applied it, or several merged), their
/// keys and values in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Segment {
    bytes: Vec<u8>,
    slots: Vec<Slot>,
}

impl Segment {
    fn with_capacity(bytes: usize, writes: usize) -> Segment {
        Segment { bytes: Vec::with_capacity(bytes), slots: Vec::with_capacity(writes) }
    }

    /// A batch's writes (in key order, distinct, `bytes` of keys and values), copied.
    fn of(batch: &WriteBatch, bytes: usize) -> Result<Segment, StoreError> {
        let mut segment = Segment::with_capacity(bytes, batch.len());
        for (key, write) in batch.iter() {
            let value = match write {
                Write::Put(v) => Some(v.as_slice()),
                Write::Delete => None,
            };
            segment.push(key, value)?;
        }
        Ok(segment)
    }

    fn len(&self) -> usize {
        self.slots.len()
    }

    fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Bytes held.
    fn memory(&self) -> usize {
        self.bytes.capacity() + self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    fn push(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        let too_long = |what: &str| failed(format!("a {what} of more than 4 GiB in the overlay"));
        let slot = Slot {
            at: self.bytes.len(),
            key: u32::try_from(key.len()).map_err(|_| too_long("key"))?,
            value: match value {
                Some(v) => u32::try_from(v.len()).ok().filter(|n| *n != DELETE).ok_or_else(|| too_long("value"))?,
                None => DELETE,
            },
        };
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value.unwrap_or_default());
        self.slots.push(slot);
        Ok(())
    }

    fn key_of(&self, slot: &Slot) -> &[u8] {
        self.bytes.get(slot.at..slot.at + slot.key as usize).unwrap_or_default()
    }

    /// Write `i`: its key, and its value (`None`: a delete).
    fn get(&self, i: usize) -> Option<(&[u8], Option<&[u8]>)> {
        let slot = self.slots.get(i)?;
        let value = (slot.value != DELETE).then(|| {
            let start = slot.at + slot.key as usize;
            self.bytes.get(start..start + slot.value as usize).unwrap_or_default()
        });
        Some((self.key_of(slot), value))
    }

    /// The first write whose key is not below `key`.
    fn lower_bound(&self, key: &[u8]) -> usize {
        self.slots.partition_point(|s| self.key_of(s) < key)
    }

    /// The write at `key`, if any: `Some(None)` for a delete.
    fn find(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        let i = self.slots.binary_search_by(|s| self.key_of(s).cmp(key)).ok()?;
        self.get(i).map(|(_, value)| value)
    }
}

/// `older` and `newer` merged into one segment, `newer` winning a key both hold.
fn merge(older: Segment, newer: Segment) -> Result<Segment, StoreError> {
    let mut out = Segment::with_capacity(older.bytes.len() + newer.bytes.len(), older.len() + newer.len());
    Writes::of(vec![Layer::whole(&newer), Layer::whole(&older)], None)?.drain(|k, v| out.push(k, v))?;
    Ok(out)
}

/// A layer of writes, read from a key on: a memory segment or a run.
pub(crate) enum Layer<'a> {
    /// The segment's writes from `at` to `end`.
    Memory {
        segment: &'a Segment,
        at: usize,
        end: usize,
    },
    Run(RunReader),
}

impl<'a> Layer<'a> {
    /// Every write of `segment`.
    fn whole(segment: &'a Segment) -> Layer<'a> {
        Layer::Memory { segment, at: 0, end: segment.len() }
    }

    /// The layer's next write: its key and value (`None`: a delete).
    fn head(&self) -> Option<(&[u8], Option<&[u8]>)> {
        match self {
            Layer::Memory { segment, at, end } => segment.get(*at).filter(|_| at < end),
            Layer::Run(reader) => reader.head(),
        }
    }

    /// Bytes the next write's key shares with the key before it in this layer, where the layer
    /// knows it without comparing (a run's record says it; a segment does not: 0).
    fn shared(&self) -> usize {
        match self {
            Layer::Memory { .. } => 0,
            Layer::Run(reader) => reader.shared(),
        }
    }

    /// The key of the layer's next write.
    fn head_key(&self) -> Option<&[u8]> {
        match self {
            Layer::Memory { segment, at, end } => segment.get(*at).filter(|_| at < end).map(|(k, _)| k),
            Layer::Run(reader) => reader.head_key(),
        }
    }

    /// Moves past the layer's next write.
    fn advance(&mut self) -> Result<(), StoreError> {
        match self {
            Layer::Memory { at, end, .. } => {
                if at < end {
                    *at += 1;
                }
                Ok(())
            }
            Layer::Run(reader) => reader.advance(),
        }
    }
}

/// The writes of every layer from a key on, merged: the newest layer wins a key. Each write is
/// lent where its layer holds it ([`Writes::head`]), never copied out.
///
/// Layers mostly hold runs of keys no other layer holds (a block migrates the keys after the
/// previous block's): the layer that gave the last write keeps giving them, one comparison
/// each, while its next key is below every other layer's (`bound`), and all layers are compared
/// again only when it is not. That one comparison is mostly skipped too: keys of a run share
/// long prefixes (a struct's tag, then most of an account), and a key that shares more with the
/// key before it than that key shared with the bound is below the bound as that key was (the
/// comparison of two keys of 50 to 100 bytes was a twentieth of the pass).
pub(crate) struct Writes<'a> {
    /// Newest first.
    layers: Vec<Layer<'a>>,
    end: Option<Vec<u8>>,
    /// The layer whose next write is the current one (none: no write is left before `end`).
    current: Option<usize>,
    /// The smallest next key of the other layers when `current` was chosen (`bounded` false:
    /// they had none). Kept in one buffer: a write is never copied to be compared.
    bound: Vec<u8>,
    bounded: bool,
    /// Where the current key first differs from `bound`, being below it there (`None`: not
    /// known, or the key is a prefix of the bound).
    below_at: Option<usize>,
}

impl<'a> Writes<'a> {
    /// The writes of `layers` (newest first) merged, up to `end` (exclusive), at the first.
    pub(crate) fn of(layers: Vec<Layer<'a>>, end: Option<Vec<u8>>) -> Result<Writes<'a>, StoreError> {
        let mut writes = Writes { layers, end, current: None, bound: Vec::new(), bounded: false, below_at: None };
        writes.choose()?;
        Ok(writes)
    }

    /// The current write: its key and value (`None`: a delete); `None` when none is left.
    /// (Compared with `end` when it became the current one, not at each look: a scan looks at
    /// it once for each source entry.)
    pub(crate) fn head(&self) -> Option<(&[u8], Option<&[u8]>)> {
        self.layers.get(self.current?)?.head()
    }

    /// Drops the current write if it is at or past `end`: none is left then.
    fn check_end(&mut self) {
        if let (Some(i), Some(end)) = (self.current, self.end.as_deref()) {
            if self.layers.get(i).and_then(Layer::head_key).is_none_or(|k| k >= end) {
                self.current = None;
            }
        }
    }

    /// The current write's key.
    pub(crate) fn head_key(&self) -> Option<&[u8]> {
        self.head().map(|(k, _)| k)
    }

    /// Moves to the next write.
    pub(crate) fn advance(&mut self) -> Result<(), StoreError> {
        let Some(i) = self.current else { return Ok(()) };
        let Some(layer) = self.layers.get_mut(i) else { return Ok(()) };
        layer.advance()?;
        // The layer goes on while its next key is below the others' (which have not moved
        // since): it is the smallest, and no other layer holds it.
        let Some(key) = layer.head_key() else { return self.choose() };
        let below = if !self.bounded {
            true
        } else if self.below_at.is_some_and(|d| layer.shared() > d) {
            // The key's bytes up to and past `d` are the key before's: below the bound at `d`.
            true
        } else {
            self.below_at = below_at(key, &self.bound);
            self.below_at.is_some() || key < self.bound.as_slice()
        };
        if below {
            self.check_end();
            return Ok(());
        }
        self.choose()
    }

    /// Gives every write left to `emit`, in key order, as its layer holds it.
    pub(crate) fn drain(
        mut self,
        mut emit: impl FnMut(&[u8], Option<&[u8]>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        while let Some((key, value)) = self.head() {
            emit(key, value)?;
            self.advance()?;
        }
        Ok(())
    }

    /// The current write, copied out, and moves past it.
    pub(crate) fn next_write(&mut self) -> Result<Option<(Vec<u8>, Write)>, StoreError> {
        let Some((key, value)) = self.head() else { return Ok(None) };
        let write = (key.to_vec(), value.map_or(Write::Delete, |v| Write::Put(v.to_vec())));
        self.advance()?;
        Ok(Some(write))
    }

    /// Makes the first (newest) layer holding the smallest next key the current one, skips the
    /// older layers' writes at that key (overwritten), and notes the others' smallest next key.
    fn choose(&mut self) -> Result<(), StoreError> {
        let mut winner: Option<(usize, &[u8])> = None;
        for (i, layer) in self.layers.iter().enumerate() {
            if let Some(k) = layer.head_key() {
                if winner.is_none_or(|(_, best)| k < best) {
                    winner = Some((i, k));
                }
            }
        }
        let Some((winner, key)) = winner else {
            self.current = None;
            return Ok(());
        };
        // The key, held while the other layers move (the winner's does not).
        let mut at = std::mem::take(&mut self.bound);
        at.clear();
        at.extend_from_slice(key);
        self.bounded = false;
        let mut bound = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            if i == winner {
                continue;
            }
            // A newer layer cannot hold the key: the winner is the first holding it.
            if layer.head_key() == Some(at.as_slice()) {
                layer.advance()?;
            }
            if let Some(k) = layer.head_key() {
                if !self.bounded || k < bound.as_slice() {
                    bound.clear();
                    bound.extend_from_slice(k);
                    self.bounded = true;
                }
            }
        }
        self.bound = if self.bounded { bound } else { at };
        self.below_at = None;
        self.current = Some(winner);
        self.check_end();
        Ok(())
    }
}

/// Where `key` first differs from `bound` when it is below it there: `None` when it is not
/// below, or is a prefix of it.
fn below_at(key: &[u8], bound: &[u8]) -> Option<usize> {
    let d = migrations::state_key::common_prefix(key, bound);
    match (key.get(d), bound.get(d)) {
        (Some(k), Some(b)) if k < b => Some(d),
        _ => None,
    }
}

/// The source and the writes made over it, seen in the key range `lo..hi`.
pub struct Overlay<'s> {
    base: &'s Snapshot,
    /// The source keys this overlay sees: `lo` (inclusive) to `hi` (exclusive, `None`: the end).
    lo: Vec<u8>,
    hi: Option<Vec<u8>>,
    /// Segments of writes, oldest first; each small one holds more writes than the next.
    memory: Vec<Segment>,
    memory_bytes: usize,
    budget: usize,
    /// Runs, oldest first.
    runs: Vec<Run>,
    /// Run files made so far (they are numbered in order).
    files: usize,
    /// Runs of one level merged into one ([`fan_in`]; fewer in a test that must see merges).
    fan_in: usize,
    dir: PathBuf,
    name: String,
}

impl std::fmt::Debug for Overlay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay").field("runs", &self.runs.len()).field("segments", &self.memory.len()).finish()
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
            memory: Vec::new(),
            memory_bytes: 0,
            budget: budget.max(1 << 20),
            runs: Vec::new(),
            files: 0,
            fan_in: fan_in(1),
            dir: dir.to_path_buf(),
            name: name.to_owned(),
        }
    }

    /// This overlay, merging `n` runs of a level into one.
    pub(crate) fn with_fan_in(mut self, n: usize) -> Self {
        self.fan_in = n.max(2);
        self
    }

    /// Bytes of writes held in memory now.
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// A new run file.
    fn run_writer(&mut self) -> Result<RunWriter, StoreError> {
        let path = self.dir.join(format!("{}-{}.run", self.name, self.files));
        self.files += 1;
        RunWriter::create(path)
    }

    fn spill(&mut self) -> Result<(), StoreError> {
        let mut out = self.run_writer()?;
        let segments = std::mem::take(&mut self.memory);
        // Newest first: the first layer holding a key wins it.
        Writes::of(segments.iter().rev().map(Layer::whole).collect(), None)?.drain(|k, v| out.add(k, v))?;
        drop(segments);
        self.runs.push(out.finish(0)?);
        self.memory_bytes = 0;
        self.compact()
    }

    /// Merges the newest `fan_in` ([`fan_in`]) runs into one while they are of one level.
    fn compact(&mut self) -> Result<(), StoreError> {
        while let Some(first) = self.runs.len().checked_sub(self.fan_in) {
            let level = self.runs.get(first).map_or(0, |r| r.level);
            if self.runs.iter().skip(first).any(|r| r.level != level) {
                break;
            }
            let merging = self.runs.split_off(first);
            let mut out = self.run_writer()?;
            {
                let mut layers = Vec::with_capacity(merging.len());
                for run in merging.iter().rev() {
                    layers.push(Layer::Run(RunReader::merging(run)?));
                }
                // Deletes are kept: they hide the source's values.
                Writes::of(layers, None)?.drain(|k, v| out.add(k, v))?;
            }
            self.runs.push(out.finish(level + 1)?);
            for run in merging {
                let _ = std::fs::remove_file(&run.path);
            }
        }
        Ok(())
    }

    /// The writes (newest first: memory, then runs from the last spilled) from `from` on, up to
    /// `end` (exclusive).
    pub(crate) fn writes(&self, from: &[u8], end: Option<Vec<u8>>) -> Result<Writes<'_>, StoreError> {
        let layers = self.layers_to(from, end.as_deref(), INDEX_READ)?;
        Writes::of(layers, end)
    }

    /// Every layer of writes from `from` on (newest first), to merge with other overlays', its
    /// runs read `block` bytes at a time ([`read_block`]).
    pub(crate) fn layers(&self, from: &[u8], block: usize) -> Result<Vec<Layer<'_>>, StoreError> {
        self.layers_to(from, None, block)
    }

    /// Runs held (each a file open, and a reader in a pass).
    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// The layers holding writes in `from..end`: a run known to hold none there (most runs,
    /// for a scan of the loop: see [`Run::holds_none_in`]) is not read at all.
    fn layers_to(&self, from: &[u8], end: Option<&[u8]>, block: usize) -> Result<Vec<Layer<'_>>, StoreError> {
        let mut layers = Vec::with_capacity(self.memory.len() + self.runs.len());
        for segment in self.memory.iter().rev() {
            let at = segment.lower_bound(from);
            let end = end.map_or(segment.len(), |e| segment.lower_bound(e));
            layers.push(Layer::Memory { segment, at, end });
        }
        for run in self.runs.iter().rev() {
            if run.holds_none_in(from, end) {
                continue;
            }
            let reader = RunReader::at(run, from, block)?;
            if reader.head_key().is_none_or(|k| end.is_some_and(|e| k >= e)) {
                continue;
            }
            layers.push(Layer::Run(reader));
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
        for segment in self.memory.iter().rev() {
            if let Some(value) = segment.find(key) {
                return Ok(value.map(<[u8]>::to_vec));
            }
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
        let mut going = true;
        // The source, clipped to the range.
        let base_after = after.filter(|a| *a >= prefix);
        // Keys only grow: once one is at `lo` every later one is, and a scan that ends at or
        // before `hi` never reaches it. Each is compared while it may matter, not at every key.
        let lo = self.lo.as_slice();
        let mut below_lo = start.as_slice() < lo;
        let hi = self.hi.as_deref().filter(|h| end.as_deref().is_none_or(|e| e > *h));
        let mut error = None;
        self.base.scan_keys(prefix, base_after, &mut |key, value| {
            if below_lo {
                if key < lo {
                    return true;
                }
                below_lo = false;
            }
            if hi.is_some_and(|h| key >= h) {
                return false;
            }
            // Writes before this key first.
            while let Some((k, v)) = writes.head().filter(|(k, _)| *k < key) {
                if let Some(v) = v {
                    if !visit(k, v) {
                        going = false;
                        return false;
                    }
                }
                if let Err(e) = writes.advance() {
                    error = Some(e);
                    return false;
                }
            }
            let shown = match writes.head() {
                Some((k, v)) if k == key => {
                    let shown = v.is_none_or(|v| visit(key, v));
                    if let Err(e) = writes.advance() {
                        error = Some(e);
                        return false;
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
        while let Some((k, v)) = writes.head() {
            if let Some(v) = v {
                if !visit(k, v) {
                    break;
                }
            }
            writes.advance()?;
        }
        Ok(())
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        // A batch of a large share of the budget (a block's writes, most often) is written as a
        // run of its own at once: held, it would be copied into a segment and copied again at
        // the next spill, soon after. The writes held before it are spilled first (a run is
        // older than every segment).
        let bytes: usize =
            batch.iter().map(|(key, write)| key.len() + if let Write::Put(v) = write { v.len() } else { 0 }).sum();
        if bytes >= self.budget / DIRECT_SHARE {
            if !self.memory.is_empty() {
                self.spill()?;
            }
            let mut out = self.run_writer()?;
            for (key, write) in batch.iter() {
                out.add(
                    key,
                    match write {
                        Write::Put(v) => Some(v),
                        Write::Delete => None,
                    },
                )?;
            }
            self.runs.push(out.finish(0)?);
            return self.compact();
        }
        // A batch is in key order with distinct keys: a segment as it is.
        let segment = Segment::of(&batch, bytes)?;
        if segment.is_empty() {
            return Ok(());
        }
        self.memory.push(segment);
        // Merging copies both segments: only small ones, so that a merge never holds more than
        // an eighth of the budget twice (and there are at most a few dozen segments).
        while let [.., older, newer] = self.memory.as_slice() {
            if older.len() > newer.len() || older.memory() + newer.memory() > self.budget / DIRECT_SHARE {
                break;
            }
            let (Some(newer), Some(older)) = (self.memory.pop(), self.memory.pop()) else { break };
            self.memory.push(merge(older, newer)?);
        }
        self.memory_bytes = self.memory.iter().map(Segment::memory).sum();
        if self.memory_bytes > self.budget {
            self.spill()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::AddressLength;
    use migrations::state_key::{table_prefix, StateKey};
    use migrations::store::InMemoryStore;
    use migrations::AccountAddress;

    const WIDTH: AddressLength = AddressLength::Bytes16;

    /// A table item's key: one of three tables, item `n`.
    fn key(table: u64, n: u64) -> Vec<u8> {
        let handle = AccountAddress::from_u64(table, WIDTH);
        StateKey::TableItem { handle, key: n.to_be_bytes().to_vec() }.encode()
    }

    /// A small deterministic generator (xorshift).
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    fn scan(store: &dyn Store, prefix: &[u8], after: Option<&[u8]>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        store
            .scan_keys(prefix, after, &mut |k, v| {
                out.push((k.to_vec(), v.to_vec()));
                true
            })
            .unwrap();
        out
    }

    /// Layers of runs and segments whose keys share long prefixes and interleave in stretches
    /// (as blocks' writes do), merged: every write once, in key order, the newest layer's where
    /// two hold a key; the same from any key on. The shortcut that skips comparing a run's key
    /// with the other layers' smallest is taken often here, and wrongly taken would misorder.
    #[test]
    fn layers_with_long_shared_prefixes_merge_in_key_order_with_the_newest_winning() {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        // A key: one of a few long heads, then an 8-byte number (big-endian: stretches of
        // numbers share all but their last bytes), sometimes cut short or lengthened.
        let make = |rng: &mut Rng| {
            let mut k = vec![0xAB; 40];
            k.push(rng.below(3) as u8);
            let base = rng.below(1 << 20) & !0xff;
            let n = base + rng.below(256);
            k.extend_from_slice(&n.to_be_bytes());
            match rng.below(10) {
                0 => k.truncate(k.len() - 1 - rng.below(6) as usize),
                1 => k.push(rng.below(256) as u8),
                _ => {}
            }
            k
        };
        for round in 0..20u64 {
            // Newest first, as an overlay gives them.
            let mut layers_writes: Vec<std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>> = Vec::new();
            for _ in 0..=rng.below(6) {
                let mut w = std::collections::BTreeMap::new();
                // Stretches of neighbouring keys, as a block writes them.
                for _ in 0..=rng.below(8) {
                    let start = make(&mut rng);
                    let mut k = start.clone();
                    for _ in 0..rng.below(300) {
                        let value = (rng.below(5) != 0).then(|| vec![round as u8; rng.below(40) as usize]);
                        w.insert(k.clone(), value);
                        // The next key: the last byte up by a little, carried.
                        let mut i = k.len() - 1;
                        loop {
                            let (b, carry) = k[i].overflowing_add(1 + rng.below(3) as u8);
                            k[i] = b;
                            if !carry || i == 0 {
                                break;
                            }
                            i -= 1;
                        }
                    }
                }
                layers_writes.push(w);
            }
            let mut expected = std::collections::BTreeMap::new();
            for w in layers_writes.iter().rev() {
                expected.extend(w.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            let segments: Vec<Option<Segment>> = layers_writes
                .iter()
                .map(|w| {
                    (rng.below(3) == 0).then(|| {
                        let mut seg = Segment::default();
                        for (k, v) in w {
                            seg.push(k, v.as_deref()).unwrap();
                        }
                        seg
                    })
                })
                .collect();
            let mut runs = Vec::new();
            for (i, w) in layers_writes.iter().enumerate() {
                let mut writer = RunWriter::create(dir.path().join(format!("{round}-{i}.run"))).unwrap();
                for (k, v) in w {
                    writer.add(k, v.as_deref()).unwrap();
                }
                runs.push(writer.finish(0).unwrap());
            }
            let mut froms = vec![Vec::new()];
            froms.extend(expected.keys().step_by(97).cloned());
            for from in froms {
                let layers = segments
                    .iter()
                    .zip(&runs)
                    .map(|(seg, run)| match seg {
                        Some(seg) => Layer::Memory { segment: seg, at: seg.lower_bound(&from), end: seg.len() },
                        None => {
                            let mut reader = RunReader::open(run, &from).unwrap();
                            while reader.head_key().is_some_and(|k| k < from.as_slice()) {
                                reader.advance().unwrap();
                            }
                            Layer::Run(reader)
                        }
                    })
                    .collect();
                let mut got = Vec::new();
                Writes::of(layers, None)
                    .unwrap()
                    .drain(|k, v| {
                        got.push((k.to_vec(), v.map(<[u8]>::to_vec)));
                        Ok(())
                    })
                    .unwrap();
                let want: Vec<_> = expected.range(from.clone()..).map(|(k, v)| (k.clone(), v.clone())).collect();
                assert_eq!(got, want, "round {round}, from {from:?}");
            }
        }
    }

    #[test]
    fn batches_in_segments_and_runs_read_as_one_store_with_the_newest_write_winning() {
        const KEYS: u64 = 100_000;
        let dir = tempfile::tempdir().unwrap();
        let mut model = InMemoryStore::new();
        let mut base = WriteBatch::new();
        for n in (0..KEYS).step_by(2) {
            base.put_key(key(n % 3, n), vec![1; 40]);
        }
        model.apply(base).unwrap();
        let path = dir.path().join("base.snap");
        snapshot::export(&model, 0, serde_json::Value::Null, WIDTH, &path).unwrap();
        let snap = Snapshot::open(&path).unwrap();
        let mut overlay = Overlay::new(&snap, Vec::new(), None, 0, dir.path(), "test").with_fan_in(16);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Batches of 1 to 3,000 writes (puts over the source's keys and between them, deletes),
        // about 200,000 in all, most to keys not written before: some 20 spills of the 1 MiB
        // budget (the first 16 merged into one run), segments merged between them.
        for round in 0..400u64 {
            let mut batch = WriteBatch::new();
            for _ in 0..=rng.below(if round % 3 == 0 { 3_000 } else { 40 }) {
                let n = rng.below(KEYS);
                if rng.below(4) == 0 {
                    batch.delete_key(key(n % 3, n));
                } else {
                    batch.put_key(key(n % 3, n), vec![(round % 250) as u8; 100 + (n % 50) as usize]);
                }
            }
            overlay.apply(batch.clone()).unwrap();
            model.apply(batch).unwrap();
            assert!(overlay.memory.len() <= 40, "{overlay:?}");
        }
        let levels: Vec<u32> = overlay.runs.iter().map(|r| r.level).collect();
        assert!(levels.first() == Some(&1) && levels.len() >= 3, "{levels:?}");
        assert_eq!(scan(&overlay, &[], None), scan(&model, &[], None));
        for table in 0..3 {
            let prefix = table_prefix(&AccountAddress::from_u64(table, WIDTH));
            assert_eq!(scan(&overlay, &prefix, None), scan(&model, &prefix, None));
            let after = key(table, KEYS / 2 + 1);
            assert_eq!(scan(&overlay, &prefix, Some(&after)), scan(&model, &prefix, Some(&after)));
        }
        for n in (0..KEYS).step_by(37) {
            assert_eq!(overlay.get_key(&key(n % 3, n)).unwrap(), model.get_key(&key(n % 3, n)).unwrap(), "{n}");
        }
    }
}
