//! A chain on stdlib v1 with many accounts, the stdlib's catalogues, and a block loop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, dead_code)]

use binary_format::{Address, AddressLength, Module};
use migrations::catalogue::Catalogue;
use migrations::core_types::parse_struct_tag;
use migrations::handlers::Handlers;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::{decode, encode, Layout, ReleaseIndex, StructTag, TypeTag, Value};
use move_core_types::account_address::AccountAddress;
use std::collections::BTreeMap;
use stdlib::registry::ReleaseName;
use vm_hooks::{AllowAll, BlockReport, Budget, Hook, HookConfig, Policy, ReleasePlan};

pub const V2_HEIGHT: u64 = 10;
pub const V3_HEIGHT: u64 = 100;

pub fn release(n: usize) -> Vec<Module> {
    stdlib::embedded::release_modules(n).unwrap()
}

pub fn tag(s: &str) -> StructTag {
    parse_struct_tag(s).unwrap()
}

/// The catalogue of release `old + 2` (from release index `old`).
pub fn catalogue(old: usize, handlers: &Handlers) -> Catalogue {
    Catalogue::stdlib(old, handlers).unwrap()
}

pub fn plans_with(handlers_v3: &Handlers, v2_height: u64, v3_height: u64) -> Vec<ReleasePlan> {
    vec![
        ReleasePlan { release: ReleaseName::new(2), height: v2_height, catalogue: catalogue(0, &Handlers::stdlib()) },
        ReleasePlan { release: ReleaseName::new(3), height: v3_height, catalogue: catalogue(1, handlers_v3) },
    ]
}

pub fn plans() -> Vec<ReleasePlan> {
    plans_with(&Handlers::stdlib(), V2_HEIGHT, V3_HEIGHT)
}

pub fn config(budget: Budget) -> HookConfig {
    let mut instances = BTreeMap::new();
    instances.insert("coin-balance-v2".to_owned(), vec![vec![TypeTag::Struct(tag("0x1::GAS::GAS"))]]);
    HookConfig { budget, max_quarantined: 16, instances }
}

pub fn hook(budget: Budget) -> Hook {
    Hook::new(plans(), config(budget), Box::new(AllowAll)).unwrap()
}

pub fn hook_with(plans: Vec<ReleasePlan>, budget: Budget, max_quarantined: u64, policy: Box<dyn Policy>) -> Hook {
    let mut config = config(budget);
    config.max_quarantined = max_quarantined;
    Hook::new(plans, config, policy).unwrap()
}

pub fn account(n: u32) -> AccountAddress {
    let mut a = [0u8; 16];
    a[12..].copy_from_slice(&n.to_be_bytes());
    AccountAddress::new(a)
}

/// Layouts of struct tags in one release.
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

pub const BALANCE_V1: &str = "0x1::Coin::Balance<0x1::GAS::GAS>";
pub const BALANCE_V2: &str = "0x3::Coin::Balance<0x1::GAS::GAS>";

pub fn balance_of(n: u32) -> u64 {
    u64::from(n) * 1_000 + 7
}

pub fn pending_of(n: u32) -> u64 {
    u64::from(n % 97)
}

/// Genesis on v1: Epoch and an empty Status at 0x0; every account 1..=n holds a balance and a
/// wallet, every second one a vouch, every third one a stake.
pub fn genesis(n: u32) -> InMemoryStore {
    let v1 = Layouts::of(0);
    let mut batch = WriteBatch::new();
    let zero = AccountAddress::ZERO;
    let timer = Value::Struct(vec![Value::U64(1_000), Value::U64(60)]);
    batch.put(
        zero,
        tag("0x1::Epoch::Epoch"),
        v1.encode("0x1::Epoch::Epoch", &Value::Struct(vec![Value::U64(3), Value::U64(9), timer])),
    );
    let empty = Value::Struct(vec![Value::Vector(vec![]); 4]);
    batch.put(zero, tag("0x1::Migrations::Status"), v1.encode("0x1::Migrations::Status", &empty));
    let (balance, wallet, vouch, stake) = (
        v1.layout(BALANCE_V1),
        v1.layout("0x1::Wallet::Wallet"),
        v1.layout("0x1::Vouch::Vouch"),
        v1.layout("0x1::Stake::Stake"),
    );
    for i in 1..=n {
        let a = account(i);
        let coin = |v: u64| Value::Struct(vec![Value::U64(v)]);
        batch.put(a, tag(BALANCE_V1), encode(&Value::Struct(vec![coin(balance_of(i))]), &balance).unwrap());
        let w = Value::Struct(vec![
            Value::Bool(i % 5 == 0),
            Value::U64(u64::from(i) * 3),
            Value::U64(10_000 + u64::from(i)),
        ]);
        batch.put(a, tag("0x1::Wallet::Wallet"), encode(&w, &wallet).unwrap());
        if i % 2 == 0 {
            let buddies = (1..=(i % 4)).map(|b| Value::Address(Address::from_u64(u64::from(i + b)))).collect();
            let v = Value::Struct(vec![Value::Vector(buddies), Value::U64(u64::from(i % 13))]);
            batch.put(a, tag("0x1::Vouch::Vouch"), encode(&v, &vouch).unwrap());
        }
        if i % 3 == 0 {
            let s =
                Value::Struct(vec![coin(u64::from(i) * 11), Value::U64(pending_of(i)), Value::U64(u64::from(i % 50))]);
            batch.put(a, tag("0x1::Stake::Stake"), encode(&s, &stake).unwrap());
        }
    }
    let mut store = InMemoryStore::new();
    store.apply(batch).unwrap();
    store
}

/// Runs blocks `from..=to`, checking the budget every block; returns the reports.
pub fn run_blocks(hook: &mut Hook, store: &mut InMemoryStore, from: u64, to: u64) -> Vec<(u64, BlockReport)> {
    let budget = hook.budget();
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
    let status = tag("0x1::Migrations::Status");
    store.iter().filter(|(t, _, _)| **t != status).map(|(t, a, b)| (t.clone(), *a, b.to_vec())).collect()
}

pub fn all_ids() -> Vec<&'static str> {
    vec!["epoch-v2", "coin-balance-v2", "wallet-v2", "stake-v2", "stake-v3", "vouch-v3", "wallet-v3"]
}
