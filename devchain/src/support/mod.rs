//! What tests and benches share: a chain on stdlib v1 with many accounts, the stdlib's
//! catalogues at fixed heights, and a block loop that checks the budget.
//!
//! Test code: every helper panics on failure (a failed setup is a failed test), so this module
//! is compiled only with the `test-support` feature, which no library enables.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::{AddressLength, Module};
use migrations::catalogue::Catalogue;
use migrations::handlers::Handlers;
use migrations::store::{InMemoryStore, Store};
use migrations::{decode, encode, AccountAddress, Layout, ReleaseIndex, StructTag, Value};
use upgrade_spec::registry::ReleaseName;
use vm_hooks::{AllowAll, BlockReport, Budget, Hook, HookConfig, Policy, ReleasePlan};

pub const V2_HEIGHT: u64 = 10;
pub const V3_HEIGHT: u64 = 100;

pub fn release(n: usize) -> Vec<Module> {
    stdlib::embedded::release_modules(n).unwrap()
}

pub fn tag(s: &str) -> StructTag {
    StructTag::parse(s, crate::plans::WIDTH).unwrap()
}

/// The zero address of the stdlib's chain (its system account).
pub fn zero() -> AccountAddress {
    AccountAddress::zero(crate::plans::WIDTH)
}

/// The stdlib's chain.
pub fn chain() -> vm_hooks::ChainConfig {
    crate::chain_config().unwrap()
}

/// The catalogue of release `old + 2` (from release index `old`).
pub fn catalogue(old: usize, handlers: &Handlers) -> Catalogue {
    crate::catalogue(old, handlers).unwrap()
}

pub fn plans_with(handlers_v3: &Handlers, v2_height: u64, v3_height: u64) -> Vec<ReleasePlan> {
    let mut plans = crate::plans(&[(ReleaseName::new(2), v2_height)]).unwrap();
    plans.extend(crate::plans_with(&[(ReleaseName::new(3), v3_height)], handlers_v3).unwrap());
    plans
}

pub fn plans() -> Vec<ReleasePlan> {
    plans_with(&crate::handlers(), V2_HEIGHT, V3_HEIGHT)
}

pub fn config(budget: Budget) -> HookConfig {
    crate::config(budget).unwrap()
}

pub fn hook(budget: Budget) -> Hook {
    Hook::new(plans(), config(budget), Box::new(AllowAll)).unwrap()
}

pub fn hook_with(plans: Vec<ReleasePlan>, budget: Budget, max_quarantined: u64, policy: Box<dyn Policy>) -> Hook {
    let mut config = config(budget);
    config.chain.max_quarantined = max_quarantined;
    Hook::new(plans, config, policy).unwrap()
}

pub use crate::{account, balance_of, pending_of, BALANCE_V1, BALANCE_V2};

/// Layouts of struct tags in one release.
#[derive(Debug)]
pub struct Layouts(Vec<Module>);

impl Layouts {
    pub fn of(release_index: usize) -> Layouts {
        Layouts(release(release_index))
    }

    pub fn layout(&self, t: &str) -> Layout {
        ReleaseIndex::new(self.0.iter(), AddressLength::Bytes16).unwrap().layout_of_struct_tag(&tag(t)).unwrap()
    }

    pub fn encode(&self, t: &str, value: &Value) -> Vec<u8> {
        encode(value, &self.layout(t)).unwrap()
    }

    pub fn decode(&self, t: &str, bytes: &[u8]) -> Value {
        decode(bytes, &self.layout(t)).unwrap()
    }
}

/// Genesis on v1 with accounts 1..=n (see [`crate::Genesis`]).
pub fn genesis(n: u32) -> InMemoryStore {
    crate::Genesis::new(n).in_memory().unwrap()
}

/// Schedules every planned release of `hook` on the chain in `store`, as a genesis does: the
/// chain's record of what each release runs with (heights, budgets, catalogue checksums).
pub fn schedule_at_genesis(hook: &mut Hook, store: &mut dyn Store) {
    hook.schedule_all(store).unwrap();
}

/// Runs blocks `from..=to` (scheduling the hook's releases first when the chain has none
/// scheduled: a chain whose releases were known at genesis), checking the budget every block;
/// returns the reports.
pub fn run_blocks(hook: &mut Hook, store: &mut InMemoryStore, from: u64, to: u64) -> Vec<(u64, BlockReport)> {
    hook.load(store).unwrap();
    if hook.status().is_some_and(|s| s.releases().is_empty()) {
        schedule_at_genesis(hook, store);
    }
    let budget = hook.chain().budget;
    let mut reports = Vec::new();
    for block in from..=to {
        let r = hook.maybe_migrate(store, block).unwrap();
        assert!(r.resources <= budget.max_resources, "block {block}: {r:?} over {budget:?}");
        // A resource larger than the byte budget goes alone in a block.
        assert!(r.bytes <= budget.max_bytes || r.resources == 1, "block {block}: {r:?} over {budget:?}");
        reports.push((block, r));
    }
    reports
}

/// Every resource but the status (whose heights depend on how many blocks the work took).
pub fn contents(store: &InMemoryStore) -> Vec<(StructTag, AccountAddress, Vec<u8>)> {
    let status = tag(crate::STATUS_TAG);
    store.resources(crate::plans::WIDTH).filter(|(t, _, _)| *t != status).map(|(t, a, b)| (t, a, b.to_vec())).collect()
}

pub fn all_ids() -> Vec<&'static str> {
    vec!["epoch-v2", "coin-balance-v2", "wallet-v2", "stake-v2", "stake-v3", "vouch-v3", "wallet-v3"]
}

pub mod crash;
