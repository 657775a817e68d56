//! A devnet killed at any point (genesis, a prologue, a block's transfers, a commit) and run
//! again ends where an uninterrupted run ends: the same height and the same state root.
//! Each block commits its transfers with its height in one transaction and the prologue is
//! idempotent per block, so nothing is lost and nothing is done twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ARGS: [&str; 11] = [
    "run",
    "--accounts",
    "1500",
    "--budget",
    "120",
    "--transfers",
    "20",
    "--until-height",
    "60",
    "--json",
    "--data-dir",
];

fn run_to_the_end(cwd: &std::path::Path, dir: &str) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_devnet")).args(ARGS).arg(dir).current_dir(cwd).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn a_devnet_killed_at_any_point_resumes_to_the_uninterrupted_root() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let started = Instant::now();
    let reference = run_to_the_end(cwd, "reference");
    let whole = started.elapsed();
    assert_eq!(reference["height"], 60);

    // Kill points spread over the length of a whole run; each run resumes the last one.
    let mut killed = 0;
    for k in 1..=12u32 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_devnet"))
            .args(ARGS)
            .arg("crashed")
            .current_dir(cwd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole.mul_f64(f64::from(k) / 16.0).max(Duration::from_millis(2)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    assert!(killed >= 3, "only {killed} runs were killed before they finished");
    let resumed = run_to_the_end(cwd, "crashed");
    assert_eq!(resumed["height"], 60);
    assert_eq!(resumed["state_root"], reference["state_root"], "killed {killed} times");
    assert!(!cwd.join("crashed/.staging").exists(), "a finished genesis leaves no staging directory");
}

fn devnet(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_devnet")).args(args).current_dir(cwd).output().unwrap()
}

fn status(cwd: &std::path::Path, dir: &str) -> Value {
    let o = devnet(&["status", "--json", "--data-dir", dir], cwd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Kills `upgrade --to {to}` on `dir` at `points` points spread over `whole`; returns how many
/// runs were killed before they ended.
fn kill_runbooks(cwd: &std::path::Path, dir: &str, to: &str, whole: Duration, points: u32) -> u32 {
    let mut killed = 0;
    for k in 1..=points {
        let mut child = Command::new(env!("CARGO_BIN_EXE_devnet"))
            .args(["upgrade", "--to", to, "--data-dir", dir])
            .current_dir(cwd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole.mul_f64(f64::from(k) / f64::from(points + 2)).max(Duration::from_millis(2)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
    }
    killed
}

fn new_chain(cwd: &std::path::Path, dir: &str, corrupt: &str) {
    let o = devnet(
        &[
            "run",
            "--accounts",
            "3000",
            "--corrupt",
            corrupt,
            "--budget",
            "150",
            "--to",
            "v1",
            "--until-height",
            "5",
            "--data-dir",
            dir,
        ],
        cwd,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_runbook_killed_at_any_point_is_taken_up_and_ends_as_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    new_chain(cwd, "whole", "0");
    new_chain(cwd, "killed", "0");
    let started = Instant::now();
    let o = devnet(&["upgrade", "--to", "v3", "--data-dir", "whole"], cwd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let whole = started.elapsed();
    let killed = kill_runbooks(cwd, "killed", "v3", whole, 10);
    assert!(killed >= 3, "only {killed} runbooks were killed before they ended");
    // Take it up until it is done (a run that finished before its kill leaves v3 active).
    let o = devnet(&["upgrade", "--to", "v3", "--data-dir", "killed"], cwd);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() || err.contains("already on v3"), "{err}");
    let (a, b) = (status(cwd, "whole"), status(cwd, "killed"));
    assert_eq!(b["active_release"], 3);
    assert_eq!(b["upgrade_under_way"], Value::Null);
    assert_eq!((&b["height"], &b["state_root"]), (&a["height"], &a["state_root"]), "killed {killed} times");
}

#[test]
fn a_rollback_killed_at_any_point_is_done_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    new_chain(cwd, "chain", "3");
    let before = status(cwd, "chain");
    let started = Instant::now();
    let o = devnet(&["upgrade", "--to", "v2", "--data-dir", "chain"], cwd);
    assert_eq!(o.status.code(), Some(1), "verify fails on the quarantined wallets");
    let whole = started.elapsed();
    assert_eq!(status(cwd, "chain")["state_root"], before["state_root"]);
    let killed = kill_runbooks(cwd, "chain", "v2", whole, 10);
    assert!(killed >= 3, "only {killed} runbooks were killed before they ended");
    let o = devnet(&["upgrade", "--to", "v2", "--data-dir", "chain"], cwd);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let after = status(cwd, "chain");
    assert_eq!(after["upgrade_under_way"], Value::Null);
    assert_eq!((&after["height"], &after["state_root"]), (&before["height"], &before["state_root"]));
    assert_eq!(after["active_release"], 1);
}

/// The widest window between two commits of a block: its prologue has committed, its
/// transactions and height have not. A runbook aborted there at every block of its migrations
/// (the block that completes a release's migrations among them) ends as an uninterrupted one.
#[test]
fn a_runbook_aborted_after_the_prologue_of_any_block_ends_as_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let chain = |dir: &str| {
        let o = devnet(
            &["run", "--accounts", "1000", "--budget", "300", "--to", "v1", "--until-height", "5", "--data-dir", dir],
            cwd,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    chain("whole");
    chain("aborted");
    let o = devnet(&["upgrade", "--to", "v3", "--data-dir", "whole"], cwd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let whole = status(cwd, "whole");
    let end = whole["height"].as_u64().unwrap();
    let mut aborted = 0;
    for height in 6..=end + 1 {
        let o = Command::new(env!("CARGO_BIN_EXE_devnet"))
            .args(["upgrade", "--to", "v3", "--data-dir", "aborted"])
            .env("DEVNET_CRASH_AFTER_PROLOGUE", height.to_string())
            .current_dir(cwd)
            .output()
            .unwrap();
        if !o.status.success() {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.code().is_none() || err.contains("already on v3"), "block {height}: {err}");
            aborted += u32::from(o.status.code().is_none());
        }
    }
    assert!(aborted as u64 >= end - 6, "aborted {aborted} times over {} blocks", end - 5);
    let after = status(cwd, "aborted");
    assert_eq!(after["upgrade_under_way"], Value::Null);
    assert_eq!((&after["height"], &after["state_root"]), (&whole["height"], &whole["state_root"]));
}

/// A creation killed inside genesis leaves only its staging directory (no store, so no chain
/// that some command would refuse); the next run clears it and ends where an uninterrupted run
/// ends.
#[test]
fn a_creation_killed_inside_genesis_is_started_again_by_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let reference = run_to_the_end(cwd, "reference");
    let o = Command::new(env!("CARGO_BIN_EXE_devnet"))
        .args(ARGS)
        .arg("killed")
        .env(devnet::drill::CRASH_AT_ENV, "genesis")
        .current_dir(cwd)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "the drill aborts inside genesis: {}", String::from_utf8_lossy(&o.stderr));
    assert!(cwd.join("killed/.staging/state.redb").is_file(), "genesis had started");
    assert!(!cwd.join("killed/state.redb").exists(), "no store in place, so no half chain");
    let err = String::from_utf8_lossy(&devnet(&["status", "--data-dir", "killed"], cwd).stderr).into_owned();
    assert!(err.contains("holds no chain yet"), "{err}");
    let resumed = run_to_the_end(cwd, "killed");
    assert_eq!(resumed["state_root"], reference["state_root"]);
    assert!(!cwd.join("killed/.staging").exists());
}

/// Two processes started together on one new directory, creating or importing: one makes the
/// chain, the other is told the directory is in use (or, started late, takes the chain up or is
/// told it holds one); never an unclear failure, never a broken chain.
#[test]
fn two_processes_creating_one_chain_race_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let o = devnet(&["run", "--accounts", "3000", "--to", "v1", "--data-dir", "source"], cwd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = devnet(&["snapshot", "export", "source.snapshot", "--data-dir", "source"], cwd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let source = status(cwd, "source");
    let mut in_use = 0;
    for round in 0..6 {
        let dir = format!("race{round}");
        let args: Vec<&str> = if round % 2 == 0 {
            vec!["run", "--accounts", "3000", "--to", "v1", "--data-dir", &dir]
        } else {
            vec!["snapshot", "import", "source.snapshot", "--data-dir", &dir]
        };
        let spawn = || {
            Command::new(env!("CARGO_BIN_EXE_devnet"))
                .args(&args)
                .current_dir(cwd)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let outcomes = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let mut made = 0;
        for o in &outcomes {
            let err = String::from_utf8_lossy(&o.stderr);
            match o.status.code() {
                Some(0) => made += 1,
                Some(2) if err.contains("in use by another devnet process") => in_use += 1,
                Some(2) if err.contains("already holds a chain") => {}
                other => panic!("{args:?}: exit {other:?}: {err}"),
            }
            assert_eq!(err.trim_end().lines().count(), usize::from(!err.is_empty()), "{err}");
        }
        assert!(made >= 1, "{args:?}: neither made the chain");
        let st = status(cwd, &dir);
        assert_eq!(st["accounts"], 3000);
        if round % 2 == 1 {
            assert_eq!(st["state_root"], source["state_root"]);
        }
        assert!(!cwd.join(&dir).join(".staging").exists());
    }
    assert!(in_use > 0, "the two processes never overlapped");
}

/// An export killed at any point (the drill inside its records, and kills spread over its
/// length) leaves no snapshot under its name; the next export takes its partial file over and
/// writes the whole snapshot, which imports to the chain's root.
#[test]
fn an_export_killed_at_any_point_is_finished_by_the_next_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let o = devnet(&["run", "--accounts", "20000", "--to", "v1", "--data-dir", "chain"], cwd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let chain = status(cwd, "chain");
    let export = ["snapshot", "export", "s.snapshot", "--data-dir", "chain"];
    let started = Instant::now();
    let o = devnet(&["snapshot", "export", "whole.snapshot", "--data-dir", "chain"], cwd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let whole = started.elapsed();

    let o = Command::new(env!("CARGO_BIN_EXE_devnet"))
        .args(export)
        .env(devnet::drill::CRASH_AT_ENV, "export")
        .current_dir(cwd)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "the drill aborts inside the export");
    assert!(cwd.join(".s.snapshot.partial").is_file() && !cwd.join("s.snapshot").exists());
    for k in 1..=6u32 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_devnet"))
            .args(export)
            .current_dir(cwd)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(whole.mul_f64(f64::from(k) / 8.0).max(Duration::from_millis(2)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        if cwd.join("s.snapshot").exists() {
            break;
        }
    }
    if !cwd.join("s.snapshot").exists() {
        let o = devnet(&export, cwd);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    // Never overwritten; and a partial name a kill left beside the published file is removed.
    let o = devnet(&export, cwd);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!cwd.join(".s.snapshot.partial").exists());
    assert_eq!(std::fs::read(cwd.join("s.snapshot")).unwrap(), std::fs::read(cwd.join("whole.snapshot")).unwrap());
    let o = devnet(&["snapshot", "import", "s.snapshot", "--data-dir", "imported"], cwd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(status(cwd, "imported")["state_root"], chain["state_root"]);
}
