//! The address registry: the record of which address each version of each stdlib module is
//! published at.
//!
//! When a stored struct's layout breaks, its module is published again at a new address
//! (`0x1::Epoch` becomes `0x2::Epoch`) and the old version stays published, closed to writes, for
//! reads and migration. Addresses `0x0..=0x1000` are reserved for these versions and handed out in
//! sequence. An address handed out twice, or skipped, or taken out of release order, cannot be
//! taken back once a release is on chain, so the allocation is a decision made once, in a
//! reviewed file (`stdlib/registry.toml`), and checked by rules rather than by convention:
//!
//! ```toml
//! genesis = "0x1"   # the address every module's first version is published at
//!
//! [modules.Epoch]
//! versions = [
//!   { address = "0x1", release = "v1", closed = true },
//!   { address = "0x2", release = "v2", predecessor = "0x1" },
//! ]
//! ```
//!
//! [`Registry::load`] reads and checks a file and [`Registry::check_release`] checks a built
//! release against it; `stdlib-tools` changes the file (keeping comments and layout, writing
//! atomically). Every rule has a stable id in [`rules`].

mod error;
#[cfg(feature = "toml")]
mod file;
mod release_name;
pub mod rules;

pub use error::{RegistryError, Violation};
#[cfg(feature = "toml")]
pub use file::{read as read_file, MAX_REGISTRY_FILE};
pub use release_name::{ParseReleaseNameError, ReleaseName};

use binary_format::{identifier, Address, ModuleId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The last address reserved for stdlib module versions (the range starts at 0x0). Addresses above
/// it belong to accounts, so the registry never hands them out.
pub const RESERVED_END: u64 = 0x1000;

/// One published version of a module. Fields are public because a version is plain data that
/// callers (the build tool, the migration catalogue) read and compare; the rules that tie versions
/// together live in [`Registry`], which is the only thing that changes them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModuleVersion {
    pub address: Address,
    /// The release this version first ships in; it keeps shipping in every later release.
    pub release: ReleaseName,
    /// The version this one replaces (and whose data it migrates); `None` for a first version.
    pub predecessor: Option<Address>,
    /// Closed to writes: kept only for reads and migration.
    pub closed: bool,
}

impl ModuleVersion {
    pub fn id(&self, module: &str) -> ModuleId {
        ModuleId::new(self.address, module)
    }
}

/// Every version of one module, oldest first. Fields are private so that versions only change
/// through [`Registry::bump`], which keeps the chain of predecessors intact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModuleEntry {
    versions: Vec<ModuleVersion>,
    retired: bool,
}

impl ModuleEntry {
    pub fn versions(&self) -> &[ModuleVersion] {
        &self.versions
    }

    /// A retired module is no longer shipped as a current module, but its addresses stay taken
    /// forever: on chain they may still hold data.
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    pub fn newest(&self) -> Option<&ModuleVersion> {
        self.versions.last()
    }
}

/// Where things were in the file, kept apart from the data so that two registries with the same
/// content compare equal however their files are laid out.
#[derive(Debug, Clone, Default)]
struct Lines {
    genesis: Option<usize>,
    modules: BTreeMap<String, ModuleLines>,
}

#[derive(Debug, Clone, Default)]
struct ModuleLines {
    header: Option<usize>,
    retired: Option<usize>,
    versions: Vec<Option<usize>>,
}

/// The address registry. Obtained checked from [`Registry::load`] or [`Registry::parse`]; the
/// operations that change it ([`bump`](Registry::bump), [`add_module`](Registry::add_module))
/// refuse to start from, or produce, a registry that breaks a rule.
#[derive(Debug, Clone)]
pub struct Registry {
    origin: PathBuf,
    genesis: Address,
    modules: BTreeMap<String, ModuleEntry>,
    lines: Lines,
}

/// Content only: the same allocation read from two differently formatted files is the same.
impl PartialEq for Registry {
    fn eq(&self, other: &Registry) -> bool {
        self.genesis == other.genesis && self.modules == other.modules
    }
}

impl Eq for Registry {}

impl Registry {
    /// An empty registry, for building one in code (tests, or bootstrapping a file from a first
    /// release). `origin` is the path errors will name.
    pub fn new(genesis: Address, origin: &Path) -> Registry {
        Registry { origin: origin.to_path_buf(), genesis, modules: BTreeMap::new(), lines: Lines::default() }
    }

    #[cfg(feature = "toml")]
    /// Reads and checks a registry file: the error lists every violation, syntax and rules alike,
    /// each with the file and line.
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let text = file::read(path)?;
        Registry::parse(&text, path)
    }

    #[cfg(feature = "toml")]
    /// Parses and checks registry text; `origin` is the path named in errors. Syntax problems are
    /// all reported, but the rules are only checked once the syntax is clean, because an entry
    /// that did not parse would otherwise show up as a spurious gap or missing predecessor.
    pub fn parse(text: &str, origin: &Path) -> Result<Registry, RegistryError> {
        Registry::parse_unchecked(text, origin)?.checked()
    }

    #[cfg(feature = "toml")]
    /// Parses registry text checking only its syntax, for tools that want to report rule
    /// violations themselves (see [`Registry::violations`]). Nothing else should use an unchecked
    /// registry: its lookups may answer from a broken allocation.
    pub fn parse_unchecked(text: &str, origin: &Path) -> Result<Registry, RegistryError> {
        file::parse(text, origin)
    }

    #[cfg(feature = "toml")]
    /// Reads (within the file size limit) and parses a registry file, checking only its syntax.
    pub fn load_unchecked(path: &Path) -> Result<Registry, RegistryError> {
        let text = file::read(path)?;
        Registry::parse_unchecked(&text, path)
    }

    /// This registry if it breaks no rule, or every violation.
    pub fn checked(self) -> Result<Registry, RegistryError> {
        let violations = self.violations();
        if violations.is_empty() {
            Ok(self)
        } else {
            Err(RegistryError::invalid(&self.origin, violations))
        }
    }

    /// Every rule this registry breaks (all of them, in file order), so a reviewer fixes a file in
    /// one pass instead of one error per run.
    pub fn violations(&self) -> Vec<Violation> {
        rules::check(self)
    }

    /// The path this registry was read from, for naming it in messages.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// The address every module's first version is published at.
    pub fn genesis(&self) -> Address {
        self.genesis
    }

    /// Modules by name, in name order (deterministic for every node and every run).
    pub fn modules(&self) -> impl Iterator<Item = (&str, &ModuleEntry)> {
        self.modules.iter().map(|(name, entry)| (name.as_str(), entry))
    }

    pub fn module(&self, name: &str) -> Option<&ModuleEntry> {
        self.modules.get(name)
    }

    pub fn versions_of(&self, name: &str) -> Option<&[ModuleVersion]> {
        self.modules.get(name).map(ModuleEntry::versions)
    }

    /// The version that upstream modules must import.
    pub fn newest(&self, name: &str) -> Option<&ModuleVersion> {
        self.modules.get(name).and_then(ModuleEntry::newest)
    }

    /// The registry's record of a published module, with the name borrowed from the registry so
    /// the answer can outlive the id it was asked with.
    pub fn lookup(&self, id: &ModuleId) -> Option<(&str, &ModuleVersion)> {
        let (name, entry) = self.modules.get_key_value(id.name.as_str())?;
        let version = entry.versions.iter().find(|v| v.address == id.address)?;
        Some((name.as_str(), version))
    }

    /// Whether writes to this module version must be refused. A module the registry does not know
    /// is not a versioned stdlib module, so nothing here closes it.
    pub fn is_closed(&self, id: &ModuleId) -> bool {
        let retired = self.modules.get(id.name.as_str()).is_some_and(ModuleEntry::is_retired);
        self.lookup(id).is_some_and(|(_, v)| v.closed || retired)
    }

    /// The module ids a release must contain: every version released at or before it (old
    /// versions stay published for reads and migration).
    pub fn expected_ids(&self, release: ReleaseName) -> BTreeSet<ModuleId> {
        self.modules
            .iter()
            .flat_map(|(name, entry)| entry.versions.iter().filter(move |v| v.release <= release).map(|v| v.id(name)))
            .collect()
    }

    /// The address the next new version will get: one past the highest address allocated so far
    /// (genesis included), so that the sequence stays gap-free.
    pub fn next_address(&self) -> Result<Address, RegistryError> {
        let highest =
            self.modules.values().flat_map(|e| e.versions.iter().map(|v| v.address)).fold(self.genesis, Ord::max);
        match to_u64(highest).and_then(|n| n.checked_add(1)) {
            Some(next) if next <= RESERVED_END => Ok(Address::from_u64(next)),
            Some(next) => Err(RegistryError::Exhausted { path: self.origin.clone(), next: format!("{:#x}", next) }),
            None => Err(RegistryError::Exhausted { path: self.origin.clone(), next: format!("{highest} + 1") }),
        }
    }

    /// Publishes a new version of an existing module at the next address, for a release whose
    /// layout change breaks it: the previous newest version becomes its predecessor and is closed.
    /// The registry is unchanged on error.
    pub fn bump(&mut self, name: &str, release: ReleaseName) -> Result<ModuleVersion, RegistryError> {
        self.ensure_valid()?;
        let path = || self.origin.clone();
        let entry = self
            .modules
            .get(name)
            .ok_or_else(|| RegistryError::UnknownModule { path: path(), name: name.to_string() })?;
        if entry.retired {
            return Err(RegistryError::Retired { path: path(), name: name.to_string() });
        }
        let newest = entry.newest().ok_or_else(|| {
            RegistryError::invalid(
                &self.origin,
                vec![Violation::new(rules::SYNTAX, None, format!("{name} has no versions"))],
            )
        })?;
        if release <= newest.release {
            return Err(RegistryError::StaleRelease {
                path: path(),
                name: name.to_string(),
                release,
                newest: newest.release,
                address: newest.address,
            });
        }
        if let Some(later) = self.later_versions().filter(|v| v.release > release).max_by_key(|v| v.release) {
            return Err(RegistryError::OutOfOrder {
                path: path(),
                release,
                later: later.release,
                address: later.address,
            });
        }
        let version =
            ModuleVersion { address: self.next_address()?, release, predecessor: Some(newest.address), closed: false };

        let mut next = self.clone();
        if let Some(entry) = next.modules.get_mut(name) {
            if let Some(previous) = entry.versions.last_mut() {
                previous.closed = true;
            }
            entry.versions.push(version.clone());
        }
        next.lines.modules.entry(name.to_string()).or_default().versions.push(None);
        next.ensure_valid()?;
        *self = next;
        Ok(version)
    }

    /// Registers a brand-new module, whose first version is published at genesis like every first
    /// version. The registry is unchanged on error.
    pub fn add_module(&mut self, name: &str, release: ReleaseName) -> Result<ModuleVersion, RegistryError> {
        self.ensure_valid()?;
        if !identifier::is_valid(name) {
            return Err(RegistryError::BadName { path: self.origin.clone(), name: name.to_string() });
        }
        if self.modules.contains_key(name) {
            return Err(RegistryError::ModuleExists { path: self.origin.clone(), name: name.to_string() });
        }
        let version = ModuleVersion { address: self.genesis, release, predecessor: None, closed: false };
        let mut next = self.clone();
        next.modules.insert(name.to_string(), ModuleEntry { versions: vec![version.clone()], retired: false });
        next.lines.modules.insert(name.to_string(), ModuleLines { versions: vec![None], ..ModuleLines::default() });
        next.ensure_valid()?;
        *self = next;
        Ok(version)
    }

    /// Checks that a built release and the registry agree (rule `release-agreement`): every module
    /// in the release is a registry version released at or before it, and every registry version
    /// released at or before it is in the release. Catches a module built at the wrong address or
    /// a version dropped from a release while its data is still on chain.
    pub fn check_release(&self, release: ReleaseName, modules: &[ModuleId]) -> Vec<Violation> {
        rules::check_release(self, release, modules)
    }

    fn ensure_valid(&self) -> Result<(), RegistryError> {
        let violations = self.violations();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(RegistryError::invalid(&self.origin, violations))
        }
    }

    /// Versions that took an address from the sequence (every version but a module's first).
    fn later_versions(&self) -> impl Iterator<Item = &ModuleVersion> {
        self.modules.values().flat_map(|e| e.versions.iter().skip(1))
    }

    fn version_line(&self, module: &str, index: usize) -> Option<usize> {
        self.lines.modules.get(module).and_then(|m| m.versions.get(index).copied().flatten())
    }

    fn module_line(&self, module: &str) -> Option<usize> {
        self.lines.modules.get(module).and_then(|m| m.header)
    }
}

/// An address as a number, if it fits in 64 bits (every reserved address does).
fn to_u64(address: Address) -> Option<u64> {
    let low: [u8; 8] = address.as_bytes32().get(24..)?.try_into().ok()?;
    (address.significant_bytes() <= 8).then(|| u64::from_be_bytes(low))
}

fn in_range(address: Address) -> bool {
    address <= Address::from_u64(RESERVED_END)
}

#[cfg(test)]
mod tests;
