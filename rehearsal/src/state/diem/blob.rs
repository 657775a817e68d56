//! A backup record's payload and its account blob: BCS of `(HashValue, AccountStateBlob)`, the
//! blob holding BCS of `BTreeMap<Vec<u8>, Vec<u8>>` (access path -> value), entries ordered by
//! their serialized key (its ULEB128 length first).

use super::hash::Hash;
use binary_format::bcs::{self, Reader};
use binary_format::limits::MAX_SEQUENCE_LENGTH;
use std::cmp::Ordering;

/// A record's key and its account's blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub key: Hash,
    pub blob: &'a [u8],
    /// The blob's offset in the chunk file, for errors inside it.
    pub blob_at: usize,
}

/// Parses a record's payload, which starts at `base` in its chunk file: exactly a `HashValue`
/// (`0x20` and 32 bytes) and a blob. Errors give offsets in the chunk file.
pub fn parse_record(payload: &[u8], base: u64) -> Result<Record<'_>, bcs::Error> {
    let mut r = Reader::with_base(payload, usize::try_from(base).unwrap_or(usize::MAX));
    let key = r.prefixed_array::<32>("the key (a HashValue)")?;
    let blob = r.prefixed(MAX_SEQUENCE_LENGTH, "the account blob")?;
    let blob_at = r.offset().saturating_sub(blob.len());
    r.finish("the account blob")?;
    Ok(Record { key, blob, blob_at })
}

/// The record's payload for `key` and `blob`.
pub fn record_payload(key: &Hash, blob: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(34 + 5 + blob.len());
    out.push(32);
    out.extend_from_slice(key);
    binary_format::write_uleb(&mut out, blob.len() as u64);
    out.extend_from_slice(blob);
    out
}

/// Orders two keys as BCS orders a map's entries: by their serialized bytes, length first.
pub fn bcs_key_order(a: &[u8], b: &[u8]) -> Ordering {
    let (mut la, mut lb) = (Vec::with_capacity(5), Vec::with_capacity(5));
    binary_format::write_uleb(&mut la, a.len() as u64);
    binary_format::write_uleb(&mut lb, b.len() as u64);
    la.cmp(&lb).then_with(|| a.cmp(b))
}

/// An account blob's entries.
#[derive(Debug, Clone, Default)]
pub struct Entries<'a> {
    /// (access path, value), in the blob's order.
    pub entries: Vec<(&'a [u8], &'a [u8])>,
    /// Whether the entries are in BCS's canonical order without duplicates.
    pub canonical: bool,
}

/// Parses an account blob, which starts at `base` in its chunk file: a count, then each path
/// and value (ULEB128 length and bytes), nothing after. The count is checked against the bytes
/// left (an entry takes at least two) before anything is allocated.
pub fn parse_blob(blob: &[u8], base: usize) -> Result<Entries<'_>, bcs::Error> {
    let mut r = Reader::with_base(blob, base);
    let entries = r.list(MAX_SEQUENCE_LENGTH, 2, "the blob's entry count", |r| -> Result<_, bcs::Error> {
        let path = r.prefixed(MAX_SEQUENCE_LENGTH, "an access path")?;
        let value = r.prefixed(MAX_SEQUENCE_LENGTH, "a value")?;
        Ok((path, value))
    })?;
    r.finish("the blob's entries")?;
    let canonical = entries.windows(2).all(|w| matches!(w, [(a, _), (b, _)] if bcs_key_order(a, b) == Ordering::Less));
    Ok(Entries { entries, canonical })
}

/// The blob of `entries`, sorted canonically (by serialized path).
pub fn blob_of(mut entries: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<u8> {
    entries.sort_by(|a, b| bcs_key_order(&a.0, &b.0));
    let mut out = Vec::new();
    binary_format::write_uleb(&mut out, entries.len() as u64);
    for (path, value) in &entries {
        binary_format::write_uleb(&mut out, path.len() as u64);
        out.extend_from_slice(path);
        binary_format::write_uleb(&mut out, value.len() as u64);
        out.extend_from_slice(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::jsonl::decode_hex;

    /// A real 0L v5 record (from 0L's own test of its v5 reader).
    pub(crate) const V5_RECORD: &str = concat!(
        "2000035a7c9629b7e52e94de65e6a892701fe28351186405be96ed23f4b1252f7ad403061f01000000000000000000",
        "0000000000000105526f6c657306526f6c65496400080a000000000000002801000000000000000000000000000000",
        "010852656365697074730c5573657252656365697074730004000000002a01000000000000000000000000000000010b",
        "4469656d4163636f756e740b4469656d4163636f756e74008d012089455024b0c9157c6a6103af2db498f4c48fd6f982",
        "92da33b11c4878b36dde1b01c48fd6f98292da33b11c4878b36dde1b01c48fd6f98292da33b11c4878b36dde1b010000",
        "0000000000180000000000000000c48fd6f98292da33b11c4878b36dde1b0000000000000000180100000000000000c4",
        "8fd6f98292da33b11c4878b36dde1b00000000000000002d0100000000000000000000000000000001054576656e7414",
        "4576656e7448616e646c6547656e657261746f7200180200000000000000c48fd6f98292da33b11c4878b36dde1b2e01",
        "000000000000000000000000000000010f4163636f756e74467265657a696e670b467265657a696e6742697400010040",
        "01000000000000000000000000000000010b4469656d4163636f756e740742616c616e63650107000000000000000000",
        "000000000000010347415303474153000840420f0000000000",
    );

    #[test]
    fn a_real_record_parses_canonically_and_round_trips() {
        let payload = decode_hex(V5_RECORD).unwrap();
        assert_eq!(payload.len(), 503);
        let record = parse_record(&payload, 0).unwrap();
        assert_eq!((record.blob.len(), record.blob_at), (468, 35));
        let entries = parse_blob(record.blob, record.blob_at).unwrap();
        assert!(entries.canonical);
        let lens: Vec<usize> = entries.entries.iter().map(|(p, _)| p.len()).collect();
        assert_eq!(lens, vec![31, 40, 42, 45, 46, 64]);
        let owned = entries.entries.iter().rev().map(|(p, v)| (p.to_vec(), v.to_vec())).collect();
        assert_eq!(blob_of(owned), record.blob);
        assert_eq!(record_payload(&record.key, record.blob), payload);
    }

    /// The real record alone as a tree: its blob hash and root under `DIEM::` (the values the
    /// format notes computed from the rules).
    #[test]
    fn a_real_record_hashes_to_the_computed_root() {
        use super::super::hash::{hex, Hashes, Prefix};
        let payload = decode_hex(V5_RECORD).unwrap();
        let record = parse_record(&payload, 0).unwrap();
        let h = Hashes::new(Prefix::Diem);
        let blob_hash = h.blob(record.blob);
        assert_eq!(hex(&blob_hash), "2486b91b0f507ee143b185cca8769fee1ed88b70c0dc988fc0e52d9b1c37927b");
        let mut root = super::super::smt::RootBuilder::new(h);
        assert!(root.add(&record.key, &blob_hash));
        assert_eq!(hex(&root.finish()), "8843d13ad4a56dbeacf35e23a48a450756fc1d5e6026ccb9567abf13400d4c85");
    }

    #[test]
    fn damaged_payloads_are_errors() {
        let payload = decode_hex(V5_RECORD).unwrap();
        for cut in 0..payload.len() {
            assert!(parse_record(&payload[..cut], 0).is_err(), "{cut}");
        }
        let mut longer = payload.clone();
        longer.push(0);
        // Offsets are in the chunk file: this record's payload starts at 0x1000.
        let err = parse_record(&longer, 0x1000).unwrap_err();
        assert_eq!(err.to_string(), "1 bytes after the account blob (at offset 0x11f7)");
        let mut short_key = payload.clone();
        short_key[0] = 31;
        let err = parse_record(&short_key, 0).unwrap_err();
        assert_eq!(err.to_string(), "the key (a HashValue) is 31 bytes, not 32 (at offset 0x0)");
        let err = parse_blob(&[0xff, 0xff, 0xff, 0xff, 0x0f], 0x40).unwrap_err();
        assert_eq!(err.offset(), 0x40);
        assert!(parse_blob(&[2, 0, 0], 0).is_err());
        assert!(!parse_blob(&[2, 1, 2, 0, 1, 1, 0], 0).unwrap().canonical);
    }
}
