//! Editing the registry file: comments and layout are kept, a failed edit writes nothing, and a
//! symlinked registry is written through with its permissions kept.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::Address;
use stdlib_tools::{add_module_file, bump_file};
use upgrade_spec::registry::{rules, Registry, RegistryError, ReleaseName};

/// A valid registry with comments: Epoch and Coin, each moved once.
const VALID: &str = include_str!("../../../upgrade-spec/tests/fixtures/registry-valid.toml");

fn addr(n: u64) -> Address {
    Address::from_u64(n)
}

fn v(n: u32) -> ReleaseName {
    ReleaseName(n)
}

#[test]
fn bump_file_keeps_comments_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.toml");
    std::fs::write(&path, VALID).unwrap();
    let version = bump_file(&path, "Epoch", v(3)).unwrap();
    assert_eq!(version.address, addr(4));
    let after = std::fs::read_to_string(&path).unwrap();
    let expected = VALID.replace(
        "  { address = \"0x2\", release = \"v2\", predecessor = \"0x1\" },\n]\n\n[modules.Coin]",
        "  { address = \"0x2\", release = \"v2\", predecessor = \"0x1\", closed = true },\n  { address = \"0x4\", \
         release = \"v3\", predecessor = \"0x2\" },\n]\n\n[modules.Coin]",
    );
    assert_eq!(after, expected);
    assert!(after.contains("# comments are preserved by `bump`"));
    assert!(after.contains("# the address every module's first version is published at"));
    let r = Registry::load(&path).unwrap();
    assert_eq!(r.newest("Epoch").unwrap().address, addr(4));
}

#[test]
fn bump_file_keeps_a_comment_on_the_last_line_where_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.toml");
    let with_comma =
        "genesis = \"0x1\"\n[modules.Epoch]\nversions = [\n  { address = \"0x1\", release = \"v1\" },  # first\n]\n";
    std::fs::write(&path, with_comma).unwrap();
    bump_file(&path, "Epoch", v(2)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "genesis = \"0x1\"\n[modules.Epoch]\nversions = [\n  { address = \"0x1\", release = \"v1\", closed = true },  \
         # first\n  { address = \"0x2\", release = \"v2\", predecessor = \"0x1\" },\n]\n"
    );
    let no_comma =
        "genesis = \"0x1\"\n[modules.Epoch]\nversions = [\n  { address = \"0x1\", release = \"v1\" }  # first\n]\n";
    std::fs::write(&path, no_comma).unwrap();
    bump_file(&path, "Epoch", v(2)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "genesis = \"0x1\"\n[modules.Epoch]\nversions = [\n  { address = \"0x1\", release = \"v1\", closed = true },  \
         # first\n  { address = \"0x2\", release = \"v2\", predecessor = \"0x1\" }\n]\n"
    );
    let one_line =
        "genesis = \"0x1\"\n[modules.Epoch]\nversions = [{ address = \"0x1\", release = \"v1\", closed = false }]\n";
    std::fs::write(&path, one_line).unwrap();
    bump_file(&path, "Epoch", v(2)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "genesis = \"0x1\"\n[modules.Epoch]\nversions = [{ address = \"0x1\", release = \"v1\", closed = true }, { \
         address = \"0x2\", release = \"v2\", predecessor = \"0x1\" }]\n"
    );
}

#[test]
fn bump_file_handles_arrays_of_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.toml");
    let text = "genesis = \"0x1\"\n\n[[modules.Epoch.versions]]\naddress = \"0x1\"\nrelease = \"v1\"\n";
    std::fs::write(&path, text).unwrap();
    bump_file(&path, "Epoch", v(2)).unwrap();
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        "genesis = \"0x1\"\n\n[[modules.Epoch.versions]]\naddress = \"0x1\"\nrelease = \"v1\"\nclosed = true\n\n\
         [[modules.Epoch.versions]]\naddress = \"0x2\"\nrelease = \"v2\"\npredecessor = \"0x1\"\n"
    );
}

#[test]
fn bump_file_leaves_the_file_untouched_on_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.toml");
    std::fs::write(&path, VALID).unwrap();
    for (name, release, rule) in [("Vote", 3, rules::UNKNOWN_MODULE), ("Epoch", 2, rules::STALE_RELEASE)] {
        let err = bump_file(&path, name, v(release)).unwrap_err();
        assert_eq!(err.rules(), [rule]);
        assert!(err.to_string().starts_with(&format!("{}: [{rule}]", path.display())), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), VALID);
    }
    // A registry that breaks a rule is not bumped at all.
    let broken = VALID.replace("\"0x3\"", "\"0x5\"");
    std::fs::write(&path, &broken).unwrap();
    let err = bump_file(&path, "Epoch", v(3)).unwrap_err();
    assert_eq!(err.rules(), [rules::SEQUENCE]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // A missing file is an I/O error naming it.
    let missing = dir.path().join("missing.toml");
    let err = bump_file(&missing, "Epoch", v(3)).unwrap_err();
    assert!(matches!(err, RegistryError::Io { .. }));
    assert!(!missing.exists());
}

#[test]
fn add_module_file_appends_a_module_at_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.toml");
    std::fs::write(&path, VALID).unwrap();
    let version = add_module_file(&path, "Vote", v(3)).unwrap();
    assert_eq!((version.address, version.predecessor), (addr(1), None));
    let after = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        after,
        format!("{VALID}\n[modules.Vote]\nversions = [\n  {{ address = \"0x1\", release = \"v3\" }},\n]\n")
    );
    assert_eq!(add_module_file(&path, "Vote", v(3)).unwrap_err().rules(), [rules::MODULE_EXISTS]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), after);

    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "# a fresh registry\ngenesis = \"0x1\"\n").unwrap();
    add_module_file(&empty, "Epoch", v(1)).unwrap();
    bump_file(&empty, "Epoch", v(2)).unwrap();
    let r = Registry::load(&empty).unwrap();
    assert_eq!(r.newest("Epoch").unwrap().address, addr(2));
    assert!(std::fs::read_to_string(&empty).unwrap().starts_with("# a fresh registry\n"));
}

#[cfg(unix)]
#[test]
fn bump_file_writes_through_a_symlink_and_keeps_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.toml");
    let link = dir.path().join("registry.toml");
    std::fs::write(&real, VALID).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    bump_file(&link, "Coin", v(3)).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o644);
    assert_eq!(Registry::load(&real).unwrap().newest("Coin").unwrap().address, addr(4));
}
