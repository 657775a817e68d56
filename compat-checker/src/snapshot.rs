//! For framework authors: one call each to snapshot a release's layouts, and its diff against the
//! last release, from the framework's own test suite, so that any layout change shows up in code
//! review as a changed snapshot.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use compat_checker::chain::{Chain, Profile};
//! use compat_checker::snapshot::{self, Form};
//! use std::path::Path;
//! // In the framework's tests (with `insta` as a dev-dependency):
//! let layouts = snapshot::layouts_with(Path::new("build/release"), Form::Structs)?;
//! let profile = Profile::default_for(Chain::Sui);
//! let diff = snapshot::diff(Path::new("releases/last"), Path::new("build/release"), Some(profile), None)?;
//! // insta::assert_snapshot!("layouts", layouts);
//! // insta::assert_snapshot!("diff_against_last_release", diff);
//! # Ok(()) }
//! ```
//!
//! The text is the canonical layout form (see README) and the checker's text report without
//! colours or paths, so a snapshot changes only when what it shows does: with
//! [`Form::Structs`], only when a struct's layout does.

use crate::chain::{ChainChoice, Profile, ProfileError};
use crate::config::Config;
use crate::{check_releases, layout, ChainOptions, CheckOptions};
use binary_format::{Module, Visibility};
use releases::{LoadOptions, ReleaseError};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// Modules that did not read; a snapshot of the rest would hide them.
    #[error("{}", .0.join("\n"))]
    BadModules(Vec<String>),
    /// The profile does not fit the chain the releases point to.
    #[error(transparent)]
    Chain(#[from] ProfileError),
}

/// What a layout snapshot shows of each module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Form {
    /// Everything: imports, friends, structs and every function signature.
    #[default]
    Full,
    /// Structs and the functions other modules or transactions can call (public, friend,
    /// entry); no private functions, no `uses` lines.
    Api,
    /// Structs and enums only: changes exactly when a layout does.
    Structs,
}

fn load(path: &Path) -> Result<releases::Release, SnapshotError> {
    let r = releases::load(path, LoadOptions::default())?;
    if r.failures.is_empty() {
        Ok(r)
    } else {
        Err(SnapshotError::BadModules(r.failures.iter().map(ToString::to_string).collect()))
    }
}

/// `m` as `form` shows it.
pub fn shaped(m: &Module, form: Form) -> Module {
    let mut m = m.clone();
    match form {
        Form::Full => {}
        Form::Api => {
            m.dependencies.clear();
            m.functions.retain(|f| f.visibility != Visibility::Private || f.entry);
        }
        Form::Structs => {
            m.dependencies.clear();
            m.friends.clear();
            m.metadata_keys.clear();
            m.functions.clear();
        }
    }
    m
}

/// Every module's layout, in the canonical text form.
pub fn layouts(release: &Path) -> Result<String, SnapshotError> {
    layouts_with(release, Form::Full)
}

/// Every module's layout in the canonical text form, showing what `form` says.
pub fn layouts_with(release: &Path, form: Form) -> Result<String, SnapshotError> {
    let r = load(release)?;
    let modules: Vec<Module> = r.modules.iter().map(|m| shaped(&m.module, form)).collect();
    Ok(layout::render_text(&layout::sorted(modules.iter())))
}

/// The checker's report of `previous` -> `current`, without a registry: every difference, the
/// verdict of `profile`'s chain (decided from the releases when `None`), and `config`'s allow
/// list applied.
pub fn diff(
    previous: &Path,
    current: &Path,
    profile: Option<Profile>,
    config: Option<&Config>,
) -> Result<String, SnapshotError> {
    let (old, new) = (load(previous)?, load(current)?);
    let options = CheckOptions { config, ..CheckOptions::default() };
    let choice = profile.map_or_else(ChainChoice::auto, ChainChoice::given);
    let chain = ChainOptions { choice, ..ChainOptions::default() };
    Ok(check_releases("previous", &old, "current", &new, options, chain)?.0.to_text(false))
}
