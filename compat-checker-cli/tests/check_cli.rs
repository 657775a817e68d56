//! `compat-checker check` as a release engineer runs it in CI, on the stdlib's own releases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(1).unwrap().to_path_buf()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compat-checker"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn check(old: &str, new: &str, extra: &[&str]) -> Output {
    let (old, new) = (format!("stdlib/releases/{old}"), format!("stdlib/releases/{new}"));
    let mut args = vec!["check", &old, &new];
    args.extend_from_slice(extra);
    run(&args)
}

const GATED: [&str; 4] = ["--registry", "stdlib/registry.toml", "--migrations", "stdlib/migrations.toml"];

#[test]
fn stdlib_pairs_pass_with_the_committed_registry_and_declarations() {
    for (old, new) in [("v1", "v2"), ("v2", "v3")] {
        let text = check(old, new, &GATED);
        assert_eq!(text.status.code(), Some(0), "{}", String::from_utf8_lossy(&text.stdout));
        let json = check(old, new, &[&GATED[..], &["--format", "json"]].concat());
        assert_eq!(json.status.code(), Some(0));
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.contains("upgrade with migrations"), "{text}");
        insta::assert_snapshot!(format!("stdlib_{old}_{new}_text"), text);
        insta::assert_snapshot!(format!("stdlib_{old}_{new}_json"), String::from_utf8(json.stdout).unwrap());
    }
}

#[test]
fn removing_a_declaration_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("stdlib/migrations.toml")).unwrap();
    let start = text.find("id = \"wallet-v2\"").unwrap();
    let entry_start = text[..start].rfind("[[migration]]").unwrap();
    let entry_end = start + text[start..].find("[[migration]]").unwrap();
    let without = format!("{}{}", &text[..entry_start], &text[entry_end..]);
    let path = dir.path().join("migrations.toml");
    std::fs::write(&path, without).unwrap();
    let out = check("v1", "v2", &["--registry", "stdlib/registry.toml", "--migrations", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("missing: no migration declared for Wallet::Wallet from 0x1 to 0x4"), "{stdout}");
    assert!(stdout.contains("blocked"));
}

#[test]
fn removing_a_registry_bump_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("stdlib/registry.toml")).unwrap();
    let without = text
        .replace("  { address = \"0x1\", release = \"v1\", closed = true },\n  { address = \"0x2\", release = \"v2\", predecessor = \"0x1\" },\n", "  { address = \"0x1\", release = \"v1\" },\n");
    assert_ne!(without, text);
    let path = dir.path().join("registry.toml");
    std::fs::write(&path, without).unwrap();
    let out = check("v1", "v2", &["--registry", path.to_str().unwrap(), "--migrations", "stdlib/migrations.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("missing: the registry has no version of Epoch at 0x2"), "{stdout}");
    // The registry now has a gap at 0x2: that is reported too.
    assert!(stdout.contains("[sequence]"), "{stdout}");
}

#[test]
fn without_a_registry_every_breaking_change_is_unhandled() {
    let out = check("v1", "v2", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("no registry given"), "{stdout}");
}

#[test]
fn releases_compared_with_themselves_or_their_bundle_report_nothing() {
    for r in ["v1", "v2", "v3"] {
        for other in [r.to_owned(), format!("{r}.bundle")] {
            let out = check(r, &other, &GATED);
            assert_eq!(out.status.code(), Some(0));
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert!(stdout.contains(": rolling upgrade\n"), "{stdout}");
            assert!(stdout.contains("\n0 changes"), "{stdout}");
        }
    }
}

#[test]
fn github_annotations_and_allow_list() {
    let out = check("v1", "v2", &["--format", "github"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("::error file=stdlib/releases/v2/0x2/Epoch.mv,title=struct-field-added (layout-breaking)::0x2::Epoch::Epoch.height")),
        "{stdout}"
    );
    assert!(stdout.lines().last().unwrap().starts_with("::notice title=compat-checker::"));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("compat.toml");
    std::fs::write(
        &config,
        "[[allow]]\nrule = \"struct-field-renamed\"\nitem = \"0x4::Wallet::Wallet\"\nreason = \"renamed on purpose\"\n",
    )
    .unwrap();
    let out = check("v1", "v2", &["--config", config.to_str().unwrap(), "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let renamed = report["changes"].as_array().unwrap().iter().find(|c| c["rule"] == "struct-field-renamed").unwrap();
    assert_eq!(renamed["status"], "allowed");
    assert_eq!(renamed["reason"], "renamed on purpose");
    assert_eq!(report["counts"]["allowed"], 1);

    std::fs::write(&config, "[[allow]]\nrule = \"no-such-rule\"\nitem = \"x\"\nreason = \"r\"\n").unwrap();
    let out = check("v1", "v2", &["--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_input_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "genesis = [").unwrap();
    for args in [
        vec!["check", "stdlib/releases/v1", "/nonexistent"],
        vec!["check", "stdlib/releases/v1", "stdlib/releases/v2", "--registry", broken.to_str().unwrap()],
        vec!["check", "stdlib/releases/v1", "stdlib/releases/v2", "--migrations", broken.to_str().unwrap()],
        vec!["check", "stdlib/releases/v1"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn snapshot_helper_for_framework_authors() {
    let releases = repo().join("stdlib/releases");
    let layouts = compat_checker::snapshot::layouts(&releases.join("v3")).unwrap();
    assert!(layouts.starts_with("module 0x1::Account (bytecode v6)"));
    let diff = compat_checker::snapshot::diff(&releases.join("v2"), &releases.join("v3"), None, None).unwrap();
    insta::assert_snapshot!("framework_diff_v2_v3", diff);
    // The structs-only form: no `uses`, no functions; it changes only when a layout does.
    use compat_checker::snapshot::{layouts_with, Form};
    let structs = layouts_with(&releases.join("v3"), Form::Structs).unwrap();
    assert!(structs.starts_with("module 0x1::Account (bytecode v6)\n"), "{structs}");
    assert!(!structs.contains("  uses ") && !structs.contains(" fun "), "{structs}");
    assert!(structs.contains("struct "));
    let api = layouts_with(&releases.join("v3"), Form::Api).unwrap();
    assert!(!api.contains("  uses ") && api.contains("public fun"), "{api}");
    // The allow list and the profile are taken.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compat.toml");
    std::fs::write(
        &path,
        "[[allow]]\nrule = \"struct-field-removed\"\nitem = \"0x6::*\"\nreason = \"pending is gone\"\n",
    )
    .unwrap();
    let config = compat_checker::config::Config::load(&path).unwrap();
    let profile =
        compat_checker::Profile::new(compat_checker::Chain::Diem, compat_checker::Policy::Compatible).unwrap();
    let diff = compat_checker::snapshot::diff(&releases.join("v2"), &releases.join("v3"), Some(profile), Some(&config))
        .unwrap();
    assert!(diff.contains("allowed: pending is gone"), "{diff}");
    assert!(diff.contains("chain: diem (compatible; given)"), "{diff}");
}

#[test]
fn chain_policy_and_gate_flags() {
    // v1 -> v2 published as ordinary Diem modules: the versioned modules are new ids and the
    // closed old versions are unchanged, so the VM's check accepts it (the seed's scheme at work).
    let out = check("v1", "v2", &[&GATED[..], &["--chain", "diem", "--policy", "compatible"]].concat());
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Diem would accept this release published as modules"), "{stdout}");
    assert!(stdout.contains("stored data: safe"), "{stdout}");
    assert!(stdout.contains("chain: diem (compatible; given)"), "{stdout}");
    // Without declarations, stored data is not safe: gating on storage fails.
    let storage_only = check("v1", "v2", &["--registry", "stdlib/registry.toml", "--gate", "storage"]);
    assert_eq!(storage_only.status.code(), Some(1));
    // Without declarations, gating on the chain's verdict alone passes: Diem takes write sets.
    let chain_only = check("v1", "v2", &["--gate", "chain"]);
    assert_eq!(chain_only.status.code(), Some(0), "{}", String::from_utf8_lossy(&chain_only.stdout));
    let json = check("v1", "v2", &["--gate", "chain", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["schema"], 2);
    assert_eq!(report["gate"], "chain");
    assert_eq!(report["chain"]["name"], "diem");
    assert_eq!(report["chain"]["accepts"], true);
    assert_eq!(report["storage"]["safe"], false);
    // A path the chain does not have is bad input.
    let out = check("v1", "v2", &["--chain", "sui", "--policy", "arbitrary"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sui has no `arbitrary` upgrade path"));
    // A policy alone applies to the chain decided from the releases.
    let out = check("v1", "v1", &["--policy", "compatible"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("chain: diem (compatible; auto: 16-byte addresses"));
}

#[test]
fn a_missing_file_is_said_once_and_an_unmatched_allowance_is_warned_about() {
    let out = run(&["check", "stdlib/releases/v1", "/nonexistent/release"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("compat.toml");
    std::fs::write(
        &config,
        "[[allow]]\nrule = \"struct-field-renamed\"\nitem = \"0x4::*\"\nreason = \"renamed on purpose\"\n\n\
         [[allow]]\nrule = \"struct-field-added\"\nitem = \"0x9::*\"\nreason = \"nothing there\"\n",
    )
    .unwrap();
    let out = check("v1", "v2", &["--config", config.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("allowed: renamed on purpose"), "{stdout}");
    assert!(
        stdout.contains("warning: allow-list entry `struct-field-added` for `0x9::*` matched no change"),
        "{stdout}"
    );
}

/// A folder of `.mv` files (32-byte addresses) from the text layout form.
fn sui_release(dir: &Path, name: &str, text: &str) -> PathBuf {
    use binary_format::{text as layout_text, write_module, AddressLength, NoResolver};
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    for m in layout_text::parse(text).unwrap() {
        let bytes = write_module(&m, AddressLength::Bytes32, &NoResolver).unwrap();
        std::fs::write(folder.join(format!("{}.mv", m.name)), bytes).unwrap();
    }
    folder
}

#[test]
fn protocol_version_flag_judges_a_sui_upgrade_by_that_versions_rules() {
    let dir = tempfile::tempdir().unwrap();
    let m = "module 0xa::shop (bytecode v7, sui)\n  struct Item has key\n    a: u64\n";
    let old = sui_release(dir.path(), "old", m);
    let new = sui_release(dir.path(), "new", &format!("{m}module 0xa::extra (bytecode v7, sui)\n  public fun f()\n"));
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());
    let sui = |extra: &[&str]| run(&[&["check", old, new, "--gate", "chain"], extra].concat());
    // Today's rule (the newest protocol version known): a dep-only upgrade may not add a module.
    let out = sui(&["--chain", "sui", "--policy", "dep-only"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("chain: sui (dep-only, protocol 134; given)"), "{stdout}");
    assert!(stdout.contains("sui-deponly-new-module"), "{stdout}");
    // Before `disallow_new_modules_in_deps_only_packages` (68) Sui accepted it; with `auto` too.
    for chain in ["sui", "auto"] {
        let out = sui(&["--chain", chain, "--policy", "dep-only", "--protocol-version", "67", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (json["chain"]["protocol_version"].as_u64(), json["chain"]["accepts"].as_bool()),
            (Some(67), Some(true))
        );
    }
    // Versions that do not exist, or predate package upgrades, and a version for a chain without
    // any, are bad input.
    for (extra, says) in [
        (
            &["--chain", "sui", "--policy", "dep-only", "--protocol-version", "135"][..],
            "Sui protocol version 135 is not known",
        ),
        (&["--chain", "sui", "--policy", "compatible", "--protocol-version", "2"][..], "before protocol version 3"),
        (&["--chain", "aptos", "--protocol-version", "67"][..], "applies to Sui only"),
    ] {
        let out = sui(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // `auto` decides the chain first: the stdlib is Diem's, which has no protocol versions.
    let out = check("v1", "v2", &["--protocol-version", "67"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("applies to Sui only") && stderr.contains("16-byte addresses"), "{stderr}");
}
