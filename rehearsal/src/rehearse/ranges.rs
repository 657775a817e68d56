//! How a rehearsal cuts the state into key ranges, one or more per thread: the migration's by
//! the work its loop will do (the restart intervals of the source its migrations walk), the
//! pass's by the entries of the source and of the state after. Any cut gives the same result
//! (each range's findings merge in key order); a cut only decides how evenly the threads share
//! the work.

use migrations::state_key::prefix_end;
use snapshot::Snapshot;

/// A restart interval of the source that holds keys the migrations walk weighs this many
/// intervals they do not: the loop reads only what it walks (a walked interval costs it its
/// 4,096 values read, migrated and written; another, nothing but a share of the blocks).
const WALKED_WEIGHT: u64 = 64;

/// Up to `parts` ranges of the source's restart intervals, each holding about the same share
/// of the migration's work: the intervals that overlap a prefix of `walked` (sorted) weigh
/// [`WALKED_WEIGHT`], the others 1. Cut by entries alone, a state whose migrated structs lie
/// together (a chain's coin stores, one run of keys) gave one thread nearly all the loop; at
/// 1,000,000 accounts of the devnet (three structs of four migrated, in two runs of keys) the
/// first of two ranges held 1.33 million of the 2.33 million values migrated.
pub(crate) fn loop_ranges(base: &Snapshot, parts: usize, walked: &[Vec<u8>]) -> Vec<snapshot::Range> {
    let restarts = base.info().index.len();
    let parts = parts.clamp(1, restarts.max(1));
    if parts == 1 || restarts == 0 {
        return base.ranges(parts);
    }
    let ends: Vec<Option<Vec<u8>>> = walked.iter().map(|p| prefix_end(p)).collect();
    let weights: Vec<u64> = (0..restarts)
        .map(|i| {
            let (from, to) = (base.restart_key(i).unwrap_or_default(), base.restart_key(i + 1));
            // The interval holds keys from `from` up to (not including) `to`.
            let overlaps = walked.iter().zip(&ends).any(|(prefix, end)| {
                end.as_deref().is_none_or(|e| from < e) && to.is_none_or(|t| t > prefix.as_slice())
            });
            if overlaps {
                WALKED_WEIGHT
            } else {
                1
            }
        })
        .collect();
    let total: u64 = weights.iter().sum();
    if total == restarts as u64 {
        // Nothing walked: the source's entries are all there is to share.
        return base.ranges(parts);
    }
    let parts_u = parts as u64;
    let mut out = Vec::with_capacity(parts);
    let (mut first, mut sum) = (0usize, 0u64);
    for (i, w) in weights.iter().enumerate() {
        sum += w;
        let cut = (out.len() as u64 + 1) * total / parts_u;
        // Cut after interval `i` once its share is reached, keeping an interval for each range
        // still to come.
        if sum >= cut && out.len() + 1 < parts && restarts - (i + 1) >= parts - out.len() - 1 {
            out.push(snapshot::Range { first, end: i + 1 });
            first = i + 1;
        }
    }
    out.push(snapshot::Range { first, end: restarts });
    out
}

/// Each range's first key (empty for the first) and the next range's first key (none for the
/// last).
pub(crate) fn bounds_of(base: &Snapshot, ranges: &[snapshot::Range]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    ranges
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let lo =
                if i == 0 { Vec::new() } else { base.restart_key(r.first).map(<[u8]>::to_vec).unwrap_or_default() };
            let hi = ranges.get(i + 1).and_then(|next| base.restart_key(next.first)).map(<[u8]>::to_vec);
            (lo, hi)
        })
        .collect()
}

/// A key range of the pass: its first key (empty for the first), the next range's first key
/// (none for the last), and the restart point of the source at or before its first key (where
/// its reading of the source starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PassRange {
    pub(crate) lo: Vec<u8>,
    pub(crate) hi: Option<Vec<u8>>,
    pub(crate) restart: usize,
}

/// Up to `parts` key ranges of the state, each with about the same entries of the source and
/// the state after. The source's restart points weigh the entries up to the next one, and the
/// put samples (sorted keys, each with the puts it stands for) the puts they stand for; a range
/// may start at either. A versioned migration puts its new values at keys past every key of the
/// source of their struct, often past the source's last restart point: cut only at restart
/// points, one range held every value put.
///
/// A range hashes on past its end to the first page end of each root (see `pass`), so a cut is
/// cheap only where the state after has entries: a range is never cut where the delete samples
/// say that most of the source's entries were deleted (a cut there, the range before it read
/// through the next one to find an entry of the state after).
pub(crate) fn balanced_ranges(
    base: &Snapshot,
    parts: usize,
    puts: &[(&[u8], u64)],
    deletes: &[(&[u8], u64)],
) -> Vec<PassRange> {
    let index = &base.info().index;
    let restarts = index.len();
    let whole = || vec![PassRange { lo: Vec::new(), hi: None, restart: 0 }];
    if parts <= 1 || restarts == 0 {
        return whole();
    }
    let entries = base.info().entries;
    // Every place a range may start (whether it may, and the weight up to the next place), in
    // key order.
    let mut places: Vec<(&[u8], bool, u64)> = Vec::with_capacity(restarts + puts.len());
    let mut d = 0usize;
    for i in 0..restarts {
        let next_number = index.get(i + 1).map_or(entries, |r| r.0);
        let own = next_number.saturating_sub(index.get(i).map_or(0, |r| r.0));
        let next_key = base.restart_key(i + 1);
        let mut deleted = 0u64;
        while let Some((key, weight)) = deletes.get(d) {
            if next_key.is_some_and(|k| *key >= k) {
                break;
            }
            deleted += weight;
            d += 1;
        }
        places.push((base.restart_key(i).unwrap_or_default(), deleted * 2 <= own, own));
    }
    places.extend(puts.iter().map(|(k, w)| (*k, true, *w)));
    places.sort_by(|a, b| a.0.cmp(b.0));
    let total: u64 = places.iter().map(|p| p.2).sum();
    let parts_u = u64::try_from(parts).unwrap_or(1);
    let mut starts: Vec<&[u8]> = Vec::with_capacity(parts);
    let mut sum = 0u64;
    for (key, may, weight) in &places {
        let cut = u64::try_from(starts.len() + 1).unwrap_or(u64::MAX).saturating_mul(total) / parts_u;
        if *may && sum >= cut && starts.len() + 1 < parts && !key.is_empty() && starts.last().is_none_or(|l| l < key) {
            starts.push(key);
        }
        sum += weight;
    }
    let mut out = Vec::with_capacity(starts.len() + 1);
    let mut lo: &[u8] = &[];
    for hi in starts.iter().map(|k| Some(*k)).chain([None]) {
        out.push(PassRange { lo: lo.to_vec(), hi: hi.map(<[u8]>::to_vec), restart: restart_at_or_before(base, lo) });
        lo = hi.unwrap_or_default();
    }
    out
}

/// The last restart point of `base` whose key is at or before `key` (the first when none is).
fn restart_at_or_before(base: &Snapshot, key: &[u8]) -> usize {
    let (mut lo, mut hi) = (0usize, base.info().index.len());
    // Restart keys ascend: the first restart whose key is past `key`, found by halves.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if base.restart_key(mid).is_some_and(|k| k <= key) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::store::{InMemoryStore, Store, WriteBatch};

    /// Item `n` of table `table`: keys ordered by table, then by item.
    fn key(table: u64, n: u32) -> Vec<u8> {
        let handle = migrations::AccountAddress::from_u64(table, binary_format::AddressLength::Bytes16);
        migrations::StateKey::TableItem { handle, key: n.to_be_bytes().to_vec() }.encode()
    }

    /// A snapshot in `dir` of the items `tables` lists (table, how many), 8 bytes each.
    fn snapshot_of(dir: &std::path::Path, tables: &[(u64, u32)]) -> Snapshot {
        let mut store = InMemoryStore::new();
        let mut batch = WriteBatch::new();
        for (table, items) in tables {
            for n in 0..*items {
                batch.put_key(key(*table, n), vec![0; 8]);
            }
        }
        store.apply(batch).unwrap();
        let path = dir.join("s.snap");
        snapshot::export(&store, 0, serde_json::Value::Null, binary_format::AddressLength::Bytes16, &path).unwrap();
        Snapshot::open(&path).unwrap()
    }

    /// The pass's ranges: contiguous and in order, each reading the source from a restart point
    /// at or before its start; cut among values put past the source's last key; never cut
    /// where most of the source was deleted.
    #[test]
    fn pass_ranges_cut_among_puts_and_never_where_the_source_was_deleted() {
        let dir = tempfile::tempdir().unwrap();
        // Items of table 1 (the source); table 2's are the values put (keys after them).
        let base = snapshot_of(dir.path(), &[(1, 20_000)]);
        // The source's first 16,384 entries deleted, 20,000 values put past all of it.
        let deleted: Vec<(Vec<u8>, u64)> = (0..16_384).step_by(64).map(|n| (key(1, n), 64)).collect();
        let put: Vec<(Vec<u8>, u64)> = (0..20_000).step_by(100).map(|n| (key(2, n), 100)).collect();
        fn view(v: &[(Vec<u8>, u64)]) -> Vec<(&[u8], u64)> {
            v.iter().map(|(k, w)| (k.as_slice(), *w)).collect()
        }
        assert_eq!(base.restart_key(1), Some(key(1, 4_096).as_slice()));
        let ranges = balanced_ranges(&base, 16, &view(&put), &view(&deleted));
        assert!(ranges.len() >= 4, "{}", ranges.len());
        assert!(ranges[0].lo.is_empty() && ranges.last().unwrap().hi.is_none());
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].hi.as_deref(), Some(pair[1].lo.as_slice()));
            assert!(pair[0].lo < pair[1].lo);
        }
        for r in &ranges[1..] {
            // Restart points every 4,096 entries: the first four hold only deleted entries.
            assert!(r.lo >= key(1, 16_384), "a cut where the source was deleted: {:?}", r.lo);
            assert!(base.restart_key(r.restart).unwrap() <= r.lo.as_slice());
            assert!(base.restart_key(r.restart + 1).is_none_or(|k| k > r.lo.as_slice()));
        }
        assert!(ranges.iter().filter(|r| r.lo >= key(2, 0)).count() >= 2, "no cut among the puts");
    }

    /// The migration's ranges: contiguous, covering every restart interval, and sharing the
    /// intervals the migrations walk evenly wherever those lie (here all in the last fifth of
    /// the source), not the source's entries.
    #[test]
    fn loop_ranges_share_the_walked_intervals_evenly() {
        let dir = tempfile::tempdir().unwrap();
        let base = snapshot_of(dir.path(), &[(1, 80_000), (2, 20_000)]);
        let restarts = base.info().index.len();
        let walked = vec![migrations::state_key::table_prefix(&migrations::AccountAddress::from_u64(
            2,
            binary_format::AddressLength::Bytes16,
        ))];
        let walked_in = |r: &snapshot::Range| {
            (r.first..r.end).filter(|i| base.restart_key(*i).is_some_and(|k| k >= walked[0].as_slice())).count()
        };
        for parts in [1, 2, 3, 4] {
            let ranges = loop_ranges(&base, parts, &walked);
            assert_eq!(ranges.len(), parts);
            assert_eq!(ranges[0].first, 0);
            assert_eq!(ranges.last().unwrap().end, restarts);
            for pair in ranges.windows(2) {
                assert_eq!(pair[0].end, pair[1].first);
                assert!(pair[0].first < pair[0].end);
            }
            // The walked intervals (5 of 25): no range holds more than its share and one.
            let all = walked_in(&ranges[0]) + ranges[1..].iter().map(walked_in).sum::<usize>();
            for r in &ranges {
                assert!(walked_in(r) <= all / parts + 1, "{parts} parts: {ranges:?}");
            }
        }
        // Nothing walked: cut by entries.
        assert_eq!(loop_ranges(&base, 3, &[]), base.ranges(3));
    }
}
