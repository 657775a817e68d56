//! For framework authors: one call each to snapshot a release's layouts, and its diff against the
//! last release, from the framework's own test suite, so that any layout change shows up in code
//! review as a changed snapshot.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! // In the framework's tests (with `insta` as a dev-dependency):
//! let layouts = compat_checker::snapshot::layouts(Path::new("build/release"))?;
//! let diff = compat_checker::snapshot::diff(Path::new("releases/last"), Path::new("build/release"))?;
//! // insta::assert_snapshot!("layouts", layouts);
//! // insta::assert_snapshot!("diff_against_last_release", diff);
//! # Ok(()) }
//! ```
//!
//! The text is the canonical layout form (see README) and the checker's text report without
//! colours or paths, so a snapshot changes only when a layout does.

use crate::{check, layout, CheckOptions};
use std::path::Path;
use stdlib::release::{self, LoadOptions, ReleaseError};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// Modules that did not read; a snapshot of the rest would hide them.
    #[error("{}", .0.join("\n"))]
    BadModules(Vec<String>),
}

fn load(path: &Path) -> Result<release::Release, SnapshotError> {
    let r = release::load(path, LoadOptions::default())?;
    if r.failures.is_empty() {
        Ok(r)
    } else {
        Err(SnapshotError::BadModules(r.failures.iter().map(ToString::to_string).collect()))
    }
}

/// Every module's layout, in the canonical text form.
pub fn layouts(release: &Path) -> Result<String, SnapshotError> {
    let r = load(release)?;
    Ok(layout::render_text(&layout::sorted(r.modules.iter().map(|m| &m.module))))
}

/// The checker's report of `previous` -> `current`, ungated (no registry): every difference.
pub fn diff(previous: &Path, current: &Path) -> Result<String, SnapshotError> {
    let (old, new) = (load(previous)?, load(current)?);
    let old: Vec<_> = old.modules.iter().map(|m| &m.module).collect();
    let new: Vec<_> = new.modules.iter().map(|m| &m.module).collect();
    Ok(check("previous", &old, "current", &new, CheckOptions::default()).0.to_text(false))
}
