//! User transactions: deterministic coin transfers and vouches between accounts.
//!
//! Blocks carry transactions so that a migration is seen working under load: a transaction
//! reads its resources in the newest active layout (migrating an account the background pass
//! has not yet reached, on the spot) and writes them back, refused for closed versions. Two
//! kinds touch two modules: a transfer moves coins between two balances (`Coin`), a vouch adds
//! a buddy to an account's vouch (`Vouch`). While the runbook quiesces the modules a release
//! changes, the transactions touching them are refused and counted, and the others go on: v2
//! changes `Coin` and not `Vouch`, v3 the other way round. The transactions of a block depend
//! only on its height.

use crate::coin::{amount, set_amount, COIN_MODULE};
use crate::error::DevnetError;
use binary_format::{Address, AddressLength};
use devchain::{account, release_modules, GAS};
use migrations::store::Store;
use migrations::{decode, encode, Layout, ReleaseIndex, StructTag, Value};
use serde::Serialize;
use std::collections::BTreeSet;
use upgrade_spec::registry::ReleaseName;
use vm_hooks::{AccessError, Hook};

/// The module and struct a vouch touches.
const VOUCH_MODULE: &str = "Vouch";
/// A vouch keeps this many buddies, the oldest dropped first.
const MAX_BUDDIES: usize = 8;

/// What the transactions of some blocks did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TransactionCounts {
    /// Applied.
    pub applied: u64,
    /// Refused because the runbook quiesced the module they touch.
    pub quiesced: u64,
    /// Rejected: insufficient balance, a quarantined account, a closed version.
    pub rejected: u64,
}

impl TransactionCounts {
    pub fn add(&mut self, other: TransactionCounts) {
        self.applied += other.applied;
        self.quiesced += other.quiesced;
        self.rejected += other.rejected;
    }
}

/// The struct tags and layouts transactions touch, in each release.
#[derive(Debug, Clone)]
pub struct Resources {
    /// Index `r - 1` for release `r`: the balance, then the vouch.
    by_release: Vec<[(StructTag, Layout); 2]>,
}

/// The struct `text` names in `index`.
fn resolve(index: &ReleaseIndex, text: &str) -> Result<(StructTag, Layout), DevnetError> {
    let tag = StructTag::parse(text, devchain::WIDTH).map_err(|e| DevnetError::failed(format!("{text}: {e}")))?;
    let layout = index.layout_of_struct_tag(&tag).map_err(|e| DevnetError::failed(format!("{text}: {e}")))?;
    Ok((tag, layout))
}

impl Resources {
    /// Finds `Coin::Balance<GAS>` and `Vouch::Vouch` in every embedded release: the newest
    /// version of each module.
    pub fn embedded() -> Result<Resources, DevnetError> {
        let mut by_release = Vec::new();
        for r in 1..=devchain::releases() {
            let release = ReleaseName::new(u32::try_from(r).unwrap_or(u32::MAX));
            let modules = release_modules(release)?;
            let newest = |name: &str| {
                modules
                    .iter()
                    .filter(|m| m.name == name)
                    .map(|m| m.address)
                    .max()
                    .ok_or_else(|| DevnetError::failed(format!("{release} has no {name} module")))
            };
            let index = ReleaseIndex::new(modules.iter(), AddressLength::Bytes16)
                .map_err(|e| DevnetError::failed(format!("{release}: {e}")))?;
            let balance = resolve(&index, &format!("{}::{COIN_MODULE}::Balance<{GAS}>", newest(COIN_MODULE)?))?;
            let vouch = resolve(&index, &format!("{}::{VOUCH_MODULE}::Vouch", newest(VOUCH_MODULE)?))?;
            by_release.push([balance, vouch]);
        }
        Ok(Resources { by_release })
    }

    fn of(&self, release: usize) -> Option<&[(StructTag, Layout); 2]> {
        self.by_release.get(release.checked_sub(1)?)
    }
}

/// SplitMix64: a fixed, well-mixed sequence from a seed, so transfers depend on the height only.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A resource read for a transaction: `None` when the transaction is rejected.
fn read(
    hook: &mut Hook,
    store: &mut dyn Store,
    n: u32,
    tag: &StructTag,
    layout: &Layout,
) -> Result<Option<migrations::Value>, DevnetError> {
    match hook.read_resource(store, account(n), tag) {
        Ok(Some(bytes)) => Ok(decode(&bytes, layout).ok()),
        Ok(None)
        | Err(
            AccessError::Quarantined { .. }
            | AccessError::Closed { .. }
            | AccessError::NotActive { .. }
            | AccessError::OldLayout { .. },
        ) => Ok(None),
        Err(AccessError::Hook(e)) => Err(e.into()),
        Err(AccessError::Store(e)) => Err(e.into()),
    }
}

/// Writes a resource for a transaction: false when the write is refused.
fn write(hook: &mut Hook, store: &mut dyn Store, n: u32, tag: &StructTag, bytes: Vec<u8>) -> Result<bool, DevnetError> {
    match hook.write_resource(store, account(n), tag, bytes) {
        Ok(()) => Ok(true),
        Err(AccessError::Hook(e)) => Err(DevnetError::from(e)),
        Err(AccessError::Store(e)) => Err(e.into()),
        Err(_) => Ok(false),
    }
}

/// Runs the transactions of block `height` among accounts `1..=accounts` against `store`:
/// `transfers` transfers and a quarter as many vouches, refusing those that touch a module in
/// `quiesced`.
pub fn run_block(
    hook: &mut Hook,
    store: &mut dyn Store,
    resources: &Resources,
    height: u64,
    transfers: u32,
    accounts: u32,
    quiesced: &BTreeSet<String>,
) -> Result<TransactionCounts, DevnetError> {
    let mut counts = TransactionCounts::default();
    if transfers == 0 || accounts == 0 {
        return Ok(counts);
    }
    let release = 1 + hook.activated_releases();
    let Some([(balance, balance_layout), (vouch, vouch_layout)]) = resources.of(release) else {
        return Err(DevnetError::failed(format!("no layouts for release v{release}")));
    };
    let seed = height.wrapping_mul(0x1_0000_0001);
    if quiesced.contains(&balance.module_id().name) {
        counts.quiesced += u64::from(transfers);
    } else {
        for i in 0..u64::from(transfers) {
            let applied = transfer(hook, store, mix(seed.wrapping_add(i)), accounts, balance, balance_layout)?;
            *if applied { &mut counts.applied } else { &mut counts.rejected } += 1;
        }
    }
    let vouches = (transfers / 4).max(1);
    if quiesced.contains(&vouch.module_id().name) {
        counts.quiesced += u64::from(vouches);
    } else {
        for i in 0..u64::from(vouches) {
            let r = mix(seed.wrapping_add(u64::from(transfers) + i));
            let applied = add_buddy(hook, store, r, accounts, vouch, vouch_layout)?;
            *if applied { &mut counts.applied } else { &mut counts.rejected } += 1;
        }
    }
    Ok(counts)
}

/// Moves 1..=100 coins between two accounts drawn from `r`; false when rejected.
fn transfer(
    hook: &mut Hook,
    store: &mut dyn Store,
    r: u64,
    accounts: u32,
    tag: &StructTag,
    layout: &Layout,
) -> Result<bool, DevnetError> {
    let from = 1 + (r % u64::from(accounts)) as u32;
    let to = 1 + ((r >> 32) % u64::from(accounts)) as u32;
    let value = u128::from(1 + (r >> 48) % 100);
    if from == to {
        return Ok(false);
    }
    let (Some(mut payer), Some(mut payee)) =
        (read(hook, store, from, tag, layout)?, read(hook, store, to, tag, layout)?)
    else {
        return Ok(false);
    };
    let (Some(have), Some(got)) = (amount(&payer), amount(&payee)) else { return Ok(false) };
    if have < value || !set_amount(&mut payer, have - value) || !set_amount(&mut payee, got + value) {
        return Ok(false);
    }
    let (Ok(payer), Ok(payee)) = (encode(&payer, layout), encode(&payee, layout)) else { return Ok(false) };
    // Both writes are to one tag, and whether a tag may be written changes only when a release
    // activates (never within a block's transactions): both pass or the first fails.
    Ok(write(hook, store, from, tag, payer)? && write(hook, store, to, tag, payee)?)
}

/// Adds a buddy to the vouch of an even account drawn from `r`; false when rejected.
fn add_buddy(
    hook: &mut Hook,
    store: &mut dyn Store,
    r: u64,
    accounts: u32,
    tag: &StructTag,
    layout: &Layout,
) -> Result<bool, DevnetError> {
    let holders = u64::from(accounts / 2);
    if holders == 0 {
        return Ok(false);
    }
    let n = 2 * (1 + (r % holders) as u32);
    let Some(mut vouch) = read(hook, store, n, tag, layout)? else { return Ok(false) };
    let Value::Struct(fields) = &mut vouch else { return Ok(false) };
    let Some(Value::Vector(buddies)) = fields.iter_mut().find(|f| matches!(f, Value::Vector(_))) else {
        return Ok(false);
    };
    buddies.push(Value::Address(Address::from_u64(r >> 16)));
    if buddies.len() > MAX_BUDDIES {
        buddies.remove(0);
    }
    let Ok(bytes) = encode(&vouch, layout) else { return Ok(false) };
    write(hook, store, n, tag, bytes)
}
