//! The `devnet` binary as an operator drives it: processes, arguments, exit codes, output.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn devnet(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devnet")).args(args).current_dir(cwd).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects exit 0.
fn ok(args: &[&str], cwd: &Path) -> String {
    let o = devnet(args, cwd);
    assert_eq!(o.status.code(), Some(0), "{args:?}\nstdout: {}\nstderr: {}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// Runs and expects exit `code` with a one-line error on stderr; returns it.
fn fails(code: i32, args: &[&str], cwd: &Path) -> String {
    let o = devnet(args, cwd);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}\nstdout: {}\nstderr: {err}", stdout(&o));
    if code == 2 {
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
    assert!(err.starts_with("devnet: error: ") || err.starts_with("error:"), "{err}");
    err
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn status(dir: &str, cwd: &Path) -> Value {
    json(&ok(&["status", "--data-dir", dir, "--json"], cwd))
}

#[test]
fn run_creates_a_chain_upgrades_it_to_v3_and_resumes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let summary = json(&ok(&["run", "--accounts", "600", "--budget", "200", "--json"], cwd));
    assert!(cwd.join("devnet-data/state.redb").is_file(), "the default data dir");
    assert_eq!(summary["active_release"], 3);
    let migrated = &summary["migrated"];
    for (id, n) in [
        ("epoch-v2", 1),
        ("coin-balance-v2", 600),
        ("wallet-v2", 600),
        ("stake-v2", 200),
        ("stake-v3", 200),
        ("vouch-v3", 300),
        ("wallet-v3", 600),
    ] {
        assert_eq!(migrated[id], n, "{id}: {summary}");
    }
    assert_eq!(summary["quarantined"], serde_json::json!({}));
    assert!(summary["prologue_busy"]["count"].as_u64().unwrap() >= 3, "v2 spans blocks at budget 200");
    assert!(
        summary["prologue_busy"]["p99_ms"].as_f64().unwrap() >= summary["prologue_busy"]["p50_ms"].as_f64().unwrap()
    );
    assert!(summary["transactions"]["applied"].as_u64().unwrap() > 0);
    let height = summary["height"].as_u64().unwrap();
    let st = status("devnet-data", cwd);
    assert_eq!(st["state_root"], summary["state_root"]);
    assert_eq!(st["height"], height);
    assert_eq!(st["completed"].as_array().unwrap().len(), 7);
    assert!(st["in_progress"].as_array().unwrap().is_empty());

    // The text summary names what an operator looks for.
    let text = ok(&["run", "--blocks", "3"], cwd);
    for needle in ["blocks: 3", "quarantined accounts: 0", "p99", "throughput", "state root"] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert_eq!(status("devnet-data", cwd)["height"], height + 3, "resumed where it stopped");
    let err = fails(2, &["run", "--accounts", "601"], cwd);
    assert!(err.contains("600"), "{err}");
}

#[test]
fn the_state_root_does_not_depend_on_the_store_and_the_budget_is_the_chains() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let args = |budget: &'static str, dir: &'static str| {
        vec!["run", "--accounts", "500", "--budget", budget, "--blocks", "40", "--json", "--data-dir", dir]
    };
    // The store's page cache is a node's setting, not the chain's: the smallest gives the same.
    let small = json(&ok(&[args("60", "small"), vec!["--cache-mb", "1"]].concat(), cwd));
    let large = json(&ok(&args("100000", "large"), cwd));
    let mut in_memory = args("60", "unused");
    in_memory.push("--in-memory");
    let memory = json(&ok(&in_memory, cwd));
    assert!(!cwd.join("unused").exists(), "--in-memory writes nothing");
    assert!(small["prologue_busy"]["count"].as_u64() > large["prologue_busy"]["count"].as_u64());
    assert_eq!(small["height"], 40);
    assert_eq!(small["state_root"], memory["state_root"], "the same chain on disk and in memory");
    // The budget is recorded on chain with each release (every node follows it), so chains of
    // two budgets differ in their status; what the migrations made of the state does not.
    assert_ne!(small["state_root"], large["state_root"]);
    let (small, large) = (status("small", cwd), status("large", cwd));
    let small_cache = json(&ok(&["status", "--data-dir", "small", "--cache-mb", "1", "--json"], cwd));
    assert_eq!(small_cache, small);
    assert_eq!(small["completed"], large["completed"]);
    assert_eq!(small["on_chain_schedule"][0]["max_resources_per_block"], 60);
    assert_eq!(large["on_chain_schedule"][0]["max_resources_per_block"], 100000);
    let status_key = devchain::chain_config().unwrap().status_key.encode();
    let exported = |dir: &str| {
        ok(&["snapshot", "export", &format!("{dir}.snap"), "--data-dir", dir], cwd);
        let mut resources = Vec::new();
        snapshot::visit(&cwd.join(format!("{dir}.snap")), &mut |e| {
            if e.key != status_key.as_slice() {
                resources.push((e.key.to_vec(), e.value.to_vec()));
            }
            Ok(true)
        })
        .unwrap();
        resources
    };
    assert_eq!(exported("small"), exported("large"), "every resource but the status the same, byte for byte");
}

#[test]
fn the_runbook_upgrades_step_by_step_and_a_dry_run_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "400", "--to", "v1", "--blocks", "4", "--data-dir", "d"], cwd);
    let before = status("d", cwd);
    assert_eq!(before["active_release"], 1);

    let dry = ok(&["upgrade", "--to", "v3", "--dry-run", "--data-dir", "d"], cwd);
    for step in ["pre-flight", "backup", "quiesce", "migrate", "verify", "resume", "dry run"] {
        assert!(dry.lines().any(|l| l.starts_with(step) && l.contains(" ok ")), "{step}: {dry}");
    }
    let after_dry = status("d", cwd);
    assert_eq!(after_dry, before, "a dry run leaves the chain as it was");
    assert!(!cwd.join("d/backups").exists(), "a dry run's backup goes with its copy");

    let out = ok(&["upgrade", "--to", "v2", "--data-dir", "d"], cwd);
    assert!(out.contains("transactions touching Coin, Epoch, Stake, Wallet refused"), "{out}");
    // One block of migration: its 100 transfers touch Coin and are refused; its 25 vouches go on.
    assert!(out.contains("transactions: 25 applied, 100 refused"), "{out}");
    let v2 = status("d", cwd);
    assert_eq!(v2["active_release"], 2);
    assert_eq!(v2["completed"].as_array().unwrap().len(), 4);
    assert_eq!(std::fs::read_dir(cwd.join("d/backups")).unwrap().count(), 1);

    // v3 changes Vouch and leaves Coin alone: transfers go on while it migrates, vouches wait.
    let out = ok(&["upgrade", "--to", "v3", "--data-dir", "d", "--json"], cwd);
    let report = json(&out);
    let migrate = report["steps"].as_array().unwrap().iter().find(|s| s["step"] == "migrate").unwrap();
    assert!(migrate["detail"].as_str().unwrap().contains("25 refused"), "{migrate}");
    assert!(!migrate["detail"].as_str().unwrap().contains(" 0 applied"), "{migrate}");
    assert_eq!(status("d", cwd)["active_release"], 3);
    assert_eq!(status("d", cwd)["state_root"], report["state_root"]);
    let err = fails(2, &["upgrade", "--to", "v3", "--data-dir", "d"], cwd);
    assert!(err.contains("already on v3"), "{err}");
}

#[test]
fn a_runbook_whose_verify_fails_rolls_back_to_the_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "300", "--corrupt", "2", "--to", "v1", "--data-dir", "d"], cwd);
    let before = status("d", cwd);
    let o = devnet(&["upgrade", "--to", "v2", "--data-dir", "d"], cwd);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{}", stderr(&o));
    let lines: Vec<&str> = out.lines().collect();
    let at = |step: &str| lines.iter().position(|l| l.starts_with(step)).unwrap_or_else(|| panic!("{step}: {out}"));
    assert!(lines[at("migrate")].contains("2 quarantined"), "{out}");
    assert!(lines[at("verify")].contains("FAILED"), "{out}");
    assert!(at("verify") < at("rollback") && lines[at("rollback")].contains(" ok "), "{out}");
    assert!(!out.contains("resume"), "the runbook stops at the failure: {out}");
    let err = stderr(&o);
    assert!(
        err.contains("verify failed") && err.contains("0x1::Wallet::Wallet") && err.contains("rolled back"),
        "{err}"
    );
    let after = status("d", cwd);
    assert_eq!(after["state_root"], before["state_root"]);
    assert_eq!(after["height"], before["height"]);
    assert_eq!(after["active_release"], 1);
    assert_eq!(after["scheduled"], serde_json::json!([]), "the manifest is restored with the state");
    // The restored chain goes on producing blocks.
    ok(&["run", "--blocks", "2", "--data-dir", "d"], cwd);
}

#[test]
fn a_snapshot_round_trip_starts_a_chain_with_the_same_root() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "300", "--data-dir", "a"], cwd);
    let original = status("a", cwd);
    let out = ok(&["snapshot", "export", "chain.snap", "--data-dir", "a"], cwd);
    assert!(out.contains(original["state_root"].as_str().unwrap()), "{out}");
    let exported = std::fs::read(cwd.join("chain.snap")).unwrap();

    ok(&["snapshot", "import", "chain.snap", "--data-dir", "b"], cwd);
    let imported = status("b", cwd);
    assert_eq!(imported["state_root"], original["state_root"]);
    assert_eq!(imported["height"], original["height"]);
    assert_eq!(imported["completed"], original["completed"]);
    // The imported chain is a chain: it produces blocks.
    ok(&["run", "--blocks", "1", "--data-dir", "b"], cwd);

    // Nothing is overwritten.
    fails(2, &["snapshot", "export", "chain.snap", "--data-dir", "a"], cwd);
    assert_eq!(std::fs::read(cwd.join("chain.snap")).unwrap(), exported);
    fails(2, &["snapshot", "import", "chain.snap", "--data-dir", "a"], cwd);
    assert_eq!(status("a", cwd), original);

    // A corrupt snapshot is refused before anything is created.
    let mut bad = exported.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    std::fs::write(cwd.join("bad.snap"), &bad).unwrap();
    let err = fails(2, &["snapshot", "import", "bad.snap", "--data-dir", "c"], cwd);
    assert!(err.contains("bad.snap"), "{err}");
    assert!(!cwd.join("c").exists());
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_code_2_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    fails(2, &["status", "--data-dir", "missing"], cwd);
    fails(2, &["upgrade", "--to", "v2", "--data-dir", "missing"], cwd);
    fails(2, &["snapshot", "import", "missing.snap", "--data-dir", "x"], cwd);
    assert!(!cwd.join("x").exists());
    fails(2, &["run", "--to", "v9", "--in-memory"], cwd);
    fails(2, &["run", "--accounts", "0", "--in-memory"], cwd);
    for cache in ["0", "65537", "lots"] {
        let err = fails(2, &["status", "--data-dir", "missing", "--cache-mb", cache], cwd);
        assert!(err.contains("--cache-mb"), "{err}");
    }

    std::fs::create_dir(cwd.join("full")).unwrap();
    std::fs::write(cwd.join("full/notes.txt"), "mine").unwrap();
    let err = fails(2, &["run", "--accounts", "10", "--data-dir", "full"], cwd);
    assert!(err.contains("refusing"), "{err}");
    assert_eq!(std::fs::read_dir(cwd.join("full")).unwrap().count(), 1);

    ok(&["run", "--accounts", "50", "--to", "v1", "--blocks", "5", "--data-dir", "d"], cwd);
    let before = status("d", cwd);
    let err = fails(2, &["run", "--to", "v2", "--upgrade-at", "3", "--data-dir", "d"], cwd);
    assert!(err.contains("in the past"), "{err}");
    fails(2, &["run", "--upgrade-at", "10,20,30", "--to", "v3", "--data-dir", "d"], cwd);
    assert_eq!(status("d", cwd), before, "the schedule and the chain are unchanged");

    // A manifest that is not one, and one whose schedule the on-chain history contradicts.
    let state = std::fs::read(cwd.join("d/state.redb")).unwrap();
    let set_manifest = |value: &[u8]| {
        let mut store = redb_store::RedbStore::open_existing(&cwd.join("d")).unwrap();
        store.set_node_value(devnet::manifest::MANIFEST_KEY, Some(value)).unwrap();
    };
    set_manifest(b"{ not json");
    let err = fails(2, &["status", "--data-dir", "d"], cwd);
    assert!(err.contains("corrupt manifest"), "{err}");
    std::fs::write(cwd.join("d/state.redb"), &state).unwrap();
    ok(&["run", "--to", "v2", "--upgrade-at", "7", "--data-dir", "d"], cwd);
    let mut m: Value = status("d", cwd)["manifest"].clone();
    m["activations"] = serde_json::json!([]);
    set_manifest(m.to_string().as_bytes());
    let err = fails(2, &["run", "--data-dir", "d"], cwd);
    assert!(err.contains("on-chain status"), "{err}");
    std::fs::write(cwd.join("d/state.redb"), vec![0x5a; 4096]).unwrap();
    let err = fails(2, &["status", "--data-dir", "d"], cwd);
    assert!(err.contains("state.redb"), "{err}");
    std::fs::write(cwd.join("d/state.redb"), b"").unwrap();
    fails(2, &["status", "--data-dir", "d"], cwd);
    assert_eq!(std::fs::read(cwd.join("d/state.redb")).unwrap(), b"", "an empty store is refused, not made a chain");

    // Usage errors are one line too.
    let err = fails(2, &["upgrade"], cwd);
    assert!(err.contains("--to"), "{err}");
    fails(2, &["upgrade", "--to", "v1", "--data-dir", "d"], cwd);
    fails(2, &["run", "--in-memory", "--to", "v3", "--upgrade-at", "18446744073709551615"], cwd);
    for far in
        [vec!["--blocks", "5000000"], vec!["--until-height", "9000000"], vec!["--to", "v2", "--upgrade-at", "7000000"]]
    {
        let mut args = vec!["run", "--in-memory", "--accounts", "10"];
        args.extend(far);
        let err = fails(2, &args, cwd);
        assert!(err.contains("run in steps"), "{err}");
    }
}

#[test]
fn accounts_quarantined_by_an_earlier_upgrade_do_not_fail_a_later_runbook() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let summary =
        json(&ok(&["run", "--accounts", "300", "--corrupt", "2", "--to", "v2", "--json", "--data-dir", "d"], cwd));
    assert_eq!(summary["quarantined"]["wallet-v2"], 2, "{summary}");
    assert_eq!(status("d", cwd)["quarantined"].as_array().unwrap().len(), 2);
    let out = ok(&["upgrade", "--to", "v3", "--data-dir", "d"], cwd);
    assert!(out.lines().any(|l| l.starts_with("verify") && l.contains(" ok ")), "{out}");
    assert_eq!(status("d", cwd)["active_release"], 3);
}

/// Files the fuzzer made (devnet/fuzz): each once passed a check it should not have, or gave a
/// multi-line error.
#[test]
fn snapshots_the_fuzzer_found_are_refused_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for name in ["invalid-identifier", "newline-in-state-root", "newline-in-tag"] {
        let file = fixtures.join(format!("{name}.snapshot"));
        let err = fails(2, &["snapshot", "import", file.to_str().unwrap(), "--data-dir", name], cwd);
        assert!(err.contains(&format!("{name}.snapshot")), "{name}: {err}");
        assert!(!cwd.join(name).exists(), "{name}: nothing created");
    }
}

#[test]
fn a_chain_under_an_interrupted_upgrade_is_refused_until_the_upgrade_is_taken_up() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "200", "--to", "v1", "--blocks", "5", "--data-dir", "d"], cwd);
    let aborted = Command::new(env!("CARGO_BIN_EXE_devnet"))
        .args(["upgrade", "--to", "v2", "--data-dir", "d"])
        .env(devnet::node::CRASH_ENV, "6")
        .current_dir(cwd)
        .output()
        .unwrap();
    assert_eq!(aborted.status.code(), None, "the drill aborts the process");
    let st = status("d", cwd);
    assert_eq!(st["upgrade_under_way"]["to"], 2, "{st}");
    for args in [
        vec!["run", "--blocks", "1", "--data-dir", "d"],
        vec!["snapshot", "export", "s.snapshot", "--data-dir", "d"],
        vec!["upgrade", "--to", "v2", "--dry-run", "--data-dir", "d"],
        vec!["upgrade", "--to", "v3", "--data-dir", "d"],
    ] {
        let err = fails(2, &args, cwd);
        assert!(err.contains("upgrade --to v2"), "{args:?}: {err}");
    }
    assert!(!cwd.join("s.snapshot").exists());
    let out = ok(&["upgrade", "--to", "v2", "--data-dir", "d"], cwd);
    assert!(out.starts_with("take up"), "{out}");
    assert_eq!(status("d", cwd)["upgrade_under_way"], Value::Null);
}

#[test]
fn a_damaged_store_is_an_error_never_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "300", "--data-dir", "d"], cwd);
    let file = cwd.join("d/state.redb");
    let original = std::fs::read(&file).unwrap();
    let mut refused = 0;
    // A deterministic spread of single-byte damage over the whole file.
    for i in 0..40usize {
        let mut bytes = original.clone();
        let at = (i * 7919 * 131) % bytes.len();
        bytes[at] ^= 0x5a;
        std::fs::write(&file, &bytes).unwrap();
        let o = devnet(&["status", "--data-dir", "d"], cwd);
        match o.status.code() {
            Some(0) => {}
            Some(2) => {
                refused += 1;
                assert_eq!(stderr(&o).trim_end().lines().count(), 1, "{}", stderr(&o));
            }
            other => panic!("byte {at}: exit {other:?}: {}", stderr(&o)),
        }
    }
    assert!(refused > 0, "some damage is found");
}
