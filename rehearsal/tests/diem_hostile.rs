//! Diem-family backups made to reach outside their folder or to cost minutes (issue 22): links
//! inside a backup, a manifest's indexes, and records nothing names, whose raw address scan
//! now has a budget per run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::{AddressLength, Module};
use migrations::{AccountAddress, StructTag};
use rehearsal::state::diem::writer::{write_backup, BackupAccount, BackupOptions};
use rehearsal::state::diem::{DiemOptions, DiemSource};
use rehearsal::state::{Context, ProblemKind, Problems, StateError, StateSource};
use std::path::Path;

const W: AddressLength = AddressLength::Bytes16;

/// An account no well-known address list holds.
fn account(n: u64) -> AccountAddress {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&n.to_be_bytes());
    bytes[15] = 0x5a;
    AccountAddress::new(&bytes).unwrap()
}

/// A backup of `n` accounts, each holding one resource of `size` bytes of a struct no release
/// has (so nothing decodes, and no address is mentioned): accounts `0x10`, `0x11`... (well
/// known: named by their keys) when `named`, else accounts found only by the raw scan of their
/// bytes, or not at all.
fn backup_of(top: &Path, n: u64, size: usize, named: bool) -> rehearsal::state::diem::writer::WrittenBackup {
    let tag = StructTag::parse("0x1::Unknown::Thing", W).unwrap();
    let accounts = (1..=n).map(|i| {
        let bytes: Vec<u8> = (0..size).map(|j| (j as u64 * 31 + i) as u8).collect();
        let address = if named { AccountAddress::from_u64(0x10 + i, W) } else { account(i) };
        (address, BackupAccount { resources: vec![(tag.clone(), bytes)], modules: Vec::new() })
    });
    write_backup(top, accounts, BackupOptions { max_chunk_bytes: 1 << 10, ..BackupOptions::diem(7) }).unwrap()
}

fn backup(top: &Path, n: u64, size: usize) -> rehearsal::state::diem::writer::WrittenBackup {
    backup_of(top, n, size, false)
}

/// Every resource of the backup, and the problems read.
fn read(top: &Path, options: DiemOptions) -> Result<(u64, Problems), StateError> {
    let mut source = DiemSource::open(top, options)?;
    let modules: Vec<&Module> = Vec::new();
    let context = Context { width: W, modules: &modules, value_budget: 16 << 20 };
    let mut problems = Problems::default();
    let mut n = 0u64;
    source.entries(
        &context,
        &mut |_| {
            n += 1;
            Ok(())
        },
        &mut problems,
    )?;
    Ok((n, problems))
}

/// A chunk that was a link to `/etc/passwd` was read (the error quoted its first bytes as a
/// record length), and a valid chunk linked from elsewhere was used. A link is followed only to
/// a file inside the backup.
#[cfg(unix)]
#[test]
fn a_link_inside_a_backup_is_followed_only_inside_it() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("backup");
    let written = backup_of(&top, 3, 64, true);
    assert_eq!(read(&top, DiemOptions::default()).unwrap().0, 3);
    let chunk = written.chunks[0].clone();
    let bytes = std::fs::read(&chunk).unwrap();

    // A secret outside the backup, linked as a chunk.
    let secret = tmp.path().join("passwd");
    std::fs::write(&secret, b"root:x:0:0:root:/root:/bin/bash\n").unwrap();
    std::fs::remove_file(&chunk).unwrap();
    symlink(&secret, &chunk).unwrap();
    let err = read(&top, DiemOptions::default()).unwrap_err().to_string();
    assert!(err.contains("leads outside the backup through a symbolic link: not followed"), "{err}");
    assert!(!err.contains("root:x") && !err.contains("passwd") && !err.contains("bytes"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // The chunk itself, but kept outside: refused the same way.
    std::fs::write(&secret, &bytes).unwrap();
    let err = read(&top, DiemOptions::default()).unwrap_err().to_string();
    assert!(err.contains("leads outside the backup"), "{err}");

    // A folder on the way that leads out is a link out too.
    let folder = chunk.parent().unwrap().to_path_buf();
    let moved = tmp.path().join("moved");
    std::fs::rename(&folder, &moved).unwrap();
    symlink(&moved, &folder).unwrap();
    let err = read(&top, DiemOptions::default()).unwrap_err().to_string();
    assert!(err.contains("leads outside the backup"), "{err}");
    std::fs::remove_file(&folder).unwrap();
    std::fs::rename(&moved, &folder).unwrap();

    // Inside the backup, a link is read.
    std::fs::create_dir(top.join("store")).unwrap();
    std::fs::remove_file(&chunk).unwrap();
    std::fs::write(top.join("store/chunk"), &bytes).unwrap();
    symlink(top.join("store/chunk"), &chunk).unwrap();
    assert_eq!(read(&top, DiemOptions::default()).unwrap().0, 3);

    // A FIFO where a chunk goes is refused without being opened.
    std::fs::remove_file(&chunk).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&chunk).status().unwrap().success());
    let err = read(&top, DiemOptions::default()).unwrap_err().to_string();
    assert!(err.contains("it is a FIFO, not a regular file"), "{err}");
}

/// A manifest whose first chunk does not start at record 0 was said to follow chunks "ending at
/// 18446744073709551615".
#[test]
fn a_manifest_s_indexes_are_reported_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("backup");
    let written = backup(&top, 2, 16);
    let text = std::fs::read_to_string(&written.manifest).unwrap();
    std::fs::write(&written.manifest, text.replacen("\"first_idx\":0", "\"first_idx\":5", 1)).unwrap();
    let err = read(&top, DiemOptions::default()).unwrap_err().to_string();
    assert!(err.contains("the first chunk starts at record 0"), "{err}");
    assert!(!err.contains("18446744073709551615"), "{err}");
}

/// Each unnamed record's raw scan cost a hash per byte, a megabyte of windows per resource and
/// no bound per run: a run scans within its budget, says when the budget is spent, and counts
/// the accounts it could not name.
#[test]
fn the_raw_address_scan_stops_at_its_budget_for_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("backup");
    backup(&top, 6, 4096);
    // Nothing names these accounts: with a budget of two records' bytes, two are found by the
    // scan (their addresses are not in their bytes, so none is), the rest are cut.
    let budget = DiemOptions { scan_budget: 2 * 4096, ..DiemOptions::default() };
    let (read_resources, problems) = read(&top, budget).unwrap();
    assert_eq!(read_resources, 0);
    assert_eq!(problems.counts.get(&ProblemKind::ScanBudget), Some(&1), "{problems:#?}");
    let note = problems.examples.iter().find(|p| p.kind == ProblemKind::ScanBudget).unwrap();
    assert!(note.message.contains("budget of 8192 bytes per run is spent: 4 records"), "{}", note.message);
    assert_eq!(problems.counts.get(&ProblemKind::UnresolvedAccount), Some(&6));
    assert_eq!(problems.skipped_resources, 6);

    // An account whose address is in its bytes is found while the budget lasts.
    let tag = StructTag::parse("0x1::Unknown::Thing", W).unwrap();
    let named = tmp.path().join("named");
    let mut bytes = vec![0u8; 100];
    bytes.extend_from_slice(account(9).as_bytes());
    write_backup(
        &named,
        [(account(9), BackupAccount { resources: vec![(tag, bytes)], modules: Vec::new() })],
        BackupOptions::diem(7),
    )
    .unwrap();
    let (found, problems) = read(&named, DiemOptions::default()).unwrap();
    assert_eq!(found, 1, "{problems:#?}");
    let (found, problems) = read(&named, DiemOptions { scan_budget: 50, ..DiemOptions::default() }).unwrap();
    assert_eq!(found, 0);
    assert_eq!(problems.counts.get(&ProblemKind::ScanBudget), Some(&1));
}

/// A problem's example quoted what the input held, whatever its length: an access path of
/// 200 KB was quoted whole, in hex, in the example's key and message. Each field of an example
/// is cut to a bound, saying how long it was.
#[test]
fn a_problem_example_quotes_a_bounded_part_of_the_input() {
    use rehearsal::state::diem::blob::{blob_of, record_payload};
    use rehearsal::state::diem::hash::{hex, Hashes, Prefix};
    use rehearsal::state::diem::smt::RootBuilder;
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("backup");
    std::fs::create_dir_all(top.join("state")).unwrap();
    let hashes = Hashes::new(Prefix::Diem);
    // One record of a well-known account, holding one entry under a path of an unknown kind.
    let blob = blob_of(vec![(vec![7u8; 200_000], vec![0])]);
    let key = hashes.account(AccountAddress::from_u64(0x10, W).as_bytes());
    let payload = record_payload(&key, &blob);
    let mut chunk = (payload.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(&payload);
    std::fs::write(top.join("state/0-.chunk"), chunk).unwrap();
    let mut root = RootBuilder::new(hashes.clone());
    root.add(&key, &hashes.blob(&blob));
    let manifest = serde_json::json!({
        "version": 7,
        "root_hash": hex(&root.finish()),
        "chunks": [{"first_idx": 0, "last_idx": 0, "first_key": hex(&key), "last_key": hex(&key), "blobs": "state/0-.chunk"}],
    });
    std::fs::write(top.join("state/state.manifest"), manifest.to_string()).unwrap();
    let (_, problems) = read(&top, DiemOptions::default()).unwrap();
    let example = problems.examples.iter().find(|p| p.kind == ProblemKind::UnresolvedKey).unwrap();
    for (field, text) in
        [("origin", &example.origin), ("key", example.key.as_ref().unwrap()), ("message", &example.message)]
    {
        assert!(text.len() < 600, "{field}: {} bytes", text.len());
    }
    assert!(example.message.ends_with("(400026 bytes in all)"), "{}", example.message);
}

/// An account nothing names had each of its resources decoded in full to find the addresses
/// they mention, whatever their size (a 64 MiB record: gigabytes). A resource is decoded within
/// the value budget; one past it is counted and named, and its addresses are not looked for.
#[test]
fn an_unnamed_account_s_resources_are_decoded_within_the_value_budget() {
    let releases = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../stdlib/releases/v1");
    let release = releases::load(&releases, Default::default()).unwrap();
    let modules: Vec<&Module> = release.modules.iter().map(|m| &m.module).collect();
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().join("backup");
    // A vouch of 100,000 buddies, the account's own address last: 1.6 MB of bytes, about 5 MB
    // of memory decoded.
    let me = account(1);
    let mut bytes = Vec::new();
    binary_format::write_uleb(&mut bytes, 100_001);
    for n in 0..100_000u64 {
        bytes.extend_from_slice(account(1_000 + n).as_bytes());
    }
    bytes.extend_from_slice(me.as_bytes());
    bytes.extend_from_slice(&7u64.to_le_bytes());
    let vouch = StructTag::parse("0x1::Vouch::Vouch", W).unwrap();
    write_backup(
        &top,
        [(me, BackupAccount { resources: vec![(vouch, bytes)], modules: Vec::new() })],
        BackupOptions::diem(7),
    )
    .unwrap();
    let read_with = |value_budget: usize| {
        let options = DiemOptions { scan_budget: 0, ..DiemOptions::default() };
        let mut source = DiemSource::open(&top, options).unwrap();
        let context = Context { width: W, modules: &modules, value_budget };
        let mut problems = Problems::default();
        let mut n = 0u64;
        source
            .entries(
                &context,
                &mut |_| {
                    n += 1;
                    Ok(())
                },
                &mut problems,
            )
            .unwrap();
        (n, problems)
    };
    // Within a budget that holds it, its buddies name the account.
    let (found, problems) = read_with(32 << 20);
    assert_eq!((found, problems.total()), (1, 0), "{problems:#?}");
    // Past the budget: not decoded, said so, and the account is left unnamed (counted).
    let (found, problems) = read_with(1 << 20);
    assert_eq!(found, 0);
    assert_eq!(problems.counts.get(&ProblemKind::ValueBudget), Some(&1), "{problems:#?}");
    let note = problems.examples.iter().find(|p| p.kind == ProblemKind::ValueBudget).unwrap();
    assert!(note.message.starts_with("1 resources would take more than the 1048576 bytes"), "{}", note.message);
    assert!(note.message.contains("0x1::Vouch::Vouch"), "{}", note.message);
    assert_eq!(problems.counts.get(&ProblemKind::UnresolvedAccount), Some(&1));
    assert_eq!(problems.skipped_resources, 1);
}
