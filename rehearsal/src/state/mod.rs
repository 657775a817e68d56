//! The state a rehearsal reads, from any of its sources, behind one streaming interface.
//!
//! A source is recognised from its content ([`open`]): our own snapshot ([`snapshot`]), the JSON
//! Lines interchange format any chain's exporter can write ([`jsonl`]), or a Diem/Libra-family
//! backup directory ([`diem`]). Each streams its resources once ([`StateSource::resources`]),
//! never holding the state, and says where every resource came from ([`Origin`]) so that a
//! problem names the file and the byte offset or line. What cannot be read safely is an error
//! ([`StateError`]); what can be skipped safely is skipped, counted and reported ([`Problems`]),
//! never dropped silently.

pub mod detect;
pub mod diem;
pub mod duplicates;
pub mod error;
pub mod jsonl;
pub mod problems;
pub mod snapshot;

pub use detect::{open, Format, OpenOptions};
pub use error::StateError;
pub use problems::{Problem, ProblemKind, Problems};

use binary_format::{AddressLength, Module};
use migrations::{AccountAddress, StructTag};
use serde::Serialize;
use std::fmt;
use std::path::Path;
use std::rc::Rc;

/// Where in its file an item of the state was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The byte offset of its record.
    Byte(u64),
    /// Its line, from 1.
    Line(u64),
    /// Its position among the file's resources, from 1 (a format that checks its bytes whole).
    Record(u64),
}

/// Where an item of the state was read: the file and the place in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Rc<Path>,
    pub at: At,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            At::Byte(offset) => write!(f, "{} at byte {offset}", self.file.display()),
            At::Line(line) => write!(f, "{}:{line}", self.file.display()),
            At::Record(n) => write!(f, "{} resource {n}", self.file.display()),
        }
    }
}

/// One resource of the state.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub account: AccountAddress,
    pub tag: &'a StructTag,
    pub bytes: &'a [u8],
    pub origin: &'a Origin,
}

/// One module the state holds (Diem-family chains keep their framework's code in state).
#[derive(Debug, Clone, Copy)]
pub struct ModuleBytes<'a> {
    pub bytes: &'a [u8],
    pub origin: &'a Origin,
}

/// What the source needs of the release the state was written with: its address width (keys
/// of JSON Lines are read with it) and its modules (a Libra-era backup's resource keys are
/// hashes of struct tags, resolved by hashing the tags these modules can form).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub width: AddressLength,
    pub modules: &'a [&'a Module],
}

/// The chain's own state root, where the format has one, and whether it was recomputed equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainRoot {
    /// The root the source states (hex).
    pub expected: String,
    /// Whether the resources hash to it (a source is refused when they do not).
    pub verified: bool,
    /// How it was computed: "diem sparse Merkle tree, DIEM:: hashes", ...
    pub scheme: String,
}

/// What a source is, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    /// `move-devnet-snapshot`, `jsonl` or `diem-backup`.
    pub format: &'static str,
    /// The file or directory read.
    pub path: String,
    /// Details of the format: the backup's era, the snapshot's height, compression.
    pub detail: String,
    /// Address width of the state's keys, when the source states it.
    #[serde(skip)]
    pub width: Option<AddressLength>,
    /// The chain's own root, where the format has one.
    pub chain_root: Option<ChainRoot>,
    /// The snapshot's height and its chain parameters (kept when the migrated state is written
    /// out, so that the devnet imports it as the chain it came from).
    #[serde(skip)]
    pub snapshot: Option<(u64, serde_json::Value)>,
}

/// Called with each resource; an error stops the stream.
pub type ResourceSink<'a> = &'a mut dyn FnMut(Resource<'_>) -> Result<(), StateError>;

/// Called with each module.
pub type ModuleSink<'a> = &'a mut dyn FnMut(ModuleBytes<'_>) -> Result<(), StateError>;

/// A state to rehearse on, streamed.
pub trait StateSource {
    /// What the source is.
    fn info(&self) -> SourceInfo;

    /// Every module the state holds (none for formats without code). May read the whole input.
    fn modules(&mut self, visit: ModuleSink<'_>) -> Result<(), StateError>;

    /// Every resource, once. A source that checks a root checks it before the first resource.
    /// What it skips is recorded in `problems`.
    fn resources(
        &mut self,
        context: &Context<'_>,
        visit: ResourceSink<'_>,
        problems: &mut Problems,
    ) -> Result<(), StateError>;
}
