//! Migrations of stored Move structs between stdlib releases.
//!
//! When a release changes the layout of a stored struct, every resource of the old layout must be
//! rewritten in the new one, in the system account and in every user account, without halting
//! the chain. This crate holds what that needs that does not depend on *when* it runs (that is
//! `vm-hooks`):
//! - [`layout`]: the full BCS layout of a stored struct, resolved from a release;
//! - [`value`]: stored bytes decoded into values and encoded back, with errors that say where;
//! - [`key`]: state keys of any address width (accounts and struct tags);
//! - `core_types` (feature `move-core-types`): conversions to and from `move-core-types`;
//! - [`store`]: the store migrations read and write through, and an in-memory one;
//! - [`signer`] and [`runner`]: the privileged signer, which only the runner can create.

#![deny(missing_docs)]

pub mod catalogue;
#[cfg(feature = "move-core-types")]
pub mod core_types;
pub mod handlers;
pub mod key;
pub mod layout;
pub mod literal;
pub mod plan;
pub mod runner;
pub mod signer;
pub mod store;
pub mod u256;
pub mod value;

pub use key::{AccountAddress, KeyError, StructTag, TypeTag};
pub use layout::{EnumLayout, FieldLayout, Layout, LayoutError, ReleaseIndex, StructLayout, VariantLayout};
pub use runner::{Chunk, ChunkEnd, Meter, Runner};
pub use signer::{PrivilegedSigner, Scope, SignerError, SystemAccounts, Target};
pub use store::{InMemoryStore, Store, StoreError, WriteBatch};
pub use u256::U256;
pub use value::{decode, encode, DecodeError, EncodeError, Value};
