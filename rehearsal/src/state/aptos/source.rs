//! An Aptos-based backup as a [`StateSource`]: every record becomes a canonical state entry
//! ([`migrations::state_key`]): a `Resource` access path a resource, a `ResourceGroup` path a
//! group (its value the BCS map of its members), a `Code` path a module, a table item a table
//! item, a raw key a raw key; a value's storage metadata (deposit, creation time) is the entry's
//! extra, carried unchanged. Only an access path that reads as none of these is not rehearsed
//! ([`ProblemKind::NotYetRehearsed`], with examples), and a backup read as partial (or without
//! `state.proof`) is [`ProblemKind::Incomplete`], so that the rehearsal never calls such a state
//! complete.
//!
//! The first pass verifies everything: the modules' pass when a rehearsal asks for the modules
//! first, or else the entries' pass as it hands the entries on (collecting the modules on the
//! way, so that a rehearsal that sorts first reads the backup once).

use super::key::WIDTH;
use super::value::write_metadata;
use super::{AptosBackup, AptosOptions, AptosStateKey, ProofStatus, RootCheck, StatePath};
use crate::state::diem::hash::hex;
use crate::state::diem::MAX_MODULE_BYTES;
use crate::state::{
    ChainRoot, Context, Entry, EntrySink, ModuleBytes, ModuleSink, Origin, Problem, ProblemKind, Problems, SourceInfo,
    StateError, StateSource,
};
use migrations::StateKey;
use std::path::Path;

/// An Aptos-based backup as a [`StateSource`].
#[derive(Debug)]
pub struct AptosSource {
    backup: AptosBackup,
    /// The modules the state holds, once collected (by the modules' pass, or on the way by
    /// the entries' pass).
    modules: Option<Collected>,
    /// The entries' pass collects the modules on its way: asked for by a caller that will want
    /// them after it (held otherwise, they would be up to [`MAX_MODULE_BYTES`] for nothing).
    collect_with_entries: bool,
}

/// The modules a pass collected, or where they passed the limit.
#[derive(Debug)]
enum Collected {
    Modules(Vec<(Origin, Vec<u8>)>),
    TooLarge { path: std::path::PathBuf, at: String },
}

impl Collected {
    /// Collects the module of record `r`, if it is one, within [`MAX_MODULE_BYTES`] in all
    /// (`total` so far): past it, only where is kept.
    fn offer(&mut self, r: &super::AptosRecord<'_>, total: &mut usize) {
        let AptosStateKey::AccessPath { path: StatePath::Code(id), .. } = r.key else { return };
        let Collected::Modules(modules) = self else { return };
        *total = total.saturating_add(r.value.len());
        if *total > MAX_MODULE_BYTES {
            *self = Collected::TooLarge { path: r.origin.file.to_path_buf(), at: id.to_string() };
        } else {
            modules.push((r.origin.clone(), r.value.to_vec()));
        }
    }
}

impl AptosSource {
    pub fn open(path: &Path, options: &AptosOptions) -> Result<AptosSource, StateError> {
        Ok(AptosSource { backup: AptosBackup::open(path, options)?, modules: None, collect_with_entries: false })
    }

    pub fn backup(&self) -> &AptosBackup {
        &self.backup
    }

    /// The verifying pass, collecting the modules on the way.
    fn collect_modules(&mut self) -> Result<(), StateError> {
        if self.modules.is_some() {
            return Ok(());
        }
        let mut collected = Collected::Modules(Vec::new());
        let mut total = 0usize;
        let is_code = |k: &AptosStateKey| matches!(k, AptosStateKey::AccessPath { path: StatePath::Code(_), .. });
        self.backup.pass(&is_code, MAX_MODULE_BYTES, &mut |r| {
            collected.offer(&r, &mut total);
            match &collected {
                Collected::TooLarge { path, at } => Err(too_large(path, at)),
                Collected::Modules(_) => Ok(()),
            }
        })?;
        self.modules = Some(collected);
        Ok(())
    }
}

/// The error of a state whose modules pass [`MAX_MODULE_BYTES`] (at module `at`, in `path`).
fn too_large(path: &Path, at: &str) -> StateError {
    StateError::Unsupported {
        path: path.to_path_buf(),
        reason: format!(
            "the state holds more than {MAX_MODULE_BYTES} bytes of modules (at {at}): name the release it was written with (--from)"
        ),
    }
}

/// The canonical key of a record, or `None` for an access path that reads as no module,
/// resource or group.
fn canonical(key: &AptosStateKey) -> Option<StateKey> {
    Some(match key {
        AptosStateKey::AccessPath { address, path: StatePath::Resource(tag) } => {
            StateKey::Resource { account: *address, tag: tag.clone() }
        }
        AptosStateKey::AccessPath { address, path: StatePath::ResourceGroup(tag) } => {
            StateKey::Group { account: *address, tag: tag.clone() }
        }
        AptosStateKey::AccessPath { address, path: StatePath::Code(id) } => {
            StateKey::Module { account: *address, name: id.name.clone() }
        }
        AptosStateKey::AccessPath { path: StatePath::Unknown(_), .. } => return None,
        AptosStateKey::TableItem { handle, key } => {
            StateKey::TableItem { handle: migrations::AccountAddress::new(handle).ok()?, key: key.clone() }
        }
        AptosStateKey::Raw(bytes) => StateKey::Raw(bytes.clone()),
    })
}

impl StateSource for AptosSource {
    fn info(&self) -> SourceInfo {
        let info = self.backup.info();
        let summary = self.backup.summary();
        let records = summary.map_or_else(
            || format!("{} records by the manifest", info.records),
            |s| {
                let k = &s.kinds;
                format!(
                    "{} records{} ({} resources, {} resource groups, {} modules, {} table items, {} raw keys, {} with metadata)",
                    s.records,
                    if s.partial { format!(" of {} (partial: {} chunks not read whole)", info.records, s.incomplete_chunks) } else { String::new() },
                    k.resources,
                    k.resource_groups,
                    k.modules,
                    k.table_items,
                    k.raw,
                    k.with_metadata
                )
            },
        );
        let ledger = match &info.proof {
            ProofStatus::Bound { ledger, .. } => {
                format!(
                    "state.proof binds the root to the ledger info at version {} (signatures not checked)",
                    ledger.version
                )
            }
            ProofStatus::Missing { .. } => "no state.proof: the root is bound to no ledger info".into(),
        };
        let not_verified = self.backup.checks().not_verified;
        SourceInfo {
            format: "aptos-backup",
            path: info.manifest.display().to_string(),
            detail: format!(
                "state version {}, epoch {}, {records} in {} chunks, {} hashes; {ledger}",
                info.version, info.epoch, info.chunks, info.salt
            ),
            width: Some(WIDTH),
            chain_root: Some(ChainRoot {
                expected: hex(&info.root_hash),
                verified: summary.is_some_and(|s| s.root == RootCheck::Verified),
                scheme: format!("Aptos Jellyfish Merkle tree, {} hashes", info.salt),
                not_verified,
            }),
            snapshot: None,
        }
    }

    fn modules(&mut self, visit: ModuleSink<'_>) -> Result<(), StateError> {
        self.collect_modules()?;
        match &self.modules {
            Some(Collected::Modules(modules)) => {
                for (origin, bytes) in modules {
                    visit(ModuleBytes { bytes, origin })?;
                }
                Ok(())
            }
            Some(Collected::TooLarge { path, at }) => Err(too_large(path, at)),
            None => Ok(()),
        }
    }

    fn collect_modules_with_entries(&mut self) -> bool {
        self.collect_with_entries = true;
        true
    }

    fn entries(
        &mut self,
        _context: &Context<'_>,
        visit: EntrySink<'_>,
        problems: &mut Problems,
    ) -> Result<(), StateError> {
        // One pass: the records verified as they are handed on, unless the modules' pass
        // verified them already (the rehearsal discards what it was handed if the root then
        // does not match, as it discards everything on an error).
        let mut seen = Problems::default();
        let mut extra = Vec::new();
        // The modules, collected on the way when asked for and no modules' pass did.
        let mut collected =
            (self.collect_with_entries && self.modules.is_none()).then(|| Collected::Modules(Vec::new()));
        let mut total = 0usize;
        let mut each = |r: super::AptosRecord<'_>| {
            if let Some(c) = &mut collected {
                c.offer(&r, &mut total);
            }
            let Some(key) = canonical(r.key) else {
                let problem = Problem {
                    kind: ProblemKind::NotYetRehearsed,
                    origin: r.origin.to_string(),
                    key: Some(format!("{} (key hash {})", r.key, hex(&r.key_hash))),
                    message: "an access path that reads as no module, resource or resource group: not rehearsed".into(),
                };
                seen.add(problem, 1);
                return Ok(());
            };
            extra.clear();
            if let Some(m) = r.metadata {
                write_metadata(&mut extra, m);
            }
            visit(Entry { key: &key.encode(), value: r.value, extra: &extra, origin: r.origin })
        };
        let summary = self.backup.pass(&|_| true, usize::MAX, &mut each)?;
        if collected.is_some() {
            self.modules = collected;
        }
        let manifest = self.backup.info().manifest.display().to_string();
        for i in &summary.incomplete {
            problems.add(
                Problem {
                    kind: ProblemKind::Incomplete,
                    origin: i.file.display().to_string(),
                    key: None,
                    message: format!("{}: {} of {} records read", i.reason, i.records_read, i.records_expected),
                },
                i.records_expected.saturating_sub(i.records_read),
            );
        }
        let unlisted = summary.incomplete_chunks.saturating_sub(summary.incomplete.len() as u64);
        if unlisted > 0 {
            let problem = Problem {
                kind: ProblemKind::Incomplete,
                origin: manifest.clone(),
                key: None,
                message: format!("{unlisted} more chunks not read whole"),
            };
            problems.add(problem, 0);
        }
        if let ProofStatus::Missing { file } = &self.backup.info().proof {
            let problem = Problem {
                kind: ProblemKind::Incomplete,
                origin: manifest,
                key: None,
                message: format!("state.proof is missing ({}): the root is bound to no ledger info", file.display()),
            };
            problems.add(problem, 0);
        }
        problems.append(seen);
        Ok(())
    }
}
