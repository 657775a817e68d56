//! A resource group's value: BCS `BTreeMap<StructTag, Vec<u8>>`, one entry per member resource
//! (Aptos objects, fungible-asset stores, held under one key: [`crate::StateKey::Group`]).
//!
//! A member is a resource like any other (its struct has `key`) that happens to be stored in its
//! group's value, so a migration of its struct rewrites the group's value: the member's bytes
//! transformed, its tag changed when the struct moved, the map written back in BCS order. BCS
//! orders a map's entries by their serialized keys and refuses any other order or a repeated
//! key, so the decoder does too, and the encoder writes that order whatever order it is given.
//! The value is untrusted: every count and length is checked against the bytes left before
//! anything is allocated.

use crate::key::StructTag;
use crate::state_key::write_bytes;
use binary_format::bcs::Reader;
use binary_format::AddressLength;
use std::fmt;

/// The fewest bytes a member takes: a 16-byte address, two one-byte names with their lengths,
/// no type arguments, empty bytes.
const MIN_MEMBER_BYTES: usize = 16 + 2 + 2 + 1 + 1;

/// One member of a group, borrowed from the group's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember<'a> {
    /// The member's struct tag.
    pub tag: StructTag,
    /// Its BCS bytes.
    pub bytes: &'a [u8],
}

/// Why a group's value does not read (or cannot be written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("resource group value: {reason} (at byte {offset})")]
pub struct GroupError {
    /// The byte of the group's value where it was found.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

fn fail(offset: usize, reason: impl Into<String>) -> GroupError {
    GroupError { offset, reason: reason.into() }
}

/// Most members a group holds (what the Aptos reader allows).
pub const MAX_GROUP_MEMBERS: u64 = 1 << 16;

/// Reads a group's value, its addresses `width` bytes: its members in their (canonical) order.
pub fn decode_group(bytes: &[u8], width: AddressLength) -> Result<Vec<GroupMember<'_>>, GroupError> {
    let bcs = |e: binary_format::bcs::Error| fail(e.offset(), e.message());
    let mut r = Reader::new(bytes);
    let min = MIN_MEMBER_BYTES.min(width.bytes() + 6);
    let n = r.count(MAX_GROUP_MEMBERS, min, "the member count").map_err(bcs)?;
    let mut members: Vec<GroupMember<'_>> = Vec::with_capacity(n);
    let mut previous: Option<&[u8]> = None;
    for i in 0..n {
        let at = r.position();
        let tag = StructTag::read_bcs(&mut r, width)
            .map_err(|e| fail(at, format!("member {i}: its struct tag does not decode: {e}")))?;
        let serialized = r.since(at);
        if let Some(p) = previous.filter(|p| *p >= serialized) {
            let why = if p == serialized { "repeats the one before it" } else { "is not after the one before it" };
            return Err(fail(at, format!("member {i} ({tag}) {why} in BCS order")));
        }
        previous = Some(serialized);
        let value = r.prefixed(u64::MAX, "a member's bytes").map_err(bcs)?;
        members.push(GroupMember { tag, bytes: value });
    }
    r.finish("the last member").map_err(bcs)?;
    Ok(members)
}

/// Writes a group's value from its members, in BCS order; a tag given twice is an error.
pub fn encode_group<'a>(members: impl IntoIterator<Item = (&'a StructTag, &'a [u8])>) -> Result<Vec<u8>, GroupError> {
    let mut entries: Vec<(Vec<u8>, &StructTag, &[u8])> = members.into_iter().map(|(t, b)| (t.to_bcs(), t, b)).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = entries.windows(2).find(|w| w.first().map(|a| &a.0) == w.get(1).map(|b| &b.0)) {
        let tag = pair.first().map_or_else(|| "?".to_owned(), |(_, t, _)| t.to_string());
        return Err(fail(0, format!("member {tag} given twice")));
    }
    let mut out = Vec::with_capacity(entries.iter().map(|(t, _, b)| t.len() + b.len() + 4).sum::<usize>() + 4);
    binary_format::write_uleb(&mut out, entries.len() as u64);
    for (tag, _, bytes) in entries {
        out.extend_from_slice(&tag);
        write_bytes(&mut out, bytes);
    }
    Ok(out)
}

impl fmt::Display for GroupMember<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.tag, self.bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: AddressLength = AddressLength::Bytes32;

    fn tag(s: &str) -> StructTag {
        StructTag::parse(s, W).unwrap()
    }

    #[test]
    fn members_read_back_in_bcs_order_whatever_order_they_were_given() {
        let (store, object) = (tag("0x1::fungible_asset::FungibleStore"), tag("0x1::object::ObjectCore"));
        let (v1, v2) = (vec![1u8; 200], vec![2u8, 3]);
        let a = encode_group([(&store, v1.as_slice()), (&object, v2.as_slice())]).unwrap();
        let b = encode_group([(&object, v2.as_slice()), (&store, v1.as_slice())]).unwrap();
        assert_eq!(a, b);
        let members = decode_group(&a, W).unwrap();
        assert_eq!(members.len(), 2);
        let found: Vec<(String, usize)> = members.iter().map(|m| (m.tag.to_string(), m.bytes.len())).collect();
        assert!(found.contains(&(store.to_string(), 200)) && found.contains(&(object.to_string(), 2)));
        assert!(encode_group([(&store, v1.as_slice()), (&store, v2.as_slice())]).is_err(), "a member twice");
    }

    #[test]
    fn a_value_out_of_order_repeated_cut_or_padded_is_refused_at_its_byte() {
        let (a, b) = (tag("0x1::a::A"), tag("0x1::b::B"));
        let good = encode_group([(&a, &[1u8][..]), (&b, &[2u8][..])]).unwrap();
        // The members swapped: out of BCS order.
        let mut swapped = vec![2u8];
        for (t, v) in [(&b, 2u8), (&a, 1u8)] {
            swapped.extend(t.to_bcs());
            swapped.extend([1, v]);
        }
        assert!(decode_group(&swapped, W).unwrap_err().reason.contains("not after"));
        let cut = decode_group(&good[..good.len() - 1], W).unwrap_err();
        assert_eq!(cut.offset, good.len() - 2, "{cut}");
        let mut padded = good.clone();
        padded.push(0);
        let after = decode_group(&padded, W).unwrap_err();
        assert_eq!(after.offset, good.len(), "{after}");
        assert!(decode_group(&[0xff, 0xff, 0xff, 0x0f], W).is_err(), "a count the bytes cannot hold");
        assert!(decode_group(&[0x80], W).is_err());
    }
}
