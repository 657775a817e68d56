//! What a rehearsal is asked to do.

use crate::state::OpenOptions;
use binary_format::{Address, AddressLength};
use migrations::handlers::Handlers;
use std::path::PathBuf;
use vm_hooks::Budget;

/// The options of [`rehearse`](super::rehearse).
#[derive(Debug, Clone)]
pub struct Options {
    /// The state: our snapshot (read in place), a JSON Lines file, or a Diem-family backup (its
    /// top directory or its `state.manifest`), the latter sorted once into a scratch snapshot.
    pub state: PathBuf,
    /// The release the state was written with; `None` takes the modules the state holds.
    pub from: Option<PathBuf>,
    /// The release to upgrade to.
    pub to: PathBuf,
    /// Migration declarations (`stdlib/migrations.toml`).
    pub migrations: Option<PathBuf>,
    /// The address registry (versioned modules are paired through it).
    pub registry: Option<PathBuf>,
    /// The chain's rules, upgrade path and (Sui) protocol version the gate judges with; what is
    /// absent is decided from the releases and the chain's defaults, as `compat-checker check`
    /// does. Its `hint` is where the state's format can say which chain wrote it.
    pub chain: compat_checker::chain::ChainChoice,
    /// Keep the migrated state as a snapshot in this directory (`DIR/state.snap`).
    pub out: Option<PathBuf>,
    /// How to open the state (a backup's era).
    pub open: OpenOptions,
    /// Address length of the releases, when not decided from them.
    pub address_length: Option<AddressLength>,
    /// Accounts whose resources system-scope migrations move (default `0x0`).
    pub system_accounts: Vec<Address>,
    /// Values a migration may fail on before the verdict says so apart (every failure is
    /// reported whatever this is; the rehearsal never stops a migration).
    pub max_failures: u64,
    /// Work per block of the migration loop (the loop runs block after block until done), shared
    /// by the threads: each runs blocks of its share, so that the writes of the blocks under way
    /// take the same memory on any number of threads.
    pub budget: Budget,
    /// Accounts named per finding.
    pub examples: usize,
    /// The hand-written transforms declarations may name (none by default: a chain's own
    /// handlers are its code, registered by the caller).
    pub handlers: Handlers,
    /// Memory for what the rehearsal holds beside the state (the migration's writes before they
    /// spill to disk, the runs of a source being sorted), in bytes: with a block of the file per
    /// thread, what bounds the rehearsal's memory whatever the state's size. A share of it more
    /// bounds a value decoded whole ([`Options::value_budget`]).
    pub cache_bytes: usize,
    /// Threads reading and migrating key ranges of the state (at least 1). The result does not
    /// depend on it.
    pub threads: usize,
    /// Accept resources that do not decode before the upgrade (otherwise the verdict is
    /// inconclusive: a state the old release cannot read says nothing of the new one).
    pub accept_undecodable: bool,
    /// Table types stated by the user (`--table-types FILE`), for tables whose owner the state
    /// does not hold: they come before what the state says and what is found in it.
    pub table_types: Vec<crate::state::TableTypes>,
}

/// The share of [`Options::cache_bytes`] the values decoded at one time may take together (a
/// quarter: one value per thread).
pub const VALUE_SHARE: usize = 4;
/// The least memory one decoded value is given, whatever the cache: a real chain's values are a
/// few MiB at most, and a budget much below one would misreport ordinary values.
pub const MIN_VALUE_BUDGET: usize = 1 << 20;

impl Options {
    /// The memory one value of the state may take when the rehearsal builds it whole (to say why
    /// bytes do not decode, to find the tables a value holds, to find the addresses an unnamed
    /// account's resources mention): [`VALUE_SHARE`] of the cache, shared by the threads, at
    /// least [`MIN_VALUE_BUDGET`]. Each value's length is declared by the state itself (a 64 MiB
    /// record of `vector<bool>` would take 3 GiB built): a value past the budget is reported as
    /// such, never allocated.
    pub fn value_budget(&self) -> usize {
        (self.cache_bytes / VALUE_SHARE / self.threads.max(1)).max(MIN_VALUE_BUDGET)
    }

    /// The defaults for a state and a new release.
    pub fn new(state: impl Into<PathBuf>, to: impl Into<PathBuf>) -> Options {
        Options {
            state: state.into(),
            from: None,
            to: to.into(),
            migrations: None,
            registry: None,
            chain: compat_checker::chain::ChainChoice::auto(),
            out: None,
            open: OpenOptions::default(),
            address_length: None,
            system_accounts: vec![Address::ZERO],
            max_failures: 1_000,
            budget: Budget { max_resources: 100_000, max_bytes: 64 << 20 },
            examples: 20,
            cache_bytes: 64 << 20,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            accept_undecodable: false,
            table_types: Vec::new(),
            handlers: Handlers::new(),
        }
    }
}
