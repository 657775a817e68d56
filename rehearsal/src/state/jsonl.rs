//! The interchange format: JSON Lines, one resource or module a line, gzip accepted (recognised
//! by its magic bytes, whatever the file is called).
//!
//! ```text
//! {"address":"0x…","type":"0x1::M::S<…>","bytes":"<hex BCS>"}
//! {"module":"0x1::M","bytes":"<hex bytecode>"}
//! ```
//!
//! Any chain's exporter can write it. Addresses are read with the release's width; hex may carry
//! a `0x` prefix; blank lines are ignored and so are fields other than these, and so is a UTF-8
//! byte-order mark at the start (an editor's, not the file's). A line that cannot
//! be read (not an object, odd hex, a type that does not parse, a line longer than
//! [`MAX_LINE`]) is skipped and reported with its line number; the rest is read.

use super::{
    At, Context, EntrySink, ModuleBytes, ModuleSink, Origin, Problem, ProblemKind, Problems, Resource, SourceInfo,
    StateError, StateSource,
};
use flate2::read::MultiGzDecoder;
use migrations::{AccountAddress, StructTag};
use serde::Deserialize;
use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What a JSON Lines file is to [`input_files`]: up to 1 TiB, streamed.
pub const JSONL_FILE: input_files::Kind = input_files::Kind::new("JSON Lines state", 1 << 40);
/// The longest line read (a resource of several MiB is twice that in hex).
pub const MAX_LINE: usize = 64 << 20;
/// The gzip magic bytes.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The UTF-8 byte-order mark some editors and exporters put first.
pub const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
const BUFFER: usize = 1 << 20;

/// A JSON Lines state file, plain or gzipped.
#[derive(Debug)]
pub struct JsonlSource {
    path: PathBuf,
    gzip: bool,
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
}

/// The lines of a file, plain or gzipped, each at most [`MAX_LINE`] bytes.
pub(crate) fn open_lines(path: &Path, kind: input_files::Kind) -> Result<(Box<dyn BufRead>, bool), StateError> {
    let (file, _) = input_files::open(path, kind)?;
    let mut plain = BufReader::with_capacity(BUFFER, file.take(kind.max_bytes.saturating_add(1)));
    let head = plain.fill_buf().map_err(|source| StateError::Io { path: path.to_path_buf(), source })?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok((Box::new(BufReader::with_capacity(BUFFER, MultiGzDecoder::new(plain))), true))
    } else {
        Ok((Box::new(plain), false))
    }
}

/// Reads the next line into `buf` (without its newline). `Ok(None)` at the end; `Ok(Some(false))`
/// for a line longer than `max`, whose rest is skipped (and `buf` holds its start).
pub(crate) fn next_line(r: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut any = false;
    let mut fits = true;
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (available.get(..i).unwrap_or_default(), Some(i + 1)),
            None => (available, None),
        };
        if fits {
            if buf.len() + chunk.len() > max {
                fits = false;
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(available.len());
        r.consume(used);
        if done.is_some() {
            return Ok(Some(fits));
        }
    }
}

/// Decodes hex digits, with or without a `0x` prefix.
pub fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits = s.strip_prefix("0x").unwrap_or(s).as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("hex of odd length ({} digits)", digits.len()));
    }
    let value = |b: u8, at: usize| match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(format!("`{}` at digit {at} is not a hex digit", char::from(b).escape_default())),
    };
    let mut out = Vec::with_capacity(digits.len() / 2);
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        if let [hi, lo] = pair {
            out.push((value(*hi, 2 * i)? << 4) | value(*lo, 2 * i + 1)?);
        }
    }
    Ok(out)
}

/// Lowercase hex of `bytes`.
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            s.push(char::from(DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0')));
        }
    }
    s
}

/// A line (or a field) for people: at most 80 characters of it, escaped.
pub(crate) fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_default).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

enum Parsed<'a> {
    Resource { address: Cow<'a, str>, ty: Cow<'a, str>, bytes: Cow<'a, str> },
    Module { bytes: Cow<'a, str> },
}

fn parse_line(line: &[u8]) -> Result<Parsed<'_>, (ProblemKind, String)> {
    match serde_json::from_slice::<Line<'_>>(line) {
        Ok(Line { address: Some(address), ty: Some(ty), bytes: Some(bytes), module: None }) => {
            Ok(Parsed::Resource { address, ty, bytes })
        }
        Ok(Line { address: None, ty: None, bytes: Some(bytes), module: Some(_) }) => Ok(Parsed::Module { bytes }),
        Ok(_) => Err((
            ProblemKind::BadLine,
            "an object that is neither a resource ({\"address\",\"type\",\"bytes\"}) nor a module ({\"module\",\"bytes\"})"
                .to_owned(),
        )),
        Err(e) => match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(_)) => Err((ProblemKind::BadLine, format!("a field is not a string: {e}"))),
            Ok(other) => Err((ProblemKind::NotAnObject, format!("a JSON {} is not an object", kind_of(&other)))),
            Err(e) => Err((ProblemKind::NotAnObject, format!("not JSON: {e}"))),
        },
    }
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

impl JsonlSource {
    /// Opens `path` (checking that it can be read).
    pub fn open(path: &Path) -> Result<JsonlSource, StateError> {
        let (_, gzip) = open_lines(path, JSONL_FILE)?;
        Ok(JsonlSource { path: path.to_path_buf(), gzip })
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
        let io = |source| StateError::Io { path: self.path.clone(), source };
        while let Some(fits) = next_line(&mut *lines, &mut buf, MAX_LINE).map_err(io)? {
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
                        message: format!("{message}: {}", shown(&String::from_utf8_lossy(line))),
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
        let width = context.width;
        let mut last: Option<(String, StructTag)> = None;
        let mut key = Vec::new();
        self.pass(problems, &mut |parsed, origin, problems| {
            let Parsed::Resource { address, ty, bytes } = parsed else {
                return Ok(());
            };
            let problem = |kind, key: &str, message: String| Problem {
                kind,
                origin: origin.to_string(),
                key: Some(shown(key)),
                message,
            };
            let account = match AccountAddress::parse(&address, width) {
                Ok(a) => a,
                Err(e) => {
                    problems.add(problem(ProblemKind::BadAddress, &address, e.to_string()), 1);
                    return Ok(());
                }
            };
            // Consecutive lines of one type parse it once.
            if last.as_ref().is_none_or(|(text, _)| text.as_str() != ty.as_ref()) {
                match StructTag::parse(&ty, width) {
                    Ok(tag) => last = Some((ty.to_string(), tag)),
                    Err(e) => {
                        problems.add(problem(ProblemKind::BadType, &ty, e.to_string()), 1);
                        return Ok(());
                    }
                }
            }
            let Some((_, tag)) = &last else { return Ok(()) };
            let bytes = match decode_hex(&bytes) {
                Ok(b) => b,
                Err(message) => {
                    problems.add(problem(ProblemKind::BadHex, &format!("{tag} at {account}"), message), 1);
                    return Ok(());
                }
            };
            Resource { account, tag, bytes: &bytes, origin }.visit_as_entry(&mut key, visit)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
