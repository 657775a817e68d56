//! The commands on the stdlib's own releases and registry, as a release engineer runs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(1).unwrap().to_path_buf()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compat-checker")).args(args).current_dir(repo()).output().unwrap()
}

fn ok_stdout(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "{args:?}: exit {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn layout_of_each_stdlib_release() {
    for release in ["v1", "v2", "v3"] {
        let text = ok_stdout(&["layout", &format!("stdlib/releases/{release}")]);
        insta::assert_snapshot!(format!("layout_{release}"), text);
        // The bundle holds the same modules.
        assert_eq!(ok_stdout(&["layout", &format!("stdlib/releases/{release}.bundle")]), text);
    }
}

#[test]
fn graph_of_each_stdlib_release() {
    for release in ["v1", "v2", "v3"] {
        let path = format!("stdlib/releases/{release}");
        let dot = ok_stdout(&["graph", &path, "--registry", "stdlib/registry.toml"]);
        let json = ok_stdout(&["graph", &path, "--registry", "stdlib/registry.toml", "--format", "json"]);
        insta::assert_snapshot!(format!("graph_{release}_dot"), dot);
        insta::assert_snapshot!(format!("graph_{release}_json"), json);
    }
}

#[test]
fn registry_check_passes_on_the_committed_registry_and_releases() {
    let out = ok_stdout(&["registry", "check"]);
    assert!(out.contains("every rule holds; releases v1, v2, v3 agree"), "{out}");
}

#[test]
fn registry_bump_then_check_against_releases_that_lack_the_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry.toml");
    std::fs::copy(repo().join("stdlib/registry.toml"), &registry).unwrap();
    let reg = registry.to_str().unwrap();
    let out = ok_stdout(&["registry", "bump", "Epoch", "--release", "v4", "--registry", reg]);
    assert!(out.contains("Epoch: 0x2 -> 0x9 (release v4)"), "{out}");
    let text = std::fs::read_to_string(&registry).unwrap();
    assert!(text.contains("# The stdlib address registry"), "comments are kept");
    assert!(text.contains(r#"{ address = "0x9", release = "v4", predecessor = "0x2" }"#), "{text}");

    // The releases folder has no v4, so the registry alone is checked: it passes.
    let releases = repo().join("stdlib/releases");
    let out = run(&["registry", "check", "--registry", reg, "--releases", releases.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    // A release that names a module the registry does not have fails the check (exit 1).
    let fake = dir.path().join("releases");
    copy_dir(&releases.join("v1"), &fake.join("v1"));
    std::fs::copy(releases.join("v2/0x2/Epoch.mv"), fake.join("v1/0x1/EpochV2.mv")).unwrap();
    let out = run(&["registry", "check", "--registry", reg, "--releases", fake.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("release-agreement"));
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &target).unwrap();
    }
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_broken_registry_is_bad_input_naming_file_line_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry.toml");
    let text = std::fs::read_to_string(repo().join("stdlib/registry.toml")).unwrap();
    std::fs::write(
        &registry,
        text.replace(
            r#"{ address = "0x3", release = "v2", predecessor = "0x1" }"#,
            r#"{ address = "0x2", release = "v2", predecessor = "0x1" }"#,
        ),
    )
    .unwrap();
    let before = std::fs::read(&registry).unwrap();
    let out = run(&["registry", "check", "--registry", registry.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("registry.toml:") && (stderr.contains("[reuse]") || stderr.contains("[shared-address]")),
        "{stderr}"
    );
    // A failing bump writes nothing.
    let out = run(&["registry", "bump", "Epoch", "--release", "v4", "--registry", registry.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&registry).unwrap(), before);
}

#[test]
fn graph_exits_1_on_stale_imports() {
    let dir = tempfile::tempdir().unwrap();
    // v2 with the old Reconfigure (importing 0x1::Epoch) instead of the republished one.
    let releases = repo().join("stdlib/releases");
    copy_dir(&releases.join("v2"), dir.path());
    std::fs::copy(releases.join("v1/0x1/Reconfigure.mv"), dir.path().join("0x1/Reconfigure.mv")).unwrap();
    let out = run(&["graph", dir.path().to_str().unwrap(), "--registry", "stdlib/registry.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("stale import: 0x1::Reconfigure imports 0x1::Epoch, but the newest version is 0x2::Epoch"),
        "{stderr}"
    );
}
