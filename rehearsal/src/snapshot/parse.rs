//! Parsing a snapshot: the magic, the version and the header; the records, their framing and
//! key order, the state root recomputed; the footer checked against them; the trailer.

use super::error::{corrupt, SnapshotError};
use super::format::MAX_HEIGHT;
use super::format::{
    len_u64, Footer, Header, SnapshotInfo, FORMAT, KIND_END, KIND_RESOURCE, KIND_TAG, MAGIC, MAX_FOOTER, MAX_HEADER,
    MAX_TAG_PREFIX, MAX_VALUE, TAIL, VERSION,
};
use super::reader::Reader;
use binary_format::AddressLength;
use migrations::{AccountAddress, StructTag};
use std::collections::BTreeMap;
use std::path::Path;
use vm_hooks::persistent::{decode_prefix, tag_prefix};
use vm_hooks::{RootHasher, StateRoot};

/// Reads the magic, the version and the header; leaves the reader at the first record, its
/// limit before the footer length and trailer.
pub(super) fn read_header(r: &mut Reader<'_>) -> Result<Header, SnapshotError> {
    let path = r.path;
    let head = MAGIC.len().min(usize::try_from(r.len).unwrap_or(usize::MAX));
    let magic = r.take(head, "the magic")?;
    if head == 0 || !MAGIC.starts_with(magic) {
        return Err(SnapshotError::NotASnapshot { path: path.to_path_buf() });
    }
    if head < MAGIC.len() {
        return Err(r.corrupt(r.offset, "truncated inside the magic"));
    }
    let version = r.u32("the format version")?;
    if version != VERSION {
        return Err(SnapshotError::Version { path: path.to_path_buf(), found: version });
    }
    r.limit = r.len.saturating_sub(TAIL);
    let at = r.offset;
    let len = r.u32("the header length")? as usize;
    if len > MAX_HEADER {
        return Err(r.corrupt(at, format!("the header length {len} is more than the limit of {MAX_HEADER}")));
    }
    let at = r.offset;
    let json = r.take(len, "the header")?;
    let header: Header =
        serde_json::from_slice(json).map_err(|e| corrupt(path, at, format!("the header is not valid JSON: {e}")))?;
    if header.format != FORMAT {
        return Err(corrupt(path, at, format!("the header's format is {:?}, not {FORMAT:?}", header.format)));
    }
    if header.version != VERSION {
        return Err(corrupt(
            path,
            at,
            format!("the header says version {}, the file's version field {VERSION}", header.version),
        ));
    }
    if AddressLength::from_bytes(header.address_length).is_none() {
        return Err(corrupt(
            path,
            at,
            format!("the header's address_length {} is not 16, 20 or 32", header.address_length),
        ));
    }
    if header.height > MAX_HEIGHT {
        return Err(corrupt(
            path,
            at,
            format!(
                "the header's height {} is beyond the highest height a chain reaches ({MAX_HEIGHT})",
                header.height
            ),
        ));
    }
    Ok(header)
}

/// One record, as handed to a pass's sink.
pub(super) enum Item<'a> {
    Tag(&'a StructTag),
    Resource(&'a AccountAddress, &'a [u8]),
}

pub(super) type Sink<'s> = &'s mut dyn FnMut(Item<'_>) -> Result<(), SnapshotError>;

/// What the records hold.
struct Body {
    resources: u64,
    /// The recomputed root, if asked for.
    root: Option<StateRoot>,
    tags: BTreeMap<String, u64>,
}

/// Reads the records up to and including the end record, checking their framing and order,
/// and recomputing the state root if `hash_root` (the most expensive part of a pass).
fn read_records(
    r: &mut Reader<'_>,
    width: AddressLength,
    sink: Sink<'_>,
    hash_root: bool,
) -> Result<Body, SnapshotError> {
    let path = r.path;
    let mut root = hash_root.then(RootHasher::new);
    let mut resources = 0u64;
    let mut tags: BTreeMap<String, u64> = BTreeMap::new();
    let mut prefix: Vec<u8> = Vec::new();
    // The current run: its tag, rendered, the offset of its record, its count and last account.
    let mut current: Option<(StructTag, String, u64)> = None;
    let mut run = 0u64;
    let mut last: Option<AccountAddress> = None;
    let close = |current: &mut Option<(StructTag, String, u64)>, run: u64, tags: &mut BTreeMap<String, u64>| {
        if let Some((_, rendered, at)) = current.take() {
            if run == 0 {
                return Err(corrupt(path, at, format!("the run of {rendered} holds no resource")));
            }
            *tags.entry(rendered).or_default() += run;
        }
        Ok(())
    };
    loop {
        let at = r.offset;
        match r.byte("a record kind")? {
            KIND_END => {
                close(&mut current, run, &mut tags)?;
                break;
            }
            KIND_TAG => {
                let len_at = r.offset;
                let len_bytes = r.array::<4>("a tag prefix length")?;
                let len = u32::from_be_bytes(len_bytes) as usize;
                if len > MAX_TAG_PREFIX - 4 {
                    return Err(r.corrupt(len_at, format!("a tag prefix of {len} bytes, more than {MAX_TAG_PREFIX}")));
                }
                let mut next = Vec::with_capacity(4 + len);
                next.extend_from_slice(&len_bytes);
                next.extend_from_slice(r.take(len, "a tag prefix")?);
                let tag = decode_prefix(&next, width)
                    .map_err(|e| corrupt(path, len_at, format!("a tag prefix does not decode: {e}")))?;
                let rendered = tag.to_string();
                if tag_prefix(&tag) != next {
                    return Err(corrupt(path, len_at, format!("the tag prefix of {rendered} is not canonical")));
                }
                if let Some((_, previous, _)) = &current {
                    if next <= prefix {
                        return Err(corrupt(
                            path,
                            at,
                            format!("keys out of order: the run of {rendered} comes after the run of {previous}"),
                        ));
                    }
                }
                close(&mut current, run, &mut tags)?;
                run = 0;
                last = None;
                prefix = next;
                sink(Item::Tag(&tag))?;
                current = Some((tag, rendered, at));
            }
            KIND_RESOURCE => {
                let Some((_, rendered, _)) = &current else {
                    return Err(r.corrupt(at, "a resource record before any tag record"));
                };
                let account = AccountAddress::new(r.take(width.bytes(), "an account")?)
                    .map_err(|e| corrupt(path, at, e.to_string()))?;
                if let Some(previous) = last.filter(|previous| *previous >= account) {
                    return Err(corrupt(
                        path,
                        at,
                        format!("keys out of order: account {} comes after {} under {rendered}", account, previous),
                    ));
                }
                let len_at = r.offset;
                let len = r.u32("a value length")? as usize;
                if len > MAX_VALUE {
                    return Err(r.corrupt(len_at, format!("a value of {len} bytes, more than {MAX_VALUE}")));
                }
                let value = r.take(len, "a value")?;
                if let Some(root) = &mut root {
                    root.add(&prefix, &account, value);
                }
                sink(Item::Resource(&account, value))?;
                resources += 1;
                run += 1;
                last = Some(account);
            }
            kind => return Err(r.corrupt(at, format!("unknown record kind {kind}"))),
        }
    }
    Ok(Body { resources, root: root.map(RootHasher::finish), tags })
}

/// Parses a footer read at `at`.
pub(super) fn parse_footer(path: &Path, at: u64, json: &[u8]) -> Result<(Footer, StateRoot), SnapshotError> {
    let footer: Footer =
        serde_json::from_slice(json).map_err(|e| corrupt(path, at, format!("the footer is not valid JSON: {e}")))?;
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
    let sum = footer.tags.values().try_fold(0u64, |sum, n| sum.checked_add(*n));
    if sum != Some(footer.resources) {
        return Err(corrupt(
            path,
            at,
            format!("the footer's per-tag counts do not add up to its {} resources", footer.resources),
        ));
    }
    Ok((footer, root))
}

/// Reads the footer, its length and the trailer after the end record, and checks them against
/// the records. Returns the info and the file's checksum.
fn read_tail(r: &mut Reader<'_>, header: Header, body: Body) -> Result<(SnapshotInfo, [u8; 32]), SnapshotError> {
    let path = r.path;
    let at = r.offset;
    let footer_len = r.left();
    if footer_len > len_u64(MAX_FOOTER) {
        return Err(r.corrupt(at, format!("a footer of {footer_len} bytes, more than the limit of {MAX_FOOTER}")));
    }
    let json = r.take(usize::try_from(footer_len).unwrap_or(usize::MAX), "the footer")?.to_vec();
    r.limit = r.len;
    let len_at = r.offset;
    let stored = r.u32("the footer length")?;
    let (expected, found) = r.trailer()?;
    if expected != found {
        return Err(SnapshotError::Checksum { path: path.to_path_buf(), expected: hex(&expected), found: hex(&found) });
    }
    if u64::from(stored) != footer_len {
        return Err(r.corrupt(
            len_at,
            format!("the footer length field says {stored} bytes, the footer after the end record is {footer_len}"),
        ));
    }
    let (footer, root) = parse_footer(path, at, &json)?;
    if footer.resources != body.resources || footer.tags != body.tags {
        return Err(corrupt(
            path,
            at,
            format!(
                "the footer counts {} resources under {} tags, the records {} under {}",
                footer.resources,
                footer.tags.len(),
                body.resources,
                body.tags.len()
            ),
        ));
    }
    if let Some(found) = body.root.filter(|found| *found != root) {
        return Err(SnapshotError::RootMismatch { path: path.to_path_buf(), expected: root, found });
    }
    let info = SnapshotInfo {
        version: VERSION,
        height: header.height,
        address_length: AddressLength::from_bytes(header.address_length).unwrap_or_default(),
        chain: header.chain,
        resources: body.resources,
        state_root: root,
        tags: body.tags,
        bytes: r.len,
    };
    Ok((info, found))
}

/// Reads the whole file once, handing every record to `sink`, and checks everything (the state
/// root only if `hash_root`). Returns the info and the file's checksum.
pub(super) fn pass(path: &Path, sink: Sink<'_>, hash_root: bool) -> Result<(SnapshotInfo, [u8; 32]), SnapshotError> {
    let mut r = Reader::open(path, true)?;
    let header = read_header(&mut r)?;
    let width = AddressLength::from_bytes(header.address_length).unwrap_or_default();
    let body = read_records(&mut r, width, sink, hash_root)?;
    read_tail(&mut r, header, body)
}

/// Bytes as lowercase hex digits (the checksums in an error).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::import::import;
    use super::super::read::{read_info, verify};
    use super::super::testing::parse_struct_tag;
    use super::super::testing::{assert_one_line, exported, store_with, TAGS};
    use super::super::writer::Writer;
    use super::*;
    use migrations::store::InMemoryStore;
    use serde_json::Value;
    use sha2::{Digest, Sha256};
    use std::fs::{self, OpenOptions};
    use vm_hooks::state_root;

    #[test]
    fn every_truncation_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = exported(dir.path(), &store_with(5));
        let bytes = fs::read(&path).unwrap();
        let cut = dir.path().join("cut");
        for len in 0..bytes.len() {
            fs::write(&cut, &bytes[..len]).unwrap();
            let err = verify(&cut).unwrap_err();
            assert_one_line(&err, &cut);
            let _ = read_info(&cut);
            let mut store = InMemoryStore::new();
            assert!(import(&cut, &mut store, 2, &mut |_| {}).is_err());
            assert!(store.is_empty());
        }
    }

    #[test]
    fn every_flipped_byte_is_an_error_and_imports_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = exported(dir.path(), &store_with(5));
        let bytes = fs::read(&path).unwrap();
        let bad = dir.path().join("bad");
        for i in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[i] ^= flip;
                fs::write(&bad, &damaged).unwrap();
                let err = verify(&bad).unwrap_err();
                assert_one_line(&err, &bad);
                assert!(
                    matches!(
                        err,
                        SnapshotError::Checksum { .. }
                            | SnapshotError::Corrupt { .. }
                            | SnapshotError::NotASnapshot { .. }
                            | SnapshotError::Version { .. }
                    ),
                    "byte {i}: {err}"
                );
                let _ = read_info(&bad);
                let mut store = InMemoryStore::new();
                assert!(import(&bad, &mut store, 1, &mut |_| {}).is_err());
                assert!(store.is_empty(), "byte {i}");
            }
        }
    }

    #[test]
    fn garbage_is_not_a_snapshot_and_other_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("garbage");
        fs::write(&path, b"SQLite format 3\0 and more bytes than the magic").unwrap();
        assert!(matches!(verify(&path), Err(SnapshotError::NotASnapshot { .. })));
        assert!(matches!(read_info(&path), Err(SnapshotError::NotASnapshot { .. })));
        fs::write(&path, b"").unwrap();
        assert!(matches!(verify(&path), Err(SnapshotError::NotASnapshot { .. })));
        let mut v2 = MAGIC.to_vec();
        v2.extend_from_slice(&2u32.to_be_bytes());
        v2.extend_from_slice(&[0; 64]);
        fs::write(&path, &v2).unwrap();
        let err = verify(&path).unwrap_err();
        assert!(matches!(err, SnapshotError::Version { found: 2, .. }), "{err}");
        assert!(matches!(read_info(&path), Err(SnapshotError::Version { found: 2, .. })));
        let missing = dir.path().join("missing");
        assert!(matches!(verify(&missing), Err(SnapshotError::Input(input_files::InputError::Io { .. }))));
        let err = verify(dir.path()).unwrap_err();
        assert!(matches!(err, SnapshotError::Input(input_files::InputError::NotRegular { .. })), "{err}");
        assert!(err.is_bad_input());
    }

    /// A record written by hand: tag, account (16 times this byte), value.
    type Handmade<'a> = (&'a str, u8, &'a [u8]);

    /// A file written by hand with `records` (kind, prefix or account, value), a footer that
    /// agrees with them and a valid trailer.
    fn handmade(path: &Path, records: &[Handmade<'_>], extra_tag: bool) {
        let file = OpenOptions::new().write(true).create_new(true).open(path).unwrap();
        let mut w = Writer::new(path, path, file);
        w.header(7, devchain::WIDTH, Value::Null).unwrap();
        let mut root = RootHasher::new();
        let mut tags = BTreeMap::new();
        let mut last_tag = "";
        for (t, account, value) in records {
            let tag = parse_struct_tag(t).unwrap();
            let prefix = tag_prefix(&tag);
            if *t != last_tag || extra_tag {
                w.tag(&prefix).unwrap();
                last_tag = *t;
            }
            let account = AccountAddress::new(&[*account; 16]).unwrap();
            w.resource(&account, value).unwrap();
            root.add(&prefix, &account, value);
            *tags.entry(tag.to_string()).or_default() += 1;
        }
        w.footer(root.count(), root.finish(), tags).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn keys_out_of_order_are_refused_despite_a_valid_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let [a, b] = [TAGS[0], TAGS[1]];
        let (pa, pb) = (tag_prefix(&parse_struct_tag(a).unwrap()), tag_prefix(&parse_struct_tag(b).unwrap()));
        let (low, high) = if pa < pb { (a, b) } else { (b, a) };
        let cases: [(&str, Vec<Handmade<'_>>, bool, &str); 5] = [
            ("accounts", vec![(low, 2, b"x"), (low, 1, b"y")], false, "account"),
            ("duplicate account", vec![(low, 1, b"x"), (low, 1, b"y")], false, "account"),
            ("tags", vec![(high, 1, b"x"), (low, 1, b"y")], false, "run of"),
            ("repeated tag", vec![(low, 1, b"x"), (low, 2, b"y")], true, "run of"),
            ("ok", vec![(low, 1, b"x"), (low, 2, b"y"), (high, 0, b"")], false, ""),
        ];
        for (name, records, extra_tag, what) in cases {
            let path = dir.path().join(name);
            handmade(&path, &records, extra_tag);
            match verify(&path) {
                Ok(info) => {
                    assert_eq!(name, "ok");
                    assert_eq!(info.resources, 3);
                }
                Err(err) => {
                    assert!(matches!(err, SnapshotError::Corrupt { .. }), "{name}: {err}");
                    assert!(err.to_string().contains("keys out of order") && err.to_string().contains(what), "{err}");
                    let mut store = InMemoryStore::new();
                    assert!(import(&path, &mut store, 1, &mut |_| {}).is_err());
                    assert!(store.is_empty());
                }
            }
        }
    }

    /// Recomputes the trailer of a file edited by hand.
    fn resign(bytes: &mut Vec<u8>) {
        bytes.truncate(bytes.len() - 32);
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
    }

    #[test]
    fn resigned_edits_are_caught_by_the_framing_the_counts_and_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let (path, info) = exported(dir.path(), &store_with(6));
        let bytes = fs::read(&path).unwrap();
        let header_len = u32::from_be_bytes(bytes[25..29].try_into().unwrap()) as usize;
        let header_json = 29..29 + header_len;
        let edited = dir.path().join("edited");
        for i in 0..bytes.len() - 32 {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x01;
            resign(&mut damaged);
            fs::write(&edited, &damaged).unwrap();
            match verify(&edited) {
                // Only the header's JSON is not covered by the footer or the root: a re-signed
                // edit of a value there (the height, the chain, the description) is a forgery
                // the checksum cannot see.
                Ok(other) => assert!(header_json.contains(&i), "byte {i}: {other:?} (was {info:?})"),
                Err(err) => {
                    assert_one_line(&err, &edited);
                    assert!(!matches!(err, SnapshotError::Checksum { .. }), "{err}");
                }
            }
        }

        // A value byte changed and re-signed: the root disagrees with the footer's.
        let mut i = header_json.end;
        let value_at = loop {
            let len_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            match bytes[i] {
                KIND_TAG => i += 1 + 4 + len_at(i + 1),
                KIND_RESOURCE if len_at(i + 17) > 0 => break i + 21,
                KIND_RESOURCE => i += 21,
                kind => panic!("kind {kind} at {i}"),
            }
        };
        let mut damaged = bytes.clone();
        damaged[value_at] ^= 0x01;
        resign(&mut damaged);
        fs::write(&edited, &damaged).unwrap();
        let err = verify(&edited).unwrap_err();
        assert!(matches!(err, SnapshotError::RootMismatch { .. }), "{err}");
        assert_one_line(&err, &edited);
    }

    #[test]
    fn a_deeply_nested_tag_is_refused_without_exhausting_the_stack() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep");
        // 0x1::M::S<vector<vector<...<bool>...>>>, nested 60 000 deep: BCS is the address, the
        // module and name, one type argument, then 6 (vector) per level and 0 (bool).
        let mut bcs = vec![0u8; 15];
        bcs.extend_from_slice(&[1, 1, b'M', 1, b'S', 1]);
        bcs.extend(std::iter::repeat_n(6u8, 60_000));
        bcs.push(0);
        let mut prefix = (bcs.len() as u32).to_be_bytes().to_vec();
        prefix.extend_from_slice(&bcs);
        let file = OpenOptions::new().write(true).create_new(true).open(&path).unwrap();
        let mut w = Writer::new(&path, &path, file);
        w.header(1, devchain::WIDTH, Value::Null).unwrap();
        w.tag(&prefix).unwrap();
        w.resource(&AccountAddress::zero(devchain::WIDTH), b"x").unwrap();
        w.footer(0, state_root(&InMemoryStore::new()).unwrap(), BTreeMap::new()).unwrap();
        w.finish().unwrap();
        let err = verify(&path).unwrap_err();
        assert!(matches!(err, SnapshotError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("does not decode"), "{err}");
    }

    #[test]
    fn lengths_are_checked_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge");
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_be_bytes());
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        bytes.extend_from_slice(&[0; 100]);
        fs::write(&path, &bytes).unwrap();
        let err = verify(&path).unwrap_err();
        assert!(matches!(err, SnapshotError::Corrupt { offset: 25, .. }), "{err}");
        // A header claiming 1 MiB in a tiny file.
        bytes[25..29].copy_from_slice(&(MAX_HEADER as u32).to_be_bytes());
        fs::write(&path, &bytes).unwrap();
        let err = verify(&path).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
