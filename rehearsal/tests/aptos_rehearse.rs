//! The rehearsal on an Aptos-based backup, end to end through today's state interface: a
//! 32-byte framework at `0x1` (the devchain's, shaped like 0L's libra-framework) whose state,
//! with its old release's modules under their code paths, a table item and a resource group,
//! is written as a `DIEM::`-salted backup; `rehearse` reads it (root and proof verified), takes
//! the old release from the state, migrates every resource in place and the account held in an
//! object's group, and names the table item whose types nothing in the state gives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use rehearsal::state::{Context, ProblemKind, Problems, StateSource};
use rehearsal::{rehearse, Silent, Verdict};
use std::path::Path;

const USERS: u32 = 30;

#[test]
fn a_libra_framework_backup_rehearses_in_place_with_tables_and_groups_named() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::framework_backup(dir.path(), USERS, 16);
    let report = rehearse(&o, &mut Silent).unwrap();
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();

    assert_eq!(report.state.format, "aptos-backup");
    assert_eq!(report.state.root_verified, Some(true), "{json:#}");
    assert!(report.state.detail.contains("DIEM:: hashes"), "{}", report.state.detail);
    assert_eq!(report.from_source, "state");
    // Only Aptos-based chains write this format: `--chain auto` judges with Aptos' rules.
    assert!(report.gate.chain.as_deref().is_some_and(|c| c.starts_with("aptos")), "{json:#}");
    assert_eq!(report.state.resources, 1 + 2 * u64::from(USERS));
    assert_eq!(report.before.undecodable, 0, "{json:#}");
    assert_eq!(report.after.undecodable, 0, "{json:#}");
    assert!(report.would_halt.is_empty(), "{json:#}");
    // Every resource, and the account in the object's group.
    assert_eq!(report.migrated, 1 + 2 * u64::from(USERS) + 1, "{json:#}");
    assert_eq!(report.tables.members, 1, "{json:#}");
    assert_eq!(report.verdict, Verdict::Safe, "{json:#}");
    // The table item and the group are state entries of their own kinds, carried through.
    assert_eq!(report.state.kinds.get("table_item"), Some(&1), "{json:#}");
    assert_eq!(report.state.kinds.get("group"), Some(&1), "{json:#}");
    assert_eq!(report.state.kinds.get("module"), Some(&6), "{json:#}");
    assert_eq!(report.state.problems.counts.get(&ProblemKind::NotYetRehearsed), None, "{json:#}");
    // No value of the state holds the table: its item cannot be judged, and the rehearsal says
    // it is incomplete.
    assert_eq!(report.state.problems.counts.get(&ProblemKind::UnresolvedTable), Some(&1), "{json:#}");
    assert!(!report.complete);
    assert!(Path::new(&report.state.path).ends_with("state.manifest"));
}

/// The modules a source gives, with where each came from (under `top`).
fn modules_of(source: &mut dyn StateSource, top: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let top = top.display().to_string();
    source
        .modules(&mut |m| {
            found.push((m.origin.to_string().replacen(&top, "", 1), m.bytes.to_vec()));
            Ok(())
        })
        .unwrap();
    found
}

/// Asked to, the backup's entries' pass collects its modules on the way: read after it, they are
/// the ones a pass of their own finds, and reading them reads the backup no more (its chunks are
/// gone). A rehearsal that takes the old release from the state sorts first and reads the backup
/// once; one given the old release holds no modules.
#[test]
fn the_entries_pass_collects_the_modules_a_pass_of_their_own_finds() {
    let dir = tempfile::tempdir().unwrap();
    let o = common::framework_backup(dir.path(), USERS, 16);
    for threads in [1, 3] {
        let mut open = o.open;
        open.aptos.threads = threads;
        let (_, mut alone) = rehearsal::state::open(&o.state, open).unwrap();
        let expected = modules_of(&mut *alone, &o.state);
        assert!(expected.len() > 3, "{}", expected.len());

        let copy = tempfile::tempdir().unwrap();
        copy_tree(&o.state, copy.path());
        let (_, mut source) = rehearsal::state::open(copy.path(), open).unwrap();
        assert!(source.collect_modules_with_entries());
        let context = Context { width: binary_format::AddressLength::Bytes32, modules: &[], value_budget: 1 << 20 };
        let mut entries = 0u64;
        let mut problems = Problems::default();
        source
            .entries(
                &context,
                &mut |_| {
                    entries += 1;
                    Ok(())
                },
                &mut problems,
            )
            .unwrap();
        assert!(entries > u64::from(USERS), "{entries}");
        assert_eq!(source.info().chain_root.map(|r| r.verified), Some(true), "one pass verified the root");
        remove_chunks(copy.path());
        assert_eq!(modules_of(&mut *source, copy.path()), expected, "{threads} threads");

        // Not asked (the old release given), the entries' pass holds no modules: asked for
        // after it, they are read again (from chunks that are gone here).
        let copy = tempfile::tempdir().unwrap();
        copy_tree(&o.state, copy.path());
        let (_, mut source) = rehearsal::state::open(copy.path(), open).unwrap();
        source.entries(&context, &mut |_| Ok(()), &mut Problems::default()).unwrap();
        remove_chunks(copy.path());
        assert!(source.modules(&mut |_| Ok(())).is_err(), "{threads} threads: the modules were held");
    }
}

/// Copies a folder and everything under it.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Removes every chunk of the backup under `dir`.
fn remove_chunks(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            remove_chunks(&path);
        } else if path.file_name().unwrap().to_string_lossy().contains(".chunk") {
            std::fs::remove_file(path).unwrap();
        }
    }
}

/// A backup whose old release is taken from it after it is sorted is refused, named as the
/// state, when the new release is of another address width (the stdlib's 16-byte release
/// against a 32-byte chain's backup).
#[test]
fn a_new_release_of_another_width_than_the_backups_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = common::framework_backup(dir.path(), USERS, 16);
    o.to = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib/releases/v2");
    let e = rehearse(&o, &mut Silent).unwrap_err().to_string();
    assert!(e.contains("the state has 32-byte addresses, the new release 16-byte ones"), "{e}");
}
