//! Reading a snapshot: [`Snapshot::open`] reads its frame (header, footer, restart index and
//! trailer: kilobytes, whatever the state's size); the entries are then read whole and checked
//! ([`Snapshot::verify`], [`Snapshot::visit`]), in ranges that start at restart points (on as
//! many threads as the caller runs, [`Snapshot::ranges`]), or found by key ([`Snapshot`] is a
//! read-only [`Store`]): a scan seeks to the restart point before its first key.

use crate::entries::{Entry, EntryReader};
use crate::error::{corrupt, SnapshotError};
use crate::format::{KindCounts, SnapshotInfo};
use crate::keys::KeyChecker;
use crate::layout::{self, Layout};
use migrations::store::{Store, StoreError, WriteBatch};
use std::fs::File;
use std::path::{Path, PathBuf};
use vm_hooks::{Pages, RootHasher, StateRoot};

/// A snapshot file, its frame read and checked; its entries read on demand.
#[derive(Debug)]
pub struct Snapshot {
    path: PathBuf,
    file: File,
    info: SnapshotInfo,
    /// The key of every restart entry, in order (for seeking).
    restart_keys: Vec<Vec<u8>>,
}

/// A range of entries that starts at a restart point: what one thread reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The first restart of the range (an index position).
    pub first: usize,
    /// One past its last restart (the next range's first).
    pub end: usize,
}

/// Entries read one at a time (see [`Snapshot::entries_at`]).
pub struct Entries<'a>(EntryReader<'a>);

impl std::fmt::Debug for Entries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entries")
    }
}

impl Entries<'_> {
    /// The next entry, or `None` after the last.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_>>, SnapshotError> {
        self.0.next_entry()
    }
}

/// Called with each entry; `Ok(false)` stops the walk.
pub type EntryVisitor<'a> = &'a mut dyn FnMut(&Entry<'_>) -> Result<bool, SnapshotError>;

impl Snapshot {
    /// Opens `path`: a regular file within the limit whose frame is consistent (its trailer
    /// covers the header and footer). The entries are not read yet.
    pub fn open(path: &Path) -> Result<Snapshot, SnapshotError> {
        let Layout { file, info, .. } = layout::open(path)?;
        let mut restart_keys = Vec::with_capacity(info.index.len());
        for &(number, offset) in &info.index {
            let mut reader = EntryReader::new(&file, path, (number, offset), info.end, &info.index);
            match reader.next_entry()? {
                Some(e) => restart_keys.push(e.key.to_vec()),
                None => return Err(corrupt(path, offset, "the index points at the end record")),
            }
        }
        if !restart_keys.windows(2).all(|w| matches!(w, [a, b] if a < b)) {
            return Err(corrupt(path, info.end, "the restart entries are not in key order"));
        }
        Ok(Snapshot { path: path.to_path_buf(), file, info, restart_keys })
    }

    /// What the frame says.
    pub fn info(&self) -> &SnapshotInfo {
        &self.info
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader_at(&self, restart: usize) -> EntryReader<'_> {
        let start = self.info.index.get(restart).copied().unwrap_or((self.info.entries, self.info.end));
        EntryReader::new(&self.file, &self.path, start, self.info.end, &self.info.index)
    }

    /// A pull reader of the entries from the restart point `restart` (an index position) to the
    /// end, in key order (each entry checked as it is read; the root is the caller's to check).
    pub fn entries_at(&self, restart: usize) -> Entries<'_> {
        Entries(self.reader_at(restart))
    }

    /// The key of the restart entry `restart` (an index position), where a range starts.
    pub fn restart_key(&self, restart: usize) -> Option<&[u8]> {
        self.restart_keys.get(restart).map(Vec::as_slice)
    }

    /// Up to `n` ranges of about equal size covering every entry, in key order.
    pub fn ranges(&self, n: usize) -> Vec<Range> {
        let restarts = self.info.index.len();
        let n = n.clamp(1, restarts.max(1));
        let mut out = Vec::with_capacity(n);
        let mut first = 0;
        for i in 1..=n {
            let end = restarts * i / n;
            if end > first || (i == n && out.is_empty()) {
                out.push(Range { first, end });
                first = end;
            }
        }
        out
    }

    /// Visits the entries of `range` in key order, and the entries after it up to and including
    /// the first that ends a state-root page (`to_page_end`), so that ranges cut at restart
    /// points can each hash whole pages. Stops when `visit` says so.
    pub fn visit_range(&self, range: Range, to_page_end: bool, visit: EntryVisitor<'_>) -> Result<(), SnapshotError> {
        let mut reader = self.reader_at(range.first);
        let stop_at = self.info.index.get(range.end).map(|r| r.0);
        let mut past = false;
        while let Some(entry) = reader.next_entry()? {
            if stop_at.is_some_and(|n| entry.number >= n) {
                if !to_page_end {
                    break;
                }
                past = true;
            }
            let ends = to_page_end && past && vm_hooks::ends_page(entry.key);
            if !visit(&entry)? || ends {
                break;
            }
        }
        Ok(())
    }

    /// Reads every entry in key order, checking keys, counts and the state root against the
    /// footer; `visit` sees each entry. Refuses a damaged file with its offset.
    pub fn visit(&self, visit: EntryVisitor<'_>) -> Result<(), SnapshotError> {
        let mut check = Check::new(&self.info);
        let mut reader = self.reader_at(0);
        while let Some(entry) = reader.next_entry()? {
            check.entry(&self.path, &entry)?;
            if !visit(&entry)? {
                return Err(SnapshotError::Visit {
                    path: self.path.clone(),
                    reason: "the walk was stopped".to_owned(),
                });
            }
        }
        check.finish(&self.path, &self.info)
    }

    /// Reads every entry and checks them all (keys, counts, the state root) against the footer.
    pub fn verify(&self) -> Result<(), SnapshotError> {
        self.visit(&mut |_| Ok(true))
    }

    /// The last restart whose key is at most `key` (0 when `key` comes before all).
    fn restart_for(&self, key: &[u8]) -> usize {
        self.restart_keys.partition_point(|k| k.as_slice() <= key).saturating_sub(1)
    }
}

/// What a whole pass checks as it goes: keys of the snapshot's width, counts, the root.
pub(crate) struct Check {
    keys: KeyChecker,
    root: RootHasher,
    kinds: KindCounts,
}

impl Check {
    pub(crate) fn new(info: &SnapshotInfo) -> Check {
        Check { keys: KeyChecker::new(info.address_length), root: RootHasher::new(), kinds: KindCounts::default() }
    }

    pub(crate) fn entry(&mut self, path: &Path, entry: &Entry<'_>) -> Result<(), SnapshotError> {
        self.keys.check(entry.key).map_err(|e| corrupt(path, entry.offset, e))?;
        self.kinds.add(entry.key);
        self.root.add_entry(entry.key, entry.value, entry.extra);
        Ok(())
    }

    pub(crate) fn finish(self, path: &Path, info: &SnapshotInfo) -> Result<(), SnapshotError> {
        let entries = self.root.count();
        let tags = self.keys.into_tags();
        if entries != info.entries || self.kinds.to_map() != info.kinds || tags != info.tags {
            return Err(corrupt(
                path,
                info.end,
                format!(
                    "the footer counts {} entries, the records {entries} (or other counts per kind or tag)",
                    info.entries
                ),
            ));
        }
        let found = self.root.finish();
        if found != info.state_root {
            return Err(SnapshotError::RootMismatch { path: path.to_path_buf(), expected: info.state_root, found });
        }
        Ok(())
    }
}

/// Verifies a whole snapshot (frame, every entry, the root): what it holds.
pub fn verify(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    let snapshot = Snapshot::open(path)?;
    snapshot.verify()?;
    Ok(snapshot.info)
}

/// Reads a snapshot's frame only (header, footer, trailer): what it says it holds, in a few
/// kilobytes of reading, without checking the entries.
pub fn read_info(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    Ok(layout::open(path)?.info)
}

/// Verifies a snapshot whole, visiting every entry on the way.
pub fn visit(path: &Path, visit: EntryVisitor<'_>) -> Result<SnapshotInfo, SnapshotError> {
    let snapshot = Snapshot::open(path)?;
    snapshot.visit(visit)?;
    Ok(snapshot.info)
}

/// The state root of a snapshot's entries on `threads` threads: each range hashes the pages that
/// start in it, and the runs join into the one root (the same for any number of threads).
pub fn root_in_parallel(snapshot: &Snapshot, threads: usize) -> Result<StateRoot, SnapshotError> {
    let ranges = snapshot.ranges(threads);
    let runs: Vec<Result<Pages, SnapshotError>> = std::thread::scope(|s| {
        let handles: Vec<_> = ranges
            .iter()
            .enumerate()
            .map(|(i, range)| {
                let range = *range;
                s.spawn(move || -> Result<Pages, SnapshotError> {
                    let mut hasher = RootHasher::new();
                    // The first range starts a page; the others start after the first page end
                    // (what the range before hashed past its end).
                    let mut started = i == 0;
                    snapshot.visit_range(range, true, &mut |e| {
                        if started {
                            hasher.add_entry(e.key, e.value, e.extra);
                        } else if vm_hooks::ends_page(e.key) {
                            started = true;
                        }
                        Ok(true)
                    })?;
                    Ok(hasher.into_pages())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(SnapshotError::Visit { path: snapshot.path.clone(), reason: "a reading thread failed".into() })
                })
            })
            .collect()
    });
    let runs = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(StateRoot::of_runs(runs))
}

/// A snapshot is a read-only store: what a rehearsal reads in place of a copy.
impl Store for Snapshot {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut found = None;
        self.scan_keys(key, None, &mut |k, v| {
            if k == key {
                found = Some(v.to_vec());
            }
            false
        })?;
        Ok(found)
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let start = match after {
            Some(a) if a > prefix => a,
            _ => prefix,
        };
        let mut reader = self.reader_at(self.restart_for(start));
        let failed = |e: SnapshotError| StoreError::Backend { backend: "snapshot", source: Box::new(e) };
        // Once a key of the prefix was visited, the next is of it too if it shares the prefix's
        // length with that key: compared only when it shares less. (A key skipped before the
        // scan's start need not hold the prefix: sharing with it proves nothing.)
        let (mut started, mut visited) = (false, false);
        while let Some(entry) = reader.next_entry().map_err(failed)? {
            if !started {
                if entry.key < prefix || after.is_some_and(|a| entry.key <= a) {
                    continue;
                }
                started = true;
            }
            let within = (visited && entry.shared >= prefix.len()) || entry.key.starts_with(prefix);
            if !within || !visit(entry.key, entry.value) {
                break;
            }
            visited = true;
        }
        Ok(())
    }

    fn apply(&mut self, _batch: WriteBatch) -> Result<(), StoreError> {
        Err(StoreError::Backend { backend: "snapshot", source: format!("{} is read-only", self.path.display()).into() })
    }
}
