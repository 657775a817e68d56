//! Rehearse an upgrade on a chain's real state before it ships.
//!
//! - [`rehearse()`]: the rehearsal itself, a library call (the CLI is
//!   `compat-checker rehearse`), and its [`Report`];
//! - [`state`]: the state inputs (our snapshot, JSON Lines, Diem/Libra and Aptos-based
//!   backups), streamed behind one interface;
//!
//! Snapshots (our own state file, the devnet's too) are the `snapshot` crate's: the rehearsal
//! reads one in place, sorts any other source into one, and writes one with `--out`.

pub mod error;
pub mod rehearse;
pub mod state;

pub use error::RehearsalError;
pub use rehearse::{rehearse, Options, Progress, Report, Silent, Verdict};
