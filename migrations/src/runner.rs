//! The migration runner: the only place a [`PrivilegedSigner`] comes from.
//!
//! For now it does one thing: it holds the scope of one catalogue entry (the struct tag it writes
//! and the accounts it may write to) and lends a signer for exactly that scope to a migration for
//! the time of a call. The signer is created inside [`Runner::with_signer`] and only a shared
//! reference is handed out, so the migration cannot keep it past the call (a compile-fail test
//! shows returning it does not build). Reading old versions, transforming, chunking and recording
//! progress come with the catalogue.

use crate::signer::{PrivilegedSigner, Scope, Target};
use move_core_types::language_storage::StructTag;

/// Runs the migration of one catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    scope: Scope,
}

impl Runner {
    /// A runner for an entry that writes `tag` in `target`'s accounts.
    pub fn new(tag: StructTag, target: Target) -> Runner {
        Runner { scope: Scope { tag, target } }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Lends `f` a signer for this entry's scope, valid for the call only.
    pub fn with_signer<R>(&self, f: impl FnOnce(&PrivilegedSigner) -> R) -> R {
        let signer = PrivilegedSigner::new(self.scope.clone());
        f(&signer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core_types::parse_struct_tag;
    use crate::signer::SignerError;
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
