//! `layout RELEASE`: the canonical layouts of a release.

use crate::{LayoutFormat, Outcome};
use binary_format::AddressLength;
use compat_checker::layout;
use std::path::Path;

pub fn run(path: &Path, format: LayoutFormat, address_length: Option<AddressLength>) -> anyhow::Result<Outcome> {
    let release = super::load(path, address_length)?;
    let modules = layout::sorted(release.modules.iter().map(|m| &m.module));
    super::print(&match format {
        LayoutFormat::Text => layout::render_text(&modules),
        LayoutFormat::Json => layout::render_json(&modules),
    })?;
    Ok(if super::report_failures(&release) { Outcome::BadInput } else { Outcome::Ok })
}
