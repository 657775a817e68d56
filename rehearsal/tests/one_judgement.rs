//! One upgrade, one judgement: `check` and `rehearse` judge the same release pair alike, on
//! every committed fixture (our stdlib v1 -> v2 -> v3 with its registry, the 32-byte framework
//! 6.9.9 -> 7.0.0, the objects chain 1.0.0 -> 1.1.0): the same chain and upgrade path, the same
//! verdict, the same stored structs to migrate, and the same declaration matched to each, the
//! releases read from their folders and the new release labelled by its folder's name, as both
//! commands do.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use compat_checker::chain::{ChainChoice, ReleaseView};
use compat_checker::{check_views, ChainOptions, CheckOptions};
use rehearsal::rehearse::gate::{self, Releases};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use upgrade_spec::{Declarations, Registry};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A release written as a folder named `name` under `dir`.
fn folder(dir: &Path, name: &str, files: Vec<(String, Vec<u8>)>) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    for (file, bytes) in files {
        std::fs::write(path.join(file), bytes).unwrap();
    }
    path
}

/// What each command decided: (chain and path, passes, stored struct -> declared).
type Judgement = (String, bool, BTreeMap<String, bool>);

fn judge(old: &Path, new: &Path, declarations: &Declarations, registry: Option<&Registry>) -> (Judgement, Judgement) {
    let (o, n) = (releases::load(old, Default::default()).unwrap(), releases::load(new, Default::default()).unwrap());
    let (ov, nv) = (ReleaseView::of_release(&o), ReleaseView::of_release(&n));
    let (old_name, new_name) = (old.display().to_string(), new.display().to_string());
    let label = upgrade_spec::ReleaseLabel::new(&releases::label(&new_name)).unwrap();
    let options = CheckOptions { registry, declarations: Some(declarations), config: None };
    let chain = ChainOptions { choice: ChainChoice::auto(), release: None, ..ChainOptions::default() };
    let (report, _) = check_views(&old_name, &ov, &new_name, &nv, options, chain).unwrap();
    let checked = (
        format!("{} {}", report.chain.chain.as_str(), report.chain.policy.as_str()),
        report.passes(),
        report.storage.migrations.iter().map(|m| (format!("{}::{}", m.from, m.struct_name), m.declared)).collect(),
    );
    let g = gate::run(
        Releases { old_name: &old_name, old: &ov, new_name: &new_name, new: &nv },
        &label,
        registry,
        Some(declarations),
        n.address_length,
        ChainChoice::auto(),
        &devchain::handlers(),
    )
    .unwrap();
    let profile = g.chain.split(" (").next().unwrap().split(", protocol").next().unwrap().to_owned();
    let rehearsed = (
        profile,
        g.passes,
        g.needs.iter().map(|((m, s), info)| (format!("{m}::{s}"), info.migration.is_some())).collect(),
    );
    (checked, rehearsed)
}

#[test]
fn check_and_rehearse_judge_every_committed_fixture_alike() {
    let dir = tempfile::tempdir().unwrap();
    // Our stdlib, with its registry of versioned addresses.
    let registry = Registry::load_unchecked(&repo().join("stdlib/registry.toml")).unwrap();
    let declarations = Declarations::load(&repo().join("stdlib/migrations.toml")).unwrap();
    let releases = repo().join("stdlib/releases");
    let mut cases: Vec<(PathBuf, PathBuf, Declarations, Option<&Registry>)> = vec![
        (releases.join("v1"), releases.join("v2"), declarations.clone(), Some(&registry)),
        (releases.join("v2"), releases.join("v3"), declarations, Some(&registry)),
    ];
    // The 32-byte framework changed in place, released as 7.0.0.
    let [old, new] = devchain::framework::release_files().unwrap();
    cases.push((
        folder(dir.path(), "6.9.9", old),
        folder(dir.path(), "7.0.0", new),
        devchain::framework::declarations().unwrap(),
        None,
    ));
    // The chain with resource groups and tables.
    let [old, new] = devchain::objects::release_files().unwrap();
    cases.push((
        folder(dir.path(), "1.0.0", old),
        folder(dir.path(), "1.1.0", new),
        devchain::objects::declarations().unwrap(),
        None,
    ));
    for (old, new, declarations, registry) in &cases {
        let (checked, rehearsed) = judge(old, new, declarations, *registry);
        assert_eq!(checked, rehearsed, "{} -> {}", old.display(), new.display());
        assert!(!checked.2.is_empty(), "{}: a fixture with stored structs to migrate", new.display());
        assert!(checked.2.values().all(|d| *d), "{}: every need declared: {:?}", new.display(), checked.2);
    }
    // Declarations of another release than the new one's: undeclared for both, in place as
    // versioned (the versioned change was once called declared by `check` whatever release its
    // declaration named).
    let v9 = dir.path().join("v9");
    std::fs::create_dir_all(&v9).unwrap();
    for entry in walk(&releases.join("v2")) {
        let to = v9.join(entry.strip_prefix(releases.join("v2")).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &to).unwrap();
    }
    let stdlib = Declarations::load(&repo().join("stdlib/migrations.toml")).unwrap();
    let (checked, rehearsed) = judge(&releases.join("v1"), &v9, &stdlib, Some(&registry));
    assert_eq!(checked, rehearsed);
    assert!(checked.2.values().all(|d| !*d), "declared for v2, not v9: {:?}", checked.2);
    let [old, new] = devchain::framework::release_files().unwrap();
    let (old, new) = (folder(dir.path(), "a/6.9.9", old), folder(dir.path(), "a/7.0.1", new));
    let (checked, rehearsed) = judge(&old, &new, &devchain::framework::declarations().unwrap(), None);
    assert_eq!(checked, rehearsed);
    assert!(checked.2.values().all(|d| !*d), "declared for 7.0.0, not 7.0.1: {:?}", checked.2);
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
