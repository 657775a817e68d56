//! Changing the registry file in place: allocating a module's next version, adding a module.
//!
//! The file is reviewed by people, so a change made by a tool must look like one a person would
//! make: comments, order and layout of everything else stay as they were (toml_edit keeps them).
//! A change is written to a temporary file in the same folder and renamed over the old one, so a
//! crash or a failed check never leaves a half-written registry behind. This is release tooling
//! (a node only reads registries), so it lives here, beside `build-releases`, and not in `stdlib`.

use std::io::Write;
use std::path::{Path, PathBuf};
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};
use upgrade_spec::registry::{read_file as read, ModuleVersion, Registry, RegistryError, ReleaseName};

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
