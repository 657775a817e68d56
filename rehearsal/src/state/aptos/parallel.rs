//! The verifying pass on many threads. Recomputing the root costs about four SHA3-256
//! permutations a record (its key, its value, its leaf, and about one internal node); only the
//! internal nodes depend on the records before. So each chunk is read, parsed and hashed up to
//! its leaves on a thread of its own, and the caller's thread takes the chunks in the manifest's
//! order and folds their leaves into the tree: on 2 cores about twice as fast, on more up to
//! four times (the fold on one thread then bounds it).
//!
//! What it checks, what it refuses and in which order, and the summary, are those of the pass
//! on one thread ([`AptosBackup::visit`]): the first error in record order wins, whatever the
//! threads finish first. Chunks are read at most `threads` ahead of the fold, so memory is a
//! few chunks' leaves (64 bytes a record), never the state's.

use super::hash::Hashes;
use super::{count_kind, out_of_order, read_chunk, too_many, AptosBackup, AptosRecord, AptosStateKey, AptosSummary};
use super::{ChunkEnd, ChunkError, KindCounts, Metadata, RecordSink, RootBuilder};
use crate::state::diem::hash::Hash;
use crate::state::diem::smt::NodeHashes;
use crate::state::{At, Origin, StateError};
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// A record kept for the caller (see [`AptosBackup::verify_keeping`]).
struct Kept {
    at: u64,
    key: AptosStateKey,
    key_hash: Hash,
    value: Vec<u8>,
    metadata: Option<Metadata>,
}

/// What a thread read of one chunk.
#[derive(Default)]
struct ChunkRead {
    /// Each record's key hash and leaf hash, in order.
    leaves: Vec<(Hash, Hash)>,
    kinds: KindCounts,
    bytes: u64,
    /// Record 0's key and key hash: checked against the chunk before by the fold.
    first: Option<(AptosStateKey, Hash, u64)>,
    kept: Vec<Kept>,
    end: ChunkEnd,
    /// The first error: from the chunk's own checks at a record (for record 0, before the
    /// check against the chunk before), or from the count of records (after it).
    error: Option<ChunkError>,
}

/// The chunks read so far and not yet folded, and how far the fold is.
struct Shared {
    done: BTreeMap<usize, ChunkRead>,
    folded: usize,
    stop: bool,
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
    /// One verifying pass on `threads` threads: everything [`AptosBackup::verify`] checks, the
    /// same summary and the same first error. Records whose key `keep` accepts are handed to
    /// `kept`, in order; a chunk keeps `keep_bytes` of their values at most (past them, a
    /// caller whose own bound is no larger has refused the state before it needs more).
    pub fn verify_keeping(
        &mut self,
        threads: usize,
        keep: &(dyn Fn(&AptosStateKey) -> bool + Sync),
        keep_bytes: usize,
        kept: RecordSink<'_>,
    ) -> Result<AptosSummary, StateError> {
        let hashes = Hashes::new(self.salt);
        let chunks = self.manifest.chunks.len();
        let threads = threads.clamp(1, chunks.max(1));
        let shared = Mutex::new(Shared { done: BTreeMap::new(), folded: 0, stop: false });
        let changed = Condvar::new();
        let next = AtomicUsize::new(0);
        let poisoned = || StateError::Unsupported {
            path: self.manifest.path.clone(),
            reason: "a thread reading the backup failed".into(),
        };
        let (summary, root) = std::thread::scope(|scope| -> Result<_, StateError> {
            let _stop = StopOnDrop(&shared, &changed);
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let (Some(c), Some(file)) = (self.manifest.chunks.get(i), self.files.get(i)) else { return };
                    // At most `threads` chunks ahead of the fold.
                    {
                        let Ok(mut s) = shared.lock() else { return };
                        while !s.stop && i >= s.folded + threads {
                            let Ok(guard) = changed.wait(s) else { return };
                            s = guard;
                        }
                        if s.stop {
                            return;
                        }
                    }
                    let read = match file {
                        Some(path) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            read_one(&self.manifest.path, c, path, &hashes, keep, keep_bytes)
                        }))
                        .unwrap_or_else(|_| ChunkRead {
                            error: Some(ChunkError::Checks {
                                record: 0,
                                error: StateError::Unsupported {
                                    path: path.clone(),
                                    reason: "the thread reading this chunk failed".into(),
                                },
                            }),
                            ..ChunkRead::default()
                        }),
                        None => ChunkRead::default(),
                    };
                    let Ok(mut s) = shared.lock() else { return };
                    s.done.insert(i, read);
                    changed.notify_all();
                });
            }
            let mut root = RootBuilder::new(hashes.clone());
            let mut previous: Option<Hash> = None;
            let mut s = AptosSummary::empty();
            for (i, (c, file)) in self.manifest.chunks.iter().zip(&self.files).enumerate() {
                let read = {
                    let mut g = shared.lock().map_err(|_| poisoned())?;
                    loop {
                        if let Some(read) = g.done.remove(&i) {
                            g.folded = i + 1;
                            break read;
                        }
                        g = changed.wait(g).map_err(|_| poisoned())?;
                    }
                };
                changed.notify_all();
                let Some(path) = file else {
                    self.note_missing(&mut s, c);
                    continue;
                };
                let file: Rc<Path> = Rc::from(path.as_path());
                // The checks in the order one thread makes them: record 0's own, then its order
                // against the chunk before, then the rest of the chunk's.
                let mut error = read.error;
                if let Some(ChunkError::Checks { record: 0, error }) = error {
                    return Err(error);
                }
                if let (Some((key, hash, at)), Some(p)) = (&read.first, previous) {
                    if p >= *hash {
                        return Err(out_of_order(path, *at, c.first_idx, key, hash, &p));
                    }
                }
                // The records before the first error (only those were kept) are handed on
                // before it, as one thread hands them.
                for k in &read.kept {
                    let origin = Origin { file: file.clone(), at: At::Byte(k.at) };
                    kept(AptosRecord {
                        key: &k.key,
                        key_hash: k.key_hash,
                        value: &k.value,
                        metadata: k.metadata.as_ref(),
                        origin: &origin,
                    })?;
                }
                if let Some(e) = error.take() {
                    return Err(e.into_error());
                }
                for (key, leaf) in &read.leaves {
                    root.add_leaf(key, leaf);
                }
                s.kinds.add(&read.kinds);
                s.records += read.end.count;
                s.bytes += read.bytes;
                previous = read.end.last.or(previous);
                self.finish_chunk(&mut s, c, path, &read.end)?;
            }
            Ok((s, root))
        })?;
        self.conclude(summary, Some(root))
    }
}

/// Reads one chunk on a reader thread: every check of the pass on one thread but the order
/// against the chunk before, each record hashed up to its leaf.
fn read_one(
    manifest: &Path,
    c: &super::ManifestChunk,
    path: &Path,
    hashes: &Hashes,
    keep: &(dyn Fn(&AptosStateKey) -> bool + Sync),
    keep_bytes: usize,
) -> ChunkRead {
    let mut read = ChunkRead {
        leaves: Vec::with_capacity(usize::try_from(c.records()).unwrap_or(0).min(1 << 20)),
        ..ChunkRead::default()
    };
    let mut kept_bytes = 0usize;
    let expected = c.records();
    let result = read_chunk(manifest, c, path, hashes, &mut |r| {
        if r.count == 0 {
            read.first = Some((r.rec.key.clone(), r.key_hash, r.at));
        }
        if r.count >= expected {
            return Err(too_many(path, r.at, c));
        }
        let leaf = hashes.leaf(&r.key_hash, &hashes.state_value(r.rec.value.bcs));
        read.leaves.push((r.key_hash, leaf));
        count_kind(&mut read.kinds, &r.rec.key, r.rec.value.metadata.is_some());
        read.bytes += r.framed;
        if kept_bytes <= keep_bytes && keep(&r.rec.key) {
            kept_bytes = kept_bytes.saturating_add(r.rec.value.data.len());
            read.kept.push(Kept {
                at: r.at,
                key: r.rec.key.clone(),
                key_hash: r.key_hash,
                value: r.rec.value.data.to_vec(),
                metadata: r.rec.value.metadata,
            });
        }
        Ok(())
    });
    match result {
        Ok(end) => read.end = end,
        Err(e) => read.error = Some(e),
    }
    read
}
