//! Two nodes, one block at a time (issue 19, item 7: "prove it").
//!
//! Each node is its own [`Hook`] over its own store. Both start from one genesis state (the
//! chain's genesis scheduled the release on chain with [`Hook::schedule_all`]) and are fed the
//! same blocks: the prologue ([`Hook::maybe_migrate`]) at every height, then the same
//! transactions through the hook. One situation is injected into one node. What a user relies
//! on, and what every test checks: the two state roots are equal at every height, or the node in
//! trouble stops with a typed error whose [`Fault`] says what to do; never a silent divergence.
//!
//! The chain is devchain's `framework`: 32-byte addresses, the framework at `0x1`, three structs
//! changed in place (`GovernanceConfig` in the framework account; `Account` and every
//! `CoinStore<T>` in user accounts). Genesis also holds `CoinStore<0xcafe::my_coin::MyCoin>` in
//! every third user, an instance nobody lists.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use binary_format::Module;
use devchain::framework::{self, user, ACCOUNT, COIN_STORE, GOVERNANCE, WIDTH};
use migrations::catalogue::Catalogue;
use migrations::store::{InMemoryStore, Store, StoreError, WriteBatch};
use migrations::{decode, encode, AccountAddress, Layout, ReleaseIndex, StateKey, StructTag, Value};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;
use upgrade_spec::{Declarations, ReleaseId, ReleaseLabel};
use vm_hooks::{
    state_root, AccessError, AllowAll, BlockReport, Budget, ConsensusError, Divergence, Fault, Hook, HookError,
    ReleasePlan, Staged, StateRoot, Status,
};

/// The height the framework's plan (and so the chain's record) activates the release at.
const ACTIVATION: u64 = 4;
/// The generic instance nobody lists.
const MY_COIN_STORE: &str = "0x1::coin::CoinStore<0xcafe::my_coin::MyCoin>";
/// The release before the new one, as a transaction built against it names it.
const OLD_RELEASE: u32 = 6;
/// The new release's number.
const NEW_RELEASE: u32 = 7;
/// No test runs this many blocks: a loop that does is stuck.
const MAX_HEIGHT: u64 = 2_000;

// ---------------------------------------------------------------------------------------------
// The chain: catalogues, layouts, genesis, what the migration must end in.

fn budget(max_resources: u64) -> Budget {
    Budget { max_resources, max_bytes: 1 << 20 }
}

fn tag(s: &str) -> StructTag {
    framework::tag(s).unwrap()
}

/// The release's catalogue, as every well-configured node builds it.
fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| framework::catalogue(&devchain::handlers()).unwrap())
}

/// The catalogue of a node whose operator edited one declaration: the default of the field
/// `Account` gains is 7 instead of 0. Same ids, same order, same layouts: only the value a
/// migrated account would hold differs, so only the checksum can tell.
fn edited_catalogue() -> &'static Catalogue {
    static EDITED: OnceLock<Catalogue> = OnceLock::new();
    EDITED.get_or_init(|| {
        let original = r#"defaults = { guid_creation_num = "0" }"#;
        assert!(framework::DECLARATIONS.contains(original));
        let text = framework::DECLARATIONS.replace(original, r#"defaults = { guid_creation_num = "7" }"#);
        let declarations = Declarations::parse(&text, Path::new("edited-migrations.toml")).unwrap();
        let (old, new) = framework::releases().unwrap();
        let (old, new): (Vec<&Module>, Vec<&Module>) = (old.iter().collect(), new.iter().collect());
        let label = ReleaseLabel::new(framework::NEW_NAME).unwrap();
        Catalogue::builder(&old, &new, &label, WIDTH)
            .declarations(&declarations)
            .handlers(&devchain::handlers())
            .versioning(layout_diff::diff::lineage::Versioning::Fixed)
            .build()
            .unwrap()
    })
}

/// A node's hook: the framework's plan with `catalogue`, its chain configured with a budget of
/// `max_resources` (what it would schedule with; once scheduled, the chain's record rules).
fn hook_with(max_resources: u64, catalogue: &Catalogue) -> Hook {
    let plan = ReleasePlan::new(framework::new_release().unwrap(), ACTIVATION, catalogue.clone());
    Hook::new(vec![plan], framework::config(budget(max_resources)).unwrap(), Box::new(AllowAll)).unwrap()
}

fn hook(max_resources: u64) -> Hook {
    hook_with(max_resources, catalogue())
}

/// The old and new layout of every struct the release changes, by tag.
struct Layouts(Vec<(StructTag, Layout, Layout)>);

fn layouts() -> &'static Layouts {
    static LAYOUTS: OnceLock<Layouts> = OnceLock::new();
    LAYOUTS.get_or_init(|| {
        let (old, new) = framework::releases().unwrap();
        let old = ReleaseIndex::new(old.iter(), WIDTH).unwrap();
        let new = ReleaseIndex::new(new.iter(), WIDTH).unwrap();
        Layouts(
            [GOVERNANCE, ACCOUNT, COIN_STORE, MY_COIN_STORE]
                .iter()
                .map(|t| {
                    let t = tag(t);
                    let (o, n) = (old.layout_of_struct_tag(&t).unwrap(), new.layout_of_struct_tag(&t).unwrap());
                    (t, o, n)
                })
                .collect(),
        )
    })
}

impl Layouts {
    fn of(&self, t: &StructTag) -> Option<(&Layout, &Layout)> {
        self.0.iter().find(|(x, _, _)| x == t).map(|(_, o, n)| (o, n))
    }
}

fn status_key() -> Vec<u8> {
    framework::chain(Budget::default()).unwrap().status_key.encode()
}

/// Genesis on the old release with `users` users (devchain's framework genesis, plus a coin store
/// of `MyCoin` in every third user), the release scheduled on chain by the chain's genesis with a
/// budget of `recorded`. One state, that every node starts from.
fn genesis(users: u32, recorded: u64) -> InMemoryStore {
    let mut store = genesis_unscheduled(users);
    hook(recorded).schedule_all(&mut store).unwrap();
    store
}

/// The same genesis, the release not scheduled yet (governance will).
fn genesis_unscheduled(users: u32) -> InMemoryStore {
    let mut store = framework::genesis(users).unwrap();
    let my_coin = tag(MY_COIN_STORE);
    let (old, _) = layouts().of(&my_coin).unwrap();
    let mut batch = WriteBatch::new();
    for n in (1..=users).filter(|n| n % 3 == 0) {
        let value = Value::Struct(vec![Value::Struct(vec![Value::U64(7 * u64::from(n))]), Value::Bool(n % 2 == 0)]);
        batch.put(user(n), my_coin.clone(), encode(&value, old).unwrap());
    }
    store.apply(batch).unwrap();
    store
}

/// Entries by canonical key.
type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// The state a finished migration must leave, but for the status: every value of a changed
/// struct transformed once from its genesis bytes, everything else as it was.
fn expected(genesis: &InMemoryStore) -> Entries {
    let status = status_key();
    genesis
        .iter()
        .filter(|(k, _)| *k != status.as_slice())
        .map(|(k, v)| {
            let m = migrated(&k, v);
            (k, m)
        })
        .collect()
}

/// What one migration makes of the value `bytes` at `key`: the catalogue entry's transform for
/// a changed struct (of the instance the key's type arguments make), the bytes themselves
/// otherwise.
fn migrated(key: &[u8], bytes: &[u8]) -> Vec<u8> {
    let StateKey::Resource { tag: t, .. } = StateKey::decode(key, WIDTH).unwrap() else { return bytes.to_vec() };
    let Some(entry) = catalogue().entries.iter().find(|e| e.to == t.module_id() && e.struct_name == t.name) else {
        return bytes.to_vec();
    };
    let mut new = Vec::new();
    catalogue().instance(entry, &t.type_args).unwrap().transform(bytes, &mut new).unwrap();
    new
}

/// Every entry but the status.
fn contents(store: &InMemoryStore) -> Entries {
    let status = status_key();
    store.iter().filter(|(k, _)| *k != status.as_slice()).map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
}

/// The values of changed structs still in their old layout (old and new encodings of each differ
/// in length, so a value decodes with at most one of them).
fn old_left(store: &InMemoryStore) -> Vec<(StructTag, AccountAddress)> {
    store
        .resources(WIDTH)
        .filter(|(t, _, bytes)| layouts().of(t).is_some_and(|(old, _)| decode(bytes, old).is_ok()))
        .map(|(t, a, _)| (t, a))
        .collect()
}

/// Whether `bytes` are in the new layout of `t`.
fn is_new(t: &StructTag, bytes: &[u8]) -> bool {
    layouts().of(t).is_some_and(|(_, new)| decode(bytes, new).is_ok())
}

fn root(store: &dyn Store) -> StateRoot {
    state_root(store).unwrap()
}

fn status_of(store: &dyn Store) -> Status {
    Status::load(store, &framework::chain(Budget::default()).unwrap()).unwrap()
}

/// The users in key order (the order the pass reaches them in, within one struct).
fn users_in_key_order(users: u32) -> Vec<u32> {
    let mut all: Vec<u32> = (1..=users).collect();
    all.sort_by_key(|n| user(*n));
    all
}

/// Whether the pass of `migration` has reached `key` (in place: at or behind its cursor, or
/// migrated ahead of it, or the migration finished).
fn reached(store: &dyn Store, migration: &str, key: &[u8]) -> bool {
    let status = status_of(store);
    status.has_run(migration) || status.progress_of(migration).is_some_and(|p| p.cursor.is_done(key))
}

// ---------------------------------------------------------------------------------------------
// A node: a hook over a store that can fail.

/// Which store call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Scan,
    Apply,
}

/// A node's store whose `nth` next call of one kind fails, once, as a disk does: the call
/// changes nothing and says so. It gives its inner store's version, unless told not to (a store
/// that cannot tell: the hook then reads the status at every block and access).
#[derive(Debug, Default)]
struct Flaky {
    inner: InMemoryStore,
    armed: Cell<Option<(Op, u32)>>,
    fired: Cell<u32>,
    unversioned: bool,
}

impl Flaky {
    fn new(inner: InMemoryStore) -> Flaky {
        Flaky { inner, ..Flaky::default() }
    }

    /// The same store, giving no version.
    fn unversioned(self) -> Flaky {
        Flaky { unversioned: true, ..self }
    }

    /// The `nth` next call of `op` (0: the next one) fails.
    fn arm(&self, op: Op, nth: u32) {
        self.armed.set(Some((op, nth)));
    }

    /// Disarms; whether the failure was still to come.
    fn disarm(&self) -> bool {
        self.armed.take().is_some()
    }

    fn trip(&self, op: Op) -> Result<(), StoreError> {
        match self.armed.get() {
            Some((o, 0)) if o == op => {
                self.armed.set(None);
                self.fired.set(self.fired.get() + 1);
                Err(StoreError::Backend { backend: "flaky", source: format!("injected {op:?} failure").into() })
            }
            Some((o, n)) if o == op => {
                self.armed.set(Some((o, n - 1)));
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Store for Flaky {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.trip(Op::Get)?;
        self.inner.get_key(key)
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        self.trip(Op::Scan)?;
        self.inner.scan_keys(prefix, after, visit)
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        self.trip(Op::Apply)?;
        self.inner.apply(batch)
    }

    /// The inner store's: a failed apply writes nothing and leaves it where it was.
    fn version(&self) -> Option<migrations::store::StoreVersion> {
        self.inner.version().filter(|_| !self.unversioned)
    }
}

struct Node {
    hook: Hook,
    store: Flaky,
    /// The budget this node's configuration states.
    configured: u64,
}

impl Node {
    fn new(genesis: &InMemoryStore, configured: u64) -> Node {
        Node { hook: hook(configured), store: Flaky::new(genesis.clone()), configured }
    }

    fn block(&mut self, height: u64) -> BlockReport {
        self.hook.maybe_migrate(&mut self.store, height).unwrap_or_else(|e| panic!("block {height}: {e}"))
    }

    fn root(&self) -> StateRoot {
        root(&self.store)
    }
}

/// Both nodes' roots, at `height`.
fn assert_same_root(node: &Node, peer: &Node, height: u64) {
    assert_eq!(node.root(), peer.root(), "the roots differ at height {height}");
}

/// What a finished window leaves on both nodes: the same state, one transform of genesis,
/// nothing left in the old layout, nothing for a second pass, no failure.
fn assert_finished(node: &Node, peer: &Node, want: &Entries) {
    assert!(node.hook.all_done() && peer.hook.all_done());
    assert_eq!(node.root(), peer.root());
    for n in [node, peer] {
        assert_eq!(old_left(&n.store.inner), [], "values left in the old layout");
        assert_eq!(n.hook.second_pass(&n.store).unwrap(), [], "a second pass would change something");
        let status = status_of(&n.store);
        assert!(status.in_progress().is_empty() && status.failures().is_empty(), "{:?}", status.failures());
        assert_eq!(status.completed().len(), 3);
    }
    let got = contents(&peer.store.inner);
    assert_eq!(got.len(), want.len());
    for (key, value) in want {
        assert_eq!(got.get(key), Some(value), "{}", migrations::state_key::describe(key, WIDTH));
    }
}

// ---------------------------------------------------------------------------------------------
// Transactions: the same on both nodes, through the hook.

/// Which of a user's values a transaction touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Held {
    Account,
    Coin,
    MyCoin,
}

impl Held {
    fn tag(self) -> StructTag {
        tag(match self {
            Held::Account => ACCOUNT,
            Held::Coin => COIN_STORE,
            Held::MyCoin => MY_COIN_STORE,
        })
    }
}

#[derive(Debug, Clone)]
enum Tx {
    /// `read_resource`: a transaction's read, which migrates the value first.
    Read(u32, Held),
    /// `write_resource` of the value's new-layout bytes (from the activation block on).
    WriteNew(u32, Held),
    /// `write_resource_as` the release before: the genesis bytes, in the old layout.
    WriteOld(u32, Held),
    /// `delete_resource`.
    Delete(u32, Held),
    /// Governance sets the release's budget.
    SetBudget(u64),
}

/// What one transaction did, as every node must agree on it (a refusal is the transaction's
/// outcome, the same everywhere), or the fault of the node that could not execute it.
fn execute(
    hook: &mut Hook,
    store: &mut dyn Store,
    tx: &Tx,
    height: u64,
    genesis: &InMemoryStore,
) -> Result<String, Fault> {
    let access = |r: Result<String, AccessError>| match r {
        Ok(s) => Ok(s),
        Err(AccessError::Store(_)) => Err(Fault::Local),
        Err(AccessError::Hook(e)) if e.fault() != Fault::Chain => Err(e.fault()),
        Err(e) => Ok(format!("refused: {e}")),
    };
    let key = |n: u32, held: Held| migrations::state_key::resource_key(&user(n), &held.tag());
    match *tx {
        Tx::Read(n, held) => access(hook.read_resource(store, user(n), &held.tag()).map(|v| format!("read {v:?}"))),
        Tx::WriteNew(n, held) => {
            if height < ACTIVATION {
                return Ok("not before activation".into());
            }
            let key = key(n, held);
            let Some(old) = genesis.get_key(&key).unwrap() else { return Ok("none at genesis".into()) };
            let new = migrated(&key, &old);
            access(hook.write_resource(store, user(n), &held.tag(), new).map(|()| "written".into()))
        }
        Tx::WriteOld(n, held) => {
            let Some(old) = genesis.get_key(&key(n, held)).unwrap() else { return Ok("none at genesis".into()) };
            let release = ReleaseId::numbered(OLD_RELEASE);
            access(hook.write_resource_as(store, &release, user(n), &held.tag(), old).map(|()| "written".into()))
        }
        Tx::Delete(n, held) => access(hook.delete_resource(store, user(n), &held.tag()).map(|()| "deleted".into())),
        Tx::SetBudget(b) => match hook.set_budget(store, NEW_RELEASE, budget(b)) {
            Ok(()) => Ok("budget set".into()),
            Err(e) if e.fault() == Fault::Chain => Ok(format!("refused: {e}")),
            Err(e) => Err(e.fault()),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A local fault.

/// A node's disk fails once inside the prologue (a write, a read, a scan) or inside a
/// transaction's access: the call applies nothing and says `Fault::Local`; the node does not
/// commit, retries the same block, and its root is its peer's at every height. After the retry,
/// the release is as active for its transactions as for the peer's: an old-layout write is
/// refused on both, a read migrates alike.
#[test]
fn a_store_failure_applies_nothing_and_the_retried_block_ends_equal_to_the_peer() {
    const USERS: u32 = 90;
    let genesis = genesis(USERS, 20);
    let want = expected(&genesis);
    let (mut node, mut peer) = (Node::new(&genesis, 20), Node::new(&genesis, 20));
    // A store that gives no version: every block reads the status (a store that gives one
    // skips that read while nothing was written; the proptest below runs over such stores).
    node.store = std::mem::take(&mut node.store).unversioned();
    let order = users_in_key_order(USERS);
    // (height, call, how many of its kind pass first): a fault in every part of a block's work.
    let faults = [
        (1, Op::Get, 0),                // the status read of an idle block
        (ACTIVATION, Op::Apply, 0),     // the activation block's one batch
        (ACTIVATION + 1, Op::Get, 0),   // the status read
        (ACTIVATION + 2, Op::Scan, 0),  // the chunk's scan
        (ACTIVATION + 3, Op::Apply, 0), // a chunk's batch
        (ACTIVATION + 4, Op::Scan, 1),  // a later scan of the same block
    ];
    let mut last_block_failed = false;
    let mut fired_governance = 0;
    let mut height = 0;
    while !(node.hook.all_done() && peer.hook.all_done()) {
        height += 1;
        assert!(height < MAX_HEIGHT);
        let peer_report = peer.block(height);
        // The block that finishes the window fails too, at its commit.
        let fault = faults
            .iter()
            .find(|f| f.0 == height)
            .map(|f| (f.1, f.2))
            .or_else(|| (peer.hook.all_done() && !last_block_failed).then_some((Op::Apply, 0)));
        if let Some((op, nth)) = fault {
            last_block_failed |= peer.hook.all_done();
            let before = node.root();
            node.store.arm(op, nth);
            let err = node.hook.maybe_migrate(&mut node.store, height).unwrap_err();
            assert!(!node.store.disarm(), "the failure fired");
            assert!(matches!(err, HookError::Store(_)), "{err}");
            assert_eq!(err.fault(), Fault::Local, "{err}");
            assert_eq!(node.root(), before, "block {height}: a failed call applied something");
            // Nothing the hook remembers is ahead of the store.
            assert!(node.hook.status().is_none_or(|s| *s == status_of(&node.store)), "block {height}");
        }
        // The block, retried: the same work as the peer's, not idle, not twice.
        assert_eq!(node.block(height), peer_report, "block {height}");
        assert_same_root(&node, &peer, height);
        // The block's transactions, the same on both nodes.
        if height >= ACTIVATION && !peer.hook.all_done() {
            let last = *order.last().unwrap();
            let txs = [
                // An old-layout write: refused on both, the release is active for both.
                Tx::WriteOld(order[height as usize % order.len()], Held::Account),
                // A read ahead of the cursor: migrated on access, alike.
                Tx::Read(last, Held::Coin),
            ];
            for tx in &txs {
                let ours = execute(&mut node.hook, &mut node.store, tx, height, &genesis).unwrap();
                let theirs = execute(&mut peer.hook, &mut peer.store, tx, height, &genesis).unwrap();
                assert_eq!(ours, theirs, "block {height}: {tx:?}");
                if matches!(tx, Tx::WriteOld(..)) {
                    assert!(ours.starts_with("refused") && ours.contains("changed it in place"), "{ours}");
                }
            }
            assert_same_root(&node, &peer, height);
        }
        // A governance transaction whose store fails before its write, at its write, or at a
        // read after it (none is needed: the call returns what it wrote): a failed call applied
        // nothing and says `Fault::Local`; retried, it does what the peer's did.
        if height == 2 {
            for (b, op, nth) in [(25, Op::Get, 0), (30, Op::Apply, 0), (20, Op::Get, 1)] {
                let tx = Tx::SetBudget(b);
                let before = node.root();
                node.store.arm(op, nth);
                let result = execute(&mut node.hook, &mut node.store, &tx, height, &genesis);
                let fired = !node.store.disarm();
                let ours = match result {
                    Err(fault) => {
                        assert!(fired);
                        fired_governance += 1;
                        assert_eq!(fault, Fault::Local);
                        assert_eq!(
                            node.root(),
                            before,
                            "{tx:?} ({op:?} {nth}): a failed governance call applied something"
                        );
                        execute(&mut node.hook, &mut node.store, &tx, height, &genesis).unwrap()
                    }
                    Ok(done) => {
                        assert!(!fired, "{tx:?} ({op:?} {nth}): a store failure went unreported");
                        done
                    }
                };
                let theirs = execute(&mut peer.hook, &mut peer.store, &tx, height, &genesis).unwrap();
                assert_eq!((ours.as_str(), theirs.as_str()), ("budget set", "budget set"));
                assert_same_root(&node, &peer, height);
            }
            assert_eq!(fired_governance, 2);
        }
        // A failure inside a transaction: a read that migrates an account (its batch fails),
        // then an old-layout write (its status read fails). Nothing applied, `Fault::Local`;
        // the retry does what the peer's did.
        if height == ACTIVATION + 2 {
            let unreached = order[order.len() - 2];
            assert!(!reached(
                &node.store,
                "account-7",
                &migrations::state_key::resource_key(&user(unreached), &tag(ACCOUNT))
            ));
            for (tx, op) in
                [(Tx::Read(unreached, Held::Account), Op::Apply), (Tx::WriteOld(unreached, Held::Coin), Op::Get)]
            {
                let before = node.root();
                node.store.arm(op, 0);
                let fault = execute(&mut node.hook, &mut node.store, &tx, height, &genesis).unwrap_err();
                assert_eq!(fault, Fault::Local, "{tx:?}");
                assert_eq!(node.root(), before, "{tx:?}: a failed access applied something");
                let ours = execute(&mut node.hook, &mut node.store, &tx, height, &genesis).unwrap();
                let theirs = execute(&mut peer.hook, &mut peer.store, &tx, height, &genesis).unwrap();
                assert_eq!(ours, theirs, "{tx:?}");
                assert_same_root(&node, &peer, height);
            }
        }
    }
    assert!(last_block_failed, "the block that finishes the window failed once");
    assert_eq!(node.store.fired.get(), faults.len() as u32 + 1 + fired_governance + 2);
    assert_finished(&node, &peer, &want);
}

// ---------------------------------------------------------------------------------------------
// 2. An RPC read.

/// Between blocks one node serves RPC reads through `view_resource`, of values the pass has
/// reached and of values it has not: every answer is the value in the active layout (the old
/// one before activation, the new one after, whether or not migrated), nothing is written, the
/// node's root never moves because of it, and stays its peer's.
#[test]
fn an_rpc_view_answers_in_the_active_layout_and_never_moves_the_root() {
    const USERS: u32 = 90;
    let genesis = genesis(USERS, 20);
    let want = expected(&genesis);
    let (mut node, mut peer) = (Node::new(&genesis, 20), Node::new(&genesis, 20));
    let order = users_in_key_order(USERS);
    // An RPC server started apart from block execution: a hook that never ran a block.
    let rpc = hook(20);
    // Users spread over key order, so that some are behind the cursor and some ahead.
    let sample: Vec<u32> = (0..8).map(|i| order[i * (order.len() - 1) / 7]).collect();
    let (mut seen_reached, mut seen_unreached) = (0, 0);
    let mut height = 0;
    while !(node.hook.all_done() && peer.hook.all_done()) {
        height += 1;
        assert!(height < MAX_HEIGHT);
        assert_eq!(node.block(height), peer.block(height), "block {height}");
        let before = node.root();
        let known = node.hook.status().cloned();
        for &n in &sample {
            for held in [Held::Account, Held::Coin, Held::MyCoin] {
                let t = held.tag();
                let key = migrations::state_key::resource_key(&user(n), &t);
                let seen = node.hook.view_resource(&node.store, user(n), &t).unwrap();
                assert_eq!(rpc.view_resource(&node.store, user(n), &t).unwrap(), seen, "a fresh hook answers alike");
                let Some(seen) = seen else {
                    assert!(held == Held::MyCoin && n % 3 != 0, "{n} {held:?}");
                    continue;
                };
                if height < ACTIVATION {
                    assert_eq!(Some(&seen), genesis.get_key(&key).unwrap().as_ref(), "before activation: as stored");
                    continue;
                }
                assert!(is_new(&t, &seen));
                assert_eq!(Some(&seen), want.get(&key), "height {height}, user {n}, {held:?}");
                let migration = if held == Held::Account { "account-7" } else { "coin-store-7" };
                if reached(&node.store, migration, &key) {
                    seen_reached += 1;
                } else {
                    seen_unreached += 1;
                    assert!(!is_new(&t, &node.store.get_key(&key).unwrap().unwrap()), "not migrated by the view");
                }
            }
        }
        let governance = node.hook.view_resource(&node.store, framework::framework(), &tag(GOVERNANCE)).unwrap();
        assert_eq!(is_new(&tag(GOVERNANCE), &governance.unwrap()), height >= ACTIVATION);
        assert_eq!(node.hook.view_resource(&node.store, user(USERS + 1), &tag(ACCOUNT)).unwrap(), None);
        assert_eq!(node.root(), before, "height {height}: a view moved the root");
        assert_eq!(node.hook.status(), known.as_ref(), "a view changes nothing the hook remembers");
        assert_same_root(&node, &peer, height);
    }
    assert!(seen_reached > 10 && seen_unreached > 10, "{seen_reached} reached, {seen_unreached} not");
    assert_finished(&node, &peer, &want);
}

// ---------------------------------------------------------------------------------------------
// 3. A locally tuned budget.

/// Two nodes configured with different budgets follow the one the chain recorded when it
/// scheduled the release: the same work in every block, the same root at every height, and the
/// node whose configuration differs lists a `Divergence::Budget`, before activation and after.
/// A governance transaction setting another budget mid-window is followed alike.
#[test]
fn a_locally_tuned_budget_is_listed_and_the_recorded_budget_is_followed() {
    const USERS: u32 = 600;
    for (recorded, tuned) in [(250, 1_000), (1_000, 250)] {
        let genesis = genesis(USERS, recorded);
        let want = expected(&genesis);
        let (mut node, mut peer) = (Node::new(&genesis, tuned), Node::new(&genesis, recorded));
        let release = framework::new_release().unwrap();
        let listed = |node: &Node, chain: u64| {
            let d = node.hook.divergence();
            assert_eq!(
                d,
                [Divergence::Budget { release: release.clone(), ours: budget(node.configured), chain: budget(chain) }],
                "{}",
                d.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            );
        };
        node.hook.load(&node.store).unwrap();
        peer.hook.load(&peer.store).unwrap();
        listed(&node, recorded);
        assert_eq!(peer.hook.divergence(), []);
        let mut chain_budget = recorded;
        let mut height = 0;
        while !(node.hook.all_done() && peer.hook.all_done()) {
            height += 1;
            assert!(height < MAX_HEIGHT);
            let (ours, theirs) = (node.block(height), peer.block(height));
            assert_eq!(ours, theirs, "recorded {recorded}, block {height}");
            assert!(theirs.resources <= chain_budget, "block {height}: {theirs:?} over {chain_budget}");
            if height == ACTIVATION + 1 {
                // Governance halves the budget: both nodes execute the transaction alike.
                let tx = Tx::SetBudget(recorded / 2);
                let a = execute(&mut node.hook, &mut node.store, &tx, height, &genesis).unwrap();
                let b = execute(&mut peer.hook, &mut peer.store, &tx, height, &genesis).unwrap();
                assert_eq!(a, b);
                if a == "budget set" {
                    chain_budget = recorded / 2;
                }
            }
            if height >= ACTIVATION {
                assert_eq!(node.hook.activated_releases(), 1);
                if chain_budget == recorded {
                    listed(&node, recorded);
                    assert_eq!(peer.hook.divergence(), []);
                } else {
                    // Now both differ from the chain, and both say so.
                    node.hook.load(&node.store).unwrap();
                    peer.hook.load(&peer.store).unwrap();
                    listed(&node, chain_budget);
                    listed(&peer, chain_budget);
                }
            }
            assert_same_root(&node, &peer, height);
        }
        assert!(height > ACTIVATION, "the window took several blocks");
        assert_finished(&node, &peer, &want);
    }
}

/// A release scheduled by a governance transaction that every node executes (not by a genesis
/// built once): the transaction states the height and the budget (`schedule_at`, then
/// `set_budget`, as the devnet's governance does), so nodes configured with other budgets write
/// the same record, follow it, and list their difference.
#[test]
fn a_governance_transaction_that_states_its_budget_is_recorded_alike_by_tuned_nodes() {
    const USERS: u32 = 120;
    let unscheduled = genesis_unscheduled(USERS);
    let (mut node, mut peer) = (Node::new(&unscheduled, 1_000), Node::new(&unscheduled, 40));
    let (height_of_tx, activation) = (2, ACTIVATION + 2);
    let mut height = 0;
    while !(node.hook.all_done() && peer.hook.all_done()) {
        height += 1;
        assert!(height < MAX_HEIGHT);
        assert_eq!(node.block(height), peer.block(height), "block {height}");
        if height == height_of_tx {
            for n in [&mut node, &mut peer] {
                n.hook.schedule_at(&mut n.store, NEW_RELEASE, activation).unwrap();
                n.hook.set_budget(&mut n.store, NEW_RELEASE, budget(25)).unwrap();
            }
            for n in [&node, &peer] {
                let d = n.hook.divergence();
                assert!(matches!(d, [Divergence::Height { .. }, Divergence::Budget { .. }]), "{d:?}");
            }
        }
        assert_same_root(&node, &peer, height);
    }
    assert!(height > activation + 3, "the window took the recorded budget's blocks");
    assert_finished(&node, &peer, &expected(&unscheduled));
}

/// A release scheduled by a governance transaction that every node executes records what the
/// transaction carries ([`Hook::proposal`] on the proposer, [`Hook::schedule_record`] on every
/// node), not each node's configuration: nodes configured with other budgets write the same
/// status, and a node with an edited catalogue refuses rather than record its own checksums.
#[test]
fn a_scheduling_governance_transaction_records_the_same_status_on_every_node() {
    let unscheduled = genesis_unscheduled(30);
    let (mut tuned, mut peer) = (Node::new(&unscheduled, 1_000), Node::new(&unscheduled, 250));
    let mut edited = Node::new(&unscheduled, 250);
    edited.hook = hook_with(250, edited_catalogue());
    let record = peer.hook.proposal(NEW_RELEASE).unwrap();
    peer.hook.schedule_record(&mut peer.store, record.clone()).unwrap();
    tuned.hook.schedule_record(&mut tuned.store, record.clone()).unwrap();
    assert_same_root(&tuned, &peer, 1);
    let before = edited.root();
    assert_refuses_its_catalogue(&edited.hook.schedule_record(&mut edited.store, record).unwrap_err());
    assert_eq!(edited.root(), before, "a refused transaction writes nothing");
    // Both go on to the same end.
    for height in 1..200 {
        tuned.hook.maybe_migrate(&mut tuned.store, height).unwrap();
        peer.hook.maybe_migrate(&mut peer.store, height).unwrap();
        assert_same_root(&tuned, &peer, height);
    }
    assert!(tuned.hook.all_done() && peer.hook.all_done());
}

// ---------------------------------------------------------------------------------------------
// 4. An edited catalogue.

fn assert_refuses_its_catalogue(err: &HookError) {
    assert_eq!(err.fault(), Fault::Node, "{err}");
    match err {
        HookError::Consensus(ConsensusError::Catalogue { release, problems, .. }) => {
            assert_eq!(*release, u64::from(NEW_RELEASE));
            assert!(problems.iter().any(|p| p.contains("account-7")), "{problems:?}");
        }
        other => panic!("not a catalogue refusal: {other}"),
    }
}

/// A node whose catalogue has an edited declaration (same ids, another default) refuses with
/// `ConsensusError::Catalogue` (`Fault::Node`) at load and at every call, block or transaction
/// or view, and writes nothing: it never computes another state. The same when the node is
/// restarted with the edit in the middle of the window; fixed and restarted, it catches up to
/// its peer's root.
#[test]
fn a_node_with_an_edited_catalogue_refuses_and_never_computes_another_state() {
    const USERS: u32 = 60;
    let edited = edited_catalogue();
    let ids = |c: &Catalogue| c.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(edited), ids(catalogue()));
    let differ: Vec<&str> = catalogue()
        .entries
        .iter()
        .zip(&edited.entries)
        .filter(|(a, b)| a.checksum != b.checksum)
        .map(|(a, _)| a.id.as_str())
        .collect();
    assert_eq!(differ, ["account-7"]);

    let genesis = genesis(USERS, 15);
    let want = expected(&genesis);

    // Started with the edit: refuses at load, at the first block and at every access.
    let mut node = Node::new(&genesis, 15);
    node.hook = hook_with(15, edited);
    let before = node.root();
    assert_refuses_its_catalogue(&node.hook.load(&node.store).unwrap_err());
    for height in [1, ACTIVATION] {
        assert_refuses_its_catalogue(&node.hook.maybe_migrate(&mut node.store, height).unwrap_err());
    }
    assert_refuses_its_catalogue(&node.hook.schedule_all(&mut node.store).unwrap_err());
    match node.hook.view_resource(&node.store, user(1), &tag(ACCOUNT)).unwrap_err() {
        AccessError::Hook(e) => assert_refuses_its_catalogue(&e),
        other => panic!("{other}"),
    }
    match node.hook.read_resource(&mut node.store, user(1), &tag(ACCOUNT)).unwrap_err() {
        AccessError::Hook(e) => assert_refuses_its_catalogue(&e),
        other => panic!("{other}"),
    }
    assert_eq!(node.root(), before, "a refusing node wrote something");
    assert!(node.hook.divergence().is_empty() && !node.hook.all_done());

    // A node that started before the chain scheduled the release (an empty status: nothing to
    // compare yet) refuses at its first call once the schedule is in its state.
    let mut early = Node::new(&framework::genesis(USERS).unwrap(), 15);
    early.hook = hook_with(15, edited);
    early.hook.load(&early.store).unwrap();
    assert!(matches!(early.hook.divergence(), [Divergence::NotScheduled { .. }]));
    early.store = Flaky::new(genesis.clone());
    assert_refuses_its_catalogue(&early.hook.maybe_migrate(&mut early.store, 1).unwrap_err());
    assert_eq!(early.root(), root(&genesis));
    // The same after idle blocks (nothing scheduled: the idle path has nothing to wait for),
    // the schedule reaching its state from outside its calls (a state sync, a restored
    // snapshot), the operator telling the hook with `load`: refused at load, and at every
    // block after it, never an idle answer that would skip the activation.
    let mut synced = Node::new(&framework::genesis(USERS).unwrap(), 15);
    synced.hook = hook_with(15, edited);
    for height in 1..=2 {
        assert!(synced.block(height).idle);
    }
    synced.store = Flaky::new(genesis.clone());
    assert_refuses_its_catalogue(&synced.hook.load(&synced.store).unwrap_err());
    for height in 3..=ACTIVATION + 1 {
        assert_refuses_its_catalogue(&synced.hook.maybe_migrate(&mut synced.store, height).unwrap_err());
    }
    assert_eq!(synced.root(), root(&genesis));

    // Mid-window: both nodes run right until the edit, then one restarts with it.
    let (mut node, mut peer) = (Node::new(&genesis, 15), Node::new(&genesis, 15));
    let mut height = 0;
    while height < ACTIVATION + 2 {
        height += 1;
        assert_eq!(node.block(height), peer.block(height));
        assert_same_root(&node, &peer, height);
    }
    assert!(!peer.hook.all_done());
    let edited_at = height + 1;
    node.hook = hook_with(15, edited);
    let before = node.root();
    assert_refuses_its_catalogue(&node.hook.load(&node.store).unwrap_err());
    assert_refuses_its_catalogue(&node.hook.maybe_migrate(&mut node.store, edited_at).unwrap_err());
    assert_refuses_its_catalogue(&node.hook.maybe_migrate(&mut node.store, edited_at).unwrap_err());
    assert_eq!(node.root(), before, "the refusing node computed something");
    // The operator restores the right catalogue; the node runs the block it refused.
    node.hook = hook(15);
    while !(node.hook.all_done() && peer.hook.all_done()) {
        height += 1;
        assert!(height < MAX_HEIGHT);
        assert_eq!(node.block(height), peer.block(height), "block {height}");
        assert_same_root(&node, &peer, height);
    }
    assert_finished(&node, &peer, &want);

    // After the window: the history on chain is the checksums that ran; the edit is refused.
    let mut late = hook_with(15, edited);
    let err = late.load(&node.store).unwrap_err();
    assert_eq!(err.fault(), Fault::Node, "{err}");
    assert!(matches!(err, HookError::Consensus(_)), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 5. A discarded block.

/// Runs block `height` on an overlay of `node`'s store, with `txs`, and drops it (a proposal
/// that was not committed). Returns the report.
fn discard(node: &mut Node, height: u64, txs: &[Tx], genesis: &InMemoryStore) -> BlockReport {
    let before = node.root();
    let report = {
        let mut overlay = Staged::new(&node.store);
        let report = node.hook.maybe_migrate(&mut overlay, height).unwrap();
        for tx in txs {
            execute(&mut node.hook, &mut overlay, tx, height, genesis).unwrap();
        }
        report
    };
    assert_eq!(node.root(), before, "a discarded overlay touched the store");
    report
}

/// A node runs a block's prologue (and transactions) on an overlay and discards it, then is
/// asked for the same height again: with the same hook object or a rebuilt one, it does the
/// block's work again (the same report as its peer's, never idle because its memory saw the
/// block), and ends equal to its peer with nothing left in the old layout. Also two blocks
/// speculated ahead and dropped, and the block that finishes the window.
#[test]
fn a_discarded_block_is_done_again_when_its_height_comes_back() {
    const USERS: u32 = 90;
    let genesis = genesis(USERS, 20);
    let want = expected(&genesis);
    let order = users_in_key_order(USERS);
    let ahead = *order.last().unwrap();
    for same_hook in [true, false] {
        let (mut node, mut peer) = (Node::new(&genesis, 20), Node::new(&genesis, 20));
        let mut finishing_discarded = false;
        let mut height = 0;
        while !(node.hook.all_done() && peer.hook.all_done()) {
            height += 1;
            assert!(height < MAX_HEIGHT);
            let theirs = peer.block(height);
            let discarded = match height {
                h if h == ACTIVATION - 1 || h == ACTIVATION => Some(discard(&mut node, h, &[], &genesis)),
                // With transactions that migrate and write ahead of the cursor.
                h if h == ACTIVATION + 2 => Some(discard(
                    &mut node,
                    h,
                    &[Tx::Read(ahead, Held::Account), Tx::WriteNew(ahead, Held::Coin), Tx::Read(ahead, Held::MyCoin)],
                    &genesis,
                )),
                // Two blocks speculated, one over the other, both dropped.
                h if h == ACTIVATION + 4 => {
                    let before = node.root();
                    let first = {
                        let mut one = Staged::new(&node.store);
                        let first = node.hook.maybe_migrate(&mut one, h).unwrap();
                        let mut two = Staged::new(&one);
                        assert!(!node.hook.maybe_migrate(&mut two, h + 1).unwrap().idle);
                        first
                    };
                    assert_eq!(node.root(), before);
                    Some(first)
                }
                _ if peer.hook.all_done() && !finishing_discarded => {
                    finishing_discarded = true;
                    Some(discard(&mut node, height, &[], &genesis))
                }
                _ => None,
            };
            if let Some(report) = discarded {
                assert_eq!(report, theirs, "the discarded block {height} did the block's work");
                if !same_hook {
                    node.hook = hook(20);
                }
            }
            assert_eq!(node.block(height), theirs, "block {height} (same hook: {same_hook})");
            assert_same_root(&node, &peer, height);
        }
        assert!(finishing_discarded);
        assert_finished(&node, &peer, &want);
    }
}

/// The idle path reads nothing, and the hook reads the store again for any height at or before
/// the last block it worked out (a discarded block, a restore): before activation and after the
/// window, a store that fails its next read is not touched by idle blocks, and a height seen
/// again trips it. A store rolled back to an idle block of the window holds what the hook holds:
/// the node goes on equal to its peer.
#[test]
fn the_idle_path_reads_nothing_and_a_height_seen_again_reads_the_store() {
    let genesis = genesis(30, 20);
    let (mut node, mut peer) = (Node::new(&genesis, 20), Node::new(&genesis, 20));
    // Before activation: the first block works the window out, the next ones are idle.
    assert!(node.block(1).idle);
    node.store.arm(Op::Get, 0);
    assert!(node.block(2).idle && node.block(3).idle);
    assert!(node.store.disarm(), "an idle block read the store");
    node.store.arm(Op::Get, 0);
    let err = node.hook.maybe_migrate(&mut node.store, 1).unwrap_err();
    assert_eq!(err.fault(), Fault::Local, "{err}");
    // Both run the window to its end, then idle blocks.
    let mut height = 0;
    while !(node.hook.all_done() && peer.hook.all_done()) {
        height += 1;
        assert!(height < MAX_HEIGHT);
        assert_eq!(node.block(height), peer.block(height), "block {height}");
    }
    let worked_out = height;
    for h in worked_out + 1..=worked_out + 5 {
        assert!(node.block(h).idle && peer.block(h).idle);
    }
    let at_idle = node.store.inner.clone();
    node.store.arm(Op::Get, 0);
    for h in worked_out + 6..=worked_out + 9 {
        assert!(node.block(h).idle && peer.block(h).idle);
    }
    assert!(node.store.disarm(), "an idle block read the store");
    // The store rolled back to an idle block of the window: nothing to redo, the same state.
    node.store.inner = at_idle;
    for h in worked_out + 3..=worked_out + 12 {
        assert!(node.block(h).idle);
        if h > worked_out + 9 {
            assert!(peer.block(h).idle);
        }
        assert_same_root(&node, &peer, h);
    }
    // The last block worked out, asked again: the store is read.
    node.store.arm(Op::Get, 0);
    let err = node.hook.maybe_migrate(&mut node.store, worked_out).unwrap_err();
    assert_eq!(err.fault(), Fault::Local, "{err}");
    // The next block reads the status again (the failed call forgot what it held) and is idle.
    let next = worked_out + 13;
    assert!(node.block(next).idle && peer.block(next).idle);
    assert_finished(&node, &peer, &expected(&genesis));
}

/// A status written into the node's own store from outside its hook (a state sync that copies
/// a peer's later state into it) is seen at the next access: the store's version moved, so the
/// hook compares the status it holds with the stored one and loads the new one, instead of
/// answering from what it read before.
#[test]
fn a_status_synced_into_the_same_store_is_seen_at_the_next_read() {
    let genesis = genesis(60, 20);
    let (mut node, mut peer) = (Node::new(&genesis, 20), Node::new(&genesis, 20));
    let account_tag = framework::tag(ACCOUNT).unwrap();
    for height in 1..=ACTIVATION + 1 {
        assert_eq!(node.block(height), peer.block(height));
    }
    // A read: the hook compares the stored status once, then trusts the version.
    node.hook.read_resource(&mut node.store, user(1), &account_tag).unwrap();
    node.hook.read_resource(&mut node.store, user(1), &account_tag).unwrap();
    assert_eq!(node.hook.status(), Some(&status_of(&node.store)));
    // The peer goes on; its state is copied into the node's store, key by key, in one batch.
    for height in ACTIVATION + 2..=ACTIVATION + 4 {
        peer.block(height);
    }
    let theirs: BTreeMap<Vec<u8>, Vec<u8>> = peer.store.inner.iter().map(|(k, v)| (k, v.to_vec())).collect();
    let mut sync = WriteBatch::new();
    for (key, _) in node.store.inner.iter() {
        if !theirs.contains_key(&key) {
            sync.delete_key(key);
        }
    }
    for (key, value) in &theirs {
        sync.put_key(key, value.clone());
    }
    node.store.apply(sync).unwrap();
    assert_ne!(node.hook.status(), Some(&status_of(&node.store)), "the sync moved the status");
    node.hook.read_resource(&mut node.store, user(1), &account_tag).unwrap();
    assert_eq!(node.hook.status(), Some(&status_of(&node.store)));
    assert_same_root(&node, &peer, ACTIVATION + 4);
    for height in ACTIVATION + 5..ACTIVATION + 8 {
        assert_eq!(node.block(height), peer.block(height), "block {height}");
        assert_same_root(&node, &peer, height);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. An unlisted generic instance.

/// `CoinStore<0xcafe::my_coin::MyCoin>` is in nobody's configuration: both nodes find it in
/// state and migrate it, the window closes (`all_done`) only once no value is left in the old
/// layout, and a view of one the pass has not reached answers in the new layout.
#[test]
fn a_generic_instance_nobody_lists_is_migrated_before_the_window_closes() {
    const USERS: u32 = 90;
    let genesis = genesis(USERS, 20);
    let want = expected(&genesis);
    let my_coin = tag(MY_COIN_STORE);
    let holders: Vec<u32> = users_in_key_order(USERS).into_iter().filter(|n| n % 3 == 0).collect();
    assert_eq!(genesis.count(&my_coin), holders.len());
    // Nodes with different configured budgets, to be sure the instance does not depend on it.
    let (mut node, mut peer) = (Node::new(&genesis, 20), Node::new(&genesis, 7));
    let (mut only_my_coin_left, mut viewed_unreached) = (false, false);
    let mut height = 0;
    while !(node.hook.all_done() && peer.hook.all_done()) {
        height += 1;
        assert!(height < MAX_HEIGHT);
        assert_eq!(node.block(height), peer.block(height), "block {height}");
        assert_same_root(&node, &peer, height);
        let left = old_left(&node.store.inner);
        if node.hook.all_done() || peer.hook.all_done() {
            assert_eq!(left, [], "the window closed with values in the old layout");
        }
        if height < ACTIVATION {
            continue;
        }
        let my_coin_left: Vec<&AccountAddress> = left.iter().filter(|(t, _)| *t == my_coin).map(|(_, a)| a).collect();
        if !my_coin_left.is_empty() && left.iter().all(|(t, _)| *t == my_coin) {
            only_my_coin_left = true;
            assert!(
                !node.hook.all_done() && !peer.hook.all_done(),
                "done with {} MyCoin stores old",
                my_coin_left.len()
            );
        }
        // An RPC view of the last holder, whom the pass reaches last.
        let last = user(*holders.last().unwrap());
        let key = migrations::state_key::resource_key(&last, &my_coin);
        let before = node.root();
        let seen = node.hook.view_resource(&node.store, last, &my_coin).unwrap().unwrap();
        assert_eq!(Some(&seen), want.get(&key));
        assert!(is_new(&my_coin, &seen));
        assert_eq!(node.root(), before);
        if !reached(&node.store, "coin-store-7", &key) {
            viewed_unreached = true;
        }
    }
    assert!(only_my_coin_left, "some height had only MyCoin stores left, and the window stayed open");
    assert!(viewed_unreached);
    // A transaction's read of a MyCoin store mid-window migrates it alike: checked by a second
    // run in which both nodes read the last holder's store right after activation.
    let (mut node2, mut peer2) = (Node::new(&genesis, 20), Node::new(&genesis, 20));
    for height in 1..=ACTIVATION {
        assert_eq!(node2.block(height), peer2.block(height));
    }
    let tx = Tx::Read(*holders.last().unwrap(), Held::MyCoin);
    let a = execute(&mut node2.hook, &mut node2.store, &tx, ACTIVATION, &genesis).unwrap();
    let b = execute(&mut peer2.hook, &mut peer2.store, &tx, ACTIVATION, &genesis).unwrap();
    assert_eq!(a, b);
    assert_same_root(&node2, &peer2, ACTIVATION);
    assert_finished(&node, &peer, &want);
}

// ---------------------------------------------------------------------------------------------
// 7. A restart mid-window.

/// A node rebuilt from scratch (a new `Hook`, nothing but its store) at any point of the window
/// continues equal to its peer: its first block does the work the peer's does, no more, no less.
#[test]
fn a_node_rebuilt_from_its_store_mid_window_continues_equal_to_its_peer() {
    const USERS: u32 = 90;
    let genesis = genesis(USERS, 20);
    let want = expected(&genesis);
    let (mut node, mut peer) = (Node::new(&genesis, 20), Node::new(&genesis, 20));
    let restarts = [ACTIVATION - 1, ACTIVATION, ACTIVATION + 1, ACTIVATION + 3, ACTIVATION + 4];
    let mut restarted_before_last = false;
    let mut height = 0;
    while !(node.hook.all_done() && peer.hook.all_done()) {
        height += 1;
        assert!(height < MAX_HEIGHT);
        let theirs = peer.block(height);
        let before_last = peer.hook.all_done() && !restarted_before_last;
        if restarts.contains(&height) || before_last {
            restarted_before_last |= before_last;
            node.hook = hook(20);
            // Half the restarts load first (an operator's status command), half go straight on.
            if height % 2 == 0 {
                node.hook.load(&node.store).unwrap();
                assert_eq!(node.hook.status(), Some(&status_of(&node.store)));
                assert_eq!(node.hook.divergence(), []);
            }
        }
        assert_eq!(node.block(height), theirs, "block {height}");
        assert_same_root(&node, &peer, height);
    }
    assert!(restarted_before_last);
    // Rebuilt after the window: nothing left to do, nothing done.
    node.hook = hook(20);
    let before = node.root();
    assert!(node.block(height + 1).idle);
    assert!(node.hook.all_done());
    assert_eq!(node.root(), before);
    assert_finished(&node, &peer, &want);

    // A running node whose state is replaced under it by a later one (it fell behind and synced
    // its peer's state, or restored a later snapshot), told with `load`, continues equal to its
    // peer. Here the chain scheduled the release by governance after the node last ran a block:
    // its hook, idle with nothing scheduled, must see the schedule.
    let unscheduled = genesis_unscheduled(USERS);
    let (mut node, mut peer) = (Node::new(&unscheduled, 20), Node::new(&unscheduled, 20));
    assert!(node.block(1).idle && peer.block(1).idle);
    assert_same_root(&node, &peer, 1);
    assert!(peer.block(2).idle);
    peer.hook.schedule_at(&mut peer.store, NEW_RELEASE, ACTIVATION + 2).unwrap();
    node.store = Flaky::new(peer.store.inner.clone());
    node.hook.load(&node.store).unwrap();
    let mut height = 2;
    while !(node.hook.all_done() && peer.hook.all_done()) {
        height += 1;
        assert!(height < MAX_HEIGHT);
        assert_eq!(node.block(height), peer.block(height), "block {height}");
        assert_same_root(&node, &peer, height);
    }
    assert_eq!(status_of(&node.store).release(u64::from(NEW_RELEASE)).unwrap().activated_at, ACTIVATION + 2);
    assert_finished(&node, &peer, &expected(&unscheduled));
}

// ---------------------------------------------------------------------------------------------
// Any mix of the above: a property.

/// What happens to the faulty node in one block.
#[derive(Debug, Clone)]
enum Event {
    /// Nothing: the block, then its transactions, on the store.
    Clean,
    /// A store failure in the block (its call, how many of its kind pass first), the block run
    /// on the store (the prologue retried) or on an overlay committed at its end (the whole
    /// block executed again).
    Fault { op: Op, nth: u32, staged: bool },
    /// RPC views of these users after the block.
    View(Vec<u32>),
    /// The block run on an overlay and dropped first.
    Discard,
    /// This block and the next speculated on overlays and dropped first.
    DiscardTwo,
    /// The node rebuilt (a new hook) before the block.
    Restart,
    /// The node restarted with the edited catalogue before the block: it refuses; the operator
    /// restores the right one and the block runs.
    EditedRestart,
    /// The node falls behind: it runs neither this block nor the next ones up to this many,
    /// then syncs its peer's state under its running hook, tells it with `load`, and goes on.
    FallBehind(u64),
}

#[derive(Debug, Clone)]
struct Case {
    /// The budget the chain's genesis recorded.
    recorded: u64,
    /// The faulty node's configured budget.
    configured: u64,
    /// Per block: what happens to the faulty node, and the block's transactions (both nodes).
    blocks: Vec<(Event, Vec<Tx>)>,
}

const PROP_USERS: u32 = 60;

fn case_strategy() -> impl Strategy<Value = Case> {
    let held = prop_oneof![Just(Held::Account), Just(Held::Coin), Just(Held::MyCoin)];
    let who = (1..=PROP_USERS, held);
    let tx = prop_oneof![
        4 => who.clone().prop_map(|(n, h)| Tx::Read(n, h)),
        2 => who.clone().prop_map(|(n, h)| Tx::WriteNew(n, h)),
        2 => who.clone().prop_map(|(n, h)| Tx::WriteOld(n, h)),
        1 => who.prop_map(|(n, h)| Tx::Delete(n, h)),
        1 => (1u64..12).prop_map(Tx::SetBudget),
    ];
    let op = prop_oneof![Just(Op::Get), Just(Op::Scan), Just(Op::Apply)];
    let event = prop_oneof![
        5 => Just(Event::Clean),
        4 => (op, 0u32..3, any::<bool>()).prop_map(|(op, nth, staged)| Event::Fault { op, nth, staged }),
        2 => proptest::collection::vec(1..=PROP_USERS, 1..4).prop_map(Event::View),
        2 => Just(Event::Discard),
        1 => Just(Event::DiscardTwo),
        2 => Just(Event::Restart),
        1 => Just(Event::EditedRestart),
        1 => (1u64..5).prop_map(Event::FallBehind),
    ];
    let recorded = prop_oneof![Just(5u64), Just(9)];
    let tuned = prop_oneof![Just(None), Just(Some(1_000u64)), Just(Some(3))];
    let blocks = proptest::collection::vec((event, proptest::collection::vec(tx, 0..3)), 30..=60);
    (recorded, tuned, blocks).prop_map(|(recorded, tuned, blocks)| Case {
        recorded,
        configured: tuned.unwrap_or(recorded),
        blocks,
    })
}

/// What the property runs exercised, so that a generator that stopped producing a situation
/// fails the test instead of passing it vacuously.
#[derive(Debug, Default)]
struct Seen {
    local: Cell<u32>,
    refused: Cell<u32>,
    discarded: Cell<u32>,
    views: Cell<u32>,
    restarts: Cell<u32>,
    tuned: Cell<u32>,
    synced: Cell<u32>,
}

fn bump(c: &Cell<u32>) {
    c.set(c.get() + 1);
}

/// Executes block `height` (the prologue, then `txs`) on an overlay of the node's store and
/// commits it whole; a fault of the node's own comes back instead (nothing committed).
fn block_on_overlay(
    node: &mut Node,
    height: u64,
    txs: &[Tx],
    genesis: &InMemoryStore,
) -> Result<(BlockReport, Vec<String>), Fault> {
    let (report, outcomes, batch) = {
        let mut overlay = Staged::new(&node.store);
        let report = node.hook.maybe_migrate(&mut overlay, height).map_err(|e| e.fault())?;
        let outcomes = txs
            .iter()
            .map(|tx| execute(&mut node.hook, &mut overlay, tx, height, genesis))
            .collect::<Result<Vec<_>, _>>()?;
        (report, outcomes, overlay.into_batch())
    };
    node.store.apply(batch).map_err(|_| Fault::Local)?;
    Ok((report, outcomes))
}

/// The faulty node's block `height`, with what happens to it; checked against the peer's
/// report and transaction outcomes.
fn faulty_block(
    node: &mut Node,
    height: u64,
    (event, txs): &(Event, Vec<Tx>),
    genesis: &InMemoryStore,
    (theirs, their_outcomes): (BlockReport, &[String]),
    seen: &Seen,
) {
    match event {
        Event::Restart => {
            bump(&seen.restarts);
            node.hook = hook(node.configured);
        }
        Event::EditedRestart => {
            let before = node.root();
            let mut edited = hook_with(node.configured, edited_catalogue());
            assert_refuses_its_catalogue(&edited.maybe_migrate(&mut node.store, height).unwrap_err());
            assert_eq!(node.root(), before, "block {height}: the edited node wrote something");
            bump(&seen.refused);
            node.hook = hook(node.configured);
        }
        Event::Discard => {
            bump(&seen.discarded);
            let report = discard(node, height, txs, genesis);
            assert_eq!(report, theirs, "block {height}, discarded");
        }
        Event::DiscardTwo => {
            bump(&seen.discarded);
            let before = node.root();
            {
                let mut one = Staged::new(&node.store);
                assert_eq!(node.hook.maybe_migrate(&mut one, height).unwrap(), theirs);
                for tx in txs {
                    execute(&mut node.hook, &mut one, tx, height, genesis).unwrap();
                }
                let mut two = Staged::new(&one);
                node.hook.maybe_migrate(&mut two, height + 1).unwrap();
            }
            assert_eq!(node.root(), before);
        }
        Event::Clean | Event::View(_) | Event::Fault { .. } | Event::FallBehind(_) => {}
    }
    match *event {
        Event::Fault { op, nth, staged: true } => {
            node.store.arm(op, nth);
            let (report, outcomes) = match block_on_overlay(node, height, txs, genesis) {
                Ok(done) => done,
                Err(fault) => {
                    assert_eq!(fault, Fault::Local, "block {height}");
                    bump(&seen.local);
                    // The block again, whole, on a new overlay.
                    block_on_overlay(node, height, txs, genesis).unwrap()
                }
            };
            node.store.disarm();
            assert_eq!(report, theirs, "block {height}");
            assert_eq!(outcomes, their_outcomes, "block {height}");
        }
        _ => {
            let before = node.root();
            if let Event::Fault { op, nth, staged: false } = *event {
                node.store.arm(op, nth);
            }
            let report = match node.hook.maybe_migrate(&mut node.store, height) {
                Ok(report) => report,
                Err(e) => {
                    assert_eq!(e.fault(), Fault::Local, "block {height}: {e}");
                    assert_eq!(node.root(), before, "block {height}: a failed call applied something");
                    bump(&seen.local);
                    node.block(height)
                }
            };
            node.store.disarm();
            assert_eq!(report, theirs, "block {height}");
            let outcomes: Vec<String> =
                txs.iter().map(|tx| execute(&mut node.hook, &mut node.store, tx, height, genesis).unwrap()).collect();
            assert_eq!(outcomes, their_outcomes, "block {height}");
        }
    }
}

fn run_case(case: &Case, genesis: &InMemoryStore, want: &Entries, seen: &Seen) {
    let mut node = Node::new(genesis, case.configured);
    let mut peer = Node::new(genesis, case.recorded);
    if case.configured != case.recorded {
        bump(&seen.tuned);
    }
    // Keys a transaction deleted (and not written again since).
    let mut deleted: BTreeSet<Vec<u8>> = BTreeSet::new();
    let clean = (Event::Clean, Vec::new());
    // The node runs no block below this height, and syncs its peer's state at it.
    let mut behind_until = 0;
    for height in 1.. {
        let planned = case.blocks.get(height as usize - 1);
        if planned.is_none() && height > behind_until && node.hook.all_done() && peer.hook.all_done() {
            break;
        }
        assert!(height < 500, "the window never closed");
        let block = planned.unwrap_or(&clean);
        let synced = (height == behind_until).then(|| peer.store.inner.clone());
        let theirs = peer.block(height);
        let their_outcomes: Vec<String> =
            block.1.iter().map(|tx| execute(&mut peer.hook, &mut peer.store, tx, height, genesis).unwrap()).collect();
        for (tx, outcome) in block.1.iter().zip(&their_outcomes) {
            match (tx, outcome.as_str()) {
                (Tx::Delete(n, h), "deleted") => {
                    deleted.insert(migrations::state_key::resource_key(&user(*n), &h.tag()));
                }
                (Tx::WriteNew(n, h) | Tx::WriteOld(n, h), "written") => {
                    deleted.remove(&migrations::state_key::resource_key(&user(*n), &h.tag()));
                }
                _ => {}
            }
        }
        if height < behind_until {
            continue;
        }
        if let Some(state) = synced {
            bump(&seen.synced);
            node.store = Flaky::new(state);
            node.hook.load(&node.store).unwrap();
        }
        if let Event::FallBehind(blocks) = block.0 {
            behind_until = height + blocks;
            continue;
        }
        faulty_block(&mut node, height, block, genesis, (theirs, &their_outcomes), seen);
        assert_same_root(&node, &peer, height);
        if let Event::View(users) = &block.0 {
            let before = node.root();
            for &n in users {
                for held in [Held::Account, Held::Coin, Held::MyCoin] {
                    bump(&seen.views);
                    let t = held.tag();
                    let key = migrations::state_key::resource_key(&user(n), &t);
                    let ours = node.hook.view_resource(&node.store, user(n), &t).unwrap();
                    assert_eq!(ours, peer.hook.view_resource(&peer.store, user(n), &t).unwrap());
                    let wanted = if deleted.contains(&key) {
                        None
                    } else if peer.hook.activated_releases() == 1 {
                        want.get(&key).cloned()
                    } else {
                        genesis.get_key(&key).unwrap()
                    };
                    assert_eq!(ours, wanted, "block {height}: a view of user {n}'s {held:?}");
                }
            }
            assert_eq!(node.root(), before, "block {height}: a view moved the root");
        }
    }
    assert_eq!(node.root(), peer.root());
    for n in [&node, &peer] {
        assert!(n.hook.all_done());
        assert_eq!(old_left(&n.store.inner), []);
        assert_eq!(n.hook.second_pass(&n.store).unwrap(), []);
        let status = status_of(&n.store);
        assert!(status.in_progress().is_empty() && status.failures().is_empty(), "{:?}", status.failures());
    }
    let mut want = want.clone();
    want.retain(|k, _| !deleted.contains(k));
    assert_eq!(contents(&peer.store.inner), want, "the end state is one transform of genesis");
}

/// Random schedules of every situation above, for one node over 30 to 60 blocks (then until the
/// window closes), the other clean, with the same random transactions on both (reads, writes in
/// either layout, deletes, budgets set by governance): the roots are equal at every height the
/// faulty node ran (it may also fall behind and sync its peer's state under its running hook),
/// every failure is its `Fault::Local` (retried) or its refusal (`Fault::Node`, the edited
/// catalogue), and both end in one transform of genesis. Seeded: the same cases on every run.
#[test]
fn any_schedule_of_faults_keeps_the_roots_equal_or_stops_the_faulty_node() {
    let geneses: BTreeMap<u64, (InMemoryStore, Entries)> = [5, 9]
        .into_iter()
        .map(|recorded| {
            let g = genesis(PROP_USERS, recorded);
            let want = expected(&g);
            (recorded, (g, want))
        })
        .collect();
    let seen = Seen::default();
    let config = Config { cases: 24, failure_persistence: None, max_shrink_iters: 256, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[19; 32]));
    runner
        .run(&case_strategy(), |case| {
            let (genesis, want) = &geneses[&case.recorded];
            run_case(&case, genesis, want, &seen);
            Ok(())
        })
        .unwrap();
    for (what, count) in [
        ("local faults", &seen.local),
        ("refusals", &seen.refused),
        ("discards", &seen.discarded),
        ("views", &seen.views),
        ("restarts", &seen.restarts),
        ("tuned budgets", &seen.tuned),
        ("syncs", &seen.synced),
    ] {
        assert!(count.get() > 0, "no {what} in the cases: {seen:?}");
    }
}
