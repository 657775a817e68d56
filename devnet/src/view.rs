//! What `devnet status` shows of a chain while a node holds its store: the view that node
//! publishes after every block it commits ([`Publisher`], [`published`]).
//!
//! The store is redb's, opened by one process at a time (a reader is excluded by a writer in
//! the mode the store is written in), so `status` cannot read it while a node runs. The node
//! therefore writes what `status` shows (its height, parameters, on-chain status and upgrade
//! journal) to a small file in the data directory after each block, by a rename, so that a
//! reader finds a whole view of a committed block or none. Only the holder of the data
//! directory writes it, removes it when it ends, and any command that takes the directory
//! removes one a killed node left ([`crate::data_dir::DataDir::clear_leftovers`]); `status`
//! reads it only when the store is in use, so it never presents a stale view as the chain.
//! The state root is not in it: computing it reads the whole state.

use crate::chain_store::JOURNAL_KEY;
use crate::data_dir::{VIEW_FILE, VIEW_PARTIAL};
use crate::error::DevnetError;
use crate::manifest::Manifest;
use crate::node::Node;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vm_hooks::Status;

const FORMAT: &str = "move-devnet-status-view";
/// The largest view published or read: the on-chain status in hex (quarantined accounts
/// included: 16 MiB is some 30,000 of them with their reasons) and a few hundred bytes more. A
/// node whose view would be larger publishes none (`status` then says the store is in use); a
/// larger file is not read, so a forged one costs `status` no more than this, parsed (a 200 MB
/// one took 8.75 GB).
pub const MAX_VIEW_BYTES: u64 = 16 << 20;

/// A view a running node published: what `status` shows, as of its last block.
#[derive(Debug, Clone)]
pub struct Published {
    /// The process that published it.
    pub pid: u32,
    pub height: u64,
    pub manifest: Manifest,
    pub status: Status,
    /// The runbook's journal as stored, if an upgrade is under way.
    pub journal: Option<Vec<u8>>,
}

/// The view's stored form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    format: String,
    pid: u32,
    height: u64,
    manifest: Manifest,
    /// The runbook's journal as stored (JSON text), if an upgrade is under way.
    journal: Option<String>,
    /// The on-chain status's canonical bytes (its own encoding, checked on decoding), in hex.
    status: String,
}

/// Publishes the view of the chain a node holds in `dir`, after each block; removes it when
/// dropped. Failing to write it fails nothing: the view is removed instead, and `status` says
/// that the store is in use.
#[derive(Debug)]
pub struct Publisher {
    file: PathBuf,
    partial: PathBuf,
}

impl Publisher {
    /// Publishes the view of `node`, the chain in `dir` (whose lock the caller holds).
    pub fn new(dir: &Path, node: &Node) -> Publisher {
        let publisher = Publisher { file: dir.join(VIEW_FILE), partial: dir.join(VIEW_PARTIAL) };
        publisher.publish(node);
        publisher
    }

    pub fn publish(&self, node: &Node) {
        if self.write(node).is_err() {
            let _ = std::fs::remove_file(&self.file);
        }
    }

    fn write(&self, node: &Node) -> Result<(), Box<dyn std::error::Error>> {
        let status = node.hook().status().ok_or("no status loaded")?.encode();
        let stored = Stored {
            format: FORMAT.to_owned(),
            pid: std::process::id(),
            height: node.height(),
            manifest: node.manifest().clone(),
            journal: node.store().node_value(JOURNAL_KEY)?.map(|j| String::from_utf8_lossy(&j).into_owned()),
            status: status.iter().map(|b| format!("{b:02x}")).collect(),
        };
        let bytes = serde_json::to_vec(&stored)?;
        if bytes.len() as u64 > MAX_VIEW_BYTES {
            return Err(format!("a view of {} bytes, more than {MAX_VIEW_BYTES}", bytes.len()).into());
        }
        // Created new and renamed into place: a link planted under either name is replaced,
        // never written through.
        input_files::output::replace(&self.file, &self.partial, &bytes)?;
        Ok(())
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_file(&self.partial);
    }
}

/// The view published in `dir`, if there is one.
pub fn published(dir: &Path) -> Result<Option<Published>, DevnetError> {
    let file = dir.join(VIEW_FILE);
    let kind = input_files::Kind::new("status view", MAX_VIEW_BYTES);
    let bytes = match input_files::read(&file, kind) {
        Ok(bytes) => bytes,
        Err(input_files::InputError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(e) => return Err(DevnetError::bad_input(e.to_string())),
    };
    let bad = |what: String| DevnetError::bad_input(format!("{}: not a status view: {what}", file.display()));
    let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if stored.format != FORMAT {
        return Err(bad(format!("format {:?}", stored.format)));
    }
    // What the store's own readers check, checked here too: the view is a file anyone who can
    // write the data directory can forge.
    stored.manifest.validate(&file)?;
    if let Some(journal) = &stored.journal {
        crate::journal::Journal::decode(journal.as_bytes())?;
    }
    let hex = stored.status.as_bytes();
    if !hex.len().is_multiple_of(2) {
        return Err(bad("the status is not hex".to_owned()));
    }
    let status_bytes: Vec<u8> = hex
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("the status is not hex".to_owned()))?;
    let status = Status::decode(&status_bytes).map_err(|e| bad(e.to_string()))?;
    Ok(Some(Published {
        pid: stored.pid,
        height: stored.height,
        manifest: stored.manifest,
        status,
        journal: stored.journal.map(String::into_bytes),
    }))
}
