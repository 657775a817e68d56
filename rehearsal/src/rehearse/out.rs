//! `--out`: the migrated state written as a snapshot: the source and the migration's writes
//! merged in key order, each value with its source's extra (a chain's metadata, unchanged).

use super::overlay::{Overlay, Writes};
use crate::error::RehearsalError;
use binary_format::AddressLength;
use migrations::store::Write;
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
    for o in overlays {
        layers.extend(o.layers(&[])?);
    }
    let mut writes = Writes::of(layers, None);
    let reserved = super::migrate::reserved();
    let next = |w: &mut Writes<'_>| -> Result<Option<(Vec<u8>, Write)>, RehearsalError> {
        loop {
            match w.next_write()? {
                Some((k, _)) if k.as_slice() == reserved => continue,
                other => return Ok(other),
            }
        }
    };
    let mut pending = next(&mut writes)?;
    let mut entries = base.entries_at(0);
    while let Some(e) = entries.next_entry()? {
        while let Some((k, w)) = pending.take() {
            if k.as_slice() >= e.key {
                pending = Some((k, w));
                break;
            }
            if let Write::Put(v) = &w {
                writer.add(&k, v, &[])?;
            }
            pending = next(&mut writes)?;
        }
        match pending.take() {
            Some((k, w)) if k.as_slice() == e.key => {
                if let Write::Put(v) = &w {
                    writer.add(e.key, v, e.extra)?;
                }
                pending = next(&mut writes)?;
            }
            other => {
                pending = other;
                writer.add(e.key, e.value, e.extra)?;
            }
        }
    }
    while let Some((k, w)) = pending.take() {
        if let Write::Put(v) = &w {
            writer.add(&k, v, &[])?;
        }
        pending = next(&mut writes)?;
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
