//! Access during a migration window: reads in the new layout, writes only in the new layout.
//!
//! The background pass takes many blocks to reach every value, and in the meantime transactions
//! and system operations must read user resources in the new layout (zero downtime: both
//! versions live for a period). Two kinds of call, and a node must not mix them up:
//! - **consensus access** ([`Hook::read_resource`], [`Hook::write_resource`],
//!   [`Hook::delete_resource`], [`Hook::write_resource_as`]): what a transaction does, in every
//!   node alike. A read of a value the pass has not reached migrates it on the spot (through the
//!   same runner and transform as the pass, so the result is the same as if the pass had done
//!   it) and *writes* it, with the status; a write in place records the key as new.
//! - **views** ([`Hook::view_resource`]): what an RPC, an indexer or a simulation reads. The value
//!   comes back in the active layout whether or not its account has been migrated, transformed
//!   in memory; nothing is written, the status is read from the store (not from the hook's
//!   memory), and two nodes stay equal whatever one of them is asked.
//!
//! Both remedies:
//! - *versioned*: the new version has a new tag; an account holding only an older one is
//!   migrated along the chain of versions (v1 -> v2 -> v3). The old version is closed once its
//!   release activates: still readable, never written.
//! - *in place*: the tag does not change, so the bytes at a key do not say which layout they
//!   are in. Every node decides it the same way from the status: keys at or before the pass's
//!   cursor (in key order) are new, the others old, except those recorded as migrated ahead of
//!   the cursor (on access, or written by a transaction in the new layout), which the pass then
//!   passes over. A write in the old layout is refused once the release is active.

use crate::error::HookError;
use crate::hook::{is_table_item, Hook, State};
use crate::staged::Staged;
use crate::status::Status;
use migrations::state_key::resource_key;
use migrations::store::{Store, StoreError, WriteBatch};
use migrations::{AccountAddress, KeyKind, StateKey, StructTag};
use upgrade_spec::ReleaseId;

/// Why a read or write through the hook was refused or failed. The refusals (`NotActive`,
/// `Closed`, `OldLayout`, `Quarantined`) are the transaction's failure, deterministic on every
/// node; `Hook` and `Store` are the node's own trouble (nothing was applied; see
/// [`HookError::fault`]).
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
        release: ReleaseId,
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
        release: ReleaseId,
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
        written: ReleaseId,
        /// The active release that changed the tag in place.
        active: ReleaseId,
    },
    /// The value did not migrate on access: it is quarantined (recorded in the status, its old
    /// bytes kept) and cannot be read in the new layout.
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

/// One migration step of an access: the unit, and the key it reads.
type Step = (usize, Vec<u8>);

/// What an access to a resource needs: the migrations that bring it to the active layout, in
/// order, and the bytes held under the tag asked for, when the account holds that version.
struct Access {
    steps: Vec<Step>,
    bytes: Option<Vec<u8>>,
}

impl Hook {
    /// The struct tag `tag`'s version replaced, if a configured versioned migration produces
    /// it: the predecessor the new version records.
    pub fn predecessor(&self, tag: &StructTag) -> Option<StructTag> {
        let &u = self.schedule.producers.of_tag(tag)?;
        let entry = self.schedule.units.get(u)?.runner.entry();
        Some(StructTag {
            address: migrations::AccountAddress::from_address(entry.from.address, tag.address.width()).ok()?,
            module: entry.from.name.clone(),
            name: tag.name.clone(),
            type_args: tag.type_args.clone(),
        })
    }

    /// Whether `tag` may be written now: refused if its module version is closed (its release's
    /// successor is active) or not yet active.
    pub fn check_write(&mut self, store: &dyn Store, tag: &StructTag) -> Result<(), AccessError> {
        self.refresh(store)?;
        let Some(state) = self.state.as_ref() else { return Ok(()) };
        let module = tag.module_id();
        if let Some(&index) = self.schedule.closes.get(&module) {
            if let Some(plan) = self.schedule.releases.get(index) {
                if state.status.release(u64::from(plan.id.number())).is_some_and(|r| r.is_active()) {
                    return Err(AccessError::Closed {
                        tag: tag.to_string(),
                        module: module.to_string(),
                        release: plan.id.clone(),
                    });
                }
            }
        }
        self.check_active(state, tag)
    }

    /// Writes a resource (a transaction's write) in the layout of the newest active release:
    /// refused for closed versions; in place, the key is recorded as new for every migration
    /// that has not reached it. A consensus write.
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
    /// the bytes would be read with the new layout. A consensus write.
    pub fn write_resource_as(
        &mut self,
        store: &mut dyn Store,
        written: &ReleaseId,
        account: AccountAddress,
        tag: &StructTag,
        bytes: Vec<u8>,
    ) -> Result<(), AccessError> {
        self.refresh(&*store)?;
        if let Some(state) = self.state.as_ref() {
            let newer = self
                .schedule
                .in_place_readers_of(tag)
                .filter_map(|u| self.schedule.units.get(u))
                .find(|unit| unit.release.number() > written.number() && state.is_active(unit));
            if let Some(unit) = newer {
                return Err(AccessError::OldLayout {
                    tag: tag.to_string(),
                    written: written.clone(),
                    active: unit.release.clone(),
                });
            }
        }
        self.write_resource(store, account, tag, bytes)
    }

    /// Deletes a resource (a transaction's delete): refused for closed versions. A consensus
    /// write.
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
        let key = resource_key(&account, tag);
        let mut batch = WriteBatch::new();
        let pending: Vec<usize> = match (&bytes, self.state.as_ref()) {
            (Some(_), Some(state)) => self.pending_in_place(state, tag, &key, &account),
            _ => Vec::new(),
        };
        match bytes {
            Some(bytes) => batch.put_key(&key, bytes),
            None => batch.delete_key(&key),
        }
        Ok(self.apply_marked(store, batch, &key, &pending)?)
    }

    /// Applies `batch` (a transaction's write of `key`) and, when `pending` names in-place
    /// migrations that have not reached the key, the status with the key marked migrated ahead
    /// in each: one batch. A store error forgets the state (it may be ahead of the store).
    fn apply_marked(
        &mut self,
        store: &mut dyn Store,
        mut batch: WriteBatch,
        key: &[u8],
        pending: &[usize],
    ) -> Result<(), StoreError> {
        let mut written = None;
        if let (false, Some(state)) = (pending.is_empty(), self.state.as_mut()) {
            for &u in pending {
                if let Some(unit) = self.schedule.units.get(u) {
                    state.status.progress_mut(&unit.id).cursor.mark_ahead(key);
                }
            }
            written = Some(state.status.write_into(&mut batch, &self.config.chain));
        }
        if let Err(e) = store.apply(batch) {
            self.state = None;
            return Err(e);
        }
        if let (Some(bytes), Some(state)) = (written, self.state.as_mut()) {
            state.set_written(bytes, store.version());
        }
        Ok(())
    }

    /// The in-place migrations of `tag` that are active and have not yet made the key new, in
    /// schedule order.
    fn pending_in_place(&self, state: &State, tag: &StructTag, key: &[u8], account: &AccountAddress) -> Vec<usize> {
        if self.config.chain.is_system(account) {
            // A system account's values were migrated in the activation block.
            return Vec::new();
        }
        self.schedule
            .in_place_readers_of(tag)
            .filter(|&u| {
                let Some(unit) = self.schedule.units.get(u) else { return false };
                let finished = state.finished.get(u).copied().unwrap_or(true);
                let done = state.status.progress_of(&unit.id).is_some_and(|p| p.cursor.is_done(key));
                state.is_active(unit) && !finished && unit.has_user_part() && !done
            })
            .collect()
    }

    /// Reads `tag` at `account` for a transaction, migrating the value first if it is still an
    /// older version (versioned: an older tag; in place: bytes the pass has not reached), and
    /// writing the migration with the status: a consensus write. `Ok(None)` when the account
    /// holds no version of it. For reads that must change nothing (RPC, indexers, simulation),
    /// use [`Hook::view_resource`].
    pub fn read_resource(
        &mut self,
        store: &mut dyn Store,
        account: AccountAddress,
        tag: &StructTag,
    ) -> Result<Option<Vec<u8>>, AccessError> {
        self.config.chain.check_key(&account, tag)?;
        self.refresh(&*store)?;
        // Borrowed, not taken out and put back: most reads migrate nothing, and moving the
        // state twice was a tenth of such a read.
        let Some(state) = &self.state else { return Ok(None) };
        let Some(Access { steps, bytes }) = self.access(state, &*store, account, tag)? else { return Ok(None) };
        if steps.is_empty() {
            // Nothing to migrate: the account holds this version, read just now.
            return Ok(bytes);
        }
        let Some(mut state) = self.state.take() else { return Ok(None) };
        let result = self.migrate_steps(&mut state, store, account, tag, &steps);
        match &result {
            Err(AccessError::Hook(_) | AccessError::Store(_)) => self.state = None,
            _ => self.state = Some(state),
        }
        result?;
        Ok(store.get(&account, tag)?)
    }

    /// Reads `tag` at `account` in the layout of the newest active release, whether or not the
    /// migration has reached it, and writes nothing: the read an RPC, an indexer or a simulation
    /// serves. The status is read from `store` (this call does not trust, or change, the hook's
    /// memory), so a view of any node's store answers as every node's would. `Ok(None)` when
    /// the account holds no version of it.
    pub fn view_resource(
        &self,
        store: &dyn Store,
        account: AccountAddress,
        tag: &StructTag,
    ) -> Result<Option<Vec<u8>>, AccessError> {
        self.config.chain.check_key(&account, tag)?;
        let status = Status::load(store, &self.config.chain)?;
        let state = self.derive(status, None)?;
        let Some(Access { steps, bytes }) = self.access(&state, store, account, tag)? else { return Ok(None) };
        if steps.is_empty() {
            return Ok(bytes);
        }
        let mut staged = Staged::new(store);
        for (u, key) in &steps {
            let Some(unit) = self.schedule.units.get(*u) else { continue };
            let mut batch = WriteBatch::new();
            match unit.runner.migrate_key(&staged, key, &mut batch)? {
                None => {}
                Some(Ok(())) => staged.apply(batch)?,
                Some(Err(failure)) => {
                    return Err(AccessError::Quarantined {
                        tag: tag.to_string(),
                        account: account.to_string(),
                        migration: unit.id.clone(),
                        reason: failure.reason,
                    })
                }
            }
        }
        Ok(staged.get(&account, tag)?)
    }

    /// The migrations an access to `tag` at `account` needs, in order, each with the key it
    /// reads: `None` when the account holds no version of it. Refused when `tag` is not active
    /// or the value is quarantined.
    fn access(
        &self,
        state: &State,
        store: &dyn Store,
        account: AccountAddress,
        tag: &StructTag,
    ) -> Result<Option<Access>, AccessError> {
        self.check_active(state, tag)?;
        // Back along versioned migrations to the version the account holds.
        let mut versioned: Vec<(usize, StructTag)> = Vec::new();
        let bytes = store.get(&account, tag)?;
        let mut present = bytes.is_some();
        while !present {
            let held = versioned.last().map_or(tag, |(_, t)| t);
            let Some(&u) = self.schedule.producers.of_tag(held) else { return Ok(None) };
            let Some(older) = self.predecessor(held) else { return Ok(None) };
            if versioned.len() >= self.schedule.units.len() {
                return Ok(None);
            }
            present = store.get(&account, &older)?.is_some();
            versioned.push((u, older));
        }
        let held = versioned.last().map_or(tag, |(_, t)| t);
        // What the held bytes still need in place, then each versioned step oldest first, each
        // followed by every active in-place change of the tag it writes made after it (its bytes
        // are written in its own release's layout, whatever those passes have reached).
        let mut steps: Vec<Step> = Vec::new();
        if self.schedule.in_place_readers_of(held).next().is_some() {
            let held_key = resource_key(&account, held);
            steps.extend(
                self.pending_in_place(state, held, &held_key, &account).into_iter().map(|u| (u, held_key.clone())),
            );
        }
        for (u, old) in versioned.iter().rev() {
            steps.push((*u, resource_key(&account, old)));
            let Some(unit) = self.schedule.units.get(*u) else { continue };
            let entry = unit.runner.entry();
            let new_tag = StructTag {
                address: AccountAddress::from_address(entry.to.address, tag.address.width())?,
                module: entry.to.name.clone(),
                name: old.name.clone(),
                type_args: old.type_args.clone(),
            };
            let new_key = resource_key(&account, &new_tag);
            steps.extend(
                self.schedule
                    .in_place_readers(&entry.to, &entry.struct_name)
                    .filter(|&later| later > *u && self.schedule.units.get(later).is_some_and(|l| state.is_active(l)))
                    .map(|later| (later, new_key.clone())),
            );
        }
        // A value already quarantined by one of these migrations cannot be read anew.
        for (u, key) in &steps {
            if let Some(unit) = self.schedule.units.get(*u) {
                if let Some(f) = state.status.failure_at(&unit.id, key) {
                    return Err(AccessError::Quarantined {
                        tag: tag.to_string(),
                        account: account.to_string(),
                        migration: unit.id.clone(),
                        reason: f.reason.clone(),
                    });
                }
            }
        }
        Ok(Some(Access { steps, bytes }))
    }

    fn migrate_steps(
        &self,
        state: &mut State,
        store: &mut dyn Store,
        account: AccountAddress,
        what: &dyn std::fmt::Display,
        steps: &[Step],
    ) -> Result<(), AccessError> {
        let chain = &self.config.chain;
        let mut quarantined = None;
        let (batch, written) = {
            let mut staged = Staged::new(&*store);
            for (u, key) in steps {
                let Some(unit) = self.schedule.units.get(*u) else { continue };
                let mut one = WriteBatch::new();
                match unit.runner.migrate_key(&staged, key, &mut one)? {
                    None => {}
                    Some(Ok(())) => {
                        staged.apply(one)?;
                        if !state.finished.get(*u).copied().unwrap_or(true) {
                            let progress = state.status.progress_mut(&unit.id);
                            progress.migrated += 1;
                            if unit.in_place || !is_resource(key) {
                                progress.cursor.mark_ahead(key);
                            }
                        }
                    }
                    Some(Err(failure)) => {
                        // A system account failing is its migration failing, which the prologue
                        // records (a table item belongs to no account).
                        if is_table_item(key) || !chain.is_system(&account) {
                            state.status.record_failure(&unit.id, key, failure.reason.clone());
                        }
                        quarantined = Some((unit.id.clone(), failure.reason));
                        break;
                    }
                }
            }
            let mut status_batch = WriteBatch::new();
            let written = state.status.write_into(&mut status_batch, chain);
            staged.apply(status_batch)?;
            (staged.into_batch(), written)
        };
        store.apply(batch)?;
        state.set_written(written, store.version());
        match quarantined {
            None => Ok(()),
            Some((migration, reason)) => {
                Err(AccessError::Quarantined { tag: what.to_string(), account: account.to_string(), migration, reason })
            }
        }
    }

    fn check_active(&self, state: &State, tag: &StructTag) -> Result<(), AccessError> {
        if let Some(&u) = self.schedule.producers.of_tag(tag) {
            if let Some(unit) = self.schedule.units.get(u) {
                if !state.is_active(unit) {
                    return Err(AccessError::NotActive { tag: tag.to_string(), release: unit.release.clone() });
                }
            }
        }
        Ok(())
    }
}

/// Whether `key` is a resource's.
fn is_resource(key: &[u8]) -> bool {
    key.first() == Some(&(KeyKind::Resource as u8))
}

impl Hook {
    /// Reads the value at `key` for a transaction, migrating first what the pass has not
    /// reached (a consensus write): a resource (as [`Hook::read_resource`]), a resource group
    /// (every member of a migrating struct rewritten, the group written back whole) or a table
    /// item of a table the release rewrites. `Ok(None)` when there is no value. For reads that
    /// must change nothing, use [`Hook::view_key`].
    pub fn read_key(&mut self, store: &mut dyn Store, key: &StateKey) -> Result<Option<Vec<u8>>, AccessError> {
        if let StateKey::Resource { account, tag } = key {
            return self.read_resource(store, *account, tag);
        }
        let bytes = key.encode();
        self.refresh(&*store)?;
        let Some(mut state) = self.state.take() else { return Ok(store.get_key(&bytes)?) };
        let steps = match self.pending_at(&state, &bytes, key) {
            Ok(steps) => steps,
            Err(e) => {
                self.state = Some(state);
                return Err(e);
            }
        };
        if steps.is_empty() {
            self.state = Some(state);
            return Ok(store.get_key(&bytes)?);
        }
        let holder = key.account().copied().unwrap_or_else(|| AccountAddress::zero(self.config.chain.address_length));
        let result = self.migrate_steps(&mut state, store, holder, key, &steps);
        match &result {
            Err(AccessError::Hook(_) | AccessError::Store(_)) => self.state = None,
            _ => self.state = Some(state),
        }
        result?;
        Ok(store.get_key(&bytes)?)
    }

    /// The value at `key` in the layout of the newest active release, whether or not the pass
    /// has reached it, writing nothing: the view of a resource (as [`Hook::view_resource`]), a
    /// resource group or a table item. The status is read from `store`.
    pub fn view_key(&self, store: &dyn Store, key: &StateKey) -> Result<Option<Vec<u8>>, AccessError> {
        if let StateKey::Resource { account, tag } = key {
            return self.view_resource(store, *account, tag);
        }
        let bytes = key.encode();
        let status = Status::load(store, &self.config.chain)?;
        let state = self.derive(status, None)?;
        let steps = self.pending_at(&state, &bytes, key)?;
        let mut staged = Staged::new(store);
        for (u, at) in &steps {
            let Some(unit) = self.schedule.units.get(*u) else { continue };
            let mut batch = WriteBatch::new();
            match unit.runner.migrate_key(&staged, at, &mut batch)? {
                None => {}
                Some(Ok(())) => staged.apply(batch)?,
                Some(Err(failure)) => {
                    return Err(AccessError::Quarantined {
                        tag: key.to_string(),
                        account: key.account().map(ToString::to_string).unwrap_or_default(),
                        migration: unit.id.clone(),
                        reason: failure.reason,
                    })
                }
            }
        }
        Ok(staged.get_key(&bytes)?)
    }

    /// Writes (or with `None` deletes) the value at `key` for a transaction, in the layout of the
    /// newest active release: a resource (as [`Hook::write_resource`] and
    /// [`Hook::delete_resource`]), a resource group or a table item, recorded as new for every
    /// migration that has not reached it. A consensus write.
    pub fn write_key(
        &mut self,
        store: &mut dyn Store,
        key: &StateKey,
        value: Option<Vec<u8>>,
    ) -> Result<(), AccessError> {
        match (key, value) {
            (StateKey::Resource { account, tag }, Some(bytes)) => self.write_resource(store, *account, tag, bytes),
            (StateKey::Resource { account, tag }, None) => self.delete_resource(store, *account, tag),
            (_, value) => {
                let bytes = key.encode();
                self.refresh(&*store)?;
                let mut batch = WriteBatch::new();
                let pending = match (&value, self.state.as_ref()) {
                    (Some(_), Some(state)) => self.pending_at(state, &bytes, key)?,
                    _ => Vec::new(),
                };
                match value {
                    Some(v) => batch.put_key(&bytes, v),
                    None => batch.delete_key(&bytes),
                }
                let units: Vec<usize> = pending.iter().map(|(u, _)| *u).collect();
                Ok(self.apply_marked(store, batch, &bytes, &units)?)
            }
        }
    }

    /// The migrations an access to the group or table item at `key` (its canonical bytes
    /// `bytes`) needs, in schedule order: the active ones that have not reached it and have
    /// something there (a group holds members of any struct with `key`; a table item, only the
    /// tables a migration lists). Refused when one of them quarantined it.
    fn pending_at(&self, state: &State, bytes: &[u8], key: &StateKey) -> Result<Vec<Step>, AccessError> {
        let steps: Vec<Step> = match key {
            StateKey::Group { account, .. } if !self.config.chain.is_system(account) => self
                .schedule
                .units
                .iter()
                .enumerate()
                .filter(|(u, unit)| self.not_reached(state, *u, unit, bytes))
                .map(|(u, _)| (u, bytes.to_vec()))
                .collect(),
            StateKey::TableItem { handle, .. } => self
                .schedule
                .units
                .iter()
                .enumerate()
                .filter(|(_, unit)| unit.runner.tables().any(|h| h == handle))
                .filter(|(u, unit)| self.not_reached(state, *u, unit, bytes))
                .map(|(u, _)| (u, bytes.to_vec()))
                .collect(),
            _ => Vec::new(),
        };
        for (u, at) in &steps {
            if let Some(unit) = self.schedule.units.get(*u) {
                if let Some(f) = state.status.failure_at(&unit.id, at) {
                    return Err(AccessError::Quarantined {
                        tag: key.to_string(),
                        account: key.account().map(ToString::to_string).unwrap_or_default(),
                        migration: unit.id.clone(),
                        reason: f.reason.clone(),
                    });
                }
            }
        }
        Ok(steps)
    }

    /// Whether unit `u` is active, unfinished, and has not made `key` new.
    fn not_reached(&self, state: &State, u: usize, unit: &crate::schedule::Unit, key: &[u8]) -> bool {
        let finished = state.finished.get(u).copied().unwrap_or(true);
        let done = state.status.progress_of(&unit.id).is_some_and(|p| p.cursor.is_done(key));
        state.is_active(unit) && !finished && unit.has_user_part() && !done
    }
}
