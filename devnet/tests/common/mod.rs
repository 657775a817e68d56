//! What the tests that drive the `devnet` binary share: running it, reading what it said.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn command(args: &[&str], cwd: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_devnet"));
    c.args(args).current_dir(cwd);
    c
}

pub fn devnet(args: &[&str], cwd: &Path) -> Output {
    command(args, cwd).output().unwrap()
}

/// Starts the binary with its output discarded.
pub fn spawn(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Child {
    let mut c = command(args, cwd);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects exit 0; returns stdout.
pub fn ok(args: &[&str], cwd: &Path) -> String {
    let o = devnet(args, cwd);
    assert_eq!(o.status.code(), Some(0), "{args:?}\nstdout: {}\nstderr: {}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// Checks an error line: one line, `devnet: error: ` first, and no part of it said twice
/// (a message that quotes its cause's text, then the cause again).
pub fn check_error_line(err: &str) {
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("devnet: error: ") || err.starts_with("devnet: "), "{err}");
    let line = err.trim_end();
    let mut at = 0;
    for part in line.split(": ") {
        at += part.len() + 2;
        if part.len() > 12 {
            assert!(!line.get(at..).unwrap_or_default().contains(part), "`{part}` said twice: {err}");
        }
    }
}

/// Runs and expects exit `code` with a one-line error on stderr; returns it.
pub fn fails(code: i32, args: &[&str], cwd: &Path) -> String {
    output_fails(code, &devnet(args, cwd), args)
}

pub fn output_fails(code: i32, o: &Output, what: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{what:?}\nstdout: {}\nstderr: {err}", stdout(o));
    check_error_line(&err);
    err
}

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

pub fn status(dir: &str, cwd: &Path) -> Value {
    json(&ok(&["status", "--data-dir", dir, "--json"], cwd))
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Waits until `done` holds, polling, for at most `deadline`.
pub fn wait_for(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < deadline, "gave up waiting for {what} after {deadline:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Replaces a node value of the chain in `dir` by hand (as an older devnet or an editor would).
pub fn set_node_value(dir: &Path, key: &str, value: Option<&[u8]>) {
    let mut store = redb_store::RedbStore::open_existing(dir).unwrap();
    store.set_node_value(key, value).unwrap();
}

/// Runs the binary, killing it (and failing) if it has not ended within `deadline`: for
/// commands that could wait forever (on a FIFO).
pub fn devnet_within(args: &[&str], cwd: &Path, deadline: Duration) -> Output {
    let mut child = command(args, cwd).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > deadline {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!("{args:?} still running after {deadline:?}: {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}
