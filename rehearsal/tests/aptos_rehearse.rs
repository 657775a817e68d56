//! The rehearsal on an Aptos-based backup, end to end through today's state interface: a
//! 32-byte framework at `0x1` (the devchain's, shaped like 0L's libra-framework) whose state,
//! with its old release's modules under their code paths, a table item and a resource group,
//! is written as a `DIEM::`-salted backup; `rehearse` reads it (root and proof verified), takes
//! the old release from the state, migrates every resource in place and the account held in an
//! object's group, and names the table item whose types nothing in the state gives.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use rehearsal::state::ProblemKind;
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
