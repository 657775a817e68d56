//! What every fuzz workspace shares (`binary-format/fuzz`, `migrations/fuzz`, `rehearsal/fuzz`,
//! `devnet/fuzz`), kept once so that a fix to the allocator or the mutator reaches them all.
//!
//! - [`alloc`]: the counting global allocator and [`Budget`], the bound a target puts on the
//!   heap one call may take for its input. Linking this crate registers the allocator, so a
//!   fuzz workspace whose targets call [`measured`] takes it as a normal dependency.
//! - [`corpus`]: the deterministic generator ([`Rng`]) and mutator ([`mutate`]) the corpus tests
//!   run the targets' bodies with where `cargo fuzz` cannot run, and [`one_at_a_time`], the
//!   turn those tests take because the allocator's counters are process-wide.
//!
//! Test and fuzz code only: nothing a node or a tool builds depends on it.

pub mod alloc;
pub mod corpus;

pub use alloc::{measured, Budget, Counting};
pub use corpus::{mutate, one_at_a_time, Rng};
