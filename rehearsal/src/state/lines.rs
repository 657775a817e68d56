//! Reading untrusted text inputs line by line: a file plain or gzipped (told by its first
//! bytes), lines of bounded length (a longer one is skipped, not held), hex, and fields quoted
//! for people. What JSON Lines states, `--table-types` files and the Diem-family backup's
//! manifests share.

use crate::state::StateError;
use flate2::read::MultiGzDecoder;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

const BUFFER: usize = 1 << 20;

/// The gzip magic bytes.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The UTF-8 byte-order mark some editors and exporters put first.
pub const BOM: [u8; 3] = [0xef, 0xbb, 0xbf];
/// An error reading line `line` (counted from 1) of `path`: a gzip stream that ends early or is
/// damaged is the file's fault (bad input, one line naming the file and line); any other error
/// is the machine's.
pub(crate) fn read_error(path: &Path, line: u64, source: std::io::Error) -> StateError {
    use std::io::ErrorKind;
    match source.kind() {
        ErrorKind::UnexpectedEof | ErrorKind::InvalidData | ErrorKind::InvalidInput => StateError::BadLine {
            path: path.to_path_buf(),
            line,
            reason: format!("cannot read the line: {source} (a compressed stream cut short or damaged)"),
        },
        _ => StateError::Io { path: path.to_path_buf(), source },
    }
}

/// The lines of a file, plain or gzipped (the gzip stream ends where the file's bytes reach
/// `kind`'s limit).
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

/// [`shown`] of bytes that may not be UTF-8: only their start is converted (a line may be 64 MiB).
pub(crate) fn shown_bytes(b: &[u8]) -> String {
    // 80 characters take at most 320 bytes; one more makes `shown` say there is more.
    let start = b.get(..b.len().min(321)).unwrap_or(b);
    let mut out = shown(&String::from_utf8_lossy(start));
    if start.len() < b.len() && !out.ends_with('…') {
        out.push('…');
    }
    out
}
