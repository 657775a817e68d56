//! The committed releases are exactly a fresh build, and read back as their definitions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::AddressLength;
use releases::{load, LoadOptions};
use std::path::Path;
use stdlib::build::{build_all, compare_artifacts};

fn releases_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("releases")
}

#[test]
fn committed_artifacts_equal_a_fresh_build_byte_for_byte() {
    let built = build_all().unwrap();
    let problems = compare_artifacts(&releases_dir(), &built);
    assert!(
        problems.is_empty(),
        "stdlib/releases is not a fresh build (run `cargo run -p stdlib --bin build-releases`): {problems:#?}"
    );
}

#[test]
fn a_stale_or_extra_artifact_is_detected() {
    let built = build_all().unwrap();
    let dir = tempfile::tempdir().unwrap();
    stdlib::build::write_artifacts(dir.path(), &built).unwrap();
    assert!(compare_artifacts(dir.path(), &built).is_empty());
    let epoch = dir.path().join("v1/0x1/Epoch.mv");
    let mut bytes = std::fs::read(&epoch).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    std::fs::write(&epoch, bytes).unwrap();
    std::fs::write(dir.path().join("v1/0x1/Extra.mv"), b"x").unwrap();
    let problems = compare_artifacts(dir.path(), &built);
    assert_eq!(problems.len(), 2, "{problems:?}");
    // Writing again repairs both.
    stdlib::build::write_artifacts(dir.path(), &built).unwrap();
    assert!(compare_artifacts(dir.path(), &built).is_empty());
}

#[test]
fn every_release_reads_back_as_its_definitions_from_folder_and_bundle() {
    for release in build_all().unwrap() {
        for path in [releases_dir().join(release.name), releases_dir().join(format!("{}.bundle", release.name))] {
            let loaded = load(&path, LoadOptions::default()).unwrap();
            assert!(loaded.is_complete(), "{}: {:?}", path.display(), loaded.failures);
            assert_eq!(loaded.address_length, AddressLength::Bytes16, "{}", path.display());
            let read: Vec<_> = loaded.modules.iter().map(|m| &m.module).collect();
            let defined: Vec<_> = release.modules.iter().map(|m| &m.module).collect();
            assert_eq!(read, defined, "{}", path.display());
        }
    }
}

#[test]
fn old_versions_are_byte_identical_in_later_releases() {
    let built = build_all().unwrap();
    for pair in built.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        for m in &old.modules {
            let Some(later) = new.modules.iter().find(|n| n.module.id() == m.module.id()) else {
                panic!("{} dropped {} from {}", new.name, m.module.id(), old.name)
            };
            // Modules republished in place (compatible changes) may differ; versioned-away ones may not.
            let versioned_away =
                new.modules.iter().any(|n| n.module.name == m.module.name && n.module.address > m.module.address);
            if versioned_away {
                assert_eq!(later.bytes, m.bytes, "{} changed closed module {}", new.name, m.module.id());
            }
        }
    }
}

fn registry() -> upgrade_spec::registry::Registry {
    upgrade_spec::registry::Registry::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("registry.toml")).unwrap()
}

#[test]
fn committed_registry_passes_every_rule_and_agrees_with_every_release() {
    let registry = registry();
    assert!(registry.violations().is_empty(), "{:?}", registry.violations());
    for (i, release) in build_all().unwrap().iter().enumerate() {
        let ids: Vec<_> = release.modules.iter().map(|m| m.module.id()).collect();
        let name = upgrade_spec::registry::ReleaseName::new(i as u32 + 1);
        assert_eq!(release.name, name.to_string());
        let violations = registry.check_release(name, &ids);
        assert!(violations.is_empty(), "{}: {violations:?}", release.name);
    }
}

#[test]
fn committed_releases_have_no_cycles_and_no_stale_imports() {
    let versions = releases::graph::Versions::from_registry(&registry());
    for release in build_all().unwrap() {
        let graph = releases::graph::DependencyGraph::new(release.modules.iter().map(|m| &m.module), &versions);
        assert!(graph.cycles().is_empty(), "{}", release.name);
        assert!(graph.stale_imports().is_empty(), "{}: {:?}", release.name, graph.stale_imports());
        let order = graph.topological_order().unwrap();
        assert_eq!(order.len(), graph.nodes().count());
    }
}
