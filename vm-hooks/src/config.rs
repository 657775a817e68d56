//! What the hook must know of the chain it runs in, instead of constants: the address width of
//! its state, where the migration status lives, which accounts are the system's, and the work a
//! block may do.
//!
//! Every field is a consensus parameter: nodes configured differently would compute different
//! states. So what a release's migrations run under (the budget, the quarantine limit, the value
//! size limit, the activation height, the catalogue's checksums) is recorded on chain when the
//! release is scheduled (see [`crate::Hook::schedule`]), and every node follows the recorded
//! values; [`crate::Hook::divergence`] lists where this node's configuration disagrees.

use binary_format::AddressLength;
use migrations::store::DEFAULT_MAX_VALUE_SIZE;
use migrations::{AccountAddress, KeyError, StateKey, StructTag, SystemAccounts};

/// Work allowed per block for user-account migrations. System-account migrations are not
/// counted: they must finish in their activation block whatever it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Budget {
    /// Resources visited (migrated or failed).
    pub max_resources: u64,
    /// Bytes read plus bytes written. A resource larger than this alone is migrated alone in a
    /// block (otherwise it would never be), the only time a block goes over.
    pub max_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { max_resources: 1_000, max_bytes: 1 << 20 }
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resources and {} bytes per block", self.max_resources, self.max_bytes)
    }
}

/// The chain the hook runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainConfig {
    /// The width of every address in the chain's state keys.
    pub address_length: AddressLength,
    /// Where the migration status is stored: a resource (an account and a struct tag of the
    /// layout `status` describes; pick a tag no module of the chain declares, e.g. not 0L's own
    /// `0x1::Migrations`), or a reserved key outside the chain's key space (a rehearsal's).
    pub status_key: StateKey,
    /// Accounts whose resources are the system's: migrated in the activation block.
    pub system_accounts: SystemAccounts,
    /// The work a block may do for user-account migrations, for releases whose plan does not
    /// state its own (see [`crate::ReleasePlan::budget`]).
    pub budget: Budget,
    /// Accounts a migration may quarantine before it is deemed broken (its transform, not the
    /// accounts): it then halts, its chunk is rolled back, and governance decides.
    pub max_quarantined: u64,
    /// The largest value the chain stores: a migrated value over it is that resource's failure
    /// (recorded in state, the same on every node), never a store error.
    pub max_value_size: u64,
}

/// Why a chain configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A system account of another width than the chain's, or a status tag that does not parse.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A budget of zero resources or zero bytes: user migrations would never end.
    #[error("the budget must allow at least one resource and one byte per block")]
    EmptyBudget,
    /// The status key is not a resource or a reserved key, or its addresses are not of the
    /// chain's width.
    #[error("the status key {key} must be a resource or a reserved key, with the chain's {width}-byte addresses")]
    StatusKey {
        /// The configured status key.
        key: String,
        /// The chain's width.
        width: AddressLength,
    },
}

impl ChainConfig {
    /// A chain of `address_length`, its status at `status_account` under `status_tag`, these
    /// system accounts, and the default budget and quarantine limit. Refuses addresses of
    /// another width.
    pub fn new(
        address_length: AddressLength,
        status_account: AccountAddress,
        status_tag: StructTag,
        system_accounts: impl IntoIterator<Item = AccountAddress>,
    ) -> Result<ChainConfig, ConfigError> {
        let system: Vec<AccountAddress> = system_accounts.into_iter().collect();
        for a in &system {
            a.expect_width(address_length, || format!("system account {a}"))?;
        }
        let config = ChainConfig {
            address_length,
            status_key: StateKey::Resource { account: status_account, tag: status_tag },
            system_accounts: SystemAccounts::new(system),
            budget: Budget::default(),
            max_quarantined: 16,
            max_value_size: DEFAULT_MAX_VALUE_SIZE as u64,
        };
        config.validate()?;
        Ok(config)
    }

    /// The same chain with another budget (checked by [`ChainConfig::validate`], which the
    /// hook calls when it is built). Consensus: every node must configure the same.
    pub fn with_budget(self, budget: Budget) -> ChainConfig {
        ChainConfig { budget, ..self }
    }

    /// The same chain with its status under another key (a rehearsal keeps it under a reserved
    /// key, which no state can hold).
    pub fn with_status_key(self, status_key: StateKey) -> ChainConfig {
        ChainConfig { status_key, ..self }
    }

    /// The same chain with another value size limit. Consensus.
    pub fn with_max_value_size(self, max_value_size: u64) -> ChainConfig {
        ChainConfig { max_value_size, ..self }
    }

    /// The same chain with another quarantine limit. Consensus: every node must configure the
    /// same, or nodes would halt a migration in different blocks.
    pub fn with_max_quarantined(self, max_quarantined: u64) -> ChainConfig {
        ChainConfig { max_quarantined, ..self }
    }

    /// Refuses a configuration the hook cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.budget.max_resources == 0 || self.budget.max_bytes == 0 {
            return Err(ConfigError::EmptyBudget);
        }
        for a in self.system_accounts.iter() {
            a.expect_width(self.address_length, || format!("system account {a}"))?;
        }
        let status_ok = match &self.status_key {
            StateKey::Resource { account, tag } => {
                account.width() == self.address_length && tag.has_width(self.address_length)
            }
            StateKey::Reserved(_) => true,
            _ => false,
        };
        if !status_ok {
            return Err(ConfigError::StatusKey { key: self.status_key.to_string(), width: self.address_length });
        }
        Ok(())
    }

    /// Whether `account` is one of the system accounts.
    pub fn is_system(&self, account: &AccountAddress) -> bool {
        self.system_accounts.contains(account)
    }

    /// Refuses a key of another width than the chain's.
    pub fn check_key(&self, account: &AccountAddress, tag: &StructTag) -> Result<(), KeyError> {
        account.expect_width(self.address_length, || format!("account {account}"))?;
        if !tag.has_width(self.address_length) {
            return Err(KeyError::WrongWidth {
                what: format!("struct tag {tag}"),
                found: tag.address.width(),
                expected: self.address_length,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_must_agree() {
        let w32 = AddressLength::Bytes32;
        let tag = StructTag::parse("0x1::migration_hook::Status", w32).unwrap();
        let one = AccountAddress::from_u64(1, w32);
        let c = ChainConfig::new(w32, one, tag.clone(), [one]).unwrap();
        assert!(c.is_system(&one));
        assert!(!c.is_system(&AccountAddress::from_u64(2, w32)));
        let short = AccountAddress::from_u64(1, AddressLength::Bytes16);
        assert!(matches!(ChainConfig::new(w32, one, tag.clone(), [short]), Err(ConfigError::Key(_))));
        assert!(matches!(ChainConfig::new(w32, short, tag.clone(), [one]), Err(ConfigError::StatusKey { .. })));
        assert!(c.check_key(&short, &tag).is_err());
        let c = c.with_budget(Budget { max_resources: 0, max_bytes: 1 });
        assert_eq!(c.validate(), Err(ConfigError::EmptyBudget));
    }
}
