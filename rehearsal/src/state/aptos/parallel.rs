//! A pass over a backup on many threads. Recomputing the root costs about four SHA3-256
//! permutations a record (its key, its value, its leaf, and about one internal node); only the
//! internal nodes joining chunks depend on the records of other chunks. So each chunk is read,
//! parsed and hashed on a thread of its own, up to the subtrees that lie wholly inside it
//! ([`Grouper`]), and the caller's thread takes the chunks in the manifest's order, joins their
//! subtrees into the tree (a few dozen nodes a chunk) and hands the records kept to its callback;
//! a pass handing every record on (the rehearsal's sort) has its reading, parsing and hashing
//! taken off the caller's thread.
//!
//! What it checks, what it refuses and in which order, and the summary, are those of the pass
//! on one thread ([`AptosBackup::visit`]): the first error in record order wins, whatever the
//! threads finish first.
//!
//! Memory is a setting, never the state's size nor a chunk's (a real backup's chunk holds up to
//! 128 MiB of records). A reader hands its chunk on in batches of about [`STEP`] bytes (counted
//! as 64 bytes a record, and the records kept). The reader of the chunk the fold takes next
//! waits while two of its batches are not folded yet; the others wait while the batches not
//! folded hold more than [`AptosOptions::memory`]. The fold therefore always has a batch coming,
//! and the readers hold the budget, two batches, and one batch each being filled.

use super::hash::Hashes;
use super::{count_kind, out_of_order, read_chunk, too_many, AptosBackup, AptosRecord, AptosStateKey, AptosSummary};
use super::{ChunkEnd, ChunkError, KindCounts, RecordSink, RootBuilder};
use crate::state::diem::hash::Hash;
use crate::state::diem::smt::{first_difference, NodeHashes, Subtree};
use crate::state::{At, Origin, StateError};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Bytes the readers may hold for the fold when [`AptosOptions::memory`] says nothing.
pub const DEFAULT_MEMORY: usize = 64 << 20;

/// Bytes of a batch: a reader hands its batch on past them.
const STEP: usize = 256 << 10;

/// What a record costs a batch when the root is recomputed (its leaf, folded into the chunk's
/// subtrees on the reader's thread: the batch holds fewer, but is handed on at the same pace);
/// a kept record costs its payload and this.
const LEAF: usize = 64;
const KEPT: usize = 56;

/// Batches of the chunk the fold takes next that may wait for it.
const AHEAD: usize = 2;

/// Records kept for the caller (see [`AptosBackup::visit_on_threads`]): their payloads end to
/// end in blocks, parsed again when handed on. A record parsed is a dozen allocations (its
/// tag's names, its value), and allocations made on a reader's thread and freed on the
/// caller's doubled the memory a pass held.
#[derive(Default)]
struct Kept {
    /// Blocks of [`STEP`] bytes (a larger payload has one of its own), filled one after another.
    blocks: Vec<Vec<u8>>,
    /// Each record's block, its payload's place in it, its frame's byte in the chunk, its key
    /// hash.
    records: Vec<(usize, Range<usize>, u64, Hash)>,
}

impl Kept {
    /// Keeps `payload`; says the bytes it took (a batch is handed on once it holds [`STEP`], so
    /// the room left in its last block is never more than one block).
    fn keep(&mut self, payload: &[u8], at: u64, key_hash: Hash) -> usize {
        let room = self.blocks.last().is_some_and(|b| b.capacity() - b.len() >= payload.len());
        if !room {
            self.blocks.push(Vec::with_capacity(STEP.max(payload.len())));
        }
        let block = self.blocks.len().saturating_sub(1);
        if let Some(b) = self.blocks.last_mut() {
            let start = b.len();
            b.extend_from_slice(payload);
            self.records.push((block, start..b.len(), at, key_hash));
        }
        KEPT + payload.len()
    }

    fn payload(&self, block: usize, range: &Range<usize>) -> &[u8] {
        self.blocks.get(block).and_then(|b| b.get(range.clone())).unwrap_or_default()
    }
}

/// Part of a chunk, as its reader hands it to the fold.
#[derive(Default)]
struct Batch {
    /// The chunk's leaves folded into subtrees, in order, each with its first and last key and
    /// its leaves (when the root is recomputed: see [`Grouper`]).
    trees: Vec<(Subtree, Hash, Hash, u64)>,
    kinds: KindCounts,
    records: u64,
    bytes: u64,
    /// The chunk's first record (in its first batch): its key, key hash and byte, checked
    /// against the chunk before by the fold.
    first: Option<(AptosStateKey, Hash, u64)>,
    kept: Kept,
    /// Bytes accounted for (see [`Window`]).
    held: usize,
    /// In the chunk's last batch: how reading it ended, or its first error (from its own
    /// checks at a record, for record 0 before the check against the chunk before; or from the
    /// count of records, after it).
    end: Option<Result<ChunkEnd, ChunkError>>,
}

/// The batches handed on and not folded yet, where the fold is, and the bytes held.
struct Shared {
    done: BTreeMap<(usize, usize), Batch>,
    /// The chunk the fold takes next.
    folded: usize,
    stop: bool,
    held: usize,
}

/// Where the readers and the fold meet.
struct Window<'a> {
    shared: &'a Mutex<Shared>,
    changed: &'a Condvar,
    /// Bytes the batches not folded may hold together.
    budget: usize,
}

impl Window<'_> {
    /// Hands batch `seq` of chunk `chunk` on, then waits while its reader must (see the
    /// module's docs). `false`: the fold has stopped.
    fn hand_on(&self, chunk: usize, seq: usize, batch: Batch) -> bool {
        let Ok(mut s) = self.shared.lock() else { return false };
        s.held = s.held.saturating_add(batch.held);
        s.done.insert((chunk, seq), batch);
        self.changed.notify_all();
        loop {
            let full = if chunk == s.folded {
                s.done.range((chunk, 0)..(chunk + 1, 0)).count() >= AHEAD
            } else {
                s.held > self.budget
            };
            if s.stop || !full {
                return !s.stop;
            }
            let Ok(guard) = self.changed.wait(s) else { return false };
            s = guard;
        }
    }

    /// Takes batch `seq` of chunk `chunk` for the fold, waiting for it.
    fn take(&self, chunk: usize, seq: usize) -> Option<Batch> {
        let mut s = self.shared.lock().ok()?;
        loop {
            if let Some(batch) = s.done.remove(&(chunk, seq)) {
                s.held = s.held.saturating_sub(batch.held);
                if batch.end.is_some() {
                    s.folded = chunk + 1;
                }
                self.changed.notify_all();
                return Some(batch);
            }
            s = self.changed.wait(s).ok()?;
        }
    }
}

/// Stops the readers however the fold ends (an error included).
struct StopOnDrop<'a>(&'a Mutex<Shared>, &'a Condvar);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.lock() {
            s.stop = true;
        }
        self.1.notify_all();
    }
}

impl AptosBackup {
    /// [`AptosBackup::visit`] on `threads` threads: everything it checks (the root recomputed
    /// unless a complete pass verified it), the same summary and the same first error. Records
    /// whose key `keep` accepts are handed to `kept`, in order; a chunk keeps `keep_bytes` of
    /// their values at most (past them, a caller whose own bound is no larger has refused the
    /// state before it needs more).
    pub fn visit_on_threads(
        &mut self,
        threads: usize,
        keep: &(dyn Fn(&AptosStateKey) -> bool + Sync),
        keep_bytes: usize,
        kept: RecordSink<'_>,
    ) -> Result<AptosSummary, StateError> {
        let hashes = Hashes::new(self.salt);
        let recompute = !matches!(self.last, Some(AptosSummary { root: super::RootCheck::Verified, .. }));
        let threads = threads.clamp(1, self.manifest.chunks.len().max(1));
        let shared = Mutex::new(Shared { done: BTreeMap::new(), folded: 0, stop: false, held: 0 });
        let changed = Condvar::new();
        let budget = match self.options.memory {
            0 => DEFAULT_MEMORY,
            m => m,
        };
        let window = Window { shared: &shared, changed: &changed, budget };
        let next = AtomicUsize::new(0);
        let failed = || StateError::Unsupported {
            path: self.manifest.path.clone(),
            reason: "a thread reading the backup failed".into(),
        };
        let (summary, root) = std::thread::scope(|scope| -> Result<_, StateError> {
            let _stop = StopOnDrop(&shared, &changed);
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(c), Some(file)) = (self.manifest.chunks.get(i), self.files.get(i)) else { return };
                    let Some(path) = file else {
                        // A missing file: nothing to read, the fold notes it.
                        let end = Batch { end: Some(Ok(ChunkEnd::default())), ..Batch::default() };
                        if !window.hand_on(i, 0, end) {
                            return;
                        }
                        continue;
                    };
                    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let next = self.manifest.chunks.get(i + 1).map(|n| n.first_key);
                        read_one(
                            &self.manifest.path,
                            (i, c, next),
                            path,
                            (&hashes, recompute),
                            (keep, keep_bytes),
                            &window,
                        )
                    }));
                    let handed = match read {
                        Ok(handed) => handed,
                        Err(_) => {
                            let error = StateError::Unsupported {
                                path: path.clone(),
                                reason: "the thread reading this chunk failed".into(),
                            };
                            let end = Some(Err(ChunkError::Checks { record: 0, error }));
                            window.hand_on(i, 0, Batch { end, ..Batch::default() })
                        }
                    };
                    if !handed {
                        return;
                    }
                });
            }
            let mut root = RootBuilder::new(hashes.clone());
            let mut previous: Option<Hash> = None;
            let mut s = AptosSummary::empty();
            for (i, (c, file)) in self.manifest.chunks.iter().zip(&self.files).enumerate() {
                let Some(path) = file else {
                    window.take(i, 0).ok_or_else(failed)?;
                    self.note_missing(&mut s, c);
                    continue;
                };
                let file: Rc<Path> = Rc::from(path.as_path());
                for seq in 0.. {
                    let batch = window.take(i, seq).ok_or_else(failed)?;
                    if seq == 0 {
                        // The checks in the order one thread makes them: record 0's own, then
                        // its order against the chunk before, then the rest of the chunk's.
                        if let Some(Err(ChunkError::Checks { record: 0, error })) = batch.end {
                            return Err(error);
                        }
                        if let (Some((key, hash, at)), Some(p)) = (&batch.first, previous) {
                            if p >= *hash {
                                return Err(out_of_order(path, *at, c.first_idx, key, hash, &p));
                            }
                        }
                    }
                    // The records before the first error (only those were kept) are handed on
                    // before it, as one thread hands them.
                    for (block, range, at, key_hash) in &batch.kept.records {
                        let rec = super::parse_record(batch.kept.payload(*block, range)).map_err(|e| {
                            StateError::Corrupt {
                                path: path.clone(),
                                offset: *at,
                                reason: format!("a record read again does not parse: {e}"),
                            }
                        })?;
                        let origin = Origin { file: file.clone(), at: At::Byte(*at) };
                        kept(AptosRecord {
                            key: &rec.key,
                            key_hash: *key_hash,
                            value: rec.value.data,
                            metadata: rec.value.metadata.as_ref(),
                            origin: &origin,
                        })?;
                    }
                    for (tree, first, last, leaves) in &batch.trees {
                        root.add_subtree(*tree, (first, last), *leaves);
                    }
                    s.kinds.add(&batch.kinds);
                    s.records += batch.records;
                    s.bytes += batch.bytes;
                    match batch.end {
                        None => continue,
                        Some(Err(e)) => return Err(e.into_error()),
                        Some(Ok(end)) => {
                            previous = end.last.or(previous);
                            self.finish_chunk(&mut s, c, path, &end)?;
                            break;
                        }
                    }
                }
            }
            Ok((s, root))
        })?;
        self.conclude(summary, recompute.then_some(root))
    }
}

/// Reads one chunk on a reader thread, handing it on in batches: every check of the pass on one
/// thread but the order against the chunk before, each record hashed up to its leaf when the
/// root is recomputed. `false`: the fold has stopped.
fn read_one(
    manifest: &Path,
    (i, c, next): (usize, &super::ManifestChunk, Option<Hash>),
    path: &Path,
    (hashes, recompute): (&Hashes, bool),
    (keep, keep_bytes): (&(dyn Fn(&AptosStateKey) -> bool + Sync), usize),
    window: &Window<'_>,
) -> bool {
    let mut batch = Batch::default();
    let mut grouper = Grouper::new(hashes.clone(), next);
    let mut seq = 0;
    let mut kept_bytes = 0usize;
    let expected = c.records();
    let result = read_chunk(manifest, c, path, hashes, &mut |r| {
        if r.count == 0 {
            batch.first = Some((r.rec.key.clone(), r.key_hash, r.at));
        }
        if r.count >= expected {
            return Err(too_many(path, r.at, c));
        }
        if recompute {
            let leaf = hashes.leaf(&r.key_hash, &hashes.state_value(r.rec.value.bcs));
            grouper.push(&r.key_hash, &leaf, &mut batch.trees);
            batch.held += LEAF;
        }
        count_kind(&mut batch.kinds, &r.rec.key, r.rec.value.metadata.is_some());
        batch.records += 1;
        batch.bytes += r.framed;
        if kept_bytes <= keep_bytes && keep(&r.rec.key) {
            kept_bytes = kept_bytes.saturating_add(r.rec.value.data.len());
            batch.held = batch.held.saturating_add(batch.kept.keep(r.payload, r.at, r.key_hash));
        }
        if batch.held >= STEP {
            if !window.hand_on(i, seq, std::mem::take(&mut batch)) {
                return Err(StateError::Unsupported { path: path.to_path_buf(), reason: "the pass stopped".into() });
            }
            seq += 1;
        }
        Ok(())
    });
    // The chunk has ended (or stopped): its last subtree is handed on.
    grouper.close(&mut batch.trees);
    batch.end = Some(result);
    window.hand_on(i, seq, batch)
}

/// Folds a chunk's leaves, in key order, into the subtrees that lie wholly inside it, so that the
/// reading thread hashes the chunk's inner nodes and the fold only joins the chunks (it hashed
/// every inner node, about one a record, on one thread).
///
/// Between the chunk's first key `a` and the next chunk's first key `q` (from the manifest; the
/// fold checks the next chunk starts there, and a root is only computed when every chunk was read
/// whole), every subtree hanging to the right of `a`'s path or to the left of `q`'s path holds
/// keys of this chunk alone: its leaves are all the tree's leaves of its prefix. A chunk hands on
/// its first leaf alone, then those subtrees in key order (each leaf belongs to one: the first
/// bit where it parts from `a`, or from `q`, names it), about twice the key's depth in all.
struct Grouper {
    hashes: Hashes,
    next: Option<Hash>,
    /// The chunk's first key, and where it parts from `next`.
    first: Option<(Hash, Option<usize>)>,
    /// The subtree being folded: which one, its builder, its first and last key and leaves.
    open: Option<(Side, RootBuilder<Hashes>, Hash, Hash, u64)>,
}

/// Which subtree between `a` and `q` a key belongs to: the one to the right of `a`'s path at
/// the bit where the key parts from `a`, or to the left of `q`'s path where it parts from `q`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    RightOfFirst(usize),
    LeftOfNext(usize),
}

impl Grouper {
    fn new(hashes: Hashes, next: Option<Hash>) -> Grouper {
        Grouper { hashes, next, first: None, open: None }
    }

    /// Adds the chunk's next leaf (keys strictly increase: the reader checks them).
    fn push(&mut self, key: &Hash, leaf: &Hash, out: &mut Vec<(Subtree, Hash, Hash, u64)>) {
        let Some((a, a_next)) = self.first else {
            out.push((Subtree::leaf(key, leaf), *key, *key, 1));
            let parts = self.next.and_then(|q| first_difference(key, &q));
            self.first = Some((*key, parts));
            return;
        };
        let from_a = first_difference(&a, key).unwrap_or(256);
        let side = match (a_next, self.next) {
            (Some(s), Some(q)) if from_a <= s => Side::LeftOfNext(first_difference(key, &q).unwrap_or(256)),
            _ => Side::RightOfFirst(from_a),
        };
        if self.open.as_ref().is_some_and(|(open, ..)| *open != side) {
            self.close(out);
        }
        let (_, builder, _, last, leaves) =
            self.open.get_or_insert_with(|| (side, RootBuilder::new(self.hashes.clone()), *key, *key, 0));
        builder.add_leaf(key, leaf);
        *last = *key;
        *leaves += 1;
    }

    /// Hands on the subtree being folded.
    fn close(&mut self, out: &mut Vec<(Subtree, Hash, Hash, u64)>) {
        if let Some((_, builder, first, last, leaves)) = self.open.take() {
            if let Some(tree) = builder.finish_subtree() {
                out.push((tree, first, last, leaves));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::aptos::Salt;

    fn random_keys(seed: &mut u64, n: usize) -> Vec<Hash> {
        let mut keys: Vec<Hash> = (0..n)
            .map(|i| {
                let mut k = [0u8; 32];
                for b in k.iter_mut() {
                    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    *b = (*seed >> 56) as u8;
                }
                // Long shared prefixes too.
                if i % 3 == 0 {
                    k[..20].fill(0x5a);
                }
                k
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The chunks' leaves folded into subtrees on their readers give the root the leaves give
    /// one by one, for every way of cutting the keys into chunks (one leaf a chunk, a chunk of
    /// all, chunks of one and two leaves, random cuts) and for the last chunk (no next key).
    #[test]
    fn subtrees_of_chunks_make_the_root_of_their_leaves() {
        let hashes = Hashes::new(Salt::Diem);
        let mut seed = 11u64;
        for n in [1usize, 2, 3, 7, 40, 300] {
            let keys = random_keys(&mut seed, n);
            let leaf = |k: &Hash| hashes.leaf(k, &hashes.state_value(k));
            let mut one = RootBuilder::new(hashes.clone());
            for k in &keys {
                assert!(one.add_leaf(k, &leaf(k)));
            }
            let expected = one.finish();
            let mut cuts_list: Vec<Vec<usize>> =
                vec![vec![], (1..keys.len()).collect(), (1..keys.len()).step_by(2).collect()];
            for _ in 0..5 {
                let mut cuts: Vec<usize> = (1..keys.len())
                    .filter(|_| {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (seed >> 60) == 0
                    })
                    .collect();
                cuts.dedup();
                cuts_list.push(cuts);
            }
            for cuts in cuts_list {
                let bounds: Vec<usize> = std::iter::once(0).chain(cuts.iter().copied()).chain([keys.len()]).collect();
                let mut root = RootBuilder::new(hashes.clone());
                let mut trees = 0;
                for w in bounds.windows(2) {
                    let chunk = &keys[w[0]..w[1]];
                    let next = keys.get(w[1]).copied();
                    let mut g = Grouper::new(hashes.clone(), next);
                    let mut out = Vec::new();
                    for k in chunk {
                        g.push(k, &leaf(k), &mut out);
                    }
                    g.close(&mut out);
                    trees += out.len();
                    for (tree, first, last, leaves) in out {
                        assert!(root.add_subtree(tree, (&first, &last), leaves));
                    }
                }
                assert_eq!(root.leaves(), keys.len() as u64);
                assert_eq!(root.finish(), expected, "{n} keys cut at {cuts:?}");
                if cuts.is_empty() && n > 40 {
                    assert!(trees < n / 4, "a chunk hands on few subtrees: {trees} for {n} leaves");
                }
            }
        }
    }
}
