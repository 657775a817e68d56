//! The address registry: each rule fails when broken (with its id and line), allocation hands out
//! addresses in sequence, and releases are checked
//! against the registry in both directions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::{Address, ModuleId};
use std::path::Path;
use upgrade_spec::registry::{rules, Registry, RegistryError, ReleaseName, Violation, RESERVED_END};

/// A valid registry with comments: Epoch and Coin, each moved once.
const VALID: &str = include_str!("fixtures/registry-valid.toml");

fn addr(n: u64) -> Address {
    Address::from_u64(n)
}

fn v(n: u32) -> ReleaseName {
    ReleaseName(n)
}

fn id(a: u64, name: &str) -> ModuleId {
    ModuleId::new(addr(a), name)
}

fn parse(text: &str) -> Result<Registry, RegistryError> {
    Registry::parse(text, Path::new("registry.toml"))
}

fn violations(text: &str) -> Vec<Violation> {
    match parse(text) {
        Ok(_) => panic!("expected violations in:\n{text}"),
        Err(e) => e.violations().to_vec(),
    }
}

/// The text breaks `rule` and nothing else, at exactly these lines.
fn assert_only(text: &str, rule: &str, lines: &[usize]) -> Vec<Violation> {
    let found = violations(text);
    assert!(found.iter().all(|v| v.rule == rule), "expected only [{rule}], got {found:#?}");
    let found_lines: Vec<Option<usize>> = found.iter().map(|v| v.line).collect();
    let expected: Vec<Option<usize>> = lines.iter().map(|&l| Some(l)).collect();
    assert_eq!(found_lines, expected, "{found:#?}");
    found
}

#[test]
fn valid_registry_passes_and_answers_queries() {
    let r = parse(VALID).unwrap();
    assert!(r.violations().is_empty());
    assert_eq!(r.genesis(), addr(1));
    assert_eq!(r.newest("Epoch").unwrap().address, addr(2));
    assert_eq!(r.newest("Coin").unwrap().predecessor, Some(addr(1)));
    assert_eq!(r.versions_of("Epoch").unwrap().len(), 2);
    assert!(r.versions_of("Vote").is_none());
    let (name, version) = r.lookup(&id(3, "Coin")).unwrap();
    assert_eq!((name, version.release), ("Coin", v(2)));
    assert!(r.lookup(&id(3, "Epoch")).is_none());
    assert!(r.is_closed(&id(1, "Epoch")));
    assert!(!r.is_closed(&id(2, "Epoch")));
    assert!(!r.is_closed(&id(9, "Unknown")));
    assert_eq!(r.next_address().unwrap(), addr(4));
    assert_eq!(r.modules().map(|(n, _)| n).collect::<Vec<_>>(), ["Coin", "Epoch"]);
}

#[test]
fn syntax_reports_every_problem_with_its_line() {
    let text = r#"genesis = "0x1"
colour = "red"

[modules."1bad"]
versions = [{ address = "0x1", release = "v1" }]

[modules.Epoch]
versions = [
  { address = "0xZZ", release = "v1", closed = true },
  { address = "0x2", release = "2", predecessor = "0x1" },
  { address = "0x3", release = "v3", predecessor = "0x2", size = 3 },
  { address = 4, release = "v4", predecessor = "0x3" },
  { release = "v5", predecessor = "0x3" },
]
retired = "no"
"#;
    let found = assert_only(text, rules::SYNTAX, &[2, 4, 9, 10, 11, 12, 13, 15]);
    assert!(found[0].message.contains("unknown key `colour`"), "{}", found[0].message);
    assert!(found[1].message.contains("not a valid Move identifier"), "{}", found[1].message);
    assert!(found[2].message.contains("\"0xZZ\" is not an address"), "{}", found[2].message);
    assert!(found[3].message.contains("not a release name"), "{}", found[3].message);
    assert!(found[4].message.contains("unknown key `size`"), "{}", found[4].message);
    assert!(found[5].message.contains("must be a string"), "{}", found[5].message);
    assert!(found[6].message.contains("no `address`"), "{}", found[6].message);
    assert!(found[7].message.contains("true or false"), "{}", found[7].message);
}

#[test]
fn syntax_invalid_toml_names_the_line() {
    let text = "genesis = \"0x1\"\n\n[modules.Epoch]\nversions = [ { address = \"0x1\" release = \"v1\" } ]\n";
    let found = assert_only(text, rules::SYNTAX, &[4]);
    assert!(found[0].message.starts_with("not valid TOML"), "{}", found[0].message);
}

#[test]
fn syntax_missing_genesis_and_empty_versions() {
    let found = violations("[modules.Epoch]\nversions = []\n");
    assert_eq!(
        found.iter().map(|v| (v.rule, v.line)).collect::<Vec<_>>(),
        [(rules::SYNTAX, Some(2)), (rules::SYNTAX, None)]
    );
}

#[test]
fn range_rule() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x1001", release = "v2", predecessor = "0x1" },
]
"#;
    let found = assert_only(text, rules::RANGE, &[6]);
    assert!(found[0].message.contains("0x0..=0x1000"), "{}", found[0].message);
}

#[test]
fn sequence_rule_no_gap() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x3", release = "v2", predecessor = "0x1" },
]
"#;
    let found = assert_only(text, rules::SEQUENCE, &[6]);
    assert!(found[0].message.contains("gap: 0x2 is not allocated"), "{}", found[0].message);
}

#[test]
fn sequence_rule_release_order() {
    // 0x2 went to v3 and then 0x3 to v2: addresses must follow releases.
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x2", release = "v3", predecessor = "0x1" },
]

[modules.Coin]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x3", release = "v2", predecessor = "0x1" },
]
"#;
    let found = assert_only(text, rules::SEQUENCE, &[12]);
    assert!(found[0].message.contains("release order"), "{}", found[0].message);
    assert!(found[0].message.contains("line 6"), "{}", found[0].message);
}

#[test]
fn reuse_rule_same_module() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x2", release = "v2", predecessor = "0x1", closed = true },
  { address = "0x2", release = "v3", predecessor = "0x2" },
]
"#;
    let found = assert_only(text, rules::REUSE, &[7]);
    assert!(found[0].message.contains("line 6"), "{}", found[0].message);
}

#[test]
fn reuse_rule_holds_for_retired_modules() {
    let text = r#"genesis = "0x1"

[modules.Old]
retired = true
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x2", release = "v2", predecessor = "0x1", closed = true },
  { address = "0x2", release = "v3", predecessor = "0x2", closed = true },
]
"#;
    assert_only(text, rules::REUSE, &[8]);
}

#[test]
fn shared_address_rule() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x2", release = "v2", predecessor = "0x1" },
]

[modules.Coin]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x2", release = "v2", predecessor = "0x1" },
]
"#;
    let found = assert_only(text, rules::SHARED_ADDRESS, &[12]);
    assert!(found[0].message.contains("0x2::Epoch"), "{}", found[0].message);
}

#[test]
fn predecessor_rule_unknown_address() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x2", release = "v2", predecessor = "0x9" },
]
"#;
    let found = assert_only(text, rules::PREDECESSOR, &[6]);
    assert!(found[0].message.contains("0x9 is not a version of Epoch"), "{}", found[0].message);
}

#[test]
fn predecessor_rule_every_shape() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true, predecessor = "0x1" },
  { address = "0x2", release = "v2", predecessor = "0x1", closed = true },
  { address = "0x3", release = "v3", predecessor = "0x1", closed = true },
  { address = "0x4", release = "v4", closed = true },
  { address = "0x5", release = "v4", predecessor = "0x4" },
]
"#;
    let found = assert_only(text, rules::PREDECESSOR, &[5, 7, 8, 9]);
    assert!(found[1].message.contains("just before it, 0x2"), "{}", found[1].message);
    assert!(found[2].message.contains("has no predecessor"), "{}", found[2].message);
    assert!(found[3].message.contains("not released after"), "{}", found[3].message);
}

#[test]
fn predecessor_rule_first_version_at_genesis() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1", closed = true },
  { address = "0x2", release = "v2", predecessor = "0x1" },
]

[modules.Coin]
versions = [
  { address = "0x3", release = "v3" },
]
"#;
    let found = assert_only(text, rules::PREDECESSOR, &[11]);
    assert!(found[0].message.contains("not at genesis"), "{}", found[0].message);
}

#[test]
fn closed_rule() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1" },
  { address = "0x2", release = "v2", predecessor = "0x1" },
]

[modules.Coin]
versions = [
  { address = "0x1", release = "v1", closed = true },
]

[modules.Old]
retired = true
versions = [
  { address = "0x1", release = "v1" },
]
"#;
    let found = assert_only(text, rules::CLOSED, &[5, 11, 17]);
    assert!(found[0].message.contains("not closed"), "{}", found[0].message);
    assert!(found[1].message.contains("must stay open"), "{}", found[1].message);
    assert!(found[2].message.contains("retired"), "{}", found[2].message);
}

#[test]
fn all_violations_are_collected_and_rendered_one_per_line() {
    let text = r#"genesis = "0x1"

[modules.Epoch]
versions = [
  { address = "0x1", release = "v1" },
  { address = "0x3", release = "v2", predecessor = "0x1" },
]
"#;
    let err = parse(text).unwrap_err();
    assert_eq!(err.rules(), [rules::CLOSED, rules::SEQUENCE]);
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 2, "{shown}");
    assert!(lines[0].starts_with("registry.toml:5: [closed] "), "{shown}");
    assert!(lines[1].starts_with("registry.toml:6: [sequence] "), "{shown}");
}

#[test]
fn bump_allocates_in_sequence_across_modules_and_closes_the_predecessor() {
    let mut r = Registry::new(addr(1), Path::new("mem"));
    r.add_module("Epoch", v(1)).unwrap();
    r.add_module("Coin", v(1)).unwrap();
    let epoch = r.bump("Epoch", v(2)).unwrap();
    assert_eq!((epoch.address, epoch.predecessor, epoch.closed), (addr(2), Some(addr(1)), false));
    let coin = r.bump("Coin", v(2)).unwrap();
    assert_eq!((coin.address, coin.predecessor), (addr(3), Some(addr(1))));
    assert!(r.versions_of("Epoch").unwrap()[0].closed);
    assert!(r.is_closed(&id(1, "Epoch")));
    assert!(!r.is_closed(&id(2, "Epoch")));
    let epoch3 = r.bump("Epoch", v(3)).unwrap();
    assert_eq!((epoch3.address, epoch3.predecessor), (addr(4), Some(addr(2))));
    assert!(r.is_closed(&id(2, "Epoch")));
    assert!(r.violations().is_empty());
}

#[test]
fn bump_refuses_unknown_stale_out_of_order_and_retired() {
    let mut r = parse(VALID).unwrap();
    let before = r.clone();
    assert_eq!(r.bump("Vote", v(3)).unwrap_err().rules(), [rules::UNKNOWN_MODULE]);
    assert_eq!(r.bump("Epoch", v(2)).unwrap_err().rules(), [rules::STALE_RELEASE]);
    assert_eq!(r.bump("Epoch", v(1)).unwrap_err().rules(), [rules::STALE_RELEASE]);
    r.bump("Epoch", v(4)).unwrap();
    // Coin's v3 would get 0x5, above Epoch's v4 at 0x4.
    let err = r.bump("Coin", v(3)).unwrap_err();
    assert_eq!(err.rules(), [rules::SEQUENCE]);
    assert!(err.to_string().contains("release order"), "{err}");
    assert_eq!(r.add_module("Epoch", v(4)).unwrap_err().rules(), [rules::MODULE_EXISTS]);
    assert_eq!(r.add_module("not-valid", v(4)).unwrap_err().rules(), [rules::SYNTAX]);
    assert_ne!(r, before);

    let retired = r#"genesis = "0x1"
[modules.Old]
retired = true
versions = [{ address = "0x1", release = "v1", closed = true }]
"#;
    let mut r = parse(retired).unwrap();
    assert_eq!(r.bump("Old", v(2)).unwrap_err().rules(), [rules::RETIRED]);
    assert!(!r.is_closed(&id(2, "Old")));
    assert!(r.is_closed(&id(1, "Old")));
}

#[test]
fn bump_at_the_end_of_the_range_is_exhausted() {
    let text = format!(
        "genesis = \"{:#x}\"\n[modules.Epoch]\nversions = [{{ address = \"{:#x}\", release = \"v1\" }}]\n",
        RESERVED_END - 1,
        RESERVED_END - 1
    );
    let mut r = parse(&text).unwrap();
    let last = r.bump("Epoch", v(2)).unwrap();
    assert_eq!(last.address, addr(RESERVED_END));
    let before = r.clone();
    let err = r.bump("Epoch", v(3)).unwrap_err();
    assert_eq!(err.rules(), [rules::EXHAUSTED]);
    assert!(err.to_string().contains("the reserved range 0x0..=0x1000 is exhausted"), "{err}");
    assert!(matches!(r.next_address(), Err(RegistryError::Exhausted { .. })));
    assert_eq!(r, before);
    assert!(!r.newest("Epoch").unwrap().closed);
}

#[test]
fn check_release_both_directions() {
    let r = parse(VALID).unwrap();
    let v1 = [id(1, "Coin"), id(1, "Epoch")];
    let v2 = [id(1, "Coin"), id(1, "Epoch"), id(2, "Epoch"), id(3, "Coin")];
    assert!(r.check_release(v(1), &v1).is_empty());
    assert!(r.check_release(v(2), &v2).is_empty());
    assert!(r.check_release(v(3), &v2).is_empty());
    assert_eq!(r.expected_ids(v(2)).into_iter().collect::<Vec<_>>(), {
        let mut ids = v2.to_vec();
        ids.sort();
        ids
    });

    // In the release but not in the registry, or in the registry only from a later release.
    let found = r.check_release(v(1), &[id(1, "Coin"), id(1, "Epoch"), id(2, "Epoch"), id(7, "Vote")]);
    assert!(found.iter().all(|f| f.rule == rules::RELEASE_AGREEMENT), "{found:#?}");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found.iter().any(|f| f.line == Some(7) && f.message.contains("first released in v2")), "{found:#?}");
    assert!(found.iter().any(|f| f.line.is_none() && f.message.contains("0x7::Vote")), "{found:#?}");

    // In the registry at or before this release, but missing from it (old versions stay).
    let found = r.check_release(v(2), &[id(2, "Epoch"), id(3, "Coin"), id(1, "Coin")]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].rule, found[0].line), (rules::RELEASE_AGREEMENT, Some(6)));
    assert!(found[0].message.contains("lacks 0x1::Epoch"), "{}", found[0].message);
}

#[test]
fn load_names_the_file_and_rejects_garbage_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.toml");
    for garbage in [
        "\u{0}\u{1}",
        "[[[",
        "genesis = [1, 2]",
        "modules = 3\ngenesis = \"0x1\"",
        "genesis = \"0x1\"\n[modules]\nEpoch = 1\n",
    ] {
        std::fs::write(&path, garbage).unwrap();
        let err = Registry::load(&path).unwrap_err();
        assert!(!err.violations().is_empty(), "{garbage:?}");
        assert!(err.to_string().starts_with(&path.display().to_string()), "{err}");
        assert!(err.rules().iter().all(|r| *r == rules::SYNTAX), "{err}");
    }
}
