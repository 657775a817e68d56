//! Which source a path is, from its content: a directory or a `state.manifest` is a backup, of
//! an Aptos-based chain when its manifest has an `epoch` (or the directory holds
//! `state_epoch_*` snapshot folders), of the Diem family otherwise; a file starting with the
//! snapshot's magic is our snapshot; a file whose first line is a JSON object (plain or
//! gzipped) is JSON Lines, unless that object is a backup manifest.

use super::aptos::{self, AptosOptions, AptosSource};
use super::diem::{self, DiemOptions, DiemSource};
use super::jsonl::{JsonlSource, JSONL_FILE, MAX_LINE};
use super::snapshot::SnapshotSource;
use super::{StateError, StateSource};
use serde::Serialize;
use snapshot::MAGIC;
use std::io::BufRead;
use std::path::Path;

/// A source's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Snapshot,
    Jsonl,
    DiemBackup,
    AptosBackup,
}

/// How to open a source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// A backup's era, when given rather than detected.
    pub diem: DiemOptions,
    /// Which snapshot of an Aptos-based backup, and whether an incomplete one is read as partial.
    pub aptos: AptosOptions,
}

/// Whether a JSON object has a field, its value skipped (never built: a first line is the
/// state's, and may be 64 MiB of nested arrays).
#[derive(Debug, Default)]
struct Present(bool);

impl<'de> serde::Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Present, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

/// The fields of a first line that tell a backup manifest (Aptos-based with an `epoch`) from a
/// line of JSON Lines; every other field skipped.
#[derive(Debug, Default, serde::Deserialize)]
struct ManifestFields {
    #[serde(default)]
    epoch: Present,
    #[serde(default)]
    root_hash: Present,
    #[serde(default)]
    chunks: Present,
}

/// The format of `path`, from its content.
pub fn format_of(path: &Path) -> Result<Format, StateError> {
    let meta = std::fs::metadata(path).map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
    if meta.is_dir() {
        return Ok(if aptos::layout::looks_like_aptos(path) { Format::AptosBackup } else { Format::DiemBackup });
    }
    // A manifest by name is read whole (it may be pretty-printed, its first line no object).
    let named_manifest =
        path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(diem::manifest::MANIFEST_NAME));
    if named_manifest && aptos::layout::looks_like_aptos(path) {
        return Ok(Format::AptosBackup);
    }
    let (mut lines, _) = super::lines::open_lines(path, JSONL_FILE)?;
    let head = lines.fill_buf().map_err(|e| super::lines::read_error(path, 1, e))?;
    if head.starts_with(MAGIC) || (!head.is_empty() && MAGIC.starts_with(head)) {
        return Ok(Format::Snapshot);
    }
    let mut first = Vec::new();
    while super::lines::next_line(&mut *lines, &mut first, MAX_LINE)
        .map_err(|e| super::lines::read_error(path, 1, e))?
        .is_some()
    {
        if !first.strip_prefix(&super::lines::BOM).unwrap_or(&first).trim_ascii().is_empty() {
            break;
        }
    }
    let line = first.strip_prefix(&super::lines::BOM).unwrap_or(&first).trim_ascii();
    if line.starts_with(b"{") {
        let fields = serde_json::from_slice::<ManifestFields>(line).unwrap_or_default();
        if fields.epoch.0 && fields.root_hash.0 && fields.chunks.0 {
            return Ok(Format::AptosBackup);
        }
        let manifest = fields.root_hash.0 && fields.chunks.0;
        return Ok(if manifest { Format::DiemBackup } else { Format::Jsonl });
    }
    if aptos::layout::looks_like_aptos(path) {
        return Ok(Format::AptosBackup);
    }
    if diem::looks_like_backup(path) {
        return Ok(Format::DiemBackup);
    }
    Err(StateError::Unsupported {
        path: path.to_path_buf(),
        reason: "not a state this tool reads: not a devnet snapshot, not JSON Lines (its first line is not a JSON object), not a backup of a Diem-family or Aptos-based chain (a directory or its state.manifest)".into(),
    })
}

/// Opens the state at `path`, whatever its format.
pub fn open(path: &Path, options: OpenOptions) -> Result<(Format, Box<dyn StateSource>), StateError> {
    let format = format_of(path)?;
    let source: Box<dyn StateSource> = match format {
        Format::Snapshot => Box::new(SnapshotSource::open(path)?),
        Format::Jsonl => Box::new(JsonlSource::open(path)?),
        Format::DiemBackup => Box::new(DiemSource::open(path, options.diem)?),
        Format::AptosBackup => Box::new(AptosSource::open(path, &options.aptos)?),
    };
    Ok((format, source))
}
