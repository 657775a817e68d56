//! The checks behind the fuzz targets, shared with the seed writer.
//!
//! The snapshot reader's contract (`devnet::snapshot`): the file is untrusted, so arbitrary bytes
//! never panic [`read_info`](snapshot::read_info) or [`verify`](snapshot::verify), and every error
//! is one line naming the file. A file that verifies imports into an empty store, whose state root,
//! resource count and per-tag counts are the ones the snapshot states, and that store exports again
//! to a snapshot with the same info.
//!
//! The readers take a path, so each input is written to one scratch file per process (in the
//! temporary directory, named with the pid), overwritten on every run and removed after it.
//!
//! A mutated snapshot almost never keeps a valid SHA-256 trailer, and [`verify`](snapshot::verify)
//! checks the trailer before the footer and the root: an input that starts with the magic is also
//! checked re-signed (its last 32 bytes replaced by the digest of the rest), which reaches the
//! footer checks and, for edits of the header, the import; and resealed (its footer rewritten to
//! agree with its records, then re-signed, see [`reseal`]), which reaches the import with edited
//! records. The struct tags of a snapshot that verifies must be ones `move-core-types` accepts
//! (every identifier valid): BCS decoding does not check them.
//!
//! The manifest's contract (`devnet::manifest`): arbitrary text never panics
//! [`Manifest::parse`], and a manifest that parses, written back with `serde_json` (compact, pretty
//! as [`Manifest::encode`] stores it, the same with a newline, or as [`Manifest::to_json`]), parses again to an equal one.

use devnet::manifest::Manifest;
use devnet::snapshot::{self, SnapshotError, SnapshotInfo};
use migrations::store::InMemoryStore;
use migrations::AccountAddress;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use vm_hooks::persistent::decode_prefix;
use vm_hooks::RootHasher;

/// The scratch files of this process: the input, and the snapshot exported again.
struct Scratch {
    input: PathBuf,
    export: PathBuf,
    /// Where `export` writes before moving the file into place.
    export_partial: PathBuf,
}

fn scratch() -> &'static Scratch {
    static SCRATCH: OnceLock<Scratch> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = std::env::temp_dir();
        let pid = std::process::id();
        Scratch {
            input: dir.join(format!("devnet-fuzz-{pid}.snap")),
            export: dir.join(format!("devnet-fuzz-{pid}-again.snap")),
            export_partial: dir.join(format!(".devnet-fuzz-{pid}-again.snap.partial")),
        }
    })
}

fn remove(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot remove the scratch file {}: {e}", path.display()),
    }
}

/// `data` with its last 32 bytes replaced by the SHA-256 of the bytes before them, if it starts
/// with the magic and the trailer is not already that digest.
pub fn resign(data: &[u8]) -> Option<Vec<u8>> {
    if !data.starts_with(snapshot::MAGIC) {
        return None;
    }
    let body_len = data.len().checked_sub(32)?;
    let (body, trailer) = data.split_at(body_len);
    let digest = Sha256::digest(body);
    if trailer == digest.as_slice() {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    out.extend_from_slice(body);
    out.extend_from_slice(&digest);
    Some(out)
}

/// Reads a big-endian u32 at `at`.
fn u32_at(data: &[u8], at: usize) -> Option<usize> {
    let bytes = data.get(at..)?.first_chunk::<4>()?;
    usize::try_from(u32::from_be_bytes(*bytes)).ok()
}

/// `data` with the footer, its length and the trailer rewritten to agree with its records (their
/// count, per-tag counts and state root, as the writer computes them), if it has a magic, a
/// header length and records framed up to an end record, and the result differs from `data`.
/// Nothing else is checked: order, empty runs and the header are left to the reader.
pub fn reseal(data: &[u8]) -> Option<Vec<u8>> {
    if !data.starts_with(snapshot::MAGIC) {
        return None;
    }
    let header_len = u32_at(data, snapshot::MAGIC.len() + 4)?;
    let mut at = (snapshot::MAGIC.len() + 8).checked_add(header_len)?;
    let mut root = RootHasher::new();
    let mut tags: BTreeMap<String, u64> = BTreeMap::new();
    let mut run: Option<(&[u8], String)> = None;
    loop {
        let kind = *data.get(at)?;
        at += 1;
        match kind {
            0 => break,
            1 => {
                let end = at.checked_add(4)?.checked_add(u32_at(data, at)?)?;
                let prefix = data.get(at..end)?;
                let tag = decode_prefix(prefix, devchain::WIDTH).ok()?;
                run = Some((prefix, tag.to_string()));
                at = end;
            }
            2 => {
                let (prefix, rendered) = run.as_ref()?;
                let account = AccountAddress::new(data.get(at..)?.first_chunk::<16>()?).ok()?;
                let len = u32_at(data, at + 16)?;
                let value = data.get(at + 20..(at + 20).checked_add(len)?)?;
                at += 20 + len;
                root.add(prefix, &account, value);
                *tags.entry(rendered.clone()).or_default() += 1;
            }
            _ => return None,
        }
    }
    let footer = serde_json::json!({
        "format": snapshot::FORMAT,
        "version": snapshot::VERSION,
        "resources": root.count(),
        "state_root": root.finish().to_string(),
        "tags": tags,
    });
    let json = serde_json::to_vec(&footer).ok()?;
    let mut out = data.get(..at)?.to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&u32::try_from(json.len()).ok()?.to_be_bytes());
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    (out != data).then_some(out)
}

/// A reader error is one line and names the file.
pub fn check_error(e: &SnapshotError, path: &Path, what: &str) {
    let message = e.to_string();
    assert!(!message.contains('\n') && !message.contains('\r'), "{what}: a multi-line error: {message:?} ({e:?})");
    if !matches!(e, SnapshotError::Store(_)) {
        assert!(
            message.contains(&path.display().to_string()),
            "{what}: the error does not name the file: {message:?} ({e:?})"
        );
    }
}

/// The `snapshot` target: the input as it is, re-signed, and resealed.
pub fn check_snapshot(data: &[u8]) -> Option<SnapshotInfo> {
    let verified = check_snapshot_file(data);
    let resigned = resign(data);
    if let Some(resigned) = &resigned {
        check_snapshot_file(resigned);
    }
    if let Some(resealed) = reseal(data).filter(|r| Some(r) != resigned.as_ref()) {
        check_snapshot_file(&resealed);
    }
    verified
}

/// Writes `data` to the scratch file and checks every reader on it; returns the info if it
/// verifies. The scratch file is removed afterwards (it stays only when a check fails).
pub fn check_snapshot_file(data: &[u8]) -> Option<SnapshotInfo> {
    let path = scratch().input.as_path();
    fs::write(path, data).unwrap_or_else(|e| panic!("cannot write the scratch file {}: {e}", path.display()));
    let info = check_scratch_file(path, data);
    remove(path);
    info
}

fn check_scratch_file(path: &Path, data: &[u8]) -> Option<SnapshotInfo> {
    let listed = snapshot::read_info(path);
    if let Err(e) = &listed {
        check_error(e, path, "read_info");
    }
    let info = match snapshot::verify(path) {
        Ok(info) => info,
        Err(e) => {
            check_error(&e, path, "verify");
            // The import verifies first: the same error, and nothing written.
            let mut store = InMemoryStore::new();
            let mut calls = 0usize;
            let imported = snapshot::import(path, &mut store, 2, &mut |_| calls += 1);
            match imported {
                Ok(info) => panic!("import succeeded where verify failed ({e}): {info:?}"),
                Err(again) => assert_eq!(again.to_string(), e.to_string(), "import and verify disagree"),
            }
            assert!(store.is_empty() && calls == 0, "a failed import wrote {} resources", store.len());
            return None;
        }
    };
    assert_eq!(info.bytes, data.len() as u64, "the info's size is not the file's");
    match &listed {
        Ok(listed) => assert_eq!(listed, &info, "read_info and verify disagree on a verified file"),
        Err(e) => panic!("read_info failed on a file that verifies: {e}"),
    }
    check_import(path, &info, data.len());
    Some(info)
}

/// Imports a verified snapshot into an empty store and checks the store against the info, then
/// exports the store and checks the new snapshot.
fn check_import(path: &Path, info: &SnapshotInfo, salt: usize) {
    let mut store = InMemoryStore::new();
    let per_batch = 1 + salt % 5;
    let mut progress: Vec<u64> = Vec::new();
    let imported = snapshot::import(path, &mut store, per_batch, &mut |n| progress.push(n))
        .unwrap_or_else(|e| panic!("import failed on a file that verifies: {e}"));
    assert_eq!(&imported, info, "import and verify disagree");

    // Progress: after each batch of `per_batch`, the last one possibly smaller.
    let expected: Vec<u64> =
        (1..=info.resources.div_ceil(per_batch as u64)).map(|b| (b * per_batch as u64).min(info.resources)).collect();
    assert_eq!(progress, expected, "progress calls for {} resources in batches of {per_batch}", info.resources);

    assert_eq!(store.len() as u64, info.resources, "the store holds another number of resources");
    let root = vm_hooks::state_root(&store).unwrap_or_else(|e| panic!("state_root of the imported store: {e}"));
    assert_eq!(root, info.state_root, "the imported store's root is not the snapshot's");
    let mut tags: BTreeMap<String, u64> = BTreeMap::new();
    for (tag, _, _) in store.iter() {
        assert!(
            vm_hooks::persistent::decode_prefix(&vm_hooks::persistent::tag_prefix(tag), devchain::WIDTH).is_ok(),
            "a snapshot that verifies holds the struct tag {tag:?}, not a valid Move tag"
        );
        *tags.entry(tag.to_string()).or_default() += 1;
    }
    assert_eq!(tags, info.tags, "the imported store's per-tag counts are not the snapshot's");

    // The store exports again to a snapshot with the same info (its size aside), which verifies.
    let s = scratch();
    remove(&s.export);
    remove(&s.export_partial);
    let again = snapshot::export(&store, info.height, info.chain.clone(), devchain::WIDTH, &s.export)
        .unwrap_or_else(|e| panic!("an imported store does not export: {e}"));
    assert_eq!(again, SnapshotInfo { bytes: again.bytes, ..info.clone() }, "export of the import changed the info");
    let reverified =
        snapshot::verify(&s.export).unwrap_or_else(|e| panic!("a re-exported snapshot does not verify: {e}"));
    assert_eq!(reverified, again, "verify of the re-export disagrees with its export");
    remove(&s.export);
}

/// The `manifest` target: a manifest that parses survives being written and parsed again.
pub fn check_manifest(data: &[u8]) -> Option<Manifest> {
    let text = std::str::from_utf8(data).ok()?;
    let origin = Path::new("fuzz");
    let manifest = match Manifest::parse(text, origin) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.to_string();
            return None;
        }
    };
    let compact =
        serde_json::to_string(&manifest).unwrap_or_else(|e| panic!("a parsed manifest does not serialize: {e}"));
    let pretty =
        serde_json::to_string_pretty(&manifest).unwrap_or_else(|e| panic!("a parsed manifest does not serialize: {e}"));
    // `Manifest::encode` is the pretty form a chain stores; older chains kept it in a file with a newline.
    for saved in [compact, pretty.clone(), format!("{pretty}\n"), manifest.to_json().to_string()] {
        let back = Manifest::parse(&saved, origin)
            .unwrap_or_else(|e| panic!("a saved manifest does not parse again: {e}\nsaved: {saved}"));
        assert_eq!(back, manifest, "a saved manifest parses to another one: {saved}");
    }
    // What a chain reads of it.
    let heights = manifest.heights();
    assert_eq!(heights.len(), manifest.activations.len());
    assert_eq!(manifest.target(), manifest.activations.last().map_or(1, |a| a.release));
    let budget = manifest.budget();
    assert!(budget.max_resources > 0 && budget.max_bytes > 0, "a parsed manifest with a zero budget");
    Some(manifest)
}
