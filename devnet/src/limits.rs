//! Every bound on what an operator may ask of a chain, in one place, with why.
//!
//! A setting is checked against these before anything is written ([`crate::manifest`]), and a
//! stored setting beyond them (kept by an older devnet) is refused with the command that changes
//! it back, never silently used: a block that carries too much stalls the node for minutes.
//! The figures come from a block measured on a 2-core machine (release build): 100,000 transfers
//! and their 25,000 vouches take about 0.7 s; a prologue migrating 10,000 resources about 15 ms.

/// Accounts at genesis: 10 times the million the devnet is measured with (a 5 GB store, about
/// 90 s of genesis). Checked when a chain is made; a chain made bigger by an older devnet runs.
pub const MAX_ACCOUNTS: u32 = 10_000_000;

/// Coin transfers per block (each brings a quarter as many vouches): 100,000 transfers are
/// 125,000 transactions, about a second of block time; ten times more stalled a node for minutes.
pub const MAX_TRANSFERS_PER_BLOCK: u32 = 100_000;

/// Resources the prologue migrates per block: a block stages all of them in memory before it
/// commits; 1,000,000 is about 1.5 s of prologue and a few hundred MB.
pub const MAX_BUDGET_RESOURCES: u64 = 1_000_000;

/// Bytes (read plus written) the prologue migrates per block: staged in memory too.
pub const MAX_BUDGET_BYTES: u64 = 256 << 20;

/// The highest height a chain may reach or schedule a release at: the snapshot format's bound
/// (a block a second gets there in 34,000 years), so that every chain a devnet makes can be
/// exported, and every height computed from it (the next block, a release scheduled after it, a
/// run's reach) stays far below `u64::MAX` and exact in JSON readers that use doubles.
pub use snapshot::MAX_HEIGHT;

/// Blocks one run may be asked to produce (activation heights, `--blocks`, `--until-height`):
/// a typo of a few digits would otherwise keep the node producing idle blocks for days.
pub const MAX_BLOCKS_AHEAD: u64 = 1_000_000;

/// The largest snapshot file read: the snapshot format's bound, 1 TiB, far above a
/// 10,000,000-account chain (about 1 GB).
pub use snapshot::MAX_SNAPSHOT_BYTES;

/// The store's page cache of a node (`--cache-mb`), in MiB: what `run`, `upgrade` and `snapshot`
/// keep of the store's file in memory. A node reads the pages of the keys its blocks touch and
/// the upper levels of the tree; 64 MiB keeps those warm at 3,000,000 accounts as at 100,000,
/// where redb's own default (1 GiB) let a node grow with its state (521 MB at 1,000,000
/// accounts, 1.1 GB at 3,000,000).
pub const DEFAULT_CACHE_MB: usize = 64;

/// The page cache `status` opens the store with, in MiB: it reads each page once (the integrity
/// check, then the state root), so a cache saves it nothing.
pub const STATUS_CACHE_MB: usize = 8;

/// The largest `--cache-mb`: 64 GiB, more than a devnet's store file at [`MAX_ACCOUNTS`].
pub const MAX_CACHE_MB: usize = 64 << 10;
