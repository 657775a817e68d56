//! The state a rehearsal reads, from any of its sources, behind one streaming interface.
//!
//! A source is recognised from its content ([`open`]): our own snapshot ([`snapshot`]), the JSON
//! Lines interchange format any chain's exporter can write ([`jsonl`]), a Diem/Libra-family
//! backup directory ([`diem`]), or an Aptos-based chain's backup ([`aptos`]). Each streams its entries once ([`StateSource::entries`]: a
//! canonical state key and its value), never holding the state, and says where every entry came
//! from ([`Origin`]) so that a problem names the file and the byte offset or line. What cannot be read safely is an error
//! ([`StateError`]); what can be skipped safely is skipped, counted and reported ([`Problems`]),
//! never dropped silently.

pub mod aptos;
pub mod detect;
pub mod diem;
pub mod error;
pub mod jsonl;
pub mod lines;
pub mod problems;
pub mod snapshot;
pub mod tables;

pub use detect::{open, Format, OpenOptions};
pub use error::StateError;
pub use problems::{Problem, ProblemKind, Problems};

use binary_format::{AddressLength, Module};
use migrations::{AccountAddress, StructTag, TypeTag};
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

/// One resource of the state, as a source that reads resources has it.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub account: AccountAddress,
    pub tag: &'a StructTag,
    pub bytes: &'a [u8],
    pub origin: &'a Origin,
}

/// One entry of the state: a canonical state key ([`migrations::state_key`]), its value, and its
/// extra (a chain's metadata of the value, carried unchanged; empty for most sources).
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
    pub extra: &'a [u8],
    pub origin: &'a Origin,
}

impl Resource<'_> {
    /// Hands this resource to `visit` as an entry (its canonical key built in `buf`).
    pub fn visit_as_entry(&self, buf: &mut Vec<u8>, visit: EntrySink<'_>) -> Result<(), StateError> {
        buf.clear();
        buf.push(migrations::KeyKind::Resource as u8);
        self.tag.write_bcs(buf);
        buf.extend_from_slice(self.account.as_bytes());
        visit(Entry { key: buf, value: self.bytes, extra: &[], origin: self.origin })
    }
}

/// One module the state holds (Diem-family chains keep their framework's code in state).
#[derive(Debug, Clone, Copy)]
pub struct ModuleBytes<'a> {
    pub bytes: &'a [u8],
    pub origin: &'a Origin,
}

/// What the source needs of the release the state was written with: its address width (keys
/// of JSON Lines are read with it) and its modules (a Libra-era backup's resource keys are
/// hashes of struct tags, resolved by hashing the tags these modules can form); and how much
/// memory one value may take when a source builds it whole.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub width: AddressLength,
    pub modules: &'a [&'a Module],
    /// Bytes of memory one decoded value may take (a Diem backup decodes an unnamed account's
    /// resources for the addresses they mention): the state declares each value's length, so
    /// a value past this is counted ([`ProblemKind::ValueBudget`]), never built.
    pub value_budget: usize,
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
    /// What a root recomputed equal does not establish, in sentences: the records hash to the
    /// root the source states, but who stated it (a signed ledger info, a proof) may not have
    /// been read. A forged backup that is consistent with itself verifies; this says how far
    /// that goes.
    pub not_verified: Vec<String>,
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

/// A table's key and value types, as a source states them (an exporter that knows them, or a
/// `--table-types` file): state holds a table's items without their types, and the rehearsal
/// otherwise finds them from the `Table<K, V>` fields of the values that hold the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableTypes {
    /// The table's handle.
    pub handle: AccountAddress,
    /// The type of its keys.
    pub key: TypeTag,
    /// The type of its values.
    pub value: TypeTag,
    /// Where it was stated.
    pub origin: Origin,
}

/// Called with each entry; an error stops the stream.
pub type EntrySink<'a> = &'a mut dyn FnMut(Entry<'_>) -> Result<(), StateError>;

/// Called with each module.
pub type ModuleSink<'a> = &'a mut dyn FnMut(ModuleBytes<'_>) -> Result<(), StateError>;

/// A state to rehearse on, streamed.
pub trait StateSource {
    /// What the source is.
    fn info(&self) -> SourceInfo;

    /// Every module the state holds (none for formats without code). May read the whole input.
    fn modules(&mut self, visit: ModuleSink<'_>) -> Result<(), StateError>;

    /// Every entry, once, in any order. A source that checks a root checks it before the first
    /// entry, or as it reads them: an error after entries were handed on (a root that does not
    /// match) means that everything handed on must be discarded. What it skips is recorded in
    /// `problems`.
    fn entries(
        &mut self,
        context: &Context<'_>,
        visit: EntrySink<'_>,
        problems: &mut Problems,
    ) -> Result<(), StateError>;

    /// Asks the next [`StateSource::entries`] to collect the modules on its way, so that
    /// [`StateSource::modules`] after it reads nothing again; says whether it will. A rehearsal
    /// that takes the old release from the state then sorts first and reads the input once, not
    /// twice. A source whose entries need the modules (a Diem backup decodes accounts with them)
    /// says no.
    fn collect_modules_with_entries(&mut self) -> bool {
        false
    }

    /// The table types the source stated, once [`StateSource::entries`] has run (none for
    /// formats that cannot state them).
    fn table_types(&self) -> Vec<TableTypes> {
        Vec::new()
    }

    /// The source as a snapshot file in canonical key order, when it is one: the rehearsal then
    /// reads it in place instead of sorting a copy.
    fn in_place(&self) -> Option<&::snapshot::Snapshot> {
        None
    }
}
