//! Aptos-based backups as a user hands them to the rehearsal: written with the fixture writer
//! in every variant real archives come in (both salts, plain, gzipped under the same name or
//! with `.gz`, several chunks, several snapshots), with every kind of key and value (resources,
//! modules, resource groups, table items, raw keys, values with both kinds of metadata); read
//! back record for record with the root verified; and every kind of damage real archives show
//! (a truncated chunk, a missing one, keys out of order, a wrong first key, records that do not
//! hash to the root, a proof that binds nothing, a link out of the backup) refused with a
//! one-line reason naming the file, or read as partial when asked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::{Address, ModuleId};
use migrations::{AccountAddress, StructTag};
use rehearsal::state::aptos::key::WIDTH;
use rehearsal::state::aptos::writer::{cut, write_backup, Compression, WriteOptions, WriteRecord, Written};
use rehearsal::state::aptos::{
    decode_group, encode_group, AptosBackup, AptosOptions, AptosStateKey, Metadata, RootCheck, Salt, StatePath,
};
use rehearsal::state::{Context, Format, OpenOptions, ProblemKind, Problems, StateError};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn tag(s: &str) -> StructTag {
    StructTag::parse(s, WIDTH).unwrap()
}

fn address(n: u64) -> AccountAddress {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    AccountAddress::new(&bytes).unwrap()
}

/// A state with every kind of key and value (54 records): 40 accounts with a resource each (every third
/// with V0 metadata, every fifth with V1), a resource group holding two members, three modules,
/// table items of two tables, a raw key, and an access path that reads as nothing.
fn records() -> Vec<WriteRecord> {
    let mut out = Vec::new();
    for n in 1..=40u64 {
        let metadata = match n % 15 {
            0 => Some(Metadata::V1 {
                slot_deposit: 40_000,
                bytes_deposit: n * 8,
                creation_time_usecs: 1_700_000_000_000_000 + n,
            }),
            3 | 6 | 9 | 12 => Some(Metadata::V0 { deposit: 50_000, creation_time_usecs: n }),
            _ => None,
        };
        let data = [n.to_le_bytes().as_slice(), &[n as u8; 3]].concat();
        out.push(WriteRecord {
            key: AptosStateKey::resource(address(n), tag("0x1::account::Account")),
            data,
            metadata,
        });
    }
    let (store, core) = (tag("0x1::fungible_asset::FungibleStore"), tag("0x1::object::ObjectCore"));
    let group = encode_group([(&store, &[7u8; 20][..]), (&core, &[8u8; 5][..])]).unwrap();
    out.push(WriteRecord {
        key: AptosStateKey::group(address(7), tag("0x1::object::ObjectGroup")),
        data: group,
        metadata: None,
    });
    for name in ["account", "coin", "object"] {
        out.push(WriteRecord {
            key: AptosStateKey::module(ModuleId::new(Address::from_u64(1), name)),
            data: vec![0xa1, 0x1c, 0xeb, 0x0b, 6, 0, 0, 0],
            metadata: None,
        });
    }
    for (handle, items) in [([0x11u8; 32], 5u8), ([0x22u8; 32], 3)] {
        for i in 0..items {
            let key = AptosStateKey::TableItem { handle, key: vec![i, i ^ 0x5a] };
            out.push(WriteRecord {
                key,
                data: vec![i; 9],
                metadata: Some(Metadata::V0 { deposit: 1, creation_time_usecs: 2 }),
            });
        }
    }
    out.push(WriteRecord { key: AptosStateKey::Raw(vec![1, 2, 3]), data: vec![4], metadata: None });
    let odd = AptosStateKey::AccessPath { address: address(3), path: StatePath::Unknown(vec![9, 9]) };
    out.push(WriteRecord { key: odd, data: vec![], metadata: None });
    out
}

fn options(salt: Salt, compression: Compression) -> WriteOptions {
    WriteOptions { compression, records_per_chunk: 7, ..WriteOptions::new(salt, 5_000_123) }
}

fn write(dir: &Path, salt: Salt, compression: Compression) -> Written {
    write_backup(dir, records(), options(salt, compression)).unwrap()
}

/// Records as read: key, data, metadata.
type Seen = Vec<(AptosStateKey, Vec<u8>, Option<Metadata>)>;

fn is_module(key: &AptosStateKey) -> bool {
    matches!(key, AptosStateKey::AccessPath { path: StatePath::Code(_), .. })
}

/// Every record as read. Every backup read so is also verified on three threads, chunk by chunk
/// (7 records a chunk: several chunks each): the same summary or the same first error, and the
/// same modules kept, as one thread's pass.
fn read_all(path: &Path, o: &AptosOptions) -> Result<(Seen, AptosBackup), StateError> {
    let mut modules = Vec::new();
    let one = AptosBackup::open(path, o).and_then(|mut b| {
        b.visit(&mut |r| {
            if is_module(r.key) {
                modules.push((r.key.clone(), r.value.to_vec(), r.origin.to_string()));
            }
            Ok(())
        })
    });
    // With the default memory, and with none (each reader waits for its chunk's turn).
    for memory in [0, 1] {
        let mut kept = Vec::new();
        let many = AptosBackup::open(path, &AptosOptions { threads: 3, memory, ..*o }).and_then(|mut b| {
            b.visit_on_threads(3, &is_module, usize::MAX, &mut |r| {
                kept.push((r.key.clone(), r.value.to_vec(), r.origin.to_string()));
                Ok(())
            })
        });
        assert_eq!(format!("{many:?}"), format!("{one:?}"), "three threads against one, memory {memory}");
        assert_eq!(kept, modules);
    }
    let mut backup = AptosBackup::open(path, o)?;
    let mut seen = Vec::new();
    let mut hashes = Vec::new();
    backup.visit(&mut |r| {
        seen.push((r.key.clone(), r.value.to_vec(), r.metadata.copied()));
        hashes.push(r.key_hash);
        Ok(())
    })?;
    assert!(hashes.windows(2).all(|w| w[0] < w[1]), "records come in key-hash order");
    Ok((seen, backup))
}

fn sorted(mut v: Seen) -> Seen {
    v.sort();
    v
}

fn expected() -> Seen {
    sorted(records().into_iter().map(|r| (r.key, r.data, r.metadata)).collect())
}

/// An error is one line, names `file`, and says each of `needles`.
fn refused(e: &StateError, file: &Path, needles: &[&str]) {
    let text = e.to_string();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(&file.display().to_string()), "{file:?} not in {text}");
    for n in needles {
        assert!(text.contains(n), "{n:?} not in {text}");
    }
    assert!(e.is_bad_input(), "{text}");
}

#[test]
fn both_salts_plain_and_gzipped_read_back_record_for_record_with_the_root_verified() {
    for salt in Salt::ALL {
        for compression in [Compression::Plain, Compression::Gzip, Compression::GzipSuffix] {
            let dir = tempfile::tempdir().unwrap();
            let w = write(dir.path(), salt, compression);
            assert!(w.chunks.len() > 5, "several chunks");
            let folder = w.folder.clone();
            // The top directory, the snapshot folder and the manifest all name the backup.
            for path in [dir.path(), folder.as_path(), w.manifest.as_path()] {
                let (seen, backup) = read_all(path, &AptosOptions::default()).unwrap();
                assert_eq!(sorted(seen), expected(), "{salt} {compression:?} {path:?}");
                let info = backup.info();
                assert_eq!((info.salt, info.version, info.records, info.chunks), (salt, 5_000_123, 54, w.chunks.len()));
                let s = backup.summary().unwrap();
                assert_eq!(s.root, RootCheck::Verified);
                assert!(!s.partial);
                let k = s.kinds;
                assert_eq!(
                    (k.resources, k.resource_groups, k.modules, k.table_items, k.raw, k.unknown_paths),
                    (40, 1, 3, 8, 1, 1)
                );
                // Resources 3, 6, 9, 12, 18, ... with V0, 15 and 30 with V1; every table item.
                assert_eq!(k.with_metadata, 11 + 2 + 8);
                let checks = backup.checks();
                assert!(
                    checks.verified.iter().any(|c| c.contains("the state root: recomputed over every record")),
                    "{checks:?}"
                );
                assert!(checks.verified.iter().any(|c| c.starts_with("state.proof")), "{checks:?}");
                assert!(checks.not_verified.iter().any(|c| c.contains("signatures")), "{checks:?}");
            }
            // Detected as an Aptos-based backup from the directory and from the manifest.
            for path in [dir.path(), w.manifest.as_path()] {
                assert_eq!(rehearsal::state::detect::format_of(path).unwrap(), Format::AptosBackup, "{path:?}");
            }
        }
    }
}

#[test]
fn a_groups_members_decode_from_the_record_and_metadata_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), Salt::Diem, Compression::Gzip);
    let mut backup = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap();
    let mut members = Vec::new();
    let mut v1 = 0;
    backup
        .visit(&mut |r| {
            if let AptosStateKey::AccessPath { path: StatePath::ResourceGroup(t), .. } = r.key {
                assert_eq!(t.to_string(), "0x1::object::ObjectGroup");
                members =
                    decode_group(r.value).unwrap().into_iter().map(|m| (m.tag.to_string(), m.bytes.len())).collect();
            }
            if let Some(Metadata::V1 { slot_deposit, .. }) = r.metadata {
                assert_eq!(*slot_deposit, 40_000);
                v1 += 1;
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(
        members,
        [("0x1::object::ObjectCore".to_owned(), 5), ("0x1::fungible_asset::FungibleStore".to_owned(), 20)]
    );
    assert_eq!(v1, 2);
}

#[test]
fn the_newest_snapshot_is_read_unless_a_version_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for version in [10u64, 30, 20] {
        write_backup(dir.path(), records(), WriteOptions::new(Salt::Aptos, version)).unwrap();
    }
    let version = |o: AptosOptions| AptosBackup::open(dir.path(), &o).map(|b| b.info().version);
    assert_eq!(version(AptosOptions::default()).unwrap(), 30);
    assert_eq!(version(AptosOptions { version: Some(10), ..Default::default() }).unwrap(), 10);
    let e = version(AptosOptions { version: Some(15), ..Default::default() }).unwrap_err();
    refused(&e, dir.path(), &["no state snapshot at version 15", "30, 20, 10"]);
}

/// The chunk files of a backup's snapshot, and the manifest as JSON.
fn manifest_json(w: &Written) -> Value {
    serde_json::from_slice(&std::fs::read(&w.manifest).unwrap()).unwrap()
}

#[test]
fn a_truncated_chunk_is_refused_or_read_as_partial() {
    for compression in [Compression::Gzip, Compression::Plain] {
        let dir = tempfile::tempdir().unwrap();
        let w = write(dir.path(), Salt::Aptos, compression);
        let chunk = w.chunks[2].clone();
        let len = std::fs::metadata(&chunk).unwrap().len();
        // A gzip stream without its end; a plain chunk with its last record cut.
        cut(&chunk, len - 12).unwrap();
        let e = read_all(dir.path(), &AptosOptions::default()).unwrap_err();
        refused(&e, &chunk, &["of 7 records read", "incomplete", "--allow-partial"]);

        let (seen, backup) = read_all(dir.path(), &AptosOptions { allow_partial: true, ..Default::default() }).unwrap();
        let s = backup.summary().unwrap();
        assert!(s.partial && seen.len() < 54 && seen.len() >= 47, "{} records", seen.len());
        assert_eq!(s.records, seen.len() as u64);
        assert_eq!(s.incomplete_chunks, 1);
        assert_eq!(s.incomplete[0].file, chunk);
        assert!(
            matches!(&s.root, RootCheck::NotVerified { reason } if reason.contains("1 of 8 chunks")),
            "{:?}",
            s.root
        );
        let checks = backup.checks();
        assert!(checks.not_verified.iter().any(|c| c.contains("the state root: not verified")), "{checks:?}");
        // What was read is what was written.
        let all = expected();
        assert!(seen.iter().all(|r| all.contains(r)));
    }
}

#[test]
fn a_chunk_that_ends_between_records_early_or_is_missing_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let w = write(dir.path(), Salt::Diem, Compression::Plain);
    // Keep the first record of chunk 1 only: the file ends cleanly, with fewer records.
    let chunk = w.chunks[1].clone();
    let bytes = std::fs::read(&chunk).unwrap();
    let first = 4 + u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    std::fs::write(&chunk, &bytes[..first]).unwrap();
    let e = read_all(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &chunk, &["the chunk ends after 1 records, the manifest says 7"]);
    let partial = AptosOptions { allow_partial: true, ..Default::default() };
    assert_eq!(read_all(dir.path(), &partial).unwrap().0.len(), 48);

    // A missing chunk file.
    std::fs::remove_file(&w.chunks[4]).unwrap();
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.manifest, &["28-.chunk", "--allow-partial"]);
    let (seen, backup) = read_all(dir.path(), &partial).unwrap();
    assert_eq!(seen.len(), 41);
    assert_eq!(backup.info().missing_chunks.len(), 1);
    assert_eq!(backup.summary().unwrap().incomplete_chunks, 2);
}

/// A record whose length asks for more than its file holds (a plain chunk, whose size is
/// known), more than the reader's limit (a gzipped one, read as a stream), or 512 MiB of a
/// stream of a few hundred bytes, is refused naming its chunk and the record's place, on one
/// thread and on three alike (`read_all` checks the threads' error is the one thread's), and
/// without reading or holding what it asks for.
#[test]
fn a_record_asking_past_its_file_or_the_limit_is_refused_on_any_number_of_threads() {
    use std::io::Write as _;
    for (asked, gzipped, needles) in [
        (u32::MAX, false, &["a record of 4294967295 bytes runs past the end of the file"][..]),
        (u32::MAX, true, &["a record of 4294967295 bytes, more than the limit"][..]),
        (1 << 29, true, &["truncated: a record of 536870912 bytes"][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let w = write(dir.path(), Salt::Aptos, Compression::Plain);
        // The third record of the fourth chunk: not where any thread starts.
        let chunk = w.chunks[3].clone();
        let mut bytes = std::fs::read(&chunk).unwrap();
        let mut at = 0usize;
        for _ in 0..2 {
            at += 4 + u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        }
        bytes[at..at + 4].copy_from_slice(&asked.to_be_bytes());
        if gzipped {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&bytes).unwrap();
            bytes = gz.finish().unwrap();
        }
        std::fs::write(&chunk, &bytes).unwrap();
        let e = read_all(dir.path(), &AptosOptions::default()).unwrap_err();
        refused(&e, &chunk, needles);
        assert!(e.to_string().contains(&format!("at byte {at}:")), "{e}");
    }
}

/// The records of a plain chunk file, framed.
fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let n = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(bytes[at..at + 4 + n].to_vec());
        at += 4 + n;
    }
    out
}

#[test]
fn keys_out_of_order_a_wrong_first_key_and_records_off_the_root_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = write(dir.path(), Salt::Aptos, Compression::Plain);
    let chunk = w.chunks[3].clone();
    let original = std::fs::read(&chunk).unwrap();
    let mut f = frames(&original);
    f.swap(2, 3);
    std::fs::write(&chunk, f.concat()).unwrap();
    let e = read_all(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &chunk, &["keys out of order: record 24"]);
    std::fs::write(&chunk, &original).unwrap();

    // One byte of a value changed: the records no longer hash to the root.
    let mut changed = original.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    std::fs::write(&chunk, &changed).unwrap();
    let e = read_all(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.manifest, &["state root mismatch", &rehearsal::state::diem::hash::hex(&w.root)]);
    std::fs::write(&chunk, &original).unwrap();

    // The manifest's first key of a chunk other than the first.
    let manifest = std::fs::read(&w.manifest).unwrap();
    let mut json = manifest_json(&w);
    let last_key = json["chunks"][3]["last_key"].clone();
    json["chunks"][3]["first_key"] = last_key;
    std::fs::write(&w.manifest, serde_json::to_vec(&json).unwrap()).unwrap();
    let e = read_all(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.manifest, &["21-.chunk", "first record's key hashes to"]);

    // The first chunk's first key: no salt explains it.
    std::fs::write(&w.manifest, &manifest).unwrap();
    let mut json = manifest_json(&w);
    json["chunks"][0]["first_key"] = Value::String("00".repeat(32));
    std::fs::write(&w.manifest, serde_json::to_vec(&json).unwrap()).unwrap();
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.manifest, &["under APTOS::", "under DIEM::", "with a known salt"]);
}

#[test]
fn a_root_the_proof_does_not_bind_and_a_damaged_proof_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = write(dir.path(), Salt::Diem, Compression::Plain);
    let mut json = manifest_json(&w);
    json["root_hash"] = Value::String("ab".repeat(32));
    let original = std::fs::read(&w.manifest).unwrap();
    std::fs::write(&w.manifest, serde_json::to_vec(&json).unwrap()).unwrap();
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.state_proof, &["does not bind the manifest's root", "state checkpoint hash"]);
    std::fs::write(&w.manifest, original).unwrap();

    // A sibling changed: the transaction info folds elsewhere.
    let proof = std::fs::read(&w.state_proof).unwrap();
    let mut bad = proof.clone();
    bad[5] ^= 0x80;
    std::fs::write(&w.state_proof, &bad).unwrap();
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.state_proof, &["folds with its"]);
    // Cut short: not a proof.
    std::fs::write(&w.state_proof, &proof[..proof.len() / 2]).unwrap();
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.state_proof, &["not a state proof"]);
    // Missing: refused, or read as partial with the root bound to nothing.
    std::fs::remove_file(&w.state_proof).unwrap();
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.manifest, &["state.proof", "not there"]);
    let (_, backup) = read_all(dir.path(), &AptosOptions { allow_partial: true, ..Default::default() }).unwrap();
    assert!(backup.checks().not_verified.iter().any(|c| c.starts_with("state.proof: missing")));
}

#[cfg(unix)]
#[test]
fn a_link_inside_the_backup_is_followed_and_one_out_of_it_refused() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let w = write(dir.path(), Salt::Aptos, Compression::Plain);
    let chunk = w.chunks[0].clone();
    // Inside: the chunk moved to a sibling folder of the backup and linked.
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    std::fs::rename(&chunk, store.join("c")).unwrap();
    symlink(store.join("c"), &chunk).unwrap();
    assert_eq!(read_all(dir.path(), &AptosOptions::default()).unwrap().0.len(), 54);
    // Outside.
    std::fs::rename(store.join("c"), outside.path().join("c")).unwrap();
    std::fs::remove_file(&chunk).unwrap();
    symlink(outside.path().join("c"), &chunk).unwrap();
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &chunk, &["leads out of the backup"]);
    // A manifest handle with `..` is refused before anything is opened.
    let mut json = manifest_json(&w);
    json["chunks"][1]["blobs"] = Value::String("../x".into());
    std::fs::write(&w.manifest, serde_json::to_vec(&json).unwrap()).unwrap();
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, &w.manifest, &["not a relative path inside the backup"]);
}

/// As a rehearsal's source, every record is a canonical entry (resources, groups, modules, table
/// items, raw keys), its metadata the entry's extra; only unreadable access paths are counted.
#[test]
fn as_a_state_source_every_record_is_an_entry_and_unreadable_paths_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), Salt::Diem, Compression::GzipSuffix);
    let (format, mut source) = rehearsal::state::open(dir.path(), OpenOptions::default()).unwrap();
    assert_eq!(format, Format::AptosBackup);
    let mut modules = 0;
    source
        .modules(&mut |_| {
            modules += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(modules, 3);
    let mut kinds: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    let mut with_extra = 0;
    let mut problems = Problems::default();
    let context = Context { width: WIDTH, modules: &[], value_budget: 16 << 20 };
    source
        .entries(
            &context,
            &mut |e| {
                let key = migrations::StateKey::decode(e.key, WIDTH).unwrap();
                if let migrations::StateKey::Resource { tag, .. } = &key {
                    assert_eq!(tag.to_string(), "0x1::account::Account");
                }
                *kinds.entry(format!("{:?}", key.kind()).leak()).or_default() += 1;
                with_extra += usize::from(!e.extra.is_empty());
                Ok(())
            },
            &mut problems,
        )
        .unwrap();
    let expected = [("Group", 1), ("Module", 3), ("Raw", 1), ("Resource", 40), ("TableItem", 8)];
    assert_eq!(kinds, expected.into_iter().collect());
    assert_eq!(with_extra, 21, "every value with metadata carries it");
    assert_eq!(problems.counts.get(&ProblemKind::NotYetRehearsed), Some(&1), "the one unreadable path");
    assert_eq!(problems.skipped_resources, 1);
    let info = source.info();
    assert_eq!(info.format, "aptos-backup");
    assert!(info.chain_root.as_ref().unwrap().verified);
    assert!(info.detail.contains("DIEM:: hashes") && info.detail.contains("8 table items"), "{}", info.detail);
}

/// What a state source hands on of a backup: every entry (key, value, extra, where it was
/// read) and the problems, with or without a modules' pass first (which verifies the records,
/// so the entries' pass does not).
fn handed(path: &Path, aptos: AptosOptions, modules_first: bool) -> String {
    let open = OpenOptions { aptos, ..Default::default() };
    let (_, mut source) = rehearsal::state::open(path, open).unwrap();
    if modules_first {
        source.modules(&mut |_| Ok(())).unwrap();
    }
    let mut entries = Vec::new();
    let mut problems = Problems::default();
    let context = Context { width: WIDTH, modules: &[], value_budget: 16 << 20 };
    let result = source.entries(
        &context,
        &mut |e| {
            entries.push(format!("{:?} {:?} {:?} {}", e.key, e.value, e.extra, e.origin));
            Ok(())
        },
        &mut problems,
    );
    format!("{result:?} {entries:?} {problems:?} {:?}", source.info())
}

/// The entries' pass verifies the records as it hands them on when nothing verified them
/// before, on one thread or many, within any memory: the same entries, problems and root,
/// on a sound backup and on a partial one.
#[test]
fn a_state_source_hands_the_same_entries_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let w = write(dir.path(), Salt::Aptos, Compression::Gzip);
    let partial = tempfile::tempdir().unwrap();
    let cut_one = write(partial.path(), Salt::Aptos, Compression::Gzip);
    let chunk: PathBuf = cut_one.chunks[3].clone();
    cut(&chunk, std::fs::metadata(&chunk).unwrap().len() / 2).unwrap();
    assert!(w.chunks.len() > 3);
    for (path, allow_partial) in [(dir.path(), false), (partial.path(), true)] {
        let base = AptosOptions { allow_partial, ..Default::default() };
        let one = handed(path, base, false);
        assert!(one.starts_with("Ok(())"), "{one}");
        for (threads, memory, modules_first) in [(1, 0, true), (3, 0, false), (3, 1, false), (3, 0, true), (2, 1, true)]
        {
            let many = handed(path, AptosOptions { threads, memory, ..base }, modules_first);
            assert_eq!(many, one, "{threads} threads, memory {memory}, modules first: {modules_first}");
        }
    }
}

/// Chunks larger than a reader's batch (a real backup's hold up to 128 MiB): handed on batch by
/// batch on many threads, in any memory, every record and the root as on one thread.
#[test]
fn chunks_larger_than_a_batch_are_handed_on_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let account = tag("0x1::account::Account");
    let records = (0..12_000u64).map(|n| WriteRecord {
        key: AptosStateKey::resource(address(n), account.clone()),
        data: vec![(n % 251) as u8; 90 + (n % 17) as usize],
        metadata: n.is_multiple_of(4).then_some(Metadata::V0 { deposit: n, creation_time_usecs: 3 }),
    });
    let options =
        WriteOptions { compression: Compression::Gzip, records_per_chunk: 5_000, ..WriteOptions::new(Salt::Aptos, 9) };
    write_backup(dir.path(), records, options).unwrap();
    let all = |r: rehearsal::state::aptos::AptosRecord<'_>, into: &mut Vec<String>| {
        into.push(format!("{} {:?} {:?} {}", r.key, r.value, r.metadata, r.origin));
        Ok(())
    };
    let mut one = Vec::new();
    let summary =
        AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap().visit(&mut |r| all(r, &mut one)).unwrap();
    assert_eq!(one.len(), 12_000);
    for memory in [0, 1, 300_000] {
        let mut many = Vec::new();
        let o = AptosOptions { threads: 3, memory, ..Default::default() };
        let mut backup = AptosBackup::open(dir.path(), &o).unwrap();
        let got = backup.visit_on_threads(3, &|_| true, usize::MAX, &mut |r| all(r, &mut many)).unwrap();
        assert_eq!(got, summary, "memory {memory}");
        assert!(many == one, "memory {memory}: the records differ");
        // Again, the root now verified: the records alone.
        many.clear();
        backup.visit_on_threads(2, &|_| true, usize::MAX, &mut |r| all(r, &mut many)).unwrap();
        assert!(many == one, "memory {memory}, verified: the records differ");
    }
}

#[test]
fn a_partial_backup_as_a_state_source_is_never_complete() {
    let dir = tempfile::tempdir().unwrap();
    let w = write(dir.path(), Salt::Aptos, Compression::Gzip);
    let chunk: PathBuf = w.chunks[5].clone();
    let len = std::fs::metadata(&chunk).unwrap().len();
    cut(&chunk, len / 2).unwrap();
    let open = OpenOptions { aptos: AptosOptions { allow_partial: true, ..Default::default() }, ..Default::default() };
    let (_, mut source) = rehearsal::state::open(dir.path(), open).unwrap();
    let mut problems = Problems::default();
    let context = Context { width: WIDTH, modules: &[], value_budget: 16 << 20 };
    source.entries(&context, &mut |_| Ok(()), &mut problems).unwrap();
    assert_eq!(problems.counts.get(&ProblemKind::Incomplete), Some(&1));
    assert!(problems.examples.iter().any(|p| p.origin.contains("35-.chunk")), "{problems:?}");
    assert!(!source.info().chain_root.unwrap().verified);
    assert!(rehearsal::state::open(dir.path(), OpenOptions::default()).is_ok(), "opening reads only the first record");
}

/// Diem-era backups (their metadata names snapshots too, without an epoch) stay Diem's.
#[test]
fn detection_tells_diem_era_backups_from_aptos_based_ones() {
    use rehearsal::state::diem::writer::{write_backup as write_diem, BackupAccount, BackupOptions};
    let dir = tempfile::tempdir().unwrap();
    let account = AccountAddress::from_u64(5, binary_format::AddressLength::Bytes16);
    let resource = StructTag::parse("0x1::M::S", binary_format::AddressLength::Bytes16).unwrap();
    let accounts = [(account, BackupAccount { resources: vec![(resource, vec![1])], modules: vec![] })];
    let w = write_diem(dir.path(), accounts, BackupOptions::diem(3)).unwrap();
    for path in [dir.path(), w.manifest.as_path()] {
        assert_eq!(rehearsal::state::detect::format_of(path).unwrap(), Format::DiemBackup, "{path:?}");
    }
    let e = AptosBackup::open(dir.path(), &AptosOptions::default()).unwrap_err();
    refused(&e, dir.path(), &["no state snapshot here"]);
}
