//! The frame of a snapshot file: the magic, version and header at its start, the footer, its
//! length and the trailer at its end, checked together (the trailer is the SHA-256 of the
//! header's and the footer's bytes). Reading them costs a few kilobytes, whatever the state's
//! size; the records between are read by [`crate::entries`].

use crate::error::{corrupt, io_error, SnapshotError};
use crate::format::{
    len_u64, Footer, Header, SnapshotInfo, FORMAT, MAGIC, MAX_FOOTER, MAX_HEADER, MAX_HEIGHT, RESTART, SNAPSHOT_FILE,
    TAIL, VERSION,
};
use binary_format::AddressLength;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::Path;
use vm_hooks::StateRoot;

/// Reads exactly `buf.len()` bytes at `offset`.
pub(crate) fn read_at(file: &File, path: &Path, offset: u64, buf: &mut [u8]) -> Result<(), SnapshotError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(buf, offset).map_err(io_error(path))
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            let n = file
                .seek_read(buf.get_mut(done..).unwrap_or_default(), offset + len_u64(done))
                .map_err(io_error(path))?;
            if n == 0 {
                return Err(SnapshotError::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                });
            }
            done += n;
        }
        Ok(())
    }
}

/// A snapshot's frame, read and checked.
#[derive(Debug)]
pub(crate) struct Layout {
    pub file: File,
    pub info: SnapshotInfo,
}

/// Opens `path` and reads its frame: a regular file within the limit, its magic, version,
/// header, footer and trailer consistent. The records are not read.
pub(crate) fn open(path: &Path) -> Result<Layout, SnapshotError> {
    let (file, size) = input_files::open(path, SNAPSHOT_FILE)?;
    let len = size.ok_or_else(|| SnapshotError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
    })?;
    // The magic: a file that does not start with it is not a snapshot (nor a damaged one).
    let head = usize::try_from(len.min(len_u64(MAGIC.len()))).unwrap_or(0);
    let mut magic = vec![0u8; head];
    read_at(&file, path, 0, &mut magic)?;
    if head == 0 || !MAGIC.starts_with(&magic) {
        return Err(SnapshotError::NotASnapshot { path: path.to_path_buf() });
    }
    if head < MAGIC.len() || len < len_u64(MAGIC.len()) + 8 {
        return Err(corrupt(path, len, "the file ends inside its first bytes"));
    }
    let mut fixed = [0u8; 8];
    read_at(&file, path, len_u64(MAGIC.len()), &mut fixed)?;
    let version = u32::from_be_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]);
    if version != VERSION {
        return Err(SnapshotError::Version { path: path.to_path_buf(), found: version });
    }
    let header_len = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]) as usize;
    let header_at = len_u64(MAGIC.len()) + 8;
    if header_len > MAX_HEADER {
        return Err(corrupt(path, header_at - 4, format!("a header of {header_len} bytes, more than {MAX_HEADER}")));
    }
    let records = header_at + len_u64(header_len);
    if records.saturating_add(1 + TAIL) > len {
        return Err(corrupt(path, len, "the file ends before its header, records and footer"));
    }
    let mut header_json = vec![0u8; header_len];
    read_at(&file, path, header_at, &mut header_json)?;
    // The tail: the footer's length and the trailer.
    let mut tail = [0u8; TAIL as usize];
    read_at(&file, path, len - TAIL, &mut tail)?;
    let footer_len = u64::from(u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]));
    let footer_at = (len - TAIL).checked_sub(footer_len).filter(|at| *at > records).ok_or_else(|| {
        corrupt(path, len - TAIL, format!("the footer length {footer_len} runs past the start of the records"))
    })?;
    if footer_len > len_u64(MAX_FOOTER) {
        return Err(corrupt(path, len - TAIL, format!("a footer of {footer_len} bytes, more than {MAX_FOOTER}")));
    }
    let mut footer_json = vec![0u8; usize::try_from(footer_len).unwrap_or(0)];
    read_at(&file, path, footer_at, &mut footer_json)?;
    let mut sha = Sha256::new();
    let mut prefix = vec![0u8; usize::try_from(records).unwrap_or(0)];
    read_at(&file, path, 0, &mut prefix)?;
    sha.update(&prefix);
    sha.update(&footer_json);
    sha.update(footer_len_bytes(footer_len));
    let found: [u8; 32] = sha.finalize().into();
    let expected = tail.get(4..).unwrap_or_default();
    if found.as_slice() != expected {
        return Err(SnapshotError::Checksum { path: path.to_path_buf(), expected: hex(expected), found: hex(&found) });
    }
    let header: Header = serde_json::from_slice(&header_json)
        .map_err(|e| corrupt(path, header_at, format!("the header is not valid JSON: {e}")))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(corrupt(
            path,
            header_at,
            format!("the header says format {:?} version {}", header.format, header.version),
        ));
    }
    let width = AddressLength::from_bytes(header.address_length).ok_or_else(|| {
        corrupt(path, header_at, format!("the header's address_length {} is not 16, 20 or 32", header.address_length))
    })?;
    if header.height > MAX_HEIGHT {
        return Err(corrupt(
            path,
            header_at,
            format!(
                "the header's height {} is beyond the highest height a chain reaches ({MAX_HEIGHT})",
                header.height
            ),
        ));
    }
    let footer: Footer = serde_json::from_slice(&footer_json)
        .map_err(|e| corrupt(path, footer_at, format!("the footer is not valid JSON: {e}")))?;
    let root = check_footer(path, footer_at, &footer, records)?;
    if footer.end.checked_add(1) != Some(footer_at) {
        return Err(corrupt(
            path,
            footer_at,
            format!("the footer says the records end at {}, the footer starts at {footer_at}", footer.end),
        ));
    }
    let info = SnapshotInfo {
        version: VERSION,
        height: header.height,
        address_length: width,
        chain: header.chain,
        entries: footer.entries,
        state_root: root,
        kinds: footer.kinds,
        tags: footer.tags,
        index: footer.index,
        end: footer.end,
        bytes: len,
    };
    Ok(Layout { file, info })
}

fn footer_len_bytes(n: u64) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

/// Checks what the footer says of itself: its format, its root, its counts and its index.
fn check_footer(path: &Path, at: u64, footer: &Footer, records: u64) -> Result<StateRoot, SnapshotError> {
    if footer.format != FORMAT || footer.version != VERSION {
        return Err(corrupt(
            path,
            at,
            format!("the footer says format {:?} version {}", footer.format, footer.version),
        ));
    }
    let root = Some(&footer.state_root)
        .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|hex| hex.parse::<StateRoot>().ok())
        .ok_or_else(|| {
            let shown: String = footer.state_root.chars().take(80).collect();
            corrupt(path, at, format!("the footer's state root {shown:?} is not 64 hex digits"))
        })?;
    let kinds = footer.kinds.values().try_fold(0u64, |sum, n| sum.checked_add(*n));
    if kinds != Some(footer.entries) {
        return Err(corrupt(
            path,
            at,
            format!("the footer's counts by kind do not add up to its {} entries", footer.entries),
        ));
    }
    let restarts = footer.entries.div_ceil(RESTART);
    let ordered = footer
        .index
        .iter()
        .enumerate()
        .all(|(i, (n, off))| *n == len_u64(i) * RESTART && *off >= records && *off < footer.end)
        && footer.index.windows(2).all(|w| matches!(w, [a, b] if a.1 < b.1));
    if len_u64(footer.index.len()) != restarts || !ordered {
        return Err(corrupt(path, at, "the footer's restart index does not fit its entries"));
    }
    Ok(root)
}

/// Bytes as lowercase hex digits (the checksums in an error).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
