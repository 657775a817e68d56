//! What a long rehearsal shows as it goes: each counted phase's count only rises, and the pass
//! ends at its total (every source entry), on one thread and on several. The pass showed
//! nothing before it ended.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use rehearsal::{rehearse, Options, Progress};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

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
    let state = dir.path().join("state.snap");
    let store = devchain::Genesis { accounts: 20_000, corrupt: 0 }.in_memory().unwrap();
    snapshot::export(&store, 0, serde_json::json!({"test": "progress"}), devchain::WIDTH, &state).unwrap();
    let entries = snapshot::Snapshot::open(&state).unwrap().info().entries;
    assert!(entries > 3 * (1 << 14), "{entries}: past a few of the pass's updates");
    for threads in [1, 2] {
        let mut options = Options::new(&state, repo().join("stdlib/releases/v2"));
        options.from = Some(repo().join("stdlib/releases/v1"));
        options.registry = Some(repo().join("stdlib/registry.toml"));
        options.migrations = Some(repo().join("stdlib/migrations.toml"));
        options.handlers = devchain::handlers();
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
