//! The migration runner: applies one catalogue entry to the accounts that hold its old version,
//! and the only place a [`PrivilegedSigner`] comes from.
//!
//! For each account it reads the old resource, transforms it, and, through a signer scoped to
//! the entry (write the new version, delete the old one, in the entry's accounts), puts the new
//! resource and deletes the old in one batch per chunk, applied atomically: an account is never
//! half-migrated. An account whose bytes do not transform is reported and left untouched; the
//! others go on. Running a range again changes nothing: migrated accounts no longer hold the old
//! version, so they are not visited.

use crate::catalogue::Instance;
use crate::core_types::address_of;
use crate::signer::{PrivilegedSigner, Scope, SignerError, Target};
use crate::store::{Store, StoreError, WriteBatch};
use move_core_types::account_address::AccountAddress;
use stdlib::declarations::Scope as DeclaredScope;

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
    pub account: AccountAddress,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", address_of(&self.account), self.reason)
    }
}

/// What one chunk did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChunkReport {
    /// Accounts migrated.
    pub migrated: u64,
    pub failed: Vec<Failure>,
    /// The last account visited: the next chunk starts after it.
    pub cursor: Option<AccountAddress>,
    /// No account after the cursor holds the old version.
    pub done: bool,
    pub bytes_read: u64,
    pub bytes_written: u64,
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
    pub(crate) fn new(tag: move_core_types::language_storage::StructTag, target: Target) -> Runner {
        Runner { scope: Scope { tag, target, retires: None } }
    }

    /// The runner of a catalogue entry's instance: writes the new version and deletes the old,
    /// in the accounts the entry's scope names.
    pub fn for_instance(instance: &Instance, scope: DeclaredScope) -> Runner {
        Runner {
            scope: Scope {
                tag: instance.new_tag.clone(),
                target: target_of(scope),
                retires: Some(instance.old_tag.clone()),
            },
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Lends `f` a signer for this entry's scope, valid for the call only.
    pub fn with_signer<R>(&self, f: impl FnOnce(&PrivilegedSigner) -> R) -> R {
        let signer = PrivilegedSigner::new(self.scope.clone());
        f(&signer)
    }

    /// Migrates one account's resource into `batch`. `Ok(false)` when it holds no old version.
    fn migrate_into(
        &self,
        signer: &PrivilegedSigner,
        instance: &Instance,
        account: AccountAddress,
        old: &[u8],
        batch: &mut WriteBatch,
    ) -> Result<usize, String> {
        let mut new = Vec::with_capacity(old.len() + 16);
        instance.transform(old, &mut new)?;
        let written = new.len();
        signer.put(batch, account, &instance.new_tag, new).map_err(|e: SignerError| e.to_string())?;
        signer.delete(batch, account, &instance.old_tag).map_err(|e| e.to_string())?;
        Ok(written)
    }

    /// Migrates up to `max_accounts` accounts holding the old version after `after`, in address
    /// order, in one atomic batch. Failing accounts are reported and skipped (they still hold the
    /// old version, so a later chunk would meet them again: the cursor moves past them).
    pub fn run_chunk(
        &self,
        instance: &Instance,
        store: &mut dyn Store,
        after: Option<AccountAddress>,
        max_accounts: usize,
    ) -> Result<ChunkReport, StoreError> {
        let found = store.scan(&instance.old_tag, after.as_ref(), max_accounts.saturating_add(1))?;
        let more = found.len() > max_accounts;
        let mut report = ChunkReport::default();
        let mut batch = WriteBatch::new();
        self.with_signer(|signer| {
            for (account, old) in found.iter().take(max_accounts) {
                report.cursor = Some(*account);
                report.bytes_read += old.len() as u64;
                match self.migrate_into(signer, instance, *account, old, &mut batch) {
                    Ok(written) => {
                        report.migrated += 1;
                        report.bytes_written += written as u64;
                    }
                    Err(reason) => report.failed.push(Failure { account: *account, reason }),
                }
            }
        });
        store.apply(batch)?;
        report.done = !more;
        Ok(report)
    }

    /// Migrates one account now (a read during the migration window). `Ok(None)` when the
    /// account holds no old version (already migrated, or never had it).
    pub fn migrate_account(
        &self,
        instance: &Instance,
        store: &mut dyn Store,
        account: AccountAddress,
    ) -> Result<Option<Result<(), Failure>>, StoreError> {
        let Some(old) = store.get(&account, &instance.old_tag)? else { return Ok(None) };
        let mut batch = WriteBatch::new();
        let outcome = self.with_signer(|signer| self.migrate_into(signer, instance, account, &old, &mut batch));
        match outcome {
            Ok(_) => {
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
    use crate::core_types::parse_struct_tag;
    use crate::store::{InMemoryStore, Store, WriteBatch};
    use move_core_types::account_address::AccountAddress;

    #[test]
    fn lends_a_signer_scoped_to_its_entry() {
        let tag = parse_struct_tag("0x2::Epoch::Epoch").unwrap();
        let runner = Runner::new(tag.clone(), Target::System);
        let mut batch = WriteBatch::new();
        let result = runner.with_signer(|signer| {
            assert_eq!(signer.scope(), runner.scope());
            signer.put(&mut batch, AccountAddress::ZERO, &tag, vec![7])?;
            signer.put(&mut batch, AccountAddress::ZERO, &parse_struct_tag("0x1::Epoch::Epoch").unwrap(), vec![])
        });
        assert!(matches!(result, Err(SignerError::OutOfScope { .. })));
        let mut store = InMemoryStore::new();
        store.apply(batch).unwrap();
        assert_eq!(store.get(&AccountAddress::ZERO, &tag).unwrap(), Some(vec![7]));
        assert_eq!(store.len(), 1);
    }
}
