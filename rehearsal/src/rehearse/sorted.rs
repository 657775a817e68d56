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

/// One gathered entry: key, value, extra, its position in the source (the last wins), and
/// where it was read.
type Gathered = (Vec<u8>, Vec<u8>, Vec<u8>, u64, Packed);

/// An [`Origin`] in 13 bytes: the file's number among the files read, how the place is counted,
/// and the place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Writes a sorted run file.
fn write_run(path: &Path, entries: &mut Vec<Gathered>) -> Result<(), RehearsalError> {
    // Positions are distinct: (key, position) orders every entry, and a sort that need not keep
    // equal entries in place is the faster.
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.3.cmp(&b.3)));
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(io(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for (k, v, x, seq, origin) in entries.drain(..) {
        write_bytes(&mut out, &k).map_err(io(path))?;
        write_bytes(&mut out, &v).map_err(io(path))?;
        write_bytes(&mut out, &x).map_err(io(path))?;
        out.write_all(&seq.to_le_bytes()).map_err(io(path))?;
        out.write_all(&origin.to_bytes()).map_err(io(path))?;
    }
    out.flush().map_err(io(path))
}

/// Reads a run file back, in order.
struct RunReader {
    path: PathBuf,
    reader: BufReader<File>,
}

impl RunReader {
    fn bytes(&mut self) -> Result<Option<Vec<u8>>, RehearsalError> {
        let mut len = [0u8; 4];
        match self.reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io(&self.path)(e)),
        }
        let mut v = vec![0u8; u32::from_le_bytes(len) as usize];
        self.reader.read_exact(&mut v).map_err(io(&self.path))?;
        Ok(Some(v))
    }

    fn next(&mut self) -> Result<Option<Gathered>, RehearsalError> {
        let Some(k) = self.bytes()? else { return Ok(None) };
        let short = |path: &Path| RehearsalError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        };
        let v = self.bytes()?.ok_or_else(|| short(&self.path))?;
        let x = self.bytes()?.ok_or_else(|| short(&self.path))?;
        let mut seq = [0u8; 8];
        self.reader.read_exact(&mut seq).map_err(io(&self.path))?;
        let mut origin = [0u8; PACKED];
        self.reader.read_exact(&mut origin).map_err(io(&self.path))?;
        Ok(Some((k, v, x, u64::from_le_bytes(seq), Packed::from_bytes(&origin))))
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
    let mut gathered: Vec<Gathered> = Vec::new();
    let mut bytes = 0usize;
    let mut failure: Option<RehearsalError> = None;
    let budget = budget.max(1 << 20);
    let result = source.entries(
        context,
        &mut |e: Entry<'_>| {
            bytes += e.key.len() + e.value.len() + e.extra.len() + ENTRY_OVERHEAD;
            let origin = files.pack(e.origin);
            gathered.push((e.key.to_vec(), e.value.to_vec(), e.extra.to_vec(), sorted.read, origin));
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
    let mut add = |entry: &Gathered| -> Result<(), RehearsalError> {
        writer.add(&entry.0, &entry.1, &entry.2)?;
        table.write_all(&entry.4.to_bytes()).map_err(io(&origins_path))
    };
    if runs.is_empty() {
        // One run, in memory: sorted in place.
        gathered.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.3.cmp(&b.3)));
        let mut iter = gathered.into_iter().peekable();
        while let Some(entry) = iter.next() {
            if iter.peek().is_some_and(|next| next.0 == entry.0) {
                note_repeat(&mut sorted, &entry, iter.peek(), width);
                continue;
            }
            add(&entry)?;
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
            if let Some(first) = r.next()? {
                heap.push(Head(first, i));
            }
        }
        while let Some(Head(entry, i)) = heap.pop() {
            if let Some(next) = readers.get_mut(i).map(RunReader::next).transpose()?.flatten() {
                heap.push(Head(next, i));
            }
            if heap.peek().is_some_and(|h| h.0 .0 == entry.0) {
                note_repeat(&mut sorted, &entry, heap.peek().map(|h| &h.0), width);
                continue;
            }
            add(&entry)?;
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
fn note_repeat(sorted: &mut Sorted, entry: &Gathered, next: Option<&Gathered>, width: AddressLength) {
    match next {
        Some(n) if n.1 == entry.1 && n.2 == entry.2 => sorted.repeated += 1,
        _ => sorted.conflicting.push((migrations::state_key::describe(&entry.0, width), entry.4)),
    }
}
