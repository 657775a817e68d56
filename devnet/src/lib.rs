//! The devnet: a node simulator and an upgrade runbook on the embedded stdlib.
//!
//! Operators see the whole upgrade work on their machine before they trust it on a live
//! network: a chain on the persistent store with many accounts, blocks with transactions,
//! releases activated at heights and migrated by the prologue hook under a budget, then a
//! summary they can compare between runs.
//! - [`manifest`]: the chain's parameters and schedule, kept in its store;
//! - [`limits`]: every bound on what a chain may be asked (accounts, a block's load, heights);
//! - [`chain_store`]: the store and its height, on disk or in memory;
//! - [`data_dir`]: the data directory, written by one process at a time, and what killed
//!   commands left in it;
//! - [`node`]: block production (prologue, transfers, commit) and its figures ([`node::Tally`]);
//! - [`transactions`]: the blocks' transactions (transfers, vouches), refused for quiesced modules;
//! - [`census`] and [`coin`]: counts, supply and decodability of the state;
//! - [`run`]: `devnet run`: a new chain or the one in the data directory taken up, then blocks;
//! - [`runbook`]: `upgrade --to vN`, step by step, with backup and rollback;
//! - [`snapshot`]: the self-describing, checksummed snapshot file (the `snapshot` crate,
//!   re-exported here);
//! - [`drill`]: aborts at named points, for crash tests;
//! - [`summary`]: what a run reports;
//! - [`view`]: what `status` shows while a node holds the store, published by that node.

pub mod census;
pub mod chain_store;
pub mod coin;
pub mod data_dir;
pub mod drill;
pub mod error;
pub mod journal;
pub mod limits;
pub mod manifest;
pub mod node;
pub mod run;
pub mod runbook;
pub use snapshot;
pub mod summary;
pub mod transactions;
pub mod view;

pub use error::DevnetError;
