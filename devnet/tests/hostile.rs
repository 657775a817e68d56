//! The devnet driven as a hostile operator and a failing machine would (issue 15): settings a
//! block cannot carry, two processes on one directory, files that are not files, forged
//! snapshots, leftovers of killed commands, messages that must tell the truth, and `status`
//! beside a running node. Each test drives the binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use devnet::manifest::MANIFEST_KEY;

/// `--transfers 2000000` once made a block of 2.5 million transactions, was saved, and from then
/// on every command refused the chain; on a new chain the refused run left `state.redb` behind.
#[test]
fn settings_a_block_cannot_carry_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    for (args, says) in [
        (vec!["--accounts", "10", "--transfers", "2000000"], "at most 100000"),
        (vec!["--accounts", "20000000"], "more than 10000000"),
        (vec!["--accounts", "10", "--budget", "2000000"], "at most 1000000"),
        (vec!["--accounts", "10", "--budget-bytes", "1000000000000"], "at most 268435456"),
        (vec!["--accounts", "10", "--budget", "0"], "at least 1"),
        (vec!["--accounts", "10", "--corrupt", "11"], "more than the 10 accounts"),
    ] {
        let mut run = vec!["run", "--data-dir", "new"];
        run.extend(&args);
        let err = fails(2, &run, cwd);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!cwd.join("new").exists(), "{args:?}: a refused run leaves nothing behind");
    }

    // On a chain: refused, and nothing is saved.
    ok(&["run", "--accounts", "50", "--to", "v1", "--blocks", "2", "--data-dir", "d"], cwd);
    let before = status("d", cwd);
    let err = fails(2, &["run", "--transfers", "2000000", "--data-dir", "d"], cwd);
    assert!(err.contains("2000000 transfers per block") && err.contains("--transfers"), "{err}");
    assert_eq!(status("d", cwd), before);

    // A setting an older devnet stored beyond the bounds: the chain still opens for status and
    // export, refuses to produce blocks with it, and `run --transfers` changes it back.
    let mut stored = before["manifest"].clone();
    stored["transfers_per_block"] = 2_000_000.into();
    set_node_value(&cwd.join("d"), MANIFEST_KEY, Some(stored.to_string().as_bytes()));
    assert_eq!(status("d", cwd)["manifest"]["transfers_per_block"], 2_000_000);
    ok(&["snapshot", "export", "s.snapshot", "--data-dir", "d"], cwd);
    for args in [vec!["run", "--data-dir", "d"], vec!["upgrade", "--to", "v2", "--data-dir", "d"]] {
        let err = fails(2, &args, cwd);
        assert!(err.contains("the chain's settings") && err.contains("`--transfers` sets it"), "{args:?}: {err}");
    }
    ok(&["run", "--transfers", "40", "--data-dir", "d"], cwd);
    assert_eq!(status("d", cwd)["manifest"]["transfers_per_block"], 40);
    ok(&["run", "--data-dir", "d"], cwd);
}
