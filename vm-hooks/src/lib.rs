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
pub use persistent::RedbStore;
pub use policy::{AllowAll, Decision, HaltedMigration, Policy};
pub use read::AccessError;
pub use schedule::{HookConfig, ReleasePlan, ScheduleError};
pub use staged::Staged;
pub use state_root::{state_root, BadStateRoot, RootHasher, SortedState, StateRoot};
pub use status::{Activation, Completed, Cursor, Failure, InProgress, Status, StatusError, STATUS_TAG};

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
