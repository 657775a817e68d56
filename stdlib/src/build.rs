//! Building the stdlib's releases from their definitions, and the files they are shipped as.
//!
//! The build is deterministic: the same definitions give the same bytes on every machine, which
//! is what lets a test prove the committed artifacts are a fresh build.

use crate::definitions::{RELEASES, RELEASE_NAMES};
use binary_format::{text, AddressLength, DatatypeDecl, DatatypeResolver, Module, ModuleId};
use releases::containers::encode_bundle;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Diem and 0L's address length, which the stdlib keeps.
pub const ADDRESS_LENGTH: AddressLength = AddressLength::Bytes16;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("release {release}: definition of module {index}: {source}")]
    Definition { release: &'static str, index: usize, source: text::TextError },
    #[error("release {release}: module {module}: {source}")]
    Write { release: &'static str, module: ModuleId, source: binary_format::Error },
    #[error("release {release}: module {module} is defined twice")]
    Duplicate { release: &'static str, module: ModuleId },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

#[derive(Debug, Clone)]
pub struct BuiltModule {
    pub module: Module,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct BuiltRelease {
    pub name: &'static str,
    /// Sorted by module id.
    pub modules: Vec<BuiltModule>,
}

impl BuiltRelease {
    /// The release as a bundle file (BCS `Vec<Vec<u8>>`, modules in id order).
    pub fn bundle(&self) -> Vec<u8> {
        encode_bundle(&self.modules.iter().map(|m| m.bytes.clone()).collect::<Vec<_>>())
    }

    /// Path of a module's file inside the release folder: `0x1/Epoch.mv`.
    pub fn module_path(m: &Module) -> PathBuf {
        Path::new(&m.address.to_string()).join(format!("{}.mv", m.name))
    }
}

/// Declarations of every struct of a release, for the handles modules keep of each other's.
struct ReleaseResolver(BTreeMap<(ModuleId, String), DatatypeDecl>);

impl DatatypeResolver for ReleaseResolver {
    fn resolve(&self, module: &ModuleId, name: &str) -> Option<DatatypeDecl> {
        self.0.get(&(module.clone(), name.to_owned())).cloned()
    }
}

/// Number of releases defined.
pub fn release_count() -> usize {
    RELEASES.len()
}

/// Builds release `index` (0 is v1).
pub fn build_release(index: usize) -> Result<BuiltRelease, BuildError> {
    let name = RELEASE_NAMES.get(index).copied().unwrap_or("?");
    build_texts(name, RELEASES.get(index).copied().unwrap_or_default(), ADDRESS_LENGTH)
}

/// Builds a release named `name` from module definitions in the text form, with addresses of
/// `width`: how the stdlib's releases are built, and how tests build release pairs of any chain
/// shape (a 32-byte framework at `0x1`, say).
pub fn build_texts(name: &'static str, texts: &[&str], width: AddressLength) -> Result<BuiltRelease, BuildError> {
    let mut modules: BTreeMap<ModuleId, Module> = BTreeMap::new();
    for (i, t) in texts.iter().enumerate() {
        let m = text::parse_module(t).map_err(|source| BuildError::Definition { release: name, index: i, source })?;
        if modules.insert(m.id(), m.clone()).is_some() {
            return Err(BuildError::Duplicate { release: name, module: m.id() });
        }
    }
    let mut decls = BTreeMap::new();
    for m in modules.values() {
        for s in &m.structs {
            let decl = DatatypeDecl { abilities: s.abilities, type_params: s.type_params.clone() };
            decls.insert((m.id(), s.name.clone()), decl);
        }
    }
    let resolver = ReleaseResolver(decls);
    let mut built = Vec::with_capacity(modules.len());
    for (id, module) in modules {
        let bytes = binary_format::write_module(&module, width, &resolver).map_err(|source| BuildError::Write {
            release: name,
            module: id.clone(),
            source,
        })?;
        built.push(BuiltModule { module, bytes });
    }
    Ok(BuiltRelease { name, modules: built })
}

/// Builds every release, oldest first.
pub fn build_all() -> Result<Vec<BuiltRelease>, BuildError> {
    (0..release_count()).map(build_release).collect()
}

/// The files of the build, relative to the releases folder: `v1/0x1/Epoch.mv`, `v1.bundle`...
pub fn artifacts(releases: &[BuiltRelease]) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for r in releases {
        for m in &r.modules {
            files.push((Path::new(r.name).join(BuiltRelease::module_path(&m.module)), m.bytes.clone()));
        }
        files.push((PathBuf::from(format!("{}.bundle", r.name)), r.bundle()));
    }
    files
}

/// Files under `dir` that differ from the build: (path, why). Empty when the folder is exactly
/// a fresh build.
pub fn compare_artifacts(dir: &Path, releases: &[BuiltRelease]) -> Vec<(PathBuf, &'static str)> {
    let expected = artifacts(releases);
    let mut problems = Vec::new();
    for (rel, bytes) in &expected {
        match std::fs::read(dir.join(rel)) {
            Ok(found) if found == *bytes => {}
            Ok(_) => problems.push((rel.clone(), "differs from a fresh build")),
            Err(_) => problems.push((rel.clone(), "is missing")),
        }
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name().into_iter().flatten() {
        let Ok(rel) = entry.path().strip_prefix(dir) else { continue };
        let is_artifact = rel.extension().is_some_and(|e| e == "mv" || e == "bundle");
        if entry.file_type().is_file() && is_artifact && !expected.iter().any(|(p, _)| p == rel) {
            problems.push((rel.to_path_buf(), "is not part of the build"));
        }
    }
    problems
}

/// Writes the build into `dir`, removing artifacts the build no longer has.
pub fn write_artifacts(dir: &Path, releases: &[BuiltRelease]) -> Result<usize, BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let mut written = 0;
    for (rel, problem) in compare_artifacts(dir, releases) {
        if problem == "is not part of the build" {
            let path = dir.join(rel);
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    for (rel, bytes) in artifacts(releases) {
        let path = dir.join(&rel);
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // Replaced, never written through: a link planted under an artifact's name (in a
        // pull request's tree) is removed itself, and the artifact created new in its place.
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&path)(e)),
            _ => {}
        }
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(io(&path))?;
        std::io::Write::write_all(&mut file, &bytes).map_err(io(&path))?;
        written += 1;
    }
    Ok(written)
}
