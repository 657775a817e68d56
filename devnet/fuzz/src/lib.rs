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
//! checked re-signed (its trailer recomputed over its header and footer), which reaches the
//! footer checks and, for edits of the header, the import; and resealed (its footer rewritten to
//! agree with its entries, then re-signed, see [`reseal`]), which reaches the import with edited
//! entries. The struct tags of a snapshot that verifies must be ones `move-core-types` accepts
//! (every identifier valid): BCS decoding does not check them.
//!
//! The header's contract (`devnet::snapshot` and `devnet::limits`, the `snapshot_header`
//! target): a snapshot of a real small chain whose re-signed header says any height and any
//! settings and schedule (see [`check_header`]) verifies exactly when its height is within
//! [`MAX_HEIGHT`]; imported, it is either refused with one line of bad input, or a chain that
//! produces its next block. No height or setting a header can state wedges a chain.
//!
//! The manifest's contract (`devnet::manifest`): arbitrary text never panics
//! [`Manifest::parse`], and a manifest that parses, written back with `serde_json` (compact, pretty
//! as [`Manifest::encode`] stores it, the same with a newline, or as [`Manifest::to_json`]), parses again to an equal one.

use devnet::chain_store::{ChainStore, MemoryChain};
use devnet::limits::{MAX_BUDGET_BYTES, MAX_BUDGET_RESOURCES, MAX_HEIGHT, MAX_TRANSFERS_PER_BLOCK};
use devnet::manifest::Manifest;
use devnet::node::{adopt, Node};
use devnet::snapshot::{self, SnapshotError, SnapshotInfo};
use migrations::store::InMemoryStore;
use migrations::{StateKey, StructTag};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use vm_hooks::Budget;
use vm_hooks::RootHasher;

/// The scratch files of this thread (a test runs targets on several): the input, and the
/// snapshot exported again.
struct Scratch {
    input: PathBuf,
    export: PathBuf,
    /// Where `export` writes before moving the file into place.
    export_partial: PathBuf,
}

fn scratch() -> &'static Scratch {
    static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static SCRATCH: &'static Scratch = {
            let dir = std::env::temp_dir();
            let pid = std::process::id();
            let n = THREADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::leak(Box::new(Scratch {
                input: dir.join(format!("devnet-fuzz-{pid}-{n}.snap")),
                export: dir.join(format!("devnet-fuzz-{pid}-{n}-again.snap")),
                export_partial: dir.join(format!(".devnet-fuzz-{pid}-{n}-again.snap.partial")),
            }))
        };
    }
    SCRATCH.with(|s| *s)
}

fn remove(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot remove the scratch file {}: {e}", path.display()),
    }
}

/// Where the records start: after the magic, the version, the header length and the header.
fn records_start(data: &[u8]) -> Option<usize> {
    let header_len = u32_at(data, snapshot::MAGIC.len() + 4)?;
    (snapshot::MAGIC.len() + 8).checked_add(header_len)
}

/// The trailer of a file whose bytes before the records are `head` and whose footer is
/// `footer`: SHA-256 of the head, the footer and the footer's length.
fn trailer(head: &[u8], footer: &[u8]) -> Option<[u8; 32]> {
    let mut sha = Sha256::new();
    sha.update(head);
    sha.update(footer);
    sha.update(u32::try_from(footer.len()).ok()?.to_be_bytes());
    Some(sha.finalize().into())
}

/// `data` with its trailer (the last 32 bytes) recomputed over its header and footer, if it
/// starts with the magic, frames a footer after the records' start, and the trailer is not
/// already that digest.
pub fn resign(data: &[u8]) -> Option<Vec<u8>> {
    if !data.starts_with(snapshot::MAGIC) {
        return None;
    }
    let start = records_start(data)?;
    let tail = data.len().checked_sub(36)?;
    let footer_at = tail.checked_sub(u32_at(data, tail)?)?;
    if footer_at < start {
        return None;
    }
    let digest = trailer(data.get(..start)?, data.get(footer_at..tail)?)?;
    let (body, old) = data.split_at(data.len() - 32);
    if old == digest.as_slice() {
        return None;
    }
    let mut out = body.to_vec();
    out.extend_from_slice(&digest);
    Some(out)
}

/// Reads a big-endian u32 at `at`.
fn u32_at(data: &[u8], at: usize) -> Option<usize> {
    let bytes = data.get(at..)?.first_chunk::<4>()?;
    usize::try_from(u32::from_be_bytes(*bytes)).ok()
}

/// Reads a ULEB128 at `*at` (at most 10 bytes), moving past it.
fn uleb(data: &[u8], at: &mut usize) -> Option<usize> {
    let mut n = 0u64;
    for shift in (0..70).step_by(7) {
        let b = *data.get(*at)?;
        *at += 1;
        n |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return usize::try_from(n).ok();
        }
    }
    None
}

/// `data` with the footer, its length and the trailer rewritten to agree with its records (their
/// count, kinds, per-tag counts, restart index and state root, as the writer computes them), if
/// it has a magic, a header length and entries framed up to an end record, and the result
/// differs from `data`. Nothing else is checked: key order, restarts that share bytes, the keys
/// themselves and the header are left to the reader.
pub fn reseal(data: &[u8]) -> Option<Vec<u8>> {
    if !data.starts_with(snapshot::MAGIC) {
        return None;
    }
    const KINDS: [&str; 6] = ["reserved", "resource", "group", "table_item", "module", "raw"];
    let mut at = records_start(data)?;
    let mut root = RootHasher::new();
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut tags: BTreeMap<String, u64> = BTreeMap::new();
    let mut index: Vec<(u64, u64)> = Vec::new();
    let mut key: Vec<u8> = Vec::new();
    let mut entries = 0u64;
    loop {
        let record = at;
        let kind = *data.get(at)?;
        at += 1;
        match kind {
            0 => break,
            1 => {
                let shared = uleb(data, &mut at)?;
                let rest = uleb(data, &mut at)?;
                key.truncate(shared);
                key.extend_from_slice(data.get(at..at.checked_add(rest)?)?);
                at += rest;
                let len = uleb(data, &mut at)?;
                let value = data.get(at..at.checked_add(len)?)?;
                at += len;
                let len = uleb(data, &mut at)?;
                let extra = data.get(at..at.checked_add(len)?)?;
                at += len;
                if entries.is_multiple_of(snapshot::RESTART) {
                    index.push((entries, u64::try_from(record).ok()?));
                }
                root.add_entry(&key, value, extra);
                let name = KINDS.get(usize::from(*key.first()?))?;
                *kinds.entry((*name).to_owned()).or_default() += 1;
                if let Some(tag) = StateKey::decode(&key, devchain::WIDTH).ok().as_ref().and_then(StateKey::tag) {
                    if matches!(key.first(), Some(1 | 2)) {
                        *tags.entry(tag.to_string()).or_default() += 1;
                    }
                }
                entries += 1;
            }
            _ => return None,
        }
    }
    let footer = serde_json::json!({
        "format": snapshot::FORMAT,
        "version": snapshot::VERSION,
        "entries": entries,
        "state_root": root.finish().to_string(),
        "kinds": kinds,
        "tags": tags,
        "index": index,
        "end": at - 1,
    });
    let json = serde_json::to_vec(&footer).ok()?;
    let mut out = data.get(..at)?.to_vec();
    out.extend_from_slice(&json);
    out.extend_from_slice(&u32::try_from(json.len()).ok()?.to_be_bytes());
    let digest = trailer(data.get(..records_start(data)?)?, &json)?;
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
        (1..=info.entries.div_ceil(per_batch as u64)).map(|b| (b * per_batch as u64).min(info.entries)).collect();
    assert_eq!(progress, expected, "progress calls for {} entries in batches of {per_batch}", info.entries);

    assert_eq!(store.len() as u64, info.entries, "the store holds another number of entries");
    // A store keeps values, not a chain's extras: the root is the snapshot's when it has none.
    let mut extras = false;
    snapshot::visit(path, &mut |e| {
        extras |= !e.extra.is_empty();
        Ok(true)
    })
    .unwrap_or_else(|e| panic!("visit after verify: {e}"));
    let root = vm_hooks::state_root(&store).unwrap_or_else(|e| panic!("state_root of the imported store: {e}"));
    if !extras {
        assert_eq!(root, info.state_root, "the imported store's root is not the snapshot's");
    }
    let mut tags: BTreeMap<String, u64> = BTreeMap::new();
    for (key, _) in store.iter() {
        let decoded = StateKey::decode(&key, devchain::WIDTH)
            .unwrap_or_else(|e| panic!("a snapshot that verifies holds the key {key:?}, which does not decode: {e}"));
        if let (Some(1 | 2), Some(tag)) = (key.first(), decoded.tag()) {
            let again = StructTag::parse(&tag.to_string(), devchain::WIDTH);
            assert!(
                again.as_ref() == Ok(tag),
                "a snapshot that verifies holds the struct tag {tag:?}, not a valid Move tag ({again:?})"
            );
            *tags.entry(tag.to_string()).or_default() += 1;
        }
    }
    assert_eq!(tags, info.tags, "the imported store's per-tag counts are not the snapshot's");

    // The store exports again to a snapshot with the same info (its size and, for a snapshot
    // with extras, its root aside), which verifies.
    let s = scratch();
    remove(&s.export);
    remove(&s.export_partial);
    let again = snapshot::export(&store, info.height, info.chain.clone(), devchain::WIDTH, &s.export)
        .unwrap_or_else(|e| panic!("an imported store does not export: {e}"));
    let state_root = if extras { again.state_root } else { info.state_root };
    assert_eq!(
        again,
        SnapshotInfo { bytes: again.bytes, state_root, index: again.index.clone(), end: again.end, ..info.clone() },
        "export of the import changed the info"
    );
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

/// Reads the fields of a `snapshot_header` input: numbers chosen near the bounds that matter as
/// often as anywhere else. A missing byte reads as zero.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        first
    }

    fn raw(&mut self) -> u64 {
        (0..8).fold(0u64, |n, _| n << 8 | u64::from(self.byte()))
    }

    /// A small number, one around `bound`, one around `u64::MAX`, or any.
    fn number(&mut self, bound: u64) -> u64 {
        let delta = u64::from(self.byte());
        match self.byte() % 4 {
            0 => delta,
            1 => bound.saturating_sub(128).saturating_add(delta),
            2 => u64::MAX - delta,
            _ => self.raw(),
        }
    }
}

/// The chains headers are forged on: genesis of three accounts (nothing activated), and the
/// same upgraded to v2 at height 2 (an on-chain history to contradict); each with the snapshot
/// it exports to.
fn bases() -> &'static [(Manifest, Vec<u8>); 2] {
    static BASES: OnceLock<[(Manifest, Vec<u8>); 2]> = OnceLock::new();
    BASES.get_or_init(|| {
        let base = |upgraded: bool| {
            let mut manifest = Manifest::new(3, 0, 4, Budget { max_resources: 64, max_bytes: 1 << 16 });
            let mut chain = MemoryChain::default();
            devchain::Genesis { accounts: 3, corrupt: 0 }
                .write(&mut chain, u32::MAX, &mut |_| {})
                .unwrap_or_else(|e| panic!("genesis: {e}"));
            if upgraded {
                manifest.schedule(2, 2, 0).unwrap_or_else(|e| panic!("{e}"));
            }
            // Genesis schedules the releases on chain.
            adopt(&mut chain, &manifest).unwrap_or_else(|e| panic!("genesis schedule: {e}"));
            let mut node = Node::new(Box::new(chain), manifest.clone()).unwrap_or_else(|e| panic!("node: {e}"));
            node.drive(3, 100, &mut |_, _| {}).unwrap_or_else(|e| panic!("blocks: {e}"));
            assert!(node.upgraded());
            let path = scratch().export.as_path();
            remove(path);
            snapshot::export(node.store(), node.height(), manifest.to_json(), devchain::WIDTH, path)
                .unwrap_or_else(|e| panic!("export: {e}"));
            let bytes = fs::read(path).unwrap_or_else(|e| panic!("{e}"));
            remove(path);
            (manifest, bytes)
        };
        [base(false), base(true)]
    })
}

/// `bytes`, a snapshot, with the header `header` in place of its own, the footer's offsets
/// moved by as much, and re-signed.
pub fn with_header(bytes: &[u8], header: &serde_json::Value) -> Option<Vec<u8>> {
    let at = snapshot::MAGIC.len() + 4;
    let len = u32_at(bytes, at)?;
    let json = serde_json::to_vec(header).ok()?;
    let tail = bytes.len().checked_sub(36)?;
    let footer_at = tail.checked_sub(u32_at(bytes, tail)?)?;
    let mut footer: serde_json::Value = serde_json::from_slice(bytes.get(footer_at..tail)?).ok()?;
    let shift = |offset: &mut serde_json::Value| -> Option<()> {
        let moved = offset.as_u64()?.checked_add(json.len() as u64)?.checked_sub(len as u64)?;
        *offset = moved.into();
        Some(())
    };
    shift(&mut footer["end"])?;
    for point in footer["index"].as_array_mut()? {
        shift(&mut point[1])?;
    }
    let footer = serde_json::to_vec(&footer).ok()?;
    let mut out = bytes.get(..at)?.to_vec();
    out.extend_from_slice(&u32::try_from(json.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&json);
    let digest = trailer(&out, &footer)?;
    out.extend_from_slice(bytes.get(at + 4 + len..footer_at)?);
    out.extend_from_slice(&footer);
    out.extend_from_slice(&u32::try_from(footer.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&digest);
    Some(out)
}

/// The header a `snapshot_header` input states: a base chain's, with the height, settings
/// (transfers, budgets, accounts) and schedule (up to three activations) the fields give.
pub fn header_of(data: &[u8]) -> (usize, serde_json::Value) {
    let mut f = Fields(data);
    let which = usize::from(f.byte() % 2);
    let (manifest, bytes) = &bases()[which];
    let at = snapshot::MAGIC.len() + 4;
    let len = u32_at(bytes, at).unwrap_or(0);
    let mut header: serde_json::Value =
        serde_json::from_slice(bytes.get(at + 4..at + 4 + len).unwrap_or_default()).unwrap_or_default();
    header["height"] = f.number(MAX_HEIGHT).into();
    let chain = &mut header["chain"];
    *chain = manifest.to_json();
    let small = |n: u64| n % 64;
    let edits = f.byte();
    if edits & 1 != 0 {
        chain["transfers_per_block"] = (f.number(u64::from(MAX_TRANSFERS_PER_BLOCK)) & 0xffff_ffff).into();
    }
    if edits & 2 != 0 {
        chain["max_resources_per_block"] = f.number(MAX_BUDGET_RESOURCES).into();
    }
    if edits & 4 != 0 {
        chain["max_bytes_per_block"] = f.number(MAX_BUDGET_BYTES).into();
    }
    if edits & 8 != 0 {
        chain["accounts"] = (small(f.raw()) as u32).into();
        chain["corrupt"] = (small(f.raw()) as u32 % 4).into();
    }
    if edits & 16 != 0 {
        let activations: Vec<serde_json::Value> = (0..f.byte() % 4)
            .map(|i| serde_json::json!({"release": 2 + u64::from(i) + u64::from(f.byte() % 2), "height": f.number(MAX_HEIGHT)}))
            .collect();
        chain["activations"] = activations.into();
    }
    (which, header)
}

/// Seeds of the `snapshot_header` target: (base, height selector and delta, edits, fields).
pub const HEADER_SEEDS: [(&str, &[u8]); 8] = [
    ("genesis-small-height", &[0, 7, 0, 0]),
    ("genesis-at-max-height", &[0, 128, 1, 0]),
    ("genesis-past-max-height", &[0, 129, 1, 0]),
    ("genesis-u64-max", &[0, 0, 2, 0]),
    ("upgraded-small-height", &[1, 9, 0, 0]),
    ("upgraded-schedule-moved", &[1, 9, 0, 16, 2, 0, 3, 0, 0, 9, 0]),
    ("transfers-over", &[0, 9, 0, 1, 129, 1]),
    ("budgets-over", &[1, 9, 0, 6, 129, 1, 129, 1]),
];

/// How a forged header ended (for the counts a run reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HeaderOutcome {
    /// Its height is beyond the highest: the file does not verify.
    HeightRefused,
    /// Its manifest does not parse.
    ManifestRefused,
    /// The imported chain is refused (a setting, its schedule, its history).
    ChainRefused,
    /// The chain produced its next block.
    Produced,
    /// Taken, with too many transfers per block to produce one here.
    Taken,
}

/// The `snapshot_header` target: see the crate's documentation.
pub fn check_header(data: &[u8]) -> Option<HeaderOutcome> {
    let (which, header) = header_of(data);
    let height = header["height"].as_u64().unwrap_or(u64::MAX);
    let bytes = with_header(&bases()[which].1, &header)?;
    let path = scratch().input.as_path();
    fs::write(path, &bytes).unwrap_or_else(|e| panic!("cannot write the scratch file {}: {e}", path.display()));
    let outcome = check_forged(path, height);
    remove(path);
    Some(outcome)
}

fn check_forged(path: &Path, height: u64) -> HeaderOutcome {
    let info = match snapshot::verify(path) {
        Ok(info) => info,
        Err(e) => {
            check_error(&e, path, "verify");
            assert!(height > MAX_HEIGHT, "a header at height {height} is refused: {e}");
            assert!(e.to_string().contains("beyond the highest height"), "{e}");
            return HeaderOutcome::HeightRefused;
        }
    };
    assert!(height <= MAX_HEIGHT, "a header at height {height} verifies");
    // Imported as `devnet snapshot import` does, into a chain in memory.
    let mut chain = MemoryChain::default();
    snapshot::import(path, &mut chain, 1_000, &mut |_| {}).unwrap_or_else(|e| panic!("import after verify: {e}"));
    chain.commit_block(migrations::store::WriteBatch::new(), info.height).unwrap_or_else(|e| panic!("{e}"));
    let refused = |e: devnet::DevnetError, what: &str| {
        let message = e.to_string();
        assert_eq!(e.exit_code(), 2, "{what}: refused as a failure, not bad input: {message}");
        assert!(!message.contains('\n'), "{what}: a multi-line error: {message:?}");
    };
    let manifest = match Manifest::parse(&info.chain.to_string(), path) {
        Ok(m) => m,
        Err(e) => {
            refused(e, "the header's manifest");
            return HeaderOutcome::ManifestRefused;
        }
    };
    let transfers = manifest.transfers_per_block;
    let mut node = match Node::new(Box::new(chain), manifest) {
        Ok(node) => node,
        Err(e) => {
            refused(e, "the imported chain");
            return HeaderOutcome::ChainRefused;
        }
    };
    // A chain the devnet takes produces its next block (with few transfers: they cost time,
    // and their bound is checked above).
    if transfers > 1_000 {
        return HeaderOutcome::Taken;
    }
    let outcome = node.produce_block().unwrap_or_else(|e| panic!("an imported chain at {height} cannot go on: {e}"));
    assert_eq!(outcome.height, height + 1);
    HeaderOutcome::Produced
}
