//! What can stop the hook, sorted by what a node must do about it.
//!
//! A node running the prologue meets three kinds of trouble, and each asks for another answer:
//! - **its own fault** ([`Fault::Local`]): its store failed (a disk error, I/O): it cannot
//!   produce or validate the block. It must not commit the block without the prologue's
//!   writes; it retries the block or stops, as it does on any disk error;
//! - **its configuration cannot follow the chain** ([`Fault::Node`]): the chain scheduled a
//!   release this node has no catalogue for, or with other checksums, or its history does not
//!   match: computing anything else would fork it. It stops and the operator fixes it;
//! - **the chain's own state** ([`Fault::Chain`]): the status in state does not decode. Every
//!   node sees the same, so the block goes on without migration work on every node alike, and
//!   governance repairs the status.
//!
//! A value that cannot be migrated (corrupt bytes, a transform that refuses it) is none of
//! these: it is recorded in the status and quarantined, identically on every node, and the
//! block goes on.

use crate::config::Budget;
use crate::schedule::ScheduleError;
use crate::status::StatusError;
use migrations::store::StoreError;

/// What a node does about a [`HookError`] (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// This node's store failed: do not commit the block; retry it or stop.
    Local,
    /// This node's configuration cannot compute the chain's state: stop, fix, restart.
    Node,
    /// The chain's state is at fault, the same on every node: the block goes on.
    Chain,
}

/// Why this node cannot follow what the chain recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsensusError {
    /// A release is scheduled on chain with catalogue entries (ids, checksums or order) other
    /// than this node's: running either would compute another state.
    #[error("release {label} (#{release}) is scheduled on chain with another catalogue than this node's: {}", .problems.join("; "))]
    Catalogue {
        /// The release's number.
        release: u64,
        /// Its label on chain.
        label: String,
        /// What differs, entry by entry.
        problems: Vec<String>,
    },
    /// A release is due on chain that this node has no plan (no catalogue) for.
    #[error("release {label} (#{release}) is scheduled on chain at height {height}, and this node has no plan for it")]
    MissingRelease {
        /// The release's number.
        release: u64,
        /// Its label on chain.
        label: String,
        /// Its activation height on chain.
        height: u64,
    },
    /// The migrations recorded as run do not match this node's catalogues (an entry edited,
    /// removed or reordered after it ran).
    #[error("migration history does not match the configuration: {}", .0.join("; "))]
    History(Vec<String>),
}

/// Why the hook could not be built or could not do a block's work. A failed call has applied
/// nothing and forgets what it had loaded: the next call reads the status again.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The releases or the configuration do not make a schedule (from [`crate::Hook::new`]).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The on-chain status does not decode or is inconsistent ([`Fault::Chain`]).
    #[error(transparent)]
    Status(#[from] StatusError),
    /// The storage engine failed ([`Fault::Local`]): nothing of the call was applied.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// This node cannot follow what the chain recorded ([`Fault::Node`]).
    #[error(transparent)]
    Consensus(#[from] ConsensusError),
    /// A block's prologue did not run on this store during a migration window ([`Fault::Local`]):
    /// the store's migration work is at block `last`, and block `block` was asked for. Replay
    /// the blocks in between (every block's prologue does a chunk).
    #[error("the migration work of this store is at block {last}, and block {block} was asked for: blocks in between did not run their prologue here")]
    Gap {
        /// The last block whose prologue worked on a running migration.
        last: u64,
        /// The block asked for.
        block: u64,
    },
    /// A governance write was refused ([`Fault::Chain`]: the transaction that asked aborts, on
    /// every node alike).
    #[error("governance: {0}")]
    Refused(#[from] GovernanceError),
    /// A key of another address width than the chain's (a caller's bug).
    #[error(transparent)]
    Key(#[from] migrations::KeyError),
}

impl HookError {
    /// What a node does about it.
    pub fn fault(&self) -> Fault {
        match self {
            HookError::Store(_) | HookError::Gap { .. } => Fault::Local,
            HookError::Status(_) | HookError::Refused(_) => Fault::Chain,
            HookError::Schedule(_) | HookError::Consensus(_) | HookError::Key(_) => Fault::Node,
        }
    }
}

/// Why a governance write was refused. The status is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovernanceError {
    /// The release is already scheduled (use [`Hook::schedule_at`](crate::Hook::schedule_at) to move it).
    #[error("release #{0} is already scheduled on chain")]
    AlreadyScheduled(u64),
    /// The release is not scheduled on chain.
    #[error("release #{0} is not scheduled on chain")]
    NotScheduled(u64),
    /// The release has activated: its height and place in the schedule are history.
    #[error("release #{number} activated at block {at}: it can no longer be moved or removed")]
    Active {
        /// The release's number.
        number: u64,
        /// The block that activated it.
        at: u64,
    },
    /// Removing it would leave a later release scheduled without it.
    #[error("release #{number} cannot be unscheduled while release #{later} is scheduled after it")]
    LaterScheduled {
        /// The release asked for.
        number: u64,
        /// The later release still scheduled.
        later: u64,
    },
    /// A budget that lets no work happen (the migration would never finish).
    #[error("a budget of {0} lets a block do no work")]
    EmptyBudget(Budget),
    /// Every migration of the release has finished: a budget for it changes nothing.
    #[error("release #{0} has finished its migrations")]
    Finished(u64),
}
