//! The releases: NEW from its path, OLD from `--from` or from the modules the state holds.

use crate::error::RehearsalError;
use crate::state::StateSource;
use binary_format::AddressLength;
use releases::{self, containers::ContainerKind, LoadOptions, Release};
use std::path::{Path, PathBuf};

/// A release loaded whole: a module that does not read is bad input (the rehearsal would be
/// incomplete).
pub fn load(path: &Path, address_length: Option<AddressLength>) -> Result<Release, RehearsalError> {
    let r = releases::load(path, LoadOptions { address_length, ..LoadOptions::default() })
        .map_err(|e| RehearsalError::Release { path: path.to_path_buf(), reason: e.to_string() })?;
    complete(r)
}

fn complete(r: Release) -> Result<Release, RehearsalError> {
    if !r.failures.is_empty() {
        // The first few, and how many more: one line, however many there are.
        return Err(RehearsalError::Release { path: r.source.clone(), reason: r.failures.to_string() });
    }
    Ok(r)
}

/// The release made of the modules the state holds.
pub fn from_state(
    source: &mut dyn StateSource,
    state: &Path,
    address_length: Option<AddressLength>,
) -> Result<Option<Release>, RehearsalError> {
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    source.modules(&mut |m| {
        found.push((m.origin.to_string(), m.bytes.to_vec()));
        Ok(())
    })?;
    if found.is_empty() {
        return Ok(None);
    }
    let options = LoadOptions { address_length, ..LoadOptions::default() };
    let r = releases::from_modules(&PathBuf::from(state), ContainerKind::Folder, found, Default::default(), options);
    complete(r).map(Some)
}

/// The label a release's declarations use, as `check` gives it ([`releases::label`]:
/// its file or folder name, a version number kept whole).
pub fn label(path: &Path) -> Result<upgrade_spec::ReleaseLabel, RehearsalError> {
    let name = releases::label(&path.display().to_string());
    upgrade_spec::ReleaseLabel::new(&name).map_err(|e| RehearsalError::Options(format!("{}: {e}", path.display())))
}
