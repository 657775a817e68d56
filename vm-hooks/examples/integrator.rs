//! A whole upgrade as a node integrator embeds it, with one dependency (`vm-hooks`, feature
//! `toml`): a 32-byte chain whose framework at `0x1` changes three stored structs in place, read
//! from the committed release folders, a node state of its own, the release scheduled at
//! genesis, and two nodes (one configured with another budget) crossing the window block by
//! block with equal state roots; an RPC read through the view meanwhile.
//!
//! `cargo run -p vm-hooks --example integrator`; the crate docs show it whole,
//! and CI builds it in a fresh crate of its own.

use std::collections::BTreeMap;
use std::path::Path;
use vm_hooks::binary_format::{read_module, AddressLength, Module};
use vm_hooks::migrations::catalogue::Catalogue;
use vm_hooks::migrations::state_key::ScanRange;
use vm_hooks::migrations::store::{Store, StoreError, Write, WriteBatch, DEFAULT_MAX_VALUE_SIZE};
use vm_hooks::migrations::{decode, encode, AccountAddress, ReleaseIndex, StructTag, Value};
use vm_hooks::upgrade_spec::{Declarations, ReleaseId, ReleaseLabel};
use vm_hooks::{state_root, AllowAll, Budget, ChainConfig, Hook, HookConfig, ReleasePlan};

/// The node's own state: values by canonical key, so that a struct's instances are one
/// contiguous range.
#[derive(Default, Clone)]
struct NodeState {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Store for NodeState {
    fn get_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.entries.get(key).cloned())
    }

    fn scan_keys(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        // Strictly after the cursor (which need not be held), else from the prefix, to the
        // prefix's end: one range read, whose cost follows what it visits.
        for (key, value) in self.entries.range::<[u8], _>(ScanRange::new(prefix, after).bounds()) {
            if !visit(key, value) {
                break;
            }
        }
        Ok(())
    }

    fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
        // All or nothing: check every write first; past this line nothing can fail.
        batch.validate(DEFAULT_MAX_VALUE_SIZE)?;
        let mut writes = batch.into_writes();
        while let Some((key, write)) = writes.next_entry() {
            match write {
                Write::Put(value) => self.entries.insert(key.to_vec(), value),
                Write::Delete => self.entries.remove(key),
            };
        }
        Ok(())
    }
}

/// A release as a release engineer has it: a folder of `.mv` files.
fn release(dir: &Path, width: AddressLength) -> Result<Vec<Module>, Box<dyn std::error::Error>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    files.sort_by_key(|f| f.file_name());
    let mut modules = Vec::new();
    for file in files.iter().filter(|f| f.path().extension().is_some_and(|e| e == "mv")) {
        modules.push(read_module(&std::fs::read(file.path())?, width)?);
    }
    Ok(modules)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The committed fixture folders (`devchain/fixtures/framework`): copy them beside a crate of
    // your own and point `VM_HOOKS_FIXTURES` at them.
    let fixtures = std::env::var_os("VM_HOOKS_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../devchain/fixtures/framework"));
    let width = AddressLength::Bytes32;
    let (old, new) = (release(&fixtures.join("6.9.9"), width)?, release(&fixtures.join("7.0.0"), width)?);
    let old: Vec<&Module> = old.iter().collect();
    let new: Vec<&Module> = new.iter().collect();

    // The catalogue: one entry per stored struct that changes, checked against both releases.
    // Declarations name the release as the checker does (its folder name).
    let label = ReleaseLabel::new("7.0.0")?;
    let declarations = Declarations::load(&fixtures.join("migrations.toml"))?;
    let catalogue = Catalogue::builder(&old, &new, &label, width).declarations(&declarations).build()?;

    // The chain: its width, the status at 0x1 under a tag no module declares, 0x1 the one system
    // account, and the budget this node would schedule a release with.
    let framework = AccountAddress::from_u64(1, width);
    let status_tag = StructTag::parse("0x1::migration_hook::Status", width)?;
    let chain = ChainConfig::new(width, framework, status_tag, [framework])?
        .with_budget(Budget { max_resources: 60, max_bytes: 1 << 20 });
    const ACTIVATION: u64 = 3;
    let plan = || ReleasePlan::new(ReleaseId::new(7, label.clone()), ACTIVATION, catalogue.clone());
    let mut node = Hook::new(vec![plan()], HookConfig::new(chain.clone()), Box::new(AllowAll))?;
    // A peer whose operator tuned the budget locally: it follows the chain's all the same.
    let tuned = chain.clone().with_budget(Budget { max_resources: 1_000, max_bytes: 1 << 20 });
    let mut peer = Hook::new(vec![plan()], HookConfig::new(tuned), Box::new(AllowAll))?;

    // Genesis on the old release: the governance config at 0x1; in each of 100 users an account
    // and a coin store, of two coins (nobody lists a generic struct's instances).
    let index = ReleaseIndex::new(old.iter().copied(), width)?;
    let mut genesis = WriteBatch::new();
    let mut put = |account: AccountAddress, tag: &str, value: Value| -> Result<(), Box<dyn std::error::Error>> {
        let tag = StructTag::parse(tag, width)?;
        genesis.put(account, tag.clone(), encode(&value, &index.layout_of_struct_tag(&tag)?)?);
        Ok(())
    };
    let governance = Value::Struct(vec![Value::U128(51), Value::U64(1_000), Value::U64(7_200)]);
    put(framework, "0x1::governance::GovernanceConfig", governance)?;
    let user = |n: u64| AccountAddress::from_u64(0x1000 + n, width);
    for n in 1..=100 {
        let key = Value::Vector(vec![Value::U8(n as u8); 32]);
        put(user(n), "0x1::account::Account", Value::Struct(vec![key, Value::U64(n)]))?;
        let coin = if n % 2 == 0 { "0x1::aptos_coin::AptosCoin" } else { "0xcafe::my_coin::MyCoin" };
        let store = Value::Struct(vec![Value::Struct(vec![Value::U64(n * 1_000)]), Value::Bool(false)]);
        put(user(n), &format!("0x1::coin::CoinStore<{coin}>"), store)?;
    }
    let mut state = NodeState::default();
    state.apply(genesis)?;
    // The chain's genesis schedules the release: recorded in state, followed by every node.
    node.schedule_all(&mut state)?;
    let mut peer_state = state.clone();

    let account_tag = StructTag::parse("0x1::account::Account", width)?;
    let new_layout = ReleaseIndex::new(new.iter().copied(), width)?.layout_of_struct_tag(&account_tag)?;
    let mut height = 1;
    while !node.all_done() {
        // A failed call applied nothing: on `Fault::Local` the node does not commit this block.
        let report = node.maybe_migrate(&mut state, height)?;
        peer.maybe_migrate(&mut peer_state, height)?;
        if height == ACTIVATION {
            assert_eq!((report.activated, report.system_resources), (1, 1));
            // An RPC read of the user the pass reaches last: the new layout, with the declared
            // default in the new field, and nothing written.
            let last = (1..=100).map(user).max().ok_or("no users")?;
            let root = state_root(&state)?;
            let seen = node.view_resource(&state, last, &account_tag)?.ok_or("no account")?;
            let value = decode(&seen, &new_layout)?;
            assert_eq!(value.fields().and_then(|f| f.get(2)), Some(&Value::U64(0)));
            assert_eq!(state_root(&state)?, root, "a view changes nothing");
        }
        // ... then the block's transactions, their accesses to migrating structs through the hook.
        assert_eq!(state_root(&state)?, state_root(&peer_state)?, "block {height}");
        height += 1;
    }
    assert!(height > ACTIVATION + 2, "200 user values at 60 a block take several blocks");
    let status = node.status().ok_or("no status")?;
    assert_eq!(status.completed().len(), 3);
    assert!(status.failures().is_empty());
    assert!(node.divergence().is_empty() && !peer.divergence().is_empty(), "the peer says its budget differs");
    Ok(())
}
