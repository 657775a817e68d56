//! `compat-checker rehearse` as a release engineer runs it: a devnet chain's state exported in
//! each of the three formats (our snapshot, JSON Lines, a Diem-family backup of either era),
//! rehearsed on the project's v1 -> v2 -> v3; a release pair that changes a stored struct with
//! no declaration; and every kind of damaged input, refused or reported with its place.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::ModuleId;
use migrations::store::InMemoryStore;
use migrations::{AccountAddress, StructTag};
use rehearsal::state::diem::writer::{write_backup, BackupAccount, BackupOptions};
use rehearsal::state::jsonl::encode_hex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(1).unwrap().to_path_buf()
}

fn release(n: u32) -> PathBuf {
    repo().join(format!("stdlib/releases/v{n}"))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_compat-checker")).args(args).current_dir(repo()).output().unwrap()
}

/// Runs `rehearse` on `state` from release `from` (or the state's own modules) to `to`, with the
/// stdlib's registry and the declarations in `migrations`, then `extra`.
fn rehearse_with(state: &Path, from: Option<u32>, to: u32, migrations: &Path, extra: &[&str]) -> Output {
    let state = state.display().to_string();
    let to = release(to).display().to_string();
    let from = from.map(|n| release(n).display().to_string());
    let migrations = migrations.display().to_string();
    let mut args = vec!["rehearse", "--state", &state, "--to", &to, "--registry", "stdlib/registry.toml"];
    args.extend(["--migrations", migrations.as_str()]);
    if let Some(f) = &from {
        args.extend(["--from", f.as_str()]);
    }
    args.extend_from_slice(extra);
    run(&args)
}

/// Rehearses `state` from vN to vN+1 with the stdlib's registry and declarations, as JSON.
fn rehearse(state: &Path, from: Option<u32>, to: u32, extra: &[&str]) -> (Option<i32>, Value, String) {
    let extra = [&["--format", "json"], extra].concat();
    let out = rehearse_with(state, from, to, &repo().join("stdlib/migrations.toml"), &extra);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), json, stderr)
}

fn genesis(accounts: u32, corrupt: u32) -> InMemoryStore {
    devchain::Genesis { accounts, corrupt }.in_memory().unwrap()
}

fn snapshot_of(store: &InMemoryStore, path: &Path) {
    snapshot::export(store, 0, serde_json::json!({"test": true}), devchain::WIDTH, path).unwrap();
}

/// The modules of stdlib vN, by id, with their bytes.
fn modules(n: u32) -> Vec<(ModuleId, Vec<u8>)> {
    let r = releases::load(&release(n), Default::default()).unwrap();
    r.modules.into_iter().map(|m| (m.module.id(), m.bytes)).collect()
}

fn jsonl_of(store: &InMemoryStore, with_modules: Option<u32>) -> String {
    let mut out = String::new();
    if let Some(n) = with_modules {
        for (id, bytes) in modules(n) {
            out.push_str(&format!("{{\"module\":\"{id}\",\"bytes\":\"{}\"}}\n", encode_hex(&bytes)));
        }
    }
    for (tag, account, bytes) in store.resources(devchain::WIDTH) {
        out.push_str(&format!(
            "{{\"address\":\"{account}\",\"type\":\"{tag}\",\"bytes\":\"0x{}\"}}\n",
            encode_hex(bytes)
        ));
    }
    out
}

/// The state as a Diem-family backup, the release's modules under their accounts' code paths.
fn backup_of(store: &InMemoryStore, release: u32, dir: &Path, options: BackupOptions) -> PathBuf {
    let mut accounts: BTreeMap<AccountAddress, BackupAccount> = BTreeMap::new();
    for (tag, account, bytes) in store.resources(devchain::WIDTH) {
        accounts.entry(account).or_default().resources.push((tag.clone(), bytes.to_vec()));
    }
    for (id, bytes) in modules(release) {
        let a = AccountAddress::from_address(id.address, devchain::WIDTH).unwrap();
        accounts.entry(a).or_default().modules.push((id, bytes));
    }
    write_backup(dir, accounts, options).unwrap().manifest
}

fn tag(s: &str) -> StructTag {
    StructTag::parse(s, devchain::WIDTH).unwrap()
}

#[test]
fn a_snapshot_rehearses_v1_to_v2_to_v3_through_the_snapshot_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.snap");
    snapshot_of(&genesis(60, 0), &v1);
    let out2 = dir.path().join("after-v2");
    let (code, json, err) = rehearse(&v1, Some(1), 2, &["--out", out2.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    assert_eq!(json["schema"], 2);
    assert_eq!(json["verdict"], "safe");
    assert_eq!(json["state"]["format"], "move-devnet-snapshot");
    assert_eq!(json["state"]["root_verified"], true);
    assert_eq!(json["state"]["accounts"], 61);
    assert_eq!(json["before"]["undecodable"], 0);
    assert_eq!(json["after"]["undecodable"], 0);
    assert_eq!(json["would_halt"], Value::Array(vec![]));
    assert_eq!(json["second_pass"], Value::Array(vec![]));
    let balances = json["structs"].as_array().unwrap().iter().find(|s| s["migration"] == "coin-balance-v2").unwrap();
    assert_eq!(balances["instances"], 60);
    assert_eq!(balances["migrated"], 60);
    assert_eq!(balances["left_behind"], 0);
    assert_ne!(json["root_before"], json["root_after"]);
    let phases: Vec<&str> =
        json["run"]["phases"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(phases.contains(&"migrate") && phases.contains(&"pass") && phases.contains(&"export"), "{phases:?}");
    // Nothing was left on the old version: a second pass would have nothing to migrate.
    assert!(!phases.contains(&"second-pass"), "{phases:?}");

    // The migrated state is a snapshot: rehearse v2 -> v3 on it.
    let snap2 = out2.join("state.snap");
    let info = snapshot::verify(&snap2).unwrap();
    assert_eq!(info.state_root.to_string(), json["root_after"].as_str().unwrap());
    let (code, json3, err) = rehearse(&snap2, Some(2), 3, &[]);
    assert_eq!(code, Some(0), "{err}\n{json3:#}");
    assert_eq!(json3["root_before"], json["root_after"]);
    let stake = json3["structs"].as_array().unwrap().iter().find(|s| s["migration"] == "stake-v3").unwrap();
    assert_eq!(stake["instances"], 20);
    assert_eq!(stake["migrated"], 20);
    // Nothing left of the scratch state beside the result and its (empty) table list.
    let mut names: Vec<_> = std::fs::read_dir(&out2).unwrap().map(|e| e.unwrap().file_name()).collect();
    names.sort();
    assert_eq!(names, vec![std::ffi::OsString::from("state.snap"), std::ffi::OsString::from("tables.json")]);
    assert_eq!(std::fs::read_to_string(out2.join("tables.json")).unwrap(), "[]\n");
}

#[test]
fn text_output_names_the_phases_and_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.snap");
    snapshot_of(&genesis(5, 0), &v1);
    let out = rehearse_with(&v1, Some(1), 2, &repo().join("stdlib/migrations.toml"), &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("verdict: safe"), "{text}");
    assert!(text.contains("coin-balance-v2"), "{text}");
    assert!(text.contains("MB/s"), "{text}");
    let threads = rehearse_with(&v1, Some(1), 2, &repo().join("stdlib/migrations.toml"), &["--threads", "2"]);
    assert_eq!(threads.status.code(), Some(0));
    let none = rehearse_with(&v1, Some(1), 2, &repo().join("stdlib/migrations.toml"), &["--threads", "0"]);
    assert_eq!(none.status.code(), Some(2), "{}", String::from_utf8_lossy(&none.stderr));
}

#[test]
fn a_policy_with_chain_auto_applies_to_the_chain_decided_as_check_does() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("v1.snap");
    snapshot_of(&genesis(5, 0), &v1);
    let (code, json, err) = rehearse(&v1, Some(1), 2, &["--policy", "compatible"]);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    assert_eq!(json["gate"]["chain"], "diem compatible (auto: 16-byte addresses (the Diem family))", "{json:#}");
    // A path the decided chain lacks is bad input, naming why the chain was decided.
    let (code, _, err) = rehearse(&v1, Some(1), 2, &["--policy", "dep-only"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("diem has no `dep-only` upgrade path") && err.contains("16-byte addresses"), "{err}");
    let (code, _, err) = rehearse(&v1, Some(1), 2, &["--protocol-version", "67"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("applies to Sui only"), "{err}");
}

fn structs<'a>(json: &'a Value, migration: &str) -> &'a Value {
    json["structs"].as_array().unwrap().iter().find(|s| s["migration"] == migration).unwrap()
}

#[test]
fn json_lines_plain_and_gzipped_rehearse_with_the_modules_the_state_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = genesis(30, 0);
    let text = jsonl_of(&store, Some(1));
    let plain = dir.path().join("state.jsonl");
    std::fs::write(&plain, &text).unwrap();
    let gz = dir.path().join("state.data");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, text.as_bytes()).unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let mut roots = Vec::new();
    for path in [&plain, &gz] {
        let (code, json, err) = rehearse(path, None, 2, &[]);
        assert_eq!(code, Some(0), "{err}\n{json:#}");
        assert_eq!(json["from_source"], "state");
        assert_eq!(json["state"]["format"], "jsonl");
        assert_eq!(json["state"]["root_verified"], Value::Null);
        assert_eq!(json["state"]["resources"], store.len() as u64);
        assert_eq!(structs(&json, "wallet-v2")["migrated"], 30);
        roots.push((json["root_before"].clone(), json["root_after"].clone()));
    }
    assert_eq!(roots[0], roots[1]);
    // The same state as a snapshot has the same root.
    let snap = dir.path().join("s.snap");
    snapshot_of(&store, &snap);
    let (_, json, _) = rehearse(&snap, Some(1), 2, &[]);
    assert_eq!((json["root_before"].clone(), json["root_after"].clone()), roots[0]);
}

#[test]
fn diem_backups_of_both_eras_verify_their_root_and_resolve_every_key() {
    let store = genesis(40, 0);
    let snap_dir = tempfile::tempdir().unwrap();
    let snap = snap_dir.path().join("s.snap");
    snapshot_of(&store, &snap);
    let (_, reference, _) = rehearse(&snap, Some(1), 2, &[]);
    for (era, options) in [("LIBRA::", BackupOptions::libra(1234)), ("DIEM::", BackupOptions::diem(1234))] {
        let dir = tempfile::tempdir().unwrap();
        let manifest = backup_of(&store, 1, dir.path(), BackupOptions { max_chunk_bytes: 2_000, ..options });
        // The top directory and the manifest both name the backup.
        for state in [dir.path(), manifest.as_path()] {
            let (code, json, err) = rehearse(state, None, 2, &[]);
            assert_eq!(code, Some(0), "{era}: {err}\n{json:#}");
            assert_eq!(json["state"]["format"], "diem-backup");
            assert_eq!(json["state"]["root_verified"], true, "{era}");
            assert!(json["state"]["chain_root"]["scheme"].as_str().unwrap().contains(era), "{json:#}");
            // A root recomputed equal binds the records to the manifest, not the manifest to the
            // chain: the report says what was not read.
            let not_verified = json["state"]["chain_root"]["not_verified"].to_string();
            assert!(not_verified.contains("proof") && not_verified.contains("signatures"), "{json:#}");
            assert_eq!(json["state"]["problems"]["counts"], serde_json::json!({}), "{era}: {json:#}");
            assert_eq!(json["state"]["resources"], store.len() as u64);
            assert_eq!(json["state"]["accounts"], 41);
            assert_eq!(json["from_source"], "state");
            // The same state, the same roots as its snapshot.
            assert_eq!(json["root_before"], reference["root_before"]);
            assert_eq!(json["root_after"], reference["root_after"]);
        }
        // The other era's hashes do not give the manifest's root.
        let wrong = if era == "LIBRA::" { "diem" } else { "libra" };
        let (code, _, err) = rehearse(dir.path(), None, 2, &["--diem-era", wrong]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("state root mismatch"), "{err}");
    }
}

/// An Aptos-based backup of the devchain's 32-byte framework (its old release's modules in the
/// state, a table item beside the resources), the new release and its declarations: the state,
/// the release folder and the declarations file.
fn aptos_backup(dir: &Path, users: u32) -> (PathBuf, PathBuf, PathBuf, Vec<PathBuf>) {
    use rehearsal::state::aptos::writer::{write_backup, Compression, WriteOptions, WriteRecord};
    use rehearsal::state::aptos::{AptosStateKey, Salt};
    let (release, declarations, old) = devchain::framework::write_upgrade(dir).unwrap();
    let store = devchain::framework::genesis(users).unwrap();
    let mut records: Vec<WriteRecord> = store
        .resources(devchain::framework::WIDTH)
        .map(|(tag, account, bytes)| WriteRecord {
            key: AptosStateKey::resource(account, tag),
            data: bytes.to_vec(),
            metadata: None,
        })
        .collect();
    for (file, bytes) in old {
        let id = ModuleId::new(binary_format::Address::from_u64(1), file.trim_end_matches(".mv"));
        records.push(WriteRecord { key: AptosStateKey::module(id), data: bytes, metadata: None });
    }
    records.push(WriteRecord {
        key: AptosStateKey::TableItem { handle: [7; 32], key: vec![1] },
        data: vec![2],
        metadata: None,
    });
    let top = dir.join("backup");
    let options =
        WriteOptions { compression: Compression::Gzip, records_per_chunk: 10, ..WriteOptions::new(Salt::Aptos, 900) };
    let written = write_backup(&top, records, options).unwrap();
    (top, release, declarations, written.chunks)
}

#[test]
fn an_aptos_based_backup_rehearses_and_an_incomplete_one_is_refused_or_read_as_partial() {
    let dir = tempfile::tempdir().unwrap();
    let (top, release, declarations, chunks) = aptos_backup(dir.path(), 12);
    let run_on = |extra: &[&str]| {
        let (top, release, declarations) =
            (top.display().to_string(), release.display().to_string(), declarations.display().to_string());
        let mut args = vec!["rehearse", "--state", &top, "--to", &release, "--migrations", &declarations];
        args.extend(["--system-account", "0x1", "--format", "json"]);
        args.extend_from_slice(extra);
        let out = run(&args);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), json, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // Read, verified, migrated; the table item is carried as an entry of its kind, and since
    // no value of the state holds its table, named as not judged: the rehearsal is incomplete.
    let (code, json, err) = run_on(&[]);
    assert_eq!(json["state"]["format"], "aptos-backup");
    assert_eq!(json["state"]["root_verified"], true, "{json:#}");
    assert!(json["state"]["chain_root"]["not_verified"].to_string().contains("signatures"), "{json:#}");
    assert_eq!(json["state"]["kinds"]["table_item"], 1, "{json:#}");
    assert_eq!(json["state"]["problems"]["counts"]["unresolved-table"], 1, "{json:#}");
    assert_eq!(json["migrated"], 25, "{json:#}");
    assert_eq!(json["verdict"], "safe", "{json:#}");
    assert_eq!((code, &json["complete"]), (Some(2), &Value::Bool(false)), "{err}");
    // Another snapshot version than the backup holds.
    let (code, _, err) = run_on(&["--state-version", "899"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no state snapshot at version 899") && err.contains("900"), "{err}");
    // A chunk cut short: refused, naming it; read as partial when asked.
    let chunk = &chunks[1];
    let len = std::fs::metadata(chunk).unwrap().len();
    rehearsal::state::aptos::writer::cut(chunk, len - 20).unwrap();
    let (code, _, err) = run_on(&[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&chunk.display().to_string()) && err.contains("--allow-partial"), "{err}");
    let (code, json, err) = run_on(&["--allow-partial"]);
    assert_eq!(code, Some(2), "{err}\n{json:#}");
    assert_eq!(json["state"]["root_verified"], false, "{json:#}");
    assert_eq!(json["state"]["problems"]["counts"]["incomplete"], 1, "{json:#}");
    assert_eq!(json["complete"], false);
}

#[test]
fn a_stored_struct_changed_with_no_declaration_names_the_accounts_that_would_halt() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.snap");
    snapshot_of(&genesis(25, 0), &snap);
    let declarations = std::fs::read_to_string(repo().join("stdlib/migrations.toml")).unwrap();
    let without_wallet: Vec<&str> =
        declarations.split("[[migration]]").filter(|b| !b.contains("\"wallet-v2\"")).collect();
    let file = dir.path().join("migrations.toml");
    std::fs::write(&file, without_wallet.join("[[migration]]")).unwrap();
    let out = rehearse_with(&snap, Some(1), 2, &file, &["--format", "json", "--examples", "5"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "would-break");
    let halts = json["would_halt"].as_array().unwrap();
    assert_eq!(halts.len(), 1, "{json:#}");
    assert_eq!(halts[0]["struct"], "0x1::Wallet::Wallet -> 0x4::Wallet::Wallet");
    assert_eq!(halts[0]["accounts"], 25);
    assert_eq!(halts[0]["examples"]["total"], 25);
    assert_eq!(halts[0]["examples"]["items"].as_array().unwrap().len(), 5);
    assert!(halts[0]["examples"]["items"].as_array().unwrap().contains(&Value::from("0x1")));
    // The declared migrations still ran.
    assert_eq!(structs(&json, "coin-balance-v2")["migrated"], 25);
    // In text: the struct and the accounts.
    let out = rehearse_with(&snap, Some(1), 2, &file, &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("WOULD HALT")
            && text.contains("0x1::Wallet::Wallet -> 0x4::Wallet::Wallet: 25 accounts: 0x1, 0x2"),
        "{text}"
    );
}

#[test]
fn resources_broken_before_the_upgrade_are_counted_and_their_migration_fails() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.snap");
    snapshot_of(&genesis(20, 2), &snap);
    let (code, json, err) = rehearse(&snap, Some(1), 2, &[]);
    assert_eq!(code, Some(1), "{err}\n{json:#}");
    assert_eq!(json["before"]["undecodable"], 2);
    assert_eq!(json["failed"], 2);
    let wallets = structs(&json, "wallet-v2");
    assert_eq!(wallets["failed"], 2);
    assert_eq!(wallets["migrated"], 18);
    // Still broken after, but not broken by the upgrade.
    assert_eq!(json["after"]["broken_by_upgrade"], 0);
}

/// A backup of a small state, and its (only) chunk file.
fn small_backup(dir: &Path, options: BackupOptions) -> (PathBuf, PathBuf) {
    let manifest = backup_of(&genesis(6, 0), 1, dir, options);
    let chunk = std::fs::read_dir(manifest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "chunk"))
        .unwrap();
    (manifest, chunk)
}

fn refused(state: &Path, needles: &[&str]) {
    let (code, json, err) = rehearse(state, None, 2, &[]);
    assert_eq!(code, Some(2), "{err}\n{json:#}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
}

#[test]
fn damaged_backups_are_refused_with_the_file_and_the_offset() {
    // A truncated chunk.
    let dir = tempfile::tempdir().unwrap();
    let (manifest, chunk) = small_backup(dir.path(), BackupOptions::diem(7));
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() - 3]).unwrap();
    refused(&manifest, &[chunk.to_str().unwrap(), "at byte", "runs past the end of the file"]);
    // A record whose length runs past the file.
    let mut long = bytes.clone();
    long[..4].copy_from_slice(&u32::MAX.to_be_bytes());
    std::fs::write(&chunk, &long).unwrap();
    refused(&manifest, &[chunk.to_str().unwrap(), "at byte 0", "runs past the end of the file"]);
    // A chunk the manifest names is missing.
    std::fs::remove_file(&chunk).unwrap();
    refused(&manifest, &[manifest.to_str().unwrap(), "missing", "0-.chunk"]);
    // A root that does not match.
    std::fs::write(&chunk, &bytes).unwrap();
    let text = std::fs::read_to_string(&manifest).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let root = json["root_hash"].as_str().unwrap().to_owned();
    let other = format!("{}{}", if root.starts_with('0') { "1" } else { "0" }, &root[1..]);
    std::fs::write(&manifest, text.replace(&root, &other)).unwrap();
    refused(&manifest, &["state root mismatch", &other]);
    // A record damaged inside (its blob's length) is refused at its offset, whatever the root says.
    std::fs::write(&manifest, &text).unwrap();
    let mut inner = bytes.clone();
    inner[4 + 33] ^= 0x40;
    std::fs::write(&chunk, &inner).unwrap();
    refused(&manifest, &[chunk.to_str().unwrap(), "at byte 0"]);
}

#[test]
fn keys_that_resolve_to_no_struct_and_resources_with_bad_bytes_are_reported_with_their_key() {
    let mut store = genesis(6, 0);
    let mut batch = migrations::store::WriteBatch::new();
    // A struct the release lacks (its hashed path resolves to nothing), and a wallet with a
    // byte too many.
    batch.put(devchain::account(2), tag("0x1::Nope::Nope"), vec![1, 2, 3]);
    let wallet = tag("0x1::Wallet::Wallet");
    let mut bytes = migrations::store::Store::get(&store, &devchain::account(3), &wallet).unwrap().unwrap();
    bytes.push(0);
    batch.put(devchain::account(3), wallet, bytes);
    migrations::store::Store::apply(&mut store, batch).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let manifest = backup_of(&store, 1, dir.path(), BackupOptions::libra(9));
    let (code, json, err) = rehearse(&manifest, None, 2, &[]);
    // Incomplete input: exit 2, with the full report.
    assert_eq!(code, Some(2), "{err}\n{json:#}");
    assert_eq!(json["complete"], false);
    let problems = &json["state"]["problems"];
    assert_eq!(problems["counts"]["unresolved-key"], 1, "{problems:#}");
    assert_eq!(problems["skipped_resources"], 1);
    let example = &problems["examples"][0];
    assert!(example["origin"].as_str().unwrap().contains("0-.chunk at byte"), "{example:#}");
    assert!(example["key"].as_str().unwrap().starts_with("account key "), "{example:#}");
    // The wallet with a trailing byte: undecodable before, with where it was read.
    assert_eq!(json["before"]["undecodable"], 1);
    let broken = &json["before"]["examples"]["items"][0];
    assert_eq!(broken["account"], "0x3", "{json:#}");
    assert!(broken["reason"].as_str().unwrap().contains("left after the value"), "{broken:#}");
    assert!(broken["origin"].as_str().unwrap().contains("at byte"), "{broken:#}");
    // In the DIEM:: era the path names the struct: stored, and undecodable for want of a layout.
    let dir = tempfile::tempdir().unwrap();
    let manifest = backup_of(&store, 1, dir.path(), BackupOptions::diem(9));
    let (code, json, err) = rehearse(&manifest, None, 2, &[]);
    assert_eq!(code, Some(1), "{err}\n{json:#}");
    assert_eq!(json["before"]["undecodable"], 2);
    // Neither release declares it: an orphan before as after, not the upgrade's doing.
    assert_eq!(json["unknown_to_both"], 1, "{json:#}");
    assert_eq!(json["removed"], Value::Array(vec![]));
}

#[test]
fn bad_json_lines_are_skipped_and_reported_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = genesis(4, 0);
    let mut text = jsonl_of(&store, None);
    text.push_str("[1, 2]\n");
    text.push_str("{\"address\":\"0x1\",\"type\":\"0x1::Wallet::Wallet\",\"bytes\":\"abc\"}\n");
    text.push_str("{\"address\":\"0x1\",\"type\":\"0x1::\",\"bytes\":\"00\"}\n");
    text.push_str("{\"address\":\"0x9\",\"type\":\"0x1::Nope::Nope\",\"bytes\":\"00\"}\n");
    text.push_str("{\"address\":\"0x1\",\"bytes\":\"00\"}\n");
    text.push_str("not json at all\n");
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, &text).unwrap();
    let (code, json, err) = rehearse(&path, Some(1), 2, &[]);
    assert_eq!(code, Some(2), "{err}\n{json:#}");
    let counts = &json["state"]["problems"]["counts"];
    assert_eq!(counts["not-an-object"], 2, "{counts:#}");
    assert_eq!(counts["bad-hex"], 1);
    assert_eq!(counts["bad-type"], 1);
    assert_eq!(counts["bad-line"], 1);
    let lines = store.len() + 1;
    let origins: Vec<String> = json["state"]["problems"]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["origin"].as_str().unwrap().rsplit(':').next().unwrap().to_owned())
        .collect();
    assert!(origins.contains(&lines.to_string()), "{origins:?}");
    // The struct the release lacks is stored, and reported as undecodable at its line.
    assert_eq!(json["before"]["undecodable"], 1);
    assert!(json["before"]["examples"]["items"][0]["origin"].as_str().unwrap().ends_with(&format!(":{}", lines + 3)));
    // Garbage is not a state at all.
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"\x00\x01binary").unwrap();
    let (code, _, err) = rehearse(&garbage, Some(1), 2, &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("not a state this tool reads"), "{err}");
    // A snapshot without modules needs --from.
    let snap = dir.path().join("s.snap");
    snapshot_of(&store, &snap);
    let (code, _, err) = rehearse(&snap, None, 2, &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--from"), "{err}");
}

#[test]
fn a_key_given_twice_in_json_lines_is_reported_and_the_last_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = genesis(4, 0);
    let text = jsonl_of(&store, None);
    let first = text.lines().last().unwrap().to_owned();
    let path = dir.path().join("twice.jsonl");
    std::fs::write(&path, format!("{text}{first}\n{first}\n")).unwrap();
    let (code, json, err) = rehearse(&path, Some(1), 2, &[]);
    assert_eq!(json["state"]["problems"]["counts"]["duplicate"], 1, "{err}\n{json:#}");
    let message = json["state"]["problems"]["examples"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("2 entries repeat a key"), "{message}");
    // The state holds each key once.
    assert_eq!(json["state"]["resources"], u64::try_from(store.len()).unwrap());
    assert!(code.is_some());
}

/// The devchain's 32-byte framework as a JSON Lines state: its old release's modules, genesis
/// with `users` users, table items of two tables (0x7 stating its types, 0x8 not) and two
/// resource groups (one by its members, one by its value's bytes). With the new release and its
/// declarations: (state, release, declarations).
fn jsonl_with_tables_and_groups(dir: &Path, users: u32) -> (PathBuf, PathBuf, PathBuf) {
    use devchain::framework::{self, WIDTH};
    let (release, declarations, old) = framework::write_upgrade(dir).unwrap();
    let mut text = String::new();
    for (file, bytes) in old {
        let name = file.trim_end_matches(".mv");
        text.push_str(&format!("{{\"module\":\"0x1::{name}\",\"bytes\":\"{}\"}}\n", encode_hex(&bytes)));
    }
    for (tag, account, bytes) in framework::genesis(users).unwrap().resources(WIDTH) {
        text.push_str(&format!(
            "{{\"address\":\"{account}\",\"type\":\"{tag}\",\"bytes\":\"0x{}\"}}\n",
            encode_hex(bytes)
        ));
    }
    for n in 0u64..3 {
        text.push_str(&format!(
            "{{\"handle\":\"0x7\",\"key\":\"0x{}\",\"bytes\":\"0x020a0b\",\"key_type\":\"u64\",\"value_type\":\"vector<u8>\"}}\n",
            encode_hex(&n.to_le_bytes())
        ));
    }
    for key in ["0x01", "0x02"] {
        text.push_str(&format!("{{\"handle\":\"0x8\",\"key\":\"{key}\",\"bytes\":\"0x01\"}}\n"));
    }
    // Members of structs the upgrade leaves as they are, given out of BCS order.
    let (coin, marker) = ("0x1::aptos_coin::AptosCoin", "0x1::migration_hook::Marker");
    text.push_str(&format!(
        "{{\"address\":\"{}\",\"group\":\"0x1::object::ObjectGroup\",\"members\":[{{\"type\":\"{marker}\",\"bytes\":\"00\"}},{{\"type\":\"{coin}\",\"bytes\":\"01\"}}]}}\n",
        framework::user(1)
    ));
    let group = rehearsal::state::aptos::encode_group([(&framework::tag(coin).unwrap(), &[0u8][..])]).unwrap();
    text.push_str(&format!(
        "{{\"address\":\"{}\",\"group\":\"0x1::object::ObjectGroup\",\"bytes\":\"0x{}\"}}\n",
        framework::user(2),
        encode_hex(&group)
    ));
    let state = dir.join("state.jsonl");
    std::fs::write(&state, text).unwrap();
    (state, release, declarations)
}

/// Runs `rehearse` on the framework's state as JSON: (exit code, report, stderr).
fn rehearse_framework(
    state: &Path,
    release: &Path,
    declarations: &Path,
    extra: &[&str],
) -> (Option<i32>, Value, String) {
    let (state, release, declarations) =
        (state.display().to_string(), release.display().to_string(), declarations.display().to_string());
    let mut args = vec!["rehearse", "--state", &state, "--to", &release, "--migrations", &declarations];
    args.extend(["--system-account", "0x1", "--format", "json"]);
    args.extend_from_slice(extra);
    let out = run(&args);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_json_lines_state_carries_its_table_items_and_resource_groups_as_entries_of_their_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let (state, release, declarations) = jsonl_with_tables_and_groups(dir.path(), 12);
    let types = dir.path().join("types.jsonl");
    std::fs::write(&types, "{\"handle\":\"0x8\",\"key_type\":\"u8\",\"value_type\":\"bool\"}\n").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let (code, json, err) = rehearse_framework(
        &state,
        &release,
        &declarations,
        &["--table-types", types.to_str().unwrap(), "--out", out.to_str().unwrap()],
    );
    assert_eq!(json["state"]["format"], "jsonl", "{err}\n{json:#}");
    assert_eq!(json["state"]["problems"]["counts"], serde_json::json!({}), "{json:#}");
    assert_eq!(json["state"]["kinds"], serde_json::json!({"resource": 25, "table_item": 5, "group": 2}), "{json:#}");
    assert_eq!(json["state"]["resources"], 25);
    assert_eq!(json["from_source"], "state");
    // The resources migrate as they would without the tables and groups beside them.
    assert_eq!(json["migrated"], 25, "{json:#}");
    assert_eq!(json["verdict"], "safe", "{json:#}");
    assert_eq!((code, &json["complete"]), (Some(0), &Value::Bool(true)), "{err}\n{json:#}");
    // The migrated state keeps them, unchanged.
    let info = snapshot::verify(&out.join("state.snap")).unwrap();
    assert_eq!((info.kinds.get("table_item"), info.kinds.get("group")), (Some(&5), Some(&2)), "{info:?}");
    assert_eq!(info.state_root.to_string(), json["root_after"].as_str().unwrap());

    // The same table stated with other types on a later line: a conflict, the state incomplete.
    let mut text = std::fs::read_to_string(&state).unwrap();
    text.push_str("{\"handle\":\"0x7\",\"key\":\"0x0900000000000000\",\"bytes\":\"00\",\"key_type\":\"u64\",\"value_type\":\"u8\"}\n");
    let lines = text.lines().count();
    std::fs::write(&state, &text).unwrap();
    let (code, json, err) = rehearse_framework(&state, &release, &declarations, &[]);
    assert_eq!((code, &json["complete"]), (Some(2), &Value::Bool(false)), "{err}\n{json:#}");
    // Neither set of types is kept for 0x7, and without the types file nothing gives 0x8's: both
    // tables' items cannot be judged.
    let counts = serde_json::json!({"conflict": 1, "unresolved-table": 2});
    assert_eq!(json["state"]["problems"]["counts"], counts, "{json:#}");
    let example = &json["state"]["problems"]["examples"][0];
    assert!(example["origin"].as_str().unwrap().ends_with(&format!("state.jsonl:{lines}")), "{example:#}");
    assert!(example["message"].as_str().unwrap().contains("value type vector<u8>"), "{example:#}");
    // The item itself is carried.
    assert_eq!(json["state"]["kinds"]["table_item"], 6, "{json:#}");
}

#[test]
fn a_table_types_file_that_does_not_read_is_bad_input_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (state, release, declarations) = jsonl_with_tables_and_groups(dir.path(), 2);
    let types = dir.path().join("types.jsonl");
    let first = "{\"handle\":\"0x8\",\"key_type\":\"u8\",\"value_type\":\"bool\"}";
    let location = format!("{}:2: ", types.display());
    for (second, needle) in [
        ("{\"handle\":\"0x9\"", "not a {\"handle\",\"key_type\",\"value_type\"} object"),
        ("{\"handle\":\"0x9\",\"key_type\":\"u8\"}", "missing field `value_type`"),
        ("{\"handle\":\"9\",\"key_type\":\"u8\",\"value_type\":\"u8\"}", "handle: "),
        ("{\"handle\":\"0x9\",\"key_type\":\"u8\",\"value_type\":\"0x1::m::\"}", "value_type: cannot read type"),
        ("{\"handle\":\"0x9\",\"key_type\":\"i64\",\"value_type\":\"u8\"}", "key_type: cannot read type `i64`"),
        // More than 32 bytes of handle.
        (
            &format!("{{\"handle\":\"0x1{}\",\"key_type\":\"u8\",\"value_type\":\"u8\"}}", "0".repeat(64)),
            "is not an address",
        ),
        (
            "{\"handle\":\"0x8\",\"key_type\":\"u8\",\"value_type\":\"u16\"}",
            "table 0x8 is stated with key type u8 and value type bool",
        ),
    ] {
        std::fs::write(&types, format!("{first}\n{second}\n")).unwrap();
        let (code, json, err) =
            rehearse_framework(&state, &release, &declarations, &["--table-types", types.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{second}: {err}\n{json:#}");
        assert_eq!(json, Value::Null, "no report for bad options: {json:#}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("error: {location}")), "{second}: {err}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    // Handles and types are read with the releases' width: on the stdlib's 16-byte chain, a
    // handle of 20 bytes does not fit.
    let snap = dir.path().join("s.snap");
    snapshot_of(&genesis(3, 0), &snap);
    let wide = format!("{{\"handle\":\"0x1{}\",\"key_type\":\"u8\",\"value_type\":\"u8\"}}", "0".repeat(38));
    std::fs::write(&types, format!("{first}\n{wide}\n")).unwrap();
    let (code, _, err) = rehearse(&snap, Some(1), 2, &["--table-types", types.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&location) && err.contains("does not fit in 16 bytes"), "{err}");
    std::fs::write(&types, format!("{first}\n")).unwrap();
    let (code, json, err) = rehearse(&snap, Some(1), 2, &["--table-types", types.to_str().unwrap()]);
    assert_eq!((code, &json["verdict"]), (Some(0), &Value::from("safe")), "{err}\n{json:#}");
    // A directory, and a file that is not there.
    for (path, needle) in [(dir.path().to_path_buf(), "not a regular file"), (dir.path().join("none"), "No such file")]
    {
        let (code, _, err) =
            rehearse_framework(&state, &release, &declarations, &["--table-types", path.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(needle) && err.contains(&path.display().to_string()), "{err}");
    }
}

#[test]
fn a_killed_rehearsals_scratch_directory_is_removed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let state = dir.path().join("state.snapshot");
    snapshot_of(&genesis(50_000, 0), &state);
    let args = |format: &str| -> Vec<String> {
        let mut a: Vec<String> = ["rehearse", "--state"].map(String::from).to_vec();
        a.push(state.display().to_string());
        a.extend(["--to".into(), release(2).display().to_string(), "--from".into(), release(1).display().to_string()]);
        a.extend(
            ["--registry", "stdlib/registry.toml", "--migrations", "stdlib/migrations.toml", "--format", format]
                .map(String::from),
        );
        a
    };
    let scratch = || -> Vec<PathBuf> { std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().path()).collect() };

    // A run killed (as by the OOM killer or a CI timeout) once its scratch directory exists.
    let mut child = Command::new(env!("CARGO_BIN_EXE_compat-checker"))
        .args(args("json"))
        .env("TMPDIR", &tmp)
        .current_dir(repo())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    // Killed once its scratch directory holds its lock file (a run killed between making the
    // directory and its lock file leaves an empty directory the sweep does not claim).
    let locked = || scratch().iter().any(|d| d.join(rehearsal::rehearse::scratch::LOCK_FILE).exists());
    while !locked() && start.elapsed() < std::time::Duration::from_secs(120) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = scratch();
    assert_eq!(left.len(), 1, "the killed run's scratch directory is left behind: {left:?}");

    // The next run removes it, says so, and leaves nothing of its own.
    let out = Command::new(env!("CARGO_BIN_EXE_compat-checker"))
        .args(args("json"))
        .env("TMPDIR", &tmp)
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["run"]["leftovers_removed"], 1);
    assert!(scratch().is_empty(), "{:?}", scratch());
}

/// A declaration whose scope misses some holders (`users` for a struct the system account holds)
/// left the system account's value in the old layout while the rehearsal said safe: it is
/// would-break, the value is named with why, and the counts add up.
#[test]
fn a_scope_that_misses_a_holder_is_would_break_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.snap");
    snapshot_of(&genesis(10, 0), &snap);
    let declarations = std::fs::read_to_string(repo().join("stdlib/migrations.toml")).unwrap();
    let edited: Vec<String> = declarations
        .split("[[migration]]")
        .map(|b| {
            if b.contains("\"epoch-v2\"") {
                b.replace("scope = \"system\"", "scope = \"users\"")
            } else {
                b.to_owned()
            }
        })
        .collect();
    let file = dir.path().join("migrations.toml");
    std::fs::write(&file, edited.join("[[migration]]")).unwrap();
    let out = rehearse_with(&snap, Some(1), 2, &file, &["--format", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{json:#}");
    assert_eq!(json["verdict"], "would-break");
    let epoch = structs(&json, "epoch-v2");
    assert_eq!(epoch["instances"], 1, "{json:#}");
    assert_eq!(epoch["migrated"], 0);
    assert_eq!(epoch["left_behind"], 1);
    assert_eq!(epoch["left_examples"][0]["account"], "0x0");
    let reason = epoch["left_examples"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("outside the migration's scope: a system account, and the scope is users"), "{reason}");
    // Every instance is accounted for, per struct and in all.
    let all = json["structs"].as_array().unwrap();
    for s in all {
        let sum = s["migrated"].as_u64().unwrap() + s["failed"].as_u64().unwrap() + s["left_behind"].as_u64().unwrap();
        assert_eq!(sum, s["instances"].as_u64().unwrap(), "{s:#}");
    }
    let total = |field: &str| all.iter().map(|s| s[field].as_u64().unwrap()).sum::<u64>();
    assert_eq!(json["left_behind"], total("left_behind"));
    assert_eq!(json["migrated"], total("migrated"));
    assert!(json["reasons"].to_string().contains("old version"), "{json:#}");
    // Values were left: the second pass ran over the migrated state (it is skipped only when
    // nothing is left for it to migrate).
    let phases: Vec<&str> =
        json["run"]["phases"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(phases.contains(&"second-pass"), "{phases:?}");
}
