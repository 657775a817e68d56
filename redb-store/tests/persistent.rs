#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
//! The redb store behaves as the in-memory one, keeps its data across reopening, fails clearly
//! on a bad data directory, and both give one state root for one state, whatever the budget.

use binary_format::generate::Rng;
use devchain::support::*;
use migrations::store::{InMemoryStore, Store, StoreError, WriteBatch, DEFAULT_MAX_VALUE_SIZE};
use migrations::AccountAddress;
use migrations::StructTag;
use redb_store::{RedbStore, DB_FILE};
use vm_hooks::{state_root, Budget};

fn tags() -> Vec<StructTag> {
    [
        "0x1::Wallet::Wallet",
        "0x1::Coin::Balance<0x1::GAS::GAS>",
        "0x1::Coin::Balance<0x1::Other::Other>",
        "0x3::Coin::Balance<0x1::GAS::GAS>",
        "0x1::A::A",
        "0x1::Migrations::Status",
    ]
    .map(tag)
    .to_vec()
}

fn addr(rng: &mut Rng) -> AccountAddress {
    // Few distinct accounts, so batches overwrite and delete what earlier ones wrote; some
    // share leading bytes and some differ only in the first byte.
    let n = rng.below(40) as u8;
    let mut a = [0u8; 16];
    a[15] = n;
    if n.is_multiple_of(7) {
        a[0] = 0xff;
    }
    AccountAddress::new(&a).unwrap()
}

fn random_batch(rng: &mut Rng, tags: &[StructTag], max: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for _ in 0..rng.below(30) {
        let tag = rng.pick(tags).unwrap().clone();
        let account = addr(rng);
        if rng.chance(30) {
            batch.delete(account, tag);
        } else {
            let len = if rng.chance(2) { max + 1 + rng.below(3) } else { rng.below(40) };
            let bytes = (0..len).map(|_| rng.next_u64() as u8).collect();
            batch.put(account, tag, bytes);
        }
    }
    batch
}

fn assert_same(a: &InMemoryStore, b: &RedbStore, rng: &mut Rng, tags: &[StructTag], step: usize) {
    for tag in tags {
        for n in 0..=40u8 {
            for first in [0u8, 0xff] {
                let mut bytes = [0u8; 16];
                bytes[0] = first;
                bytes[15] = n;
                let account = AccountAddress::new(&bytes).unwrap();
                assert_eq!(a.get(&account, tag).unwrap(), b.get(&account, tag).unwrap(), "step {step}");
            }
        }
        assert_eq!(a.scan(tag, None, usize::MAX).unwrap(), b.scan(tag, None, usize::MAX).unwrap(), "step {step}");
        for _ in 0..5 {
            let after = if rng.chance(20) { None } else { Some(addr(rng)) };
            let limit = rng.below(12);
            assert_eq!(
                a.scan(tag, after.as_ref(), limit).unwrap(),
                b.scan(tag, after.as_ref(), limit).unwrap(),
                "step {step}: scan {tag} after {after:?} limit {limit}"
            );
        }
    }
    let all_a: Vec<_> = a.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
    let mut all_b = Vec::new();
    b.for_each(&mut |k, v| all_b.push((k.to_vec(), v.to_vec()))).unwrap();
    assert_eq!(all_a, all_b, "step {step}: the same entries in the same order");
    // The redb iteration is in key order: within a tag, by account.
    for pair in all_b.windows(2) {
        if pair[0].0 == pair[1].0 {
            assert!(pair[0].1 < pair[1].1);
        }
    }
    assert_eq!(state_root(a).unwrap(), state_root(b).unwrap(), "step {step}");
}

#[test]
fn redb_behaves_as_the_in_memory_store_on_random_batches() {
    let tags = tags();
    for seed in 0..4u64 {
        let dir = tempfile::tempdir().unwrap();
        let max = 64;
        let mut memory = InMemoryStore::with_max_value_size(max);
        let mut redb = RedbStore::open_with_max_value_size(dir.path(), max).unwrap();
        let mut rng = Rng::new(seed);
        let mut refused = 0;
        for step in 0..60 {
            let batch = random_batch(&mut rng, &tags, max);
            let (ra, rb) = (memory.apply(batch.clone()), redb.apply(batch));
            match (ra, rb) {
                (Ok(()), Ok(())) => {}
                (Err(StoreError::ValueTooLarge { size: sa, .. }), Err(StoreError::ValueTooLarge { size: sb, .. })) => {
                    assert_eq!(sa, sb);
                    refused += 1;
                }
                (a, b) => panic!("seed {seed} step {step}: in-memory {a:?}, redb {b:?}"),
            }
            assert_same(&memory, &redb, &mut rng, &tags, step);
        }
        assert!(refused > 0 && refused < 40, "seed {seed}: {refused} batches refused");
        // Reopening keeps everything.
        drop(redb);
        let redb = RedbStore::open_with_max_value_size(dir.path(), max).unwrap();
        assert_same(&memory, &redb, &mut rng, &tags, usize::MAX);
    }
}

#[test]
fn a_refused_batch_changes_nothing_and_the_default_limit_is_the_in_memory_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(dir.path()).unwrap();
    let wallet = tag("0x1::Wallet::Wallet");
    let mut batch = WriteBatch::new();
    batch.put(account(1), wallet.clone(), vec![0; DEFAULT_MAX_VALUE_SIZE]);
    store.apply(batch).unwrap();
    let before = state_root(&store).unwrap();
    let mut batch = WriteBatch::new();
    batch.delete(account(1), wallet.clone());
    batch.put(account(2), tag("0x1::Z::Z"), vec![0; DEFAULT_MAX_VALUE_SIZE + 1]);
    let err = store.apply(batch).unwrap_err();
    assert!(matches!(err, StoreError::ValueTooLarge { size, .. } if size == DEFAULT_MAX_VALUE_SIZE + 1), "{err}");
    assert!(err.to_string().contains("0x1::Z::Z at"), "{err}");
    assert_eq!(state_root(&store).unwrap(), before);
    assert_eq!(store.get(&account(1), &wallet).unwrap().map(|v| v.len()), Some(DEFAULT_MAX_VALUE_SIZE));
    // An empty batch is no transaction at all, and still fine.
    store.apply(WriteBatch::new()).unwrap();
}

#[test]
fn data_survives_reopening_and_the_store_works_behind_dyn() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = tag("0x1::Wallet::Wallet");
    {
        let mut store = RedbStore::open(dir.path()).unwrap();
        let dynamic: &mut dyn Store = &mut store;
        let mut batch = WriteBatch::new();
        for n in 1..=100 {
            batch.put(account(n), wallet.clone(), n.to_be_bytes().to_vec());
        }
        dynamic.apply(batch).unwrap();
        let mut batch = WriteBatch::new();
        batch.delete(account(50), wallet.clone());
        dynamic.apply(batch).unwrap();
    }
    let store = RedbStore::open(dir.path()).unwrap();
    assert!(store.path().ends_with(DB_FILE));
    let all = store.scan(&wallet, None, 1_000).unwrap();
    assert_eq!(all.len(), 99);
    assert_eq!(store.get(&account(50), &wallet).unwrap(), None);
    assert_eq!(store.get(&account(51), &wallet).unwrap(), Some(51u32.to_be_bytes().to_vec()));
    let page = store.scan(&wallet, Some(&account(48)), 3).unwrap();
    assert_eq!(page.iter().map(|(a, _)| *a).collect::<Vec<_>>(), [account(49), account(51), account(52)]);
}

#[test]
fn a_missing_or_corrupt_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = RedbStore::open(&missing).unwrap_err();
    assert!(matches!(err, StoreError::Backend { backend: "redb", .. }), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");

    for (name, garbage) in [
        ("zeros", vec![0u8; 8192]),
        ("text", b"this is not a database".to_vec()),
        ("noise", (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()),
    ] {
        let corrupt = dir.path().join(name);
        std::fs::create_dir(&corrupt).unwrap();
        std::fs::write(corrupt.join(DB_FILE), &garbage).unwrap();
        let err = RedbStore::open(&corrupt).unwrap_err();
        assert!(matches!(err, StoreError::Backend { backend: "redb", .. }), "{name}: {err}");
        assert!(err.to_string().contains("cannot open the database"), "{name}: {err}");
    }

    // A database whose file was truncated after commits: an error, not a panic.
    let truncated = dir.path().join("truncated");
    std::fs::create_dir(&truncated).unwrap();
    {
        let mut store = RedbStore::open(&truncated).unwrap();
        let mut batch = WriteBatch::new();
        for n in 1..=500 {
            batch.put(account(n), tag("0x1::Wallet::Wallet"), vec![7; 100]);
        }
        store.apply(batch).unwrap();
    }
    let file = truncated.join(DB_FILE);
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&file).unwrap().set_len(len / 3).unwrap();
    let result = RedbStore::open(&truncated).and_then(|s| s.scan(&tag("0x1::Wallet::Wallet"), None, 1_000).map(|_| ()));
    if let Err(err) = result {
        assert!(matches!(err, StoreError::Backend { backend: "redb", .. }), "{err}");
    }
}

/// Runs v1 -> v2 -> v3 on `store` (filled with genesis first) until done.
fn upgrade(store: &mut dyn Store, budget: Budget) {
    let mut hook = hook(budget);
    schedule_at_genesis(&mut hook, store);
    let mut block = 1;
    while !hook.all_done() {
        hook.maybe_migrate(store, block).unwrap();
        block += 1;
        assert!(block < 100_000);
    }
}

#[test]
fn the_state_root_is_the_same_for_both_stores_and_every_budget() {
    const N: u32 = 200;
    let dir = tempfile::tempdir().unwrap();
    let genesis_root = state_root(&genesis(N)).unwrap();
    let mut roots = Vec::new();
    for (i, budget) in [
        Budget { max_resources: u64::MAX, max_bytes: u64::MAX },
        Budget { max_resources: 50, max_bytes: 1 << 20 },
        Budget { max_resources: 1_000, max_bytes: 300 },
        Budget { max_resources: 9, max_bytes: 200 },
    ]
    .into_iter()
    .enumerate()
    {
        let mut memory = genesis(N);
        upgrade(&mut memory, budget);
        let sub = dir.path().join(i.to_string());
        std::fs::create_dir(&sub).unwrap();
        let mut redb = RedbStore::open(&sub).unwrap();
        let mut batch = WriteBatch::new();
        for (k, v) in genesis(N).iter() {
            batch.put_key(k, v.to_vec());
        }
        redb.apply(batch).unwrap();
        assert_eq!(state_root(&redb).unwrap(), genesis_root);
        upgrade(&mut redb, budget);
        let (rm, rr) = (state_root(&memory).unwrap(), state_root(&redb).unwrap());
        assert_eq!(rm, rr, "{budget:?}");
        assert_ne!(rm, genesis_root);
        // The roots of runs with different budgets differ only through the heights in the
        // status; without it they agree.
        let status = tag("0x1::Migrations::Status");
        let mut without = InMemoryStore::new();
        let mut batch = WriteBatch::new();
        for (t, a, b) in memory.resources(devchain::WIDTH).filter(|(t, _, _)| *t != status) {
            batch.put(a, t, b.to_vec());
        }
        without.apply(batch).unwrap();
        roots.push(state_root(&without).unwrap());
    }
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "{roots:?}");
}

/// The store's version moves with every write of the state (whatever call made it) and no
/// other store, nor the same file opened again, gives it: a hook that saw it again knows the
/// state is the one it compared.
#[test]
fn the_version_moves_with_every_write_and_each_opening_has_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = RedbStore::open(dir.path()).unwrap();
    let first = store.version();
    assert!(first.is_some());
    let mut batch = WriteBatch::new();
    batch.put_key(vec![5, 1], vec![1]);
    store.apply(batch).unwrap();
    let second = store.version();
    assert_ne!(second, first);
    store.apply_at_height(WriteBatch::new(), 3).unwrap();
    let third = store.version();
    assert_ne!(third, second);
    store.apply_with_node_value(WriteBatch::new(), "decision", b"x").unwrap();
    assert_ne!(store.version(), third);
    // Nothing to write: nothing changed.
    let before = store.version();
    store.apply(WriteBatch::new()).unwrap();
    assert_eq!(store.version(), before);
    drop(store);
    let reopened = RedbStore::open_existing(dir.path()).unwrap();
    assert_ne!(reopened.version(), before);
    let other_dir = tempfile::tempdir().unwrap();
    assert_ne!(RedbStore::open(other_dir.path()).unwrap().version(), reopened.version());
}
