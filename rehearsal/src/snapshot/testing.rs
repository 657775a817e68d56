//! What the snapshot tests share: states to export, and a check of error messages.

use super::error::SnapshotError;
use super::export::export;
use super::format::SnapshotInfo;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::AccountAddress;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub(super) const TAGS: [&str; 4] =
    ["0x1::Coin::Balance<0x1::GAS::GAS>", "0x1::Wallet::Wallet", "0x2::A::A", "0x1::Vouch::Vouch<vector<u8>>"];

pub(super) fn store_with(accounts: u8) -> InMemoryStore {
    let mut batch = WriteBatch::new();
    for (i, t) in TAGS.iter().enumerate() {
        let tag = parse_struct_tag(t).unwrap();
        for n in 0..accounts {
            if !(n as usize + i).is_multiple_of(3) || i == 0 {
                let mut account = [0u8; 16];
                account[15] = n;
                account[0] = n.wrapping_mul(37);
                batch.put(AccountAddress::new(&account).unwrap(), tag.clone(), vec![n; (n as usize * 7 + i) % 40]);
            }
        }
    }
    let mut store = InMemoryStore::new();
    store.apply(batch).unwrap();
    store
}

pub(super) fn chain() -> Value {
    serde_json::json!({"accounts": 12, "activations": {"v2": 100, "v3": 200}, "budget": 500})
}

pub(super) fn exported(dir: &Path, store: &InMemoryStore) -> (PathBuf, SnapshotInfo) {
    let path = dir.join("state.snap");
    let info = export(store, 42, chain(), devchain::WIDTH, &path).unwrap();
    (path, info)
}

pub(super) fn assert_one_line(err: &SnapshotError, path: &Path) {
    let message = err.to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

/// A struct tag of the devnet's chain.
pub(super) fn parse_struct_tag(s: &str) -> Result<migrations::StructTag, migrations::KeyError> {
    migrations::StructTag::parse(s, devchain::WIDTH)
}
