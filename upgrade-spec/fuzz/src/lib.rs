//! The bodies of the fuzz targets: parsers of the files a release engineer writes by hand, fed
//! any bytes. The contracts: never a panic, every problem names a line inside the text, and a
//! file that parses keeps its promises (unique ids, release labels, addresses).

use std::path::Path;
use upgrade_spec::declarations::Declarations;
use upgrade_spec::ReleaseLabel;
use upgrade_spec::registry::Registry;

fn lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count() + 1
}

/// Declarations: parsed, or refused with every problem on a line of the text.
pub fn check_declarations(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Declarations::parse(text, Path::new("m.toml")) {
        Ok(d) => {
            let mut ids: Vec<&str> = d.entries().iter().map(|e| e.id.as_str()).collect();
            ids.sort_unstable();
            let n = ids.len();
            ids.dedup();
            assert_eq!(ids.len(), n, "two entries share an id");
            for e in d.entries() {
                assert!(ReleaseLabel::new(e.release.as_str()).is_ok(), "{:?}", e.release);
                assert!(e.line >= 1 && e.line <= lines(text), "line {} of {}", e.line, lines(text));
            }
        }
        Err(upgrade_spec::declarations::DeclarationsError::Invalid { problems, .. }) => {
            assert!(!problems.is_empty());
            for (line, message) in problems {
                assert!(line >= 1 && line <= lines(text), "line {line} of {}: {message}", lines(text));
                assert!(!message.contains('\n') || message.lines().count() < 64, "{message}");
            }
        }
        Err(other) => panic!("parsing text gave {other}"),
    }
}

/// The registry: parsed and checked, or refused with violations on lines of the text.
pub fn check_registry(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Registry::parse(text, Path::new("r.toml")) {
        Ok(r) => {
            assert!(r.violations().is_empty());
            // A checked registry answers its queries without panicking.
            let _ = r.next_address();
            for (name, entry) in r.modules() {
                let _ = r.newest(name);
                for v in entry.versions() {
                    let _ = r.lookup(&v.id(name));
                }
            }
        }
        Err(e) => {
            for v in e.violations() {
                if let Some(line) = v.line {
                    assert!(line >= 1 && line <= lines(text), "line {line} of {}", lines(text));
                }
            }
        }
    }
}
