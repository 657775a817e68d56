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
    assert!(!cwd.join(".crashed.staging").exists(), "a finished genesis leaves no staging directory");
}
