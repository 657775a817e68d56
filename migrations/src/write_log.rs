//! Many small batches made one after another, gathered into one [`WriteBatch`] at the end.
//!
//! The migration loop makes one small batch per value (its new version put, its old one
//! deleted) and the chunk's batch is their union, the later write to a key winning. Inserting
//! each write into the chunk's map searched it from the root, comparing state keys that share
//! long prefixes at every node: a sixth of a whole rehearsal's time went there. Here writes are
//! appended to a few ascending runs instead (a value's writes go to a handful of key ranges,
//! each visited in key order, so two or three runs hold them all), merged once at the end. Every
//! run's keys go end to end into one buffer, which becomes the batch's: a key is copied once,
//! from the value's batch, and never allocated on its own.

use crate::key_list::{hold, KeyList, Span};
use crate::store::{MixedWrite, Write, WriteBatch};

/// Where a signer's writes go: a batch, or (in the migration loop, once the meter admitted the
/// value) straight into the chunk's log, with no batch of the value's own in between (moving
/// each value's two writes through one was 5% of a rehearsal).
pub(crate) trait WriteSink {
    fn put_key(&mut self, key: &[u8], bytes: Vec<u8>);
    fn delete_key(&mut self, key: &[u8]);
}

impl WriteSink for WriteBatch {
    fn put_key(&mut self, key: &[u8], bytes: Vec<u8>) {
        WriteBatch::put_key(self, key, bytes);
    }

    fn delete_key(&mut self, key: &[u8]) {
        WriteBatch::delete_key(self, key);
    }
}

impl WriteSink for WriteLog {
    fn put_key(&mut self, key: &[u8], bytes: Vec<u8>) {
        self.push(key, Write::Put(bytes));
    }

    fn delete_key(&mut self, key: &[u8]) {
        self.push(key, Write::Delete);
    }
}

/// Runs kept apart before writes go to the unordered tail (sorted all the same at the end).
const MAX_RUNS: usize = 8;

/// A write: where its key is, when it was made (the later wins), and the write.
type Logged = (Span, u64, Write);

/// Writes in the order they were made, for one [`WriteBatch`] at the end.
#[derive(Debug, Default)]
pub struct WriteLog {
    /// Every write's key, end to end.
    keys: Vec<u8>,
    /// Strictly ascending runs of `(key, order made, write)`; the last may be unordered once
    /// [`MAX_RUNS`] are in use.
    runs: Vec<Vec<Logged>>,
    made: u64,
    mixed: Option<MixedWrite>,
    /// Writes each new run is sized for.
    expected: usize,
    /// The runs the last two writes went to, the older first: a value's writes alternate
    /// between two key ranges (its old key and its new one), so the run the write before the
    /// last went to is tried first (one comparison a write, not one per run before it).
    recent: [usize; 2],
}

/// Writes a batch made by [`WriteLog::into_batch`] has room for past the log's own.
const ROOM_AFTER: usize = 8;

/// Writes a run is sized for at most when it is made: past it, it grows as it fills. Large
/// enough for a rehearsal's block (100,000 values, two writes each): a log sized for 16,384
/// grew its buffers three times a block, copying what they held each time (a million-account
/// rehearsal's loop 0.79 -> 0.74 s, and 6 MB less at its peak). The memory is reserved, and
/// only what is written is touched; a node's budget (1,000 values a block) is far below.
const MAX_EXPECTED: usize = 1 << 17;

/// Bytes of key the buffer is first sized for, per expected write: a resource key of a
/// 32-byte chain is 60 to 100 bytes.
const KEY_BYTES: usize = 96;

impl WriteLog {
    /// An empty log.
    pub fn new() -> WriteLog {
        WriteLog::default()
    }

    /// An empty log whose runs are sized for about `writes` writes each (capped), made once
    /// instead of grown: each time a large buffer grows, the allocator gathers every small block
    /// freed since, and a chunk frees some per value.
    pub fn with_capacity(writes: usize) -> WriteLog {
        WriteLog { expected: writes.min(MAX_EXPECTED), ..WriteLog::default() }
    }

    /// Adds `batch`'s writes after every earlier one (they win over earlier writes to a key),
    /// leaving `batch` empty for the next writes (its allocation kept: a chunk reuses one batch
    /// for every value).
    pub fn add_from(&mut self, batch: &mut WriteBatch) {
        let mixed = batch.drain_into(|key, write| self.push(key, write));
        if self.mixed.is_none() {
            self.mixed = mixed;
        }
    }

    fn push(&mut self, key: &[u8], write: Write) {
        if self.keys.capacity() == 0 {
            // Two writes per value, most often.
            self.keys.reserve(self.expected.saturating_mul(2 * KEY_BYTES));
        }
        let made = self.made;
        self.made += 1;
        let full = self.runs.len() >= MAX_RUNS;
        let last = self.runs.len().saturating_sub(1);
        let keys = &mut self.keys;
        let [older, newer] = self.recent;
        if let Some(run) = self.runs.get_mut(older) {
            if run.last().is_some_and(|(k, _, _)| k.of(keys) < key) {
                run.push((hold(keys, key), made, write));
                self.recent = [newer, older];
                return;
            }
        }
        for (i, run) in self.runs.iter_mut().enumerate() {
            if run.last().is_none_or(|(k, _, _)| k.of(keys) < key) || (full && i == last) {
                run.push((hold(keys, key), made, write));
                self.recent = [newer, i];
                return;
            }
        }
        // A few writes of room past the expected: the first value's two writes both go to the
        // first run (its new key is above its old one), so that run holds one more than the
        // values, and growing it by one moved all it held.
        let mut run = Vec::with_capacity(self.expected.saturating_add(ROOM_AFTER));
        run.push((hold(keys, key), made, write));
        self.recent = [newer, self.runs.len()];
        self.runs.push(run);
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.made == 0 && self.mixed.is_none()
    }

    /// The writes as one batch, the last write to each key kept.
    pub fn into_batch(self) -> WriteBatch {
        let keys = self.keys;
        let mut runs = self.runs;
        // Only the last run may be out of order, and only once every run was in use (before,
        // a write goes to a run only after a smaller key).
        let full = runs.len() >= MAX_RUNS;
        if let Some(last) = runs.last_mut().filter(|_| full) {
            if !last.is_sorted_by(|a, b| a.0.of(&keys) < b.0.of(&keys)) {
                last.sort_by(|a, b| a.0.of(&keys).cmp(b.0.of(&keys)).then(a.1.cmp(&b.1)));
            }
        }
        // The run that may hold a key twice (the last, once every run was in use).
        let unordered = if full { runs.len().checked_sub(1) } else { None };
        let mut heads: Vec<_> = runs.into_iter().map(Vec::into_iter).collect();
        // The run the last write merged came from: the next write from the same strictly
        // ascending run cannot be at its key (no comparison).
        let mut previous: Option<usize> = None;
        // Room for a few writes more: a block adds its status to the batch of its chunk, and a
        // list sized exactly moved every write of the chunk to grow by one.
        let room = usize::try_from(self.made).unwrap_or(0).saturating_add(ROOM_AFTER);
        let mut merged: Vec<(Span, Write)> = Vec::with_capacity(room);
        // A run's writes mostly come in long stretches no other run's keys fall between (a
        // value's new key and its old one go to two runs, each ascending): the run whose head
        // comes first gives every write below the other runs' smallest head (`bound`), found by
        // galloping (a few comparisons a stretch, not one a write: the merge of a block's
        // 200,000 writes compared each), and all heads are compared again after the stretch.
        loop {
            // The run whose head comes first (by key, then by when it was made).
            let mut first: Option<(usize, &[u8], u64)> = None;
            for (i, run) in heads.iter().enumerate() {
                if let Some((span, made, _)) = run.as_slice().first() {
                    let key = span.of(&keys);
                    if first.is_none_or(|(_, k, m)| (key, *made) < (k, m)) {
                        first = Some((i, key, *made));
                    }
                }
            }
            let Some((i, _, _)) = first else { break };
            // The smallest head of the other runs: (key, made).
            let mut bound: Option<(&[u8], u64)> = None;
            for (j, run) in heads.iter().enumerate() {
                if j == i {
                    continue;
                }
                if let Some((span, made, _)) = run.as_slice().first() {
                    let head = (span.of(&keys), *made);
                    if bound.is_none_or(|b| head < b) {
                        bound = Some(head);
                    }
                }
            }
            let Some(run) = heads.get_mut(i) else { break };
            let stretch = match bound {
                Some(b) => below(run.as_slice(), |(span, made, _)| (span.of(&keys), *made) < b),
                None => run.len(),
            };
            for (n, (span, _, write)) in run.by_ref().take(stretch.max(1)).enumerate() {
                // Only the stretch's first write may be at the key merged last (another run's),
                // or any write of the run that may hold a key twice.
                let distinct = (n > 0 || previous == Some(i)) && unordered != Some(i);
                match merged.last_mut() {
                    Some((s, w)) if !distinct && s.of(&keys) == span.of(&keys) => *w = write,
                    _ => merged.push((span, write)),
                }
            }
            previous = Some(i);
        }
        // Sorted and distinct, over the log's own buffer: the batch holds them as they are.
        WriteBatch::from_sorted(KeyList::from_parts(keys, merged), self.mixed)
    }
}

/// How many of `sorted`'s first items are `is_below` (which holds for a prefix of them), found
/// by galloping: the first, then twice as far each time, then a binary search of the last step.
fn below<T>(sorted: &[T], is_below: impl Fn(&T) -> bool) -> usize {
    let mut known = 0;
    let mut step = 1;
    while let Some(item) = sorted.get(known + step - 1) {
        if !is_below(item) {
            let rest = sorted.get(known..known + step - 1).unwrap_or_default();
            return known + rest.partition_point(&is_below);
        }
        known += step;
        step *= 2;
    }
    known + sorted.get(known..).unwrap_or_default().partition_point(&is_below)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same writes, inserted one by one into a batch (the reference) and gathered by the log.
    fn both(writes: &[(Vec<u8>, Option<u8>)]) -> (WriteBatch, WriteBatch) {
        let mut reference = WriteBatch::new();
        let mut log = WriteLog::new();
        // One batch for every value, as the runner keeps it: drained by the log each time.
        let mut one = WriteBatch::new();
        for chunk in writes.chunks(2) {
            for (key, value) in chunk {
                let write = value.map_or(Write::Delete, |v| Write::Put(vec![v]));
                one.write_key(key, write);
            }
            reference.extend(one.clone());
            log.add_from(&mut one);
        }
        (reference, log.into_batch())
    }

    #[test]
    fn the_log_gives_the_batch_inserting_each_write_gives() {
        // Two interleaved ascending sequences (a versioned migration's deletes and puts), keys
        // written again later, descending runs past the run limit, and duplicates inside one.
        let mut writes = Vec::new();
        for i in 0..50u8 {
            writes.push((vec![1, i], None));
            writes.push((vec![3, i], Some(i)));
        }
        for i in (0..40u8).rev() {
            writes.push((vec![2, i], Some(i)));
        }
        for i in 0..20u8 {
            writes.push((vec![1, i * 2], Some(200)));
            writes.push((vec![1, i * 2], Some(201)));
        }
        let mut seed = 7u64;
        for _ in 0..500 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let k = (seed >> 33) as u8 % 16;
            let v = (seed >> 41) as u8;
            writes.push((vec![k % 4, k], if v.is_multiple_of(3) { None } else { Some(v) }));
        }
        let (reference, gathered) = both(&writes);
        assert_eq!(gathered, reference);
        assert!(gathered.len() > 100);
    }

    /// Runs apart (made in either order, or three), runs that meet at one key (written twice:
    /// the later wins) and runs that interleave write for write: galloping takes each run's
    /// stretches whole and gives the batch inserting each write gives.
    #[test]
    fn runs_apart_or_touching_give_the_batch_inserting_each_write_gives() {
        let seq = |head: u8, from: u8, to: u8, value: Option<u8>| -> Vec<(Vec<u8>, Option<u8>)> {
            (from..to).map(|i| (vec![head, 9, 9, 9, i], value)).collect()
        };
        // A versioned migration: deletes under the old tag, puts under the new one, alternating.
        let mut versioned = Vec::new();
        for i in 0..60u8 {
            versioned.push((vec![1, 9, 9, 9, i], None));
            versioned.push((vec![3, 9, 9, 9, i], Some(i)));
        }
        // The same, the new tag below the old: made second, first in the batch.
        let mut below = Vec::new();
        for i in 0..60u8 {
            below.push((vec![5, 9, 9, 9, i], None));
            below.push((vec![2, 9, 9, 9, i], Some(i)));
        }
        // Three runs: a high one, then a low one, then one between them.
        let mut three = seq(7, 0, 30, Some(1));
        three.extend(seq(1, 0, 30, None));
        three.extend(seq(4, 0, 30, Some(2)));
        // Two runs whose ranges meet at one key (written twice: the later wins).
        let mut touching = seq(1, 0, 30, Some(1));
        touching.extend(seq(1, 29, 60, Some(2)).into_iter().take(1));
        touching.extend(seq(0, 0, 10, None));
        // Two runs that interleave.
        let mut interleaved: Vec<_> = (0..40u8).map(|i| (vec![1, 9, 9, 9, i * 2], Some(i))).collect();
        interleaved.extend((0..40u8).map(|i| (vec![1, 9, 9, 9, i * 2 + 1], None)));
        for writes in [versioned, below, three, touching, interleaved] {
            let (reference, gathered) = both(&writes);
            assert_eq!(gathered, reference, "{writes:?}");
        }
    }

    /// Galloping finds where a predicate that holds for a prefix stops holding, for every
    /// length and every place.
    #[test]
    fn galloping_finds_the_end_of_the_prefix_below() {
        for len in 0..70usize {
            let items: Vec<usize> = (0..len).collect();
            for end in 0..=len {
                assert_eq!(below(&items, |x| *x < end), end, "{len} items, {end} below");
            }
        }
    }

    #[test]
    fn an_empty_log_is_an_empty_batch() {
        let log = WriteLog::new();
        assert!(log.is_empty());
        assert!(log.into_batch().is_empty());
    }
}
