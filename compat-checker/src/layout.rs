//! The canonical rendering of a release's layouts: what framework authors snapshot.
//!
//! Both forms are stable: modules sorted by address then name, structs and functions by name,
//! fields and variants in declaration order, addresses in shortest hex, types as Move source
//! writes them. The text form of one module is `binary_format::text` (the stdlib's definitions
//! are written in it too); the JSON form is the serde form of `binary_format::Module`. Changing
//! either is a breaking change for every snapshot downstream: bump `LAYOUT_SCHEMA`.

use binary_format::Module;
use serde::Serialize;

/// Version of the JSON schema.
pub const LAYOUT_SCHEMA: u32 = 1;

#[derive(Serialize)]
struct LayoutDoc<'a> {
    schema: u32,
    modules: &'a [&'a Module],
}

/// The JSON form (schema in README.md).
pub fn render_json(modules: &[&Module]) -> String {
    let doc = LayoutDoc { schema: LAYOUT_SCHEMA, modules };
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// The text form: modules separated by blank lines.
pub fn render_text(modules: &[&Module]) -> String {
    modules.iter().map(|m| binary_format::text::render(m)).collect::<Vec<_>>().join("\n")
}

/// Modules in canonical order (address, then name).
pub fn sorted<'a>(modules: impl IntoIterator<Item = &'a Module>) -> Vec<&'a Module> {
    let mut out: Vec<&Module> = modules.into_iter().collect();
    out.sort_by(|a, b| (a.address, &a.name).cmp(&(b.address, &b.name)));
    out
}
