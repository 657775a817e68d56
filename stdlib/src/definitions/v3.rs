//! Release v3 (addresses 0x6..=0x8).

use super::{v1, v2};

/// Depends on `Coin`, versioned in v2, and breaks again: `weight` is computed from two old
/// fields (`locked.value + pending`), which no derived rule covers: a hand-written migration.
pub const STAKE: &str = "
module 0x6::Stake (bytecode v6)
  uses 0x1::GAS, 0x3::Coin, 0x5::Stake
  struct Stake has key
    locked: 0x3::Coin::Coin<0x1::GAS::GAS>
    unlock_epoch: u64
    weight: u128
  public fun locked(address): u128
  friend fun migrate(&0x5::Stake::Stake): 0x6::Stake::Stake
  public entry fun stake(&signer, u64)
  public fun weight(address): u128
";

/// A field removed (`epoch_vouched`): derivable.
pub const VOUCH: &str = "
module 0x7::Vouch (bytecode v6)
  uses 0x1::Vouch
  struct Vouch has key
    my_buddies: vector<address>
  struct VouchEvent has drop, store
    voucher: address
    vouchee: address
  public fun buddies_of(address): vector<address>
  public fun is_vouched_by(address, address): bool
  friend fun migrate(&0x1::Vouch::Vouch): 0x7::Vouch::Vouch
  public entry fun vouch_for(&signer, address)
";

/// Two fields reordered (`limit` before `total_withdrawn`): derivable.
pub const WALLET: &str = "
module 0x8::Wallet (bytecode v6)
  uses 0x4::Wallet
  struct Wallet has key
    frozen: bool
    limit: u64
    total_withdrawn: u64
  public fun is_frozen(address): bool
  friend fun migrate(&0x4::Wallet::Wallet): 0x8::Wallet::Wallet
  public entry fun set_limit(&signer, u64)
";

pub const MODULES: &[&str] = &[
    v1::TIMER,
    v1::EPOCH,
    v2::EPOCH,
    v2::RECONFIGURE,
    v1::ACCOUNT,
    v1::GAS,
    v1::COIN,
    v2::COIN,
    v1::WALLET,
    v2::WALLET,
    WALLET,
    v2::VOUCH,
    VOUCH,
    v1::STAKE,
    v2::STAKE,
    STAKE,
    v1::MIGRATIONS,
];
