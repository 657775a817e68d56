//! What the rehearsal's behaviour tests share: a devnet genesis as a snapshot, and the options
//! of a rehearsal of the committed stdlib from v1 to v2.

#![allow(dead_code, clippy::unwrap_used)]

use rehearsal::Options;
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A devnet genesis of `accounts` (`corrupt` of them stored corrupt), exported as a snapshot
/// in `dir`.
pub fn genesis_snapshot(dir: &Path, accounts: u32, corrupt: u32) -> PathBuf {
    let state = dir.join("state.snap");
    let store = devchain::Genesis { accounts, corrupt }.in_memory().unwrap();
    snapshot::export(&store, 0, serde_json::json!({"test": accounts}), devchain::WIDTH, &state).unwrap();
    state
}

/// A rehearsal of `state` from stdlib v1 to v2 with the committed registry and declarations.
pub fn v1_to_v2(state: &Path) -> Options {
    let mut options = Options::new(state, repo().join("stdlib/releases/v2"));
    options.from = Some(repo().join("stdlib/releases/v1"));
    options.registry = Some(repo().join("stdlib/registry.toml"));
    options.migrations = Some(repo().join("stdlib/migrations.toml"));
    options.handlers = devchain::handlers();
    options
}
