//! Release v2. New versions take the next addresses in sequence (0x2..=0x5); their
//! predecessors stay published, closed. Each new version names its predecessor in a `migrate`
//! function, the seed's per-module migration entry point, which is why it imports it.

use super::v1;

/// Layout-breaking, system account: a field added (derivable, with a default).
pub const EPOCH: &str = "
module 0x2::Epoch (bytecode v6)
  uses 0x1::Epoch, 0x1::Timer
  friends 0x1::Reconfigure
  struct Epoch has key
    epoch: u64
    round: u64
    timer: 0x1::Timer::Timer
    height: u64
  friend fun advance(&signer, u64)
  public fun initialize(&signer)
  friend fun migrate(&0x1::Epoch::Epoch, u64): 0x2::Epoch::Epoch
  public fun now(): u64
";

/// Upstream of `Epoch`: republished in place, importing the new version.
pub const RECONFIGURE: &str = "
module 0x1::Reconfigure (bytecode v6)
  uses 0x2::Epoch
  fun next_epoch(&mut 0x2::Epoch::Epoch): u64
  public fun reconfigure(&signer)
";

/// Layout-breaking, user accounts: `value` widened to u128 (derivable), which also changes
/// `Balance`, which embeds a coin.
pub const COIN: &str = "
module 0x3::Coin (bytecode v6)
  uses 0x1::Coin
  struct Balance<phantom T0> has key
    coin: 0x3::Coin::Coin<T0>
  struct Coin<phantom T0> has store
    value: u128
  public fun balance<T0>(address): u128
  public fun deposit<T0>(address, 0x3::Coin::Coin<T0>)
  friend fun migrate<T0>(&0x1::Coin::Balance<T0>): 0x3::Coin::Balance<T0>
  public fun value<T0>(&0x3::Coin::Coin<T0>): u128
  public fun withdraw<T0>(&signer, u128): 0x3::Coin::Coin<T0>
";

/// A field only renamed (`withdrawn` to `total_withdrawn`): the bytes do not change, but the
/// VM's compatibility rules still treat it as a new layout, so it moves with a declared rename.
pub const WALLET: &str = "
module 0x4::Wallet (bytecode v6)
  uses 0x1::Wallet
  struct Wallet has key
    frozen: bool
    total_withdrawn: u64
    limit: u64
  public fun is_frozen(address): bool
  friend fun migrate(&0x1::Wallet::Wallet): 0x4::Wallet::Wallet
  public entry fun set_limit(&signer, u64)
";

/// Republished because it embeds `Coin`, whose layout changed.
pub const STAKE: &str = "
module 0x5::Stake (bytecode v6)
  uses 0x1::GAS, 0x1::Stake, 0x3::Coin
  struct Stake has key
    locked: 0x3::Coin::Coin<0x1::GAS::GAS>
    pending: u64
    unlock_epoch: u64
  public fun locked(address): u128
  friend fun migrate(&0x1::Stake::Stake): 0x5::Stake::Stake
  public entry fun stake(&signer, u64)
";

/// Compatible, in place: a new struct and a new function.
pub const VOUCH: &str = "
module 0x1::Vouch (bytecode v6)
  struct Vouch has key
    my_buddies: vector<address>
    epoch_vouched: u64
  struct VouchEvent has drop, store
    voucher: address
    vouchee: address
  public fun buddies_of(address): vector<address>
  public fun is_vouched_by(address, address): bool
  public entry fun vouch_for(&signer, address)
";

pub const MODULES: &[&str] = &[
    v1::TIMER,
    v1::EPOCH,
    EPOCH,
    RECONFIGURE,
    v1::ACCOUNT,
    v1::GAS,
    v1::COIN,
    COIN,
    v1::WALLET,
    WALLET,
    VOUCH,
    v1::STAKE,
    STAKE,
    v1::MIGRATIONS,
];
