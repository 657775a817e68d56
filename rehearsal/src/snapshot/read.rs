//! Reading a snapshot: [`verify`] (one checked pass), [`visit`] (verify, then every resource)
//! and [`read_info`] (the header and footer only, unchecked).

use super::error::SnapshotError;
use super::format::{len_u64, SnapshotInfo, KIND_END, MAX_FOOTER, TAIL, VERSION};
use super::parse::{parse_footer, pass, read_header, Item};
use super::reader::Reader;
use migrations::AccountAddress;
use migrations::StructTag;
use std::path::Path;

/// Checks a snapshot in one streaming pass: magic, version, header, the framing of every
/// record, keys strictly increasing, value sizes, footer counts, the recomputed state root
/// against the footer's, and the trailer's checksum.
pub fn verify(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    Ok(pass(path, &mut |_| Ok(()), true)?.0)
}

/// Called with the struct tag, account and bytes of each resource of a snapshot.
pub type ResourceVisitor<'a> = &'a mut dyn FnMut(&StructTag, &AccountAddress, &[u8]) -> Result<(), SnapshotError>;

/// Verifies `path` whole ([`verify`]), then calls `visit` with every resource in key order:
/// streaming, the file is read twice and never held. An error from `visit` stops the walk.
pub fn visit(path: &Path, visit: ResourceVisitor<'_>) -> Result<SnapshotInfo, SnapshotError> {
    let (verified, checksum) = pass(path, &mut |_| Ok(()), true)?;
    let mut tag: Option<StructTag> = None;
    let mut sink = |item: Item<'_>| {
        match item {
            Item::Tag(t) => tag = Some(t.clone()),
            Item::Resource(account, value) => {
                let Some(tag) = &tag else { return Err(SnapshotError::Changed { path: path.to_path_buf() }) };
                visit(tag, account, value)?;
            }
        }
        Ok(())
    };
    // The second pass skips the root: the same checksum means the same bytes as verified.
    let (info, again) = pass(path, &mut sink, false).map_err(|e| match e {
        e @ (SnapshotError::Store(_) | SnapshotError::Io { .. } | SnapshotError::Visit { .. }) => e,
        _ => SnapshotError::Changed { path: path.to_path_buf() },
    })?;
    if again != checksum || info != verified {
        return Err(SnapshotError::Changed { path: path.to_path_buf() });
    }
    Ok(info)
}

/// The header and footer of a snapshot, without reading the records or checking the checksum:
/// cheap, for listings. Use [`verify`] before trusting the file.
pub fn read_info(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    let mut r = Reader::open(path, false)?;
    let len = r.len;
    let header = read_header(&mut r)?;
    let body_at = r.offset;
    // At least the end record before the footer.
    let end_of_footer = r.len.saturating_sub(TAIL);
    if end_of_footer <= body_at {
        return Err(r.corrupt(r.len, "truncated: no room for the records, footer and trailer"));
    }
    r.seek(end_of_footer)?;
    r.limit = r.len;
    let stored = u64::from(r.u32("the footer length")?);
    let Some(footer_at) = end_of_footer.checked_sub(stored).filter(|at| *at > body_at) else {
        return Err(r.corrupt(end_of_footer, format!("the footer length {stored} points before the records")));
    };
    if stored > len_u64(MAX_FOOTER) {
        return Err(
            r.corrupt(end_of_footer, format!("a footer of {stored} bytes, more than the limit of {MAX_FOOTER}"))
        );
    }
    r.seek(footer_at - 1)?;
    r.limit = end_of_footer;
    if r.byte("the end record")? != KIND_END {
        return Err(r.corrupt(footer_at - 1, "no end record before the footer"));
    }
    let json = r.take(usize::try_from(stored).unwrap_or(usize::MAX), "the footer")?;
    let (footer, state_root) = parse_footer(path, footer_at, json)?;
    Ok(SnapshotInfo {
        version: VERSION,
        height: header.height,
        address_length: binary_format::AddressLength::from_bytes(header.address_length).unwrap_or_default(),
        chain: header.chain,
        resources: footer.resources,
        state_root,
        tags: footer.tags,
        bytes: len,
    })
}
