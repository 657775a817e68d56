//! A source that is not already in canonical key order (JSON Lines, a Diem or Aptos backup, whose
//! records are ordered by hashes) is sorted once into a snapshot file in the scratch directory,
//! with memory bounded by a budget: entries are gathered into runs of at most that many bytes,
//! each sorted and written out, and the runs merged into one snapshot. The rehearsal then reads
//! that file in place, as it reads a snapshot it is given.
//!
//! A key given twice is resolved as the source gave it last; two different values under one key
//! are a problem that makes the input incomplete (which value a chain holds cannot be told), the
//! same value twice only a counted repeat.
//!
//! Where each entry was read (its file, and the byte or line in it) travels with it through the
//! sort into a side table ([`Origins`]: 13 bytes per entry of the sorted file, by entry number),
//! so that a finding names the place in the operator's own input, not in the scratch copy.

use super::Bounded;
use crate::error::RehearsalError;
use crate::state::{At, Context, Entry, Origin, Problem, ProblemKind, Problems, StateError, StateSource};
use binary_format::AddressLength;
use snapshot::{Snapshot, SnapshotWriter};
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Bytes an entry costs in a run's memory beyond its key, value and extra.
const ENTRY_OVERHEAD: usize = 80;

/// What sorting found.
#[derive(Debug, Default)]
pub struct Sorted {
    /// Entries read (repeats included).
    pub read: u64,
    /// Keys given more than once with the same value.
    pub repeated: u64,
    /// Keys given more than once with different values: the key, and where the value that was
    /// replaced was read.
    pub conflicting: Bounded<(String, Packed)>,
}

/// One entry read back from a run: key, value, extra, its position in the source (the last
/// wins), and where it was read.
type Gathered = (Vec<u8>, Vec<u8>, Vec<u8>, u64, Packed);

/// An entry as the sort sees it: key, value, extra, and where it was read.
type Seen<'a> = (&'a [u8], &'a [u8], &'a [u8], Packed);

/// A gathered entry as the sort sees it.
fn seen(g: &Gathered) -> Seen<'_> {
    (&g.0, &g.1, &g.2, g.4)
}

/// A run being gathered: every entry's bytes end to end in one buffer (kept from run to run),
/// and where each lies. An entry gathered as three buffers of its own was three allocations,
/// freed when the run was written (with the runs read back the same way, a fifth of the sort's
/// time, and twice the memory the budget counted).
#[derive(Default)]
struct Run {
    bytes: Vec<u8>,
    /// Each entry: where its bytes start, its key's, value's and extra's lengths, its position
    /// in the source, where it was read.
    entries: Vec<(usize, [u32; 3], u64, Packed)>,
}

impl Run {
    fn push(&mut self, key: &[u8], value: &[u8], extra: &[u8], position: u64, origin: Packed) {
        let at = self.bytes.len();
        for part in [key, value, extra] {
            self.bytes.extend_from_slice(part);
        }
        let len = |b: &[u8]| u32::try_from(b.len()).unwrap_or(u32::MAX);
        self.entries.push((at, [len(key), len(value), len(extra)], position, origin));
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entry `e`'s key, value and extra.
    fn parts(&self, e: &(usize, [u32; 3], u64, Packed)) -> (&[u8], &[u8], &[u8]) {
        let (at, [k, v, x], _, _) = *e;
        let (k, v, x) = (k as usize, v as usize, x as usize);
        let part = |from: usize, len: usize| self.bytes.get(from..from + len).unwrap_or_default();
        (part(at, k), part(at + k, v), part(at + k + v, x))
    }

    /// Sorts the entries by key, then position (all distinct: a sort that need not keep equal
    /// entries in place is the faster).
    fn sort(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| self.parts(a).0.cmp(self.parts(b).0).then(a.2.cmp(&b.2)));
        self.entries = entries;
    }

    /// Entry `i`, as the sort sees it.
    fn seen(&self, i: usize) -> Option<Seen<'_>> {
        let e = self.entries.get(i)?;
        let (k, v, x) = self.parts(e);
        Some((k, v, x, e.3))
    }

    /// Forgets every entry, keeping the buffers.
    fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
    }
}

/// An [`Origin`] in 13 bytes: the file's number among the files read, how the place is counted,
/// and the place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Packed {
    file: u32,
    kind: u8,
    at: u64,
}

const PACKED: usize = 13;

impl Packed {
    fn to_bytes(self) -> [u8; PACKED] {
        let mut out = [0u8; PACKED];
        out[..4].copy_from_slice(&self.file.to_le_bytes());
        out[4] = self.kind;
        out[5..].copy_from_slice(&self.at.to_le_bytes());
        out
    }

    fn from_bytes(b: &[u8; PACKED]) -> Packed {
        let mut file = [0u8; 4];
        file.copy_from_slice(&b[..4]);
        let mut at = [0u8; 8];
        at.copy_from_slice(&b[5..]);
        Packed { file: u32::from_le_bytes(file), kind: b[4], at: u64::from_le_bytes(at) }
    }
}

/// The files entries were read from, numbered as they are met.
#[derive(Debug, Default)]
struct Files {
    files: Vec<Rc<Path>>,
}

impl Files {
    fn pack(&mut self, origin: &Origin) -> Packed {
        // Entries come file by file: the last file is nearly always the one.
        let file = match self.files.iter().rposition(|f| Rc::ptr_eq(f, &origin.file) || **f == *origin.file) {
            Some(i) => i,
            None => {
                self.files.push(origin.file.clone());
                self.files.len() - 1
            }
        };
        let (kind, at) = match origin.at {
            At::Byte(n) => (0, n),
            At::Line(n) => (1, n),
            At::Record(n) => (2, n),
        };
        Packed { file: u32::try_from(file).unwrap_or(u32::MAX), kind, at }
    }
}

/// Where each entry of the sorted copy was read, by its number in the copy.
#[derive(Debug)]
pub struct Origins {
    path: PathBuf,
    file: File,
    files: Vec<String>,
}

impl Origins {
    /// Where entry `number` of the sorted copy was read, as people read it.
    pub fn of(&self, number: u64) -> Option<String> {
        use std::io::{Seek, SeekFrom};
        let mut b = [0u8; PACKED];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(number.checked_mul(PACKED as u64)?)).ok()?;
        file.read_exact(&mut b).ok()?;
        self.render(Packed::from_bytes(&b))
    }

    /// A packed origin as people read it.
    fn render(&self, p: Packed) -> Option<String> {
        let file = self.files.get(usize::try_from(p.file).ok()?)?;
        Some(match p.kind {
            0 => format!("{file} at byte {}", p.at),
            1 => format!("{file}:{}", p.at),
            _ => format!("{file} resource {}", p.at),
        })
    }

    /// The table's file (in the scratch directory).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RehearsalError + '_ {
    move |source| RehearsalError::Io { path: path.to_path_buf(), source }
}

fn write_bytes(out: &mut impl Write, b: &[u8]) -> std::io::Result<()> {
    out.write_all(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes())?;
    out.write_all(b)
}

/// Writes a run, sorted, to a run file, and empties it.
fn write_run(path: &Path, run: &mut Run) -> Result<(), RehearsalError> {
    run.sort();
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(io(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for e in &run.entries {
        let (k, v, x) = run.parts(e);
        write_bytes(&mut out, k).map_err(io(path))?;
        write_bytes(&mut out, v).map_err(io(path))?;
        write_bytes(&mut out, x).map_err(io(path))?;
        out.write_all(&e.2.to_le_bytes()).map_err(io(path))?;
        out.write_all(&e.3.to_bytes()).map_err(io(path))?;
    }
    run.clear();
    out.flush().map_err(io(path))
}

/// Reads a run file back, in order.
struct RunReader {
    path: PathBuf,
    reader: BufReader<File>,
}

impl RunReader {
    /// Reads a field into `into` (its buffer reused); `false` at the end of the file.
    fn bytes(&mut self, into: &mut Vec<u8>) -> Result<bool, RehearsalError> {
        let mut len = [0u8; 4];
        match self.reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(io(&self.path)(e)),
        }
        into.clear();
        into.resize(u32::from_le_bytes(len) as usize, 0);
        self.reader.read_exact(into).map_err(io(&self.path))?;
        Ok(true)
    }

    /// Reads the next entry into `into` (its buffers reused); `false` after the last.
    fn next_into(&mut self, into: &mut Gathered) -> Result<bool, RehearsalError> {
        if !self.bytes(&mut into.0)? {
            return Ok(false);
        }
        let short = |path: &Path| RehearsalError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        };
        for field in [&mut into.1, &mut into.2] {
            if !self.bytes(field)? {
                return Err(short(&self.path));
            }
        }
        let mut seq = [0u8; 8];
        self.reader.read_exact(&mut seq).map_err(io(&self.path))?;
        let mut origin = [0u8; PACKED];
        self.reader.read_exact(&mut origin).map_err(io(&self.path))?;
        (into.3, into.4) = (u64::from_le_bytes(seq), Packed::from_bytes(&origin));
        Ok(true)
    }
}

/// A run's head in the merge: ordered so that the heap pops the smallest key, then the earliest
/// position (so the last one read of a key comes out last and wins).
struct Head(Gathered, usize);

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        (&self.0 .0, self.0 .3) == (&other.0 .0, other.0 .3)
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&other.0 .0, other.0 .3).cmp(&(&self.0 .0, self.0 .3))
    }
}

/// Reads every entry of `source` and writes them, sorted, into a new snapshot at `out` (in the
/// scratch directory `dir`), and where each was read into an [`Origins`] table beside it,
/// holding at most `budget` bytes of entries in memory. Problems of the source are recorded in
/// `problems`.
#[allow(clippy::too_many_arguments)]
pub fn sort_into(
    source: &mut dyn StateSource,
    context: &Context<'_>,
    problems: &mut Problems,
    dir: &Path,
    out: &Path,
    width: AddressLength,
    budget: usize,
    examples: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<(Snapshot, Origins, Sorted), RehearsalError> {
    let mut sorted = Sorted { conflicting: Bounded::new(examples), ..Sorted::default() };
    let mut files = Files::default();
    let mut runs: Vec<PathBuf> = Vec::new();
    let mut gathered = Run::default();
    let mut bytes = 0usize;
    let mut failure: Option<RehearsalError> = None;
    let budget = budget.max(1 << 20);
    let result = source.entries(
        context,
        &mut |e: Entry<'_>| {
            // Refused where it is read, with its place: the snapshot would refuse it after the
            // sort, and a run counts lengths in 32 bits.
            if e.key.len() > snapshot::MAX_KEY || e.value.len() > snapshot::MAX_VALUE || e.extra.len() > snapshot::MAX_EXTRA
            {
                let place = match e.origin.at {
                    At::Byte(offset) => format!("at byte {offset}"),
                    At::Line(line) => format!("line {line}"),
                    At::Record(n) => format!("resource {n}"),
                };
                return Err(StateError::Unsupported {
                    path: e.origin.file.to_path_buf(),
                    reason: format!(
                        "{place}: an entry of a {} byte key, a {} byte value and a {} byte extra, past what a state entry may hold ({} / {} / {} bytes)",
                        e.key.len(),
                        e.value.len(),
                        e.extra.len(),
                        snapshot::MAX_KEY,
                        snapshot::MAX_VALUE,
                        snapshot::MAX_EXTRA,
                    ),
                });
            }
            bytes += e.key.len() + e.value.len() + e.extra.len() + ENTRY_OVERHEAD;
            let origin = files.pack(e.origin);
            gathered.push(e.key, e.value, e.extra, sorted.read, origin);
            sorted.read += 1;
            if bytes > budget {
                let path = dir.join(format!("sort-{}.run", runs.len()));
                if let Err(err) = write_run(&path, &mut gathered) {
                    let message = err.to_string();
                    failure = Some(err);
                    return Err(StateError::Sink(message));
                }
                runs.push(path);
                bytes = 0;
                progress(sorted.read);
            }
            Ok(())
        },
        problems,
    );
    if let Some(e) = failure {
        return Err(e);
    }
    result?;
    progress(sorted.read);
    let mut writer = SnapshotWriter::create(out, 0, serde_json::Value::Null, width)?;
    let origins_path = out.with_extension("origins");
    let origins_file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&origins_path)
        .map_err(io(&origins_path))?;
    let mut table = BufWriter::with_capacity(1 << 20, &origins_file);
    let mut add = |(key, value, extra, origin): Seen<'_>| -> Result<(), RehearsalError> {
        writer.add(key, value, extra)?;
        table.write_all(&origin.to_bytes()).map_err(io(&origins_path))
    };
    if runs.is_empty() {
        // One run, in memory: sorted in place.
        gathered.sort();
        for i in 0..gathered.entries.len() {
            let Some(entry) = gathered.seen(i) else { break };
            let next = gathered.seen(i + 1);
            if next.is_some_and(|n| n.0 == entry.0) {
                note_repeat(&mut sorted, entry, next, width);
                continue;
            }
            add(entry)?;
        }
    } else {
        if !gathered.is_empty() {
            let path = dir.join(format!("sort-{}.run", runs.len()));
            write_run(&path, &mut gathered)?;
            runs.push(path);
        }
        let mut readers = Vec::with_capacity(runs.len());
        for path in &runs {
            let file = File::open(path).map_err(io(path))?;
            readers.push(RunReader { path: path.clone(), reader: BufReader::with_capacity(256 << 10, file) });
        }
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            let mut first = Gathered::default();
            if r.next_into(&mut first)? {
                heap.push(Head(first, i));
            }
        }
        // The buffers of the entry last written, read into again: one set goes round, none is
        // allocated per entry.
        let mut spare = Gathered::default();
        while let Some(Head(entry, i)) = heap.pop() {
            if let Some(reader) = readers.get_mut(i) {
                if reader.next_into(&mut spare)? {
                    heap.push(Head(std::mem::take(&mut spare), i));
                }
            }
            if heap.peek().is_some_and(|h| h.0 .0 == entry.0) {
                note_repeat(&mut sorted, seen(&entry), heap.peek().map(|h| seen(&h.0)), width);
            } else {
                add(seen(&entry))?;
            }
            spare = entry;
        }
        for path in &runs {
            let _ = std::fs::remove_file(path);
        }
    }
    table.flush().map_err(io(&origins_path))?;
    drop(table);
    writer.finish()?;
    let snapshot = Snapshot::open(out)?;
    let files = files.files.iter().map(|f| f.display().to_string()).collect();
    let origins = Origins { path: origins_path, file: origins_file, files };
    if let Some((key, at)) = sorted.conflicting.items().first() {
        problems.add(
            Problem {
                kind: ProblemKind::Conflict,
                origin: origins.render(*at).unwrap_or_else(|| source.info().path),
                key: Some(key.clone()),
                message: format!(
                    "{} keys are given more than once with different values (the last one read is kept): which one the chain holds cannot be told",
                    sorted.conflicting.total
                ),
            },
            sorted.conflicting.total,
        );
    }
    Ok((snapshot, origins, sorted))
}

/// Counts `entry`, which a later entry `next` of the same key replaces.
fn note_repeat(sorted: &mut Sorted, entry: Seen<'_>, next: Option<Seen<'_>>, width: AddressLength) {
    match next {
        Some(n) if n.1 == entry.1 && n.2 == entry.2 => sorted.repeated += 1,
        _ => sorted.conflicting.push((migrations::state_key::describe(entry.0, width), entry.3)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::state::{EntrySink, ModuleSink, SourceInfo};
    use migrations::{AccountAddress, StateKey, StructTag};

    /// Entries given in any order, some keys twice (the same value, or another).
    struct Given(Vec<(Vec<u8>, Vec<u8>)>, Rc<Path>);

    impl StateSource for Given {
        fn info(&self) -> SourceInfo {
            SourceInfo {
                format: "jsonl",
                path: "given".into(),
                detail: String::new(),
                width: None,
                chain_root: None,
                snapshot: None,
            }
        }

        fn modules(&mut self, _visit: ModuleSink<'_>) -> Result<(), StateError> {
            Ok(())
        }

        fn entries(&mut self, _: &Context<'_>, visit: EntrySink<'_>, _: &mut Problems) -> Result<(), StateError> {
            for (n, (key, value)) in self.0.iter().enumerate() {
                let origin = Origin { file: self.1.clone(), at: At::Line(n as u64 + 1) };
                visit(Entry { key, value, extra: &[7], origin: &origin })?;
            }
            Ok(())
        }
    }

    /// An entry past the snapshot's limits is refused where the source gave it (a run counts
    /// lengths in 32 bits: it is never gathered).
    #[test]
    fn an_entry_past_the_limits_is_refused_with_its_place() {
        let width = AddressLength::Bytes16;
        let tag = StructTag::parse("0x1::M::S", width).unwrap();
        let key = StateKey::Resource { account: AccountAddress::from_u64(1, width), tag }.encode();
        let mut source = Given(
            vec![(key.clone(), vec![1]), (key, vec![0; snapshot::MAX_VALUE + 1])],
            Rc::from(Path::new("big.jsonl")),
        );
        let dir = tempfile::tempdir().unwrap();
        let context = Context { width, modules: &[], value_budget: 1 << 20 };
        let e = sort_into(
            &mut source,
            &context,
            &mut Problems::default(),
            dir.path(),
            &dir.path().join("s.snap"),
            width,
            1 << 20,
            4,
            &mut |_| {},
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("big.jsonl")
                && e.contains("line 2")
                && e.contains(&format!("a {} byte value", snapshot::MAX_VALUE + 1)),
            "{e}"
        );
    }

    /// Sorted in one run held in memory, or in many written to files and merged: the same
    /// snapshot, the same origins, the same repeats and conflicts (the last value read kept).
    #[test]
    fn one_run_or_many_sort_the_same() {
        let width = AddressLength::Bytes16;
        let tag = StructTag::parse("0x1::M::S", width).unwrap();
        let key =
            |a: u64| StateKey::Resource { account: AccountAddress::from_u64(a + 1, width), tag: tag.clone() }.encode();
        let value = |a: u64| vec![(a % 251) as u8; 20];
        // 30,000 keys out of order, then 10,000 given again: the same value, or (every third)
        // another.
        let mut given: Vec<_> = (0..30_000u64).map(|n| (n * 7_919) % 30_000).map(|a| (key(a), value(a))).collect();
        for n in 0..10_000u64 {
            let a = (n * 13) % 30_000;
            given.push((key(a), if n % 3 == 0 { vec![1, 2, 3] } else { value(a) }));
        }
        let sorted_with = |budget: usize| {
            let dir = tempfile::tempdir().unwrap();
            let mut source = Given(given.clone(), Rc::from(Path::new("given.jsonl")));
            let context = Context { width, modules: &[], value_budget: 1 << 20 };
            let out = dir.path().join("sorted.snap");
            let mut problems = Problems::default();
            let (snap, origins, sorted) =
                sort_into(&mut source, &context, &mut problems, dir.path(), &out, width, budget, 4, &mut |_| {})
                    .unwrap();
            let runs = std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".run"));
            assert_eq!(runs.count(), 0, "run files are removed");
            let origin: Vec<_> = (0..snap.info().entries).map(|n| origins.of(n)).collect();
            (
                std::fs::read(&out).unwrap(),
                origin,
                sorted.read,
                sorted.repeated,
                sorted.conflicting.total,
                format!("{problems:?}"),
            )
        };
        let one = sorted_with(64 << 20);
        let many = sorted_with(1);
        assert_eq!(one.2, 40_000);
        assert!(one.3 > 0 && one.4 > 0, "repeats {} and conflicts {}", one.3, one.4);
        assert!(one == many, "one run and many differ");
    }
}
