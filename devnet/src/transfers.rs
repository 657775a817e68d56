//! User transactions: deterministic coin transfers between accounts.
//!
//! Blocks carry transactions so that a migration is seen working under load: a transfer reads
//! balances in the newest active layout (migrating an account the background pass has not yet
//! reached, on the spot) and writes them back, refused for closed versions. While the runbook
//! quiesces the modules a release changes, transfers touching them are refused and counted;
//! the rest of the chain goes on. The transfers of a block depend only on its height.

use crate::coin::{amount, set_amount, COIN_MODULE};
use crate::error::DevnetError;
use binary_format::AddressLength;
use migrations::core_types::{module_id_of_tag, parse_struct_tag};
use migrations::store::Store;
use migrations::{decode, encode, Layout, ReleaseIndex, StructTag};
use serde::Serialize;
use std::collections::BTreeSet;
use stdlib::registry::ReleaseName;
use vm_hooks::devchain::{account, release_modules, GAS};
use vm_hooks::{AccessError, Hook};

/// What the transactions of some blocks did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TransferCounts {
    /// Applied.
    pub applied: u64,
    /// Refused because the runbook quiesced the module they touch.
    pub quiesced: u64,
    /// Rejected: insufficient balance, a quarantined account, a closed version.
    pub rejected: u64,
}

impl TransferCounts {
    pub fn add(&mut self, other: TransferCounts) {
        self.applied += other.applied;
        self.quiesced += other.quiesced;
        self.rejected += other.rejected;
    }
}

/// The balance's struct tag and layout in each release.
#[derive(Debug, Clone)]
pub struct Balances {
    /// Index `r - 1` for release `r`.
    by_release: Vec<(StructTag, Layout)>,
}

impl Balances {
    /// Finds `Coin::Balance<GAS>` in every embedded release.
    pub fn embedded() -> Result<Balances, DevnetError> {
        let mut by_release = Vec::new();
        for r in 1..=vm_hooks::devchain::releases() {
            let release = ReleaseName::new(u32::try_from(r).unwrap_or(u32::MAX));
            let modules = release_modules(release)?;
            let coin = modules
                .iter()
                .filter(|m| m.name == COIN_MODULE)
                .max_by_key(|m| m.address)
                .ok_or_else(|| DevnetError::failed(format!("{release} has no {COIN_MODULE} module")))?;
            let text = format!("{}::{COIN_MODULE}::Balance<{GAS}>", coin.address);
            let tag = parse_struct_tag(&text).map_err(|e| DevnetError::failed(format!("{text}: {e}")))?;
            let index = ReleaseIndex::new(modules.iter(), AddressLength::Bytes16)
                .map_err(|e| DevnetError::failed(format!("{release}: {e}")))?;
            let layout = index.layout_of_struct_tag(&tag).map_err(|e| DevnetError::failed(format!("{text}: {e}")))?;
            by_release.push((tag, layout));
        }
        Ok(Balances { by_release })
    }

    /// The balance in release `release` (numbered from 1).
    pub fn of(&self, release: usize) -> Option<&(StructTag, Layout)> {
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

/// A balance read for a transfer: `None` when the transfer is rejected.
fn read_balance(
    hook: &mut Hook,
    store: &mut dyn Store,
    n: u32,
    tag: &StructTag,
    layout: &Layout,
) -> Result<Option<migrations::Value>, DevnetError> {
    match hook.read_resource(store, account(n), tag) {
        Ok(Some(bytes)) => Ok(decode(&bytes, layout).ok()),
        Ok(None)
        | Err(AccessError::Quarantined { .. } | AccessError::Closed { .. } | AccessError::NotActive { .. }) => Ok(None),
        Err(AccessError::Hook(e)) => Err(e.into()),
        Err(AccessError::Store(e)) => Err(e.into()),
    }
}

/// Runs the `count` transfers of block `height` among accounts `1..=accounts` against `store`,
/// refusing those that touch a module in `quiesced`.
pub fn run_block(
    hook: &mut Hook,
    store: &mut dyn Store,
    balances: &Balances,
    height: u64,
    count: u32,
    accounts: u32,
    quiesced: &BTreeSet<String>,
) -> Result<TransferCounts, DevnetError> {
    let mut counts = TransferCounts::default();
    if count == 0 || accounts == 0 {
        return Ok(counts);
    }
    let release = 1 + hook.activated_releases();
    let Some((tag, layout)) = balances.of(release) else {
        return Err(DevnetError::failed(format!("no balance layout for release v{release}")));
    };
    if quiesced.contains(&module_id_of_tag(tag).name) {
        counts.quiesced = u64::from(count);
        return Ok(counts);
    }
    for i in 0..u64::from(count) {
        let r = mix(height.wrapping_mul(0x1_0000_0001).wrapping_add(i));
        let from = 1 + (r % u64::from(accounts)) as u32;
        let to = 1 + ((r >> 32) % u64::from(accounts)) as u32;
        let value = u128::from(1 + (r >> 48) % 100);
        let Some(mut payer) = read_balance(hook, store, from, tag, layout)? else {
            counts.rejected += 1;
            continue;
        };
        let Some(mut payee) = read_balance(hook, store, to, tag, layout)? else {
            counts.rejected += 1;
            continue;
        };
        let (Some(have), Some(got)) = (amount(&payer), amount(&payee)) else {
            counts.rejected += 1;
            continue;
        };
        if have < value || from == to || !set_amount(&mut payer, have - value) || !set_amount(&mut payee, got + value) {
            counts.rejected += 1;
            continue;
        }
        let (Ok(payer), Ok(payee)) = (encode(&payer, layout), encode(&payee, layout)) else {
            counts.rejected += 1;
            continue;
        };
        let mut write = |n: u32, bytes: Vec<u8>| match hook.write_resource(store, account(n), tag, bytes) {
            Ok(()) => Ok(true),
            Err(AccessError::Hook(e)) => Err(DevnetError::from(e)),
            Err(AccessError::Store(e)) => Err(e.into()),
            Err(_) => Ok(false),
        };
        // Both writes are to one tag, and whether a tag may be written changes only when a
        // release activates (never within a block's transactions): both pass or the first fails.
        if write(from, payer)? && write(to, payee)? {
            counts.applied += 1;
        } else {
            counts.rejected += 1;
        }
    }
    Ok(counts)
}
