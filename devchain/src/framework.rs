//! A second chain, shaped like an Aptos-based framework (0L's libra-framework, say): 32-byte
//! addresses, every module at `0x1`, and a release that changes stored structs where they
//! stand, as every real framework does:
//! - `0x1::governance::GovernanceConfig`, held by the framework account `0x1`, loses a field
//!   (system part, migrated in the activation block);
//! - `0x1::account::Account`, in every user account, gains a field with a default;
//! - `0x1::coin::Coin` widens its value: every `CoinStore<AptosCoin>` that holds one is due (a
//!   nested change);
//! - `0x1::scratch::Scratch`, which can never be stored (`drop` only), changes and needs nothing.
//!
//! The pair is built with our writer from the text form, so it goes through the same reader as a
//! real release. The status lives at `0x1` under `0x1::migration_hook::Status`, a tag no module
//! of this framework declares.

use crate::error::DevchainError;
use binary_format::{AddressLength, Module};
use migrations::catalogue::Catalogue;
use migrations::handlers::Handlers;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::{encode, AccountAddress, Layout, ReleaseIndex, StructTag, Value};
use upgrade_spec::declarations::Declarations;
use upgrade_spec::registry::ReleaseName;
use vm_hooks::{Budget, ChainConfig, HookConfig, ReleasePlan};

/// The chain's address width.
pub const WIDTH: AddressLength = AddressLength::Bytes32;
/// The names of the two releases, as the checker names them.
pub const OLD_NAME: &str = "6.9.9";
pub const NEW_NAME: &str = "7.0.0";
/// The release number the hook records for the new release.
pub const NEW_RELEASE: ReleaseName = ReleaseName(7);
/// Where the hook keeps its status on this chain.
pub const STATUS_TAG: &str = "0x1::migration_hook::Status";
pub const GOVERNANCE: &str = "0x1::governance::GovernanceConfig";
pub const ACCOUNT: &str = "0x1::account::Account";
pub const COIN_STORE: &str = "0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>";

const COMMON: [&str; 2] = [
    "
module 0x1::aptos_coin (bytecode v6)
  struct AptosCoin has store
    dummy_field: bool
",
    "
module 0x1::migration_hook (bytecode v6)
  struct Marker has drop
    dummy_field: bool
",
];

const OLD: [&str; 4] = [
    "
module 0x1::governance (bytecode v6)
  struct GovernanceConfig has key
    min_voting_threshold: u128
    required_proposer_stake: u64
    voting_duration_secs: u64
",
    "
module 0x1::account (bytecode v6)
  struct Account has key
    authentication_key: vector<u8>
    sequence_number: u64
",
    "
module 0x1::coin (bytecode v6)
  struct Coin<phantom T0> has store
    value: u64
  struct CoinStore<phantom T0> has key
    coin: 0x1::coin::Coin<T0>
    frozen: bool
",
    "
module 0x1::scratch (bytecode v6)
  struct Scratch has drop
    x: u64
",
];

const NEW: [&str; 4] = [
    "
module 0x1::governance (bytecode v6)
  struct GovernanceConfig has key
    min_voting_threshold: u128
    voting_duration_secs: u64
",
    "
module 0x1::account (bytecode v6)
  struct Account has key
    authentication_key: vector<u8>
    sequence_number: u64
    guid_creation_num: u64
",
    "
module 0x1::coin (bytecode v6)
  struct Coin<phantom T0> has store
    value: u128
  struct CoinStore<phantom T0> has key
    coin: 0x1::coin::Coin<T0>
    frozen: bool
",
    "
module 0x1::scratch (bytecode v6)
  struct Scratch has drop
    x: u64
    y: u64
",
];

/// The migration declarations of the new release: every one in place (`from` = `to`).
pub const DECLARATIONS: &str = r#"
[[migration]]
id = "governance-config-7"
release = "7.0.0"
module = "governance"
struct = "GovernanceConfig"
from = "0x1"
to = "0x1"
scope = "system"
transform = "derived"

[[migration]]
id = "account-7"
release = "7.0.0"
module = "account"
struct = "Account"
from = "0x1"
to = "0x1"
scope = "users"
transform = "derived"
defaults = { guid_creation_num = "0" }

[[migration]]
id = "coin-store-7"
release = "7.0.0"
module = "coin"
struct = "CoinStore"
from = "0x1"
to = "0x1"
scope = "users"
transform = "derived"
"#;

fn build(name: &'static str, texts: [&'static str; 4]) -> Result<Vec<stdlib::build::BuiltModule>, DevchainError> {
    let all: Vec<&str> = COMMON.iter().chain(texts.iter()).copied().collect();
    stdlib::build::build_texts(name, &all, WIDTH)
        .map(|r| r.modules)
        .map_err(|e| DevchainError::Value { tag: name.to_owned(), reason: e.to_string() })
}

/// The old and the new release's modules.
pub fn releases() -> Result<(Vec<Module>, Vec<Module>), DevchainError> {
    let modules = |built: Vec<stdlib::build::BuiltModule>| built.into_iter().map(|m| m.module).collect();
    Ok((modules(build("6.9.9", OLD)?), modules(build("7.0.0", NEW)?)))
}

/// A release as files: module file name (`governance.mv`) and bytes.
pub type ReleaseFiles = Vec<(String, Vec<u8>)>;

/// What a release engineer hands a rehearsal of this framework's upgrade, written in `dir`: the
/// new release as a folder of `.mv` files (`dir/7.0.0`) and its declarations
/// (`dir/migrations.toml`). Gives the folder, the declarations, and the old release's files (for
/// a state that holds them).
pub fn write_upgrade(
    dir: &std::path::Path,
) -> Result<(std::path::PathBuf, std::path::PathBuf, ReleaseFiles), DevchainError> {
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| DevchainError::Io { path, source }
    };
    let [old, new] = release_files()?;
    let folder = dir.join(NEW_NAME);
    std::fs::create_dir_all(&folder).map_err(io(&folder))?;
    for (file, bytes) in &new {
        let path = folder.join(file);
        std::fs::write(&path, bytes).map_err(io(&path))?;
    }
    let declarations = dir.join("migrations.toml");
    std::fs::write(&declarations, DECLARATIONS).map_err(io(&declarations))?;
    Ok((folder, declarations, old))
}

/// The old and the new release as `.mv` bytes, to write as release folders.
pub fn release_files() -> Result<[ReleaseFiles; 2], DevchainError> {
    let files = |built: Vec<stdlib::build::BuiltModule>| {
        built.into_iter().map(|m| (format!("{}.mv", m.module.name), m.bytes)).collect()
    };
    Ok([files(build("6.9.9", OLD)?), files(build("7.0.0", NEW)?)])
}

/// The declarations, parsed.
pub fn declarations() -> Result<Declarations, DevchainError> {
    Declarations::parse(DECLARATIONS, std::path::Path::new("framework-migrations.toml"))
        .map_err(|e| DevchainError::Value { tag: "declarations".to_owned(), reason: e.to_string() })
}

/// The catalogue of the new release.
pub fn catalogue(handlers: &Handlers) -> Result<Catalogue, DevchainError> {
    let (old, new) = releases()?;
    let (o, n): (Vec<&Module>, Vec<&Module>) = (old.iter().collect(), new.iter().collect());
    let (label, declarations) = (label(NEW_NAME)?, declarations()?);
    Catalogue::builder(&o, &n, &label, WIDTH)
        .declarations(&declarations)
        .handlers(handlers)
        .versioning(layout_diff::diff::lineage::Versioning::Fixed)
        .build()
        .map_err(|problems| DevchainError::Catalogue {
            release: NEW_RELEASE,
            problems: problems.0.iter().map(ToString::to_string).collect(),
        })
}

/// A release label of this chain.
fn label(s: &str) -> Result<upgrade_spec::ReleaseLabel, DevchainError> {
    upgrade_spec::ReleaseLabel::new(s).map_err(|e| DevchainError::Value { tag: s.to_owned(), reason: e.to_string() })
}

/// A struct tag of the framework (all of them parse).
pub fn tag(s: &str) -> Result<StructTag, DevchainError> {
    StructTag::parse(s, WIDTH).map_err(|e| DevchainError::Value { tag: s.to_owned(), reason: e.to_string() })
}

/// The framework account, which holds the system's resources and the hook's status.
pub fn framework() -> AccountAddress {
    AccountAddress::from_u64(1, WIDTH)
}

/// User account `n` (1-based): 32 bytes that vary at both ends, as hashed addresses do, so that
/// key order is exercised over the whole width.
pub fn user(n: u32) -> AccountAddress {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&n.wrapping_mul(2_654_435_761).to_be_bytes());
    bytes[4] = 0x5a;
    bytes[28..].copy_from_slice(&n.to_be_bytes());
    AccountAddress::new(&bytes).unwrap_or_else(|_| AccountAddress::zero(WIDTH))
}

/// The chain: 32-byte addresses, the status at `0x1`, the framework account the one system account.
pub fn chain(budget: Budget) -> Result<ChainConfig, DevchainError> {
    let status = tag(STATUS_TAG)?;
    ChainConfig::new(WIDTH, framework(), status, [framework()])
        .map(|c| c.with_budget(budget))
        .map_err(|e| DevchainError::Value { tag: STATUS_TAG.to_owned(), reason: e.to_string() })
}

/// The new release scheduled at `height`.
pub fn plans(height: u64) -> Result<Vec<ReleasePlan>, DevchainError> {
    Ok(vec![ReleasePlan::new(new_release()?, height, catalogue(&crate::handlers())?)])
}

/// The hook's configuration: the chain (coin stores of every coin in state are found there).
pub fn config(budget: Budget) -> Result<HookConfig, DevchainError> {
    Ok(HookConfig::new(chain(budget)?))
}

/// The new release: number 7, labelled as its folder is named.
pub fn new_release() -> Result<upgrade_spec::ReleaseId, DevchainError> {
    Ok(upgrade_spec::ReleaseId::new(NEW_RELEASE.number(), label(NEW_NAME)?))
}

/// The coin balance of user `n` at genesis.
pub fn balance_of(n: u32) -> u64 {
    u64::from(n) * 1_000 + 3
}

/// Genesis on the old release: the governance config at `0x1`; every user holds an account and
/// a coin store (every seventh frozen).
pub fn genesis(users: u32) -> Result<InMemoryStore, DevchainError> {
    let (old, _) = releases()?;
    let index = ReleaseIndex::new(old.iter(), WIDTH)
        .map_err(|e| DevchainError::Value { tag: "6.9.9".to_owned(), reason: e.to_string() })?;
    let layout = |t: &str| -> Result<(StructTag, Layout), DevchainError> {
        let parsed = tag(t)?;
        let layout = index
            .layout_of_struct_tag(&parsed)
            .map_err(|e| DevchainError::Value { tag: t.to_owned(), reason: e.to_string() })?;
        Ok((parsed, layout))
    };
    let put = |batch: &mut WriteBatch, account, (t, l): &(StructTag, Layout), value: Value| {
        let bytes =
            encode(&value, l).map_err(|e| DevchainError::Value { tag: t.to_string(), reason: e.to_string() })?;
        batch.put_ref(account, t, bytes);
        Ok::<(), DevchainError>(())
    };
    let (governance, account, coin_store) = (layout(GOVERNANCE)?, layout(ACCOUNT)?, layout(COIN_STORE)?);
    let mut batch = WriteBatch::new();
    put(
        &mut batch,
        framework(),
        &governance,
        Value::Struct(vec![Value::U128(51), Value::U64(1_000), Value::U64(7_200)]),
    )?;
    for n in 1..=users {
        let key = Value::Bytes((0..32u8).map(|b| b ^ (n as u8)).collect());
        put(&mut batch, user(n), &account, Value::Struct(vec![key, Value::U64(u64::from(n % 17))]))?;
        let coin = Value::Struct(vec![Value::U64(balance_of(n))]);
        put(&mut batch, user(n), &coin_store, Value::Struct(vec![coin, Value::Bool(n % 7 == 0)]))?;
    }
    let mut store = InMemoryStore::new();
    store.apply(batch)?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pair_builds_in_place_entries_and_genesis_decodes() {
        let c = catalogue(&crate::handlers()).unwrap();
        let ids: Vec<&str> = c.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        assert!(c.entries.iter().all(|e| e.is_in_place()));
        let store = genesis(10).unwrap();
        assert_eq!(store.len(), 1 + 2 * 10);
        let users: Vec<AccountAddress> = (1..=10).map(user).collect();
        let mut sorted = users.clone();
        sorted.sort();
        assert_ne!(users, sorted, "user addresses are not in number order: key order is exercised");
    }
}

#[cfg(test)]
mod fixtures {
    use super::*;
    use std::path::Path;

    /// The pair is also committed as release folders and a declarations file
    /// (`devchain/fixtures/framework`), for the README's examples and for users to try; this
    /// keeps them a fresh build. `DEVCHAIN_WRITE_FIXTURES=1` rewrites them.
    #[test]
    fn the_committed_fixture_is_a_fresh_build() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/framework");
        let write = std::env::var_os("DEVCHAIN_WRITE_FIXTURES").is_some();
        let [old, new] = release_files().unwrap();
        let mut expected = vec![(root.join("migrations.toml"), DECLARATIONS.trim_start().as_bytes().to_vec())];
        for (name, files) in [(OLD_NAME, old), (NEW_NAME, new)] {
            for (file, bytes) in files {
                expected.push((root.join(name).join(file), bytes));
            }
        }
        for (path, bytes) in expected {
            if write {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &bytes).unwrap();
            }
            assert_eq!(
                std::fs::read(&path).ok(),
                Some(bytes),
                "{} is stale: DEVCHAIN_WRITE_FIXTURES=1 rewrites it",
                path.display()
            );
        }
    }
}
