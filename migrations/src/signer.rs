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
//! - it is scoped to one struct tag and one target (one account, any user account, or the system
//!   account 0x0), and a write to anything else is [`SignerError::OutOfScope`], checked before
//!   the write reaches the batch.

use crate::core_types::{address_of, render_struct_tag};
use crate::store::WriteBatch;
use move_core_types::account_address::AccountAddress;
use move_core_types::language_storage::StructTag;
use std::fmt;

/// Which accounts a capability may write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// The system account 0x0 only.
    System,
    /// Any account but the system account.
    AnyUser,
    /// This account only.
    Account(AccountAddress),
    /// The system account and every user account (an entry whose struct lives in both).
    Everyone,
}

impl Target {
    pub fn allows(&self, account: &AccountAddress) -> bool {
        match self {
            Target::System => *account == AccountAddress::ZERO,
            Target::AnyUser => *account != AccountAddress::ZERO,
            Target::Account(a) => a == account,
            Target::Everyone => true,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::System => f.write_str("the system account 0x0"),
            Target::AnyUser => f.write_str("any user account"),
            Target::Account(a) => write!(f, "account {}", address_of(a)),
            Target::Everyone => f.write_str("every account"),
        }
    }
}

/// What a capability may write: one struct tag (type arguments included) in its target, and
/// the old version it replaces, which it may only delete.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    pub tag: StructTag,
    pub target: Target,
    /// The previous version's tag: deleted, never written.
    pub retires: Option<StructTag>,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", render_struct_tag(&self.tag), self.target)?;
        if let Some(old) = &self.retires {
            write!(f, " (and delete {})", render_struct_tag(old))?;
        }
        Ok(())
    }
}

/// A resource a write was aimed at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource {
    pub account: AccountAddress,
    pub tag: StructTag,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", render_struct_tag(&self.tag), address_of(&self.account))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// Boxed: a struct tag is large, and the path that succeeds should not pay for it.
    #[error("write to {wanted} refused: this signer may write only {allowed}")]
    OutOfScope { wanted: Box<Resource>, allowed: Box<Scope> },
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

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether this signer may write `tag` in `account`.
    pub fn check(&self, account: &AccountAddress, tag: &StructTag) -> Result<(), SignerError> {
        if self.scope.target.allows(account) && self.scope.tag == *tag {
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
        if self.scope.retires.as_ref() != Some(tag) || !self.scope.target.allows(&account) {
            self.check(&account, tag)?;
        }
        batch.delete_ref(account, tag);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core_types::parse_struct_tag;
    use crate::store::{InMemoryStore, Store, Write};

    fn account(n: u8) -> AccountAddress {
        let mut bytes = [0u8; AccountAddress::LENGTH];
        bytes[15] = n;
        AccountAddress::new(bytes)
    }

    fn tag(s: &str) -> StructTag {
        parse_struct_tag(s).unwrap()
    }

    fn signer(tag_text: &str, target: Target) -> PrivilegedSigner {
        PrivilegedSigner::new(Scope { tag: tag(tag_text), target, retires: None })
    }

    #[test]
    fn writes_in_scope_reach_the_batch() {
        let s = signer("0x2::Epoch::Epoch", Target::System);
        let mut batch = WriteBatch::new();
        s.put(&mut batch, AccountAddress::ZERO, &tag("0x2::Epoch::Epoch"), vec![1]).unwrap();
        assert_eq!(batch.get(&AccountAddress::ZERO, &tag("0x2::Epoch::Epoch")), Some(&Write::Put(vec![1])));
        let users = signer("0x3::Coin::Balance<0x1::GAS::GAS>", Target::AnyUser);
        for n in [1u8, 2, 255] {
            users.delete(&mut batch, account(n), &tag("0x3::Coin::Balance<0x1::GAS::GAS>")).unwrap();
        }
        let mut store = InMemoryStore::new();
        store.apply(batch).unwrap();
        assert_eq!(store.get(&AccountAddress::ZERO, &tag("0x2::Epoch::Epoch")).unwrap(), Some(vec![1]));
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
                allowed: Box::new(Scope { tag: tag("0x2::Epoch::Epoch"), target: Target::System, retires: None }),
            }
        );
        assert_eq!(
            err.to_string(),
            "write to 0x2::Epoch::Epoch at 0x5 refused: this signer may write only \
             0x2::Epoch::Epoch in the system account 0x0"
        );
        let users = signer("0x4::Wallet::Wallet", Target::AnyUser);
        assert!(users.delete(&mut batch, AccountAddress::ZERO, &tag("0x4::Wallet::Wallet")).is_err());
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
            let SignerError::OutOfScope { wanted, allowed } = err;
            assert_eq!(wanted.tag, tag(other));
            assert_eq!(*allowed, *s.scope());
            assert!(s.delete(&mut batch, account(1), &tag(other)).is_err());
        }
        assert!(batch.is_empty());
    }
}
