//! The declarations file (`migrations.toml`): read within a size limit, parsed with a line per
//! entry, then checked by [`Declarations::check`].

use super::{Declarations, DeclarationsError, RawDeclaration};
use std::path::Path;

/// Largest declarations file read.
pub const MAX_DECLARATIONS_FILE: u64 = 16 << 20;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    migration: Vec<toml::Spanned<RawDeclaration>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).map_or(1, |t| t.bytes().filter(|&b| b == b'\n').count() + 1)
}

impl Declarations {
    /// Reads and parses a declarations file (a regular file of at most
    /// [`MAX_DECLARATIONS_FILE`] bytes).
    pub fn load(path: &Path) -> Result<Declarations, DeclarationsError> {
        let text = input_files::read_to_string(path, input_files::Kind::new("declarations", MAX_DECLARATIONS_FILE))?;
        Self::parse(&text, path)
    }

    /// Parses and checks every entry; all problems are reported together.
    pub fn parse(text: &str, origin: &Path) -> Result<Declarations, DeclarationsError> {
        let invalid = |problems| DeclarationsError::Invalid { path: origin.to_path_buf(), problems };
        // A byte-order mark is an editor's, not the file's.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let file: File = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            invalid(vec![(line, e.message().trim().to_owned())])
        })?;
        // Lines in one forward pass (an entry's line from the previous one's): linear in the file.
        let mut entries = Vec::with_capacity(file.migration.len());
        let (mut line, mut at) = (1usize, 0usize);
        for spanned in file.migration {
            let start = spanned.span().start;
            if let Some(between) = text.get(at..start) {
                line += between.bytes().filter(|&b| b == b'\n').count();
                at = start;
            } else {
                line = line_of(text, start);
                at = start;
            }
            entries.push((line, spanned.into_inner()));
        }
        Declarations::check(entries, origin)
    }
}
