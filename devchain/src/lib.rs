//! A synthetic chain on the embedded stdlib, for the devnet, integration tests and benches.
//!
//! A node integrator wants to see the hook work on a chain that looks like theirs before they
//! trust it: genesis on stdlib v1 with many accounts holding every user resource with varied
//! values, and the embedded releases' catalogues scheduled at chosen heights.
//! - [`mod@plans`]: the embedded releases as the hook runs them (what the devnet runs);
//! - [`mod@genesis`]: the chain's first state;
//! - [`drills`]: damage done on purpose (corrupt accounts), kept apart from the above;
//! - [`framework`]: a second chain, shaped like an Aptos-based framework (32-byte addresses,
//!   modules at `0x1`, structs changed in place);
//! - [`objects`]: a third, with resource groups (objects) and tables, each holding a struct that
//!   changes in place;
//! - `support` (feature `test-support`): helpers that tests and benches share.
//!
//! Not part of what a node compiles: `vm-hooks` does not depend on it.

pub mod drills;
pub mod error;
pub mod framework;
pub mod genesis;
pub mod handlers;
pub mod objects;
pub mod plans;
#[cfg(feature = "test-support")]
pub mod support;

pub use error::DevchainError;
pub use genesis::{account, balance_of, locked_of, pending_of, Genesis, GenesisCounts, GENESIS_TAGS};
pub use handlers::handlers;
pub use plans::{
    catalogue, chain_config, config, plans, plans_with, release_modules, releases, BALANCE_V1, BALANCE_V2, GAS,
    STATUS_TAG, WIDTH,
};
