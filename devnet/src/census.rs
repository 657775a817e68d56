//! A census of the state: how many resources of each struct, how much money, and which
//! resources do not decode with the layout their release gives them.
//!
//! The runbook takes one before migrating and one after, and verify compares them: counts move
//! from each old version to its new one, the supply is conserved, and everything decodes.

use crate::coin::coins_in;
use crate::error::DevnetError;
use binary_format::AddressLength;
use devchain::release_modules;
use migrations::state_key::{describe, KeyKind};
use migrations::store::Store;
use migrations::{decode, AccountAddress, Layout, ReleaseIndex, StructTag};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use upgrade_spec::registry::ReleaseName;

/// Undecodable resources listed in full; beyond this they are only counted.
const MAX_LISTED: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Census {
    /// Resources per struct tag (rendered), sorted.
    pub counts: BTreeMap<String, u64>,
    /// The sum of every `Coin::Coin` in the state.
    pub supply: u128,
    /// Resources whose bytes do not decode with their layout (the first few, then a count).
    pub undecodable: Vec<String>,
    pub undecodable_count: u64,
}

impl Census {
    pub fn resources(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn count(&self, tag: &str) -> u64 {
        self.counts.get(tag).copied().unwrap_or(0)
    }
}

/// Takes a census of `state`, decoding every resource with the layout release `release` gives
/// its struct tag (every version of a module a chain has held stays in the releases after it,
/// closed, so the newest active release knows every tag in the state). Keys that are not
/// resources (the reserved status, none other on a devnet) are not counted.
pub fn take(state: &dyn Store, release: u32) -> Result<Census, DevnetError> {
    let width = AddressLength::Bytes16;
    let modules = release_modules(ReleaseName::new(release))?;
    let index =
        ReleaseIndex::new(modules.iter(), width).map_err(|e| DevnetError::failed(format!("v{release}: {e}")))?;
    let mut census = Census::default();
    // Per tag prefix: the rendered tag and its layout (or why it has none).
    let mut current: Option<(Vec<u8>, String, Result<Layout, String>)> = None;
    let mut failure: Option<DevnetError> = None;
    let resources = [KeyKind::Resource as u8];
    state.scan_keys(&resources, None, &mut |key, bytes| {
        let Some(split) = key.len().checked_sub(width.bytes()).filter(|&n| n > 1) else {
            failure = Some(DevnetError::failed(format!("a resource key of {} bytes", key.len())));
            return false;
        };
        let (prefix, account) = key.split_at(split);
        if current.as_ref().is_none_or(|(p, _, _)| p.as_slice() != prefix) {
            match StructTag::from_bcs_prefix(prefix.get(1..).unwrap_or_default(), width) {
                Ok((tag, used)) if used + 1 == prefix.len() => {
                    let layout = index.layout_of_struct_tag(&tag).map_err(|e| e.to_string());
                    current = Some((prefix.to_vec(), tag.to_string(), layout));
                }
                Ok(_) => {
                    failure = Some(DevnetError::failed(format!(
                        "a resource key with bytes after its tag: {}",
                        describe(key, width)
                    )));
                    return false;
                }
                Err(e) => {
                    failure = Some(DevnetError::failed(format!("a resource key that does not decode: {e}")));
                    return false;
                }
            }
        }
        let Some((_, tag, layout)) = &current else { return false };
        *census.counts.entry(tag.clone()).or_default() += 1;
        let problem = match layout {
            Ok(layout) => match decode(bytes, layout) {
                Ok(value) => {
                    census.supply = census.supply.saturating_add(coins_in(&value, layout));
                    None
                }
                Err(e) => Some(e.to_string()),
            },
            Err(e) => Some(format!("no layout in v{release}: {e}")),
        };
        if let Some(reason) = problem {
            census.undecodable_count += 1;
            if census.undecodable.len() < MAX_LISTED {
                let account = AccountAddress::new(account).map_or_else(|_| "?".to_owned(), |a| a.to_string());
                census.undecodable.push(format!("{tag} at {account}: {reason}"));
            }
        }
        true
    })?;
    match failure {
        Some(e) => Err(e),
        None => Ok(census),
    }
}
