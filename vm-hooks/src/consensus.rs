//! The chain's records against this node's configuration: what must match (or the node stops),
//! and where the node merely differs (it follows the chain, and says so).
//!
//! What decides a block's work is recorded on chain when a release is scheduled
//! ([`crate::status::ReleaseRecord`]). A node compares its own plans with those records every
//! time it loads the status (at start, and whenever the store's status changed under it):
//! - the catalogue (entry ids, checksums, order) must be the chain's, or the node refuses
//!   ([`ConsensusError::Catalogue`]): it would compute another state;
//! - heights, budgets and limits may differ: the node follows the chain's values, and
//!   [`Divergence`] lists each difference so that an operator can fix the configuration, before
//!   the release activates as after.

use crate::config::Budget;
use crate::error::ConsensusError;
use crate::schedule::Schedule;
use crate::status::Status;
use crate::ChainConfig;
use migrations::catalogue::Checksum;
use upgrade_spec::ReleaseId;

/// Where this node's configuration differs from what the chain recorded. The node follows the
/// chain; these are for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Divergence {
    /// The chain activates the release at another height than this node's plan says.
    Height {
        /// The release.
        release: ReleaseId,
        /// This node's plan.
        ours: u64,
        /// The chain's record.
        chain: u64,
    },
    /// Another budget per block.
    Budget {
        /// The release.
        release: ReleaseId,
        /// This node's plan (or chain configuration).
        ours: Budget,
        /// The chain's record.
        chain: Budget,
    },
    /// Another quarantine limit.
    MaxQuarantined {
        /// The release.
        release: ReleaseId,
        /// This node's configuration.
        ours: u64,
        /// The chain's record.
        chain: u64,
    },
    /// Another value size limit.
    MaxValueSize {
        /// The release.
        release: ReleaseId,
        /// This node's configuration.
        ours: u64,
        /// The chain's record.
        chain: u64,
    },
    /// This node plans a release the chain has not scheduled: it will not activate it until the
    /// chain does.
    NotScheduled {
        /// The release.
        release: ReleaseId,
        /// The height this node would schedule it at.
        height: u64,
    },
    /// The chain scheduled a release this node has no plan for: when it is due, the node stops
    /// ([`ConsensusError::MissingRelease`]).
    NotConfigured {
        /// The release's number on chain.
        release: u64,
        /// Its label on chain.
        label: String,
        /// Its height on chain.
        height: u64,
    },
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Divergence::Height { release, ours, chain } => {
                write!(f, "{release}: activation height {ours} configured, {chain} on chain (followed)")
            }
            Divergence::Budget { release, ours, chain } => {
                write!(f, "{release}: budget {ours} configured, {chain} on chain (followed)")
            }
            Divergence::MaxQuarantined { release, ours, chain } => {
                write!(f, "{release}: quarantine limit {ours} configured, {chain} on chain (followed)")
            }
            Divergence::MaxValueSize { release, ours, chain } => {
                write!(f, "{release}: value size limit {ours} configured, {chain} on chain (followed)")
            }
            Divergence::NotScheduled { release, height } => {
                write!(f, "{release}: planned at height {height} here, not scheduled on chain (not activated)")
            }
            Divergence::NotConfigured { release, label, height } => {
                write!(f, "{label} (#{release}): scheduled on chain at height {height}, no plan here (the node stops when it is due)")
            }
        }
    }
}

/// How the entries `chain` recorded differ from this node's, entry by entry.
pub(crate) fn entry_problems(chain: &[(String, Checksum)], ours: &[(String, Checksum)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, (id, checksum)) in chain.iter().enumerate() {
        match ours.iter().position(|(o, _)| o == id) {
            None => problems.push(format!("`{id}` is on chain, not in this node's catalogue")),
            Some(j) => {
                if ours.get(j).is_some_and(|(_, c)| c != checksum) {
                    problems.push(format!("`{id}` has checksum {checksum} on chain, another here"));
                }
                if j != i {
                    problems.push(format!("`{id}` is entry {} on chain, {} here", i + 1, j + 1));
                }
            }
        }
    }
    for (id, _) in ours {
        if !chain.iter().any(|(r, _)| r == id) {
            problems.push(format!("`{id}` is in this node's catalogue, not on chain"));
        }
    }
    problems
}

/// Checks the chain's records against the node's schedule: `Err` when a scheduled release's
/// catalogue differs; otherwise every divergence.
pub(crate) fn compare(
    schedule: &Schedule,
    chain: &ChainConfig,
    status: &Status,
) -> Result<Vec<Divergence>, ConsensusError> {
    let mut out = Vec::new();
    for record in status.releases() {
        let Some((_, plan)) = schedule.release(record.number) else {
            out.push(Divergence::NotConfigured {
                release: record.number,
                label: record.label.clone(),
                height: record.height,
            });
            continue;
        };
        let ours: Vec<(String, migrations::catalogue::Checksum)> =
            plan.catalogue.entries.iter().map(|e| (e.id.clone(), e.checksum)).collect();
        if ours == record.entries && plan.tables != record.tables {
            return Err(ConsensusError::Catalogue {
                release: record.number,
                label: record.label.clone(),
                problems: vec![format!(
                    "its tables have checksum {} on chain, {} here: this node would rewrite other tables",
                    record.tables, plan.tables
                )],
            });
        }
        if ours != record.entries {
            let problems = entry_problems(&record.entries, &ours);
            return Err(ConsensusError::Catalogue { release: record.number, label: record.label.clone(), problems });
        }
        let release = plan.id.clone();
        if plan.height != record.height {
            out.push(Divergence::Height { release: release.clone(), ours: plan.height, chain: record.height });
        }
        if plan.budget != record.budget {
            out.push(Divergence::Budget { release: release.clone(), ours: plan.budget, chain: record.budget });
        }
        if chain.max_quarantined != record.max_quarantined {
            out.push(Divergence::MaxQuarantined {
                release: release.clone(),
                ours: chain.max_quarantined,
                chain: record.max_quarantined,
            });
        }
        if chain.max_value_size != record.max_value_size {
            out.push(Divergence::MaxValueSize { release, ours: chain.max_value_size, chain: record.max_value_size });
        }
    }
    for plan in &schedule.releases {
        if status.release(u64::from(plan.id.number())).is_none() {
            out.push(Divergence::NotScheduled { release: plan.id.clone(), height: plan.height });
        }
    }
    Ok(out)
}
