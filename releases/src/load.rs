//! Loading a release: every module of a folder or container file, read with one address length
//! decided for the whole release.
//!
//! A module that does not read is reported with its origin and the error (offset included), and
//! the rest of the release still loads: a release is never silently missing a module. A `.mv`
//! that is a link is read if it leads to a regular file inside the release's folder, and is a
//! failure otherwise, as is a `.mv` that is a FIFO, a device or a socket: never skipped. A
//! release holds at most [`MAX_MODULES`] modules and [`MAX_RELEASE_FILE`] bytes of them, and its
//! failures keep the first [`MAX_FAILURE_EXAMPLES`] in full and count the rest.

use crate::containers::{self, ContainerError, ContainerKind, MAX_MODULES};
use binary_format::{AddressLength, Detail, Detection, Module, ModuleId, ParseOptions};
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest container file read (a whole framework is a few MiB), and the most bytes of modules
/// a folder's release holds.
pub const MAX_RELEASE_FILE: u64 = 256 << 20;
/// Module failures kept in full; the rest are counted ([`Failures`]).
pub const MAX_FAILURE_EXAMPLES: usize = 20;

/// Why a release could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a release: no .mv module, module bundle, Aptos release bundle or Sui snapshot ({reasons})")]
    NotARelease { path: PathBuf, reasons: String },
    #[error("{path}: the release holds no modules")]
    Empty { path: PathBuf },
    #[error("{path}: {found} modules or more, but a release holds at most {MAX_MODULES}")]
    TooManyModules { path: PathBuf, found: u64 },
    #[error("{path}: more than {MAX_RELEASE_FILE} bytes of modules, more than a release holds")]
    TooLarge { path: PathBuf },
    /// The file is not one to read (a device, a FIFO, too large): see `input_files`.
    #[error(transparent)]
    Input(#[from] input_files::InputError),
}

/// A release container file: a whole framework is a few MiB.
const RELEASE_FILE: input_files::Kind = input_files::Kind::new("release", MAX_RELEASE_FILE);
/// One module file of a release folder.
const MODULE_FILE: input_files::Kind = input_files::Kind::new("module", binary_format::limits::MAX_MODULE_SIZE as u64);

/// Why one module of a release could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleError {
    Format(binary_format::Error),
    /// Another module of the release has the same id.
    Duplicate {
        id: ModuleId,
        first: String,
    },
    NotAModule(String),
    Io(String),
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModuleError::Format(e) => write!(f, "{e}"),
            ModuleError::Duplicate { id, first } => {
                write!(f, "module {id} is also defined by {first}")
            }
            ModuleError::NotAModule(why) => write!(f, "not a module: {why}"),
            ModuleError::Io(e) => write!(f, "{e}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFailure {
    /// Where the module came from: a file path, or the container path with `#index` or
    /// `:package/module`.
    pub origin: String,
    pub error: ModuleError,
}

impl fmt::Display for ModuleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.error)
    }
}

/// The modules of a release that could not be read: the first [`MAX_FAILURE_EXAMPLES`] in full,
/// in the order found, and how many there were in all. A release of 65,535 broken modules costs
/// a count, not 65,535 messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failures {
    examples: Vec<ModuleFailure>,
    count: usize,
}

impl Failures {
    pub fn push(&mut self, failure: ModuleFailure) {
        self.count += 1;
        if self.examples.len() < MAX_FAILURE_EXAMPLES {
            self.examples.push(failure);
        }
    }

    /// Modules that could not be read, in all.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The first few, in the order found.
    pub fn examples(&self) -> &[ModuleFailure] {
        &self.examples
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ModuleFailure> {
        self.examples.iter()
    }

    /// Failures beyond the examples.
    pub fn not_shown(&self) -> usize {
        self.count - self.examples.len()
    }
}

impl<'a> IntoIterator for &'a Failures {
    type Item = &'a ModuleFailure;
    type IntoIter = std::slice::Iter<'a, ModuleFailure>;

    fn into_iter(self) -> Self::IntoIter {
        self.examples.iter()
    }
}

/// `N module(s) do not read: ORIGIN: ERROR; ...; and M more`: the examples on one line.
impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} module(s) do not read: ", self.count)?;
        for (i, e) in self.examples.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        if self.not_shown() > 0 {
            write!(f, "; and {} more", self.not_shown())?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct ReleaseModule {
    pub origin: String,
    pub bytes: Vec<u8>,
    pub module: Module,
}

#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// `None` decides the length from the modules.
    pub address_length: Option<AddressLength>,
    pub detail: Detail,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { address_length: None, detail: Detail::Signatures }
    }
}

#[derive(Debug, Clone)]
pub struct Release {
    pub source: PathBuf,
    pub kind: ContainerKind,
    pub address_length: AddressLength,
    /// How the length was decided; `None` when it was given.
    pub detection: Option<Detection>,
    /// Modules read, sorted by id.
    pub modules: Vec<ReleaseModule>,
    /// Modules that could not be read: the first few in the order found, and their count.
    pub failures: Failures,
}

impl Release {
    pub fn module(&self, id: &ModuleId) -> Option<&ReleaseModule> {
        self.modules
            .binary_search_by(|m| (m.module.address, m.module.name.as_str()).cmp(&(id.address, id.name.as_str())))
            .ok()
            .and_then(|i| self.modules.get(i))
    }

    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReleaseError + '_ {
    move |source| ReleaseError::Io { path: path.to_path_buf(), source }
}

/// What a `.mv` entry of a folder is read as.
enum Entry {
    /// A regular file, or a link to one inside the folder: the file to read.
    File(PathBuf),
    /// Anything else named `.mv`: why it is no module.
    Not(String),
}

/// What the `.mv` entry `entry` of the folder `root` (canonical) is: a link is followed only to
/// a regular file inside the folder, a special file is never opened.
fn classify(root: &Path, entry: &walkdir::DirEntry) -> Entry {
    let kind = entry.file_type();
    if kind.is_file() {
        return Entry::File(entry.path().to_path_buf());
    }
    if kind.is_symlink() {
        return match std::fs::canonicalize(entry.path()) {
            Err(e) => Entry::Not(format!("a symbolic link that leads nowhere ({e})")),
            Ok(target) if !target.starts_with(root) => {
                Entry::Not("a symbolic link to a file outside the release folder: not followed".to_owned())
            }
            Ok(target) if target.is_file() => Entry::File(target),
            Ok(_) => Entry::Not("a symbolic link to something other than a regular file".to_owned()),
        };
    }
    Entry::Not(input_files::describe(&kind).to_owned())
}

/// Collects `(origin, bytes)` of every module file under a folder, in path order: at most
/// [`MAX_MODULES`] of them and [`MAX_RELEASE_FILE`] bytes in all.
fn read_folder(dir: &Path, failures: &mut Failures) -> Result<Vec<(String, Vec<u8>)>, ReleaseError> {
    let root = std::fs::canonicalize(dir).map_err(io(dir))?;
    let mut found = Vec::new();
    let (mut modules, mut bytes_read) = (0u64, 0u64);
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| ReleaseError::Io {
            path: e.path().map_or_else(|| dir.to_path_buf(), Path::to_path_buf),
            source: e.into_io_error().unwrap_or_else(|| std::io::Error::other("file system loop")),
        })?;
        let path = entry.path();
        let named = path.extension().is_some_and(|e| e == "mv");
        if entry.file_type().is_dir() {
            continue;
        }
        if !named {
            // A link to a directory is not followed: its modules are not silently absent.
            if entry.path_is_symlink() && std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
                failures.push(ModuleFailure {
                    origin: path.display().to_string(),
                    error: ModuleError::NotAModule("a symbolic link to a directory: not followed".to_owned()),
                });
            }
            continue;
        }
        modules += 1;
        if modules > MAX_MODULES as u64 {
            return Err(ReleaseError::TooManyModules { path: dir.to_path_buf(), found: modules });
        }
        let origin = path.display().to_string();
        let file = match classify(&root, &entry) {
            Entry::File(file) => file,
            Entry::Not(why) => {
                failures.push(ModuleFailure {
                    origin,
                    error: ModuleError::NotAModule(format!("{why}, not a module file")),
                });
                continue;
            }
        };
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if size > binary_format::limits::MAX_MODULE_SIZE as u64 {
            failures.push(ModuleFailure {
                origin,
                error: ModuleError::NotAModule(format!("{size} bytes is larger than any module")),
            });
            continue;
        }
        bytes_read = bytes_read.saturating_add(size);
        if bytes_read > MAX_RELEASE_FILE {
            return Err(ReleaseError::TooLarge { path: dir.to_path_buf() });
        }
        match input_files::read(&file, MODULE_FILE) {
            Ok(bytes) if bytes.starts_with(&binary_format::version::MAGIC) => found.push((origin, bytes)),
            Ok(bytes) => {
                let why = match containers::decode(&bytes) {
                    Ok((kind, _)) => format!("it is {}; load it on its own", kind.describe()),
                    Err(_) => "it does not start with the Move magic a11ceb0b".to_owned(),
                };
                failures.push(ModuleFailure { origin, error: ModuleError::NotAModule(why) });
            }
            Err(e) => failures.push(ModuleFailure { origin, error: ModuleError::Io(e.to_string()) }),
        }
    }
    Ok(found)
}

/// The release label of a release named `name`: its file or folder name without extension. A
/// version number is not an extension: `releases/7.0.0` is `7.0.0`, `framework-7.0.0.mrb` is
/// `framework-7.0.0`, `stdlib/releases/v2` is `v2`.
pub fn label(name: &str) -> String {
    let path = std::path::Path::new(name);
    let Some(file) = path.file_name().and_then(|s| s.to_str()) else { return name.to_owned() };
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.bytes().any(|b| b.is_ascii_alphabetic()) => stem.to_owned(),
        _ => file.to_owned(),
    }
}

/// Loads a release from a folder or a container file.
pub fn load(path: &Path, options: LoadOptions) -> Result<Release, ReleaseError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let mut failures = Failures::default();
    let (kind, found) = if meta.is_dir() {
        (ContainerKind::Folder, read_folder(path, &mut failures)?)
    } else {
        let bytes = input_files::read(path, RELEASE_FILE)?;
        let (kind, found) = containers::decode(&bytes).map_err(|e| match e {
            ContainerError::NotAContainer(reasons) => ReleaseError::NotARelease { path: path.to_path_buf(), reasons },
            ContainerError::TooManyModules { found, .. } => {
                ReleaseError::TooManyModules { path: path.to_path_buf(), found }
            }
        })?;
        let display = path.display().to_string();
        let found = found
            .into_iter()
            .map(|(name, bytes)| {
                let origin = match kind {
                    ContainerKind::Module => display.clone(),
                    ContainerKind::AptosReleaseBundle => format!("{display}:{name}"),
                    _ => format!("{display}{name}"),
                };
                (origin, bytes)
            })
            .collect();
        (kind, found)
    };
    if found.is_empty() && failures.is_empty() {
        return Err(ReleaseError::Empty { path: path.to_path_buf() });
    }
    Ok(from_modules(path, kind, found, failures, options))
}

/// Reads a release from module bytes already in memory (at most [`MAX_MODULES`] of them: the
/// loaders above refuse more before reading them).
pub fn from_modules(
    source: &Path,
    kind: ContainerKind,
    found: Vec<(String, Vec<u8>)>,
    mut failures: Failures,
    options: LoadOptions,
) -> Release {
    let (address_length, detection) = match options.address_length {
        Some(length) => (length, None),
        None => {
            let d = binary_format::detect_address_length(found.iter().map(|(_, b)| b.as_slice()));
            (d.length, Some(d))
        }
    };
    let parse_options = ParseOptions::new(address_length, options.detail);
    let mut modules: Vec<ReleaseModule> = Vec::with_capacity(found.len());
    for (origin, bytes) in found {
        let read = binary_format::read_with(&bytes, &parse_options);
        match read {
            Ok(module) => modules.push(ReleaseModule { origin, bytes, module }),
            Err(e) => failures.push(ModuleFailure { origin, error: ModuleError::Format(e) }),
        }
    }
    modules.sort_by(|a, b| (a.module.address, &a.module.name).cmp(&(b.module.address, &b.module.name)));
    let mut unique: Vec<ReleaseModule> = Vec::with_capacity(modules.len());
    for m in modules {
        match unique.last() {
            Some(prev) if prev.module.id() == m.module.id() => failures.push(ModuleFailure {
                origin: m.origin,
                error: ModuleError::Duplicate { id: m.module.id(), first: prev.origin.clone() },
            }),
            _ => unique.push(m),
        }
    }
    Release { source: source.to_path_buf(), kind, address_length, detection, modules: unique, failures }
}

#[cfg(test)]
mod label_tests {
    #[test]
    fn a_version_number_is_not_an_extension() {
        for (name, label) in [
            ("stdlib/releases/v2", "v2"),
            ("releases/7.0.0", "7.0.0"),
            ("out/framework-7.0.0.mrb", "framework-7.0.0"),
            ("p019.bcs", "p019"),
            ("stdlib.mv", "stdlib"),
            (".hidden", ".hidden"),
        ] {
            assert_eq!(super::label(name), label, "{name}");
        }
    }
}
