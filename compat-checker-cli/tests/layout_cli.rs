//! The `layout` command as a user runs it: a release on disk, the binary, its output and exit code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::{write_module, AddressLength, NoResolver};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout").join(name)
}

/// Writes the modules of a text fixture as `.mv` files into a fresh folder.
fn build_release(name: &str, length: AddressLength) -> tempfile::TempDir {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for m in binary_format::text::parse(&text).unwrap() {
        let bytes = write_module(&m, length, &NoResolver).unwrap();
        std::fs::write(dir.path().join(format!("{}.mv", m.name)), bytes).unwrap();
    }
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compat-checker")).args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn layout_text_and_json_snapshots() {
    for (name, length) in [
        ("diem_v1.txt", AddressLength::Bytes16),
        ("aptos_v7.txt", AddressLength::Bytes32),
        ("sui_v7.txt", AddressLength::Bytes32),
    ] {
        let dir = build_release(name, length);
        let path = dir.path().to_str().unwrap();
        let text = stdout(&run(&["layout", path]));
        let json = stdout(&run(&["layout", path, "--format", "json"]));
        let stem = name.trim_end_matches(".txt");
        insta::assert_snapshot!(format!("{stem}_text"), text);
        insta::assert_snapshot!(format!("{stem}_json"), json);

        // The text form is the fixture itself, comments aside: what was written is what is read.
        let fixture = std::fs::read_to_string(fixture(name)).unwrap();
        let expected: Vec<&str> = fixture.lines().filter(|l| !l.starts_with("//")).collect();
        assert_eq!(text.lines().collect::<Vec<_>>(), expected, "{name}");
    }
}

#[test]
fn json_follows_the_documented_schema() {
    let dir = build_release("aptos_v7.txt", AddressLength::Bytes32);
    let out = stdout(&run(&["layout", dir.path().to_str().unwrap(), "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], 1);
    let m = &v["modules"][0];
    assert_eq!(m["address"], "0x1");
    assert_eq!(m["name"], "object");
    assert_eq!(m["bytecode_version"], 7);
    let object = &m["structs"][0];
    assert_eq!(object["name"], "Object");
    assert_eq!(object["abilities"], serde_json::json!(["copy", "drop", "store"]));
    assert_eq!(object["type_params"], serde_json::json!([{"constraints": ["key"], "phantom": true}]));
    assert_eq!(object["fields"], serde_json::json!([{"name": "inner", "type": "address"}]));
    assert_eq!(object["variants"], serde_json::Value::Null);
    let owner = &m["functions"][0];
    assert_eq!(owner["visibility"], "public");
    assert_eq!(owner["params"], serde_json::json!(["0x1::object::Object<T0>"]));
}

#[test]
fn bad_input_exits_2_with_one_line_per_problem() {
    let dir = build_release("sui_v7.txt", AddressLength::Bytes32);
    std::fs::write(dir.path().join("broken.mv"), b"\xa1\x1c\xeb\x0b\x06\x00\x00\x00\x05").unwrap();
    let out = run(&["layout", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("broken.mv") && stderr.contains("offset"), "{stderr}");
    // The good modules are still printed.
    assert!(String::from_utf8(out.stdout).unwrap().contains("module 0x2::coin"));

    for args in [
        vec!["layout", "/nonexistent/release"],
        vec!["layout", dir.path().to_str().unwrap(), "--address-length", "17"],
        vec!["layout"],
        vec!["frobnicate"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{stderr}");
    }
}
