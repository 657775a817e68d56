//! One fixture pair per rule (the rule's own example, built with the writer and read back): the
//! rule fires, its report is snapshotted as text and JSON, and each side compared with itself
//! reports nothing — the cheapest false-positive guard there is.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::{read_module, text, write_module, AddressLength, Module, NoResolver};
use compat_checker::{check, CheckOptions};
use layout_diff::rules::rules;
use layout_diff::RuleId;

/// A release of module `0x1::M` with `body` (empty: no module). `@vN` on the first line sets the
/// bytecode version (6, or 7 for enums).
fn release(body: &str, extra: &[&str]) -> Vec<Module> {
    let mut texts = Vec::new();
    if !body.is_empty() {
        let (version, body) = match body.strip_prefix("@v") {
            Some(rest) => rest.split_once('\n').unwrap(),
            // Enums need version 7 (Aptos-style here).
            None if body.contains("enum ") => ("7", body),
            None => ("6", body),
        };
        texts.push(format!("module 0x1::M (bytecode v{version})\n  {body}\n"));
    }
    texts.extend(extra.iter().map(|t| (*t).to_owned()));
    texts
        .iter()
        .flat_map(|t| text::parse(t).unwrap())
        .map(|m| {
            let bytes = write_module(&m, AddressLength::Bytes16, &NoResolver).unwrap();
            read_module(&bytes, AddressLength::Bytes16).unwrap()
        })
        .collect()
}

fn pair(rule: RuleId, old: &str, new: &str) -> (Vec<Module>, Vec<Module>) {
    if rule == RuleId::ClosedVersionChanged {
        // The old version stays, changed, beside a newer one.
        let newer = format!("module 0x2::M (bytecode v6)\n  {new}\n");
        (release(old, &[]), release(new, &[&newer]))
    } else {
        (release(old, &[]), release(new, &[]))
    }
}

fn run(old: &[Module], new: &[Module]) -> compat_checker::Report {
    let old: Vec<&Module> = old.iter().collect();
    let new: Vec<&Module> = new.iter().collect();
    check("old", &old, "new", &new, CheckOptions::default()).0
}

#[test]
fn every_rule_fires_on_its_fixture_and_is_snapshotted() {
    for rule in rules() {
        let (old, new) = pair(rule.id, rule.example.0, rule.example.1);
        let report = run(&old, &new);
        assert!(
            report.changes.iter().any(|c| c.rule == rule.id),
            "rule {} does not fire on its example: {:#?}",
            rule.id,
            report.changes
        );
        insta::assert_snapshot!(format!("rule_{}_text", rule.id), report.to_text(false));
        insta::assert_snapshot!(format!("rule_{}_json", rule.id), report.to_json());
    }
}

#[test]
fn unchanged_pairs_report_nothing_for_every_fixture() {
    for rule in rules() {
        let (old, new) = pair(rule.id, rule.example.0, rule.example.1);
        for side in [&old, &new] {
            let report = run(side, side);
            assert!(report.changes.is_empty(), "{}: {:#?}", rule.id, report.changes);
            assert_eq!(report.verdict, compat_checker::Verdict::RollingUpgrade);
        }
    }
}

#[test]
fn generated_releases_compared_with_themselves_and_their_reserialization_report_nothing() {
    use binary_format::generate::{self, Shape};
    for shape in Shape::all_versions() {
        let modules = generate::release(9, &shape, 30);
        let reread: Vec<Module> = modules
            .iter()
            .map(|m| {
                read_module(&write_module(m, shape.address_length, &NoResolver).unwrap(), shape.address_length).unwrap()
            })
            .collect();
        assert!(run(&modules, &modules).changes.is_empty(), "{}", shape.version);
        assert!(run(&modules, &reread).changes.is_empty(), "{}", shape.version);
    }
}

#[test]
fn rules_documentation_is_generated_from_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rules.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed,
        layout_diff::rules::markdown(),
        "docs/rules.md is out of date: run `cargo run -p compat-checker-cli -- rules > docs/rules.md`"
    );
}
