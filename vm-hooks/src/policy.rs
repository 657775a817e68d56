//! Governance: what the node decides about migrations, through a trait it implements.
//!
//! Who may migrate, and when, is not the hook's to decide (seed 000: governance decides, not
//! everyone migrates at once): a release's migrations may be held back, and a migration that
//! failed waits for a decision. The hook asks, deterministically, at the start of a block; the
//! node answers from on-chain governance state, so every node gets the same answer.

use upgrade_spec::ReleaseId;

/// A migration that failed and stopped: its chunk was rolled back, its cursor kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaltedMigration<'a> {
    /// The catalogue entry's id.
    pub id: &'a str,
    /// The release it belongs to.
    pub release: &'a ReleaseId,
    /// Why it stopped.
    pub reason: &'a str,
    /// Values it has quarantined so far.
    pub quarantined: u64,
}

/// What to do with a halted migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Leave it halted; ask again next block. Migrations after it wait.
    Wait,
    /// Resume from its cursor, with the same halt limit (after the node fixed the cause).
    Retry,
    /// Resume, quarantining every failing account without halting again (the failures are
    /// accepted). For a system-account migration, whose account cannot be quarantined, this
    /// is [`Decision::Skip`].
    Approve,
    /// Give it up: it stays recorded as failed, the data it did not reach stays on the old
    /// version, and the migrations after it go on.
    Skip,
}

/// The node's governance. Must be deterministic: the same answer on every node for the same
/// block. `Send + Sync`, so that the hook holding it can be shared with the node's threads.
pub trait Policy: std::fmt::Debug + Send + Sync {
    /// May the migrations of `release` start in block `height`? If not, the release is not
    /// activated and the question is asked again next block.
    fn may_start(&self, release: &ReleaseId, height: u64) -> bool;

    /// What to do with a halted migration, in block `height`.
    fn on_halted(&self, halted: &HaltedMigration<'_>, height: u64) -> Decision;
}

/// Everything allowed: releases start when due, failures are approved (quarantined) and the
/// migration goes on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllowAll;

impl Policy for AllowAll {
    fn may_start(&self, _release: &ReleaseId, _height: u64) -> bool {
        true
    }

    fn on_halted(&self, _halted: &HaltedMigration<'_>, _height: u64) -> Decision {
        Decision::Approve
    }
}
