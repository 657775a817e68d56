//! The migration, with the loop the prologue runs: a [`Hook`] over an [`Overlay`] of the source,
//! called block after block until every migration is done. On many threads, each thread's hook
//! migrates one key range of the source (the overlay shows it nothing else), and the ranges'
//! writes together are the migration of the whole state: a value's migration depends on that
//! value alone.
//!
//! Its idempotence is checked with [`Hook::second_pass`] ([`second_pass`]) when the pass that
//! follows finds values left on the old version, and only then: a second pass migrates what a
//! versioned migration left under the old key and what an in-place one left past its cursor,
//! which are values the pass finds left (neither written nor failed), so with none left it has
//! nothing to migrate. Run every time, it read the migrated key ranges once more (a tenth of a
//! rehearsal).
//!
//! The hook keeps its status under a reserved key, outside every chain's key space (see
//! [`migrations::state_key`]): nothing the state holds can collide with it or fake it. It never
//! halts a migration (a halt's rollback depends on where a chunk starts, which depends on the
//! ranges): every value that does not migrate is recorded as a failure, and the verdict counts
//! them all.

use super::overlay::Overlay;
use crate::error::RehearsalError;
use migrations::catalogue::Catalogue;
use migrations::runner::MigratedTable;
use migrations::store::{Watched, Write, WriteBatch};
use migrations::{AccountAddress, StateKey};
use snapshot::Snapshot;
use std::path::Path;
use upgrade_spec::ReleaseId;
use vm_hooks::{Budget, ChainConfig, Decision, HaltedMigration, Hook, HookConfig, Policy, ReleasePlan, Status};

/// Blocks one range's loop runs at most (a loop that makes no progress stops long before).
const MAX_BLOCKS: u64 = 100_000_000;
/// Where the hook keeps its status in a rehearsal.
pub const STATUS_KEY: &[u8] = b"rehearsal/migration-status";

/// Governance for a rehearsal: releases start at once. User values never halt a migration (no
/// quarantine limit); a system account's value that does not migrate halts its migration, which
/// is given up (its data stays on the old version, and is reported).
#[derive(Debug, Clone, Copy)]
struct Rehearsal;

impl Policy for Rehearsal {
    fn may_start(&self, _release: &ReleaseId, _height: u64) -> bool {
        true
    }

    fn on_halted(&self, _halted: &HaltedMigration<'_>, _height: u64) -> Decision {
        Decision::Skip
    }
}

/// What one range's migration did.
#[derive(Debug, Default)]
pub struct Migrated {
    /// Blocks its loop ran.
    pub blocks: u64,
    /// Values that did not migrate: (migration, key, reason).
    pub failures: Vec<(String, Vec<u8>, String)>,
    /// Migrations that failed as a whole: (migration, why).
    pub stopped: Vec<(String, String)>,
    /// Bytes read and written by the loop.
    pub bytes: u64,
    /// Values written (puts) and removed (deletes).
    pub puts: u64,
    pub deletes: u64,
    /// Keys put, sampled evenly in the order written, each with the puts it stands for: where
    /// the state after lies, for the pass's key ranges.
    pub put_samples: Samples,
    /// Keys deleted, sampled alike: where the state after is thin (a pass's range is not cut
    /// there, see `balanced_ranges`).
    pub delete_samples: Samples,
}

/// Keys sampled evenly from a stream of any length in bounded memory: one in `every`, and when
/// [`MAX_SAMPLES`] are held, every other one dropped and `every` doubled.
#[derive(Debug, Clone)]
pub struct Samples {
    /// The keys kept, with the puts each stands for.
    pub keys: Vec<(Vec<u8>, u64)>,
    every: u64,
    seen: u64,
}

/// Samples held at most (per thread).
pub const MAX_SAMPLES: usize = 4096;

impl Default for Samples {
    fn default() -> Self {
        Samples { keys: Vec::new(), every: 1, seen: 0 }
    }
}

impl Samples {
    fn offer(&mut self, key: &[u8]) {
        if self.seen.is_multiple_of(self.every) {
            self.keys.push((key.to_vec(), self.every));
            if self.keys.len() >= MAX_SAMPLES {
                let mut i = 0;
                self.keys.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.every = self.every.saturating_mul(2);
                for (_, weight) in &mut self.keys {
                    *weight = self.every;
                }
            }
        }
        self.seen += 1;
    }
}

/// The chain a rehearsal's hook runs in: the state's width, the status under a reserved key,
/// the given system accounts, the budget, and no halt.
pub fn chain(
    catalogue: &Catalogue,
    system: &[AccountAddress],
    budget: Budget,
    max_value: usize,
) -> Result<ChainConfig, RehearsalError> {
    let width = catalogue.address_length();
    let zero = AccountAddress::zero(width);
    let placeholder = migrations::StructTag::parse("0x0::rehearsal::Status", width)
        .map_err(|e| RehearsalError::Options(e.to_string()))?;
    Ok(ChainConfig::new(width, zero, placeholder, system.iter().copied())
        .map_err(|e| RehearsalError::Options(e.to_string()))?
        .with_status_key(StateKey::Reserved(STATUS_KEY.to_vec()))
        .with_budget(budget)
        .with_max_quarantined(u64::MAX)
        .with_max_value_size(max_value as u64))
}

/// Runs the catalogue's migrations over the source keys `lo..hi` of `base`, to the end, in an
/// overlay named `name`, one of `overlays` (they share the run files a rehearsal may hold open).
/// The overlay it returns holds the writes.
#[allow(clippy::too_many_arguments)]
pub fn migrate_range<'s>(
    base: &'s Snapshot,
    lo: Vec<u8>,
    hi: Option<Vec<u8>>,
    catalogue: &Catalogue,
    tables: &[MigratedTable],
    release: &ReleaseId,
    chain: &ChainConfig,
    memory: usize,
    dir: &Path,
    (name, overlays): (&str, usize),
    progress: &mut dyn FnMut(u64),
) -> Result<(Overlay<'s>, Migrated), RehearsalError> {
    let mut overlay = Overlay::new(base, lo, hi, memory, dir, name).with_fan_in(super::overlay::fan_in(overlays));
    let mut hook = hook(catalogue, tables, release, chain)?;
    hook.schedule_all(&mut overlay)?;
    let mut out = Migrated::default();
    let (mut puts, mut deletes) = (0u64, 0u64);
    let mut samples = Samples::default();
    let mut delete_samples = Samples::default();
    {
        let mut counting = Watched {
            inner: &mut overlay,
            watch: |batch: &WriteBatch| {
                for (key, write) in batch.iter() {
                    if key != reserved() {
                        match write {
                            Write::Put(_) => {
                                samples.offer(key);
                                puts += 1;
                            }
                            Write::Delete => {
                                delete_samples.offer(key);
                                deletes += 1;
                            }
                        }
                    }
                }
                Ok(())
            },
        };
        let mut done = 0u64;
        let mut idle = 0u32;
        for block in 1..=MAX_BLOCKS {
            let report = hook.maybe_migrate(&mut counting, block)?;
            out.blocks = block;
            out.bytes += report.bytes;
            done += report.resources + report.system_resources;
            progress(done);
            if hook.all_done() {
                break;
            }
            // Each block moves a migration; a run of idle blocks means it cannot.
            idle = if report.idle { idle + 1 } else { 0 };
            if idle > 3 {
                return Err(RehearsalError::NoProgress { block });
            }
        }
    }
    out.puts = puts;
    out.deletes = deletes;
    out.put_samples = samples;
    out.delete_samples = delete_samples;
    let status = Status::load(&overlay, hook.chain())?;
    for f in status.failures() {
        if f.is_migration_failure() {
            out.stopped.push((f.migration.clone(), f.reason.clone()));
        } else {
            out.failures.push((f.migration.clone(), f.key.clone(), f.reason.clone()));
        }
    }
    Ok((overlay, out))
}

/// What a second pass of the catalogue's migrations would migrate again over one range's
/// migrated state, per migration ([`Hook::second_pass`]): a hook of the same plan reads the
/// status the migration left in `overlay`.
pub fn second_pass(
    overlay: &Overlay<'_>,
    catalogue: &Catalogue,
    tables: &[MigratedTable],
    release: &ReleaseId,
    chain: &ChainConfig,
) -> Result<Vec<(String, u64)>, RehearsalError> {
    Ok(hook(catalogue, tables, release, chain)?.second_pass(overlay)?)
}

/// The key prefixes the catalogue's migrations walk ([`Hook::walked_prefixes`]): where the
/// loop's work lies in the source.
pub fn walked(
    catalogue: &Catalogue,
    tables: &[MigratedTable],
    release: &ReleaseId,
    chain: &ChainConfig,
) -> Result<Vec<Vec<u8>>, RehearsalError> {
    Ok(hook(catalogue, tables, release, chain)?.walked_prefixes())
}

/// The rehearsal's hook: the catalogue's migrations as one release, in `chain`.
fn hook(
    catalogue: &Catalogue,
    tables: &[MigratedTable],
    release: &ReleaseId,
    chain: &ChainConfig,
) -> Result<Hook, RehearsalError> {
    Ok(Hook::new(
        vec![ReleasePlan::new(release.clone(), 1, catalogue.clone()).with_tables(tables.to_vec())],
        HookConfig::new(chain.clone()),
        Box::new(Rehearsal),
    )?)
}

/// The reserved key of the status, encoded.
pub fn reserved() -> &'static [u8] {
    static KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| StateKey::Reserved(STATUS_KEY.to_vec()).encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_stay_bounded_and_stand_for_every_put() {
        let mut s = Samples::default();
        let n = 1_000_000u64;
        for i in 0..n {
            s.offer(&i.to_be_bytes());
        }
        assert!(s.keys.len() <= MAX_SAMPLES);
        assert!(s.keys.len() >= MAX_SAMPLES / 4);
        // Each sample stands for `every` puts: together, about all of them.
        let stood: u64 = s.keys.iter().map(|(_, w)| *w).sum();
        assert!(stood.abs_diff(n) <= s.every, "{stood} for {n}");
        // Evenly: in key order (the keys were offered in order), about as many in each half.
        let half = s.keys.iter().filter(|(k, _)| k.as_slice() < (n / 2).to_be_bytes().as_slice()).count();
        assert!(half.abs_diff(s.keys.len() / 2) <= 1, "{half} of {}", s.keys.len());
    }
}
