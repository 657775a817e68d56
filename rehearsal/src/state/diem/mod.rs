//! A Diem/Libra-family backup: a `state.manifest` and its chunk files, as Libra, Diem and 0L
//! (before its Aptos-based framework) published their state archives.
//!
//! Read in passes, never holding the state: the first checks every record's framing and key
//! order against the manifest, collects the modules the state holds, and recomputes the sparse
//! Merkle root with both hash prefixes (`LIBRA::`, `DIEM::`) unless one is given; the backup is
//! refused unless one root equals the manifest's, and that prefix is the era's. The access
//! path encoding (hashed in the Libra era, BCS after) is read off the paths unless given. The
//! second pass resolves each resource's struct tag (Libra era: by hashing the tags the release
//! can form) and each record's account (its key is the hash of the address: well-known
//! addresses, then those its own resources mention), and hands the resources on. Accounts still
//! unknown then are looked for among every address the state mentions (two more passes, only
//! when needed); what stays unresolved is reported with its key and counted, never dropped
//! silently.

pub mod blob;
pub mod chunk;
pub mod hash;
pub mod manifest;
pub mod paths;
pub mod resolve;
pub mod writer;

use super::{
    At, ChainRoot, Context, EntrySink, ModuleBytes, ModuleSink, Origin, Problem, ProblemKind, Problems, Resource,
    SourceInfo, StateError, StateSource,
};
use binary_format::{Detail, Module, ParseOptions};
use blob::{parse_blob, parse_record, Record};
use chunk::ChunkReader;
use hash::{hex, Hash, Hashes, Prefix};
use manifest::Manifest;
use migrations::value::{decode_within, DecodeErrorKind};
use migrations::{Layout, ReleaseIndex, StructTag};
use paths::{AccessPath, PathEncoding, WIDTH};
use resolve::{AddressBook, ScanBudget, TagTable};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub use hash::Prefix as HashPrefix;
pub use paths::PathEncoding as Paths;

/// The most bytes of modules collected from a state (a framework is a few MiB).
pub const MAX_MODULE_BYTES: usize = 256 << 20;
/// Layouts cached per struct tag before the cache is cleared.
const LAYOUT_CACHE: usize = 4096;

/// Called with each record, its chunk file and its offset.
type RecordSink<'a> = &'a mut dyn FnMut(&Rc<Path>, u64, Record<'_>) -> Result<(), StateError>;

/// A backup's era, given instead of detected, and the raw address scan's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiemOptions {
    pub prefix: Option<Prefix>,
    pub paths: Option<PathEncoding>,
    /// Windows the raw address scan hashes in one run ([`resolve::SCAN_BUDGET`] by default).
    pub scan_budget: u64,
}

impl Default for DiemOptions {
    fn default() -> Self {
        DiemOptions { prefix: None, paths: None, scan_budget: resolve::SCAN_BUDGET }
    }
}

impl DiemOptions {
    /// The Libra era (`LIBRA::`, hashed paths) or the Diem era (`DIEM::`, BCS paths).
    pub fn era(name: &str) -> Option<DiemOptions> {
        let era = |prefix, paths| DiemOptions { prefix: Some(prefix), paths: Some(paths), ..DiemOptions::default() };
        match name {
            "libra" => Some(era(Prefix::Libra, PathEncoding::Hashed)),
            "diem" => Some(era(Prefix::Diem, PathEncoding::Bcs)),
            "auto" => Some(DiemOptions::default()),
            _ => None,
        }
    }
}

/// What the checking pass found.
#[derive(Debug)]
struct Verified {
    prefix: Prefix,
    paths: PathEncoding,
    records: u64,
    modules: Vec<(Origin, Vec<u8>)>,
    problems: Problems,
}

/// A backup, opened.
#[derive(Debug)]
pub struct DiemSource {
    manifest: Manifest,
    options: DiemOptions,
    verified: Option<Verified>,
}

fn origin(path: &Rc<Path>, offset: u64) -> Origin {
    Origin { file: path.clone(), at: At::Byte(offset) }
}

impl DiemSource {
    /// Opens the backup `path` names: its `state.manifest`, or its top directory.
    pub fn open(path: &Path, options: DiemOptions) -> Result<DiemSource, StateError> {
        let manifest_path = manifest::locate(path)?.ok_or_else(|| StateError::Unsupported {
            path: path.to_path_buf(),
            reason: "a directory with no state.manifest, no metadata/state_snapshot_ver_*.meta and no state_ver_*/state.manifest"
                .into(),
        })?;
        Ok(DiemSource { manifest: Manifest::load(&manifest_path)?, options, verified: None })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Calls `f` with every record, in order, with its chunk's path and its offset.
    fn each_record(&self, f: RecordSink<'_>) -> Result<(), StateError> {
        let mut buf = Vec::new();
        for chunk in &self.manifest.chunks {
            let path: Rc<Path> = Rc::from(chunk.path.as_path());
            let mut reader = ChunkReader::open(&chunk.path)?;
            while let Some(at) = reader.next(&mut buf)? {
                let record = parse_record(&buf, at + 4).map_err(|reason| StateError::Corrupt {
                    path: chunk.path.clone(),
                    offset: at,
                    reason: format!("a record that is not a key and an account blob: {reason}"),
                })?;
                f(&path, at, record)?;
            }
        }
        Ok(())
    }

    /// The checking pass (once).
    fn verify(&mut self) -> Result<&Verified, StateError> {
        if self.verified.is_none() {
            self.verified = Some(self.check()?);
        }
        self.verified.as_ref().ok_or_else(|| StateError::Sink("verification lost".into()))
    }

    fn check(&self) -> Result<Verified, StateError> {
        let prefixes: Vec<Prefix> = self.options.prefix.map_or(Prefix::ALL.to_vec(), |p| vec![p]);
        let mut roots: Vec<(Hashes, smt::RootBuilder)> =
            prefixes.iter().map(|p| (Hashes::new(*p), smt::RootBuilder::new(Hashes::new(*p)))).collect();
        let mut problems = Problems::default();
        let mut modules: Vec<(Origin, Vec<u8>)> = Vec::new();
        let mut module_bytes = 0usize;
        let (mut bcs, mut hashed) = (0u64, 0u64);
        let mut previous: Option<Hash> = None;
        // Records seen so far, and within the current chunk.
        let mut index = 0u64;
        let mut chunk_at = 0usize;
        let mut in_chunk = 0u64;
        let mut last_in_chunk: Option<Hash> = None;
        let chunks = &self.manifest.chunks;
        let manifest_path = &self.manifest.path;
        let close_chunk = |at: usize, count: u64, last: Option<Hash>| -> Result<(), StateError> {
            let Some(c) = chunks.get(at) else { return Ok(()) };
            let expected = c.last_idx - c.first_idx + 1;
            if count != expected {
                return Err(StateError::Corrupt {
                    path: c.path.clone(),
                    offset: 0,
                    reason: format!(
                        "the chunk holds {count} records, the manifest says {expected} (records {}..={})",
                        c.first_idx, c.last_idx
                    ),
                });
            }
            if last != Some(c.last_key) {
                return Err(StateError::Manifest {
                    path: manifest_path.clone(),
                    reason: format!(
                        "chunk {}: its last record's key is {}, the manifest says {}",
                        c.handle,
                        last.map_or("none".into(), |k| hex(&k)),
                        hex(&c.last_key)
                    ),
                });
            }
            Ok(())
        };
        let mut current: Option<Rc<Path>> = None;
        self.each_record(&mut |path, at, record| {
            if current.as_ref() != Some(path) {
                if current.is_some() {
                    close_chunk(chunk_at, in_chunk, last_in_chunk)?;
                    chunk_at += 1;
                }
                current = Some(path.clone());
                in_chunk = 0;
                if let Some(c) = chunks.get(chunk_at) {
                    if c.first_key != record.key {
                        return Err(StateError::Manifest {
                            path: manifest_path.clone(),
                            reason: format!(
                                "chunk {}: its first record's key is {}, the manifest says {}",
                                c.handle,
                                hex(&record.key),
                                hex(&c.first_key)
                            ),
                        });
                    }
                }
            }
            let corrupt = |reason: String| StateError::Corrupt { path: path.to_path_buf(), offset: at, reason };
            if let Some(p) = previous.filter(|p| *p >= record.key) {
                return Err(corrupt(format!(
                    "keys out of order: record {index} has key {} after {}",
                    hex(&record.key),
                    hex(&p)
                )));
            }
            for (h, root) in &mut roots {
                root.add(&record.key, &h.blob(record.blob));
            }
            let entries = parse_blob(record.blob, record.blob_at)
                .map_err(|e| corrupt(format!("account {}: the blob does not parse: {e}", hex(&record.key))))?;
            if !entries.canonical {
                problems.add(
                    Problem {
                        kind: ProblemKind::NonCanonical,
                        origin: origin(path, at).to_string(),
                        key: Some(hex(&record.key)),
                        message: "the account blob's entries are not in BCS order (read anyway)".into(),
                    },
                    0,
                );
            }
            for (p, value) in &entries.entries {
                if paths::reads_as_bcs(p) {
                    bcs += 1;
                } else if paths::has_hashed_shape(p) {
                    hashed += 1;
                }
                if p.first() == Some(&paths::CODE_TAG) {
                    module_bytes += value.len();
                    if module_bytes > MAX_MODULE_BYTES {
                        return Err(corrupt(format!("the state holds more than {MAX_MODULE_BYTES} bytes of modules")));
                    }
                    modules.push((origin(path, at), value.to_vec()));
                }
            }
            previous = Some(record.key);
            last_in_chunk = Some(record.key);
            index += 1;
            in_chunk += 1;
            Ok(())
        })?;
        if current.is_some() {
            close_chunk(chunk_at, in_chunk, last_in_chunk)?;
            chunk_at += 1;
        }
        if chunk_at != chunks.len() {
            // Chunks with no records at all (the manifest never names an empty one).
            let c = chunks.get(chunk_at).map(|c| c.path.clone()).unwrap_or_default();
            return Err(StateError::Corrupt {
                path: c,
                offset: 0,
                reason: "an empty chunk file the manifest says holds records".into(),
            });
        }
        let expected = self.manifest.root_hash;
        let mut found = Vec::new();
        let mut chosen = None;
        for (h, root) in roots {
            let r = root.finish();
            if r == expected && chosen.is_none() {
                chosen = Some(h.prefix);
            }
            found.push(format!("{} with {}", hex(&r), h.prefix));
        }
        let Some(prefix) = chosen else {
            return Err(StateError::RootMismatch {
                path: manifest_path.clone(),
                expected: hex(&expected),
                found: found.join(", "),
            });
        };
        let paths = self.options.paths.unwrap_or(if bcs >= hashed { PathEncoding::Bcs } else { PathEncoding::Hashed });
        Ok(Verified { prefix, paths, records: index, modules, problems })
    }
}

pub mod smt;

/// Resolution state of the resource pass.
struct Resolver<'a> {
    hashes: Hashes,
    paths: PathEncoding,
    tags: Option<TagTable>,
    index: ReleaseIndex<'a>,
    layouts: HashMap<StructTag, Option<Layout>>,
    book: AddressBook,
    /// The raw address scan's budget for the whole run ([`resolve::SCAN_BUDGET`]).
    scan: ScanBudget,
    /// The memory one resource may take decoded ([`Context::value_budget`]).
    value_budget: usize,
    /// Resources not decoded for being over that budget, in the current pass, and where the
    /// first was.
    over_budget: OverBudget,
}

/// Resources a pass did not decode for their size.
#[derive(Debug, Default)]
struct OverBudget {
    resources: u64,
    first: Option<String>,
}

impl Resolver<'_> {
    /// The record's resources (tag and bytes); unresolved paths are reported when `problems`.
    fn resources<'r>(
        &mut self,
        record: &Record<'r>,
        at: &Origin,
        mut problems: Option<&mut Problems>,
    ) -> Result<Vec<(StructTag, &'r [u8])>, StateError> {
        let entries =
            parse_blob(record.blob, record.blob_at).map_err(|reason| StateError::Sink(format!("{at}: {reason}")))?;
        let check_modules = problems.is_some();
        let mut out = Vec::with_capacity(entries.entries.len());
        for (path, value) in entries.entries {
            let mut report = |kind, message: String| {
                if let Some(p) = problems.as_deref_mut() {
                    p.add(
                        Problem {
                            kind,
                            origin: at.to_string(),
                            key: Some(format!("account key {}, path {}", hex(&record.key), hex(path))),
                            message,
                        },
                        u64::from(kind == ProblemKind::UnresolvedKey),
                    );
                }
            };
            match paths::read(path, self.paths) {
                AccessPath::Resource(tag) => out.push((tag, value)),
                AccessPath::HashedResource(h) => match self.tags.as_mut().and_then(|t| t.resolve(&h)) {
                    Some(tag) => out.push((tag, value)),
                    None => report(
                        ProblemKind::UnresolvedKey,
                        "the resource path's hash is no struct tag the release can form (a struct the release lacks, or a generic instance beyond the ones tried)".into(),
                    ),
                },
                AccessPath::Module(_) | AccessPath::HashedModule(_) => Self::check_module(&self.hashes, self.paths, path, value, check_modules, &mut report),
                AccessPath::Unknown(why) => report(ProblemKind::UnresolvedKey, why),
            }
        }
        Ok(out)
    }

    fn check_module(
        hashes: &Hashes,
        encoding: PathEncoding,
        path: &[u8],
        bytes: &[u8],
        check: bool,
        report: &mut dyn FnMut(ProblemKind, String),
    ) {
        if !check {
            return;
        }
        match binary_format::read_with(bytes, &ParseOptions::new(WIDTH, Detail::Layouts)) {
            Ok(m) => {
                if paths::module_path(&m.id(), encoding, hashes).as_deref() != Some(path) {
                    report(ProblemKind::BadModule, format!("the code path does not match module {}", m.id()));
                }
            }
            Err(e) => report(ProblemKind::BadModule, format!("a module that does not read: {e}")),
        }
    }

    /// The decoded value of a resource, if its layout is known and it decodes within the
    /// budget (a resource over it is counted, at `at`).
    fn decode(&mut self, tag: &StructTag, bytes: &[u8], at: &Origin) -> Option<migrations::Value> {
        if self.layouts.len() > LAYOUT_CACHE {
            self.layouts.clear();
        }
        let index = &self.index;
        let layout = self.layouts.entry(tag.clone()).or_insert_with(|| index.layout_of_struct_tag(tag).ok());
        match decode_within(bytes, layout.as_ref()?, self.value_budget) {
            Ok(v) => Some(v),
            Err(e) => {
                if matches!(e.kind, DecodeErrorKind::OverBudget { .. }) {
                    self.over_budget.resources += 1;
                    self.over_budget.first.get_or_insert_with(|| format!("{at}: {tag}"));
                }
                None
            }
        }
    }

    /// Every address the resources (of the record at `at`) mention.
    fn mentioned(&mut self, resources: &[(StructTag, &[u8])], at: &Origin) -> Vec<[u8; 16]> {
        let mut out = Vec::new();
        for (tag, bytes) in resources {
            resolve::addresses_in_tag(tag, &mut out);
            if let Some(v) = self.decode(tag, bytes, at) {
                resolve::addresses_in(&v, &mut out);
            }
        }
        out
    }

    /// The problem of the resources a pass did not decode for their size, if any (and the
    /// count starts again).
    fn over_budget_problem(&mut self, path: &Path) -> Option<Problem> {
        let over = std::mem::take(&mut self.over_budget);
        let first = over.first?;
        Some(Problem {
            kind: ProblemKind::ValueBudget,
            origin: path.display().to_string(),
            key: None,
            message: format!(
                "{} resources would take more than the {} bytes of memory one value is given if decoded (the first: {first}): not decoded, the addresses they mention not looked for (--cache-mb)",
                over.resources, self.value_budget
            ),
        })
    }

    /// The record's address (at `at`): well known, mentioned by its resources, or found in
    /// their bytes.
    fn account(&mut self, record: &Record<'_>, resources: &[(StructTag, &[u8])], at: &Origin) -> Option<[u8; 16]> {
        if let Some(a) = self.book.get(&record.key) {
            return Some(a);
        }
        let mut candidates = self.mentioned(resources, at);
        if let Some(a) = resolve::find(&self.hashes, &record.key, &mut candidates) {
            return Some(a);
        }
        self.scan.scan(&self.hashes, &record.key, resources.iter().map(|(_, bytes)| *bytes))
    }
}

impl StateSource for DiemSource {
    fn info(&self) -> SourceInfo {
        let detail = match &self.verified {
            Some(v) => format!(
                "state version {}, {} records in {} chunks, {} hashes, {}",
                self.manifest.version,
                v.records,
                self.manifest.chunks.len(),
                v.prefix,
                v.paths
            ),
            None => format!("state version {}, {} chunks", self.manifest.version, self.manifest.chunks.len()),
        };
        SourceInfo {
            format: "diem-backup",
            path: self.manifest.path.display().to_string(),
            detail,
            width: Some(WIDTH),
            chain_root: Some(ChainRoot {
                expected: hex(&self.manifest.root_hash),
                verified: self.verified.is_some(),
                scheme: match &self.verified {
                    Some(v) => format!("Diem sparse Merkle tree, {} hashes", v.prefix),
                    None => "Diem sparse Merkle tree".into(),
                },
                not_verified: vec![
                    "the manifest's proof of the root (its transaction info and ledger info): not read, so the root is taken from the manifest on trust".into(),
                    "the ledger info's signatures: not read (check the root against the chain, e.g. its waypoint)".into(),
                ],
            }),
            snapshot: None,
        }
    }

    fn modules(&mut self, visit: ModuleSink<'_>) -> Result<(), StateError> {
        let verified = self.verify()?;
        for (origin, bytes) in &verified.modules {
            visit(ModuleBytes { bytes, origin })?;
        }
        Ok(())
    }

    fn entries(
        &mut self,
        context: &Context<'_>,
        visit: EntrySink<'_>,
        problems: &mut Problems,
    ) -> Result<(), StateError> {
        let verified = self.verify()?;
        let mut key = Vec::new();
        let (prefix, encoding) = (verified.prefix, verified.paths);
        for p in &verified.problems.examples {
            problems.add(p.clone(), 0);
        }
        // Modules of the state the release lacks also form tags.
        let parse = ParseOptions::new(WIDTH, Detail::Layouts);
        let own: Vec<Module> =
            verified.modules.iter().filter_map(|(_, b)| binary_format::read_with(b, &parse).ok()).collect();
        let mut all: Vec<&Module> = context.modules.to_vec();
        for m in &own {
            if !all.iter().any(|k| k.address == m.address && k.name == m.name) {
                all.push(m);
            }
        }
        let hashes = Hashes::new(prefix);
        let index = ReleaseIndex::new(all.iter().copied(), WIDTH).map_err(|e| StateError::Sink(e.to_string()))?;
        let mut r = Resolver {
            tags: (encoding == PathEncoding::Hashed).then(|| TagTable::new(&all, hashes.clone())),
            hashes,
            paths: encoding,
            index,
            layouts: HashMap::new(),
            book: AddressBook::new(&Hashes::new(prefix)),
            scan: ScanBudget::new(self.options.scan_budget),
            value_budget: context.value_budget,
            over_budget: OverBudget::default(),
        };
        // Unresolved accounts: key -> resources held.
        let mut pending: HashMap<Hash, u64> = HashMap::new();
        let mut pending_examples: Vec<(Hash, String)> = Vec::new();
        self.each_record(&mut |path, at, record| {
            let o = origin(path, at);
            let resources = r.resources(&record, &o, Some(problems))?;
            match r.account(&record, &resources, &o) {
                Some(a) => {
                    let account = paths::account(&a);
                    for (tag, bytes) in &resources {
                        Resource { account, tag, bytes, origin: &o }.visit_as_entry(&mut key, visit)?;
                    }
                }
                None => {
                    pending.insert(record.key, resources.len() as u64);
                    if pending_examples.len() < super::problems::EXAMPLES_PER_KIND {
                        pending_examples.push((record.key, o.to_string()));
                    }
                }
            }
            Ok(())
        })?;
        if r.scan.records_cut > 0 {
            problems.add(
                Problem {
                    kind: ProblemKind::ScanBudget,
                    origin: self.manifest.path.display().to_string(),
                    key: None,
                    message: format!(
                        "the raw address scan's budget of {} bytes per run is spent: {} records nothing names were \
                         not scanned whole (their accounts are looked for among the addresses the state mentions)",
                        self.options.scan_budget, r.scan.records_cut
                    ),
                },
                0,
            );
        }
        if pending.is_empty() {
            if let Some(p) = r.over_budget_problem(&self.manifest.path) {
                problems.add(p, 0);
            }
            return Ok(());
        }
        // The next pass decodes every resource again (those counted so far among them).
        r.over_budget = OverBudget::default();
        // Every address the whole state mentions, for the accounts still unknown.
        let mut resolved: HashMap<Hash, [u8; 16]> = HashMap::new();
        self.each_record(&mut |path, at, record| {
            let o = origin(path, at);
            let resources = r.resources(&record, &o, None)?;
            for a in r.mentioned(&resources, &o) {
                let key = r.hashes.account(&a);
                if pending.contains_key(&key) {
                    resolved.insert(key, a);
                }
            }
            Ok(())
        })?;
        if let Some(p) = r.over_budget_problem(&self.manifest.path) {
            problems.add(p, 0);
        }
        if !resolved.is_empty() {
            self.each_record(&mut |path, at, record| {
                if let Some(a) = resolved.get(&record.key) {
                    let o = origin(path, at);
                    let account = paths::account(a);
                    for (tag, bytes) in r.resources(&record, &o, None)? {
                        Resource { account, tag: &tag, bytes, origin: &o }.visit_as_entry(&mut key, visit)?;
                    }
                }
                Ok(())
            })?;
        }
        let mut unresolved: Vec<(&Hash, &u64)> = pending.iter().filter(|(k, _)| !resolved.contains_key(*k)).collect();
        unresolved.sort();
        for (key, resources) in unresolved {
            let at = pending_examples
                .iter()
                .find(|(k, _)| k == key)
                .map_or_else(|| "the backup".to_owned(), |(_, o)| o.clone());
            problems.add(
                Problem {
                    kind: ProblemKind::UnresolvedAccount,
                    origin: at,
                    key: Some(format!("account key {}", hex(key))),
                    message: format!("no address the state mentions hashes to this account's key: its {resources} resources are not rehearsed"),
                },
                *resources,
            );
        }
        Ok(())
    }
}

/// Whether `path` looks like a backup: a directory, or a manifest file.
pub fn looks_like_backup(path: &Path) -> bool {
    path.is_dir() || path.file_name().is_some_and(|n| n == manifest::MANIFEST_NAME)
}

/// The chunk files of a manifest (for tests that damage them).
pub fn chunk_files(source: &DiemSource) -> Vec<PathBuf> {
    source.manifest.chunks.iter().map(|c| c.path.clone()).collect()
}
