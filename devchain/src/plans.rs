//! The embedded stdlib's releases as the hook runs them: each release's catalogue from its
//! predecessor, scheduled at a height, and the hook's configuration for a chain on them. This is
//! what the devnet runs, not a test helper.

use crate::error::DevchainError;
use binary_format::AddressLength;
use binary_format::Module;
use migrations::catalogue::{Catalogue, CatalogueError};
use migrations::handlers::Handlers;
use migrations::{AccountAddress, StructTag};
use upgrade_spec::registry::ReleaseName;
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

/// The struct tag this project's stdlib stores the migration status under (at `0x0`).
pub const STATUS_TAG: &str = "0x1::Migrations::Status";

/// The chain of this project's stdlib (Diem-family): 16-byte addresses, the status at `0x0`
/// under [`STATUS_TAG`], the system account `0x0`, the default budget.
pub fn chain_config() -> Result<ChainConfig, DevchainError> {
    let zero = AccountAddress::zero(WIDTH);
    ChainConfig::new(WIDTH, zero, tag(STATUS_TAG)?, [zero])
        .map_err(|e| DevchainError::Value { tag: STATUS_TAG.to_owned(), reason: e.to_string() })
}

/// The embedded stdlib's catalogue of release `old + 2` (0: v1 -> v2, 1: v2 -> v3), from the
/// committed registry and declarations, with `handlers`.
pub fn catalogue(old: usize, handlers: &Handlers) -> Result<Catalogue, Vec<CatalogueError>> {
    let setup = |message: String| vec![CatalogueError::Layout { id: "stdlib".to_owned(), message }];
    let registry = stdlib::embedded::registry().map_err(|e| setup(e.to_string()))?;
    let declarations = stdlib::embedded::declarations().map_err(|e| setup(e.to_string()))?;
    let old_modules = stdlib::embedded::release_modules(old).map_err(|e| setup(e.to_string()))?;
    let new_modules = stdlib::embedded::release_modules(old + 1).map_err(|e| setup(e.to_string()))?;
    let (o, n): (Vec<&Module>, Vec<&Module>) = (old_modules.iter().collect(), new_modules.iter().collect());
    let release = upgrade_spec::ReleaseId::numbered(u32::try_from(old + 2).unwrap_or(u32::MAX));
    Catalogue::builder(&o, &n, release.label(), stdlib::build::ADDRESS_LENGTH)
        .declarations(&declarations)
        .registry(&registry)
        .handlers(handlers)
        .build()
        .map_err(|e| e.0)
}

/// The plan of each release in `heights` (release, activation height), in order, with the
/// embedded catalogue from its predecessor and the stdlib's hand-written transforms.
pub fn plans(heights: &[(ReleaseName, u64)]) -> Result<Vec<ReleasePlan>, DevchainError> {
    plans_with(heights, &crate::handlers::handlers())
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
            let catalogue = catalogue(number - 2, handlers).map_err(|problems| DevchainError::Catalogue {
                release,
                problems: problems.iter().map(ToString::to_string).collect(),
            })?;
            Ok(ReleasePlan::new(release.into(), height, catalogue))
        })
        .collect()
}

/// The hook's configuration for the stdlib's chain ([`chain_config`]) with `budget` and 16
/// quarantined values before a migration halts. (Every coin type a balance is instantiated at is
/// found in state: none is listed.)
pub fn config(budget: Budget) -> Result<HookConfig, DevchainError> {
    Ok(HookConfig::new(chain_config()?.with_budget(budget).with_max_quarantined(16)))
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
