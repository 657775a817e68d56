//! What goes wrong with a registry, said so that a person can find it in the file and a tool can
//! match on it: every problem carries a stable rule id and, where it has one, a line.

use super::release_name::ReleaseName;
use super::rules;
use binary_format::Address;
use std::fmt;
use std::path::{Path, PathBuf};

/// One broken rule. `rule` is one of the ids in [`rules`](super::rules): ids are stable so CI
/// output, tests and tools can match on them while the wording of `message` improves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    pub rule: &'static str,
    /// 1-based line in the registry file; `None` when the problem has no single place (a missing
    /// key) or the registry was not read from a file.
    pub line: Option<usize>,
    pub message: String,
}

impl Violation {
    pub fn new(rule: &'static str, line: Option<usize>, message: impl Into<String>) -> Violation {
        Violation { rule, line, message: message.into() }
    }

    /// `path:line: [rule] message`, the form editors and CI annotations jump to.
    pub fn render(&self, path: &Path) -> String {
        match self.line {
            Some(line) => format!("{}:{line}: {self}", path.display()),
            None => format!("{}: {self}", path.display()),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.message)
    }
}

/// Why a registry could not be read or changed. Every variant names the file, so a message read
/// out of context (a CI log) still says which registry it is about.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file breaks one or more rules; all of them are listed, one per line.
    #[error("{}", render_all(path, violations))]
    Invalid { path: PathBuf, violations: Vec<Violation> },
    #[error("{}: [{}] no module named {name} in the registry", path.display(), rules::UNKNOWN_MODULE)]
    UnknownModule { path: PathBuf, name: String },
    #[error("{}: [{}] module {name} is already in the registry; bump it instead", path.display(), rules::MODULE_EXISTS)]
    ModuleExists { path: PathBuf, name: String },
    #[error("{}: [{}] {name:?} is not a valid Move identifier", path.display(), rules::SYNTAX)]
    BadName { path: PathBuf, name: String },
    #[error("{}: [{}] module {name} is retired: its addresses stay taken and it gets no new versions", path.display(), rules::RETIRED)]
    Retired { path: PathBuf, name: String },
    #[error("{}: [{}] cannot add a version of {name} in {release}: its newest version {address} is from {newest}, and a new version must be released later", path.display(), rules::STALE_RELEASE)]
    StaleRelease { path: PathBuf, name: String, release: ReleaseName, newest: ReleaseName, address: Address },
    #[error("{}: [{}] cannot allocate an address in {release}: {address} was already allocated in the later release {later}, and addresses are handed out in release order", path.display(), rules::SEQUENCE)]
    OutOfOrder { path: PathBuf, release: ReleaseName, later: ReleaseName, address: Address },
    #[error("{}: [{}] the reserved range 0x0..=0x1000 is exhausted: the next address would be {next}", path.display(), rules::EXHAUSTED)]
    Exhausted { path: PathBuf, next: String },
    /// The edited file would not read back as the registry it was meant to hold; nothing was
    /// written. Seeing this means the file has a shape the editor does not handle.
    #[error("{}: [{}] {reason}; the file was not changed", path.display(), rules::EDIT)]
    Edit { path: PathBuf, reason: String },
}

impl RegistryError {
    pub fn invalid(path: &Path, violations: Vec<Violation>) -> RegistryError {
        RegistryError::Invalid { path: path.to_path_buf(), violations }
    }

    /// The broken rules, for an `Invalid` registry; empty otherwise.
    pub fn violations(&self) -> &[Violation] {
        match self {
            RegistryError::Invalid { violations, .. } => violations,
            _ => &[],
        }
    }

    /// The rule ids this error reports (one per violation for `Invalid`), so callers and tests can
    /// match on ids instead of wording. Empty for I/O errors, which break no rule.
    pub fn rules(&self) -> Vec<&'static str> {
        match self {
            RegistryError::Io { .. } => Vec::new(),
            RegistryError::Invalid { violations, .. } => violations.iter().map(|v| v.rule).collect(),
            RegistryError::UnknownModule { .. } => vec![rules::UNKNOWN_MODULE],
            RegistryError::ModuleExists { .. } => vec![rules::MODULE_EXISTS],
            RegistryError::BadName { .. } => vec![rules::SYNTAX],
            RegistryError::Retired { .. } => vec![rules::RETIRED],
            RegistryError::StaleRelease { .. } => vec![rules::STALE_RELEASE],
            RegistryError::OutOfOrder { .. } => vec![rules::SEQUENCE],
            RegistryError::Exhausted { .. } => vec![rules::EXHAUSTED],
            RegistryError::Edit { .. } => vec![rules::EDIT],
        }
    }
}

fn render_all(path: &Path, violations: &[Violation]) -> String {
    violations.iter().map(|v| v.render(path)).collect::<Vec<_>>().join("\n")
}
