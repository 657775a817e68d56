//! State values of Aptos-based chains: BCS enum `0 V0(data)` or `1 WithMetadata { data,
//! metadata }`, metadata enum `0 V0 { deposit, creation_time_usecs }` or `1 V1 { slot_deposit,
//! bytes_deposit, creation_time_usecs }` (u64s, little-endian). The metadata is kept as read so
//! that a value written back is byte for byte the one read, and hashes the same.

use super::bcs::{write_bytes, BcsError, Reader};
use super::limits::MAX_VALUE_BYTES;
use serde::Serialize;

/// A state value's storage metadata (the deposit paid for its slot, and when it was created).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metadata {
    V0 { deposit: u64, creation_time_usecs: u64 },
    V1 { slot_deposit: u64, bytes_deposit: u64, creation_time_usecs: u64 },
}

/// A value as read: its data, its metadata, and its BCS bytes (what its hash is over).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateValue<'a> {
    pub data: &'a [u8],
    pub metadata: Option<Metadata>,
    pub bcs: &'a [u8],
}

/// Reads a state value's BCS from `r`.
pub fn read_value<'a>(r: &mut Reader<'a>) -> Result<StateValue<'a>, BcsError> {
    let start = r.pos();
    let with_metadata = r.variant(1, "the state value's kind")? == 1;
    let data = r.bytes(MAX_VALUE_BYTES, "the state value's data")?;
    let metadata = if with_metadata {
        Some(match r.variant(1, "the state value's metadata")? {
            0 => Metadata::V0 { deposit: r.u64("the deposit")?, creation_time_usecs: r.u64("the creation time")? },
            _ => Metadata::V1 {
                slot_deposit: r.u64("the slot deposit")?,
                bytes_deposit: r.u64("the bytes deposit")?,
                creation_time_usecs: r.u64("the creation time")?,
            },
        })
    } else {
        None
    };
    Ok(StateValue { data, metadata, bcs: r.since(start) })
}

/// Appends a state value's BCS.
pub fn write_value(out: &mut Vec<u8>, data: &[u8], metadata: Option<&Metadata>) {
    match metadata {
        None => {
            out.push(0);
            write_bytes(out, data);
        }
        Some(m) => {
            out.push(1);
            write_bytes(out, data);
            write_metadata(out, m);
        }
    }
}

/// Appends the BCS of a value's metadata (its variant, then its fields): what a state entry
/// carries as its extra, unchanged through a rehearsal.
pub fn write_metadata(out: &mut Vec<u8>, metadata: &Metadata) {
    match *metadata {
        Metadata::V0 { deposit, creation_time_usecs } => {
            out.push(0);
            out.extend_from_slice(&deposit.to_le_bytes());
            out.extend_from_slice(&creation_time_usecs.to_le_bytes());
        }
        Metadata::V1 { slot_deposit, bytes_deposit, creation_time_usecs } => {
            out.push(1);
            out.extend_from_slice(&slot_deposit.to_le_bytes());
            out.extend_from_slice(&bytes_deposit.to_le_bytes());
            out.extend_from_slice(&creation_time_usecs.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_value_reads_back_byte_for_byte() {
        let metadata = [
            None,
            Some(Metadata::V0 { deposit: 50_000, creation_time_usecs: 1_700_000_000_000_000 }),
            Some(Metadata::V1 { slot_deposit: 40_000, bytes_deposit: 3_600, creation_time_usecs: u64::MAX }),
        ];
        for m in &metadata {
            for data in [&[][..], &[1, 2, 3][..], &[0xab; 300][..]] {
                let mut bytes = Vec::new();
                write_value(&mut bytes, data, m.as_ref());
                let mut r = Reader::new(&bytes);
                let v = read_value(&mut r).unwrap();
                r.finish("the value").unwrap();
                assert_eq!((v.data, v.metadata, v.bcs), (data, *m, bytes.as_slice()));
            }
        }
    }

    #[test]
    fn damaged_values_are_errors() {
        for bytes in [&[2u8, 0][..], &[0, 5, 1][..], &[1, 0, 2][..], &[1, 0, 0, 1, 2][..], &[][..]] {
            assert!(read_value(&mut Reader::new(bytes)).is_err(), "{bytes:?}");
        }
    }
}
