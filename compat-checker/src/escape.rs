//! Untrusted text made safe to print: the one place every renderer (the check's text and GitHub
//! reports, the rehearsal's text report, `devnet status`) sends names and messages through.
//!
//! A release, a state file or a chain's status is untrusted, and the names in it (a package, a
//! type, an address, a path, a quarantine reason) reach a terminal or a CI log: a newline there
//! starts a line of the attacker's (in GitHub Actions, a `::error` workflow command), an escape
//! sequence rewrites the terminal, a NUL or a bidirectional override hides text. [`shown`]
//! writes every such character as a visible escape (`\n`, `\x1b`, `\u{202e}`); [`Text`] is a
//! `writeln!` target that does it to every line; [`workflow_data`] and [`workflow_property`] add
//! GitHub's own encoding for a workflow command's message and properties.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` must not reach a terminal or a log as itself: control characters (C0, DEL, C1),
/// and the format characters that reorder or hide text (bidirectional marks, embeddings,
/// overrides and isolates, line and paragraph separators, zero-width characters).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `s` with every hidden character (control and text-reordering characters) written as an escape: `\n`, `\r`, `\t`, `\0`,
/// `\x1b` (below U+0080), `\u{202e}` (above). Everything else is kept, backslashes included.
pub fn shown(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if hidden(c) && u32::from(c) < 0x80 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if hidden(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The message of a GitHub workflow command (`::error ...::MESSAGE`): [`shown`], then `%`, CR
/// and LF percent-encoded as GitHub decodes them, so the message is one line of its own.
pub fn workflow_data(s: &str) -> String {
    shown(s).replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A property of a GitHub workflow command (`file=`, `title=`): as [`workflow_data`], and `:`
/// and `,` encoded too, which end a property.
pub fn workflow_property(s: &str) -> String {
    workflow_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Text written with `writeln!` whose every line is [`shown`]: whatever a formatted value holds,
/// each `writeln!` makes exactly one line. (`write!` without a newline is escaped whole.)
#[derive(Debug, Default, Clone)]
pub struct Text(String);

impl Text {
    pub fn new() -> Text {
        Text::default()
    }

    /// What `writeln!(text, ...)` calls: the formatted line, escaped, and its newline.
    pub fn write_fmt(&mut self, args: fmt::Arguments<'_>) -> fmt::Result {
        let line = fmt::format(args);
        match line.strip_suffix('\n') {
            Some(body) => {
                self.0.push_str(&shown(body));
                self.0.push('\n');
            }
            None => self.0.push_str(&shown(&line)),
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_hiding_characters_are_written_as_escapes() {
        assert!(matches!(shown("0x1::Coin::Coin<u64> at /tmp/ä"), Cow::Borrowed(_)));
        assert_eq!(shown("a\nb\r\t\0\x1b[31m\x7f\u{85}"), "a\\nb\\r\\t\\0\\x1b[31m\\x7f\\u{85}");
        assert_eq!(shown("abc\u{202e}fed\u{2066}"), "abc\\u{202e}fed\\u{2066}");
        assert_eq!(workflow_data("50%\n::error::x"), "50%25\\n::error::x");
        assert_eq!(workflow_property("a:b,c\nd"), "a%3Ab%2Cc\\nd");
        let mut t = Text::new();
        let name = "pkg\n::error file=x::injected\x1b[2J";
        let _ = writeln!(t, "name: {name}");
        let _ = writeln!(t, "second");
        assert_eq!(t.as_str(), "name: pkg\\n::error file=x::injected\\x1b[2J\nsecond\n");
    }
}
