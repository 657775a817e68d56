//! Table types stated outright ([`TableTypes`]): by a JSON Lines exporter that knows them (its
//! table item lines' `key_type` and `value_type`), or by the user in a `--table-types` file for
//! tables whose owner the state does not hold.
//!
//! Whoever states them, one judgement: a handle's types are kept once, stating the same types
//! again is fine, and stating other types for a handle already stated is a conflict (which
//! types the table has cannot be told, so neither is kept). A `--table-types` file is JSON Lines
//! of `{"handle","key_type","value_type"}` (gzip accepted, blank lines skipped, other fields
//! ignored), read whole before the rehearsal: any line that does not read is an error naming
//! the file and the line.

use super::lines::{next_line, open_lines, read_error, shown, BOM};
use super::{At, Origin, StateError, TableTypes};
use binary_format::AddressLength;
use migrations::{AccountAddress, KeyError, TypeTag};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

/// What a `--table-types` file is to [`input_files`]: up to 256 MiB, streamed.
pub const TABLE_TYPES_FILE: input_files::Kind = input_files::Kind::new("table types", 256 << 20);
/// The longest line of a `--table-types` file: a handle and two types of at most
/// [`migrations::key::MAX_TAG_TEXT_LEN`] bytes each, with room for JSON's escapes.
pub const MAX_TYPES_LINE: usize = 64 << 10;
/// The most tables whose types one source (or one file) states: what is kept of each is its
/// handle, where it was stated and a share of types that consecutive lines reuse, so this bounds
/// the memory to some 100 MiB.
pub const MAX_STATED_TABLES: usize = 1 << 20;

/// A key type and a value type, shared by the tables stated with them.
pub(crate) type Types = Rc<(TypeTag, TypeTag)>;

/// Why the types stated for a table were not kept.
#[derive(Debug)]
pub(crate) enum NotKept {
    /// Other types were stated for the handle before, where `origin` says.
    Restated { before: Types, origin: Origin },
    /// More than [`MAX_STATED_TABLES`] tables.
    TooMany,
}

impl NotKept {
    /// What to tell of it, for the table `handle` stated with `types` here.
    pub(crate) fn message(&self, handle: &AccountAddress, types: &Types) -> String {
        match self {
            NotKept::Restated { before, origin } => format!(
                "table {handle} is stated with key type {} and value type {} at {origin}, and with {} and {} here: which types it has cannot be told",
                before.0, before.1, types.0, types.1
            ),
            NotKept::TooMany => {
                format!("the types of more than {MAX_STATED_TABLES} tables are stated: those of table {handle} are not kept")
            }
        }
    }
}

#[derive(Debug)]
struct Stated {
    types: Types,
    origin: Origin,
    /// Other types were stated for it too: none is kept.
    conflicting: bool,
}

/// The table types stated so far, by handle.
#[derive(Debug, Default)]
pub(crate) struct StatedTables {
    by_handle: BTreeMap<AccountAddress, Stated>,
}

impl StatedTables {
    /// Records that `handle` has `types`, stated at `origin`.
    pub(crate) fn state(&mut self, handle: AccountAddress, types: &Types, origin: &Origin) -> Result<(), NotKept> {
        if let Some(stated) = self.by_handle.get_mut(&handle) {
            if Rc::ptr_eq(&stated.types, types) || stated.types == *types {
                return Ok(());
            }
            stated.conflicting = true;
            return Err(NotKept::Restated { before: Rc::clone(&stated.types), origin: stated.origin.clone() });
        }
        if self.by_handle.len() >= MAX_STATED_TABLES {
            return Err(NotKept::TooMany);
        }
        self.by_handle.insert(handle, Stated { types: Rc::clone(types), origin: origin.clone(), conflicting: false });
        Ok(())
    }

    /// Every table stated without conflict, by handle.
    pub(crate) fn table_types(&self) -> Vec<TableTypes> {
        self.by_handle
            .iter()
            .filter(|(_, s)| !s.conflicting)
            .map(|(handle, s)| TableTypes {
                handle: *handle,
                key: s.types.0.clone(),
                value: s.types.1.clone(),
                origin: s.origin.clone(),
            })
            .collect()
    }
}

/// Reads stated types, parsing a pair of texts once while consecutive lines repeat it.
#[derive(Debug, Default)]
pub(crate) struct TypesReader {
    last: Option<(String, String, Types)>,
}

/// Which of the two types did not read.
#[derive(Debug)]
pub(crate) struct BadTypes {
    pub(crate) field: &'static str,
    pub(crate) error: KeyError,
}

impl TypesReader {
    /// The key and value types read from their texts, with addresses of `width`.
    pub(crate) fn read(&mut self, key: &str, value: &str, width: AddressLength) -> Result<Types, BadTypes> {
        if let Some((k, v, types)) = &self.last {
            if k == key && v == value {
                return Ok(Rc::clone(types));
            }
        }
        let parse = |text: &str, field| TypeTag::parse(text, width).map_err(|error| BadTypes { field, error });
        let types = Rc::new((parse(key, "key_type")?, parse(value, "value_type")?));
        self.last = Some((key.to_owned(), value.to_owned(), Rc::clone(&types)));
        Ok(types)
    }
}

/// One line of a `--table-types` file.
#[derive(Deserialize)]
struct TypesLine<'a> {
    #[serde(borrow)]
    handle: Cow<'a, str>,
    #[serde(borrow)]
    key_type: Cow<'a, str>,
    #[serde(borrow)]
    value_type: Cow<'a, str>,
}

/// Reads a `--table-types` file with addresses of `width`: the tables it states, by handle.
/// A line that does not read, or states other types for a handle than an earlier line, is an
/// error naming the file and the line ([`StateError::BadLine`], bad input).
pub fn read_table_types(path: &Path, width: AddressLength) -> Result<Vec<TableTypes>, StateError> {
    let (mut lines, _) = open_lines(path, TABLE_TYPES_FILE)?;
    let file: Rc<Path> = Rc::from(path);
    let bad = |line: u64, reason: String| StateError::BadLine { path: path.to_path_buf(), line, reason };
    let mut stated = StatedTables::default();
    let mut types = TypesReader::default();
    let mut buf = Vec::new();
    let mut n = 0u64;
    while let Some(fits) = next_line(&mut *lines, &mut buf, MAX_TYPES_LINE).map_err(|e| read_error(path, n + 1, e))? {
        n += 1;
        if !fits {
            return Err(bad(n, format!("longer than {MAX_TYPES_LINE} bytes")));
        }
        let line = if n == 1 { buf.strip_prefix(&BOM).unwrap_or(&buf) } else { &buf }.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let TypesLine { handle, key_type, value_type } = serde_json::from_slice(line).map_err(|e| {
            bad(
                n,
                format!(
                    "not a {{\"handle\",\"key_type\",\"value_type\"}} object of strings ({e}): {}",
                    shown(&String::from_utf8_lossy(line))
                ),
            )
        })?;
        let handle = AccountAddress::parse(&handle, width).map_err(|e| bad(n, format!("handle: {e}")))?;
        let stated_types = types
            .read(&key_type, &value_type, width)
            .map_err(|BadTypes { field, error }| bad(n, format!("{field}: {error}")))?;
        let origin = Origin { file: Rc::clone(&file), at: At::Line(n) };
        stated.state(handle, &stated_types, &origin).map_err(|e| bad(n, e.message(&handle, &stated_types)))?;
    }
    Ok(stated.table_types())
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: AddressLength = AddressLength::Bytes32;

    fn types(k: &str, v: &str) -> Types {
        Rc::new((TypeTag::parse(k, W).unwrap(), TypeTag::parse(v, W).unwrap()))
    }

    fn at(line: u64) -> Origin {
        Origin { file: Rc::from(Path::new("f")), at: At::Line(line) }
    }

    #[test]
    fn a_handle_stated_again_with_the_same_types_is_kept_and_with_others_is_dropped() {
        let mut stated = StatedTables::default();
        let (one, two) = (AccountAddress::from_u64(1, W), AccountAddress::from_u64(2, W));
        stated.state(two, &types("u64", "address"), &at(1)).unwrap();
        stated.state(one, &types("u64", "vector<u8>"), &at(2)).unwrap();
        // The same types, parsed again (another share): fine.
        stated.state(one, &types("u64", "vector<u8>"), &at(3)).unwrap();
        let e = stated.state(two, &types("u8", "address"), &at(4)).unwrap_err();
        let message = e.message(&two, &types("u8", "address"));
        assert!(
            message.contains("key type u64 and value type address at f:1, and with u8 and address here"),
            "{message}"
        );
        // Stating the first types again does not undo the conflict.
        assert!(stated.state(two, &types("u64", "address"), &at(5)).is_ok());
        let kept = stated.table_types();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].handle, one);
        assert_eq!(kept[0].key.to_string(), "u64");
        assert_eq!(kept[0].value.to_string(), "vector<u8>");
        assert_eq!(kept[0].origin, at(2));
    }

    #[test]
    fn consecutive_lines_of_the_same_types_share_them() {
        let mut reader = TypesReader::default();
        let a = reader.read("u64", "0x1::m::S", W).unwrap();
        let b = reader.read("u64", "0x1::m::S", W).unwrap();
        assert!(Rc::ptr_eq(&a, &b));
        let e = reader.read("u64", "0x1::m::", W).unwrap_err();
        assert_eq!(e.field, "value_type");
        assert!(reader.read("T", "u64", W).unwrap_err().field == "key_type");
    }

    #[test]
    fn a_table_types_file_reads_whole_or_fails_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("types.jsonl");
        let good = "\u{feff}{\"handle\":\"0x7\",\"key_type\":\"u64\",\"value_type\":\"0x1::m::S<u8>\"}\n\n\
                    {\"handle\":\"0x3\",\"key_type\":\"address\",\"value_type\":\"vector<u8>\",\"note\":1}\n\
                    {\"handle\":\"0x7\",\"key_type\":\"u64\",\"value_type\":\"0x1::m::S<u8>\"}\n";
        std::fs::write(&path, good).unwrap();
        let read = read_table_types(&path, W).unwrap();
        let handles: Vec<String> = read.iter().map(|t| t.handle.to_string()).collect();
        assert_eq!(handles, ["0x3", "0x7"]);
        assert_eq!(read[1].origin.to_string(), format!("{}:1", path.display()));
        assert_eq!(read[1].value.to_string(), "0x1::m::S<u8>");
        // A 16-byte chain's file reads its handles with 16 bytes.
        assert_eq!(read_table_types(&path, AddressLength::Bytes16).unwrap()[0].handle.width(), AddressLength::Bytes16);

        let line2 =
            |second: &str| format!("{{\"handle\":\"0x1\",\"key_type\":\"u8\",\"value_type\":\"u8\"}}\n{second}\n");
        for (second, needle) in [
            ("[1]", "not a {\"handle\",\"key_type\",\"value_type\"} object"),
            ("{\"handle\":\"0x2\",\"key_type\":\"u8\"}", "missing field `value_type`"),
            ("{\"handle\":2,\"key_type\":\"u8\",\"value_type\":\"u8\"}", "invalid type"),
            ("{\"handle\":\"2\",\"key_type\":\"u8\",\"value_type\":\"u8\"}", "handle: "),
            ("{\"handle\":\"0x2\",\"key_type\":\"u9\",\"value_type\":\"u8\"}", "key_type: cannot read type `u9`"),
            ("{\"handle\":\"0x2\",\"key_type\":\"u8\",\"value_type\":\"vector<\"}", "value_type: cannot read type"),
            ("{\"handle\":\"0x1\",\"key_type\":\"u8\",\"value_type\":\"u16\"}", "table 0x1 is stated with key type u8"),
            ("not json", "not a {"),
        ] {
            std::fs::write(&path, line2(second)).unwrap();
            let e = read_table_types(&path, W).unwrap_err();
            assert!(e.is_bad_input(), "{e}");
            let text = e.to_string();
            assert!(text.starts_with(&format!("{}:2: ", path.display())), "{text}");
            assert!(text.contains(needle), "{needle:?} not in {text}");
        }
        let long =
            format!("{{\"handle\":\"0x2\",\"key_type\":\"{}\",\"value_type\":\"u8\"}}", "u".repeat(MAX_TYPES_LINE));
        std::fs::write(&path, line2(&long)).unwrap();
        assert!(read_table_types(&path, W).unwrap_err().to_string().contains(":2: longer than"));
        // What is not a regular file, or not there, is refused as such.
        let e = read_table_types(dir.path(), W).unwrap_err();
        assert!(e.is_bad_input() && e.to_string().contains("not a regular file"), "{e}");
        let e = read_table_types(&dir.path().join("missing"), W).unwrap_err();
        assert!(e.is_bad_input(), "{e}");
    }
}
