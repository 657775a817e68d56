//! Genesis of the synthetic chain: on stdlib v1, many accounts holding every user resource with
//! varied values. Everything is a pure function of its parameters, so two nodes (or a test and a
//! bench) build the same chain.

use crate::error::DevchainError;
use crate::plans::{release_modules, tag, BALANCE_V1, WIDTH};
use binary_format::Address;
use migrations::store::{InMemoryStore, Store, WriteBatch};
use migrations::{encode, AccountAddress, Layout, ReleaseIndex, StructTag, Value};
use std::collections::BTreeMap;
use upgrade_spec::registry::ReleaseName;

/// The resources of genesis, as struct tags, in the order genesis writes them.
pub const GENESIS_TAGS: [&str; 6] = [
    "0x1::Epoch::Epoch",
    "0x1::Migrations::Status",
    BALANCE_V1,
    "0x1::Wallet::Wallet",
    "0x1::Vouch::Vouch",
    "0x1::Stake::Stake",
];

/// Account number `n` (1-based; 0 is the system account).
pub fn account(n: u32) -> AccountAddress {
    AccountAddress::from_u64(u64::from(n), WIDTH)
}

/// Genesis balance of account `n`.
pub fn balance_of(n: u32) -> u64 {
    u64::from(n) * 1_000 + 7
}

/// Genesis locked stake of account `n` (every third account stakes).
pub fn locked_of(n: u32) -> u64 {
    u64::from(n) * 11
}

/// Genesis pending stake of account `n`.
pub fn pending_of(n: u32) -> u64 {
    u64::from(n % 97)
}

/// Genesis parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Genesis {
    /// Accounts 1..=accounts.
    pub accounts: u32,
    /// Accounts whose wallet is stored corrupt (one byte short), spread evenly: a drill for
    /// quarantine, since such an account cannot be migrated.
    pub corrupt: u32,
}

/// What genesis wrote, per struct tag.
pub type GenesisCounts = BTreeMap<String, u64>;

/// v1 layouts of the genesis resources.
struct GenesisLayouts {
    tags: Vec<StructTag>,
    layouts: Vec<Layout>,
}

impl GenesisLayouts {
    fn new() -> Result<GenesisLayouts, DevchainError> {
        let v1 = release_modules(ReleaseName::new(1))?;
        let index = ReleaseIndex::new(v1.iter(), WIDTH)
            .map_err(|e| DevchainError::Release { release: 1, reason: e.to_string() })?;
        let mut tags = Vec::new();
        let mut layouts = Vec::new();
        for t in GENESIS_TAGS {
            let parsed = tag(t)?;
            let layout = index
                .layout_of_struct_tag(&parsed)
                .map_err(|e| DevchainError::Value { tag: t.to_owned(), reason: e.to_string() })?;
            tags.push(parsed);
            layouts.push(layout);
        }
        Ok(GenesisLayouts { tags, layouts })
    }

    /// Encodes `value` as genesis resource `which` (an index into [`GENESIS_TAGS`]).
    fn encode(&self, which: usize, value: &Value) -> Result<(&StructTag, Vec<u8>), DevchainError> {
        let name = GENESIS_TAGS.get(which).copied().unwrap_or("?");
        let (Some(tag), Some(layout)) = (self.tags.get(which), self.layouts.get(which)) else {
            return Err(DevchainError::Value { tag: name.into(), reason: "no such genesis resource".into() });
        };
        let bytes =
            encode(value, layout).map_err(|e| DevchainError::Value { tag: name.into(), reason: e.to_string() })?;
        Ok((tag, bytes))
    }

    fn put(
        &self,
        batch: &mut WriteBatch,
        which: usize,
        account: AccountAddress,
        value: &Value,
    ) -> Result<(), DevchainError> {
        let (tag, bytes) = self.encode(which, value)?;
        batch.put_ref(account, tag, bytes);
        Ok(())
    }
}

impl Genesis {
    pub fn new(accounts: u32) -> Genesis {
        Genesis { accounts, corrupt: 0 }
    }

    /// Whether account `n` is one of the corrupt ones.
    pub fn is_corrupt(&self, n: u32) -> bool {
        crate::drills::is_corrupt(self.accounts, self.corrupt, n)
    }

    /// Writes genesis into `store`, `accounts_per_batch` accounts per atomic batch (the system
    /// account's resources go with the first), calling `progress` with the accounts written so far.
    /// Epoch and an empty status at 0x0; every account holds a balance and a wallet, every second
    /// one a vouch, every third one a stake.
    pub fn write(
        &self,
        store: &mut dyn Store,
        accounts_per_batch: u32,
        progress: &mut dyn FnMut(u32),
    ) -> Result<GenesisCounts, DevchainError> {
        let layouts = GenesisLayouts::new()?;
        let mut counts = GenesisCounts::new();
        let mut batch = WriteBatch::new();
        let zero = AccountAddress::zero(WIDTH);
        let timer = Value::Struct(vec![Value::U64(1_000), Value::U64(60)]);
        layouts.put(&mut batch, 0, zero, &Value::Struct(vec![Value::U64(3), Value::U64(9), timer]))?;
        layouts.put(&mut batch, 1, zero, &Value::Struct(vec![Value::Vector(vec![]); 4]))?;
        let coin = |v: u64| Value::Struct(vec![Value::U64(v)]);
        let per_batch = accounts_per_batch.max(1);
        for i in 1..=self.accounts {
            let a = account(i);
            layouts.put(&mut batch, 2, a, &Value::Struct(vec![coin(balance_of(i))]))?;
            let wallet = Value::Struct(vec![
                Value::Bool(i % 5 == 0),
                Value::U64(u64::from(i) * 3),
                Value::U64(10_000 + u64::from(i)),
            ]);
            let (wallet_tag, mut bytes) = layouts.encode(3, &wallet)?;
            if self.is_corrupt(i) {
                crate::drills::corrupt(&mut bytes);
            }
            batch.put_ref(a, wallet_tag, bytes);
            if i % 2 == 0 {
                let buddies = (1..=(i % 4)).map(|b| Value::Address(Address::from_u64(u64::from(i + b)))).collect();
                layouts.put(
                    &mut batch,
                    4,
                    a,
                    &Value::Struct(vec![Value::Vector(buddies), Value::U64(u64::from(i % 13))]),
                )?;
            }
            if i % 3 == 0 {
                let stake =
                    Value::Struct(vec![coin(locked_of(i)), Value::U64(pending_of(i)), Value::U64(u64::from(i % 50))]);
                layouts.put(&mut batch, 5, a, &stake)?;
            }
            if i % per_batch == 0 || i == self.accounts {
                count_into(&batch, &mut counts);
                store.apply(std::mem::take(&mut batch))?;
                progress(i);
            }
        }
        if !batch.is_empty() {
            count_into(&batch, &mut counts);
            store.apply(batch)?;
        }
        Ok(counts)
    }

    /// Genesis in a fresh in-memory store.
    pub fn in_memory(&self) -> Result<InMemoryStore, DevchainError> {
        let mut store = InMemoryStore::new();
        self.write(&mut store, u32::MAX, &mut |_| {})?;
        Ok(store)
    }
}

fn count_into(batch: &WriteBatch, counts: &mut GenesisCounts) {
    for (key, _) in batch.iter() {
        if let Ok(migrations::StateKey::Resource { tag, .. }) = migrations::StateKey::decode(key, crate::plans::WIDTH) {
            *counts.entry(tag.to_string()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_holds_every_user_resource_and_marks_corrupt_accounts_evenly() {
        let g = Genesis { accounts: 100, corrupt: 4 };
        let corrupt: Vec<u32> = (1..=100).filter(|n| g.is_corrupt(*n)).collect();
        assert_eq!(corrupt, vec![25, 50, 75, 100]);
        let mut store = InMemoryStore::new();
        let mut seen = Vec::new();
        let counts = g.write(&mut store, 30, &mut |n| seen.push(n)).unwrap();
        assert_eq!(seen, vec![30, 60, 90, 100]);
        assert_eq!(counts.get(BALANCE_V1), Some(&100));
        assert_eq!(counts.get("0x1::Vouch::Vouch"), Some(&50));
        assert_eq!(counts.get("0x1::Stake::Stake"), Some(&33));
        assert_eq!(counts.get("0x1::Epoch::Epoch"), Some(&1));
        assert_eq!(store.len() as u64, counts.values().sum::<u64>());
        assert_eq!(store, Genesis { accounts: 100, corrupt: 4 }.in_memory().unwrap());
        assert!(!Genesis::new(100).is_corrupt(100));
    }
}
