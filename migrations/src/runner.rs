//! The migration runner: applies one catalogue entry instance to the accounts that hold its old
//! version, and the only place a [`PrivilegedSigner`] comes from.
//!
//! [`Runner::migrate_chunk`] is the one loop that migrates stored resources: the block
//! prologue's budgeted pass, a second pass that checks nothing is left, the runbook's replay and
//! a rehearsal all run it, so a test of one is a test of all. It reads the resources of the old
//! version after a cursor, in address order, transforms each, and through a signer scoped to the
//! entry puts the new resource (and, for a versioned migration, deletes the old) into a batch
//! the caller applies atomically: an account is never half-migrated. An account whose bytes do
//! not transform is reported and left untouched; the others go on.
//!
//! Two remedies, one loop: a *versioned* migration writes the new version under a new tag and
//! deletes the old, so the accounts still to do are exactly those holding the old tag; an
//! *in-place* migration rewrites the tag it reads, so which accounts are done is told by the
//! cursor (key order) and by the caller's `skip` (accounts migrated ahead of it on access).

use crate::catalogue::Instance;
use crate::key::AccountAddress;
#[cfg(test)]
use crate::key::StructTag;
use crate::signer::{PrivilegedSigner, Scope, SignerError, SystemAccounts, Target};
use crate::store::{Store, StoreError, WriteBatch};
use upgrade_spec::declarations::Scope as DeclaredScope;

/// The accounts an entry of this declared scope may write.
pub fn target_of(scope: DeclaredScope) -> Target {
    match scope {
        DeclaredScope::System => Target::System,
        DeclaredScope::Users => Target::AnyUser,
        DeclaredScope::Both => Target::Everyone,
    }
}

/// An account that could not be migrated, and why; its old resource is untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The account whose resource did not migrate.
    pub account: AccountAddress,
    /// Why, for people: the transform's error (with its byte offset) or the signer's refusal.
    /// Not stable text; do not match on it.
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.account, self.reason)
    }
}

/// The work a block may still do, and what it has done: resources visited (migrated or
/// failed) and bytes read plus written. Shared by every chunk of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    /// Resources a block may visit; the meter is spent when `resources` reaches it.
    pub max_resources: u64,
    /// Bytes (read plus written) a block may move. One resource larger than this is still
    /// admitted when it is the block's first, or it would never migrate.
    pub max_bytes: u64,
    /// Resources visited so far (migrated or failed; skipped accounts cost nothing).
    pub resources: u64,
    /// Bytes read plus written so far: a failed resource counts its old bytes only.
    pub bytes: u64,
}

impl Meter {
    /// A fresh meter with these limits and nothing spent.
    pub fn new(max_resources: u64, max_bytes: u64) -> Meter {
        Meter { max_resources, max_bytes, resources: 0, bytes: 0 }
    }

    /// No limit: a pass over everything (a second pass, a replay, a rehearsal's check).
    pub fn unlimited() -> Meter {
        Meter::new(u64::MAX, u64::MAX)
    }

    /// Whether no further resource fits.
    pub fn is_spent(&self) -> bool {
        self.resources >= self.max_resources
    }

    /// Whether one more resource costing `cost` bytes fits. A resource larger than the byte
    /// budget is admitted when nothing else has been done in the block, or it would never be.
    fn admits(&self, cost: u64) -> bool {
        let first = self.resources == 0 && self.bytes == 0;
        !self.is_spent() && (first || self.bytes.saturating_add(cost) <= self.max_bytes)
    }

    fn charge(&mut self, cost: u64) {
        self.resources += 1;
        self.bytes = self.bytes.saturating_add(cost);
    }
}

/// Why a chunk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkEnd {
    /// No account after the cursor holds the old version.
    Exhausted,
    /// The meter is spent: the next block goes on from the cursor.
    OutOfBudget,
    /// The caller's failure callback asked to stop (too many failures: the migration halts).
    Stopped,
}

/// What one chunk did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Accounts migrated.
    pub migrated: u64,
    /// Accounts that did not migrate, in address order; their old resources are untouched and
    /// their writes are not in the batch.
    pub failed: Vec<Failure>,
    /// The last account visited (migrated, failed or skipped): the next chunk starts after it.
    /// The `after` given when nothing was visited.
    pub cursor: Option<AccountAddress>,
    /// Why the chunk ended: only [`ChunkEnd::Exhausted`] means the instance is done.
    pub end: ChunkEnd,
}

/// Runs the migration of one catalogue entry instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    scope: Scope,
}

impl Runner {
    /// A runner that writes `tag` in `target`'s accounts (and nothing else). Crate-private: the
    /// public way in is [`Runner::for_instance`], from a validated catalogue entry.
    #[cfg(test)]
    pub(crate) fn new(tag: StructTag, target: Target, system: SystemAccounts) -> Runner {
        Runner { scope: Scope { tag, target, retires: None, system } }
    }

    /// The runner of a catalogue entry's instance: writes the new version (and, versioned,
    /// deletes the old) in the accounts the entry's scope names, given the chain's system
    /// accounts.
    pub fn for_instance(instance: &Instance, scope: DeclaredScope, system: &SystemAccounts) -> Runner {
        let retires = (!instance.is_in_place()).then(|| instance.old_tag.clone());
        Runner {
            scope: Scope { tag: instance.new_tag.clone(), target: target_of(scope), retires, system: system.clone() },
        }
    }

    /// What this runner's signers may write: the new tag, the accounts, and the old tag a
    /// versioned migration deletes.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Lends `f` a signer for this entry's scope, valid for the call only.
    pub fn with_signer<R>(&self, f: impl FnOnce(&PrivilegedSigner) -> R) -> R {
        let signer = PrivilegedSigner::new(self.scope.clone());
        f(&signer)
    }

    /// Transforms one account's resource and adds its writes to `batch`: the new bytes' length,
    /// or why it did not migrate (nothing is added then).
    fn migrate_into(
        &self,
        signer: &PrivilegedSigner,
        instance: &Instance,
        account: AccountAddress,
        new: Vec<u8>,
        batch: &mut WriteBatch,
    ) -> Result<(), String> {
        signer.check(&account, &instance.new_tag).map_err(|e: SignerError| e.to_string())?;
        if let Some(old) = &self.scope.retires {
            signer.delete(batch, account, old).map_err(|e| e.to_string())?;
        }
        signer.put(batch, account, &instance.new_tag, new).map_err(|e| e.to_string())
    }

    /// The one migration loop. Migrates accounts holding the instance's old version after
    /// `after`, in address order, until none is left, `meter` is spent, or `on_failure` (told of
    /// each account that does not migrate) returns `true`. Accounts for which `skip` returns true
    /// are passed over (the cursor moves past them). Writes go into `batch`, which the caller
    /// applies (or drops, to roll the chunk back); `store` is only read.
    #[allow(clippy::too_many_arguments)]
    pub fn migrate_chunk(
        &self,
        instance: &Instance,
        store: &dyn Store,
        after: Option<AccountAddress>,
        meter: &mut Meter,
        skip: &mut dyn FnMut(&AccountAddress) -> bool,
        on_failure: &mut dyn FnMut(&Failure) -> bool,
        batch: &mut WriteBatch,
    ) -> Result<Chunk, StoreError> {
        let mut chunk = Chunk { migrated: 0, failed: Vec::new(), cursor: after, end: ChunkEnd::Exhausted };
        loop {
            if meter.is_spent() {
                chunk.end = ChunkEnd::OutOfBudget;
                return Ok(chunk);
            }
            let page = usize::try_from(meter.max_resources.saturating_sub(meter.resources).clamp(1, 1024)).unwrap_or(1);
            let found = store.scan(&instance.old_tag, chunk.cursor.as_ref(), page)?;
            let last_page = found.len() < page;
            let stop = self.with_signer(|signer| {
                for (account, old) in found {
                    if skip(&account) {
                        chunk.cursor = Some(account);
                        continue;
                    }
                    let mut new = Vec::with_capacity(old.len() + 16);
                    let transformed = instance.transform(&old, &mut new);
                    let cost = old.len() as u64 + if transformed.is_ok() { new.len() as u64 } else { 0 };
                    if !meter.admits(cost) {
                        return Some(ChunkEnd::OutOfBudget);
                    }
                    meter.charge(cost);
                    chunk.cursor = Some(account);
                    match transformed.and_then(|()| self.migrate_into(signer, instance, account, new, batch)) {
                        Ok(()) => chunk.migrated += 1,
                        Err(reason) => {
                            let failure = Failure { account, reason };
                            let halt = on_failure(&failure);
                            chunk.failed.push(failure);
                            if halt {
                                return Some(ChunkEnd::Stopped);
                            }
                        }
                    }
                }
                None
            });
            if let Some(end) = stop {
                chunk.end = end;
                return Ok(chunk);
            }
            if last_page {
                chunk.end = ChunkEnd::Exhausted;
                return Ok(chunk);
            }
        }
    }

    /// [`Runner::migrate_chunk`] over `store` from `after`, within `meter`, skipping nothing and
    /// never stopping on failures, its batch applied at once: the simplest way to migrate.
    pub fn run(
        &self,
        instance: &Instance,
        store: &mut dyn Store,
        after: Option<AccountAddress>,
        meter: &mut Meter,
    ) -> Result<Chunk, StoreError> {
        let mut batch = WriteBatch::new();
        let chunk = self.migrate_chunk(instance, &*store, after, meter, &mut |_| false, &mut |_| false, &mut batch)?;
        store.apply(batch)?;
        Ok(chunk)
    }

    /// Migrates one account now (the system part at activation, or a read during the migration
    /// window). `Ok(None)` when the account holds no old version. The caller knows, for an
    /// in-place migration, that the bytes at the key are still old.
    pub fn migrate_account(
        &self,
        instance: &Instance,
        store: &mut dyn Store,
        account: AccountAddress,
    ) -> Result<Option<Result<(), Failure>>, StoreError> {
        let Some(old) = store.get(&account, &instance.old_tag)? else { return Ok(None) };
        let mut new = Vec::with_capacity(old.len() + 16);
        let mut batch = WriteBatch::new();
        let outcome = instance
            .transform(&old, &mut new)
            .and_then(|()| self.with_signer(|signer| self.migrate_into(signer, instance, account, new, &mut batch)));
        match outcome {
            Ok(()) => {
                store.apply(batch)?;
                Ok(Some(Ok(())))
            }
            Err(reason) => Ok(Some(Err(Failure { account, reason }))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{InMemoryStore, Store, WriteBatch};
    use binary_format::AddressLength;

    #[test]
    fn lends_a_signer_scoped_to_its_entry() {
        let w = AddressLength::Bytes16;
        let zero = AccountAddress::zero(w);
        let tag = StructTag::parse("0x2::Epoch::Epoch", w).unwrap();
        let runner = Runner::new(tag.clone(), Target::System, SystemAccounts::new([zero]));
        let mut batch = WriteBatch::new();
        let result = runner.with_signer(|signer| {
            assert_eq!(signer.scope(), runner.scope());
            signer.put(&mut batch, zero, &tag, vec![7])?;
            signer.put(&mut batch, zero, &StructTag::parse("0x1::Epoch::Epoch", w).unwrap(), vec![])
        });
        assert!(matches!(result, Err(SignerError::OutOfScope { .. })));
        let mut store = InMemoryStore::new();
        store.apply(batch).unwrap();
        assert_eq!(store.get(&zero, &tag).unwrap(), Some(vec![7]));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn the_meter_admits_one_oversize_resource_alone() {
        let mut m = Meter::new(10, 100);
        assert!(m.admits(500));
        m.charge(500);
        assert!(!m.admits(1));
        let mut m = Meter::new(2, 100);
        m.charge(10);
        assert!(m.admits(90));
        assert!(!m.admits(91));
        m.charge(10);
        assert!(m.is_spent() && !m.admits(0));
    }
}
