//! Which source a path is, from its content: a directory or a `state.manifest` is a Diem-family
//! backup; a file starting with the snapshot's magic is our snapshot; a file whose first line
//! is a JSON object (plain or gzipped) is JSON Lines, unless that object is a backup manifest.

use super::diem::{self, DiemOptions, DiemSource};
use super::jsonl::{self, JsonlSource, JSONL_FILE, MAX_LINE};
use super::snapshot::SnapshotSource;
use super::{StateError, StateSource};
use crate::snapshot::MAGIC;
use serde::Serialize;
use std::io::BufRead;
use std::path::Path;

/// A source's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Snapshot,
    Jsonl,
    DiemBackup,
}

/// How to open a source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// A backup's era, when given rather than detected.
    pub diem: DiemOptions,
}

/// The format of `path`, from its content.
pub fn format_of(path: &Path) -> Result<Format, StateError> {
    let meta = std::fs::metadata(path).map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
    if meta.is_dir() {
        return Ok(Format::DiemBackup);
    }
    let (mut lines, _) = jsonl::open_lines(path, JSONL_FILE)?;
    let head = lines.fill_buf().map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
    if head.starts_with(MAGIC) || (!head.is_empty() && MAGIC.starts_with(head)) {
        return Ok(Format::Snapshot);
    }
    let mut first = Vec::new();
    while jsonl::next_line(&mut *lines, &mut first, MAX_LINE)
        .map_err(|source| StateError::Io { path: path.to_path_buf(), source })?
        .is_some()
    {
        if !first.strip_prefix(&jsonl::BOM).unwrap_or(&first).trim_ascii().is_empty() {
            break;
        }
    }
    let line = first.strip_prefix(&jsonl::BOM).unwrap_or(&first).trim_ascii();
    if line.starts_with(b"{") {
        let manifest = serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .is_some_and(|v| v.get("root_hash").is_some() && v.get("chunks").is_some());
        return Ok(if manifest { Format::DiemBackup } else { Format::Jsonl });
    }
    if diem::looks_like_backup(path) {
        return Ok(Format::DiemBackup);
    }
    Err(StateError::Unsupported {
        path: path.to_path_buf(),
        reason: "not a state this tool reads: not a devnet snapshot, not JSON Lines (its first line is not a JSON object), not a Diem-family backup (a directory or its state.manifest)".into(),
    })
}

/// Opens the state at `path`, whatever its format.
pub fn open(path: &Path, options: OpenOptions) -> Result<(Format, Box<dyn StateSource>), StateError> {
    let format = format_of(path)?;
    let source: Box<dyn StateSource> = match format {
        Format::Snapshot => Box::new(SnapshotSource::open(path)?),
        Format::Jsonl => Box::new(JsonlSource::open(path)?),
        Format::DiemBackup => Box::new(DiemSource::open(path, options.diem)?),
    };
    Ok((format, source))
}
