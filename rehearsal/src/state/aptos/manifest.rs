//! An Aptos-based snapshot's `state.manifest`: JSON `{version, epoch, root_hash, chunks:
//! [{first_idx, last_idx, first_key, last_key, blobs, proof}], proof}`, hashes in hex, `blobs`
//! and `proof` file handles relative to the backup's top directory. The `epoch` field is what
//! tells it from a Diem-era manifest.
//!
//! Checked here, before any chunk is opened: every hash is 32 bytes of hex; the chunks number
//! the records from 0 without gap or overlap; each chunk's keys are in order and below the
//! next chunk's; every handle is a relative path without `..`.

use crate::state::diem::hash::{hex, Hash};
use crate::state::diem::manifest::parse_hash;
use crate::state::StateError;
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

use super::limits::MAX_CHUNKS;

#[derive(Deserialize)]
struct ManifestJson {
    version: u64,
    epoch: u64,
    root_hash: String,
    chunks: Vec<ChunkJson>,
    proof: String,
}

#[derive(Deserialize)]
struct ChunkJson {
    first_idx: u64,
    last_idx: u64,
    first_key: String,
    last_key: String,
    blobs: String,
    proof: String,
}

/// One chunk the manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestChunk {
    /// The chunk file's handle, and its range proof's (not read: the whole root is recomputed).
    pub blobs: String,
    pub proof: String,
    /// Its first and last record's index (inclusive) in the whole snapshot.
    pub first_idx: u64,
    pub last_idx: u64,
    pub first_key: Hash,
    pub last_key: Hash,
}

impl ManifestChunk {
    /// The records it holds.
    pub fn records(&self) -> u64 {
        self.last_idx - self.first_idx + 1
    }
}

/// A manifest, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub path: PathBuf,
    pub version: u64,
    pub epoch: u64,
    pub root_hash: Hash,
    pub chunks: Vec<ManifestChunk>,
    /// The handle of `state.proof`.
    pub proof: String,
}

/// A handle that is safe to join to the top directory: relative, made of names only.
pub fn safe_relative(handle: &str) -> Option<&Path> {
    let p = Path::new(handle);
    (!handle.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))).then_some(p)
}

impl Manifest {
    /// Reads a manifest's (unpacked) bytes; `path` names it in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest, StateError> {
        let bad = |reason: String| StateError::Manifest { path: path.to_path_buf(), reason };
        let json: ManifestJson = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("not an Aptos-based state snapshot manifest: {e}")))?;
        if json.chunks.len() > MAX_CHUNKS {
            return Err(bad(format!("{} chunks, more than the limit of {MAX_CHUNKS}", json.chunks.len())));
        }
        let root_hash = parse_hash(&json.root_hash)
            .ok_or_else(|| bad(format!("root_hash {:?} is not 64 hex digits", json.root_hash)))?;
        let handle = |h: String, what: String| {
            if safe_relative(&h).is_some() {
                Ok(h)
            } else {
                Err(bad(format!("{what} {h:?} is not a relative path inside the backup")))
            }
        };
        let proof = handle(json.proof, "the proof handle".into())?;
        let mut chunks: Vec<ManifestChunk> = Vec::with_capacity(json.chunks.len());
        let mut next_idx = 0u64;
        for (i, c) in json.chunks.into_iter().enumerate() {
            let key = |s: &str, what: &str| {
                parse_hash(s).ok_or_else(|| bad(format!("chunk {i}: {what} {s:?} is not 64 hex digits")))
            };
            let (first_key, last_key) = (key(&c.first_key, "first_key")?, key(&c.last_key, "last_key")?);
            if c.first_idx != next_idx || c.last_idx < c.first_idx {
                return Err(bad(format!(
                    "chunk {i} holds records {}..={}, the chunks before it end at {}",
                    c.first_idx,
                    c.last_idx,
                    next_idx.checked_sub(1).map_or_else(|| "none (it must start at 0)".to_owned(), |n| n.to_string())
                )));
            }
            if first_key > last_key || (c.first_idx == c.last_idx && first_key != last_key) {
                return Err(bad(format!(
                    "chunk {i}: first_key {} is not before last_key {}",
                    hex(&first_key),
                    hex(&last_key)
                )));
            }
            if let Some(before) = chunks.last().filter(|b| b.last_key >= first_key) {
                return Err(bad(format!(
                    "chunk {i}: first_key {} is not after the last key of the chunk before it, {}",
                    hex(&first_key),
                    hex(&before.last_key)
                )));
            }
            next_idx = c.last_idx.saturating_add(1);
            chunks.push(ManifestChunk {
                blobs: handle(c.blobs, format!("chunk {i}: the blobs handle"))?,
                proof: handle(c.proof, format!("chunk {i}: the proof handle"))?,
                first_idx: c.first_idx,
                last_idx: c.last_idx,
                first_key,
                last_key,
            });
        }
        Ok(Manifest { path: path.to_path_buf(), version: json.version, epoch: json.epoch, root_hash, chunks, proof })
    }

    /// Records the chunks hold, by the manifest.
    pub fn records(&self) -> u64 {
        self.chunks.last().map_or(0, |c| c.last_idx.saturating_add(1))
    }

    /// Whether a file's bytes are an Aptos-based manifest rather than a Diem-era one (it has an
    /// `epoch` beside `root_hash` and `chunks`), read as [`Manifest::parse`] reads them (the
    /// contents of fields it does not know are skipped, not checked, nor built).
    pub fn is_aptos_bytes(bytes: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(rename = "epoch")]
            _epoch: serde::de::IgnoredAny,
            #[serde(rename = "root_hash")]
            _root_hash: serde::de::IgnoredAny,
            #[serde(rename = "chunks")]
            _chunks: serde::de::IgnoredAny,
        }
        serde_json::from_slice::<Probe>(bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(chunks: &str) -> String {
        format!(
            r#"{{"version":9,"epoch":2,"root_hash":"{}","chunks":[{chunks}],"proof":"s/state.proof"}}"#,
            "ab".repeat(32)
        )
    }

    fn chunk(first: u64, last: u64, k1: u8, k2: u8, blobs: &str) -> String {
        format!(
            r#"{{"first_idx":{first},"last_idx":{last},"first_key":"{}","last_key":"{}","blobs":"{blobs}","proof":"s/p"}}"#,
            hex(&[k1; 32]),
            hex(&[k2; 32])
        )
    }

    fn refused(text: &str, needle: &str) {
        let e = Manifest::parse(text.as_bytes(), Path::new("m")).unwrap_err().to_string();
        assert!(e.contains(needle), "{needle:?} not in {e}");
        assert_eq!(e.lines().count(), 1);
    }

    #[test]
    fn a_manifest_reads_and_its_ranges_keys_and_handles_are_checked() {
        let good = manifest(&[chunk(0, 2, 1, 3, "s/0-.chunk"), chunk(3, 3, 4, 4, "s/3-.chunk")].join(","));
        let m = Manifest::parse(good.as_bytes(), Path::new("m")).unwrap();
        assert_eq!((m.version, m.epoch, m.records(), m.chunks.len()), (9, 2, 4, 2));
        assert_eq!(m.chunks.first().map(ManifestChunk::records), Some(3));
        refused(&manifest(&chunk(1, 2, 1, 3, "a")), "must start at 0");
        refused(&manifest(&[chunk(0, 2, 1, 3, "a"), chunk(2, 3, 4, 5, "b")].join(",")), "end at 2");
        refused(&manifest(&chunk(0, 2, 3, 1, "a")), "not before last_key");
        refused(&manifest(&[chunk(0, 2, 1, 3, "a"), chunk(3, 4, 3, 5, "b")].join(",")), "not after the last key");
        refused(&manifest(&chunk(0, 2, 1, 3, "../a")), "not a relative path");
        refused(&manifest(&chunk(0, 2, 1, 3, "/etc/passwd")), "not a relative path");
        refused(&good.replace(&"ab".repeat(32), "abc"), "not 64 hex digits");
        refused(&good.replace("\"epoch\":2,", ""), "missing field `epoch`");
        refused("[1]", "not an Aptos-based");
    }
}
