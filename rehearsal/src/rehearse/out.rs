//! `--out`: the migrated state written as a snapshot: the source and the migration's writes
//! merged in key order, each value with its source's extra (a chain's metadata, unchanged).

use super::overlay::{Overlay, Writes};
use crate::error::RehearsalError;
use binary_format::AddressLength;
use snapshot::{Snapshot, SnapshotWriter};
use std::path::Path;

/// Writes the state after the migration to a new snapshot at `path`.
pub fn write(
    base: &Snapshot,
    overlays: &[Overlay<'_>],
    path: &Path,
    height: u64,
    chain: serde_json::Value,
    width: AddressLength,
) -> Result<(), RehearsalError> {
    let mut writer = SnapshotWriter::create(path, height, chain, width)?;
    let mut layers = Vec::new();
    let block = super::overlay::read_block(overlays.iter().map(Overlay::runs).sum());
    for o in overlays {
        layers.extend(o.layers(&[], block)?);
    }
    let mut writes = Writes::of(layers, None)?;
    let reserved = super::migrate::reserved();
    // Moves past the status the hook kept under its reserved key: not state.
    let skip_reserved = |w: &mut Writes<'_>| -> Result<(), RehearsalError> {
        while w.head_key() == Some(reserved) {
            w.advance()?;
        }
        Ok(())
    };
    skip_reserved(&mut writes)?;
    let mut entries = base.entries_at(0);
    while let Some(e) = entries.next_entry()? {
        // Writes before this entry's key, then the write at it (which replaces it), if any.
        while let Some((k, v)) = writes.head().filter(|(k, _)| *k < e.key) {
            if let Some(v) = v {
                writer.add(k, v, &[])?;
            }
            writes.advance()?;
            skip_reserved(&mut writes)?;
        }
        match writes.head() {
            Some((k, v)) if k == e.key => {
                if let Some(v) = v {
                    writer.add(e.key, v, e.extra)?;
                }
                writes.advance()?;
                skip_reserved(&mut writes)?;
            }
            _ => writer.add(e.key, e.value, e.extra)?,
        }
    }
    while let Some((k, v)) = writes.head() {
        if let Some(v) = v {
            writer.add(k, v, &[])?;
        }
        writes.advance()?;
        skip_reserved(&mut writes)?;
    }
    writer.finish()?;
    Ok(())
}

/// Writes the tables the release rewrites to a new file at `path` (never over another): the
/// JSON array of `{"handle", "value_type"}` a node's release plan is configured with, sorted by
/// handle.
pub fn write_tables(path: &Path, tables: &[migrations::runner::MigratedTable]) -> Result<(), RehearsalError> {
    use std::io::Write as _;
    let mut listed: Vec<super::tables::ListedTable> = tables
        .iter()
        .map(|t| super::tables::ListedTable { handle: t.handle.to_string(), value_type: t.value.to_string() })
        .collect();
    listed.sort_by(|a, b| a.handle.cmp(&b.handle));
    let io = |source| RehearsalError::Io { path: path.to_path_buf(), source };
    let json = serde_json::to_vec_pretty(&listed).map_err(|e| io(std::io::Error::other(e)))?;
    let mut file = input_files::output::create_new(path).map_err(io)?;
    file.write_all(&json).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    file.sync_all().map_err(io)
}
