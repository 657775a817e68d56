//! A backup record's payload: BCS of `(StateKey, StateValue)`, nothing after it.

use super::bcs::{BcsError, Reader};
use super::key::{read_key, AptosStateKey, Encoding};
use super::value::{read_value, write_value, Metadata, StateValue};

/// A record, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    pub key: AptosStateKey,
    /// The key's storage encoding, to hash.
    pub encoding: Encoding<'a>,
    pub value: StateValue<'a>,
}

/// Reads exactly one record's payload.
pub fn parse_record(payload: &[u8]) -> Result<Record<'_>, BcsError> {
    let mut r = Reader::new(payload);
    let (key, encoding) = read_key(&mut r)?;
    let value = read_value(&mut r)?;
    r.finish("the state value")?;
    Ok(Record { key, encoding, value })
}

/// A record's payload.
pub fn record_payload(key: &AptosStateKey, data: &[u8], metadata: Option<&Metadata>) -> Vec<u8> {
    let mut out = key.to_bcs();
    out.reserve(data.len() + 32);
    write_value(&mut out, data, metadata);
    out
}

#[cfg(test)]
mod tests {
    use super::super::hash::{Hashes, Salt};
    use super::super::key::WIDTH;
    use super::*;
    use migrations::{AccountAddress, StructTag};

    #[test]
    fn a_record_reads_back_and_refuses_trailing_bytes() {
        let key = AptosStateKey::resource(
            AccountAddress::from_u64(0x42, WIDTH),
            StructTag::parse("0x1::coin::CoinStore<0x1::aptos_coin::AptosCoin>", WIDTH).unwrap(),
        );
        let metadata = Metadata::V0 { deposit: 1, creation_time_usecs: 2 };
        let mut payload = record_payload(&key, &[9, 9], Some(&metadata));
        let r = parse_record(&payload).unwrap();
        assert_eq!(r.key, key);
        assert_eq!((r.value.data, r.value.metadata), (&[9u8, 9][..], Some(metadata)));
        let h = Hashes::new(Salt::Diem);
        assert_eq!(r.encoding.hash(&h), key.hash(&h));
        payload.push(0);
        let e = parse_record(&payload).unwrap_err();
        assert!(e.reason.contains("1 bytes after the state value"), "{e}");
    }
}
