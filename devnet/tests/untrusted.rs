//! The devnet's files and output against a hostile data directory (issue 22): a link planted
//! where the node writes is never written through, a forged status view costs `status` a bounded
//! amount of memory, and what the chain's status holds is printed escaped. Each test drives the
//! binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// A 2 GiB address-space limit for a command (a command that would need more aborts instead of
/// taking the machine), through the shell's `ulimit -v`.
fn limited(args: &[&str], cwd: &Path) -> std::process::Output {
    let mut line = format!("ulimit -v {} && exec \"$0\"", 2 << 20);
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    std::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .arg(env!("CARGO_BIN_EXE_devnet"))
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// A running node once wrote its status view through a link planted under the view's partial
/// name (`std::fs::write` follows it), overwriting a file outside the data directory.
#[cfg(unix)]
#[test]
fn a_link_planted_where_the_node_writes_is_never_written_through() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "50", "--to", "v1", "--data-dir", "d"], cwd);
    let outside = cwd.join("outside");
    std::fs::write(&outside, b"precious").unwrap();
    let mut node = spawn(&["run", "--blocks", "1000000", "--data-dir", "d"], cwd, &[]);
    let (view, partial) = (cwd.join("d/.status-view.json"), cwd.join("d/.status-view.json.partial"));
    let deadline = Duration::from_secs(60);
    wait_for("the node's first view", deadline, || view.is_file());
    // Planted while the node runs (the name is free between two of its blocks).
    wait_for("the link planted", deadline, || symlink(&outside, &partial).is_ok());
    let height = status("d", cwd)["height"].as_u64().unwrap();
    wait_for("two later blocks", deadline, || status("d", cwd)["height"].as_u64().unwrap() > height + 1);
    node.kill().unwrap();
    node.wait().unwrap();
    assert_eq!(std::fs::read(&outside).unwrap(), b"precious", "the file the link leads to is untouched");
    assert!(!std::fs::symlink_metadata(&view).unwrap().file_type().is_symlink());
}

/// A dry run copies the store into a scratch directory of the data directory; the copy is a new
/// file, whatever that directory holds.
#[cfg(unix)]
#[test]
fn backups_are_written_only_inside_the_data_directory() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "50", "--to", "v1", "--data-dir", "d"], cwd);
    std::fs::create_dir(cwd.join("elsewhere")).unwrap();
    symlink(cwd.join("elsewhere"), cwd.join("d/backups")).unwrap();
    let err = fails(2, &["upgrade", "--to", "v2", "--data-dir", "d"], cwd);
    assert!(err.contains("backups: a symbolic link, not a directory"), "{err}");
    assert!(listing(&cwd.join("elsewhere")).is_empty(), "nothing written where the link leads");
}

/// A view is read only while the store is in use: this holds redb's lock on it as a node would.
fn holding_the_store<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    let store = redb_store::RedbStore::open_existing(dir).unwrap();
    let out = f();
    drop(store);
    out
}

/// `status --json` on a forged 200 MB view took 8.75 GB: a view is read within 16 MiB, and its
/// manifest is checked as the store's is.
#[test]
fn a_forged_status_view_is_refused_within_its_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "50", "--to", "v1", "--data-dir", "d"], cwd);
    let view = cwd.join("d/.status-view.json");
    // 200 MB of scheduled activations: what serde and the JSON output multiply.
    let mut forged = String::from(
        r#"{"format":"move-devnet-status-view","pid":1,"height":1,"journal":null,"status":"00000000","manifest":{"format":"move-devnet","version":1,"accounts":50,"corrupt":0,"transfers_per_block":5,"max_resources_per_block":100,"max_bytes_per_block":1000000,"activations":["#,
    );
    let one = r#"{"release":2,"height":5},"#;
    while forged.len() < 200 << 20 {
        forged.push_str(one);
    }
    forged.push_str(r#"{"release":2,"height":5}]}}"#);
    std::fs::write(&view, forged).unwrap();
    let o = holding_the_store(&cwd.join("d"), || limited(&["status", "--data-dir", "d", "--json"], cwd));
    let err = output_fails(2, &o, &["status"]);
    assert!(err.contains("larger than the 16777216-byte limit for a status view"), "{err}");

    // Within the bound, a manifest no store would hold is refused as the store's would be.
    let small = r#"{"format":"move-devnet-status-view","pid":1,"height":1,"journal":null,"status":"00000000","manifest":{"format":"move-devnet","version":1,"accounts":50,"corrupt":0,"transfers_per_block":5,"max_resources_per_block":100,"max_bytes_per_block":1000000,"activations":[{"release":9,"height":5},{"release":2,"height":3}]}}"#;
    std::fs::write(&view, small).unwrap();
    let o = holding_the_store(&cwd.join("d"), || limited(&["status", "--data-dir", "d", "--json"], cwd));
    output_fails(2, &o, &["status"]);
}

/// The status's own bytes: no activation, completion or running migration, one quarantined
/// account of `migration` for `reason`.
fn status_bytes(migration: &str, reason: &str) -> Vec<u8> {
    // No releases, none completed, none in progress, one value quarantined.
    let mut out = vec![0, 0, 0, 1];
    let wallet = migrations::StructTag::parse("0x1::Wallet::Wallet", devchain::WIDTH).unwrap();
    let key = migrations::state_key::resource_key(&devchain::account(7), &wallet);
    for s in [migration.as_bytes(), &key, reason.as_bytes()] {
        out.push(u8::try_from(s.len()).unwrap());
        out.extend_from_slice(s);
    }
    out
}

/// Quarantine reasons and migration ids reached the terminal raw in `devnet status`: a reason
/// holding a newline, an escape sequence or a NUL is printed escaped, on its own line.
#[test]
fn what_the_status_holds_is_printed_escaped() {
    use migrations::store::{Store, WriteBatch};
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "50", "--to", "v1", "--data-dir", "d"], cwd);
    {
        let chain = devchain::chain_config().unwrap();
        let mut store = redb_store::RedbStore::open_existing(&cwd.join("d")).unwrap();
        let mut batch = WriteBatch::new();
        let bytes = status_bytes("wallet-v2\x1b]0;x\x07", "bad\n::error file=x::injected\x1b[2J\0");
        batch.put_key(chain.status_key.encode(), bytes);
        store.apply(batch).unwrap();
    }
    let text = ok(&["status", "--data-dir", "d"], cwd);
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
    assert!(!text.lines().any(|l| l.starts_with("::")), "{text}");
    assert!(text.contains(r"bad\n::error file=x::injected\x1b[2J\0"), "{text}");
}

/// Importing a rehearsal's output of a backup said "unknown field rehearsal": it says what the
/// file is, and why the devnet cannot run it, before importing anything.
#[test]
fn a_rehearsal_s_output_of_another_state_is_said_to_be_one() {
    use migrations::store::{InMemoryStore, Store, WriteBatch};
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let mut store = InMemoryStore::new();
    let mut batch = WriteBatch::new();
    let tag = migrations::StructTag::parse("0x1::Coin::Balance", devchain::WIDTH).unwrap();
    batch.put(migrations::AccountAddress::from_u64(7, devchain::WIDTH), tag, vec![1, 2, 3]);
    store.apply(batch).unwrap();
    let chain = serde_json::json!({"rehearsal": {"state": "backup/state.manifest", "format": "diem-backup", "from": "v1", "to": "v2"}});
    let file = cwd.join("state.snap");
    devnet::snapshot::export(&store, 0, chain, devchain::WIDTH, &file).unwrap();
    let err = fails(2, &["snapshot", "import", "state.snap", "--data-dir", "d"], cwd);
    assert!(
        err.contains("state.snap: a rehearsal's output (the migrated state of backup/state.manifest, a diem-backup state, upgraded from v1 to v2), not a devnet chain"),
        "{err}"
    );
    assert!(!err.contains("unknown field"), "{err}");
    assert!(!cwd.join("d").exists(), "nothing was made");
}
