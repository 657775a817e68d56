//! The embedded stdlib's releases as the hook runs them: each release's catalogue from its
//! predecessor, scheduled at a height, and the hook's configuration for a chain on them. This is
//! what the devnet runs, not a test helper.

use crate::error::DevchainError;
use binary_format::AddressLength;
use binary_format::Module;
use migrations::catalogue::Catalogue;
use migrations::handlers::Handlers;
use migrations::{StructTag, TypeTag};
use stdlib::registry::ReleaseName;
use vm_hooks::{Budget, ChainConfig, HookConfig, ReleasePlan};

/// The address width of the embedded stdlib's chain.
pub const WIDTH: AddressLength = AddressLength::Bytes16;

/// The coin type every balance holds.
pub const GAS: &str = "0x1::GAS::GAS";
/// The balance of genesis (release 1).
pub const BALANCE_V1: &str = "0x1::Coin::Balance<0x1::GAS::GAS>";
/// The balance from release 2 on.
pub const BALANCE_V2: &str = "0x3::Coin::Balance<0x1::GAS::GAS>";
/// The releases of the embedded stdlib, numbered from 1 (genesis).
pub fn releases() -> usize {
    stdlib::build::release_count()
}

/// The modules of release `release` (numbered from 1).
pub fn release_modules(release: ReleaseName) -> Result<Vec<Module>, DevchainError> {
    let number = release.number() as usize;
    if number == 0 || number > releases() {
        return Err(DevchainError::UnknownRelease(release));
    }
    stdlib::embedded::release_modules(number - 1)
        .map_err(|e| DevchainError::Release { release: number, reason: e.to_string() })
}

/// A struct tag written by this crate (all of them parse).
pub(crate) fn tag(s: &str) -> Result<StructTag, DevchainError> {
    StructTag::parse(s, WIDTH).map_err(|e| DevchainError::Value { tag: s.to_owned(), reason: e.to_string() })
}

/// The plan of each release in `heights` (release, activation height), in order, with the
/// embedded catalogue from its predecessor and the stdlib's hand-written transforms.
pub fn plans(heights: &[(ReleaseName, u64)]) -> Result<Vec<ReleasePlan>, DevchainError> {
    plans_with(heights, &Handlers::stdlib())
}

/// As [`plans`], with other hand-written transforms (tests that make one fail).
pub fn plans_with(heights: &[(ReleaseName, u64)], handlers: &Handlers) -> Result<Vec<ReleasePlan>, DevchainError> {
    heights
        .iter()
        .map(|&(release, height)| {
            let number = release.number() as usize;
            if number < 2 || number > releases() {
                return Err(DevchainError::UnknownRelease(release));
            }
            let catalogue = Catalogue::stdlib(number - 2, handlers).map_err(|problems| DevchainError::Catalogue {
                release,
                problems: problems.iter().map(ToString::to_string).collect(),
            })?;
            Ok(ReleasePlan::new(release, height, catalogue))
        })
        .collect()
}

/// The generic migration balances go through, instantiated at the one coin type.
const BALANCE_MIGRATION: &str = "coin-balance-v2";

/// The hook's configuration for a chain scheduled with `plans`: the stdlib's chain
/// ([`ChainConfig::stdlib`]) with `budget`, 16 quarantined accounts before a migration halts,
/// and the one coin type balances are instantiated at (when a plan migrates balances).
pub fn config(budget: Budget, plans: &[ReleasePlan]) -> Result<HookConfig, DevchainError> {
    let chain = ChainConfig::stdlib()
        .map_err(|e| DevchainError::Value { tag: vm_hooks::STATUS_TAG.to_owned(), reason: e.to_string() })?
        .with_budget(budget)
        .with_max_quarantined(16);
    let mut config = HookConfig::new(chain);
    if plans.iter().any(|p| p.catalogue.entry(BALANCE_MIGRATION).is_some()) {
        let gas = tag(GAS)?;
        config.instances.insert(BALANCE_MIGRATION.to_owned(), vec![vec![TypeTag::Struct(Box::new(gas))]]);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DevchainError;

    #[test]
    fn plans_cover_each_release_after_genesis_and_refuse_others() {
        let scheduled = plans(&[(ReleaseName::new(2), 10), (ReleaseName::new(3), 20)]).unwrap();
        assert_eq!(scheduled.len(), 2);
        assert!(scheduled.iter().all(|p| !p.catalogue.entries.is_empty()));
        assert!(matches!(plans(&[(ReleaseName::new(1), 10)]), Err(DevchainError::UnknownRelease(_))));
        assert!(plans(&[(ReleaseName::new(9), 10)]).is_err());
    }
}
