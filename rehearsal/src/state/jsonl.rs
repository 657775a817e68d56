//! The interchange format: JSON Lines, one item of the state a line, gzip accepted (recognised
//! by its magic bytes, whatever the file is called).
//!
//! ```text
//! {"address":"0x…","type":"0x1::M::S<…>","bytes":"<hex BCS>"}                    a resource
//! {"module":"0x1::M","bytes":"<hex bytecode>"}                                   a module
//! {"handle":"0x…","key":"<hex BCS of the key>","bytes":"<hex BCS of the value>",
//!  "key_type":"u64","value_type":"0x1::M::S"}                                    a table item
//! {"address":"0x…","group":"0x1::object::ObjectGroup",
//!  "members":[{"type":"0x1::object::ObjectCore","bytes":"<hex BCS>"},…]}        a resource group
//! {"address":"0x…","group":"0x1::object::ObjectGroup","bytes":"<hex BCS map>"}  the same, as stored
//! ```
//!
//! Any chain's exporter can write it. Addresses and handles are read with the release's width;
//! hex may carry a `0x` prefix; blank lines are ignored and so are fields other than these, and
//! so is a UTF-8 byte-order mark at the start (an editor's, not the file's). Which kind a line is
//! follows from the one field only that kind has (`type`, `module`, `handle`, `group`).
//!
//! - A table item's `key_type` and `value_type` (Move types; both or neither) are what the
//!   exporter knows of the table: the source states them ([`StateSource::table_types`]); other
//!   types for a handle stated before are a [`ProblemKind::Conflict`] (neither kept).
//! - A group's members are written as the group's value, the BCS map of their tags to their
//!   bytes in BCS order ([`encode_group`]); a member given twice is a
//!   [`ProblemKind::Duplicate`] (same bytes, kept once) or a [`ProblemKind::Conflict`] (other
//!   bytes, the group skipped). A group's value given as `bytes` must read as such a map in that
//!   order ([`ProblemKind::BadValue`] otherwise).
//!
//! A line that cannot be read (not an object, of no kind or of several, odd hex, an address or a
//! type that does not parse, a line longer than [`MAX_LINE`], a table key longer than
//! [`MAX_TABLE_KEY`]) is skipped and reported with its line number; the rest is read.

pub use super::lines::{decode_hex, encode_hex, GZIP_MAGIC};
use super::lines::{next_line, open_lines, read_error, shown, shown_bytes, BOM};
use super::tables::{BadTypes, StatedTables, TypesReader};
use super::{
    At, Context, Entry, EntrySink, ModuleBytes, ModuleSink, Origin, Problem, ProblemKind, Problems, Resource,
    SourceInfo, StateError, StateSource, TableTypes,
};
use binary_format::AddressLength;
use migrations::group::{decode_group as decode_group_of_width, encode_group, MAX_GROUP_MEMBERS};
use migrations::{AccountAddress, KeyKind, StructTag};
use serde::Deserialize;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What a JSON Lines file is to [`input_files`]: up to 1 TiB, streamed.
pub const JSONL_FILE: input_files::Kind = input_files::Kind::new("JSON Lines state", 1 << 40);
/// The longest line read (a resource of several MiB is twice that in hex).
pub const MAX_LINE: usize = 64 << 20;
/// The longest key of a table item, in bytes: its state key (a kind byte, the handle, the key)
/// must fit a snapshot's longest key ([`snapshot::MAX_KEY`]) in every width.
pub const MAX_TABLE_KEY: usize = snapshot::MAX_KEY - 1 - 32;

/// A JSON Lines state file, plain or gzipped.
#[derive(Debug)]
pub struct JsonlSource {
    path: PathBuf,
    gzip: bool,
    /// The table types its lines stated, once read.
    tables: Vec<TableTypes>,
}

/// One line's fields (borrowed where the JSON has no escapes).
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, default)]
    address: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    bytes: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    module: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    handle: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    key_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    value_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    group: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "bounded_members")]
    members: Option<Vec<Member<'a>>>,
}

/// A group line's members, refused past [`MAX_GROUP_MEMBERS`] while they are read (a line of
/// 64 MiB holds three million members, each taking twice its text in memory).
fn bounded_members<'de: 'a, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<Member<'a>>>, D::Error> {
    struct Members<'a>(std::marker::PhantomData<&'a ()>);
    impl<'de: 'a, 'a> serde::de::Visitor<'de> for Members<'a> {
        type Value = Vec<Member<'a>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_GROUP_MEMBERS} members")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(m) = seq.next_element::<Member<'a>>()? {
                if out.len() as u64 >= MAX_GROUP_MEMBERS {
                    return Err(serde::de::Error::custom(format!("more than {MAX_GROUP_MEMBERS} members")));
                }
                out.push(m);
            }
            Ok(out)
        }
    }
    struct Optional<'a>(std::marker::PhantomData<&'a ()>);
    impl<'de: 'a, 'a> serde::de::Visitor<'de> for Optional<'a> {
        type Value = Option<Vec<Member<'a>>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {MAX_GROUP_MEMBERS} members, or null")
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(Members(std::marker::PhantomData)).map(Some)
        }
    }
    d.deserialize_option(Optional(std::marker::PhantomData))
}

/// What a line that is no line of the format is, told without building it: a line's bytes are
/// the state's, and a 64 MiB array of numbers would take a gigabyte as a JSON value.
enum Shape {
    Object,
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct Kind;
        impl<'de> Visitor<'de> for Kind {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Other("boolean"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::Other("number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::Other("number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::Other("number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Other("string"))
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Other("null"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Shape::Other("array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Shape::Object)
            }
        }
        d.deserialize_any(Kind)
    }
}

/// One member of a group line.
#[derive(Deserialize)]
struct Member<'a> {
    #[serde(borrow, rename = "type")]
    ty: Cow<'a, str>,
    #[serde(borrow)]
    bytes: Cow<'a, str>,
}

enum Parsed<'a> {
    Resource {
        address: Cow<'a, str>,
        ty: Cow<'a, str>,
        bytes: Cow<'a, str>,
    },
    Module {
        bytes: Cow<'a, str>,
    },
    TableItem {
        handle: Cow<'a, str>,
        key: Cow<'a, str>,
        bytes: Cow<'a, str>,
        types: Option<(Cow<'a, str>, Cow<'a, str>)>,
    },
    Group {
        address: Cow<'a, str>,
        group: Cow<'a, str>,
        value: GroupValue<'a>,
    },
}

/// A group line's value: its members, or the map's bytes as stored.
enum GroupValue<'a> {
    Members(Vec<Member<'a>>),
    Bytes(Cow<'a, str>),
}

/// What a line that is of no kind is told.
const NO_KIND: &str = "an object of no kind: a resource {\"address\",\"type\",\"bytes\"}, a module {\"module\",\"bytes\"}, a table item {\"handle\",\"key\",\"bytes\"} or a resource group {\"address\",\"group\",\"members\" or \"bytes\"}";

fn parse_line(line: &[u8]) -> Result<Parsed<'_>, (ProblemKind, String)> {
    match serde_json::from_slice::<Line<'_>>(line) {
        Ok(fields) => kind_of_line(fields).map_err(|message| (ProblemKind::BadLine, message)),
        Err(e) => match serde_json::from_slice::<Shape>(line) {
            Ok(Shape::Object) => Err((
                ProblemKind::BadLine,
                format!("a field is not what a line holds (strings; `members` a list of {{\"type\",\"bytes\"}}): {e}"),
            )),
            Ok(Shape::Other(kind)) => Err((ProblemKind::NotAnObject, format!("a JSON {kind} is not an object"))),
            Err(e) => Err((ProblemKind::NotAnObject, format!("not JSON: {e}"))),
        },
    }
}

/// The kind of a line, from the one field only that kind has, and its fields.
fn kind_of_line(l: Line<'_>) -> Result<Parsed<'_>, String> {
    let fields = [
        ("address", l.address.is_some()),
        ("type", l.ty.is_some()),
        ("bytes", l.bytes.is_some()),
        ("module", l.module.is_some()),
        ("handle", l.handle.is_some()),
        ("key", l.key.is_some()),
        ("key_type", l.key_type.is_some()),
        ("value_type", l.value_type.is_some()),
        ("group", l.group.is_some()),
        ("members", l.members.is_some()),
    ];
    let has = |name: &str| fields.iter().any(|(n, present)| *n == name && *present);
    let marks: Vec<&str> = ["type", "module", "handle", "group"].into_iter().filter(|m| has(m)).collect();
    let (what, takes): (&str, &[&str]) = match marks.as_slice() {
        [] => return Err(NO_KIND.to_owned()),
        ["type"] => ("a resource", &["address", "type", "bytes"]),
        ["module"] => ("a module", &["module", "bytes"]),
        ["handle"] => ("a table item", &["handle", "key", "bytes", "key_type", "value_type"]),
        ["group"] => ("a resource group", &["address", "group", "members", "bytes"]),
        several => return Err(format!("fields of more than one kind of line: `{}`", several.join("`, `"))),
    };
    if let Some((stray, _)) = fields.iter().find(|(name, present)| *present && !takes.contains(name)) {
        return Err(format!("`{stray}` has no place in {what} line"));
    }
    let needs = |name: &str| format!("{what} line needs `{name}`");
    Ok(match marks.as_slice() {
        ["type"] => Parsed::Resource {
            address: l.address.ok_or_else(|| needs("address"))?,
            ty: l.ty.ok_or_else(|| needs("type"))?,
            bytes: l.bytes.ok_or_else(|| needs("bytes"))?,
        },
        ["module"] => Parsed::Module { bytes: l.bytes.ok_or_else(|| needs("bytes"))? },
        ["handle"] => Parsed::TableItem {
            handle: l.handle.ok_or_else(|| needs("handle"))?,
            key: l.key.ok_or_else(|| needs("key"))?,
            bytes: l.bytes.ok_or_else(|| needs("bytes"))?,
            types: match (l.key_type, l.value_type) {
                (Some(k), Some(v)) => Some((k, v)),
                (None, None) => None,
                _ => return Err("a table item line states `key_type` and `value_type` together, or neither".to_owned()),
            },
        },
        _ => Parsed::Group {
            address: l.address.ok_or_else(|| needs("address"))?,
            group: l.group.ok_or_else(|| needs("group"))?,
            value: match (l.members, l.bytes) {
                (Some(members), None) => GroupValue::Members(members),
                (None, Some(bytes)) => GroupValue::Bytes(bytes),
                (Some(_), Some(_)) => {
                    return Err("a resource group line has `members` or its value's `bytes`, not both".to_owned())
                }
                (None, None) => return Err(needs("members")),
            },
        },
    })
}

impl JsonlSource {
    /// Opens `path` (checking that it can be read).
    pub fn open(path: &Path) -> Result<JsonlSource, StateError> {
        let (_, gzip) = open_lines(path, JSONL_FILE)?;
        Ok(JsonlSource { path: path.to_path_buf(), gzip, tables: Vec::new() })
    }

    /// Reads every line, handing each parsed one to `each` with its line number.
    fn pass(
        &self,
        problems: &mut Problems,
        each: &mut dyn FnMut(Parsed<'_>, &Origin, &mut Problems) -> Result<(), StateError>,
    ) -> Result<(), StateError> {
        let (mut lines, _) = open_lines(&self.path, JSONL_FILE)?;
        let file: Rc<Path> = Rc::from(self.path.as_path());
        let mut origin = Origin { file, at: At::Line(0) };
        let mut buf = Vec::new();
        let mut n = 0u64;
        while let Some(fits) =
            next_line(&mut *lines, &mut buf, MAX_LINE).map_err(|e| read_error(&self.path, n + 1, e))?
        {
            n += 1;
            origin.at = At::Line(n);
            if !fits {
                problems.add(
                    Problem {
                        kind: ProblemKind::BadLine,
                        origin: origin.to_string(),
                        key: None,
                        message: format!("longer than {MAX_LINE} bytes"),
                    },
                    1,
                );
                continue;
            }
            let line = if n == 1 { buf.strip_prefix(&BOM).unwrap_or(&buf) } else { &buf }.trim_ascii();
            if line.is_empty() {
                continue;
            }
            match parse_line(line) {
                Ok(parsed) => each(parsed, &origin, problems)?,
                Err((kind, message)) => problems.add(
                    Problem {
                        kind,
                        origin: origin.to_string(),
                        key: None,
                        message: format!("{message}: {}", shown_bytes(line)),
                    },
                    1,
                ),
            }
        }
        Ok(())
    }
}

impl StateSource for JsonlSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            format: "jsonl",
            path: self.path.display().to_string(),
            detail: if self.gzip { "JSON Lines, gzip".to_owned() } else { "JSON Lines".to_owned() },
            width: None,
            chain_root: None,
            snapshot: None,
        }
    }

    fn modules(&mut self, visit: ModuleSink<'_>) -> Result<(), StateError> {
        // Problems of the lines are reported by the resource pass.
        let mut ignored = Problems::default();
        self.pass(&mut ignored, &mut |parsed, origin, problems| {
            if let Parsed::Module { bytes } = parsed {
                match decode_hex(&bytes) {
                    Ok(bytes) => visit(ModuleBytes { bytes: &bytes, origin })?,
                    Err(message) => problems
                        .add(Problem { kind: ProblemKind::BadHex, origin: origin.to_string(), key: None, message }, 0),
                }
            }
            Ok(())
        })
    }

    fn entries(
        &mut self,
        context: &Context<'_>,
        visit: EntrySink<'_>,
        problems: &mut Problems,
    ) -> Result<(), StateError> {
        let mut reader = LineReader {
            width: context.width,
            last: None,
            types: TypesReader::default(),
            tables: StatedTables::default(),
            key: Vec::new(),
        };
        let read = self.pass(problems, &mut |parsed, origin, problems| reader.line(parsed, origin, problems, visit));
        self.tables = reader.tables.table_types();
        read
    }

    fn table_types(&self) -> Vec<TableTypes> {
        self.tables.clone()
    }
}

/// What the entry pass keeps from line to line.
struct LineReader {
    width: AddressLength,
    /// The last resource type read, text and tag: consecutive lines of one type parse it once.
    last: Option<(String, StructTag)>,
    types: TypesReader,
    tables: StatedTables,
    /// The key being built.
    key: Vec<u8>,
}

/// A problem of the line at `origin` about `key`.
fn problem(kind: ProblemKind, origin: &Origin, key: &str, message: String) -> Problem {
    Problem { kind, origin: origin.to_string(), key: Some(shown(key)), message }
}

impl LineReader {
    fn line(
        &mut self,
        parsed: Parsed<'_>,
        origin: &Origin,
        problems: &mut Problems,
        visit: EntrySink<'_>,
    ) -> Result<(), StateError> {
        match parsed {
            Parsed::Module { .. } => Ok(()),
            Parsed::Resource { address, ty, bytes } => self.resource(&address, &ty, &bytes, origin, problems, visit),
            Parsed::TableItem { handle, key, bytes, types } => {
                let types = types.as_ref().map(|(k, v)| (k.as_ref(), v.as_ref()));
                self.table_item(&handle, &key, &bytes, types, origin, problems, visit)
            }
            Parsed::Group { address, group, value } => self.group(&address, &group, value, origin, problems, visit),
        }
    }

    fn resource(
        &mut self,
        address: &str,
        ty: &str,
        bytes: &str,
        origin: &Origin,
        problems: &mut Problems,
        visit: EntrySink<'_>,
    ) -> Result<(), StateError> {
        let account = match AccountAddress::parse(address, self.width) {
            Ok(a) => a,
            Err(e) => {
                problems.add(problem(ProblemKind::BadAddress, origin, address, e.to_string()), 1);
                return Ok(());
            }
        };
        if self.last.as_ref().is_none_or(|(text, _)| text.as_str() != ty) {
            match StructTag::parse(ty, self.width) {
                Ok(tag) => self.last = Some((ty.to_owned(), tag)),
                Err(e) => {
                    problems.add(problem(ProblemKind::BadType, origin, ty, e.to_string()), 1);
                    return Ok(());
                }
            }
        }
        let Some((_, tag)) = &self.last else { return Ok(()) };
        let bytes = match decode_hex(bytes) {
            Ok(b) => b,
            Err(message) => {
                problems.add(problem(ProblemKind::BadHex, origin, &format!("{tag} at {account}"), message), 1);
                return Ok(());
            }
        };
        Resource { account, tag, bytes: &bytes, origin }.visit_as_entry(&mut self.key, visit)
    }

    #[allow(clippy::too_many_arguments)]
    fn table_item(
        &mut self,
        handle: &str,
        key: &str,
        bytes: &str,
        types: Option<(&str, &str)>,
        origin: &Origin,
        problems: &mut Problems,
        visit: EntrySink<'_>,
    ) -> Result<(), StateError> {
        let handle = match AccountAddress::parse(handle, self.width) {
            Ok(h) => h,
            Err(e) => {
                problems.add(problem(ProblemKind::BadAddress, origin, handle, format!("handle: {e}")), 1);
                return Ok(());
            }
        };
        let item = format!("table {handle} key {key}");
        let key = match decode_hex(key) {
            Ok(k) if k.len() > MAX_TABLE_KEY => {
                let message = format!("a key of {} bytes, longer than {MAX_TABLE_KEY}", k.len());
                problems.add(problem(ProblemKind::BadLine, origin, &item, message), 1);
                return Ok(());
            }
            Ok(k) => k,
            Err(message) => {
                problems.add(problem(ProblemKind::BadHex, origin, &item, format!("key: {message}")), 1);
                return Ok(());
            }
        };
        let value = match decode_hex(bytes) {
            Ok(v) => v,
            Err(message) => {
                problems.add(problem(ProblemKind::BadHex, origin, &item, message), 1);
                return Ok(());
            }
        };
        if let Some((key_type, value_type)) = types {
            let types = match self.types.read(key_type, value_type, self.width) {
                Ok(t) => t,
                Err(BadTypes { field, error }) => {
                    problems.add(problem(ProblemKind::BadType, origin, &item, format!("{field}: {error}")), 1);
                    return Ok(());
                }
            };
            // The item is read whatever is told of its table's types.
            if let Err(not_kept) = self.tables.state(handle, &types, origin) {
                let kind = match not_kept {
                    super::tables::NotKept::Restated { .. } => ProblemKind::Conflict,
                    super::tables::NotKept::TooMany => ProblemKind::BadLine,
                };
                let message = not_kept.message(&handle, &types);
                problems.add(problem(kind, origin, &format!("table {handle}"), message), 0);
            }
        }
        self.key.clear();
        self.key.push(KeyKind::TableItem as u8);
        self.key.extend_from_slice(handle.as_bytes());
        self.key.extend_from_slice(&key);
        visit(Entry { key: &self.key, value: &value, extra: &[], origin })
    }

    fn group(
        &mut self,
        address: &str,
        group: &str,
        value: GroupValue<'_>,
        origin: &Origin,
        problems: &mut Problems,
        visit: EntrySink<'_>,
    ) -> Result<(), StateError> {
        let account = match AccountAddress::parse(address, self.width) {
            Ok(a) => a,
            Err(e) => {
                problems.add(problem(ProblemKind::BadAddress, origin, address, e.to_string()), 1);
                return Ok(());
            }
        };
        let tag = match StructTag::parse(group, self.width) {
            Ok(t) => t,
            Err(e) => {
                problems.add(problem(ProblemKind::BadType, origin, group, e.to_string()), 1);
                return Ok(());
            }
        };
        let what = format!("group {tag} at {account}");
        let value = match value {
            GroupValue::Members(members) => match group_of_members(&members, self.width, origin, &what, problems) {
                Some(v) => v,
                None => return Ok(()),
            },
            GroupValue::Bytes(hex) => {
                let bytes = match decode_hex(&hex) {
                    Ok(b) => b,
                    Err(message) => {
                        problems.add(problem(ProblemKind::BadHex, origin, &what, message), 1);
                        return Ok(());
                    }
                };
                if let Err(e) = decode_group_of_width(&bytes, self.width) {
                    problems.add(problem(ProblemKind::BadValue, origin, &what, e.to_string()), 1);
                    return Ok(());
                }
                bytes
            }
        };
        self.key.clear();
        self.key.push(KeyKind::Group as u8);
        tag.write_bcs(&mut self.key);
        self.key.extend_from_slice(account.as_bytes());
        visit(Entry { key: &self.key, value: &value, extra: &[], origin })
    }
}

/// A group's value from its members: the BCS map of their tags to their bytes, in BCS order.
/// `None` when the group is skipped (its problem recorded).
fn group_of_members(
    members: &[Member<'_>],
    width: AddressLength,
    origin: &Origin,
    what: &str,
    problems: &mut Problems,
) -> Option<Vec<u8>> {
    if members.len() as u64 > MAX_GROUP_MEMBERS {
        let message = format!("{} members, more than {MAX_GROUP_MEMBERS}", members.len());
        problems.add(problem(ProblemKind::BadLine, origin, what, message), 1);
        return None;
    }
    // (the tag's BCS, the tag, the bytes), in BCS order.
    let mut read: Vec<(Vec<u8>, StructTag, Vec<u8>)> = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        let tag = match StructTag::parse(&m.ty, width) {
            Ok(t) => t,
            Err(e) => {
                problems.add(problem(ProblemKind::BadType, origin, what, format!("member {i}: {e}")), 1);
                return None;
            }
        };
        let bytes = match decode_hex(&m.bytes) {
            Ok(b) => b,
            Err(message) => {
                problems.add(problem(ProblemKind::BadHex, origin, what, format!("member {i} ({tag}): {message}")), 1);
                return None;
            }
        };
        read.push((tag.to_bcs(), tag, bytes));
    }
    read.sort_by(|a, b| a.0.cmp(&b.0));
    let mut kept: Vec<&(Vec<u8>, StructTag, Vec<u8>)> = Vec::with_capacity(read.len());
    for member in &read {
        match kept.last() {
            Some(previous) if previous.0 == member.0 && previous.2 == member.2 => {
                let message = format!("member {} given twice with the same bytes (kept once)", member.1);
                problems.add(problem(ProblemKind::Duplicate, origin, what, message), 0);
            }
            Some(previous) if previous.0 == member.0 => {
                let message = format!(
                    "member {} given twice with different bytes: which the group holds cannot be told (the group is skipped)",
                    member.1
                );
                problems.add(problem(ProblemKind::Conflict, origin, what, message), 1);
                return None;
            }
            _ => kept.push(member),
        }
    }
    match encode_group(kept.iter().map(|(_, tag, bytes)| (tag, bytes.as_slice()))) {
        Ok(value) => Some(value),
        Err(e) => {
            problems.add(problem(ProblemKind::BadValue, origin, what, e.to_string()), 1);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::{StateKey, TypeTag};

    const W: AddressLength = AddressLength::Bytes32;

    /// An entry as read: its key decoded, its value, its line.
    #[derive(Debug, PartialEq)]
    struct Read {
        key: StateKey,
        value: Vec<u8>,
        line: u64,
    }

    /// Reads `text` as a JSON Lines state of 32-byte addresses: its entries, problems and table
    /// types.
    fn read(text: &str) -> (Vec<Read>, Problems, Vec<TableTypes>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        std::fs::write(&path, text).unwrap();
        let mut source = JsonlSource::open(&path).unwrap();
        let mut problems = Problems::default();
        let mut entries = Vec::new();
        let context = Context { width: W, modules: &[], value_budget: 16 << 20 };
        source
            .entries(
                &context,
                &mut |e: Entry<'_>| {
                    let key = StateKey::decode(e.key, W).unwrap();
                    // The key is the canonical one, byte for byte.
                    assert_eq!(key.encode(), e.key);
                    assert!(e.extra.is_empty());
                    let At::Line(line) = e.origin.at else { panic!("{}", e.origin) };
                    entries.push(Read { key, value: e.value.to_vec(), line });
                    Ok(())
                },
                &mut problems,
            )
            .unwrap();
        let tables = source.table_types();
        (entries, problems, tables)
    }

    fn tag(s: &str) -> StructTag {
        StructTag::parse(s, W).unwrap()
    }

    fn address(n: u64) -> AccountAddress {
        AccountAddress::from_u64(n, W)
    }

    /// The line number of an example's origin (`FILE:LINE`).
    fn line_of(p: &Problem) -> u64 {
        p.origin.rsplit(':').next().unwrap().parse().unwrap()
    }

    #[test]
    fn every_kind_of_line_becomes_an_entry_of_its_kind() {
        let text = r#"{"module":"0x1::m","bytes":"0xa11ceb0b"}
{"address":"0x2a","type":"0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>","bytes":"0x0102","note":"ignored"}
{"handle":"0x7","key":"0x0500000000000000","bytes":"0x2a","key_type":"u64","value_type":"0x1::voting::Proposal<0x1::governance_proposal::GovernanceProposal>"}
{"handle":"0x8","key":"","bytes":"00"}

{"address":"0x2a","group":"0x1::object::ObjectGroup","members":[{"type":"0x1::object::ObjectCore","bytes":"0x01"},{"type":"0x1::fungible_asset::FungibleStore","bytes":"0x0203"}]}
{"address":"0x2b","group":"0x1::object::ObjectGroup","bytes":"0x00"}
"#;
        let (entries, problems, tables) = read(text);
        assert_eq!(problems, Problems::default());
        let group = tag("0x1::object::ObjectGroup");
        let members = encode_group([
            (&tag("0x1::object::ObjectCore"), &[1u8][..]),
            (&tag("0x1::fungible_asset::FungibleStore"), &[2u8, 3][..]),
        ])
        .unwrap();
        assert_eq!(
            entries,
            [
                Read {
                    key: StateKey::Resource {
                        account: address(0x2a),
                        tag: tag("0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>")
                    },
                    value: vec![1, 2],
                    line: 2
                },
                Read {
                    key: StateKey::TableItem { handle: address(7), key: 5u64.to_le_bytes().to_vec() },
                    value: vec![0x2a],
                    line: 3
                },
                Read { key: StateKey::TableItem { handle: address(8), key: vec![] }, value: vec![0], line: 4 },
                Read { key: StateKey::Group { account: address(0x2a), tag: group.clone() }, value: members, line: 6 },
                Read { key: StateKey::Group { account: address(0x2b), tag: group }, value: vec![0], line: 7 },
            ]
        );
        // The table whose types the line stated; the other has none.
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].handle, address(7));
        assert_eq!(tables[0].key, TypeTag::U64);
        assert_eq!(tables[0].value.to_string(), "0x1::voting::Proposal<0x1::governance_proposal::GovernanceProposal>");
        assert_eq!(tables[0].origin.at, At::Line(3));
        // The module line is the modules' pass's.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(&path, text).unwrap();
        let mut modules = Vec::new();
        JsonlSource::open(&path)
            .unwrap()
            .modules(&mut |m: ModuleBytes<'_>| {
                modules.push((m.bytes.to_vec(), m.origin.at));
                Ok(())
            })
            .unwrap();
        assert_eq!(modules, [(vec![0xa1, 0x1c, 0xeb, 0x0b], At::Line(1))]);
    }

    #[test]
    fn a_group_is_written_in_bcs_order_whatever_order_its_members_come_in() {
        let (a, b, c) = (tag("0x1::zz::A"), tag("0x1::a::Zed"), tag("0x2::a::B<u8>"));
        let line = |members: &[(&StructTag, &str)]| {
            let members: Vec<String> =
                members.iter().map(|(t, hex)| format!(r#"{{"type":"{t}","bytes":"{hex}"}}"#)).collect();
            format!(r#"{{"address":"0x5","group":"0x1::object::ObjectGroup","members":[{}]}}"#, members.join(","))
                + "\n"
        };
        let forward = line(&[(&a, "01"), (&b, "0202"), (&c, "")]);
        let backward = line(&[(&c, ""), (&b, "0202"), (&a, "01")]);
        let (one, p1, _) = read(&forward);
        let (two, p2, _) = read(&backward);
        assert_eq!((p1.total(), p2.total()), (0, 0));
        assert_eq!(one[0].value, two[0].value);
        // BCS orders a map by its keys' bytes: 0x1::a::Zed (the shorter module name) first, then
        // 0x1::zz::A, then the tag of 0x2.
        let decoded = decode_group_of_width(&one[0].value, W).unwrap();
        let order: Vec<String> = decoded.iter().map(|m| m.tag.to_string()).collect();
        assert_eq!(order, ["0x1::a::Zed", "0x1::zz::A", "0x2::a::B<u8>"]);
        assert_eq!(decoded.iter().map(|m| m.bytes.len()).collect::<Vec<_>>(), [2, 1, 0]);
        // The same value given as bytes is the same entry.
        let raw = format!(
            r#"{{"address":"0x5","group":"0x1::object::ObjectGroup","bytes":"{}"}}"#,
            encode_hex(&one[0].value)
        );
        let (three, p3, _) = read(&raw);
        assert_eq!((three[0].value == one[0].value, three[0].key == one[0].key, p3.total()), (true, true, 0));
    }

    #[test]
    fn a_group_value_given_as_bytes_must_be_a_canonical_map() {
        let (x, y) = (tag("0x1::a::X"), tag("0x1::a::Y"));
        let good = encode_group([(&x, &[1u8][..]), (&y, &[2u8][..])]).unwrap();
        let mut swapped = vec![2u8];
        for (t, b) in [(&y, 2u8), (&x, 1u8)] {
            swapped.extend(t.to_bcs());
            swapped.extend([1, b]);
        }
        let mut trailing = good.clone();
        trailing.push(0);
        let cut = good[..good.len() - 1].to_vec();
        let mut text = String::new();
        for bytes in [&good, &swapped, &trailing, &cut, &Vec::new()] {
            text.push_str(&format!(
                r#"{{"address":"0x5","group":"0x1::object::ObjectGroup","bytes":"{}"}}"#,
                encode_hex(bytes)
            ));
            text.push('\n');
        }
        let (entries, problems, _) = read(&text);
        assert_eq!(entries.len(), 1);
        assert_eq!(problems.counts.get(&ProblemKind::BadValue), Some(&4));
        assert_eq!(problems.skipped_resources, 4);
        let lines: Vec<u64> = problems.examples.iter().map(line_of).collect();
        assert_eq!(lines, [2, 3, 4, 5]);
        assert!(problems.examples[0].message.contains("is not after the one before it"), "{:?}", problems.examples[0]);
        assert_eq!(problems.examples[0].key.as_deref(), Some("group 0x1::object::ObjectGroup at 0x5"));
    }

    #[test]
    fn a_member_given_twice_is_kept_once_when_the_same_and_skips_its_group_when_not() {
        let group = |members: &[String]| {
            format!(r#"{{"address":"0x5","group":"0x1::object::ObjectGroup","members":[{}]}}"#, members.join(","))
                + "\n"
        };
        let m = |t: &str, b: &str| format!(r#"{{"type":"{t}","bytes":"{b}"}}"#);
        let same = group(&[m("0x1::a::X", "01"), m("0x1::a::Y", "02"), m("0x1::a::X", "0x01")]);
        let (entries, problems, _) = read(&same);
        assert_eq!(problems.counts.get(&ProblemKind::Duplicate), Some(&1));
        assert!(!problems.skipped_any());
        assert_eq!(entries.len(), 1);
        let expected = encode_group([(&tag("0x1::a::X"), &[1u8][..]), (&tag("0x1::a::Y"), &[2u8][..])]).unwrap();
        assert_eq!(entries[0].value, expected);
        let other = group(&[m("0x1::a::X", "01"), m("0x1::a::X", "02")]);
        let (entries, problems, _) = read(&format!("{same}{other}"));
        assert_eq!(entries.len(), 1);
        assert_eq!(problems.counts.get(&ProblemKind::Conflict), Some(&1));
        assert!(problems.skipped_any());
        let conflict = problems.examples.iter().find(|p| p.kind == ProblemKind::Conflict).unwrap();
        assert_eq!(line_of(conflict), 2);
        assert!(conflict.message.contains("member 0x1::a::X given twice with different bytes"), "{conflict:?}");
    }

    #[test]
    fn a_table_stated_again_with_other_types_is_a_conflict_and_none_of_them_is_kept() {
        let item = |handle: &str, key: &str, k: &str, v: &str| {
            format!(r#"{{"handle":"{handle}","key":"{key}","bytes":"00","key_type":"{k}","value_type":"{v}"}}"#) + "\n"
        };
        let text = [
            item("0x7", "01", "u8", "vector<u8>"),
            item("0x7", "02", "u8", "vector<u8>"),
            item("0x9", "01", "address", "u64"),
            item("0x7", "03", "u8", "vector<u16>"),
            item("0x9", "02", "address", "u64"),
        ]
        .concat();
        let (entries, problems, tables) = read(&text);
        // Every item is carried; only the table stated one way is stated.
        assert_eq!(entries.len(), 5);
        assert_eq!(tables.iter().map(|t| t.handle).collect::<Vec<_>>(), [address(9)]);
        assert_eq!(tables[0].origin.at, At::Line(3));
        assert_eq!(problems.counts.get(&ProblemKind::Conflict), Some(&1));
        assert!(problems.skipped_any(), "the state is incomplete");
        let conflict = &problems.examples[0];
        assert_eq!((line_of(conflict), conflict.key.as_deref()), (4, Some("table 0x7")));
        assert!(conflict.message.contains("key type u8 and value type vector<u8> at "), "{conflict:?}");
        assert!(conflict.message.contains(":1, and with u8 and vector<u16> here"), "{conflict:?}");
    }

    /// Writes each bad line between good ones and checks that each is reported, with its kind,
    /// at its line, while the good ones are read.
    fn check_bad_lines(cases: &[(&str, ProblemKind, &str)]) {
        let good = r#"{"handle":"0x1","key":"00","bytes":"00"}"#;
        let mut text = String::new();
        for (bad, _, _) in cases {
            text.push_str(&format!("{good}\n{bad}\n"));
        }
        let (entries, problems, _) = read(&text);
        assert_eq!(entries.len(), cases.len());
        assert_eq!(problems.total(), cases.len() as u64, "{problems:#?}");
        assert_eq!(problems.examples.len(), cases.len(), "at most 10 of a kind are kept: split the cases");
        for (i, (bad, kind, needle)) in cases.iter().enumerate() {
            let line = 2 * i as u64 + 2;
            let p =
                problems.examples.iter().find(|p| line_of(p) == line).unwrap_or_else(|| panic!("line {line}: {bad}"));
            assert_eq!(p.kind, *kind, "line {line}: {bad}: {p:?}");
            let said = format!("{} {}", p.key.as_deref().unwrap_or(""), p.message);
            assert!(said.contains(needle), "line {line}: {needle:?} not in {said:?}");
        }
    }

    #[test]
    fn bad_table_item_lines_are_counted_at_their_line() {
        use ProblemKind::*;
        let long_key = format!(r#"{{"handle":"0x1","key":"{}","bytes":"00"}}"#, "00".repeat(MAX_TABLE_KEY + 1));
        check_bad_lines(&[
            (r#"{"handle":"0x1","key":"00"}"#, BadLine, "a table item line needs `bytes`"),
            (r#"{"handle":"0x1","bytes":"00"}"#, BadLine, "needs `key`"),
            (r#"{"handle":"0x1","key":"00","bytes":"00","key_type":"u64"}"#, BadLine, "together, or neither"),
            (r#"{"handle":"0x1","key":"00","bytes":"00","value_type":"u64"}"#, BadLine, "together, or neither"),
            (r#"{"handle":"0x1","key":"00","bytes":"00","type":"0x1::a::B"}"#, BadLine, "more than one kind"),
            (r#"{"handle":"0x1","key":"00","bytes":"00","address":"0x1"}"#, BadLine, "`address` has no place"),
            (r#"{"handle":"0x1","key":"00","bytes":"00","members":[]}"#, BadLine, "`members` has no place"),
            (&long_key, BadLine, "longer than"),
            (r#"{"handle":"1","key":"00","bytes":"00"}"#, BadAddress, "handle: "),
            (r#"{"handle":"0x1","key":"0","bytes":"00"}"#, BadHex, "key: hex of odd length"),
            (r#"{"handle":"0x1","key":"00","bytes":"0g"}"#, BadHex, "not a hex digit"),
            (
                r#"{"handle":"0x1","key":"00","bytes":"00","key_type":"T","value_type":"u8"}"#,
                BadType,
                "key_type: cannot read type `T`",
            ),
            (
                r#"{"handle":"0x1","key":"00","bytes":"00","key_type":"u8","value_type":"0x1::m"}"#,
                BadType,
                "value_type: ",
            ),
            (r#"{"handle":7,"key":"00","bytes":"00"}"#, BadLine, "a field is not what a line holds"),
        ]);
    }

    #[test]
    fn bad_group_lines_and_lines_of_no_kind_are_counted_at_their_line() {
        use ProblemKind::*;
        let g = |rest: &str| format!(r#"{{"address":"0x5","group":"0x1::object::ObjectGroup"{rest}}}"#);
        check_bad_lines(&[
            (&g(""), BadLine, "a resource group line needs `members`"),
            (&g(r#","members":[],"bytes":"00""#), BadLine, "not both"),
            (&g(r#","members":[{"type":"0x1::a::B"}]"#), BadLine, "missing field `bytes`"),
            (&g(r#","members":"00""#), BadLine, "a field is not what a line holds"),
            (&g(r#","type":"0x1::a::B","bytes":"00""#), BadLine, "more than one kind of line: `type`, `group`"),
            (r#"{"group":"0x1::object::ObjectGroup","members":[]}"#, BadLine, "needs `address`"),
            (r#"{"address":"0x1","bytes":"00"}"#, BadLine, "an object of no kind"),
            (
                r#"{"address":"0x1","type":"0x1::a::B","bytes":"00","key":"00"}"#,
                BadLine,
                "`key` has no place in a resource line",
            ),
            (r#"{"module":"0x1::m","bytes":"00","handle":"0x1"}"#, BadLine, "`module`, `handle`"),
            (r#"{"address":"0x5","group":"0x1::object::","members":[]}"#, BadType, "cannot read struct tag"),
            (&g(r#","members":[{"type":"0x1::a::","bytes":""}]"#), BadType, "member 0: "),
            (&g(r#","members":[{"type":"0x1::a::B","bytes":"0"}]"#), BadHex, "member 0 (0x1::a::B)"),
            (&g(r#","bytes":"0100""#), BadValue, "resource group value: "),
            (r#"{"address":"0x1x","group":"0x1::object::ObjectGroup","members":[]}"#, BadAddress, "0x1x"),
            ("[1]", NotAnObject, "a JSON array is not an object"),
            ("nope", NotAnObject, "not JSON"),
        ]);
    }

    /// A line that is no object, or an object whose fields are not a line's, was parsed again as
    /// a JSON value to say what it was: a 64 MiB array of numbers took a gigabyte. Its kind is
    /// told without building it, and a group's members are refused past their bound as they are
    /// read.
    #[test]
    fn lines_that_are_not_lines_are_told_without_being_built() {
        let huge_array = format!("[{}0]", "0,".repeat(1 << 20));
        let many_members = format!(
            r#"{{"address":"0x5","group":"0x1::object::ObjectGroup","members":[{}{{"type":"0x1::a::B","bytes":""}}]}}"#,
            r#"{"type":"0x1::a::B","bytes":""},"#.repeat(MAX_GROUP_MEMBERS as usize)
        );
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        let cases = [
            (huge_array.as_str(), ProblemKind::NotAnObject, "a JSON array is not an object"),
            ("\"text\"", ProblemKind::NotAnObject, "a JSON string is not an object"),
            ("null", ProblemKind::NotAnObject, "a JSON null is not an object"),
            ("-1.5", ProblemKind::NotAnObject, "a JSON number is not an object"),
            ("true", ProblemKind::NotAnObject, "a JSON boolean is not an object"),
            (many_members.as_str(), ProblemKind::BadLine, "more than 65536 members"),
            (deep.as_str(), ProblemKind::BadLine, "an object of no kind"),
            (
                r#"{"address":"0x5","group":"0x1::object::ObjectGroup","members":null}"#,
                ProblemKind::BadLine,
                "a resource group line needs `members`",
            ),
        ];
        let text: String = cases.iter().map(|(line, _, _)| format!("{line}\n")).collect();
        let (entries, problems, _) = read(&text);
        assert!(entries.is_empty());
        for (i, (_, kind, needle)) in cases.iter().enumerate() {
            let p = problems.examples.iter().find(|p| line_of(p) == i as u64 + 1).unwrap();
            assert_eq!(p.kind, *kind, "line {}: {p:?}", i + 1);
            assert!(p.message.contains(needle), "line {}: {needle:?} not in {:?}", i + 1, p.message);
            assert!(p.message.len() < 600, "line {}: {} bytes", i + 1, p.message.len());
        }
    }

    #[test]
    fn hex_round_trips_and_refuses_odd_lengths_and_bad_digits() {
        assert_eq!(decode_hex("0x00ff10").unwrap(), vec![0, 255, 16]);
        assert_eq!(decode_hex("ABcd").unwrap(), vec![0xab, 0xcd]);
        assert_eq!(decode_hex("").unwrap(), Vec::<u8>::new());
        assert!(decode_hex("abc").unwrap_err().contains("odd length"));
        assert!(decode_hex("zz").unwrap_err().contains("not a hex digit"));
        assert_eq!(encode_hex(&[0, 255, 16]), "00ff10");
    }

    #[test]
    fn long_lines_are_cut_and_the_next_one_read() {
        let text = b"0123456789\nabc\n\nlast";
        let mut r: &[u8] = text;
        let mut buf = Vec::new();
        assert_eq!(next_line(&mut r, &mut buf, 5).unwrap(), Some(false));
        assert_eq!(next_line(&mut r, &mut buf, 5).unwrap(), Some(true));
        assert_eq!(buf, b"abc");
        assert_eq!(next_line(&mut r, &mut buf, 5).unwrap(), Some(true));
        assert!(buf.is_empty());
        assert_eq!(next_line(&mut r, &mut buf, 5).unwrap(), Some(true));
        assert_eq!(buf, b"last");
        assert_eq!(next_line(&mut r, &mut buf, 5).unwrap(), None);
    }
}
