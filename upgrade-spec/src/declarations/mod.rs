//! Migration declarations: which stored structs change between releases, and how their data is
//! carried over. One committed file (`stdlib/migrations.toml`) is read by both the compatibility
//! checker (a layout-breaking change is handled only when a migration is declared for it) and the
//! migrations catalogue (which attaches the transforms, checks and runs them).
//!
//! ```toml
//! [[migration]]
//! id = "epoch-v2"              # stable, never reused
//! release = "v2"               # the release that activates it: `vN` for this stdlib, or the
//!                              # name the checker gives NEW (its folder or file name without
//!                              # extension) for any other release
//! module = "Epoch"             # the module's name in the registry
//! struct = "Epoch"
//! from = "0x1"                 # the version read
//! to = "0x2"                   # the version written: the same address for an in-place
//!                              # migration (same module id, new layout)
//! scope = "system"             # system | users | both
//! transform = "derived"        # derived | hand-written
//! defaults = { height = "0" }  # derived: values of fields the new layout adds
//! renames = { total_withdrawn = "withdrawn" }   # derived: new name = old name
//! # handler = "stake_weight"   # hand-written: the registered transform's name
//! ```

use crate::release::ReleaseLabel;
use binary_format::{identifier, Address};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[cfg(feature = "toml")]
mod file;
#[cfg(feature = "toml")]
pub use file::MAX_DECLARATIONS_FILE;

/// Which accounts hold the struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The system accounts only: migrated in the block the release activates.
    System,
    /// User accounts: migrated in chunks over blocks.
    Users,
    /// Both: the system accounts at activation, user accounts in chunks.
    Both,
}

/// How a declaration's data is carried over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransformKind {
    /// Compiled from the layout diff (with the declared defaults and renames).
    Derived,
    /// A Rust function registered under `handler`.
    HandWritten,
}

/// One declared migration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// Stable, never reused: what the on-chain status records.
    pub id: String,
    /// The release that activates the migration, by its label (`v2`, `7.0.0`).
    pub release: ReleaseLabel,
    /// The module's name in the registry (its own name without one).
    pub module: String,
    /// The struct's name.
    pub struct_name: String,
    /// The module version read.
    pub from: Address,
    /// The module version written: `from` itself for an in-place migration.
    pub to: Address,
    /// Which accounts hold the struct.
    pub scope: Scope,
    /// How its data is carried over.
    pub transform: TransformKind,
    /// New field name -> value literal.
    pub defaults: BTreeMap<String, String>,
    /// New field name -> old field name.
    pub renames: BTreeMap<String, String>,
    /// Hand-written: the registered transform's name.
    pub handler: Option<String>,
    /// Line of the entry in its file (0 for declarations made in code).
    pub line: usize,
}

/// Why declarations are refused: every problem, each with its line.
#[derive(Debug, thiserror::Error)]
pub enum DeclarationsError {
    /// The file is not one to read (missing, not a regular file, too large).
    #[cfg(feature = "toml")]
    #[error(transparent)]
    Input(#[from] input_files::InputError),
    /// Entries that break the rules, each with its line.
    #[error("{}", .problems.iter().map(|(line, m)| format!("{}:{line}: {m}", .path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file (or the origin given for declarations made in code).
        path: PathBuf,
        /// (line, what is wrong).
        problems: Vec<(usize, String)>,
    },
}

/// One declaration as written, before it is checked: what a file holds, or what a node builds
/// in code. [`Declarations::check`] turns a list of them into [`Declarations`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeclaration {
    /// See [`Declaration::id`].
    pub id: String,
    /// The release's label.
    pub release: String,
    /// See [`Declaration::module`].
    pub module: String,
    /// See [`Declaration::struct_name`].
    #[serde(rename = "struct")]
    pub struct_name: String,
    /// An address such as `0x1`.
    pub from: String,
    /// An address such as `0x1`.
    pub to: String,
    /// See [`Declaration::scope`].
    pub scope: Option<Scope>,
    /// See [`Declaration::transform`].
    pub transform: Option<TransformKind>,
    /// See [`Declaration::defaults`].
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// See [`Declaration::renames`].
    #[serde(default)]
    pub renames: BTreeMap<String, String>,
    /// See [`Declaration::handler`].
    pub handler: Option<String>,
}

/// Where a declaration is found by what it migrates: (module, struct, from, to).
type Place = (String, String, Address, Address);

/// The declarations of a file, in file order, indexed by what each migrates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declarations {
    /// In file order.
    entries: Vec<Declaration>,
    /// The file they were read from.
    pub origin: PathBuf,
    /// (module, struct, from, to) -> positions in `entries`, in file order.
    index: BTreeMap<Place, Vec<usize>>,
}

impl Declaration {
    /// Whether the struct keeps its module id and changes layout where it stands.
    pub fn is_in_place(&self) -> bool {
        self.from == self.to
    }
}

impl Declarations {
    /// Checks every entry (ids, release labels, names, addresses, transforms); all problems are
    /// reported together, each with its line. Linear in the number of entries.
    pub fn check(entries: Vec<(usize, RawDeclaration)>, origin: &Path) -> Result<Declarations, DeclarationsError> {
        let mut problems = Vec::new();
        let mut checked = Vec::with_capacity(entries.len());
        let mut ids = BTreeSet::new();
        for (line, e) in entries {
            let mut bad = |m: String| problems.push((line, format!("migration `{}`: {m}", e.id)));
            if e.id.is_empty() || !e.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                bad("an id is letters, digits, `-` and `_`".to_owned());
            }
            if !ids.insert(e.id.clone()) {
                bad("the id is declared twice".to_owned());
            }
            let release = ReleaseLabel::new(&e.release);
            if let Err(why) = &release {
                bad(why.to_string());
            }
            for (what, name) in [("module", &e.module), ("struct", &e.struct_name)] {
                if !identifier::is_valid(name) {
                    bad(format!("`{name}` is not a valid {what} name"));
                }
            }
            for name in e.defaults.keys().chain(e.renames.keys()).chain(e.renames.values()) {
                if !identifier::is_valid(name) {
                    bad(format!("`{name}` is not a valid field name"));
                }
            }
            let address = |s: &str| s.starts_with("0x").then(|| Address::parse_hex(s)).flatten();
            let (from, to) = (address(&e.from), address(&e.to));
            if from.is_none() || to.is_none() {
                bad("`from` and `to` are addresses such as \"0x1\"".to_owned());
            }
            let (Some(scope), Some(transform)) = (e.scope, e.transform) else {
                bad("`scope` (system, users or both) and `transform` (derived or hand-written) are required".to_owned());
                continue;
            };
            match (transform, &e.handler) {
                (TransformKind::HandWritten, None) => bad("a hand-written transform names its `handler`".to_owned()),
                (TransformKind::Derived, Some(_)) => bad("a derived transform has no `handler`".to_owned()),
                _ => {}
            }
            if transform == TransformKind::HandWritten && !(e.defaults.is_empty() && e.renames.is_empty()) {
                bad("`defaults` and `renames` are for derived transforms".to_owned());
            }
            if let (Ok(release), Some(from), Some(to)) = (release, from, to) {
                checked.push(Declaration {
                    id: e.id,
                    release,
                    module: e.module,
                    struct_name: e.struct_name,
                    from,
                    to,
                    scope,
                    transform,
                    defaults: e.defaults,
                    renames: e.renames,
                    handler: e.handler,
                    line,
                });
            }
        }
        if !problems.is_empty() {
            return Err(DeclarationsError::Invalid { path: origin.to_path_buf(), problems });
        }
        Ok(Declarations::indexed(checked, origin))
    }

    /// Declarations made in code (or edited: see [`Declarations::edited`]), indexed.
    pub fn new(entries: Vec<Declaration>, origin: &Path) -> Declarations {
        Declarations::indexed(entries, origin)
    }

    /// These declarations with `edit` applied to the list, indexed again.
    pub fn edited(&self, edit: impl FnOnce(&mut Vec<Declaration>)) -> Declarations {
        let mut entries = self.entries.clone();
        edit(&mut entries);
        Declarations::indexed(entries, &self.origin)
    }

    /// Every declaration, in file order.
    pub fn entries(&self) -> &[Declaration] {
        &self.entries
    }

    /// The declaration with this id.
    pub fn by_id(&self, id: &str) -> Option<&Declaration> {
        self.entries.iter().find(|d| d.id == id)
    }

    fn indexed(entries: Vec<Declaration>, origin: &Path) -> Declarations {
        let mut index: BTreeMap<Place, Vec<usize>> = BTreeMap::new();
        for (i, d) in entries.iter().enumerate() {
            index.entry((d.module.clone(), d.struct_name.clone(), d.from, d.to)).or_default().push(i);
        }
        Declarations { entries, origin: origin.to_path_buf(), index }
    }

    /// The declarations of one release.
    pub fn of_release<'a>(&'a self, release: &'a ReleaseLabel) -> impl Iterator<Item = &'a Declaration> + 'a {
        self.entries.iter().filter(move |d| &d.release == release)
    }

    /// The positions (in [`Declarations::entries`]) of every declaration migrating
    /// `module::struct_name` from one version to the next, in file order. O(log n).
    pub fn positions_at(
        &self,
        module: &str,
        struct_name: &str,
        from: Address,
        to: Address,
    ) -> impl Iterator<Item = usize> + '_ {
        self.index.get(&(module.to_owned(), struct_name.to_owned(), from, to)).into_iter().flatten().copied()
    }

    /// Every declaration migrating `module::struct_name` from one version to the next, in file
    /// order. O(log n).
    pub fn all_at(
        &self,
        module: &str,
        struct_name: &str,
        from: Address,
        to: Address,
    ) -> impl Iterator<Item = &Declaration> {
        self.index
            .get(&(module.to_owned(), struct_name.to_owned(), from, to))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.entries.get(i))
    }

    /// The first declaration migrating `module::struct_name` from one version to the next.
    pub fn find(&self, module: &str, struct_name: &str, from: Address, to: Address) -> Option<&Declaration> {
        self.all_at(module, struct_name, from, to).next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[migration]]
id = "epoch-v2"
release = "v2"
module = "Epoch"
struct = "Epoch"
from = "0x1"
to = "0x2"
scope = "system"
transform = "derived"
defaults = { height = "0" }

[[migration]]
id = "stake-v3"
release = "v3"
module = "Stake"
struct = "Stake"
from = "0x5"
to = "0x6"
scope = "users"
transform = "hand-written"
handler = "stake_weight"
"#;

    #[test]
    fn parses_with_lines() {
        let d = Declarations::parse(GOOD, Path::new("m.toml")).unwrap();
        assert_eq!(d.entries().len(), 2);
        assert_eq!(d.entries()[0].line, 2);
        assert_eq!(d.entries()[1].line, 13);
        assert_eq!(d.entries()[0].defaults["height"], "0");
        assert!(d.find("Epoch", "Epoch", Address::from_u64(1), Address::from_u64(2)).is_some());
        assert!(d.find("Epoch", "Epoch", Address::from_u64(2), Address::from_u64(3)).is_none());
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let bad = GOOD.replace("handler = \"stake_weight\"", "").replace("id = \"stake-v3\"", "id = \"epoch-v2\"");
        let err = Declarations::parse(&bad, Path::new("m.toml")).unwrap_err().to_string();
        assert!(err.contains("m.toml:13: migration `epoch-v2`: the id is declared twice"), "{err}");
        assert!(err.contains("names its `handler`"), "{err}");
        let err = Declarations::parse("[[migration]]\nid = 1\n", Path::new("m.toml")).unwrap_err().to_string();
        assert!(err.starts_with("m.toml:2:"), "{err}");
        let err = Declarations::parse("[[migration]]\nbogus = 1\n", Path::new("m.toml")).unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
