//! What a long rehearsal shows as it goes: each counted phase's count only rises, and the pass
//! ends at its total (every source entry), on one thread and on several. The pass showed
//! nothing before it ended.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use rehearsal::{rehearse, Progress};

/// Every phase started, with its total and the counts it was told, in order.
#[derive(Default)]
struct Recorded(Vec<(String, Option<u64>, Vec<u64>)>);

impl Progress for Recorded {
    fn start(&mut self, phase: &str, total: Option<u64>) {
        self.0.push((phase.to_owned(), total, Vec::new()));
    }

    fn advance(&mut self, done: u64) {
        if let Some((_, _, counts)) = self.0.last_mut() {
            counts.push(done);
        }
    }

    fn finish(&mut self) {}
}

#[test]
fn the_pass_counts_every_source_entry_and_counts_only_rise() {
    let dir = tempfile::tempdir().unwrap();
    let state = common::genesis_snapshot(dir.path(), 20_000, 0);
    let entries = snapshot::Snapshot::open(&state).unwrap().info().entries;
    assert!(entries > 3 * (1 << 14), "{entries}: past a few of the pass's updates");
    for threads in [1, 2] {
        let mut options = common::v1_to_v2(&state);
        options.threads = threads;
        let mut recorded = Recorded::default();
        rehearse(&options, &mut recorded).unwrap();
        for (phase, _, counts) in &recorded.0 {
            assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{threads} threads, {phase}: {counts:?}");
        }
        let (_, total, counts) = recorded.0.iter().find(|(phase, _, _)| phase == "pass").unwrap();
        assert_eq!(*total, Some(entries));
        assert_eq!(counts.last().copied(), Some(entries), "{threads} threads");
    }
}
