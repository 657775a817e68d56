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

use binary_format::{identifier, Address};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Largest declarations file read.
pub const MAX_DECLARATIONS_FILE: u64 = 16 << 20;

/// Which accounts hold the struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The system account 0x0 only: migrated in the block the release activates.
    System,
    /// User accounts: migrated in chunks over blocks.
    Users,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransformKind {
    /// Compiled from the layout diff (with the declared defaults and renames).
    Derived,
    /// A Rust function registered under `handler`.
    HandWritten,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub id: String,
    /// The release that activates the migration, as the checker names it (`v2`, `7.0.0`).
    pub release: String,
    pub module: String,
    pub struct_name: String,
    pub from: Address,
    pub to: Address,
    pub scope: Scope,
    pub transform: TransformKind,
    /// New field name -> value literal.
    pub defaults: BTreeMap<String, String>,
    /// New field name -> old field name.
    pub renames: BTreeMap<String, String>,
    pub handler: Option<String>,
    /// Line of the entry in the file.
    pub line: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DeclarationsError {
    #[error(transparent)]
    Input(#[from] input_files::InputError),
    #[error("{}", .problems.iter().map(|(line, m)| format!("{}:{line}: {m}", .path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, problems: Vec<(usize, String)> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    migration: Vec<toml::Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    release: String,
    module: String,
    #[serde(rename = "struct")]
    struct_name: String,
    from: String,
    to: String,
    scope: Scope,
    transform: TransformKind,
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    #[serde(default)]
    renames: BTreeMap<String, String>,
    handler: Option<String>,
}

/// The declarations of a file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declarations {
    pub entries: Vec<Declaration>,
    pub origin: PathBuf,
}

/// Longest release name a declaration may give.
pub const MAX_RELEASE_LABEL: usize = 128;

/// Whether `s` can name a release: what a folder or file name of a release may reasonably be.
pub fn is_release_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_RELEASE_LABEL
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
}

impl Declaration {
    /// Whether the struct keeps its module id and changes layout where it stands.
    pub fn is_in_place(&self) -> bool {
        self.from == self.to
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |t| t.bytes().filter(|&b| b == b'\n').count() + 1)
}

impl Declarations {
    /// Reads and parses a declarations file (a regular file of at most
    /// [`MAX_DECLARATIONS_FILE`] bytes).
    pub fn load(path: &Path) -> Result<Declarations, DeclarationsError> {
        let text = input_files::read_to_string(path, input_files::Kind::new("declarations", MAX_DECLARATIONS_FILE))?;
        Self::parse(&text, path)
    }

    /// Parses and checks every entry; all problems are reported together.
    pub fn parse(text: &str, origin: &Path) -> Result<Declarations, DeclarationsError> {
        let invalid = |problems| DeclarationsError::Invalid { path: origin.to_path_buf(), problems };
        let file: File = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            invalid(vec![(line, e.message().trim().to_owned())])
        })?;
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        let mut ids = BTreeSet::new();
        for spanned in file.migration {
            let line = line_of(text, spanned.span().start);
            let e = spanned.into_inner();
            let mut bad = |m: String| problems.push((line, format!("migration `{}`: {m}", e.id)));
            if e.id.is_empty() || !e.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                bad("an id is letters, digits, `-` and `_`".to_owned());
            }
            if !ids.insert(e.id.clone()) {
                bad("the id is declared twice".to_owned());
            }
            if !is_release_label(&e.release) {
                bad(format!(
                    "release `{}` is not a release name: 1 to {MAX_RELEASE_LABEL} letters, digits, `.`, `_`, `+` and `-`",
                    e.release
                ));
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
            match (e.transform, &e.handler) {
                (TransformKind::HandWritten, None) => bad("a hand-written transform names its `handler`".to_owned()),
                (TransformKind::Derived, Some(_)) => bad("a derived transform has no `handler`".to_owned()),
                _ => {}
            }
            if e.transform == TransformKind::HandWritten && !(e.defaults.is_empty() && e.renames.is_empty()) {
                bad("`defaults` and `renames` are for derived transforms".to_owned());
            }
            if let (true, Some(from), Some(to)) = (is_release_label(&e.release), from, to) {
                entries.push(Declaration {
                    id: e.id,
                    release: e.release,
                    module: e.module,
                    struct_name: e.struct_name,
                    from,
                    to,
                    scope: e.scope,
                    transform: e.transform,
                    defaults: e.defaults,
                    renames: e.renames,
                    handler: e.handler,
                    line,
                });
            }
        }
        if problems.is_empty() {
            Ok(Declarations { entries, origin: origin.to_path_buf() })
        } else {
            Err(invalid(problems))
        }
    }

    /// The declarations of one release.
    pub fn of_release<'a>(&'a self, release: &'a str) -> impl Iterator<Item = &'a Declaration> + 'a {
        self.entries.iter().filter(move |d| d.release == release)
    }

    /// The declaration migrating `module::struct_name` from one version to the next.
    pub fn find(&self, module: &str, struct_name: &str, from: Address, to: Address) -> Option<&Declaration> {
        self.entries.iter().find(|d| d.module == module && d.struct_name == struct_name && d.from == from && d.to == to)
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
        assert_eq!(d.entries.len(), 2);
        assert_eq!(d.entries[0].line, 2);
        assert_eq!(d.entries[1].line, 13);
        assert_eq!(d.entries[0].defaults["height"], "0");
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
