//! Access during a migration window: reads in the new layout, writes refused to closed versions.
//!
//! The background pass takes many blocks to reach every account, and in the meantime
//! transactions and system operations must read user resources in the new layout (zero
//! downtime: both versions live for a period). So a read of the new version at an account the
//! pass has not reached migrates that one account on the spot, through the same runner and
//! transform as the pass (so the result is the same as if the pass had done it), and counts it
//! as migrated; the pass then finds nothing left there. A chain of versions (v1 -> v2 -> v3) is
//! followed through. The old version is closed once its release activates: still readable,
//! never written, so that nothing is written behind the migration's back.

use crate::hook::{Hook, HookError};
use crate::staged::Staged;
use crate::status::{Cursor, InProgress};
use migrations::core_types::{address_of, module_id_of_tag, render_struct_tag};
use migrations::store::{Store, StoreError, WriteBatch};
use migrations::StructTag;
use move_core_types::account_address::AccountAddress;
use stdlib::registry::ReleaseName;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Hook(#[from] HookError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("{tag} belongs to release {release}, which is not active yet")]
    NotActive { tag: String, release: ReleaseName },
    #[error(
        "write to {tag} refused: module {module} is closed since release {release} (read-only, kept for migration)"
    )]
    Closed { tag: String, module: String, release: ReleaseName },
    #[error("{tag} at {account} is quarantined by migration `{migration}`: {reason}")]
    Quarantined { tag: String, account: String, migration: String, reason: String },
}

impl Hook {
    /// The struct tag `tag`'s version replaced, if a configured migration produces it: the
    /// predecessor the new version records.
    pub fn predecessor(&self, tag: &StructTag) -> Option<&StructTag> {
        let &(u, i) = self.schedule.producers.get(tag)?;
        self.schedule.units.get(u)?.instances.get(i).map(|(instance, _)| &instance.old_tag)
    }

    /// Whether `tag` may be written now: refused if its module version is closed (its release's
    /// successor is active) or not yet active.
    pub fn check_write(&mut self, store: &dyn Store, tag: &StructTag) -> Result<(), AccessError> {
        self.ensure_loaded(store)?;
        let activated = self.activated_releases();
        let module = module_id_of_tag(tag);
        if let Some(&index) = self.schedule.closes.get(&module) {
            if index < activated {
                return Err(AccessError::Closed {
                    tag: render_struct_tag(tag),
                    module: module.to_string(),
                    release: self.release_name(index),
                });
            }
        }
        self.check_active(tag)
    }

    /// Writes a resource (a transaction's write), refused for closed versions.
    pub fn write_resource(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
        bytes: Vec<u8>,
    ) -> Result<(), AccessError> {
        self.check_write(&*store, tag)?;
        let mut batch = WriteBatch::new();
        batch.put(account, tag.clone(), bytes);
        store.apply(batch)?;
        Ok(())
    }

    /// Reads `tag` at `account`, migrating the account first if it still holds an older version
    /// of it. `Ok(None)` when the account holds no version of it.
    pub fn read_resource(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
    ) -> Result<Option<Vec<u8>>, AccessError> {
        self.ensure_loaded(&*store)?;
        self.check_active(tag)?;
        if let Some(bytes) = store.get(&account, tag)? {
            return Ok(Some(bytes));
        }
        // The migrations from the version the account holds up to `tag`, newest first.
        let mut chain = Vec::new();
        let mut wanted = tag;
        loop {
            let Some(&(u, i)) = self.schedule.producers.get(wanted) else { return Ok(None) };
            let Some((instance, _)) = self.schedule.units.get(u).and_then(|unit| unit.instances.get(i)) else {
                return Ok(None);
            };
            chain.push((u, i));
            if store.get(&account, &instance.old_tag)?.is_some() {
                break;
            }
            if chain.len() > self.schedule.units.len() {
                return Ok(None);
            }
            wanted = &instance.old_tag;
        }
        let result = self.migrate_chain(store, account, tag, &chain);
        if matches!(result, Err(AccessError::Hook(_) | AccessError::Store(_))) {
            self.state = None;
        }
        result?;
        Ok(store.get(&account, tag)?)
    }

    fn migrate_chain(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
        chain: &[(usize, usize)],
    ) -> Result<(), AccessError> {
        let Some(state) = self.state.as_mut() else { return Ok(()) };
        let mut quarantined = None;
        let batch = {
            let mut staged = Staged::new(&*store);
            for &(u, i) in chain.iter().rev() {
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
                        }
                    }
                    Some(Err(failure)) => {
                        // 0x0 failing is its migration failing, which the prologue records.
                        if account != AccountAddress::ZERO {
                            state.status.record_failure(&unit.id, account, failure.reason.clone());
                        }
                        quarantined = Some((unit.id.clone(), failure.reason));
                        break;
                    }
                }
            }
            let mut status_batch = WriteBatch::new();
            state.status.write_into(&mut status_batch).map_err(HookError::from)?;
            staged.apply(status_batch)?;
            staged.into_batch()
        };
        store.apply(batch)?;
        match quarantined {
            None => Ok(()),
            Some((migration, reason)) => Err(AccessError::Quarantined {
                tag: render_struct_tag(tag),
                account: address_of(&account).to_string(),
                migration,
                reason,
            }),
        }
    }

    fn check_active(&self, tag: &StructTag) -> Result<(), AccessError> {
        if let Some(&(u, _)) = self.schedule.producers.get(tag) {
            if let Some(unit) = self.schedule.units.get(u) {
                if unit.release_index >= self.activated_releases() {
                    return Err(AccessError::NotActive { tag: render_struct_tag(tag), release: unit.release });
                }
            }
        }
        Ok(())
    }

    fn release_name(&self, index: usize) -> ReleaseName {
        self.schedule.releases.get(index).map_or(ReleaseName::new(0), |(r, _)| *r)
    }
}
