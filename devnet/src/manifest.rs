//! The chain's parameters, kept in its store beside the state.
//!
//! What built a chain (accounts, the drill's corrupt accounts, transactions per block, budget)
//! and which releases activate at which heights must survive the process: a chain resumed,
//! upgraded by the runbook or restored from a backup runs the same schedule, and the hook
//! refuses a history that does not match its configuration. It lives in the store's node
//! values, not in a file of its own, so that the state and its schedule are one file: a backup
//! restored by renaming that file brings its schedule with it, never another's.
//!
//! This module is the manifest as data: its checks, and its stored form ([`Manifest::encode`],
//! [`Manifest::decode`]). Keeping it in a store is the chain store's job (`load_manifest` and
//! `save_manifest` there), so the manifest knows nothing of stores: a snapshot's header, a
//! schedule computed before any store exists and the fuzz target read it without one.

use crate::error::DevnetError;
use crate::limits::{MAX_ACCOUNTS, MAX_BUDGET_BYTES, MAX_BUDGET_RESOURCES, MAX_HEIGHT, MAX_TRANSFERS_PER_BLOCK};
use serde::{Deserialize, Serialize};
use std::path::Path;
use upgrade_spec::registry::ReleaseName;
use vm_hooks::Budget;

/// The store's node value that holds the manifest.
pub const MANIFEST_KEY: &str = "manifest";
const FORMAT: &str = "move-devnet";
const VERSION: u32 = 1;
/// A manifest is a few hundred bytes; anything much larger is not one.
const MAX_MANIFEST_BYTES: usize = 1 << 20;

/// `message` with its control characters escaped: serde quotes an unknown field's name as it is.
fn one_line(message: &impl std::fmt::Display) -> String {
    message
        .to_string()
        .chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

/// A release scheduled to activate at a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    pub release: u32,
    pub height: u64,
}

/// Refuses a release that is not one of the embedded stdlib's releases after genesis.
pub fn check_upgrade_release(release: u32) -> Result<(), DevnetError> {
    let releases = u32::try_from(devchain::releases()).unwrap_or(u32::MAX);
    if release < 2 || release > releases {
        return Err(DevnetError::bad_input(format!(
            "v{release} is not a release to upgrade to: the embedded stdlib has v1 (genesis) to v{releases}"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub accounts: u32,
    /// Accounts stored corrupt at genesis (a quarantine drill).
    pub corrupt: u32,
    pub transfers_per_block: u32,
    pub max_resources_per_block: u64,
    pub max_bytes_per_block: u64,
    /// Releases after genesis (v1), in order, at increasing heights.
    pub activations: Vec<Activation>,
}

impl Manifest {
    pub fn new(accounts: u32, corrupt: u32, transfers_per_block: u32, budget: Budget) -> Manifest {
        Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            accounts,
            corrupt,
            transfers_per_block,
            max_resources_per_block: budget.max_resources,
            max_bytes_per_block: budget.max_bytes,
            activations: Vec::new(),
        }
    }

    pub fn budget(&self) -> Budget {
        Budget { max_resources: self.max_resources_per_block, max_bytes: self.max_bytes_per_block }
    }

    /// The activations as the hook's schedule wants them.
    pub fn heights(&self) -> Vec<(ReleaseName, u64)> {
        self.activations.iter().map(|a| (ReleaseName::new(a.release), a.height)).collect()
    }

    /// The newest release scheduled (1 when only genesis).
    pub fn target(&self) -> u32 {
        self.activations.last().map_or(1, |a| a.release)
    }

    /// Schedules `release` at `height`, after everything scheduled, the chain being at `now`.
    pub fn schedule(&mut self, release: u32, height: u64, now: u64) -> Result<(), DevnetError> {
        check_upgrade_release(release)?;
        if height <= now {
            return Err(DevnetError::bad_input(format!(
                "activation height {height} for v{release} is in the past: the chain is at height {now}"
            )));
        }
        if let Some(last) = self.activations.last() {
            if release != last.release + 1 {
                return Err(DevnetError::bad_input(format!(
                    "v{release} cannot follow v{}: releases activate in sequence",
                    last.release
                )));
            }
            if height <= last.height {
                return Err(DevnetError::bad_input(format!(
                    "v{release} at height {height} must come after v{} at height {}",
                    last.release, last.height
                )));
            }
        } else if release != 2 {
            return Err(DevnetError::bad_input(format!("v{release} cannot follow v1: releases activate in sequence")));
        }
        self.activations.push(Activation { release, height });
        Ok(())
    }

    /// What makes a manifest one: its format, a budget, accounts, a schedule in sequence. A
    /// setting beyond what a block carries is not checked here ([`Manifest::check_settings`]):
    /// a chain that holds one (kept by an older devnet) must still open, so that `devnet run`
    /// can change it back.
    pub(crate) fn validate(&self, origin: &Path) -> Result<(), DevnetError> {
        let bad = |what: String| DevnetError::bad_input(format!("{}: {what}", origin.display()));
        if self.format != FORMAT || self.version != VERSION {
            return Err(bad(format!(
                "not a {FORMAT} v{VERSION} manifest (format {:?}, version {})",
                self.format, self.version
            )));
        }
        if self.max_resources_per_block == 0 || self.max_bytes_per_block == 0 {
            return Err(bad("the per-block budget is zero".to_owned()));
        }
        if self.corrupt > self.accounts || self.accounts == 0 {
            return Err(bad(format!("out of range: {} accounts, {} corrupt", self.accounts, self.corrupt)));
        }
        let mut check = Manifest { activations: Vec::new(), ..self.clone() };
        for a in &self.activations {
            check.schedule(a.release, a.height, 0).map_err(|e| bad(e.to_string()))?;
        }
        Ok(())
    }

    /// Checks the settings a node produces blocks with against what a block carries
    /// ([`crate::limits`]); the error names the value, the bound and the flag that sets it.
    pub fn check_settings(&self) -> Result<(), DevnetError> {
        if self.transfers_per_block > MAX_TRANSFERS_PER_BLOCK {
            return Err(DevnetError::bad_input(format!(
                "{} transfers per block is more than a block carries (at most {MAX_TRANSFERS_PER_BLOCK}: with \
                 their vouches {} transactions, about a second of block time); `--transfers` sets it",
                self.transfers_per_block,
                MAX_TRANSFERS_PER_BLOCK / 4 * 5
            )));
        }
        if self.max_resources_per_block > MAX_BUDGET_RESOURCES {
            return Err(DevnetError::bad_input(format!(
                "a budget of {} resources per block is more than a block's prologue may stage (at most \
                 {MAX_BUDGET_RESOURCES}); `--budget` sets it",
                self.max_resources_per_block
            )));
        }
        if self.max_bytes_per_block > MAX_BUDGET_BYTES {
            return Err(DevnetError::bad_input(format!(
                "a budget of {} bytes per block is more than a block's prologue may stage (at most \
                 {MAX_BUDGET_BYTES}); `--budget-bytes` sets it",
                self.max_bytes_per_block
            )));
        }
        if let Some(a) = self.activations.iter().find(|a| a.height > MAX_HEIGHT) {
            return Err(DevnetError::bad_input(format!(
                "v{} is scheduled at height {}, beyond the highest height a chain reaches ({MAX_HEIGHT}); \
                 `--upgrade-at` sets it",
                a.release, a.height
            )));
        }
        Ok(())
    }

    /// Checks the manifest of a chain about to be made: its accounts, and its settings.
    pub fn check_new(&self) -> Result<(), DevnetError> {
        if self.accounts > MAX_ACCOUNTS {
            return Err(DevnetError::bad_input(format!(
                "--accounts {} is more than {MAX_ACCOUNTS} (a chain of {MAX_ACCOUNTS} accounts is a 5 GB store \
                 and about 90 s of genesis)",
                self.accounts
            )));
        }
        if self.corrupt > self.accounts {
            return Err(DevnetError::bad_input(format!(
                "--corrupt {} is more than the {} accounts",
                self.corrupt, self.accounts
            )));
        }
        self.check_settings()
    }

    /// Reads and checks a manifest in its stored form (found at `origin`, for messages).
    pub fn decode(bytes: &[u8], origin: &Path) -> Result<Manifest, DevnetError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(DevnetError::bad_input(format!(
                "{}: the manifest is larger than {MAX_MANIFEST_BYTES} bytes",
                origin.display()
            )));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| DevnetError::bad_input(format!("{}: the manifest is not UTF-8", origin.display())))?;
        Manifest::parse(text, origin)
    }

    pub fn parse(text: &str, origin: &Path) -> Result<Manifest, DevnetError> {
        let manifest: Manifest = serde_json::from_str(text)
            .map_err(|e| DevnetError::bad_input(format!("{}: corrupt manifest: {}", origin.display(), one_line(&e))))?;
        manifest.validate(origin)?;
        Ok(manifest)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The stored form: pretty JSON.
    pub fn encode(&self) -> Result<Vec<u8>, DevnetError> {
        serde_json::to_vec_pretty(self).map_err(|e| DevnetError::failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::new(10, 0, 5, Budget { max_resources: 100, max_bytes: 1 << 20 })
    }

    #[test]
    fn releases_are_scheduled_in_sequence_at_future_increasing_heights() {
        let mut m = manifest();
        assert!(m.schedule(3, 10, 0).is_err(), "v3 before v2");
        assert!(m.schedule(2, 5, 5).is_err(), "in the past");
        m.schedule(2, 6, 5).unwrap();
        assert!(m.schedule(3, 6, 5).is_err(), "same height as v2");
        assert!(m.schedule(4, 20, 5).is_err(), "unknown release");
        m.schedule(3, 7, 5).unwrap();
        assert_eq!(m.target(), 3);
        assert_eq!(m.heights(), vec![(ReleaseName::new(2), 6), (ReleaseName::new(3), 7)]);
    }

    #[test]
    fn settings_are_bounded_by_what_a_block_carries_and_accounts_only_for_a_new_chain() {
        let at_limit = Manifest::new(
            MAX_ACCOUNTS,
            0,
            MAX_TRANSFERS_PER_BLOCK,
            Budget { max_resources: MAX_BUDGET_RESOURCES, max_bytes: MAX_BUDGET_BYTES },
        );
        at_limit.check_new().unwrap();
        let over = |edit: fn(&mut Manifest)| {
            let mut m = at_limit.clone();
            edit(&mut m);
            m.check_new().unwrap_err().to_string()
        };
        assert!(over(|m| m.transfers_per_block += 1).contains("`--transfers` sets it"));
        assert!(over(|m| m.max_resources_per_block += 1).contains("`--budget` sets it"));
        assert!(over(|m| m.max_bytes_per_block += 1).contains("`--budget-bytes` sets it"));
        assert!(
            over(|m| m.activations.push(Activation { release: 2, height: MAX_HEIGHT + 1 })).contains("--upgrade-at")
        );
        assert!(over(|m| m.accounts += 1).contains("--accounts"));
        // A chain made bigger by an older devnet runs.
        Manifest { accounts: u32::MAX, ..at_limit }.check_settings().unwrap();
    }
}
