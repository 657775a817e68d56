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
        // A byte-order mark is an editor's, not the file's.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let spanned = match entry_starts(text).and_then(|starts| parse_entries(text, &starts)) {
            Some(entries) => entries,
            None => parse_whole(text, origin)?,
        };
        // Lines in one forward pass (an entry's line from the previous one's): linear in the file.
        let mut entries = Vec::with_capacity(spanned.len());
        let (mut line, mut at) = (1usize, 0usize);
        for (start, declaration) in spanned {
            if let Some(between) = text.get(at..start) {
                line += between.bytes().filter(|&b| b == b'\n').count();
                at = start;
            } else {
                line = line_of(text, start);
                at = start;
            }
            entries.push((line, declaration));
        }
        Declarations::check(entries, origin)
    }
}

/// Each entry with the offset it starts at.
type Entries = Vec<(usize, RawDeclaration)>;

/// The file read as one TOML document: what any file gets, and what gives a malformed one its
/// error and line.
fn parse_whole(text: &str, origin: &Path) -> Result<Entries, DeclarationsError> {
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        DeclarationsError::Invalid { path: origin.to_path_buf(), problems: vec![(line, e.message().trim().to_owned())] }
    })?;
    Ok(file.migration.into_iter().map(|s| (s.span().start, s.into_inner())).collect())
}

/// Each entry parsed on its own (the text from its `[[migration]]` to the next): the same
/// tables as the whole document holds when it is nothing but entries ([`entry_starts`]), read
/// in a fraction of the time and memory a document of 100,000 tables takes. `None` if one does
/// not parse: the whole document is parsed then, for its error.
fn parse_entries(text: &str, starts: &[usize]) -> Option<Entries> {
    let mut out = Vec::with_capacity(starts.len());
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        let file: File = toml::from_str(text.get(start..end)?).ok()?;
        let [entry] = <[_; 1]>::try_from(file.migration).ok()?;
        out.push((start + entry.span().start, entry.into_inner()));
    }
    Some(out)
}

/// Where each `[[migration]]` header starts, if the file holds nothing but such entries
/// (whitespace and comments before the first, key/value pairs after each; multi-line strings,
/// arrays and inline tables as values): `None` for anything else (another table header, a key
/// before the first entry, `[migration.defaults]`), which only the whole document can say.
/// Tokens come from the TOML lexer, so a `[` inside a string or a value is never taken for a
/// header.
fn entry_starts(text: &str) -> Option<Vec<usize>> {
    use toml_parser::lexer::TokenKind as K;
    let source = toml_parser::Source::new(text);
    let mut tokens = source.lex().filter(|t| t.kind() != K::Whitespace).peekable();
    let mut starts = Vec::new();
    // At the start of a line (outside any value), inside a value, and its bracket depth.
    let (mut line_start, mut in_value, mut depth) = (true, false, 0usize);
    while let Some(token) = tokens.next() {
        let kind = token.kind();
        match kind {
            K::Eof => break,
            K::Newline => {
                if depth == 0 {
                    in_value = false;
                    line_start = true;
                }
                continue;
            }
            K::Comment => continue,
            K::LeftSquareBracket if line_start && !in_value => {
                // `[[migration]]`, then only a comment before the end of the line.
                let open = tokens.next()?;
                let name = tokens.next()?;
                let close = (tokens.next()?, tokens.next()?);
                let adjacent =
                    open.span().start() == token.span().end() && close.1.span().start() == close.0.span().end();
                let header = open.kind() == K::LeftSquareBracket
                    && name.kind() == K::Atom
                    && source.get(name.span()).is_some_and(|raw| raw.as_str() == "migration")
                    && close.0.kind() == K::RightSquareBracket
                    && close.1.kind() == K::RightSquareBracket;
                if !(header && adjacent) {
                    return None;
                }
                if tokens.peek().is_some_and(|t| !matches!(t.kind(), K::Newline | K::Comment | K::Eof)) {
                    return None;
                }
                starts.push(token.span().start());
                continue;
            }
            K::Equals if depth == 0 => in_value = true,
            K::LeftSquareBracket | K::LeftCurlyBracket if in_value => depth += 1,
            K::RightSquareBracket | K::RightCurlyBracket if in_value => depth = depth.checked_sub(1)?,
            _ if line_start && starts.is_empty() => return None,
            _ => {}
        }
        line_start = false;
    }
    (!starts.is_empty()).then_some(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = "[[migration]]\nid = \"a\"\nrelease = \"v2\"\nmodule = \"M\"\nstruct = \"S\"\nfrom = \"0x1\"\nto = \"0x2\"\nscope = \"users\"\ntransform = \"derived\"\n";

    /// Entries parsed one by one are the whole document's, at the same offsets.
    fn same_as_whole(text: &str) {
        let starts = entry_starts(text).unwrap_or_else(|| panic!("not split: {text}"));
        let split = parse_entries(text, &starts).unwrap_or_else(|| panic!("an entry does not parse: {text}"));
        let whole = parse_whole(text, Path::new("m.toml")).unwrap();
        assert_eq!(split, whole, "{text}");
    }

    #[test]
    fn a_file_of_entries_reads_the_same_entry_by_entry() {
        same_as_whole(ENTRY);
        same_as_whole(&format!("# comment\n\n{ENTRY}\n  # between\n{}", ENTRY.replace("\"a\"", "\"b\"")));
        // Values that hold brackets, newlines and `[[migration]]` inside strings or arrays.
        let tricky = ENTRY.replace(
            "transform = \"derived\"\n",
            "transform = \"derived\"\ndefaults = { x = \"[[migration]]\", y = '''\n[[migration]]\n''' }\nrenames = {\n  a = \"b\" }\n",
        );
        same_as_whole(&format!("{tricky}  [[migration]]  # indented\n{}", &ENTRY["[[migration]]\n".len()..]));
        same_as_whole(
            &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../stdlib/migrations.toml")).unwrap(),
        );
    }

    #[test]
    fn anything_but_entries_is_left_to_the_whole_document() {
        for text in [
            "",
            "# only a comment\n",
            &format!("key = 1\n{ENTRY}"),
            &format!("{ENTRY}[migration.defaults]\nx = \"1\"\n"),
            &format!("{ENTRY}[other]\n"),
            &format!("{ENTRY}[[other]]\n"),
            &format!("{ENTRY}[ [migration]]\n"),
            &format!("{ENTRY}[[migration]] id = \"x\"\n"),
            &format!("{ENTRY}x = [\n[1]\n]\n[[\"migration\"]]\n"),
        ] {
            let split = entry_starts(text).and_then(|starts| parse_entries(text, &starts));
            assert!(split.is_none(), "split: {text}");
        }
        // A malformed entry: the whole document's error, with its line.
        let bad = format!("{ENTRY}\n[[migration]]\nid = \n");
        assert!(entry_starts(&bad).and_then(|s| parse_entries(&bad, &s)).is_none());
        let err = Declarations::parse(&bad, Path::new("m.toml")).unwrap_err().to_string();
        assert!(err.starts_with("m.toml:12:"), "{err}");
    }
}
