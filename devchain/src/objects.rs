//! A third chain, shaped like a live Aptos-based one, for the state the first two do not hold:
//! resource groups (objects) and tables, each holding a struct whose layout changes in place:
//! - `0x1::fungible_asset::FungibleStore` widens its balance (u64 -> u128). It is a member of
//!   every user's object (a `0x1::object::ObjectGroup` beside an unchanged `ObjectCore`), and a
//!   plain resource of some users too;
//! - `0x1::voting::Proposal` gains a field (`quorum`, default 0). It is stored only as the
//!   values of tables: the framework account's `Forum` holds a table of `Round`s, and each
//!   round holds a table of proposals, so a proposal table's handle is found only inside
//!   another table's values.
//!
//! Every module sits at `0x1`; addresses are 32 bytes; the hook's status lives at `0x1` under
//! `0x1::migration_hook::Status`, a tag no module declares.

use crate::error::DevchainError;
use binary_format::{AddressLength, Module};
use migrations::catalogue::Catalogue;
use migrations::handlers::Handlers;
use migrations::runner::MigratedTable;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::{encode, AccountAddress, Layout, ReleaseIndex, StateKey, StructTag, Value};
use upgrade_spec::declarations::Declarations;
use vm_hooks::{Budget, ChainConfig, HookConfig, ReleasePlan};

/// The chain's address width.
pub const WIDTH: AddressLength = AddressLength::Bytes32;
/// The names of the two releases.
pub const OLD_NAME: &str = "1.0.0";
pub const NEW_NAME: &str = "1.1.0";
/// The release number the hook records for the new release.
pub const NEW_NUMBER: u32 = 11;
/// Where the hook keeps its status on this chain.
pub const STATUS_TAG: &str = "0x1::migration_hook::Status";
pub const OBJECT_GROUP: &str = "0x1::object::ObjectGroup";
pub const OBJECT_CORE: &str = "0x1::object::ObjectCore";
pub const FUNGIBLE_STORE: &str = "0x1::fungible_asset::FungibleStore";
pub const PROPOSAL: &str = "0x1::voting::Proposal";
pub const ROUND: &str = "0x1::voting::Round";
pub const FORUM: &str = "0x1::voting::Forum";
/// Rounds in the forum, and proposals in each round.
pub const ROUNDS: u64 = 4;
pub const PROPOSALS_PER_ROUND: u64 = 30;

const COMMON: [&str; 3] = [
    "
module 0x1::table (bytecode v6)
  struct Table<phantom T0: copy + drop, phantom T1> has store
    handle: address
",
    "
module 0x1::object (bytecode v6)
  struct ObjectGroup has drop
    dummy_field: bool
  struct ObjectCore has key
    guid_creation_num: u64
    owner: address
",
    "
module 0x1::migration_hook (bytecode v6)
  struct Marker has drop
    dummy_field: bool
",
];

const OLD: [&str; 2] = [
    "
module 0x1::fungible_asset (bytecode v6)
  struct FungibleStore has key
    metadata: address
    balance: u64
    frozen: bool
",
    "
module 0x1::voting (bytecode v6)
  struct Forum has key
    rounds: 0x1::table::Table<u64, 0x1::voting::Round>
    next: u64
  struct Proposal has store
    votes: u64
    closed: bool
  struct Round has store
    proposals: 0x1::table::Table<u64, 0x1::voting::Proposal>
",
];

const NEW: [&str; 2] = [
    "
module 0x1::fungible_asset (bytecode v6)
  struct FungibleStore has key
    metadata: address
    balance: u128
    frozen: bool
",
    "
module 0x1::voting (bytecode v6)
  struct Forum has key
    rounds: 0x1::table::Table<u64, 0x1::voting::Round>
    next: u64
  struct Proposal has store
    votes: u64
    closed: bool
    quorum: u64
  struct Round has store
    proposals: 0x1::table::Table<u64, 0x1::voting::Proposal>
",
];

/// The migration declarations of the new release, both in place.
pub const DECLARATIONS: &str = r#"
[[migration]]
id = "fungible-store-11"
release = "1.1.0"
module = "fungible_asset"
struct = "FungibleStore"
from = "0x1"
to = "0x1"
scope = "users"
transform = "derived"

[[migration]]
id = "proposal-11"
release = "1.1.0"
module = "voting"
struct = "Proposal"
from = "0x1"
to = "0x1"
scope = "users"
transform = "derived"
defaults = { quorum = "0" }
"#;

fn fail(tag: &str, reason: impl ToString) -> DevchainError {
    DevchainError::Value { tag: tag.to_owned(), reason: reason.to_string() }
}

fn build(name: &'static str, texts: [&'static str; 2]) -> Result<Vec<stdlib::build::BuiltModule>, DevchainError> {
    let all: Vec<&str> = COMMON.iter().chain(texts.iter()).copied().collect();
    stdlib::build::build_texts(name, &all, WIDTH).map(|r| r.modules).map_err(|e| fail(name, e))
}

/// The old and the new release's modules.
pub fn releases() -> Result<(Vec<Module>, Vec<Module>), DevchainError> {
    let modules = |built: Vec<stdlib::build::BuiltModule>| built.into_iter().map(|m| m.module).collect();
    Ok((modules(build(OLD_NAME, OLD)?), modules(build(NEW_NAME, NEW)?)))
}

/// The old and the new release as `.mv` files (name, bytes), to write as release folders.
pub fn release_files() -> Result<[crate::framework::ReleaseFiles; 2], DevchainError> {
    let files = |built: Vec<stdlib::build::BuiltModule>| {
        built.into_iter().map(|m| (format!("{}.mv", m.module.name), m.bytes)).collect()
    };
    Ok([files(build(OLD_NAME, OLD)?), files(build(NEW_NAME, NEW)?)])
}

/// The declarations, parsed.
pub fn declarations() -> Result<Declarations, DevchainError> {
    Declarations::parse(DECLARATIONS, std::path::Path::new("objects-migrations.toml"))
        .map_err(|e| fail("declarations", e))
}

/// The catalogue of the new release.
pub fn catalogue(handlers: &Handlers) -> Result<Catalogue, DevchainError> {
    let (old, new) = releases()?;
    let (o, n): (Vec<&Module>, Vec<&Module>) = (old.iter().collect(), new.iter().collect());
    let label = upgrade_spec::ReleaseLabel::new(NEW_NAME).map_err(|e| fail(NEW_NAME, e))?;
    let declarations = declarations()?;
    Catalogue::builder(&o, &n, &label, WIDTH)
        .declarations(&declarations)
        .handlers(handlers)
        .versioning(layout_diff::diff::lineage::Versioning::Fixed)
        .build()
        .map_err(|problems| fail(NEW_NAME, problems))
}

/// A struct tag of the chain (all of them parse).
pub fn tag(s: &str) -> Result<StructTag, DevchainError> {
    StructTag::parse(s, WIDTH).map_err(|e| fail(s, e))
}

/// The framework account, which holds the forum and the hook's status.
pub fn framework() -> AccountAddress {
    AccountAddress::from_u64(1, WIDTH)
}

/// A 32-byte address that varies at both ends, `n` in its last bytes, `kind` in its first.
fn spread(kind: u8, n: u64) -> AccountAddress {
    let mut bytes = [0u8; 32];
    bytes[0] = kind;
    bytes[1..9].copy_from_slice(&n.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    AccountAddress::new(&bytes).unwrap_or_else(|_| AccountAddress::zero(WIDTH))
}

/// User `n`.
pub fn user(n: u64) -> AccountAddress {
    spread(0x5a, n)
}

/// The object user `n` owns (its address holds the object's group).
pub fn object(n: u64) -> AccountAddress {
    spread(0x0b, n)
}

/// The handle of the forum's table of rounds.
pub fn rounds_table() -> AccountAddress {
    spread(0x7a, 0)
}

/// The handle of round `r`'s table of proposals.
pub fn proposals_table(r: u64) -> AccountAddress {
    spread(0x7b, r + 1)
}

/// The tables whose values the new release rewrites: every round's proposals. What a
/// rehearsal finds in the state (the handles sit in the values of another table).
pub fn tables() -> Result<Vec<MigratedTable>, DevchainError> {
    let proposal = tag(PROPOSAL)?;
    Ok((0..ROUNDS).map(|r| MigratedTable { handle: proposals_table(r), value: proposal.clone() }).collect())
}

/// The chain: 32-byte addresses, the status at `0x1`, the framework account the one system
/// account.
pub fn chain(budget: Budget) -> Result<ChainConfig, DevchainError> {
    ChainConfig::new(WIDTH, framework(), tag(STATUS_TAG)?, [framework()])
        .map(|c| c.with_budget(budget))
        .map_err(|e| fail(STATUS_TAG, e))
}

/// The new release, scheduled at `height`, with its tables.
pub fn plans(height: u64) -> Result<Vec<ReleasePlan>, DevchainError> {
    let label = upgrade_spec::ReleaseLabel::new(NEW_NAME).map_err(|e| fail(NEW_NAME, e))?;
    let release = upgrade_spec::ReleaseId::new(NEW_NUMBER, label);
    Ok(vec![ReleasePlan::new(release, height, catalogue(&crate::handlers())?).with_tables(tables()?)])
}

/// The hook's configuration.
pub fn config(budget: Budget) -> Result<HookConfig, DevchainError> {
    Ok(HookConfig::new(chain(budget)?))
}

/// The balance of user `n`'s fungible store.
pub fn balance_of(n: u64) -> u64 {
    n * 100 + 7
}

/// Genesis on the old release, for `users` users: each owns an object (a group holding its
/// `ObjectCore` and a `FungibleStore`), every third also a `FungibleStore` resource of its own;
/// the framework account holds the forum, whose rounds' tables hold the proposals.
pub fn genesis(users: u64) -> Result<InMemoryStore, DevchainError> {
    let (old, _) = releases()?;
    let index = ReleaseIndex::new(old.iter(), WIDTH).map_err(|e| fail(OLD_NAME, e))?;
    let layout =
        |t: &str| -> Result<Layout, DevchainError> { index.layout_of_struct_tag(&tag(t)?).map_err(|e| fail(t, e)) };
    let bytes = |layout: &Layout, value: Value, what: &str| encode(&value, layout).map_err(|e| fail(what, e));
    let (core, store, forum, round, proposal) =
        (layout(OBJECT_CORE)?, layout(FUNGIBLE_STORE)?, layout(FORUM)?, layout(ROUND)?, layout(PROPOSAL)?);
    let address = |a: AccountAddress| Value::Address(a.address());
    let mut batch = WriteBatch::new();
    let (core_tag, store_tag) = (tag(OBJECT_CORE)?, tag(FUNGIBLE_STORE)?);
    for n in 1..=users {
        let fungible = |balance: u64| {
            Value::Struct(vec![
                address(AccountAddress::from_u64(0xa, WIDTH)),
                Value::U64(balance),
                Value::Bool(n % 5 == 0),
            ])
        };
        let members = [
            (core_tag.clone(), bytes(&core, Value::Struct(vec![Value::U64(n), address(user(n))]), OBJECT_CORE)?),
            (store_tag.clone(), bytes(&store, fungible(balance_of(n)), FUNGIBLE_STORE)?),
        ];
        let group = migrations::group::encode_group(members.iter().map(|(t, b)| (t, b.as_slice())))
            .map_err(|e| fail(OBJECT_GROUP, e))?;
        batch.put_key(StateKey::Group { account: object(n), tag: tag(OBJECT_GROUP)? }.encode(), group);
        if n % 3 == 0 {
            batch.put(user(n), store_tag.clone(), bytes(&store, fungible(n), FUNGIBLE_STORE)?);
        }
    }
    let table = |handle: AccountAddress| Value::Struct(vec![address(handle)]);
    let forum_value = Value::Struct(vec![table(rounds_table()), Value::U64(ROUNDS)]);
    batch.put(framework(), tag(FORUM)?, bytes(&forum, forum_value, FORUM)?);
    for r in 0..ROUNDS {
        let key = r.to_le_bytes().to_vec();
        let value = bytes(&round, Value::Struct(vec![table(proposals_table(r))]), ROUND)?;
        batch.put_key(StateKey::TableItem { handle: rounds_table(), key }.encode(), value);
        for p in 0..PROPOSALS_PER_ROUND {
            let value = Value::Struct(vec![Value::U64(r * 1_000 + p), Value::Bool(p % 2 == 0)]);
            let item = StateKey::TableItem { handle: proposals_table(r), key: p.to_le_bytes().to_vec() };
            batch.put_key(item.encode(), bytes(&proposal, value, PROPOSAL)?);
        }
    }
    let mut state = InMemoryStore::new();
    state.apply(batch)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pair_needs_a_group_member_and_a_table_value_migrated_in_place() {
        let c = catalogue(&crate::handlers()).unwrap();
        let ids: Vec<&str> = c.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["fungible-store-11", "proposal-11"]);
        assert!(c.entries.iter().all(|e| e.is_in_place()));
        let state = genesis(10).unwrap();
        // 10 groups, 3 stores, the forum, 4 rounds and 120 proposals.
        assert_eq!(state.len(), 10 + 3 + 1 + ROUNDS as usize + (ROUNDS * PROPOSALS_PER_ROUND) as usize);
    }
}
