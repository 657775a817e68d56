//! The privileged signer: the capability a migration writes with.
//!
//! Only the account holder may put a resource in an account, yet a migration must rewrite
//! resources in the system account and in every user account before their holders act. Upstream
//! Move does this with `create_signer` (0L wraps it as `scary_create_signer_for_migrations`): a
//! signer for any account, which anything that can call it can abuse. Here the power is a Rust
//! capability instead, narrowed to what one catalogue entry needs:
//! - it cannot be built outside this crate: its field is private and its constructor is
//!   `pub(crate)`, and only the runner calls it (a compile-fail test proves both);
//! - it is not `Clone`, and the runner only lends it for the time of a call, so a migration
//!   cannot keep it;
//! - it is scoped to one struct tag and one target (one account, any user account, or the
//!   chain's system accounts), and a write to anything else is [`SignerError::OutOfScope`],
//!   checked before the write reaches the batch. An in-place migration's signer rewrites the tag
//!   it reads; a versioned one writes the new version and may only delete the old.

use crate::key::{AccountAddress, StructTag};
use crate::store::WriteBatch;
use std::fmt;

/// The accounts whose resources are the system's: read by system operations from the first
/// block of a release, so migrated in its activation block. Which they are is the chain's
/// (`0x0` on Diem-family chains; `0x1` and others elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SystemAccounts(Vec<AccountAddress>);

impl SystemAccounts {
    /// The set of `accounts`, sorted, without repeats.
    pub fn new(accounts: impl IntoIterator<Item = AccountAddress>) -> SystemAccounts {
        let mut v: Vec<AccountAddress> = accounts.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        SystemAccounts(v)
    }

    /// Whether `account` is one of them. O(log n).
    pub fn contains(&self, account: &AccountAddress) -> bool {
        self.0.binary_search(account).is_ok()
    }

    /// The accounts, in address order.
    pub fn iter(&self) -> impl Iterator<Item = &AccountAddress> {
        self.0.iter()
    }
}

impl fmt::Display for SystemAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.len() == 1 { "the system account" } else { "the system accounts" })?;
        for (i, a) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

/// Which accounts a capability may write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// The system accounts only.
    System,
    /// Any account but the system accounts.
    AnyUser,
    /// This account only.
    Account(AccountAddress),
    /// The system accounts and every user account (an entry whose struct lives in both).
    Everyone,
}

impl Target {
    /// Whether the target includes `account`, given the chain's system accounts.
    pub fn allows(&self, account: &AccountAddress, system: &SystemAccounts) -> bool {
        match self {
            Target::System => system.contains(account),
            Target::AnyUser => !system.contains(account),
            Target::Account(a) => a == account,
            Target::Everyone => true,
        }
    }
}

/// What a capability may write: one struct tag (type arguments included) in its target, and
/// the old version it replaces, which it may only delete.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// The one struct tag, type arguments included, that may be put (the new version, or in
    /// place the tag read).
    pub tag: StructTag,
    /// The accounts writes may go to, relative to `system`.
    pub target: Target,
    /// The previous version's tag (a versioned migration): deleted, never written. `None` in
    /// place, where the tag written is the tag read.
    pub retires: Option<StructTag>,
    /// The chain's system accounts, which `target` is relative to.
    pub system: SystemAccounts,
    /// The tables (by handle, sorted) whose items it may rewrite: items belong to no account,
    /// so the tables listed for the migration on chain are its scope there.
    pub tables: Vec<AccountAddress>,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in ", self.tag)?;
        match &self.target {
            Target::System => write!(f, "{}", self.system)?,
            Target::AnyUser => write!(f, "any account but {}", self.system)?,
            Target::Account(a) => write!(f, "account {a}")?,
            Target::Everyone => f.write_str("every account")?,
        }
        if let Some(old) = &self.retires {
            write!(f, " (and delete {old})")?;
        }
        if !self.tables.is_empty() {
            write!(f, ", and the items of {} tables", self.tables.len())?;
        }
        Ok(())
    }
}

/// A resource a write was aimed at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    /// The account written to.
    pub account: AccountAddress,
    /// The struct tag written.
    pub tag: StructTag,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.tag, self.account)
    }
}

/// A write the signer refused; nothing reached the batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The account or the tag is outside the signer's scope: a bug in the entry or the runner,
    /// never something stored bytes can cause. Boxed: a struct tag is large, and the path that
    /// succeeds should not pay for it.
    #[error("write to {wanted} refused: this signer may write only {allowed}")]
    OutOfScope {
        /// The write that was attempted.
        wanted: Box<Resource>,
        /// What the signer may write.
        allowed: Box<Scope>,
    },
    /// A table item of a table outside the signer's scope.
    #[error("write to an item of table {handle} refused: this signer may write only {allowed}")]
    TableOutOfScope {
        /// The table written to.
        handle: AccountAddress,
        /// What the signer may write.
        allowed: Box<Scope>,
    },
}

/// Proof that a signer's target holds an account, made by that signer's `check_account` and
/// taken only by its own writes.
#[derive(Debug)]
pub(crate) struct InScope<'s> {
    signer: &'s PrivilegedSigner,
    account: AccountAddress,
}

/// The capability to write one struct tag in the accounts of its target, bypassing the account
/// holder. Deliberately neither `Clone` nor `Default`, with no public constructor.
#[derive(Debug)]
pub struct PrivilegedSigner {
    scope: Scope,
}

impl PrivilegedSigner {
    /// Only the runner creates signers, from a catalogue entry.
    pub(crate) fn new(scope: Scope) -> Self {
        PrivilegedSigner { scope }
    }

    /// What this signer may write.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether this signer may write `tag` in `account`.
    pub fn check(&self, account: &AccountAddress, tag: &StructTag) -> Result<(), SignerError> {
        if self.scope.target.allows(account, &self.scope.system) && self.scope.tag == *tag {
            Ok(())
        } else {
            Err(SignerError::OutOfScope {
                wanted: Box::new(Resource { account: *account, tag: tag.clone() }),
                allowed: Box::new(self.scope.clone()),
            })
        }
    }

    /// Adds a put of `bytes` as `tag` in `account` to `batch`, if in scope.
    pub fn put(
        &self,
        batch: &mut WriteBatch,
        account: AccountAddress,
        tag: &StructTag,
        bytes: Vec<u8>,
    ) -> Result<(), SignerError> {
        self.check(&account, tag)?;
        batch.put_ref(account, tag, bytes);
        Ok(())
    }

    /// Adds a delete of `tag` in `account` to `batch`, if in scope: the tag it writes, or the
    /// old version it retires.
    pub fn delete(&self, batch: &mut WriteBatch, account: AccountAddress, tag: &StructTag) -> Result<(), SignerError> {
        if self.scope.retires.as_ref() != Some(tag) || !self.scope.target.allows(&account, &self.scope.system) {
            self.check(&account, tag)?;
        }
        batch.delete_ref(account, tag);
        Ok(())
    }
}

impl PrivilegedSigner {
    /// Refuses `account` unless this signer's target holds it; else the proof that it does,
    /// which this signer's writes to the account take (checked once for a value's writes).
    pub(crate) fn check_account(&self, account: &AccountAddress) -> Result<InScope<'_>, SignerError> {
        if self.scope.target.allows(account, &self.scope.system) {
            Ok(InScope { signer: self, account: *account })
        } else {
            Err(SignerError::OutOfScope {
                wanted: Box::new(Resource { account: *account, tag: self.scope.tag.clone() }),
                allowed: Box::new(self.scope.clone()),
            })
        }
    }

    /// Refuses a proof made by another signer.
    fn own<'a>(&self, checked: &'a InScope<'_>) -> Result<&'a AccountAddress, SignerError> {
        if std::ptr::eq(checked.signer, self) {
            Ok(&checked.account)
        } else {
            Err(SignerError::OutOfScope {
                wanted: Box::new(Resource { account: checked.account, tag: self.scope.tag.clone() }),
                allowed: Box::new(self.scope.clone()),
            })
        }
    }

    /// Adds a put of this signer's own tag in the account `checked` holds, at `key` (their
    /// encoded resource key), to `batch`. The tag is the scope's and the account was checked:
    /// the migration loop writes millions of values of one instantiation, and comparing its tag
    /// with the scope's for each (module, name, type arguments) was 3% of a rehearsal.
    pub(crate) fn put_own_at(
        &self,
        batch: &mut impl crate::write_log::WriteSink,
        checked: &InScope<'_>,
        key: &[u8],
        bytes: Vec<u8>,
    ) -> Result<(), SignerError> {
        let account = self.own(checked)?;
        debug_assert_eq!(key, crate::state_key::resource_key(account, &self.scope.tag).as_slice());
        batch.put_key(key, bytes);
        Ok(())
    }

    /// Adds a delete of the old version this signer retires in the account `checked` holds, at
    /// `key` (their encoded resource key), to `batch`, if the signer retires one.
    pub(crate) fn delete_retired_at(
        &self,
        batch: &mut impl crate::write_log::WriteSink,
        checked: &InScope<'_>,
        key: &[u8],
    ) -> Result<(), SignerError> {
        let account = self.own(checked)?;
        let Some(old) = &self.scope.retires else {
            return Err(SignerError::OutOfScope {
                wanted: Box::new(Resource { account: *account, tag: self.scope.tag.clone() }),
                allowed: Box::new(self.scope.clone()),
            });
        };
        debug_assert_eq!(key, crate::state_key::resource_key(account, old).as_slice());
        batch.delete_key(key);
        Ok(())
    }

    /// Adds a put of a resource group's value at `key` (a group of `account`) to `batch`, if a
    /// member of `tag` in `account` is in scope: the group's other members are carried over
    /// unchanged by the caller.
    pub(crate) fn put_group(
        &self,
        batch: &mut WriteBatch,
        account: AccountAddress,
        tag: &StructTag,
        key: &[u8],
        bytes: Vec<u8>,
    ) -> Result<(), SignerError> {
        self.check(&account, tag)?;
        debug_assert_eq!(key.first(), Some(&(crate::state_key::KeyKind::Group as u8)));
        batch.put_key(key, bytes);
        Ok(())
    }

    /// Adds a put of a table item's value at `key` (an item of table `handle`) to `batch`, if
    /// the table is in scope.
    pub(crate) fn put_table_item(
        &self,
        batch: &mut WriteBatch,
        handle: &AccountAddress,
        key: &[u8],
        bytes: Vec<u8>,
    ) -> Result<(), SignerError> {
        if self.scope.tables.binary_search(handle).is_err() {
            return Err(SignerError::TableOutOfScope { handle: *handle, allowed: Box::new(self.scope.clone()) });
        }
        debug_assert!(key.starts_with(&crate::state_key::table_prefix(handle)));
        batch.put_key(key, bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{InMemoryStore, Store, Write};
    use binary_format::AddressLength;

    const ZERO: AccountAddress = account(0);

    const fn account(n: u8) -> AccountAddress {
        let mut bytes = [0u8; 32];
        bytes[15] = n;
        AccountAddress::from_raw(bytes, AddressLength::Bytes16)
    }

    fn tag(s: &str) -> StructTag {
        StructTag::parse(s, AddressLength::Bytes16).unwrap()
    }

    fn system() -> SystemAccounts {
        SystemAccounts::new([ZERO])
    }

    fn signer(tag_text: &str, target: Target) -> PrivilegedSigner {
        PrivilegedSigner::new(Scope { tag: tag(tag_text), target, retires: None, system: system(), tables: Vec::new() })
    }

    /// The loop's writes: the account is checked once, and the proof serves only the signer
    /// that made it; an account outside the target gets no proof; a signer that retires
    /// nothing deletes nothing.
    #[test]
    fn a_proof_of_scope_serves_its_own_signer_only() {
        let users = signer("0x1::Coin::Coin", Target::AnyUser);
        let system_only = signer("0x1::Coin::Coin", Target::System);
        let user = account(7);
        assert!(users.check_account(&ZERO).is_err(), "a system account is not a user's");
        let proof = users.check_account(&user).unwrap();
        let key = crate::state_key::resource_key(&user, &tag("0x1::Coin::Coin"));
        let mut batch = WriteBatch::new();
        users.put_own_at(&mut batch, &proof, &key, vec![1]).unwrap();
        assert_eq!(batch.len(), 1);
        assert!(system_only.put_own_at(&mut batch, &proof, &key, vec![2]).is_err(), "another signer's proof");
        assert!(users.delete_retired_at(&mut batch, &proof, &key).is_err(), "it retires nothing");
        assert_eq!(batch.get_key(&key), Some(&Write::Put(vec![1])));
    }

    #[test]
    fn writes_in_scope_reach_the_batch() {
        let s = signer("0x2::Epoch::Epoch", Target::System);
        let mut batch = WriteBatch::new();
        s.put(&mut batch, ZERO, &tag("0x2::Epoch::Epoch"), vec![1]).unwrap();
        assert_eq!(batch.get(&ZERO, &tag("0x2::Epoch::Epoch")), Some(&Write::Put(vec![1])));
        let users = signer("0x3::Coin::Balance<0x1::GAS::GAS>", Target::AnyUser);
        for n in [1u8, 2, 255] {
            users.delete(&mut batch, account(n), &tag("0x3::Coin::Balance<0x1::GAS::GAS>")).unwrap();
        }
        let mut store = InMemoryStore::new();
        store.apply(batch).unwrap();
        assert_eq!(store.get(&ZERO, &tag("0x2::Epoch::Epoch")).unwrap(), Some(vec![1]));
    }

    #[test]
    fn another_account_is_out_of_scope() {
        let s = signer("0x2::Epoch::Epoch", Target::System);
        let mut batch = WriteBatch::new();
        let err = s.put(&mut batch, account(5), &tag("0x2::Epoch::Epoch"), vec![1]).unwrap_err();
        assert_eq!(
            err,
            SignerError::OutOfScope {
                wanted: Box::new(Resource { account: account(5), tag: tag("0x2::Epoch::Epoch") }),
                allowed: Box::new(Scope {
                    tag: tag("0x2::Epoch::Epoch"),
                    target: Target::System,
                    retires: None,
                    system: system(),
                    tables: Vec::new(),
                }),
            }
        );
        assert_eq!(
            err.to_string(),
            "write to 0x2::Epoch::Epoch at 0x5 refused: this signer may write only \
             0x2::Epoch::Epoch in the system account 0x0"
        );
        let users = signer("0x4::Wallet::Wallet", Target::AnyUser);
        assert!(users.delete(&mut batch, ZERO, &tag("0x4::Wallet::Wallet")).is_err());
        let one = signer("0x4::Wallet::Wallet", Target::Account(account(7)));
        assert!(one.put(&mut batch, account(7), &tag("0x4::Wallet::Wallet"), vec![]).is_ok());
        let err = one.put(&mut batch, account(8), &tag("0x4::Wallet::Wallet"), vec![]).unwrap_err();
        assert!(err.to_string().contains("may write only 0x4::Wallet::Wallet in account 0x7"), "{err}");
        // Refused writes left nothing behind.
        assert_eq!(batch.len(), 1);
    }

    #[test]
    fn another_struct_is_out_of_scope_type_arguments_included() {
        let s = signer("0x3::Coin::Balance<0x1::GAS::GAS>", Target::AnyUser);
        let mut batch = WriteBatch::new();
        for other in [
            "0x3::Coin::Balance<0x1::Other::Other>",
            "0x1::Coin::Balance<0x1::GAS::GAS>",
            "0x3::Coin::Coin<0x1::GAS::GAS>",
            "0x1::Migrations::Status",
        ] {
            let err = s.put(&mut batch, account(1), &tag(other), vec![]).unwrap_err();
            let SignerError::OutOfScope { wanted, allowed } = err else { panic!("{err}") };
            assert_eq!(wanted.tag, tag(other));
            assert_eq!(*allowed, *s.scope());
            assert!(s.delete(&mut batch, account(1), &tag(other)).is_err());
        }
        assert!(batch.is_empty());
    }

    #[test]
    fn table_items_only_of_the_listed_tables() {
        let table = account(0x44);
        let listed = PrivilegedSigner::new(Scope {
            tag: tag("0x1::voting::Proposal"),
            target: Target::AnyUser,
            retires: None,
            system: system(),
            tables: vec![table],
        });
        let mut batch = WriteBatch::new();
        let mut key = crate::state_key::table_prefix(&table);
        key.push(9);
        listed.put_table_item(&mut batch, &table, &key, vec![1]).unwrap();
        let other = account(0x45);
        let mut key = crate::state_key::table_prefix(&other);
        key.push(9);
        let err = listed.put_table_item(&mut batch, &other, &key, vec![1]).unwrap_err();
        assert!(err.to_string().contains("item of table 0x45 refused"), "{err}");
        assert_eq!(batch.len(), 1);
    }
}
