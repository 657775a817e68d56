//! The checks behind the fuzz targets of the Aptos backup reader, shared with the seed writer
//! and the corpus test.
//!
//! Contracts (`rehearsal::state::aptos`): bytes from a backup are untrusted, so arbitrary input
//! never panics a reader, never makes it allocate more than a bounded multiple of what the
//! input holds, and every error is one line (naming the file where there is one, at an offset
//! inside the input where there is one). What parses keeps its promises:
//! - a manifest numbers its records from 0 without gap, orders its keys, and names files inside
//!   the backup;
//! - a record written back is byte for byte the record read (keys, values and metadata are kept
//!   whole), its key hashes the same from the bytes read and from the typed key, and the records
//!   of a chunk written as a backup with the fixture writer read back equal, root verified;
//! - a resource group's value encodes back to the same bytes;
//! - a state proof is checked against any root without panicking.
//!
//! Allocation is measured by the counting global allocator of `fuzz-support`: the peak of live
//! heap bytes during one call, over what was live before it, must stay under `factor × input +
//! slack`, a [`Budget`] per target (the counters are process-wide: the corpus test runs its
//! targets on one thread at a time).
//! A gzipped chunk unpacks to at most ~1,032 times its size (deflate's bound), hence its factor.
//!
//! The chunk reader takes a path, so each input is written to one scratch file per thread (in
//! the temporary directory, named with the pid), overwritten on every run and removed when the
//! thread ends.

use fuzz_support::{measured, Budget};
use rehearsal::state::aptos::hash::{Hashes, Salt};
use rehearsal::state::aptos::manifest::{safe_relative, Manifest};
use rehearsal::state::aptos::proof::parse_state_proof;
use rehearsal::state::aptos::record::{parse_record, record_payload};
use rehearsal::state::aptos::writer::{write_backup, Compression, WriteOptions, WriteRecord};
use rehearsal::state::aptos::{decode_group, encode_group, AptosBackup, AptosOptions, RootCheck};
use rehearsal::state::diem::chunk::ChunkReader;
use rehearsal::state::StateError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Manifests: serde's strings and the chunk list hold a few times the text.
pub const MANIFEST_BUDGET: Budget = Budget { factor: 16, slack: 256 << 10 };
/// Chunks: two 1 MiB read buffers and gzip's window, plus one record unpacked (up to 1,032
/// bytes per gzipped input byte) and its typed key.
pub const CHUNK_BUDGET: Budget = Budget { factor: 1_100 * 4, slack: 3 << 20 };
/// Groups: the members' tags (owned names) and slices.
pub const GROUP_BUDGET: Budget = Budget { factor: 64, slack: 64 << 10 };
/// Proofs: at most 63 siblings and the transaction info's bytes.
pub const PROOF_BUDGET: Budget = Budget { factor: 4, slack: 64 << 10 };

/// An error is one line and, where it is about a file, names it.
pub fn check_error(e: &StateError, file: Option<&Path>, what: &str) {
    let message = e.to_string();
    assert!(!message.contains('\n') && !message.contains('\r'), "{what}: a multi-line error: {message:?}");
    if let Some(f) = file {
        assert!(message.contains(&f.display().to_string()), "{what}: the error does not name {f:?}: {message}");
    }
    assert!(e.is_bad_input(), "{what}: bad input reported as a failure of the machine: {message}");
}

/// A thread's scratch directory, removed with everything in it when the thread ends (a test's
/// thread ends with the test; a fuzzing process's main thread may leave its one directory).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The scratch directory of this thread.
fn scratch() -> PathBuf {
    static THREADS: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static DIR: Scratch = {
            let n = THREADS.fetch_add(1, Ordering::Relaxed);
            Scratch(std::env::temp_dir().join(format!("rehearsal-fuzz-{}-{n}", std::process::id())))
        };
    }
    DIR.with(|d| {
        std::fs::create_dir_all(&d.0).unwrap_or_else(|e| panic!("cannot create {}: {e}", d.0.display()));
        d.0.clone()
    })
}

/// The `aptos_manifest` target.
pub fn check_manifest(data: &[u8]) -> Option<Manifest> {
    let path = Path::new("fuzz/state.manifest");
    let (parsed, peak) = measured(|| Manifest::parse(data, path));
    MANIFEST_BUDGET.check(data, peak, "Manifest::parse");
    let m = match parsed {
        Ok(m) => m,
        Err(e) => {
            check_error(&e, Some(path), "Manifest::parse");
            return None;
        }
    };
    assert!(Manifest::is_aptos_bytes(data), "a manifest that parsed is not told apart from a Diem-era one");
    let mut next = 0u64;
    for (i, c) in m.chunks.iter().enumerate() {
        assert_eq!(c.first_idx, next, "chunk {i} does not follow the one before it");
        assert!(c.first_idx <= c.last_idx && c.first_key <= c.last_key, "chunk {i} is reversed");
        if let Some(before) = i.checked_sub(1).and_then(|b| m.chunks.get(b)) {
            assert!(before.last_key < c.first_key, "chunk {i}'s keys overlap the one before it");
        }
        assert!(safe_relative(&c.blobs).is_some() && safe_relative(&c.proof).is_some(), "chunk {i}: an unsafe handle");
        next = c.last_idx.saturating_add(1);
    }
    assert!(safe_relative(&m.proof).is_some(), "an unsafe proof handle");
    assert_eq!(m.records(), next);
    Some(m)
}

/// The `aptos_group` target: the members, when the value decodes.
pub fn check_group(data: &[u8]) -> Option<usize> {
    let (decoded, peak) = measured(|| decode_group(data).map(|m| m.len()));
    GROUP_BUDGET.check(data, peak, "decode_group");
    let members = match decoded {
        Ok(_) => decode_group(data).unwrap_or_else(|e| panic!("a group decoded once and not twice: {e}")),
        Err(e) => {
            assert!(e.offset <= data.len(), "an error past the input: {e}");
            assert!(!e.to_string().contains('\n'));
            return None;
        }
    };
    let back = encode_group(members.iter().map(|m| (&m.tag, m.bytes)))
        .unwrap_or_else(|e| panic!("a decoded group does not encode: {e}"));
    assert_eq!(back, data, "encode(decode(group)) is not the group");
    Some(members.len())
}

/// The `aptos_proof` target: the ledger version, when the proof parses.
pub fn check_proof(data: &[u8]) -> Option<u64> {
    let (parsed, peak) = measured(|| parse_state_proof(data));
    PROOF_BUDGET.check(data, peak, "parse_state_proof");
    let p = match parsed {
        Ok(p) => p,
        Err(e) => {
            assert!(e.offset <= data.len(), "an error past the input: {e}");
            return None;
        }
    };
    assert!(p.siblings.len() <= 63);
    let at = 1 + 33 * p.siblings.len();
    assert_eq!(data.get(at..at + p.transaction_info.len()), Some(p.transaction_info.as_slice()), "the info's bytes");
    for salt in Salt::ALL {
        let h = Hashes::new(salt);
        let root = p.state_checkpoint_hash.unwrap_or([0; 32]);
        let _ = p.verify(&h, p.ledger.version, &root);
        let _ = p.verify(&h, u64::MAX, &root);
    }
    Some(p.ledger.version)
}

/// Reads `path` as a chunk: the records that parse (each checked to write back), until the
/// first error (checked, and returned).
fn read_chunk(path: &Path) -> (Vec<WriteRecord>, Option<StateError>) {
    let mut reader = match ChunkReader::open(path) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let (a, d) = (Hashes::new(Salt::Aptos), Hashes::new(Salt::Diem));
    loop {
        match reader.next(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
        let Ok(r) = parse_record(&buf) else { continue };
        let again = record_payload(&r.key, r.value.data, r.value.metadata.as_ref());
        assert_eq!(again, buf, "a record written back is not the record read: {}", r.key);
        for h in [&a, &d] {
            assert_eq!(r.encoding.hash(h), r.key.hash(h), "the key hashes apart as read and as typed: {}", r.key);
        }
        out.push(WriteRecord { key: r.key, data: r.value.data.to_vec(), metadata: r.value.metadata });
    }
}

/// The `aptos_chunk` target: the records that parse.
pub fn check_chunk(data: &[u8]) -> Option<usize> {
    let dir = scratch();
    let path = dir.join("0-.chunk");
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let ((records, error), peak) = measured(|| read_chunk(&path));
    CHUNK_BUDGET.check(data, peak, "the chunk reader");
    if let Some(e) = &error {
        check_error(e, Some(&path), "the chunk reader");
    }
    if records.is_empty() {
        return None;
    }
    // The records, as a backup of their own, read back equal with the root verified (unless
    // two share a key, which the writer refuses).
    let top = dir.join("backup");
    let _ = std::fs::remove_dir_all(&top);
    let salt = if data.len().is_multiple_of(2) { Salt::Aptos } else { Salt::Diem };
    let compression = if data.len().is_multiple_of(3) { Compression::Gzip } else { Compression::Plain };
    let options = WriteOptions { compression, records_per_chunk: 3, ..WriteOptions::new(salt, data.len() as u64) };
    let mut expected: Vec<(String, Vec<u8>, String)> =
        records.iter().map(|r| (format!("{:?}", r.key), r.data.clone(), format!("{:?}", r.metadata))).collect();
    let n = records.len();
    let Ok(written) = write_backup(&top, records, options) else {
        return Some(n);
    };
    let mut backup = AptosBackup::open(&top, &AptosOptions::default())
        .unwrap_or_else(|e| panic!("a backup the writer wrote does not open: {e}"));
    let mut seen = Vec::new();
    let summary = backup
        .visit(&mut |r| {
            seen.push((format!("{:?}", r.key), r.value.to_vec(), format!("{:?}", r.metadata.copied())));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("a backup the writer wrote does not read: {e}"));
    assert_eq!(summary.root, RootCheck::Verified);
    assert_eq!((summary.records, backup.info().salt), (written.records, salt));
    expected.sort();
    seen.sort();
    assert_eq!(seen, expected, "the records read back are not the records written");
    Some(n)
}

/// Release containers: the framing is walked before anything is built, so what is decoded is
/// the modules' bytes once more, and a name and a vector per module (a 6-byte entry once cost
/// about 350 bytes).
pub const CONTAINER_BUDGET: Budget = Budget { factor: 64, slack: 256 << 10 };

/// The `containers` target: a release container (module bundle, Aptos release bundle, Sui
/// package snapshot) decoded from arbitrary bytes. No panic, bounded allocation, a one-line
/// reason when it is none; what decodes holds only modules (each starting with the Move magic),
/// and a bundle encodes back to the bytes read.
pub fn check_container(data: &[u8]) -> Option<usize> {
    use releases::containers::{decode, encode_bundle, ContainerKind};
    let (result, peak) = measured(|| decode(data));
    CONTAINER_BUDGET.check(data, peak, "the container reader");
    match result {
        Ok((kind, found)) => {
            for (name, module) in &found {
                assert!(module.starts_with(&binary_format::version::MAGIC), "{name}: not a module");
            }
            if kind == ContainerKind::Bundle {
                let modules: Vec<Vec<u8>> = found.iter().map(|(_, m)| m.clone()).collect();
                assert_eq!(encode_bundle(&modules), data, "a bundle does not encode back to its bytes");
            }
            Some(found.len())
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.contains('\n') && !message.contains('\r'), "a multi-line reason: {message:?}");
            None
        }
    }
}

/// JSON Lines states: a line is held whole (at most 64 MiB; here the input's length), its JSON
/// value borrowed from it where it can be, its hex decoded once; gzip unpacks to at most ~1,032
/// bytes per input byte. A value is never decoded against a layout here (no release is given).
pub const JSONL_BUDGET: Budget = Budget { factor: 1_100 * 8, slack: 4 << 20 };

/// The `jsonl` target: the entries a JSON Lines state yields (plain or gzipped), every problem
/// counted, no panic, bounded allocation, one-line errors naming the file; each entry's key is
/// a canonical state key of the width read with.
pub fn check_jsonl(data: &[u8]) -> Option<usize> {
    use binary_format::AddressLength;
    use rehearsal::state::jsonl::JsonlSource;
    use rehearsal::state::{Context, Problems, StateSource};
    let path = scratch().join("state.jsonl");
    std::fs::write(&path, data).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let width = if data.len().is_multiple_of(2) { AddressLength::Bytes32 } else { AddressLength::Bytes16 };
    let ((entries, error), peak) = measured(|| {
        let mut source = match JsonlSource::open(&path) {
            Ok(s) => s,
            Err(e) => return (0, Some(e)),
        };
        let context = Context { width, modules: &[], value_budget: 1 << 20 };
        let mut problems = Problems::default();
        let mut n = 0usize;
        let result = source.entries(
            &context,
            &mut |e| {
                let key = migrations::StateKey::decode(e.key, width)
                    .unwrap_or_else(|err| panic!("an entry's key is not a canonical state key: {err}"));
                assert_eq!(key.encode(), e.key, "an entry's key does not encode back to itself");
                n += 1;
                Ok(())
            },
            &mut problems,
        );
        let _ = source.table_types();
        (n, result.err())
    });
    JSONL_BUDGET.check(data, peak, "the JSON Lines reader");
    if let Some(e) = &error {
        check_error(e, Some(&path), "the JSON Lines reader");
    }
    (entries > 0).then_some(entries)
}

/// Seed inputs of every target, from backups the fixture writer makes of a state with every
/// kind of key and value: `(target, name, bytes)`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use migrations::{AccountAddress, StructTag};
    use rehearsal::state::aptos::key::WIDTH;
    use rehearsal::state::aptos::{AptosStateKey, Metadata, StatePath};
    let tag = |s: &str| StructTag::parse(s, WIDTH).unwrap_or_else(|e| panic!("{s}: {e}"));
    let (store, core) =
        (tag("0x1::fungible_asset::FungibleStore<u8, vector<0x1::a::B>>"), tag("0x1::object::ObjectCore"));
    let groups = [
        encode_group([(&store, &[7u8; 12][..]), (&core, &[8u8; 3][..])]).unwrap_or_default(),
        encode_group([(&core, &[][..])]).unwrap_or_default(),
        vec![0],
    ];
    let mut records = Vec::new();
    for n in 1..=6u64 {
        let address = AccountAddress::from_u64(n * 0x1_0001, WIDTH);
        let metadata = match n % 3 {
            0 => None,
            1 => Some(Metadata::V0 { deposit: n, creation_time_usecs: 7 }),
            _ => Some(Metadata::V1 { slot_deposit: n, bytes_deposit: 2, creation_time_usecs: 9 }),
        };
        records.push(WriteRecord {
            key: AptosStateKey::resource(address, tag("0x1::account::Account")),
            data: vec![n as u8; 5],
            metadata,
        });
    }
    records.push(WriteRecord {
        key: AptosStateKey::group(AccountAddress::from_u64(5, WIDTH), tag("0x1::object::ObjectGroup")),
        data: groups[0].clone(),
        metadata: None,
    });
    records.push(WriteRecord {
        key: AptosStateKey::module(binary_format::ModuleId::new(binary_format::Address::from_u64(1), "coin")),
        data: vec![0xa1, 0x1c, 0xeb, 0x0b, 6, 0, 0, 0],
        metadata: None,
    });
    records.push(WriteRecord {
        key: AptosStateKey::TableItem { handle: [3; 32], key: vec![1, 2] },
        data: vec![9; 4],
        metadata: None,
    });
    records.push(WriteRecord { key: AptosStateKey::Raw(vec![5]), data: vec![], metadata: None });
    let odd =
        AptosStateKey::AccessPath { address: AccountAddress::from_u64(9, WIDTH), path: StatePath::Unknown(vec![7]) };
    records.push(WriteRecord { key: odd, data: vec![1], metadata: None });

    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    for (i, g) in groups.into_iter().enumerate() {
        out.push(("aptos_group", format!("group-{i}"), g));
    }
    let dir = scratch().join("seeds");
    for (salt, compression, per_chunk) in [
        (Salt::Aptos, Compression::Plain, 4),
        (Salt::Diem, Compression::Gzip, 5),
        (Salt::Aptos, Compression::Plain, 100),
    ] {
        let _ = std::fs::remove_dir_all(&dir);
        let options = WriteOptions {
            compression,
            records_per_chunk: per_chunk,
            ..WriteOptions::new(salt, 1_000 + per_chunk as u64)
        };
        let w = write_backup(&dir, records.clone(), options).unwrap_or_else(|e| panic!("seed backup: {e}"));
        let name = format!("{salt}-{compression:?}-{per_chunk}").replace("::", "");
        let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for (i, c) in w.chunks.iter().enumerate() {
            out.push(("aptos_chunk", format!("{name}-chunk-{i}"), read(c)));
        }
        let manifest = read(&w.manifest);
        let manifest = if compression == Compression::Plain { manifest } else { gunzip(&manifest) };
        out.push(("aptos_manifest", format!("{name}-manifest"), manifest));
        let proof = read(&w.state_proof);
        let proof = if compression == Compression::Plain { proof } else { gunzip(&proof) };
        out.push(("aptos_proof", format!("{name}-proof"), proof));
    }
    let _ = std::fs::remove_dir_all(&dir);
    // Release containers: bundles of module-like entries.
    let module = |tag: u8| [&binary_format::version::MAGIC[..], &[6, 0, 0, 0, tag]].concat();
    for n in [1u8, 2, 5] {
        let modules: Vec<Vec<u8>> = (0..n).map(module).collect();
        out.push(("containers", format!("bundle-{n}"), releases::containers::encode_bundle(&modules)));
    }
    // JSON Lines: every kind of line, plain and gzipped.
    let lines = concat!(
        "{\"module\":\"0x1::Coin\",\"bytes\":\"a11ceb0b0600000001\"}\n",
        "{\"address\":\"0x2a\",\"type\":\"0x1::Coin::Balance<0x1::GAS::GAS>\",\"bytes\":\"0x3f1a000000000000\"}\n",
        "{\"address\":\"0x2b\",\"type\":\"0x1::Wallet::Wallet\",\"bytes\":\"007e00\"}\n",
        "{\"handle\":\"0x5c\",\"key\":\"0x0500000000000000\",\"bytes\":\"0x0a0b\",\"key_type\":\"u64\",\"value_type\":\"vector<u8>\"}\n",
        "{\"handle\":\"0x7d\",\"key\":\"0x2a\",\"bytes\":\"0x01\"}\n",
        "{\"address\":\"0x9f\",\"group\":\"0x1::object::ObjectGroup\",\"members\":[{\"type\":\"0x1::object::ObjectCore\",\"bytes\":\"0x00\"}]}\n",
        "{\"address\":\"0x9e\",\"group\":\"0x1::object::ObjectGroup\",\"bytes\":\"0x00\"}\n",
    );
    out.push(("jsonl", "every-kind".into(), lines.as_bytes().to_vec()));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = std::io::Write::write_all(&mut gz, lines.as_bytes());
    out.push(("jsonl", "every-kind-gz".into(), gz.finish().unwrap_or_default()));
    out
}

/// Gzipped bytes unpacked (the manifest and proof targets take plain bytes).
fn gunzip(gz: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut out).unwrap_or_else(|e| panic!("gunzip a seed: {e}"));
    out
}
