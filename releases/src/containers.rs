//! The files releases come in, other than a folder of `.mv` files.
//!
//! - A *bundle*: BCS `Vec<Vec<u8>>` of module bytes (Diem and 0L `stdlib.mv` upgrade payloads,
//!   and our own release builds).
//! - An Aptos *release bundle* (`.mrb`): packages with their metadata and code.
//! - A Sui *framework snapshot*: `{ id, bytes, dependencies }`, alone or as a list.
//!
//! The kind is decided from the content: a file is taken to be of a kind only if it decodes as
//! that kind with every byte used and every module starting with the Move magic. Before a file
//! is decoded, its framing is walked ([`shape`]): no allocation, and a release of more than
//! [`MAX_MODULES`] modules (or a container of as many tiny entries, which decoding would
//! multiply in memory) is refused before anything is built for it.

use serde::{Deserialize, Serialize};
use std::fmt;

mod shape;

/// Most modules a release holds: a module handle index is a u16, so no module can refer to more
/// (a bound of releases, not of one module's format, so it lives here).
pub const MAX_MODULES: usize = 65_535;

/// Aptos `Any`: a typed extension payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AptosAny {
    pub type_name: String,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AptosModuleMetadata {
    pub name: String,
    pub source: Vec<u8>,
    pub source_map: Vec<u8>,
    pub extension: Option<AptosAny>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AptosPackageDep {
    pub account: [u8; 32],
    pub package_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AptosPackageMetadata {
    pub name: String,
    pub upgrade_policy: u8,
    pub upgrade_number: u64,
    pub source_digest: String,
    /// gzip of the package manifest.
    pub manifest: Vec<u8>,
    pub modules: Vec<AptosModuleMetadata>,
    pub deps: Vec<AptosPackageDep>,
    pub extension: Option<AptosAny>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AptosPackage {
    pub metadata: AptosPackageMetadata,
    pub code: Vec<Vec<u8>>,
}

/// An Aptos release bundle (`.mrb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AptosReleaseBundle {
    pub packages: Vec<AptosPackage>,
    pub source_dirs: Vec<String>,
}

/// A Sui system package snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiPackageSnapshot {
    pub id: [u8; 32],
    pub bytes: Vec<Vec<u8>>,
    pub dependencies: Vec<[u8; 32]>,
}

/// Which container a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContainerKind {
    /// One `.mv` module.
    Module,
    /// A folder of `.mv` files.
    Folder,
    /// BCS `Vec<Vec<u8>>`.
    Bundle,
    AptosReleaseBundle,
    SuiSnapshot,
}

impl ContainerKind {
    pub fn describe(self) -> &'static str {
        match self {
            ContainerKind::Module => "a single module",
            ContainerKind::Folder => "a folder of .mv files",
            ContainerKind::Bundle => "a module bundle (BCS list of modules)",
            ContainerKind::AptosReleaseBundle => "an Aptos release bundle",
            ContainerKind::SuiSnapshot => "a Sui package snapshot",
        }
    }
}

/// Module bytes found in a container, each with a name saying where it came from.
pub type Found = Vec<(String, Vec<u8>)>;

fn is_module(bytes: &[u8]) -> bool {
    bytes.starts_with(&binary_format::version::MAGIC)
}

fn all_modules(code: &[Vec<u8>]) -> bool {
    !code.is_empty() && code.iter().all(|m| is_module(m))
}

/// Why a file is not read as a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerError {
    /// No kind fits: why, for each kind.
    NotAContainer(String),
    /// A container of this kind, framed correctly, with more entries than a release holds.
    TooManyModules { kind: ContainerKind, found: u64 },
}

impl fmt::Display for ContainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerError::NotAContainer(reasons) => f.write_str(reasons),
            ContainerError::TooManyModules { kind, found } => {
                write!(f, "{} of {found} entries: a release holds at most {MAX_MODULES} modules", kind.describe())
            }
        }
    }
}

/// Decodes `bytes` as the first container kind that fits, or says why none did.
pub fn decode(bytes: &[u8]) -> Result<(ContainerKind, Found), ContainerError> {
    if is_module(bytes) {
        return Ok((ContainerKind::Module, vec![(String::new(), bytes.to_vec())]));
    }
    // Each kind's framing first, in the order kinds are tried: a kind is decoded only if its
    // framing holds, and a release of too many modules is refused before it is decoded.
    let mut reasons = Vec::new();
    let mut framed = Vec::new();
    for kind in [ContainerKind::Bundle, ContainerKind::AptosReleaseBundle, ContainerKind::SuiSnapshot] {
        match shape::entries(kind, bytes) {
            Ok(n) if n > MAX_MODULES as u64 => return Err(ContainerError::TooManyModules { kind, found: n }),
            Ok(_) => framed.push(kind),
            Err(why) => reasons.push(format!("as {}: {why}", kind.describe())),
        }
    }
    let framed = |kind: ContainerKind| framed.contains(&kind);
    let bundle = framed(ContainerKind::Bundle).then(|| bcs::from_bytes::<Vec<Vec<u8>>>(bytes));
    match bundle {
        None => {}
        Some(Ok(code)) if all_modules(&code) => {
            let found = code.into_iter().enumerate().map(|(i, m)| (format!("#{i}"), m)).collect();
            return Ok((ContainerKind::Bundle, found));
        }
        Some(Ok(_)) => reasons.push("as a module bundle: an entry does not start with the Move magic".to_owned()),
        Some(Err(e)) => reasons.push(format!("as a module bundle: {e}")),
    }
    let aptos = framed(ContainerKind::AptosReleaseBundle).then(|| bcs::from_bytes::<AptosReleaseBundle>(bytes));
    match aptos {
        None => {}
        Some(Ok(bundle)) if bundle.packages.iter().all(|p| p.code.iter().all(|m| is_module(m))) => {
            let mut found = Vec::new();
            for p in bundle.packages {
                for (i, code) in p.code.into_iter().enumerate() {
                    let name = p.metadata.modules.get(i).map_or_else(|| format!("#{i}"), |m| m.name.clone());
                    found.push((format!("{}/{name}", p.metadata.name), code));
                }
            }
            return Ok((ContainerKind::AptosReleaseBundle, found));
        }
        Some(Ok(_)) => {
            reasons.push("as an Aptos release bundle: a module does not start with the Move magic".to_owned())
        }
        Some(Err(e)) => reasons.push(format!("as an Aptos release bundle: {e}")),
    }
    let sui = framed(ContainerKind::SuiSnapshot).then(|| {
        bcs::from_bytes::<SuiPackageSnapshot>(bytes)
            .map(|s| vec![s])
            .or_else(|_| bcs::from_bytes::<Vec<SuiPackageSnapshot>>(bytes))
    });
    match sui {
        None => {}
        Some(Ok(packages)) if !packages.is_empty() && packages.iter().all(|p| all_modules(&p.bytes)) => {
            let mut found = Vec::new();
            for p in packages {
                let id = binary_format::Address::from_be_slice(&p.id).unwrap_or_default();
                for (i, code) in p.bytes.into_iter().enumerate() {
                    found.push((format!("{id}#{i}"), code));
                }
            }
            return Ok((ContainerKind::SuiSnapshot, found));
        }
        Some(Ok(_)) => reasons.push("as a Sui snapshot: a module does not start with the Move magic".to_owned()),
        Some(Err(e)) => reasons.push(format!("as a Sui snapshot: {e}")),
    }
    Err(ContainerError::NotAContainer(reasons.join("; ")))
}

/// Encodes modules as a bundle (BCS `Vec<Vec<u8>>`).
pub fn encode_bundle(modules: &[Vec<u8>]) -> Vec<u8> {
    bcs::to_bytes(modules).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_bytes(tag: u8) -> Vec<u8> {
        let mut m = binary_format::version::MAGIC.to_vec();
        m.extend_from_slice(&[6, 0, 0, 0, tag]);
        m
    }

    #[test]
    fn each_container_is_recognised_from_content() {
        let mods = vec![module_bytes(1), module_bytes(2)];
        let (kind, found) = decode(&encode_bundle(&mods)).unwrap();
        assert_eq!(kind, ContainerKind::Bundle);
        assert_eq!(found.iter().map(|f| f.1.clone()).collect::<Vec<_>>(), mods);

        let pkg = AptosPackage {
            metadata: AptosPackageMetadata {
                name: "MoveStdlib".into(),
                upgrade_policy: 1,
                upgrade_number: 3,
                source_digest: "abc".into(),
                manifest: vec![0x1f, 0x8b],
                modules: vec![AptosModuleMetadata {
                    name: "vector".into(),
                    source: vec![],
                    source_map: vec![],
                    extension: None,
                }],
                deps: vec![AptosPackageDep { account: [1; 32], package_name: "X".into() }],
                extension: Some(AptosAny { type_name: "t".into(), data: vec![1] }),
            },
            code: vec![module_bytes(3)],
        };
        let mrb = bcs::to_bytes(&AptosReleaseBundle { packages: vec![pkg], source_dirs: vec!["a".into()] }).unwrap();
        let (kind, found) = decode(&mrb).unwrap();
        assert_eq!(kind, ContainerKind::AptosReleaseBundle);
        assert_eq!(found[0].0, "MoveStdlib/vector");

        let sui =
            bcs::to_bytes(&SuiPackageSnapshot { id: [0; 32], bytes: mods.clone(), dependencies: vec![] }).unwrap();
        assert_eq!(decode(&sui).unwrap().0, ContainerKind::SuiSnapshot);

        assert_eq!(decode(&module_bytes(9)).unwrap().0, ContainerKind::Module);
    }

    #[test]
    fn garbage_is_rejected_with_every_reason() {
        let err = decode(b"not a release at all").unwrap_err().to_string();
        assert!(err.contains("module bundle") && err.contains("Aptos") && err.contains("Sui"), "{err}");
        // A bundle with a huge claimed length must not allocate it.
        assert!(decode(&[0xff, 0xff, 0xff, 0xff, 0x07, 1, 2]).is_err());
        let err = decode(b"not a release at all").unwrap_err().to_string();
        assert!(err.contains("module bundle"), "{err}");
    }
}
