//! The block-prologue hook that runs framework migrations.
//!
//! A Move chain whose new framework release changes the layout of stored structs must rewrite
//! those values on every node, deterministically, without halting: this crate decides *when*
//! (the `migrations` crate knows *how*).
//! - [`hook`]: [`Hook::maybe_migrate`], called at the start of every block: activation at a
//!   release's height, system-account migrations in that block, user-account migrations in
//!   budgeted chunks with a cursor in state, failures quarantined or halted, never a panic;
//! - [`governance`]: the consensus writes that schedule a release and set what it runs with;
//! - [`config`]: the chain the hook runs in ([`ChainConfig`]: address width, status location,
//!   system accounts, default budget and limits), instead of constants;
//! - [`schedule`]: the releases' plans and catalogues, checked and ordered once;
//! - [`status`]: the on-chain status, where everything that decides a block's work is recorded;
//! - [`consensus`]: the chain's records against this node's configuration ([`Divergence`]);
//! - [`read`]: accesses during a migration window, as transactions make them (consensus writes)
//!   and as RPC serves them ([`Hook::view_resource`], a view);
//! - [`error`]: what went wrong, and what a node does about it ([`Fault`]);
//! - [`policy`]: the governance trait the node implements;
//! - [`staged`]: the store overlay that makes a block's work one atomic batch;
//! - [`mod@state_root`]: the root over the sorted state of any [`Store`](migrations::store::Store).
//!
//! # For node integrators
//!
//! One dependency: this crate re-exports the crates its API uses ([`migrations`],
//! [`binary_format`], [`upgrade_spec`]); the `toml` feature reads declaration files.
//!
//! **Your state.** Implement [`Store`](migrations::store::Store) over whatever holds it, keyed by
//! canonical state keys ([`migrations::state_key`]: a resource is `1 ++ BCS(struct tag) ++
//! account`, so every instance of a struct is one contiguous key range): `get_key`, `scan_keys`
//! (keys under a prefix, in byte order, strictly after a cursor that need not exist, at a cost
//! proportional to what it visits: the prologue pages through millions of values a chunk per
//! block), and `apply`, all or nothing (check every write with
//! [`WriteBatch::validate`](migrations::store::WriteBatch::validate) before changing anything).
//! The hook applies one batch per call; to commit the prologue with the block's transactions,
//! pass a [`Staged`] overlay and apply its [`into_batch`](Staged::into_batch) with the block.
//! Read a batch in `apply` with `into_writes()` and `next_entry()` (each key lent, each value
//! moved). Two optional calls make reads cheaper: `holds` (compare a value where it is held)
//! and `version` (a token that changes with every batch applied and that no other store gives:
//! while it is unchanged the hook does not compare the stored status at each access). A store
//! that cannot promise both properties of `version` leaves it at `None`.
//!
//! **What is consensus.** Two nodes compute the same state only from the same inputs, so every
//! input that changes the state comes from the chain, never from a node's own settings:
//! - *Recorded on chain when a release is scheduled*: the activation height, the budget a block
//!   may spend, the quarantine and value size limits, the id and checksum of every catalogue
//!   entry, and the checksum of the release's table list. A governance transaction carries the
//!   record ([`Hook::proposal`] on the proposer) and every node records exactly it
//!   ([`Hook::schedule_record`]); [`Hook::schedule`] and [`Hook::schedule_all`] record this
//!   node's own values, for a genesis built once and shared. [`Hook::schedule_at`] (moving a
//!   release), [`Hook::unschedule`] and [`Hook::set_budget`] carry their values too. Every node follows the recorded values; where
//!   its own configuration differs it says so ([`Hook::divergence`]) and still computes the
//!   chain's state. A node whose catalogue differs from the recorded checksums refuses to run
//!   ([`ConsensusError::Catalogue`]) rather than apply something else.
//! - *Configured alike on every node*: the [`ChainConfig`]'s address width, status key and system
//!   accounts, the catalogues (checked as above), and a [`Policy`] that answers from on-chain
//!   governance state.
//! - *Not listed anywhere*: which instantiations of a generic struct exist. Every instance met in
//!   state (by the pass or on access) is migrated with the plan derived for its type arguments,
//!   or recorded as a failure; the window closes only when none is left.
//!
//! **Which calls write consensus state, and which are views.**
//!
//! | call | writes | where |
//! |---|---|---|
//! | [`Hook::maybe_migrate`] | the prologue's migrations and the status | every block, before its transactions |
//! | [`Hook::schedule_record`], [`Hook::schedule_at`], [`Hook::unschedule`], [`Hook::set_budget`] | the status | a governance transaction |
//! | [`Hook::schedule`], [`Hook::schedule_all`] | the status | a genesis built once |
//! | [`Hook::read_key`], [`Hook::write_key`] | a group's or a table item's migration, the status | inside a transaction |
//! | [`Hook::read_resource`], [`Hook::write_resource`], [`Hook::write_resource_as`], [`Hook::delete_resource`] | the account's migration and the status | inside a transaction, on every node alike |
//! | [`Hook::view_resource`], [`Hook::view_key`], [`Hook::second_pass`], [`state_root()`] | nothing (`&self`, `&dyn Store`) | RPC, indexers, simulation, audits |
//! | [`Hook::status`], [`Hook::divergence`], [`Hook::migrations`], [`Hook::all_done`] | nothing | what this node last read |
//!
//! Serve reads that are not part of a block (RPC, an indexer, a simulation) with
//! [`Hook::view_resource`]: it returns the value in the active layout whether or not its account
//! was migrated yet, migrating in memory and writing nothing. A read through
//! [`Hook::read_resource`] migrates the account in state and changes the root: only a
//! transaction, executed by every node, may make it.
//!
//! **Every block.** Call [`Hook::maybe_migrate`] before the block's transactions with the block's
//! height. When nothing is due it returns at once (one compare, no store access); at a release's
//! height it activates the release and migrates the system accounts' values in that block;
//! afterwards it migrates user values in chunks within the recorded budget, the cursor in the
//! status so that a restarted node resumes. The hook never trusts its memory over your state: a
//! call for a block that is not after the last one it worked out (a discarded block, a restored
//! backup) or a status that is not the one it last wrote makes it read the status again (the
//! blocks after it that it found idle write nothing, so a store rolled back to one of them holds
//! the status it holds). The idle path
//! reads nothing, so when the state changes under a running hook other than through its calls
//! (a state sync, a snapshot of a later height restored), call [`Hook::load`] before the next
//! block.
//!
//! **When a call fails**, [`HookError::fault`] says what the node does; the call applied nothing:
//! - [`Fault::Local`] (the store failed, or blocks were skipped on this store): this node cannot
//!   produce or validate the block. Do not commit the block without the prologue's writes: retry
//!   it, or stop, as a node does on a disk error. Committing it would leave this node a chunk
//!   behind its peers, with another state root.
//! - [`Fault::Node`] (this node's configuration cannot follow the chain: another catalogue, a
//!   release it has no plan for): stop, fix the configuration, restart.
//! - [`Fault::Chain`] (the status in state does not decode, a governance request refused): the
//!   same on every node; the block goes on, and the prologue does nothing until it is repaired.
//!
//! A value that cannot be migrated is not an error: it is recorded in the status and quarantined
//! (its old bytes kept), identically on every node; a migration that fails too often halts and
//! waits for governance ([`Policy::on_halted`]).
//!
//! **During a window**, from a release's activation until its migrations complete, stored bytes
//! of a migrating struct may still be in the old layout. Route every transaction's read and write
//! of such a struct through the hook ([`Hook::migrations`] lists each migration's key range):
//! [`Hook::read_resource`] migrates the account first; [`Hook::write_resource`] and
//! [`Hook::delete_resource`] refuse writes to closed versions and, in place, record the key as
//! migrated so that the pass leaves it alone; [`Hook::write_resource_as`] also refuses bytes
//! encoded for a release older than an active in-place change. A write that bypasses the hook
//! leaves new bytes the status does not know of, which the pass would transform a second time.
//!
//! **Threads.** [`Hook`] is `Send + Sync` (policies must be too): build it once at start, keep it
//! behind a lock, call it from the block-execution thread; views take `&self`.
//!
//! The example below is a whole upgrade, and copies into a crate of its own with one dependency
//! line (`vm-hooks`, feature `toml`) and the fixture folder: a 32-byte chain whose framework at
//! `0x1` changes three stored structs in place, read from the committed release folders
//! (`devchain/fixtures/framework`), a node state of its own, the release scheduled at genesis, and
//! two nodes, one configured with another budget, crossing the window block by block with equal
//! state roots; an RPC read through the view meanwhile.
//!

#![doc = concat!("```\n", include_str!("../examples/integrator.rs"), "\n```")]
#![deny(missing_docs)]

pub mod ahead_keys;
pub mod config;
pub mod consensus;
pub mod error;
pub mod governance;
pub mod hook;
pub mod policy;
pub mod read;
pub mod schedule;
pub mod staged;
pub mod state_root;
pub mod status;

pub use binary_format;
pub use migrations;
pub use upgrade_spec;

pub use config::{Budget, ChainConfig, ConfigError};
pub use consensus::Divergence;
pub use error::GovernanceError;
pub use error::{ConsensusError, Fault, HookError};
pub use hook::{reserved_status_key, BlockReport, Hook, PlannedMigration};
pub use policy::{AllowAll, Decision, HaltedMigration, Policy};
pub use read::AccessError;
pub use schedule::{tables_checksum, HookConfig, ReleasePlan, ScheduleError};
pub use staged::Staged;
pub use state_root::{ends_page, state_root, BadStateRoot, Pages, RootHasher, StateRoot};
pub use status::{Completed, Cursor, Failure, InProgress, ReleaseRecord, Status, StatusError};

#[cfg(test)]
mod send_sync {
    /// A node keeps the hook behind a lock and calls it from any thread.
    #[test]
    fn the_hook_is_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<crate::Hook>();
    }
}
