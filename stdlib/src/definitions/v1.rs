//! Release v1: the genesis stdlib. Every module is published at `0x1`.

/// The system clock of an epoch; embedded in `Epoch`.
pub const TIMER: &str = "
module 0x1::Timer (bytecode v6)
  struct Timer has copy, drop, store
    started_at: u64
    period: u64
  public fun elapsed(&0x1::Timer::Timer, u64): bool
  public fun new(u64, u64): 0x1::Timer::Timer
";

/// The system resource, held by the system account 0x0 and read by reconfiguration.
pub const EPOCH: &str = "
module 0x1::Epoch (bytecode v6)
  uses 0x1::Timer
  friends 0x1::Reconfigure
  struct Epoch has key
    epoch: u64
    round: u64
    timer: 0x1::Timer::Timer
  friend fun advance(&signer, u64)
  public fun initialize(&signer)
  public fun now(): u64
";

/// The system operation that reads `Epoch` before any user can act (the seed's halt scenario).
pub const RECONFIGURE: &str = "
module 0x1::Reconfigure (bytecode v6)
  uses 0x1::Epoch
  fun next_epoch(&mut 0x1::Epoch::Epoch): u64
  public fun reconfigure(&signer)
";

/// Accounts, and the native that impersonates an account holder (upstream `create_signer`).
pub const ACCOUNT: &str = "
module 0x1::Account (bytecode v6)
  struct Account has key
    authentication_key: vector<u8>
    sequence_number: u64
  native fun create_signer(address): signer
  public fun exists_at(address): bool
  public fun sequence_number(address): u64
";

/// The gas coin's type tag.
pub const GAS: &str = "
module 0x1::GAS (bytecode v6)
  struct GAS has store
    dummy_field: bool
";

/// A generic coin and the balance every account holds (`Balance<0x1::GAS::GAS>`).
pub const COIN: &str = "
module 0x1::Coin (bytecode v6)
  struct Balance<phantom T0> has key
    coin: 0x1::Coin::Coin<T0>
  struct Coin<phantom T0> has store
    value: u64
  public fun balance<T0>(address): u64
  public fun deposit<T0>(address, 0x1::Coin::Coin<T0>)
  public fun value<T0>(&0x1::Coin::Coin<T0>): u64
  public fun withdraw<T0>(&signer, u64): 0x1::Coin::Coin<T0>
";

/// Per-account withdrawal limits.
pub const WALLET: &str = "
module 0x1::Wallet (bytecode v6)
  struct Wallet has key
    frozen: bool
    withdrawn: u64
    limit: u64
  public fun is_frozen(address): bool
  public entry fun set_limit(&signer, u64)
";

/// The social graph: who vouches for whom.
pub const VOUCH: &str = "
module 0x1::Vouch (bytecode v6)
  struct Vouch has key
    my_buddies: vector<address>
    epoch_vouched: u64
  public fun buddies_of(address): vector<address>
  public entry fun vouch_for(&signer, address)
";

/// Stake embeds a coin: it changes whenever `Coin` does.
pub const STAKE: &str = "
module 0x1::Stake (bytecode v6)
  uses 0x1::Coin, 0x1::GAS
  struct Stake has key
    locked: 0x1::Coin::Coin<0x1::GAS::GAS>
    pending: u64
    unlock_epoch: u64
  public fun locked(address): u64
  public entry fun stake(&signer, u64)
";

/// The on-chain migration status, held by the system account 0x0: the releases scheduled (with
/// what they run under: heights, budget, limits, catalogue checksums), the migrations completed,
/// running and failed (see `vm_hooks::status`).
pub const MIGRATIONS: &str = "
module 0x1::Migrations (bytecode v6)
  struct Completed has copy, drop, store
    id: vector<u8>
    checksum: vector<u8>
    height: u64
  struct Failure has copy, drop, store
    migration: vector<u8>
    key: vector<u8>
    reason: vector<u8>
  struct InProgress has copy, drop, store
    id: vector<u8>
    cursor: vector<u8>
    migrated: u64
  struct Planned has copy, drop, store
    id: vector<u8>
    checksum: vector<u8>
  struct Release has copy, drop, store
    number: u64
    label: vector<u8>
    height: u64
    activated_at: u64
    max_resources: u64
    max_bytes: u64
    max_quarantined: u64
    max_value_size: u64
    entries: vector<0x1::Migrations::Planned>
    tables: vector<u8>
  struct Status has key
    releases: vector<0x1::Migrations::Release>
    completed: vector<0x1::Migrations::Completed>
    in_progress: vector<0x1::Migrations::InProgress>
    failed: vector<0x1::Migrations::Failure>
  public fun has_run(vector<u8>): bool
";

pub const MODULES: &[&str] = &[TIMER, EPOCH, RECONFIGURE, ACCOUNT, GAS, COIN, WALLET, VOUCH, STAKE, MIGRATIONS];
