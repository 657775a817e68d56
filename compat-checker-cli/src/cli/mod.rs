//! One file per command.

pub mod check;
pub mod graph;
pub mod layout;
pub mod registry;
pub mod rehearse;

use anyhow::Context;
use binary_format::AddressLength;
use releases::{LoadOptions, Release};
use std::io::Write;
use std::path::Path;

/// Loads a release; bad modules are reported on stderr by the caller via `report_failures`.
pub fn load(path: &Path, address_length: Option<AddressLength>) -> anyhow::Result<Release> {
    Ok(releases::load(path, LoadOptions { address_length, ..LoadOptions::default() })?)
}

/// One line per module that could not be read (the first few, then how many more); true when
/// there was any.
pub fn report_failures(release: &Release) -> bool {
    for failure in &release.failures {
        eprintln!("error: {}", compat_checker::escape::shown(&failure.to_string()));
    }
    let more = release.failures.not_shown();
    if more > 0 {
        eprintln!(
            "error: and {more} more modules of {} do not read ({} in all)",
            compat_checker::escape::shown(&release.source.display().to_string()),
            release.failures.count()
        );
    }
    !release.failures.is_empty()
}

pub fn print(text: &str) -> anyhow::Result<()> {
    std::io::stdout().lock().write_all(text.as_bytes()).context("writing to stdout")
}
