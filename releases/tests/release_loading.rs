//! Loading releases from every container kind, reporting bad modules, and deciding the address
//! length from a whole release.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::generate::{self, Shape};
use binary_format::{write_module, AddressLength, Detail, NoResolver, Version};
use releases::containers::{encode_bundle, ContainerKind};
use releases::{load, LoadOptions, ModuleError};

fn written(seed: u64, shape: &Shape, n: usize) -> Vec<(String, Vec<u8>)> {
    generate::release(seed, shape, n)
        .iter()
        .map(|m| (m.name.clone(), write_module(m, shape.address_length, &NoResolver).unwrap()))
        .collect()
}

#[test]
fn folder_is_searched_recursively_and_sorted_by_module_id() {
    let dir = tempfile::tempdir().unwrap();
    let shape = Shape::new(Version::new(6), AddressLength::Bytes16);
    let mods = written(1, &shape, 6);
    for (i, (name, bytes)) in mods.iter().enumerate() {
        let sub = dir.path().join(format!("pkg{}/sources", i % 2));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{name}.mv")), bytes).unwrap();
    }
    std::fs::write(dir.path().join("README.txt"), "not a module").unwrap();
    let release = load(dir.path(), LoadOptions::default()).unwrap();
    assert_eq!(release.kind, ContainerKind::Folder);
    assert!(release.is_complete(), "{:?}", release.failures);
    assert_eq!(release.modules.len(), 6);
    assert_eq!(release.address_length, AddressLength::Bytes16);
    let ids: Vec<_> = release.modules.iter().map(|m| m.module.id()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
}

#[test]
fn one_bad_module_is_reported_and_the_rest_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let shape = Shape::new(Version::new(6), AddressLength::Bytes32);
    let mods = written(2, &shape, 4);
    for (name, bytes) in &mods {
        std::fs::write(dir.path().join(format!("{name}.mv")), bytes).unwrap();
    }
    let mut bad = mods[0].1.clone();
    bad.truncate(bad.len() - 3);
    std::fs::write(dir.path().join("zz_truncated.mv"), &bad).unwrap();
    std::fs::write(dir.path().join("zz_text.mv"), b"hello").unwrap();
    std::fs::write(dir.path().join("zz_dup.mv"), &mods[1].1).unwrap();

    let release = load(dir.path(), LoadOptions::default()).unwrap();
    assert_eq!(release.modules.len(), 4);
    assert_eq!(release.failures.count(), 3, "{:#?}", release.failures);
    let report: Vec<String> = release.failures.iter().map(ToString::to_string).collect();
    assert!(report.iter().any(|r| r.contains("zz_truncated.mv") && r.contains("at offset 0x")), "{report:#?}");
    assert!(report.iter().any(|r| r.contains("zz_text.mv") && r.contains("magic")), "{report:#?}");
    assert!(release.failures.iter().any(|f| matches!(f.error, ModuleError::Duplicate { .. })), "{report:#?}");
}

#[test]
fn bundles_are_recognised_by_content_whatever_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let shape = Shape::new(Version::new(4), AddressLength::Bytes16);
    let mods = written(3, &shape, 5);
    let bundle = encode_bundle(&mods.iter().map(|m| m.1.clone()).collect::<Vec<_>>());
    // 0L names its bundle `stdlib.mv` although it is not one module.
    let path = dir.path().join("stdlib.mv");
    std::fs::write(&path, &bundle).unwrap();
    let release = load(&path, LoadOptions::default()).unwrap();
    assert_eq!(release.kind, ContainerKind::Bundle);
    assert_eq!(release.modules.len(), 5);
    assert!(release.modules.iter().all(|m| m.origin.starts_with(&path.display().to_string())));

    // The same bundle inside a folder is pointed out, not silently skipped.
    let release = load(dir.path(), LoadOptions::default());
    let failures = release.map(|r| r.failures).unwrap_or_default();
    assert!(failures.iter().any(|f| f.to_string().contains("module bundle")), "{failures:?}");
}

#[test]
fn unknown_files_and_empty_folders_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load(dir.path(), LoadOptions::default()).unwrap_err().to_string().contains("no modules"));
    let path = dir.path().join("x.bin");
    std::fs::write(&path, b"\x01\x02\x03").unwrap();
    let err = load(&path, LoadOptions::default()).unwrap_err().to_string();
    assert!(err.contains("x.bin") && err.contains("not a release"), "{err}");
    assert!(load(&dir.path().join("missing"), LoadOptions::default()).is_err());
}

#[test]
fn address_length_is_detected_per_release_for_every_shape() {
    let mut single_misses = 0;
    let mut singles = 0;
    for shape in Shape::all_versions() {
        for seed in 0..30 {
            let mods = written(seed, &shape, 5);
            let d = binary_format::detect_address_length(mods.iter().map(|m| m.1.as_slice()));
            assert_eq!(d.length, shape.address_length, "seed {seed} version {} scores {:?}", shape.version, d.scores);
            for (_, bytes) in mods.iter().take(2) {
                singles += 1;
                if binary_format::detect_address_length([bytes.as_slice()]).length != shape.address_length {
                    single_misses += 1;
                }
            }
        }
    }
    // One module alone can be ambiguous, which is why the release decides; it still mostly works.
    assert!(single_misses * 10 < singles, "{single_misses} of {singles} single modules misdetected");
}

#[test]
fn explicit_length_overrides_detection() {
    let dir = tempfile::tempdir().unwrap();
    let shape = Shape::new(Version::new(6), AddressLength::Bytes32);
    let (_, bytes) = &written(4, &shape, 1)[0];
    let path = dir.path().join("m.mv");
    std::fs::write(&path, bytes).unwrap();
    let options = LoadOptions { address_length: Some(AddressLength::Bytes32), detail: Detail::Layouts };
    let release = load(&path, options).unwrap();
    assert!(release.detection.is_none());
    assert_eq!(release.address_length, AddressLength::Bytes32);
    assert!(release.modules[0].module.functions.is_empty(), "layouts only");
}
