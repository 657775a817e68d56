//! The block-prologue hook that runs stdlib migrations.
//!
//! A Move chain whose new stdlib release changes the layout of stored structs must rewrite
//! those resources on every node, deterministically, without halting: this crate decides
//! *when* (the `migrations` crate knows *how*).
//! - [`hook`]: [`Hook::maybe_migrate`], called at the start of every block: activation at a
//!   release's height, system-account migrations in that block, user-account migrations in
//!   budgeted chunks with a cursor in state, failures quarantined or halted, never a panic;
//! - [`config`]: the chain the hook runs in ([`ChainConfig`]: address width, status location,
//!   system accounts, budget), instead of constants;
//! - [`schedule`]: the schedule built once from the releases' catalogues and the config;
//! - [`status`]: the on-chain status (`0x1::Migrations::Status` at 0x0 for this stdlib);
//! - [`read`]: migrate-on-read during the window, writes to closed versions refused;
//! - [`policy`]: the governance trait the node implements;
//! - [`staged`]: the store overlay that makes a block's work one atomic batch;
//! - [`persistent`]: [`RedbStore`], the store on redb, one commit per batch;
//! - [`mod@state_root`]: the SHA-256 root over the sorted state of any backend.
//!
//! # For node integrators
//!
//! A node embeds the hook in four steps: give it your state through [`migrations::store::Store`],
//! configure the chain and the releases (all of it consensus), call [`Hook::maybe_migrate`] at the
//! start of every block, and route accesses to migrating structs through the hook while a
//! migration window is open.
//!
//! **Your state.** Implement [`Store`](migrations::store::Store) over whatever holds resources:
//! `get` one resource by (account, struct tag); `scan` up to `limit` accounts holding a tag, in
//! address order ([`AccountAddress`](migrations::AccountAddress)'s `Ord`, bytewise within the
//! chain's width), starting *after* a cursor that need not exist, at a cost proportional to what
//! it returns (the prologue pages through millions of accounts a chunk per block); `apply` a
//! [`WriteBatch`](migrations::store::WriteBatch) all or nothing (check every write with
//! [`WriteBatch::validate`](migrations::store::WriteBatch::validate) before changing anything).
//! The hook applies one batch per call. To commit the prologue together with the block's
//! transactions, pass a [`Staged`] overlay of your state and apply its
//! [`into_batch`](Staged::into_batch) with the block.
//!
//! **Consensus configuration.** Every node must be configured alike, or nodes compute
//! different states: the [`ChainConfig`] (address width, where the status lives, the system
//! accounts, the budget, the quarantine limit), the [`ReleasePlan`]s (each release's number,
//! activation height and catalogue, whose entries' checksums are recorded on chain and checked
//! at every start), the stored instances of generic structs ([`HookConfig::instances`]: a store
//! cannot list them, so you say which exist), and a [`Policy`] that answers from on-chain
//! governance state. The budget is the one a node might tune locally: it is recorded in the
//! status when a release activates, and from then on every node follows the recorded value;
//! [`Hook::budget_mismatch`] lists where this node's configuration disagrees, so that an
//! operator can fix it. Build the status tag from a name no module of the chain declares.
//!
//! **Every block.** Call [`Hook::maybe_migrate`] before the block's transactions with the block's
//! height. When nothing is due it returns at once (one compare); at a release's height it
//! activates the release and migrates the system accounts' resources in that block; afterwards it
//! migrates user accounts in chunks within the budget, the cursor kept in the status so that a
//! restarted node resumes. A failed call (a [`HookError`]) has applied nothing and is redone by
//! the next call: do not halt the chain on it. The hook keeps the status it last wrote in memory:
//! if your node discards a block after its prologue ran (a failed commit, a block not
//! finalized), build the hook again so that it reads the status from your state.
//!
//! **During a window.** From a release's activation until its migrations complete, stored bytes
//! of a migrating tag may still be in the old layout. Route every read and write of such a tag,
//! by transactions and system operations alike, through the hook: [`Hook::read_resource`]
//! migrates the account first if the pass has not reached it (and returns the new bytes);
//! [`Hook::write_resource`] and [`Hook::delete_resource`] refuse writes to closed versions and,
//! in place, record the key as new so that the pass leaves it alone; [`Hook::write_resource_as`]
//! also refuses bytes encoded for a release older than an active in-place change. A write that
//! bypasses the hook leaves new bytes the status does not know of, which the pass would then
//! transform a second time. [`Hook::migrations`] lists the tags each migration reads and writes.
//!
//! **Threads.** [`Hook`] is `Send + Sync` (policies must be too): build it once at start, keep it
//! behind a lock, and call it from the block-execution thread. Its calls take `&mut self`.
//!
//! The example below is a whole upgrade: a 32-byte chain whose framework at `0x1` changes three
//! stored structs in place (devchain's `framework`), a node state of its own, the two releases
//! loaded from disk, and the window crossed block by block.
//!
//! ```
//! use binary_format::Module;
//! use migrations::catalogue::Catalogue;
//! use migrations::handlers::Handlers;
//! use migrations::store::{Store, StoreError, Write, WriteBatch, DEFAULT_MAX_VALUE_SIZE};
//! use migrations::{AccountAddress, ReleaseIndex, StructTag, TypeTag, Value};
//! use std::collections::BTreeMap;
//! use std::ops::Bound;
//! use upgrade_spec::registry::ReleaseName;
//! use releases::{load, LoadOptions};
//! use vm_hooks::{AllowAll, Budget, ChainConfig, Hook, HookConfig, ReleasePlan};
//!
//! /// The node's own state: resources by (struct tag, account), so that the accounts holding
//! /// one tag are a contiguous range in address order.
//! #[derive(Default)]
//! struct NodeState {
//!     resources: BTreeMap<(StructTag, AccountAddress), Vec<u8>>,
//! }
//!
//! impl Store for NodeState {
//!     fn get(&self, account: &AccountAddress, tag: &StructTag) -> Result<Option<Vec<u8>>, StoreError> {
//!         Ok(self.resources.get(&(tag.clone(), *account)).cloned())
//!     }
//!
//!     fn scan(
//!         &self,
//!         tag: &StructTag,
//!         after: Option<&AccountAddress>,
//!         limit: usize,
//!     ) -> Result<Vec<(AccountAddress, Vec<u8>)>, StoreError> {
//!         // Strictly after the cursor (which need not be held); from the lowest address of the
//!         // chain's width without one. One range read: cost follows what is returned.
//!         let start = match after {
//!             Some(a) => Bound::Excluded((tag.clone(), *a)),
//!             None => Bound::Included((tag.clone(), AccountAddress::zero(tag.address.width()))),
//!         };
//!         Ok(self
//!             .resources
//!             .range((start, Bound::Unbounded))
//!             .take_while(|((t, _), _)| t == tag)
//!             .take(limit)
//!             .map(|((_, account), bytes)| (*account, bytes.clone()))
//!             .collect())
//!     }
//!
//!     fn apply(&mut self, batch: WriteBatch) -> Result<(), StoreError> {
//!         // All or nothing: check every write first; past this line nothing can fail.
//!         batch.validate(DEFAULT_MAX_VALUE_SIZE)?;
//!         for (tag, group) in batch.into_groups() {
//!             for (account, write) in group {
//!                 match write {
//!                     Write::Put(bytes) => self.resources.insert((tag.clone(), account), bytes),
//!                     Write::Delete => self.resources.remove(&(tag.clone(), account)),
//!                 };
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use devchain::framework;
//!
//! // Two releases as a release engineer has them: folders of `.mv` files.
//! let releases = tempfile::tempdir()?;
//! let [old_files, new_files] = framework::release_files()?;
//! for (name, files) in [(framework::OLD_NAME, old_files), (framework::NEW_NAME, new_files)] {
//!     let folder = releases.path().join(name);
//!     std::fs::create_dir_all(&folder)?;
//!     for (file, bytes) in files {
//!         std::fs::write(folder.join(file), bytes)?;
//!     }
//! }
//! let old = load(&releases.path().join(framework::OLD_NAME), LoadOptions::default())?;
//! let new = load(&releases.path().join(framework::NEW_NAME), LoadOptions::default())?;
//! assert!(old.is_complete() && new.is_complete(), "a module that does not read is reported");
//! let width = new.address_length; // decided from the modules: 32 bytes
//!
//! // The catalogue: one entry per stored struct that changes, checked against both releases.
//! // Declarations name the release as the checker does (its folder name, here "7.0.0").
//! let old_modules: Vec<&Module> = old.modules.iter().map(|m| &m.module).collect();
//! let new_modules: Vec<&Module> = new.modules.iter().map(|m| &m.module).collect();
//! let catalogue = Catalogue::build(
//!     &old_modules,
//!     &new_modules,
//!     &upgrade_spec::ReleaseLabel::new(framework::NEW_NAME)?,
//!     &framework::declarations()?,
//!     None,              // no versioned-address registry: every change is in place
//!     &Handlers::new(),  // register hand-written transforms here; these are all derived
//!     width,
//! )
//! .map_err(|problems| format!("{problems:?}"))?;
//!
//! // The chain (consensus): its width, the status at 0x1 under a tag no module declares,
//! // 0x1 the one system account, and the budget every node records at activation.
//! let framework_account = AccountAddress::from_u64(1, width);
//! let status_tag = StructTag::parse("0x1::migration_hook::Status", width)?;
//! let chain = ChainConfig::new(width, framework_account, status_tag, [framework_account])?
//!     .with_budget(Budget { max_resources: 60, max_bytes: 1 << 20 });
//! // `CoinStore<phantom T>` is stored once per coin type: say which exist.
//! let mut config = HookConfig::new(chain);
//! let coin = StructTag::parse("0x1::aptos_coin::AptosCoin", width)?;
//! config.instances.insert("coin-store-7".to_owned(), vec![vec![TypeTag::Struct(Box::new(coin))]]);
//! const ACTIVATION: u64 = 3;
//! let plan = ReleasePlan::new(ReleaseName::new(7), ACTIVATION, catalogue);
//! let mut hook = Hook::new(vec![plan], config, Box::new(AllowAll))?;
//! fn shared<T: Send + Sync>(_: &T) {}
//! shared(&hook); // a node may keep it behind a lock
//!
//! // Genesis on the old release: the framework's config at 0x1, an account and a coin store
//! // in each of 100 user accounts.
//! let mut state = NodeState::default();
//! let mut batch = WriteBatch::new();
//! for (tag, account, bytes) in framework::genesis(100)?.iter() {
//!     batch.put(*account, tag.clone(), bytes.to_vec());
//! }
//! state.apply(batch)?;
//!
//! // The user the pass reaches last, and the layouts it is read with.
//! let last_user = (1..=100).map(framework::user).max().ok_or("no users")?;
//! let account_tag = StructTag::parse(framework::ACCOUNT, width)?;
//! let new_index = ReleaseIndex::new(new_modules.iter().copied(), width)?;
//! let new_layout = new_index.layout_of_struct_tag(&account_tag)?;
//!
//! let mut height = 1;
//! while !hook.all_done() {
//!     let report = hook.maybe_migrate(&mut state, height)?;
//!     if height < ACTIVATION {
//!         assert!(report.idle);
//!     }
//!     if height == ACTIVATION {
//!         // The system part is done in the activation block; users are in chunks.
//!         assert_eq!((report.activated, report.system_resources), (1, 1));
//!         assert!(report.resources <= 60);
//!         // The window is open: the last user's account still holds old bytes...
//!         let stored = state.get(&last_user, &account_tag)?.ok_or("no account")?;
//!         assert!(migrations::decode(&stored, &new_layout).is_err());
//!         // ...and a transaction reading it through the hook gets the new layout, with the
//!         // declared default in the new field. The pass will pass over it.
//!         let read = hook.read_resource(&mut state, last_user, &account_tag)?.ok_or("no account")?;
//!         let value = migrations::decode(&read, &new_layout)?;
//!         assert_eq!(value.fields().and_then(|f| f.get(2)), Some(&Value::U64(0)));
//!     }
//!     // ... then the block's transactions, their accesses to migrating tags through the hook.
//!     height += 1;
//! }
//! assert!(height > ACTIVATION + 2, "200 user resources at 60 a block take several blocks");
//! let status = hook.status().ok_or("no status")?;
//! assert_eq!(status.completed().len(), 3);
//! assert!(status.failures().is_empty() && hook.budget_mismatch().is_empty());
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod config;
pub mod hook;
pub mod persistent;
pub mod policy;
pub mod read;
pub mod schedule;
pub mod staged;
pub mod state_root;
pub mod status;

pub use config::{Budget, ChainConfig, ConfigError};
pub use hook::{BlockReport, Hook, HookError, PlannedMigration};
pub use persistent::{RedbOptions, RedbStore};
pub use policy::{AllowAll, Decision, HaltedMigration, Policy};
pub use read::AccessError;
pub use schedule::{HookConfig, ReleasePlan, ScheduleError};
pub use staged::Staged;
pub use state_root::{state_root, BadStateRoot, RootHasher, SortedState, StateRoot};
pub use status::{Activation, Completed, Cursor, Failure, InProgress, Status, StatusError};

#[cfg(test)]
mod send_sync {
    /// A node keeps the hook behind a lock and calls it from any thread.
    #[test]
    fn the_hook_is_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<crate::Hook>();
        both::<crate::RedbStore>();
    }
}
