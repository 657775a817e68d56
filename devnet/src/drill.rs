//! Drills: a process that aborts at a named point, so that tests (and operators rehearsing a
//! failure) see what a kill there leaves and that the next command recovers from it.
//!
//! `DEVNET_CRASH_AT=genesis` aborts after genesis wrote its first batch (into the staging
//! directory); `export` after a snapshot's first run of records went to its partial file;
//! `backup` after the runbook's backup file is in place and before the journal names it. (A
//! block's prologue has its own drill: [`crate::node::CRASH_ENV`].)

/// The environment variable naming the point to abort at.
pub const CRASH_AT_ENV: &str = "DEVNET_CRASH_AT";

/// Aborts the process if the drill names `point`.
pub(crate) fn crash_point(point: &str) {
    if std::env::var_os(CRASH_AT_ENV).is_some_and(|v| v == point) {
        std::process::abort();
    }
}
