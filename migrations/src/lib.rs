//! Migrations of stored Move structs between stdlib releases.
//!
//! When a release changes the layout of a stored struct, every resource of the old layout must be
//! rewritten in the new one, in the system account and in every user account, without halting
//! the chain. This crate holds what that needs that does not depend on *when* it runs (that is
//! `vm-hooks`):
//! - [`layout`]: the full BCS layout of a stored struct, resolved from a release;
//! - [`value`]: stored bytes decoded into values and encoded back, with errors that say where;
//! - [`key`]: accounts and struct tags of any address width;
//! - [`state_key`]: the canonical state key (resources, resource groups, table items, modules),
//!   whose byte order is the state's order everywhere;
//! - `core_types` (feature `move-core-types`): conversions to and from `move-core-types`;
//! - [`store`]: the store migrations read and write through, and an in-memory one;
//! - [`signer`] and [`runner`]: the privileged signer, which only the runner can create;
//! - [`catalogue`]: the entries of a release pair, validated against both releases, and
//!   [`plan`], [`literal`] and [`handlers`], the transforms they run.
//!
//! # Example: a struct that gains a field in place
//!
//! A release adds `guid_creation_num` to `0x1::account::Account` where it stands (same module
//! id, new layout). The declaration says so (`from` = `to`) and gives the new field's default;
//! [`catalogue::Catalogue::builder`] checks it against both releases and compiles the transform.
//! An entry made concrete for its type arguments ([`catalogue::Instance`]) transforms one
//! resource's bytes; its [`Runner`] migrates every account holding it, through a store.
//! (Which block does what is `vm-hooks`' business: this is what it runs.)
//!
//! ```
//! use binary_format::text::parse_module;
//! use binary_format::AddressLength;
//! use migrations::catalogue::Catalogue;
//! use migrations::handlers::Handlers;
//! use migrations::store::{InMemoryStore, Store, WriteBatch, DEFAULT_MAX_VALUE_SIZE};
//! use std::sync::Arc;
//! use migrations::{AccountAddress, Meter, Runner, StructTag, SystemAccounts};
//! use upgrade_spec::declarations::Declarations;
//! use upgrade_spec::ReleaseLabel;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! const WIDTH: AddressLength = AddressLength::Bytes32;
//! let old = parse_module(
//!     "module 0x1::account (bytecode v6)\n  struct Account has key\n    sequence_number: u64\n",
//! )?;
//! let new = parse_module(
//!     "module 0x1::account (bytecode v6)\n  struct Account has key\n    sequence_number: u64\n    \
//!      guid_creation_num: u64\n",
//! )?;
//! let declarations = Declarations::parse(
//!     r#"
//! [[migration]]
//! id = "account-2"
//! release = "2.0.0"
//! module = "account"
//! struct = "Account"
//! from = "0x1"
//! to = "0x1"
//! scope = "users"
//! transform = "derived"
//! defaults = { guid_creation_num = "0" }
//! "#,
//!     std::path::Path::new("migrations.toml"),
//! )?;
//! // Every problem is reported at once; none here.
//! let catalogue =
//!     Catalogue::builder(&[&old], &[&new], &ReleaseLabel::new("2.0.0")?, WIDTH).declarations(&declarations).build()?;
//! let entry = catalogue.entry("account-2").ok_or("no entry")?;
//! let instance = catalogue.instance(entry, &[])?; // `Account` has no type parameters
//! assert!(instance.is_in_place());
//!
//! // One resource: the old bytes (a u64) become the new ones (the u64, then the default).
//! let mut bytes = Vec::new();
//! instance.transform(&7u64.to_le_bytes(), &mut bytes)?;
//! assert_eq!(bytes, [7u64.to_le_bytes(), 0u64.to_le_bytes()].concat());
//! // Bytes that are not of the old layout are that account's failure, never a panic.
//! assert!(instance.transform(&[1, 2, 3], &mut Vec::new()).is_err());
//!
//! // Every user account, through a store: the runner's signer may write only this tag, and
//! // only in user accounts (the entry's scope), never in the system account 0x1. (Had the struct
//! // type parameters, every instantiation stored would be found and migrated alike.)
//! let tag = StructTag::parse("0x1::account::Account", WIDTH)?;
//! let mut store = InMemoryStore::new();
//! let mut batch = WriteBatch::new();
//! for n in 2..=4u64 {
//!     batch.put(AccountAddress::from_u64(n, WIDTH), tag.clone(), n.to_le_bytes().to_vec());
//! }
//! store.apply(batch)?;
//! let system = SystemAccounts::new([AccountAddress::from_u64(1, WIDTH)]);
//! let runner = Runner::new(Arc::new(catalogue), "account-2", &system, DEFAULT_MAX_VALUE_SIZE)?;
//! let chunk = runner.run(&mut store, None, &mut Meter::unlimited())?;
//! assert_eq!((chunk.migrated, chunk.failed.len()), (3, 0));
//! let migrated = store.get(&AccountAddress::from_u64(3, WIDTH), &tag)?.ok_or("gone")?;
//! assert_eq!(migrated, [3u64.to_le_bytes(), 0u64.to_le_bytes()].concat());
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod batch_writes;
pub mod catalogue;
#[cfg(feature = "move-core-types")]
pub mod core_types;
pub mod group;
pub mod handlers;
pub mod key;
mod key_list;
pub mod layout;
pub mod literal;
mod memory_store;
pub mod plan;
pub mod runner;
pub mod signer;
pub mod state_key;
pub mod store;
pub mod tables;
pub mod u256;
pub mod value;
pub mod write_log;

pub use key::{AccountAddress, KeyError, StructTag, TypeTag};
pub use layout::{EnumLayout, FieldLayout, Layout, LayoutError, ReleaseIndex, StructLayout, VariantLayout};
pub use runner::{Chunk, ChunkEnd, Meter, Runner};
pub use signer::{PrivilegedSigner, Scope, SignerError, SystemAccounts, Target};
pub use state_key::{KeyKind, StateKey};
pub use store::{InMemoryStore, Store, StoreError, WriteBatch};
pub use u256::U256;
pub use value::{decode, encode, DecodeError, EncodeError, Value};
