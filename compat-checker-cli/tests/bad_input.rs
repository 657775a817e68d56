//! Input that cannot be right is refused with exit 2 and a message naming the file (and the
//! entry and line, for declarations), quickly and without growing memory: devices and FIFOs, an
//! oversize configuration, declarations that name a future release, a default that does not fit
//! its type, a rename of a field that does not exist, an unknown hand-written handler.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(1).unwrap().to_path_buf()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compat-checker")).args(args).current_dir(repo()).output().unwrap()
}

fn refused(args: &[&str], says: &str) -> String {
    let start = Instant::now();
    let out = run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: expected {says:?} in:\n{stderr}");
    assert!(start.elapsed() < Duration::from_secs(20), "{args:?} took {:?}", start.elapsed());
    stderr
}

#[cfg(unix)]
#[test]
fn devices_and_fifos_are_refused_at_once() {
    refused(&["layout", "/dev/zero"], "/dev/zero: is a character device, not a regular file");
    refused(&["check", "stdlib/releases/v1", "stdlib/releases/v2", "--config", "/dev/zero"], "is a character device");
    refused(
        &["check", "stdlib/releases/v1", "stdlib/releases/v2", "--migrations", "/dev/zero"],
        "is a character device",
    );
    refused(&["check", "stdlib/releases/v1", "stdlib/releases/v2", "--registry", "/dev/zero"], "is a character device");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    refused(&["layout", fifo.to_str().unwrap()], "is a FIFO");
}

#[test]
fn an_oversize_configuration_is_refused_before_it_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let entry = "[[allow]]\nrule = \"struct-field-renamed\"\nitem = \"0x4::Wallet::Wallet\"\nreason = \"ok\"\n";
    std::fs::write(&path, entry.repeat(300_000)).unwrap();
    refused(
        &["check", "stdlib/releases/v1", "stdlib/releases/v2", "--config", path.to_str().unwrap()],
        "larger than the 1048576-byte limit",
    );
}

/// The committed declarations with `edit` applied to the text.
fn declarations_with(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("stdlib/migrations.toml")).unwrap();
    let path = dir.join("migrations.toml");
    std::fs::write(&path, edit(&text)).unwrap();
    path
}

fn check_pair(old: &str, new: &str, migrations: &Path) -> Vec<String> {
    vec![
        "check".into(),
        format!("stdlib/releases/{old}"),
        format!("stdlib/releases/{new}"),
        "--registry".into(),
        "stdlib/registry.toml".into(),
        "--migrations".into(),
        migrations.display().to_string(),
    ]
}

#[test]
fn declarations_that_cannot_be_right_are_bad_input_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    // (an edit of the committed declarations, what the error says, the release checked)
    type Case<'a> = (&'a dyn Fn(&str) -> String, &'a str, &'a str);
    let cases: [Case<'_>; 4] = [
        (&|t: &str| t.replace("release = \"v2\"", "release = \"v9\""), "a change of v2, but names release v9", "v2"),
        (
            &|t: &str| {
                t.replace("defaults = { height = \"0\" }", "defaults = { height = \"99999999999999999999999999999\" }")
            },
            "migration `epoch-v2`",
            "v2",
        ),
        (
            &|t: &str| {
                t.replace("renames = { total_withdrawn = \"withdrawn\" }", "renames = { total_withdrawn = \"nope\" }")
            },
            "no field `nope`",
            "v2",
        ),
        (&|t: &str| t.replace("handler = \"stake_weight\"", "handler = \"no_such_handler\""), "no_such_handler", "v3"),
    ];
    for (edit, says, new) in cases {
        let path = declarations_with(dir.path(), edit);
        let old = if new == "v2" { "v1" } else { "v2" };
        let args = check_pair(old, new, &path);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stderr = refused(&args, says);
        assert!(stderr.contains(&format!("{}:", path.display())), "the file is named: {stderr}");
    }
}
