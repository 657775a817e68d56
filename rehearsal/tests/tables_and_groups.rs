//! The rehearsal on a state with resource groups and tables (devchain's `objects` chain): a
//! struct held as a member of every user's object and one stored only as the values of tables
//! whose handles sit in another table's values. The rehearsal finds every table's types,
//! migrates the group members and the table values in place, writes the table list a node's
//! release plan takes, names the table items that would halt when no migration is declared, and
//! calls a state with a table whose types nothing gives incomplete until they are stated.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use devchain::objects::{self, FORUM, FUNGIBLE_STORE, PROPOSAL, PROPOSALS_PER_ROUND, ROUNDS, WIDTH};
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::{decode, ReleaseIndex, StateKey, TypeTag};
use rehearsal::state::{At, Origin, ProblemKind, TableTypes};
use rehearsal::{rehearse, Options, Report, Silent, Verdict};
use std::path::{Path, PathBuf};
use std::rc::Rc;

const USERS: u64 = 40;

/// The two releases as folders, the declarations (edited by `edit`), and the state as a
/// snapshot.
fn setup(dir: &Path, state: &InMemoryStore, edit: impl Fn(&str) -> String) -> Options {
    let [old, new] = objects::release_files().unwrap();
    for (name, files) in [(objects::OLD_NAME, old), (objects::NEW_NAME, new)] {
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for (file, bytes) in files {
            std::fs::write(folder.join(file), bytes).unwrap();
        }
    }
    let migrations = dir.join("migrations.toml");
    std::fs::write(&migrations, edit(objects::DECLARATIONS)).unwrap();
    let snap = dir.join("state.snap");
    snapshot::export(state, 5, serde_json::json!({"test": "objects"}), WIDTH, &snap).unwrap();
    let mut o = Options::new(&snap, dir.join(objects::NEW_NAME));
    o.from = Some(dir.join(objects::OLD_NAME));
    o.migrations = Some(migrations);
    o.system_accounts = vec![binary_format::Address::from_u64(1)];
    o.threads = 2;
    o
}

fn run(o: &Options) -> (Report, serde_json::Value) {
    let report = rehearse(o, &mut Silent).unwrap();
    let json = serde_json::from_str(&report.to_json()).unwrap();
    (report, json)
}

#[test]
fn group_members_and_table_values_are_found_migrated_and_listed_for_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let state = objects::genesis(USERS).unwrap();
    let mut o = setup(dir.path(), &state, str::to_owned);
    let out = dir.path().join("out");
    o.out = Some(out.clone());
    let (report, json) = run(&o);
    assert_eq!(report.verdict, Verdict::Safe, "{json:#}");
    assert!(report.complete, "{json:#}");
    // The forum's table of rounds is found in a resource, each round's table of proposals in
    // the values of that table.
    assert_eq!(json["tables"]["known"], 1 + ROUNDS, "{json:#}");
    assert_eq!(json["tables"]["found"], 1 + ROUNDS);
    assert_eq!(json["tables"]["rewritten"], ROUNDS);
    assert_eq!(json["tables"]["unresolved"], 0);
    assert_eq!(json["tables"]["members"], 2 * USERS);
    assert_eq!(json["tables"]["values"], ROUNDS + ROUNDS * PROPOSALS_PER_ROUND);
    let proposals = report.structs.iter().find(|s| s.migration == "proposal-11").unwrap();
    assert_eq!(
        (proposals.instances, proposals.migrated, proposals.left_behind),
        (ROUNDS * PROPOSALS_PER_ROUND, ROUNDS * PROPOSALS_PER_ROUND, 0)
    );
    let stores = report.structs.iter().find(|s| s.migration == "fungible-store-11").unwrap();
    assert_eq!((stores.instances, stores.migrated), (USERS + USERS / 3, USERS + USERS / 3), "{json:#}");
    assert_eq!(report.after.undecodable, 0, "{json:#}");

    // The table list, as a node configures its release plan with it.
    let listed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(rehearsal::rehearse::TABLES_FILE)).unwrap()).unwrap();
    let mut expected: Vec<String> = objects::tables().unwrap().iter().map(|t| t.handle.to_string()).collect();
    expected.sort();
    let handles: Vec<String> =
        listed.as_array().unwrap().iter().map(|t| t["handle"].as_str().unwrap().to_owned()).collect();
    assert_eq!(handles, expected);
    assert!(listed.as_array().unwrap().iter().all(|t| t["value_type"] == PROPOSAL));

    // The migrated state: every proposal and every store decode with the new layouts.
    let (_, new) = objects::releases().unwrap();
    let index = ReleaseIndex::new(new.iter(), WIDTH).unwrap();
    let proposal = index.layout_of_struct_tag(&objects::tag(PROPOSAL).unwrap()).unwrap();
    let store = index.layout_of_struct_tag(&objects::tag(FUNGIBLE_STORE).unwrap()).unwrap();
    let handles: Vec<_> = objects::tables().unwrap().iter().map(|t| t.handle).collect();
    let (mut p, mut s) = (0, 0);
    snapshot::visit(&out.join(rehearsal::rehearse::OUT_FILE), &mut |e| {
        match StateKey::decode(e.key, WIDTH).unwrap() {
            StateKey::TableItem { handle, .. } if handles.contains(&handle) => {
                decode(e.value, &proposal).unwrap();
                p += 1;
            }
            StateKey::Group { .. } => {
                for m in migrations::group::decode_group(e.value, WIDTH).unwrap() {
                    if m.tag.to_string() == FUNGIBLE_STORE {
                        decode(m.bytes, &store).unwrap();
                        s += 1;
                    }
                }
            }
            _ => {}
        }
        Ok(true)
    })
    .unwrap();
    assert_eq!((p, s), (ROUNDS * PROPOSALS_PER_ROUND, USERS));
    // The same for any number of threads.
    o.out = None;
    o.threads = 1;
    let (one, _) = run(&o);
    assert_eq!(one.root_after, report.root_after);
    assert_eq!(one.structs, report.structs);
}

#[test]
fn table_values_of_an_undeclared_change_would_halt_by_table_and_item() {
    let dir = tempfile::tempdir().unwrap();
    let state = objects::genesis(10).unwrap();
    let without = |text: &str| {
        text.split("[[migration]]").filter(|b| !b.contains("\"proposal-11\"")).collect::<Vec<_>>().join("[[migration]]")
    };
    let o = setup(dir.path(), &state, without);
    let (report, json) = run(&o);
    assert_eq!(report.verdict, Verdict::WouldBreak, "{json:#}");
    let halt = report.would_halt.iter().find(|h| h.r#struct.contains("voting::Proposal")).unwrap();
    assert_eq!(halt.accounts, ROUNDS * PROPOSALS_PER_ROUND);
    let example = &halt.examples.items()[0];
    assert!(example.starts_with("table ") && example.contains(" item 0x"), "{example}");
}

#[test]
fn a_table_whose_types_nothing_gives_makes_the_rehearsal_incomplete_until_stated() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = objects::genesis(5).unwrap();
    let orphan = migrations::AccountAddress::new(&[0x42; 32]).unwrap();
    let mut batch = WriteBatch::new();
    for k in 0..3u8 {
        batch.put_key(StateKey::TableItem { handle: orphan, key: vec![k] }.encode(), vec![k, 0, 0, 0, 0, 0, 0, 0]);
    }
    state.apply(batch).unwrap();
    let mut o = setup(dir.path(), &state, str::to_owned);
    let (report, json) = run(&o);
    assert!(!report.complete, "{json:#}");
    assert_eq!(json["tables"]["unresolved"], 1);
    assert_eq!(json["tables"]["unresolved_items"], 3);
    assert_eq!(report.state.problems.counts.get(&ProblemKind::UnresolvedTable), Some(&1));
    // Stated by the user: judged, and complete.
    o.table_types = vec![TableTypes {
        handle: orphan,
        key: TypeTag::U8,
        value: TypeTag::U64,
        origin: Origin { file: Rc::from(PathBuf::from("types.json").as_path()), at: At::Line(1) },
    }];
    let (report, json) = run(&o);
    assert!(report.complete, "{json:#}");
    assert_eq!(json["tables"]["stated"], 1);
    assert_eq!(json["tables"]["values"], ROUNDS + ROUNDS * PROPOSALS_PER_ROUND + 3);
}

/// Finding a table's types decoded every value that can hold one in full, whatever its size. A
/// value is decoded within the value budget; one past it is named, and the tables it holds are
/// not found from it (they stay unresolved, so the rehearsal says it is incomplete).
#[test]
fn a_value_too_large_to_build_is_named_and_its_tables_left_unresolved() {
    let state = objects::genesis(3).unwrap();
    let (old, _) = objects::releases().unwrap();
    let old: Vec<&binary_format::Module> = old.iter().collect();
    let resolve = |budget| rehearsal::rehearse::tables::resolve(&state, &old, WIDTH, &[], 5, budget).unwrap();
    let whole = resolve(1 << 20);
    assert_eq!((whole.found, whole.unresolved.total, whole.over_budget.total), (1 + ROUNDS, 0, 0));
    // The forum (a table and a u64) takes more than 64 bytes built: its table of rounds is not
    // found, nor the rounds' tables inside it.
    let tight = resolve(64);
    assert_eq!(tight.found, 0);
    assert_eq!(tight.over_budget.total, 1);
    assert_eq!(tight.over_budget.items()[0], format!("{FORUM} at {}", objects::framework()));
    assert_eq!(tight.unresolved.total, 1 + ROUNDS);
}
