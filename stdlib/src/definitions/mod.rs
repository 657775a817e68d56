//! The stdlib's modules, release by release, written in the canonical text form of
//! `binary_format::text` and built into bytecode with the `binary-format` writer.
//!
//! Each module version is written once and shared by every release that contains it, so an old
//! version is byte-identical in every later release: old versions stay published, closed, for
//! reads and for migration. Addresses follow `stdlib/registry.toml`.
//!
//! What the releases exercise (see each file):
//! - v1: the genesis stdlib, every module at `0x1`;
//! - v2: a system struct breaks (`Epoch`: field added), a user struct breaks (`Coin`: field
//!   widened, carried into `Balance`), a dependent is republished (`Stake` embeds `Coin`), a field
//!   is only renamed (`Wallet`), compatible additions (`Vouch`: new struct and function), and an
//!   upstream module re-imports the new version (`Reconfigure`);
//! - v3: a struct that depends on one versioned in v2 breaks with a value computed from two old
//!   fields (`Stake`), a field is removed (`Vouch`), two fields are reordered (`Wallet`).

mod v1;
mod v2;
mod v3;

/// The releases, oldest first: each a list of module texts.
pub const RELEASES: [&[&str]; 3] = [v1::MODULES, v2::MODULES, v3::MODULES];

/// Release names, as the registry writes them.
pub const RELEASE_NAMES: [&str; 3] = ["v1", "v2", "v3"];
