//! The devnet driven as a hostile operator and a failing machine would (issue 15): settings a
//! block cannot carry, two processes on one directory, files that are not files, forged
//! snapshots, leftovers of killed commands, messages that must tell the truth, and `status`
//! beside a running node. Each test drives the binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::*;
use devnet::manifest::MANIFEST_KEY;

/// `--transfers 2000000` once made a block of 2.5 million transactions, was saved, and from then
/// on every command refused the chain; on a new chain the refused run left `state.redb` behind.
#[test]
fn settings_a_block_cannot_carry_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    for (args, says) in [
        (vec!["--accounts", "10", "--transfers", "2000000"], "at most 100000"),
        (vec!["--accounts", "20000000"], "more than 10000000"),
        (vec!["--accounts", "10", "--budget", "2000000"], "at most 1000000"),
        (vec!["--accounts", "10", "--budget-bytes", "1000000000000"], "at most 268435456"),
        (vec!["--accounts", "10", "--budget", "0"], "at least 1"),
        (vec!["--accounts", "10", "--corrupt", "11"], "more than the 10 accounts"),
    ] {
        let mut run = vec!["run", "--data-dir", "new"];
        run.extend(&args);
        let err = fails(2, &run, cwd);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!cwd.join("new").exists(), "{args:?}: a refused run leaves nothing behind");
    }

    // In memory it ran past a minute before it said anything.
    let err = fails(2, &["run", "--in-memory", "--accounts", "10", "--transfers", "2000000"], cwd);
    assert!(err.contains("at most 100000"), "{err}");

    // On a chain: refused, and nothing is saved.
    ok(&["run", "--accounts", "50", "--to", "v1", "--blocks", "2", "--data-dir", "d"], cwd);
    let before = status("d", cwd);
    let err = fails(2, &["run", "--transfers", "2000000", "--data-dir", "d"], cwd);
    assert!(err.contains("2000000 transfers per block") && err.contains("--transfers"), "{err}");
    assert_eq!(status("d", cwd), before);

    // A setting an older devnet stored beyond the bounds: the chain still opens for status and
    // export, refuses to produce blocks with it, and `run --transfers` changes it back.
    let mut stored = before["manifest"].clone();
    stored["transfers_per_block"] = 2_000_000.into();
    set_node_value(&cwd.join("d"), MANIFEST_KEY, Some(stored.to_string().as_bytes()));
    assert_eq!(status("d", cwd)["manifest"]["transfers_per_block"], 2_000_000);
    ok(&["snapshot", "export", "s.snapshot", "--data-dir", "d"], cwd);
    for args in [vec!["run", "--data-dir", "d"], vec!["upgrade", "--to", "v2", "--data-dir", "d"]] {
        let err = fails(2, &args, cwd);
        assert!(err.contains("the chain's settings") && err.contains("`--transfers` sets it"), "{args:?}: {err}");
    }
    ok(&["run", "--transfers", "40", "--data-dir", "d"], cwd);
    assert_eq!(status("d", cwd)["manifest"]["transfers_per_block"], 40);
    ok(&["run", "--data-dir", "d"], cwd);
}

/// Two processes creating a chain in one new directory raced through genesis (19 of 21 double
/// starts gave unclear failures) and could leave a store without a manifest that every command
/// refused, `run --accounts` included. Two imports raced the same way.
#[test]
fn a_data_directory_is_one_process_s_from_the_first_byte_and_a_half_built_chain_is_started_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "20", "--to", "v1", "--data-dir", "src"], cwd);
    ok(&["snapshot", "export", "src.snapshot", "--data-dir", "src"], cwd);

    // A creation under way holds its directory: a second one (or anything else that writes) is
    // told so, at once, and changes nothing.
    let first = spawn(&["run", "--accounts", "60000", "--to", "v1", "--data-dir", "d"], cwd, &[]);
    wait_for("the first creation's staging directory", std::time::Duration::from_secs(60), || {
        cwd.join("d/.staging").exists()
    });
    for args in [
        vec!["run", "--accounts", "10", "--data-dir", "d"],
        vec!["snapshot", "import", "src.snapshot", "--data-dir", "d"],
        vec!["upgrade", "--to", "v2", "--data-dir", "d"],
        vec!["snapshot", "export", "d.snapshot", "--data-dir", "d"],
    ] {
        let err = fails(2, &args, cwd);
        assert!(err.contains("d: in use by another devnet process"), "{args:?}: {err}");
    }
    let err = fails(2, &["status", "--data-dir", "d"], cwd);
    assert!(err.contains("holds no chain yet") || err.contains("in use"), "{err}");
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(status("d", cwd)["accounts"], 60000);
    assert!(!cwd.join("d.snapshot").exists());

    // What the race left: a store without a manifest. Every command says what it is, and a
    // creation or an import starts again.
    for (dir, create) in [
        ("h1", vec!["run", "--accounts", "10", "--to", "v1", "--data-dir", "h1"]),
        ("h2", vec!["snapshot", "import", "src.snapshot", "--data-dir", "h2"]),
    ] {
        std::fs::create_dir(cwd.join(dir)).unwrap();
        drop(redb_store::RedbStore::open(&cwd.join(dir)).unwrap());
        std::fs::create_dir_all(cwd.join(dir).join(".staging/x")).unwrap();
        for args in [vec!["status", "--data-dir", dir], vec!["upgrade", "--to", "v2", "--data-dir", dir]] {
            let err = fails(2, &args, cwd);
            assert!(err.contains("half-built chain") && err.contains("starts again"), "{args:?}: {err}");
        }
        ok(&create, cwd);
        assert!(status(dir, cwd)["height"].as_u64().is_some());
        assert_eq!(listing(&cwd.join(dir)), vec!["state.redb"]);
    }
}

/// `snapshot import /dev/zero` exited 1 where bad input is 2, and a FIFO made the import wait
/// for a writer. Every snapshot goes through the one bounded reader: a regular file within its
/// limit, or a stream when the operator says so.
#[test]
#[cfg(unix)]
fn a_snapshot_is_a_regular_file_within_its_limit_or_a_stream_when_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "30", "--to", "v1", "--data-dir", "src"], cwd);
    ok(&["snapshot", "export", "src.snapshot", "--data-dir", "src"], cwd);
    let root = status("src", cwd)["state_root"].clone();
    let fifo = cwd.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let huge = std::fs::File::create(cwd.join("huge.snapshot")).unwrap();
    huge.set_len(devnet::limits::MAX_SNAPSHOT_BYTES + 1).unwrap();
    for (file, says) in [
        ("/dev/zero", "/dev/zero: is a character device, not a regular file"),
        ("src", "src: is a directory"),
        ("fifo", "fifo: is a FIFO"),
        ("missing.snapshot", "missing.snapshot: No such file"),
        ("huge.snapshot", "larger than the 1099511627776-byte limit for a snapshot file"),
    ] {
        let args = ["snapshot", "import", file, "--data-dir", "x"];
        let err = output_fails(2, &devnet_within(&args, cwd, std::time::Duration::from_secs(60)), &args);
        assert!(err.contains(says), "{file}: {err}");
        assert!(!cwd.join("x").exists(), "{file}: nothing created");
    }
    let err = fails(2, &["snapshot", "import", "/dev/zero", "--allow-special-files", "--data-dir", "x"], cwd);
    assert!(err.contains("/dev/zero is not a devnet snapshot"), "{err}");
    assert!(!cwd.join("x").exists());

    // A stream, allowed: read once, whole, then imported; errors name the stream.
    let feed = |bytes: Vec<u8>| {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            // The import may refuse before reading everything: the pipe then breaks.
            let _ = std::fs::write(&fifo, bytes);
        })
    };
    let exported = std::fs::read(cwd.join("src.snapshot")).unwrap();
    let within = std::time::Duration::from_secs(60);
    let writer = feed(exported.clone());
    let o = devnet_within(&["snapshot", "import", "fifo", "--allow-special-files", "--data-dir", "x"], cwd, within);
    assert!(o.status.success(), "{}", stderr(&o));
    writer.join().unwrap();
    assert_eq!(status("x", cwd)["state_root"], root);
    assert_eq!(listing(&cwd.join("x")), vec!["state.redb"]);
    let mut bad = exported;
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    let writer = feed(bad);
    let args = ["snapshot", "import", "fifo", "--allow-special-files", "--data-dir", "y"];
    let err = output_fails(2, &devnet_within(&args, cwd, within), &args);
    writer.join().unwrap();
    assert!(err.contains("fifo: ") && !err.contains("incoming"), "{err}");
    assert!(!cwd.join("y").exists());
}

/// `bytes`, a snapshot, with its header's JSON edited, its length fixed, the footer's offsets
/// moved by as much and the trailer re-signed: what anyone with the format's description can
/// make.
fn forged(bytes: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    use sha2::Digest;
    let u32_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let len = u32_at(25);
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[29..29 + len]).unwrap();
    edit(&mut header);
    let json = serde_json::to_vec(&header).unwrap();
    let shift = |offset: &mut serde_json::Value| {
        *offset = (offset.as_u64().unwrap() + json.len() as u64 - len as u64).into();
    };
    let footer_len = u32_at(bytes.len() - 36);
    let footer_at = bytes.len() - 36 - footer_len;
    let mut footer: serde_json::Value = serde_json::from_slice(&bytes[footer_at..bytes.len() - 36]).unwrap();
    shift(&mut footer["end"]);
    for point in footer["index"].as_array_mut().unwrap() {
        shift(&mut point[1]);
    }
    let footer = serde_json::to_vec(&footer).unwrap();
    let mut out = bytes[..25].to_vec();
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
    let mut trailer = sha2::Sha256::new();
    trailer.update(&out);
    out.extend_from_slice(&bytes[29 + len..footer_at]);
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as u32).to_be_bytes());
    trailer.update(&footer);
    trailer.update((footer.len() as u32).to_be_bytes());
    out.extend_from_slice(&trailer.finalize());
    out
}

/// A snapshot whose re-signed header said height `u64::MAX` imported, then wedged the chain
/// (its next block has no height). So would a schedule the chain's height has passed.
#[test]
fn a_snapshot_whose_height_would_wedge_the_chain_is_refused_on_import() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "30", "--to", "v1", "--data-dir", "src"], cwd);
    ok(&["snapshot", "export", "src.snapshot", "--data-dir", "src"], cwd);
    let exported = std::fs::read(cwd.join("src.snapshot")).unwrap();
    let max = devnet::limits::MAX_HEIGHT;
    for (name, height, says) in [
        ("max", u64::MAX, "the header's height 18446744073709551615 is beyond the highest height"),
        ("over", max + 1, "beyond the highest height a chain reaches (1099511627776)"),
    ] {
        let file = format!("{name}.snapshot");
        std::fs::write(cwd.join(&file), forged(&exported, |h| h["height"] = height.into())).unwrap();
        let err = fails(2, &["snapshot", "import", &file, "--data-dir", name], cwd);
        assert!(err.contains(says), "{name}: {err}");
        assert!(!cwd.join(name).exists(), "{name}: nothing created");
    }
    // The schedule is the chain's (its status, under the root): a header cannot add to it.
    let added = forged(&exported, |h| h["chain"]["activations"] = serde_json::json!([{"release": 2, "height": 10}]));
    std::fs::write(cwd.join("added.snapshot"), added).unwrap();
    let err = fails(2, &["snapshot", "import", "added.snapshot", "--data-dir", "added"], cwd);
    assert!(err.contains("the on-chain status schedules nothing, the chain's manifest says v2 at 10"), "{err}");
    assert!(!cwd.join("added").exists());
    // A height past a release the chain scheduled and has not activated.
    // (Stopped by the drill before block 5 commits: a run goes on until its upgrades are done.)
    let args = ["run", "--accounts", "30", "--to", "v2", "--upgrade-at", "10", "--data-dir", "v2"];
    let o = command(&args, cwd).env(devnet::node::CRASH_ENV, "5").output().unwrap();
    assert_eq!(o.status.code(), None, "the drill aborts: {}", stderr(&o));
    ok(&["snapshot", "export", "v2.snapshot", "--data-dir", "v2"], cwd);
    let scheduled = std::fs::read(cwd.join("v2.snapshot")).unwrap();
    std::fs::write(cwd.join("passed.snapshot"), forged(&scheduled, |h| h["height"] = 1000.into())).unwrap();
    let err = fails(2, &["snapshot", "import", "passed.snapshot", "--data-dir", "passed"], cwd);
    assert!(err.contains("v2 is scheduled at height 10, but the chain is at height 1000 without it"), "{err}");
    assert!(!cwd.join("passed").exists());

    // A forged height the chain can go on from is a chain like any other.
    std::fs::write(cwd.join("high.snapshot"), forged(&exported, |h| h["height"] = max.saturating_sub(5).into()))
        .unwrap();
    ok(&["snapshot", "import", "high.snapshot", "--data-dir", "high"], cwd);
    ok(&["run", "--blocks", "5", "--data-dir", "high"], cwd);
    assert_eq!(status("high", cwd)["height"], max);
    let err = fails(2, &["run", "--blocks", "1", "--data-dir", "high"], cwd);
    assert!(err.contains("beyond the highest height"), "{err}");
}

/// A kill during backup left an orphan backup file; a killed `snapshot export` left
/// `.NAME.partial` and the next export refused; each killed `--dry-run` left a full store copy
/// that nobody removed.
#[test]
fn what_a_killed_command_left_is_removed_or_taken_over_by_the_next_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let aborted = |args: &[&str], env: (&str, &str)| {
        let o = command(args, cwd).env(env.0, env.1).output().unwrap();
        assert_eq!(o.status.code(), None, "{args:?}: the drill aborts: {}", stderr(&o));
    };
    ok(&["run", "--accounts", "200", "--to", "v1", "--blocks", "5", "--data-dir", "d"], cwd);

    // Killed once its backup is written, before the journal names it.
    aborted(&["upgrade", "--to", "v2", "--data-dir", "d"], (devnet::drill::CRASH_AT_ENV, "backup"));
    assert_eq!(listing(&cwd.join("d/backups")), vec!["h5-v1.snapshot"]);
    assert_eq!(status("d", cwd)["upgrade_under_way"], serde_json::Value::Null);
    ok(&["upgrade", "--to", "v2", "--data-dir", "d"], cwd);
    assert_eq!(listing(&cwd.join("d/backups")), vec!["h5-v1.snapshot"], "the orphan went, the new backup stays");
    let chain = status("d", cwd);

    // Killed while exporting: the next export takes the partial file over.
    aborted(&["snapshot", "export", "s.snapshot", "--data-dir", "d"], (devnet::drill::CRASH_AT_ENV, "export"));
    assert!(cwd.join(".s.snapshot.partial").is_file() && !cwd.join("s.snapshot").exists());
    ok(&["snapshot", "export", "s.snapshot", "--data-dir", "d"], cwd);
    assert!(!cwd.join(".s.snapshot.partial").exists());
    ok(&["snapshot", "import", "s.snapshot", "--data-dir", "e"], cwd);
    assert_eq!(status("e", cwd)["state_root"], chain["state_root"]);

    // A dry run killed mid-way: its copy is the next command's to remove; the chain is as it was.
    let next = (chain["height"].as_u64().unwrap() + 1).to_string();
    aborted(&["upgrade", "--to", "v3", "--dry-run", "--data-dir", "d"], (devnet::node::CRASH_ENV, &next));
    assert!(cwd.join("d/.dry-run/state.redb").is_file());
    assert_eq!(status("d", cwd), chain);
    ok(&["run", "--blocks", "1", "--data-dir", "d"], cwd);
    assert_eq!(listing(&cwd.join("d")), vec!["backups", "state.redb"]);
    // A dry run that fails removes its copy at once.
    let err = fails(2, &["upgrade", "--to", "v2", "--dry-run", "--data-dir", "d"], cwd);
    assert!(err.contains("already on v2"), "{err}");
    assert_eq!(listing(&cwd.join("d")), vec!["backups", "state.redb"]);
}

/// After a disk-full error in the migrate step the message said the next upgrade "tries the
/// rollback again", but the journal stayed at migrate and the next upgrade finished the upgrade.
/// The store is made to fail as a full disk does (a file size limit: every write past it fails,
/// and redb refuses the rest of the process's writes), in the middle of the migration.
#[test]
#[cfg(unix)]
fn after_a_full_disk_in_migrate_the_message_says_what_the_next_upgrade_does_and_it_does_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "3000", "--to", "v1", "--blocks", "2", "--data-dir", "d"], cwd);
    let size = std::fs::metadata(cwd.join("d/state.redb")).unwrap().len();
    // Nine tenths of the store: the backup (a sixth of it) fits, and so do the journal and the
    // schedule (in pages the store has free), the migration's new pages do not.
    let script = format!("trap '' XFSZ; ulimit -f {}; exec \"$0\" upgrade --to v2 --data-dir d", size * 9 / 10 / 1024);
    let o = std::process::Command::new("bash")
        .args(["-c", &script, env!("CARGO_BIN_EXE_devnet")])
        .current_dir(cwd)
        .output()
        .unwrap();
    let err = output_fails(1, &o, &["upgrade under a file size limit"]);
    let out = stdout(&o);
    assert!(out.lines().any(|l| l.starts_with("backup") && l.contains(" ok ")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("migrate") && l.contains("FAILED")), "{out}");
    assert!(
        err.contains(
            "its journal at the migrate step, so the next `devnet upgrade --to v2` takes the migration up again"
        ),
        "{err}"
    );
    assert!(!err.contains("tries the rollback again"), "{err}");
    let st = status("d", cwd);
    assert_eq!(st["upgrade_under_way"]["phase"], "migrate");

    // Space is back: the next upgrade does what the message said.
    let out = ok(&["upgrade", "--to", "v2", "--data-dir", "d"], cwd);
    assert!(out.starts_with("take up") && out.contains("interrupted at its migrate step goes on"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("verify") && l.contains(" ok ")), "{out}");
    assert!(!out.contains("rollback"), "{out}");
    let st = status("d", cwd);
    assert_eq!((st["active_release"].clone(), st["upgrade_under_way"].clone()), (2.into(), serde_json::Value::Null));
}

/// Exit codes follow the contract (0 ok, 1 a failed check or operation, 2 bad input or usage)
/// whatever the path to the error, and no error says a part of itself twice.
#[test]
fn exit_codes_follow_the_contract_and_no_error_says_itself_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let d = cwd.join("d");
    let d = d.to_str().unwrap();
    for args in [vec!["--help"], vec!["--version"], vec!["snapshot", "--help"]] {
        ok(&args, cwd);
    }
    for args in [vec!["bogus"], vec!["run", "--accounts", "x"], vec!["snapshot"]] {
        let o = devnet(&args, cwd);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    ok(&["run", "--accounts", "30", "--to", "v1", "--data-dir", d], cwd);
    std::fs::write(cwd.join("file"), b"").unwrap();
    let store = format!("{d}/state.redb");
    for (args, says) in [
        (vec!["run", "--data-dir", "file/sub"], "file/sub"),
        (vec!["status", "--data-dir", "file"], "file"),
        (vec!["snapshot", "export", "/nonexistent/x.snapshot", "--data-dir", d], "/nonexistent/x.snapshot: "),
        (vec!["snapshot", "export", "file/x.snapshot", "--data-dir", d], "file/x.snapshot: "),
    ] {
        let err = fails(2, &args, cwd);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // A store that is not one: named once.
    let state = std::fs::read(&store).unwrap();
    std::fs::write(&store, vec![0x5a; 4096]).unwrap();
    let err = fails(2, &["status", "--data-dir", d], cwd);
    assert_eq!(err.matches(&store).count(), 1, "{err}");
    std::fs::write(&store, state).unwrap();
    ok(&["status", "--data-dir", d], cwd);
}

/// `status` was refused while a node ran (the store is the node's). It shows the view the node
/// publishes after every block, says so, and never shows a view once its node is gone.
#[test]
fn status_works_while_a_node_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    ok(&["run", "--accounts", "500", "--to", "v1", "--data-dir", "d"], cwd);
    let mut node = spawn(&["run", "--blocks", "1000000", "--data-dir", "d"], cwd, &[]);
    let view = cwd.join("d/.status-view.json");
    let deadline = std::time::Duration::from_secs(60);
    wait_for("the node's first view", deadline, || view.is_file());
    let first = status("d", cwd);
    assert!(first["published_by"]["pid"].as_u64() == Some(u64::from(node.id())), "{first}");
    assert_eq!(first["state_root"], serde_json::Value::Null);
    assert_eq!(first["accounts"], 500);
    let height = first["height"].as_u64().unwrap();
    wait_for("a later block", deadline, || status("d", cwd)["height"].as_u64().unwrap() > height);
    let text = ok(&["status", "--data-dir", "d"], cwd);
    assert!(text.contains("not computed: a running node"), "{text}");
    // What else would write is told the directory is in use.
    let err = fails(2, &["upgrade", "--to", "v2", "--data-dir", "d"], cwd);
    assert!(err.contains("in use"), "{err}");

    node.kill().unwrap();
    node.wait().unwrap();
    assert!(view.is_file(), "a killed node leaves its view");
    let after = status("d", cwd);
    assert!(after.get("published_by").is_none(), "the store is free: read, not the stale view: {after}");
    assert!(after["state_root"].is_string() && after["height"].as_u64().unwrap() > height);
    ok(&["run", "--blocks", "1", "--data-dir", "d"], cwd);
    assert!(!view.exists(), "the next node removes the stale view and its own");
}
