//! Releases made to mislead or exhaust the loader (issue 22): links and special files named
//! `.mv`, more modules than a release holds, and bundles of many broken modules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::generate::{self, Shape};
use binary_format::{write_module, AddressLength, NoResolver, Version};
use releases::containers::encode_bundle;
use releases::{load, LoadOptions, ReleaseError, MAX_FAILURE_EXAMPLES};

fn written(seed: u64, n: usize) -> Vec<(String, Vec<u8>)> {
    let shape = Shape::new(Version::new(6), AddressLength::Bytes16);
    generate::release(seed, &shape, n)
        .iter()
        .map(|m| (m.name.clone(), write_module(m, shape.address_length, &NoResolver).unwrap()))
        .collect()
}

/// A `.mv` symbolic link was skipped without a word, and its module then reported as removed;
/// a FIFO named `.mv` was skipped too. A link inside the folder is its module; a link out of
/// it, a link to a directory and a FIFO are failures with a reason.
#[cfg(unix)]
#[test]
fn a_link_or_special_file_named_mv_is_a_module_or_a_failure_never_absent() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let (release, outside) = (tmp.path().join("release"), tmp.path().join("outside"));
    std::fs::create_dir_all(release.join("kept")).unwrap();
    std::fs::create_dir_all(outside.join("pkg")).unwrap();
    let mods = written(5, 4);
    std::fs::write(release.join("kept/A.mv"), &mods[0].1).unwrap();
    std::fs::write(outside.join("B.mv"), &mods[1].1).unwrap();
    std::fs::write(outside.join("pkg/C.mv"), &mods[2].1).unwrap();
    symlink(release.join("kept/A.mv"), release.join("inside.mv")).unwrap();
    symlink(outside.join("B.mv"), release.join("out.mv")).unwrap();
    symlink(outside.join("pkg"), release.join("linked-package")).unwrap();
    symlink(release.join("missing.bin"), release.join("dangling.mv")).unwrap();
    let fifo = release.join("fifo.mv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());

    let loaded = load(&release, LoadOptions::default()).unwrap();
    // `kept/A.mv` and the link to it inside the folder: one module, said twice.
    assert_eq!(loaded.modules.len(), 1, "{:#?}", loaded.modules.iter().map(|m| &m.origin).collect::<Vec<_>>());
    let failures: Vec<String> = loaded.failures.iter().map(ToString::to_string).collect();
    let has = |name: &str, why: &str| failures.iter().any(|f| f.contains(name) && f.contains(why));
    assert!(has("inside.mv", "is also defined by"), "{failures:#?}");
    assert!(has("out.mv", "outside the release folder"), "{failures:#?}");
    assert!(has("linked-package", "a symbolic link to a directory"), "{failures:#?}");
    assert!(has("dangling.mv", "leads nowhere"), "{failures:#?}");
    assert!(has("fifo.mv", "a FIFO, not a module file"), "{failures:#?}");
    assert_eq!(loaded.failures.count(), 5, "{failures:#?}");
    // No message quotes what the link leads to, let alone its bytes.
    assert!(failures.iter().all(|f| !f.contains(&outside.display().to_string())), "{failures:#?}");
}

/// A tiny module entry: the magic and a byte, which no reader accepts.
fn tiny() -> Vec<u8> {
    let mut m = binary_format::version::MAGIC.to_vec();
    m.push(6);
    m
}

/// Releases of 65,536 modules loaded although a module handle index cannot name them all; a
/// bundle of millions of 6-byte entries cost 350 bytes each before anything was refused.
#[test]
fn a_release_of_more_modules_than_a_release_holds_is_refused_before_it_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("many.bundle");
    std::fs::write(&path, encode_bundle(&vec![tiny(); 65_536])).unwrap();
    let err = load(&path, LoadOptions::default()).unwrap_err();
    assert!(matches!(err, ReleaseError::TooManyModules { found: 65_536, .. }), "{err}");
    assert!(err.to_string().contains("a release holds at most 65535"), "{err}");

    // A folder: counted as it is walked.
    let folder = tmp.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    for i in 0..=65_535u32 {
        std::fs::write(folder.join(format!("m{i}.mv")), b"").unwrap();
    }
    let err = load(&folder, LoadOptions::default()).unwrap_err();
    assert!(matches!(err, ReleaseError::TooManyModules { .. }), "{err}");
}

/// Only the first error was shown, and every failure kept in full: the first few are kept and
/// the rest counted.
#[test]
fn many_broken_modules_are_counted_with_a_few_examples() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("broken.bundle");
    std::fs::write(&path, encode_bundle(&vec![tiny(); 65_535])).unwrap();
    let loaded = load(&path, LoadOptions::default()).unwrap();
    assert_eq!(loaded.failures.count(), 65_535);
    assert_eq!(loaded.failures.examples().len(), MAX_FAILURE_EXAMPLES);
    let line = loaded.failures.to_string();
    assert!(line.starts_with("65535 module(s) do not read: "), "{line}");
    assert!(line.ends_with(&format!("; and {} more", 65_535 - MAX_FAILURE_EXAMPLES)), "{line}");
    assert!(line.contains("#19") && !line.contains("#20:"), "{line}");
}
