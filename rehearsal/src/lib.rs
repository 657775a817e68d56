//! Rehearse an upgrade on a chain's real state before it ships.
//!
//! - [`rehearse()`]: the rehearsal itself, a library call (the CLI is
//!   `compat-checker rehearse`), and its [`Report`];
//! - [`state`]: the state inputs (our snapshot, JSON Lines, Diem/Libra backups), streamed
//!   behind one interface;
//! - [`snapshot`]: our own snapshot file (the devnet's export and import), read and written here
//!   so that the rehearsal can take one in and give one out without depending on the devnet.

pub mod error;
pub mod rehearse;
pub mod snapshot;
pub mod state;

pub use error::RehearsalError;
pub use rehearse::{rehearse, Options, Progress, Report, Silent, Verdict};
