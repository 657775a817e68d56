//! The registry file: reading it within a size limit, and parsing it with line numbers.
//!
//! The file is reviewed by people, so every problem is reported with its line, all of them in one
//! pass. Parsing keeps each key's and value's span (`toml`'s spanned document, in file order), so
//! a violation points at the line a person must change. Changing the file (keeping its comments
//! and layout) is release tooling, not something a node needs: it lives in `stdlib-tools`.

use super::release_name::ReleaseName;
use super::rules::SYNTAX;
use super::{ModuleEntry, ModuleLines, ModuleVersion, Registry, RegistryError, Violation};
use binary_format::{identifier, Address};
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Largest registry file read. A full reserved range is a few hundred KiB; anything much larger
/// is not a registry, and reading it whole would be an allocation an untrusted file chooses.
pub const MAX_REGISTRY_FILE: u64 = 16 << 20;

/// Reads a registry file's text, refusing one larger than [`MAX_REGISTRY_FILE`].
pub fn read(path: &Path) -> Result<String, RegistryError> {
    input_files::read_to_string(path, input_files::Kind::new("registry", MAX_REGISTRY_FILE)).map_err(|e| match e {
        input_files::InputError::Io { path, source } => RegistryError::Io { path, source },
        other => RegistryError::invalid(path, vec![Violation::new(SYNTAX, None, other.to_string())]),
    })
}

type Value<'i> = Spanned<DeValue<'i>>;

/// Reads registry text, reporting every syntax problem (not only the first).
pub(super) fn parse(text: &str, origin: &Path) -> Result<Registry, RegistryError> {
    let mut p = Parser::new(text);
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let message = format!("not valid TOML: {}", e.message().trim());
            return Err(RegistryError::invalid(origin, vec![Violation::new(SYNTAX, p.line(e.span()), message)]));
        }
    };
    let mut registry = Registry::new(Address::ZERO, origin);
    let mut genesis_seen = false;
    for (key, item) in doc.get_ref().iter() {
        let line = p.line(Some(key.span()));
        match key.get_ref().as_ref() {
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

/// What a TOML value is, for messages.
fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "string",
        DeValue::Integer(_) => "integer",
        DeValue::Float(_) => "float",
        DeValue::Boolean(_) => "boolean",
        DeValue::Datetime(_) => "datetime",
        DeValue::Array(_) => "array",
        DeValue::Table(_) => "table",
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

    fn error(&mut self, line: Option<usize>, message: impl Into<String>) {
        self.violations.push(Violation::new(SYNTAX, line, message));
    }

    fn unknown(&mut self, key: &str, line: Option<usize>, place: &str, known: &str) {
        self.error(line, format!("unknown key `{key}` {place} (known keys: {known})"));
    }

    fn string<'v>(&mut self, item: &'v Value<'_>, what: &str, example: &str, line: Option<usize>) -> Option<&'v str> {
        match item.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.error(line, format!("{what} must be a string such as {example:?}, not {}", type_name(other)));
                None
            }
        }
    }

    fn bool(&mut self, item: &Value<'_>, what: &str, line: Option<usize>) -> Option<bool> {
        match item.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.error(line, format!("{what} must be true or false, not {}", type_name(other)));
                None
            }
        }
    }

    /// Addresses must carry `0x`: without it `10` could be read as ten or sixteen.
    fn address(&mut self, item: &Value<'_>, what: &str, line: Option<usize>) -> Option<Address> {
        let s = self.string(item, what, "0x2", line)?;
        let address = s.strip_prefix("0x").and_then(|_| Address::parse_hex(s));
        if address.is_none() {
            self.error(line, format!("{what} {s:?} is not an address: write it in hex with a 0x prefix, like \"0x2\""));
        }
        address
    }

    fn release(&mut self, item: &Value<'_>, line: Option<usize>) -> Option<ReleaseName> {
        let s = self.string(item, "release", "v2", line)?;
        match s.parse() {
            Ok(release) => Some(release),
            Err(e) => {
                self.error(line, format!("release {e}"));
                None
            }
        }
    }

    fn modules(&mut self, item: &Value<'_>, line: Option<usize>, registry: &mut Registry) {
        let DeValue::Table(modules) = item.get_ref() else {
            self.error(line, format!("`modules` must be a table of modules, not {}", type_name(item.get_ref())));
            return;
        };
        for (name, item) in modules.iter() {
            let line = self.line(Some(name.span()));
            let name = name.get_ref().as_ref();
            if !identifier::is_valid(name) {
                self.error(line, format!("{name:?} is not a valid Move identifier, so it cannot name a module"));
            }
            if let Some((entry, lines)) = self.module(name, item, line) {
                registry.modules.insert(name.to_string(), entry);
                registry.lines.modules.insert(name.to_string(), lines);
            }
        }
    }

    fn module(&mut self, name: &str, item: &Value<'_>, line: Option<usize>) -> Option<(ModuleEntry, ModuleLines)> {
        let DeValue::Table(table) = item.get_ref() else {
            let found = type_name(item.get_ref());
            self.error(line, format!("module {name} must be a table with `versions`, not {found}"));
            return None;
        };
        let mut entry = ModuleEntry::default();
        let mut lines = ModuleLines { header: line, ..ModuleLines::default() };
        let mut versions_seen = false;
        let mut ok = true;
        for (key, item) in table.iter() {
            let key_line = self.line(Some(key.span()));
            match key.get_ref().as_ref() {
                "retired" => match self.bool(item, "retired", key_line) {
                    Some(retired) => {
                        entry.retired = retired;
                        lines.retired = key_line;
                    }
                    None => ok = false,
                },
                "versions" => {
                    versions_seen = true;
                    let mut tables = Vec::new();
                    match item.get_ref() {
                        DeValue::Array(array) => {
                            for value in array.iter() {
                                let line = self.line(Some(value.span())).or(key_line);
                                match value.get_ref() {
                                    DeValue::Table(t) => tables.push((t, line)),
                                    other => {
                                        ok = false;
                                        self.error(
                                            line,
                                            format!(
                                                "each version of {name} must be a table like {{ address = \"0x1\", \
                                                 release = \"v1\" }}, not {}",
                                                type_name(other)
                                            ),
                                        );
                                    }
                                }
                            }
                        }
                        other => {
                            ok = false;
                            self.error(
                                key_line,
                                format!("`versions` of {name} must be an array of versions, not {}", type_name(other)),
                            );
                        }
                    }
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

    fn version(&mut self, name: &str, table: &DeTable<'_>, line: Option<usize>) -> Option<ModuleVersion> {
        let (mut address, mut release, mut predecessor, mut closed) = (None, None, None, false);
        let mut ok = true;
        for (key, item) in table.iter() {
            let key_line = self.line(Some(key.span())).or(line);
            match key.get_ref().as_ref() {
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
