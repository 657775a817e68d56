//! An Aptos-based backup behind today's [`StateSource`], which carries resources and modules
//! only: `Resource` access paths are resources, `Code` paths modules; table items, resource
//! groups, raw keys and unreadable paths are counted as [`ProblemKind::NotYetRehearsed`] with
//! examples, and a backup read as partial (or without `state.proof`) as
//! [`ProblemKind::Incomplete`], so that the rehearsal never calls such a state complete.
//!
//! An adapter until the rehearsal's state model carries table items and groups: the first pass
//! (for the modules, or on its own before the resources) verifies everything, the second hands
//! the resources on.

use super::key::WIDTH;
use super::{AptosBackup, AptosOptions, AptosStateKey, AptosSummary, ProofStatus, RootCheck, StatePath};
use crate::state::diem::hash::hex;
use crate::state::diem::MAX_MODULE_BYTES;
use crate::state::{
    ChainRoot, Context, ModuleBytes, ModuleSink, Origin, Problem, ProblemKind, Problems, Resource, ResourceSink,
    SourceInfo, StateError, StateSource,
};
use std::path::Path;

/// An Aptos-based backup as a [`StateSource`].
#[derive(Debug)]
pub struct AptosSource {
    backup: AptosBackup,
    /// The modules the state holds, once collected.
    modules: Option<Vec<(Origin, Vec<u8>)>>,
}

impl AptosSource {
    pub fn open(path: &Path, options: &AptosOptions) -> Result<AptosSource, StateError> {
        Ok(AptosSource { backup: AptosBackup::open(path, options)?, modules: None })
    }

    pub fn backup(&self) -> &AptosBackup {
        &self.backup
    }

    /// The verifying pass, collecting the modules on the way.
    fn collect_modules(&mut self) -> Result<(), StateError> {
        if self.modules.is_some() {
            return Ok(());
        }
        let mut modules: Vec<(Origin, Vec<u8>)> = Vec::new();
        let mut total = 0usize;
        self.backup.visit(&mut |r| {
            if let AptosStateKey::AccessPath { path: StatePath::Code(id), .. } = r.key {
                total += r.value.len();
                if total > MAX_MODULE_BYTES {
                    return Err(StateError::Unsupported {
                        path: r.origin.file.to_path_buf(),
                        reason: format!(
                            "the state holds more than {MAX_MODULE_BYTES} bytes of modules (at {id}): name the release it was written with (--from)"
                        ),
                    });
                }
                modules.push((r.origin.clone(), r.value.to_vec()));
            }
            Ok(())
        })?;
        self.modules = Some(modules);
        Ok(())
    }

    fn summary(&mut self) -> Result<AptosSummary, StateError> {
        match self.backup.summary() {
            Some(s) => Ok(s.clone()),
            None => self.backup.verify(),
        }
    }
}

/// The problem a record the rehearsal cannot carry yet is.
fn not_yet(key: &AptosStateKey) -> Option<&'static str> {
    match key {
        AptosStateKey::AccessPath { path: StatePath::Resource(_) | StatePath::Code(_), .. } => None,
        AptosStateKey::AccessPath { path: StatePath::ResourceGroup(_), .. } => {
            Some("a resource group: its members are not rehearsed yet")
        }
        AptosStateKey::AccessPath { path: StatePath::Unknown(_), .. } => {
            Some("an access path that reads as no module, resource or resource group: not rehearsed")
        }
        AptosStateKey::TableItem { .. } => Some("a table item: table values are not rehearsed yet"),
        AptosStateKey::Raw(_) => Some("a raw state key: not rehearsed"),
    }
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
            }),
            snapshot: None,
        }
    }

    fn modules(&mut self, visit: ModuleSink<'_>) -> Result<(), StateError> {
        self.collect_modules()?;
        for (origin, bytes) in self.modules.iter().flatten() {
            visit(ModuleBytes { bytes, origin })?;
        }
        Ok(())
    }

    fn resources(
        &mut self,
        _context: &Context<'_>,
        visit: ResourceSink<'_>,
        problems: &mut Problems,
    ) -> Result<(), StateError> {
        let summary = self.summary()?;
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
        self.backup.visit(&mut |r| {
            if let AptosStateKey::AccessPath { address, path: StatePath::Resource(tag) } = r.key {
                return visit(Resource { account: *address, tag, bytes: r.value, origin: r.origin });
            }
            if let Some(message) = not_yet(r.key) {
                let problem = Problem {
                    kind: ProblemKind::NotYetRehearsed,
                    origin: r.origin.to_string(),
                    key: Some(format!("{} (key hash {})", r.key, hex(&r.key_hash))),
                    message: message.into(),
                };
                problems.add(problem, 1);
            }
            Ok(())
        })?;
        Ok(())
    }
}
