//! Killing a child process at a chosen point of a migration: the harness the crash tests share.
//!
//! The test binary runs itself as the child (told by an environment variable naming the data
//! directory): the child resumes the migration on a persistent store and, after a given number
//! of blocks, prints [`PAUSED`] and waits for a line on stdin. The parent then kills it right
//! there (between two blocks) or a chosen delay after letting it go on (inside the next block's
//! work or its commit).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What a child prints when it pauses.
pub const PAUSED: &str = "crash child paused";
/// What a child prints when its migration is done.
pub const DONE: &str = "crash child done";

/// Where to kill a child: when it has run `blocks` blocks (counted from its own start, idle
/// ones included), either right there (`delay_us: None`), or `delay_us` microseconds after
/// letting it go on.
#[derive(Debug, Clone, Copy)]
pub struct KillPoint {
    pub blocks: u64,
    pub delay_us: Option<u64>,
}

/// Child side: called before each block; at block `pause` says so and waits for the parent's
/// word (a minute at most, so that a broken parent fails the test instead of hanging it).
pub fn pause_point(ran: u64, pause: u64) {
    if ran != pause {
        return;
    }
    println!("{PAUSED}");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(());
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        eprintln!("crash child: no word from the parent in 60 s");
        std::process::exit(3);
    }
}

/// Parent side: runs this test binary's test `test_name` as a child on `dir` (passed in the
/// environment variable `dir_env`, the pause in `pause_env`) and kills it at `point`. Returns
/// whether it was still running when killed (not done already).
pub fn run_child_and_kill(test_name: &str, dir_env: &str, pause_env: &str, dir: &Path, point: KillPoint) -> bool {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(dir_env, dir)
        .env(pause_env, point.blocks.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut done = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        // libtest prints "test <name> ... " without a newline before the child's first line.
        if line.ends_with(DONE) {
            done = true;
            break;
        }
        if line.ends_with(PAUSED) {
            break;
        }
    }
    if !done {
        if let Some(delay) = point.delay_us {
            stdin.write_all(b"go\n").unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(Duration::from_micros(delay));
        }
    }
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    drop(stdin);
    for _ in lines {}
    let status = child.wait().unwrap();
    if running {
        assert!(!status.success(), "{status}");
    } else {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert!(status.success(), "child failed: {status}\n{err}");
    }
    running && !done
}

/// Kill points drawn from `seed`: `count` of them, at most `max_blocks` into a child's run, a
/// fifth each right between blocks, at once, within 300 µs, within 2 ms and within 20 ms.
pub fn kill_points(seed: u64, count: usize, max_blocks: usize) -> Vec<KillPoint> {
    let mut rng = binary_format::generate::Rng::new(seed);
    (0..count)
        .map(|_| {
            let delay_us = match rng.below(5) {
                0 => None,
                1 => Some(0),
                2 => Some(rng.below(300) as u64),
                3 => Some(rng.below(2_000) as u64),
                _ => Some(rng.below(20_000) as u64),
            };
            KillPoint { blocks: rng.below(max_blocks) as u64, delay_us }
        })
        .collect()
}
