//! Rehearse an upgrade on a chain's real state before it ships.
//!
//! - [`state`]: the state inputs (our snapshot, JSON Lines, Diem/Libra backups), streamed
//!   behind one interface;
//! - [`snapshot`]: our own snapshot file (the devnet's export and import), read and written here
//!   so that the rehearsal can take one in and give one out without depending on the devnet;
//! - [`durable`]: a directory synced so that what is renamed into it survives.

pub mod durable;
pub mod snapshot;
pub mod state;
