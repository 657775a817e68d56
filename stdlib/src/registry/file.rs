//! The registry file: reading it with line numbers, and changing it in place.
//!
//! The file is reviewed by people, so a change made by a tool must look like one a person would
//! make: comments, order and layout of everything else stay as they were (toml_edit keeps them).
//! A change is written to a temporary file in the same folder and renamed over the old one, so a
//! crash or a failed check never leaves a half-written registry behind.

use super::release_name::ReleaseName;
use super::rules::SYNTAX;
use super::{ModuleEntry, ModuleLines, ModuleVersion, Registry, RegistryError, Violation};
use binary_format::{identifier, Address};
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike, Value};

/// Largest registry file read. A full reserved range is a few hundred KiB; anything much larger
/// is not a registry, and reading it whole would be an allocation an untrusted file chooses.
pub const MAX_REGISTRY_FILE: u64 = 16 << 20;

pub(super) fn read(path: &Path) -> Result<String, RegistryError> {
    let io = |source| RegistryError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(MAX_REGISTRY_FILE + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > MAX_REGISTRY_FILE {
        return Err(RegistryError::invalid(
            path,
            vec![Violation::new(
                SYNTAX,
                None,
                format!("the file is larger than the {MAX_REGISTRY_FILE}-byte limit for a registry"),
            )],
        ));
    }
    Ok(text)
}

/// Reads registry text, reporting every syntax problem (not only the first).
pub(super) fn parse(text: &str, origin: &Path) -> Result<Registry, RegistryError> {
    let mut p = Parser::new(text);
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message = format!("not valid TOML: {}", e.message().trim());
            return Err(RegistryError::invalid(origin, vec![Violation::new(SYNTAX, p.line(e.span()), message)]));
        }
    };
    let root = doc.as_table();
    let mut registry = Registry::new(Address::ZERO, origin);
    let mut genesis_seen = false;
    for (key, item) in root.iter() {
        let line = p.key_line(root, key, item);
        match key {
            "genesis" => {
                genesis_seen = true;
                if let Some(address) = p.address(item, "genesis", line) {
                    registry.genesis = address;
                    registry.lines.genesis = line;
                }
            }
            "modules" => p.modules(item, line, &mut registry),
            other => p.unknown(other, line, "at the top level", "genesis, modules"),
        }
    }
    if !genesis_seen {
        p.error(None, "missing `genesis = \"0x...\"`: the address every module's first version is published at");
    }
    if p.violations.is_empty() {
        Ok(registry)
    } else {
        Err(RegistryError::invalid(origin, p.violations))
    }
}

struct Parser {
    /// Byte offset where each line starts, to turn spans into line numbers.
    line_starts: Vec<usize>,
    violations: Vec<Violation>,
}

impl Parser {
    fn new(text: &str) -> Parser {
        let line_starts =
            std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i.saturating_add(1))).collect();
        Parser { line_starts, violations: Vec::new() }
    }

    fn line(&self, span: Option<Range<usize>>) -> Option<usize> {
        span.map(|s| self.line_starts.partition_point(|&start| start <= s.start))
    }

    fn key_line(&self, table: &dyn TableLike, key: &str, item: &Item) -> Option<usize> {
        self.line(table.key(key).and_then(|k| k.span()).or_else(|| item.span()))
    }

    fn error(&mut self, line: Option<usize>, message: impl Into<String>) {
        self.violations.push(Violation::new(SYNTAX, line, message));
    }

    fn unknown(&mut self, key: &str, line: Option<usize>, place: &str, known: &str) {
        self.error(line, format!("unknown key `{key}` {place} (known keys: {known})"));
    }

    fn string<'i>(&mut self, item: &'i Item, what: &str, example: &str, line: Option<usize>) -> Option<&'i str> {
        let s = item.as_str();
        if s.is_none() {
            self.error(line, format!("{what} must be a string such as {example:?}, not {}", item.type_name()));
        }
        s
    }

    fn bool(&mut self, item: &Item, what: &str, line: Option<usize>) -> Option<bool> {
        let b = item.as_bool();
        if b.is_none() {
            self.error(line, format!("{what} must be true or false, not {}", item.type_name()));
        }
        b
    }

    /// Addresses must carry `0x`: without it `10` could be read as ten or sixteen.
    fn address(&mut self, item: &Item, what: &str, line: Option<usize>) -> Option<Address> {
        let s = self.string(item, what, "0x2", line)?;
        let address = s.strip_prefix("0x").and_then(|_| Address::parse_hex(s));
        if address.is_none() {
            self.error(line, format!("{what} {s:?} is not an address: write it in hex with a 0x prefix, like \"0x2\""));
        }
        address
    }

    fn release(&mut self, item: &Item, line: Option<usize>) -> Option<ReleaseName> {
        let s = self.string(item, "release", "v2", line)?;
        match s.parse() {
            Ok(release) => Some(release),
            Err(e) => {
                self.error(line, format!("release {e}"));
                None
            }
        }
    }

    fn modules(&mut self, item: &Item, line: Option<usize>, registry: &mut Registry) {
        let Some(modules) = item.as_table_like() else {
            self.error(line, format!("`modules` must be a table of modules, not {}", item.type_name()));
            return;
        };
        for (name, item) in modules.iter() {
            let line = self.key_line(modules, name, item);
            if !identifier::is_valid(name) {
                self.error(line, format!("{name:?} is not a valid Move identifier, so it cannot name a module"));
            }
            if let Some((entry, lines)) = self.module(name, item, line) {
                registry.modules.insert(name.to_string(), entry);
                registry.lines.modules.insert(name.to_string(), lines);
            }
        }
    }

    fn module(&mut self, name: &str, item: &Item, line: Option<usize>) -> Option<(ModuleEntry, ModuleLines)> {
        let Some(table) = item.as_table_like() else {
            self.error(line, format!("module {name} must be a table with `versions`, not {}", item.type_name()));
            return None;
        };
        let mut entry = ModuleEntry::default();
        let mut lines = ModuleLines { header: line, ..ModuleLines::default() };
        let mut versions_seen = false;
        let mut ok = true;
        for (key, item) in table.iter() {
            let key_line = self.key_line(table, key, item);
            match key {
                "retired" => match self.bool(item, "retired", key_line) {
                    Some(retired) => {
                        entry.retired = retired;
                        lines.retired = key_line;
                    }
                    None => ok = false,
                },
                "versions" => {
                    versions_seen = true;
                    let tables: Vec<(&dyn TableLike, Option<usize>)> = match item {
                        Item::Value(Value::Array(array)) => {
                            let mut tables = Vec::new();
                            for value in array.iter() {
                                let line = self.line(value.span()).or(key_line);
                                match value.as_inline_table() {
                                    Some(t) => tables.push((t as &dyn TableLike, line)),
                                    None => {
                                        ok = false;
                                        self.error(
                                            line,
                                            format!(
                                                "each version of {name} must be a table like {{ address = \"0x1\", \
                                                 release = \"v1\" }}, not {}",
                                                value.type_name()
                                            ),
                                        );
                                    }
                                }
                            }
                            tables
                        }
                        Item::ArrayOfTables(array) => {
                            array.iter().map(|t| (t as &dyn TableLike, self.line(t.span()).or(key_line))).collect()
                        }
                        other => {
                            ok = false;
                            self.error(
                                key_line,
                                format!("`versions` of {name} must be an array of versions, not {}", other.type_name()),
                            );
                            Vec::new()
                        }
                    };
                    if tables.is_empty() && ok {
                        ok = false;
                        self.error(key_line, format!("module {name} has no versions"));
                    }
                    for (table, line) in tables {
                        match self.version(name, table, line) {
                            Some(version) => {
                                entry.versions.push(version);
                                lines.versions.push(line);
                            }
                            None => ok = false,
                        }
                    }
                }
                other => {
                    ok = false;
                    self.unknown(other, key_line, &format!("in module {name}"), "versions, retired");
                }
            }
        }
        if !versions_seen {
            self.error(line, format!("module {name} has no `versions`"));
            return None;
        }
        ok.then_some((entry, lines))
    }

    fn version(&mut self, name: &str, table: &dyn TableLike, line: Option<usize>) -> Option<ModuleVersion> {
        let (mut address, mut release, mut predecessor, mut closed) = (None, None, None, false);
        let mut ok = true;
        for (key, item) in table.iter() {
            let key_line = self.key_line(table, key, item).or(line);
            match key {
                "address" => address = self.address(item, "address", key_line),
                "release" => release = self.release(item, key_line),
                "predecessor" => {
                    predecessor = self.address(item, "predecessor", key_line);
                    ok &= predecessor.is_some();
                }
                "closed" => match self.bool(item, "closed", key_line) {
                    Some(c) => closed = c,
                    None => ok = false,
                },
                other => {
                    ok = false;
                    self.unknown(
                        other,
                        key_line,
                        &format!("in a version of {name}"),
                        "address, release, predecessor, closed",
                    );
                }
            }
        }
        if !table.contains_key("address") {
            self.error(line, format!("a version of {name} has no `address`"));
        }
        if !table.contains_key("release") {
            self.error(line, format!("a version of {name} has no `release`"));
        }
        match (address, release, ok) {
            (Some(address), Some(release), true) => Some(ModuleVersion { address, release, predecessor, closed }),
            _ => None,
        }
    }
}

/// Loads the registry at `path`, bumps `name` to a new version first released in `release`
/// ([`Registry::bump`]), and writes the file back with comments and layout kept. Nothing is
/// written if anything fails, including reading the edited file back.
pub fn bump_file(path: &Path, name: &str, release: ReleaseName) -> Result<ModuleVersion, RegistryError> {
    change_file(path, |registry| registry.bump(name, release), |doc, version| edit_bump(doc, name, version))
}

/// Loads the registry at `path`, adds the brand-new module `name` at genesis
/// ([`Registry::add_module`]), and writes the file back as [`bump_file`] does.
pub fn add_module_file(path: &Path, name: &str, release: ReleaseName) -> Result<ModuleVersion, RegistryError> {
    change_file(path, |registry| registry.add_module(name, release), |doc, version| edit_add(doc, name, version))
}

/// The change is made twice, to the model (which checks the rules) and to the document (which
/// keeps the formatting), and written only if the edited text reads back as the changed model:
/// the file can then never say something the checked registry does not.
fn change_file(
    path: &Path,
    change: impl FnOnce(&mut Registry) -> Result<ModuleVersion, RegistryError>,
    edit: impl FnOnce(&mut DocumentMut, &ModuleVersion) -> Result<(), String>,
) -> Result<ModuleVersion, RegistryError> {
    let text = read(path)?;
    let mut registry = Registry::parse(&text, path)?;
    let version = change(&mut registry)?;
    let failed = |reason: String| RegistryError::Edit { path: path.to_path_buf(), reason };
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| failed(e.message().to_string()))?;
    edit(&mut doc, &version).map_err(failed)?;
    let edited = doc.to_string();
    let reread = Registry::parse(&edited, path)
        .map_err(|e| failed(format!("the edited file does not check:\n{e}\n(end of errors in the edited file)")))?;
    if reread != registry {
        return Err(failed("the edited file does not read back as the changed registry".to_string()));
    }
    write_atomically(path, &edited)?;
    Ok(version)
}

fn versions_item<'d>(doc: &'d mut DocumentMut, name: &str) -> Result<&'d mut Item, String> {
    doc.as_table_mut()
        .get_mut("modules")
        .and_then(Item::as_table_like_mut)
        .and_then(|modules| modules.get_mut(name))
        .and_then(Item::as_table_like_mut)
        .and_then(|module| module.get_mut("versions"))
        .ok_or_else(|| format!("could not find the versions of {name} in the file"))
}

/// The keys of a version in the order people write them; `closed = false` is left out as the
/// default it is.
fn version_fields(version: &ModuleVersion) -> Vec<(&'static str, Value)> {
    let mut fields =
        vec![("address", version.address.to_string().into()), ("release", version.release.to_string().into())];
    if let Some(p) = version.predecessor {
        fields.push(("predecessor", p.to_string().into()));
    }
    if version.closed {
        fields.push(("closed", true.into()));
    }
    fields
}

fn version_table(version: &ModuleVersion) -> InlineTable {
    let mut t = InlineTable::new();
    for (key, value) in version_fields(version) {
        t.insert(key, value);
    }
    t.fmt();
    t
}

fn text_of(raw: Option<&toml_edit::RawString>) -> String {
    raw.and_then(toml_edit::RawString::as_str).unwrap_or("").to_string()
}

fn edit_bump(doc: &mut DocumentMut, name: &str, version: &ModuleVersion) -> Result<(), String> {
    match versions_item(doc, name)? {
        Item::Value(Value::Array(array)) => push_version(array, version),
        Item::ArrayOfTables(tables) => {
            let last = tables.len().checked_sub(1).and_then(|i| tables.get_mut(i));
            let last = last.ok_or_else(|| format!("{name} has no versions in the file"))?;
            last.insert("closed", toml_edit::value(true));
            let mut table = Table::new();
            for (key, value) in version_fields(version) {
                table.insert(key, toml_edit::value(value));
            }
            tables.push(table);
            Ok(())
        }
        _ => Err(format!("the versions of {name} are neither an array nor an array of tables")),
    }
}

/// Closes the last version and appends the new one, so that the new line looks like its
/// neighbours and a comment at the end of the old last line stays on that line.
fn push_version(array: &mut Array, version: &ModuleVersion) -> Result<(), String> {
    let last = array.len().checked_sub(1).and_then(|i| array.get_mut(i)).ok_or("the versions array is empty")?;
    let indent = text_of(last.decor().prefix());
    let last_suffix = text_of(last.decor().suffix());
    let Some(table) = last.as_inline_table_mut() else {
        return Err("the last version is not an inline table".to_string());
    };
    close_inline(table);

    // Whatever follows the last element on its own line (a comment) stays there; the new element
    // starts on the next line with the same indentation.
    let mut prefix = if indent.is_empty() { " ".to_string() } else { indent };
    let mut new_suffix = String::new();
    if array.trailing_comma() {
        let trailing = array.trailing().as_str().unwrap_or("").to_string();
        if let Some((same_line, rest)) = trailing.split_once('\n') {
            if same_line.contains('#') {
                prefix = format!("{same_line}{prefix}");
                array.set_trailing(format!("\n{rest}"));
            }
        }
    } else if let Some((same_line, rest)) = last_suffix.split_once('\n') {
        if let Some(last) = array.len().checked_sub(1).and_then(|i| array.get_mut(i)) {
            last.decor_mut().set_suffix("");
        }
        if same_line.contains('#') {
            prefix = format!("{same_line}{prefix}");
        }
        new_suffix = format!("\n{rest}");
    }
    array.push_formatted(Value::InlineTable(version_table(version)).decorated(prefix, new_suffix));
    Ok(())
}

/// Sets `closed = true`, keeping the spacing before the closing brace where it was.
fn close_inline(table: &mut InlineTable) {
    if let Some(closed) = table.get_mut("closed") {
        let decor = closed.decor().clone();
        *closed = Value::from(true);
        *closed.decor_mut() = decor;
        return;
    }
    let mut before_brace = String::new();
    if let Some((_, value)) = table.iter_mut().last() {
        before_brace = text_of(value.decor().suffix());
        value.decor_mut().set_suffix("");
    }
    table.insert("closed", Value::from(true).decorated(" ", before_brace));
}

fn edit_add(doc: &mut DocumentMut, name: &str, version: &ModuleVersion) -> Result<(), String> {
    let root = doc.as_table_mut();
    if !root.contains_key("modules") {
        let mut modules = Table::new();
        modules.set_implicit(true);
        root.insert("modules", Item::Table(modules));
    }
    let modules = root
        .get_mut("modules")
        .and_then(Item::as_table_mut)
        .ok_or("`modules` is written inline; add the module by hand")?;
    let mut array = Array::new();
    array.push_formatted(Value::InlineTable(version_table(version)).decorated("\n  ", ""));
    array.set_trailing_comma(true);
    array.set_trailing("\n");
    let mut table = Table::new();
    table.insert("versions", toml_edit::value(array));
    modules.insert(name, Item::Table(table));
    Ok(())
}

/// Writes through a temporary file in the same folder and a rename, so readers see the old file
/// or the new one, never a part. Writes through a symlink to its target, and keeps the old
/// file's permissions (a temporary file is created private).
fn write_atomically(path: &Path, text: &str) -> Result<(), RegistryError> {
    let target: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| RegistryError::Io { path: p, source }
    };
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    tmp.write_all(text.as_bytes()).map_err(io(tmp.path()))?;
    if let Ok(meta) = std::fs::metadata(&target) {
        tmp.as_file().set_permissions(meta.permissions()).map_err(io(tmp.path()))?;
    }
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    tmp.persist(&target).map_err(|e| RegistryError::Io { path: target.clone(), source: e.error })?;
    Ok(())
}
