//! Access during a migration window: reads in the new layout, writes only in the new layout.
//!
//! The background pass takes many blocks to reach every account, and in the meantime
//! transactions and system operations must read user resources in the new layout (zero
//! downtime: both versions live for a period). So a read of a resource the pass has not reached
//! migrates that one account on the spot, through the same runner and transform as the pass (so
//! the result is the same as if the pass had done it), and counts it as migrated. Both remedies:
//! - *versioned*: the new version has a new tag; an account holding only an older one is
//!   migrated along the chain of versions (v1 -> v2 -> v3). The old version is closed once its
//!   release activates: still readable, never written.
//! - *in place*: the tag does not change, so the bytes at a key do not say which layout they
//!   are in. Every node decides it the same way from the status: keys at or before the pass's
//!   cursor (in key order) are new, the others old, except those recorded as migrated ahead of
//!   the cursor (on access, or written by a transaction in the new layout), which the pass then
//!   passes over. A write in the old layout is refused once the release is active.
//!
//! Integrators must route reads and writes of migrating tags through these calls during a
//! window: a write that bypasses them would leave new bytes the status does not know of.

use crate::hook::{Hook, HookError};
use crate::staged::Staged;
use crate::status::{Cursor, InProgress};
use migrations::store::{Store, StoreError, WriteBatch};
use migrations::{AccountAddress, StructTag};
use upgrade_spec::registry::ReleaseName;

/// Why a read or write through the hook was refused or failed. The refusals (`NotActive`,
/// `Closed`, `OldLayout`, `Quarantined`) are the transaction's failure, deterministic on every
/// node; `Hook` and `Store` are the node's own trouble (nothing was applied).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The status does not load or match the configuration, or the key is of another width
    /// than the chain's.
    #[error(transparent)]
    Hook(#[from] HookError),
    /// The store failed: nothing of the access was applied.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The tag is the new version of a versioned migration whose release is not active yet.
    #[error("{tag} belongs to release {release}, which is not active yet")]
    NotActive {
        /// The tag asked for.
        tag: String,
        /// The release that introduces it.
        release: ReleaseName,
    },
    /// A write to an old version of a versioned migration whose release is active: old
    /// versions stay readable, never written.
    #[error(
        "write to {tag} refused: module {module} is closed since release {release} (read-only, kept for migration)"
    )]
    Closed {
        /// The tag written.
        tag: String,
        /// Its module version.
        module: String,
        /// The release that closed it.
        release: ReleaseName,
    },
    /// A write whose bytes are in the layout of a release older than an active in-place change
    /// of the tag: the bytes would be read with the new layout.
    #[error(
        "write to {tag} refused: it is in the layout of {written}, but {active} changed it in place and is active"
    )]
    OldLayout {
        /// The tag written.
        tag: String,
        /// The release the bytes were encoded for.
        written: ReleaseName,
        /// The active release that changed the tag in place.
        active: ReleaseName,
    },
    /// The account's resource did not migrate on access: it is quarantined (recorded in the
    /// status, its old bytes kept) and cannot be read in the new layout.
    #[error("{tag} at {account} is quarantined by migration `{migration}`: {reason}")]
    Quarantined {
        /// The tag read.
        tag: String,
        /// The account.
        account: String,
        /// The migration that failed on it.
        migration: String,
        /// Why it failed.
        reason: String,
    },
}

impl From<migrations::KeyError> for AccessError {
    fn from(e: migrations::KeyError) -> AccessError {
        AccessError::Hook(HookError::Key(e))
    }
}

impl Hook {
    /// The struct tag `tag`'s version replaced, if a configured versioned migration produces
    /// it: the predecessor the new version records.
    pub fn predecessor(&self, tag: &StructTag) -> Option<&StructTag> {
        let &(u, i) = self.schedule.producers.get(tag)?;
        self.schedule.units.get(u)?.instances.get(i).map(|(instance, _)| &instance.old_tag)
    }

    /// Whether `tag` may be written now: refused if its module version is closed (its release's
    /// successor is active) or not yet active.
    pub fn check_write(&mut self, store: &dyn Store, tag: &StructTag) -> Result<(), AccessError> {
        self.ensure_loaded(store)?;
        let activated = self.activated_releases();
        let module = tag.module_id();
        if let Some(&index) = self.schedule.closes.get(&module) {
            if index < activated {
                return Err(AccessError::Closed {
                    tag: tag.to_string(),
                    module: module.to_string(),
                    release: self.release_name(index),
                });
            }
        }
        self.check_active(tag)
    }

    /// Writes a resource (a transaction's write) in the layout of the newest active release:
    /// refused for closed versions; in place, the key is recorded as new for every migration
    /// that has not reached it.
    pub fn write_resource(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
        bytes: Vec<u8>,
    ) -> Result<(), AccessError> {
        self.config.chain.check_key(&account, tag)?;
        self.check_write(&*store, tag)?;
        let result = self.write_marked(store, account, tag, Some(bytes));
        if result.is_err() {
            self.state = None;
        }
        result
    }

    /// Writes a resource encoded in the layout of release `written` (the release a transaction
    /// was built against): refused when a later active release changed the tag in place, since
    /// the bytes would be read with the new layout.
    pub fn write_resource_as(
        &mut self,
        store: &mut dyn Store,
        written: ReleaseName,
        account: AccountAddress,
        tag: &StructTag,
        bytes: Vec<u8>,
    ) -> Result<(), AccessError> {
        self.ensure_loaded(&*store)?;
        let activated = self.activated_releases();
        let newer = self
            .schedule
            .in_place_readers(tag)
            .filter_map(|(u, _)| self.schedule.units.get(u))
            .find(|unit| unit.release > written && unit.release_index < activated);
        if let Some(unit) = newer {
            return Err(AccessError::OldLayout { tag: tag.to_string(), written, active: unit.release });
        }
        self.write_resource(store, account, tag, bytes)
    }

    /// Deletes a resource (a transaction's delete): refused for closed versions.
    pub fn delete_resource(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
    ) -> Result<(), AccessError> {
        self.config.chain.check_key(&account, tag)?;
        self.check_write(&*store, tag)?;
        let result = self.write_marked(store, account, tag, None);
        if result.is_err() {
            self.state = None;
        }
        result
    }

    /// Puts (or deletes) a resource, with the status, in one batch. A put of an in-place tag
    /// marks the key as migrated ahead in every active migration that has not reached it.
    fn write_marked(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
        bytes: Option<Vec<u8>>,
    ) -> Result<(), AccessError> {
        let mut batch = WriteBatch::new();
        let pending: Vec<(usize, usize)> =
            if bytes.is_some() { self.pending_in_place(tag, &account) } else { Vec::new() };
        match bytes {
            Some(bytes) => batch.put(account, tag.clone(), bytes),
            None => batch.delete(account, tag.clone()),
        }
        if !pending.is_empty() {
            let chain = self.config.chain.clone();
            if let Some(state) = self.state.as_mut() {
                for (u, i) in pending {
                    if let Some(unit) = self.schedule.units.get(u) {
                        mark_ahead(&mut state.status, unit, i, account);
                    }
                }
                state.status.write_into(&mut batch, &chain);
            }
        }
        store.apply(batch)?;
        Ok(())
    }

    /// The in-place migrations of `tag` that are active and have not yet made the key at
    /// `account` new: (unit, instance), in schedule order.
    fn pending_in_place(&self, tag: &StructTag, account: &AccountAddress) -> Vec<(usize, usize)> {
        let Some(state) = self.state.as_ref() else { return Vec::new() };
        if self.config.chain.is_system(account) {
            // A system account's resources were migrated in the activation block.
            return Vec::new();
        }
        self.schedule
            .in_place_readers(tag)
            .filter(|&(u, i)| {
                let Some(unit) = self.schedule.units.get(u) else { return false };
                let active = unit.release_index < state.activated;
                let finished = state.finished.get(u).copied().unwrap_or(true);
                let done = state
                    .status
                    .progress_of(&unit.id)
                    .is_some_and(|p| p.cursor.is_done(u32::try_from(i).unwrap_or(u32::MAX), account));
                active && !finished && unit.has_user_part() && !done
            })
            .collect()
    }

    /// Reads `tag` at `account`, migrating the account first if it still holds an older version
    /// of it (versioned: an older tag; in place: bytes the pass has not reached). `Ok(None)` when
    /// the account holds no version of it.
    pub fn read_resource(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
    ) -> Result<Option<Vec<u8>>, AccessError> {
        self.config.chain.check_key(&account, tag)?;
        self.ensure_loaded(&*store)?;
        self.check_active(tag)?;
        let Some(steps) = self.steps_to(&*store, account, tag)? else { return Ok(None) };
        if steps.is_empty() {
            return Ok(store.get(&account, tag)?);
        }
        let result = self.migrate_steps(store, account, tag, &steps);
        if matches!(result, Err(AccessError::Hook(_) | AccessError::Store(_))) {
            self.state = None;
        }
        result?;
        Ok(store.get(&account, tag)?)
    }

    /// The migrations, in order, that bring the account's resource to `tag` in its newest
    /// active layout: `None` when the account holds no version of it.
    fn steps_to(
        &self,
        store: &dyn Store,
        account: AccountAddress,
        tag: &StructTag,
    ) -> Result<Option<Vec<(usize, usize)>>, AccessError> {
        // Back along versioned migrations to the version the account holds.
        let mut versioned = Vec::new();
        let mut held = tag;
        while store.get(&account, held)?.is_none() {
            let Some(&(u, i)) = self.schedule.producers.get(held) else { return Ok(None) };
            let Some((instance, _)) = self.schedule.units.get(u).and_then(|unit| unit.instances.get(i)) else {
                return Ok(None);
            };
            versioned.push((u, i));
            if versioned.len() > self.schedule.units.len() {
                return Ok(None);
            }
            held = &instance.old_tag;
        }
        // What the held bytes still need in place, then each versioned step oldest first, each
        // followed by every active in-place change of the tag it writes made after it (its bytes
        // are written in its own release's layout, whatever those passes have reached).
        let mut steps = self.pending_in_place(held, &account);
        let activated = self.activated_releases();
        for &(u, i) in versioned.iter().rev() {
            steps.push((u, i));
            let Some((instance, _)) = self.schedule.units.get(u).and_then(|unit| unit.instances.get(i)) else {
                continue;
            };
            steps.extend(self.schedule.in_place_readers(&instance.new_tag).filter(|&(later, _)| {
                later > u && self.schedule.units.get(later).is_some_and(|unit| unit.release_index < activated)
            }));
        }
        Ok(Some(steps))
    }

    fn migrate_steps(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
        steps: &[(usize, usize)],
    ) -> Result<(), AccessError> {
        let chain = self.config.chain.clone();
        let Some(state) = self.state.as_mut() else { return Ok(()) };
        let mut quarantined = None;
        let batch = {
            let mut staged = Staged::new(&*store);
            for &(u, i) in steps {
                let Some(unit) = self.schedule.units.get(u) else { continue };
                let Some((instance, runner)) = unit.instances.get(i) else { continue };
                match runner.migrate_account(instance, &mut staged, account)? {
                    None => {}
                    Some(Ok(())) => {
                        state.status.clear_failure(&unit.id, account);
                        if !state.finished.get(u).copied().unwrap_or(true) {
                            let progress = state.status.progress_of(&unit.id).cloned().unwrap_or(InProgress {
                                id: unit.id.clone(),
                                cursor: Cursor::default(),
                                migrated: 0,
                            });
                            state.status.set_progress(InProgress { migrated: progress.migrated + 1, ..progress });
                            if unit.in_place {
                                mark_ahead(&mut state.status, unit, i, account);
                            }
                        }
                    }
                    Some(Err(failure)) => {
                        // A system account failing is its migration failing, which the prologue
                        // records.
                        if !chain.is_system(&account) {
                            state.status.record_failure(&unit.id, account, failure.reason.clone());
                        }
                        quarantined = Some((unit.id.clone(), failure.reason));
                        break;
                    }
                }
            }
            let mut status_batch = WriteBatch::new();
            state.status.write_into(&mut status_batch, &chain);
            staged.apply(status_batch)?;
            staged.into_batch()
        };
        store.apply(batch)?;
        match quarantined {
            None => Ok(()),
            Some((migration, reason)) => {
                Err(AccessError::Quarantined { tag: tag.to_string(), account: account.to_string(), migration, reason })
            }
        }
    }

    fn check_active(&self, tag: &StructTag) -> Result<(), AccessError> {
        if let Some(&(u, _)) = self.schedule.producers.get(tag) {
            if let Some(unit) = self.schedule.units.get(u) {
                if unit.release_index >= self.activated_releases() {
                    return Err(AccessError::NotActive { tag: tag.to_string(), release: unit.release });
                }
            }
        }
        Ok(())
    }

    fn release_name(&self, index: usize) -> ReleaseName {
        self.schedule.releases.get(index).map_or(ReleaseName::new(0), |(r, _, _)| *r)
    }
}

/// Records the key of instance `i` at `account` as migrated ahead of `unit`'s cursor.
fn mark_ahead(status: &mut crate::status::Status, unit: &crate::schedule::Unit, i: usize, account: AccountAddress) {
    let progress = status.progress_of(&unit.id).cloned().unwrap_or(InProgress {
        id: unit.id.clone(),
        cursor: Cursor::default(),
        migrated: 0,
    });
    let mut cursor = progress.cursor;
    cursor.mark_ahead(u32::try_from(i).unwrap_or(u32::MAX), account);
    status.set_progress(InProgress { cursor, ..progress });
}
