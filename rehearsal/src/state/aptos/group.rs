//! A resource group's value: BCS `BTreeMap<StructTag, Vec<u8>>`, one entry per member resource
//! (Aptos objects, fungible-asset stores). BCS orders a map's entries by their serialized keys
//! and refuses any other order or a repeated key, so the decoder does too, and the encoder
//! writes that order whatever order it is given. Aptos addresses are 32 bytes
//! ([`decode_group`]); a JSON Lines state of another width reads its groups with
//! [`decode_group_of_width`].

use super::bcs::{write_bytes, Reader};
use super::key::WIDTH;
use super::limits::{MAX_GROUP_MEMBERS, MAX_VALUE_BYTES};
use binary_format::AddressLength;
use migrations::StructTag;
use std::fmt;

/// The fewest bytes a member takes: an address, two one-byte names with their lengths, no
/// type arguments, empty bytes.
fn min_member_bytes(width: AddressLength) -> usize {
    width.bytes() + 2 + 2 + 1 + 1
}

/// One member of a group, borrowed from the group's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember<'a> {
    pub tag: StructTag,
    pub bytes: &'a [u8],
}

/// Why a group's value does not read (or cannot be written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupError {
    /// The byte of the group's value where it was found.
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "resource group value: {} (at byte {})", self.reason, self.offset)
    }
}

impl std::error::Error for GroupError {}

/// Reads a group's value: its members in their (canonical) order.
pub fn decode_group(bytes: &[u8]) -> Result<Vec<GroupMember<'_>>, GroupError> {
    decode_group_of_width(bytes, WIDTH)
}

/// Reads a group's value whose tags hold addresses of `width`: its members in their
/// (canonical) order.
pub fn decode_group_of_width(bytes: &[u8], width: AddressLength) -> Result<Vec<GroupMember<'_>>, GroupError> {
    let fail = |offset: usize, reason: String| GroupError { offset, reason };
    let bcs = |e: super::bcs::BcsError| fail(e.offset, e.reason);
    let mut r = Reader::new(bytes);
    let n = r.count(MAX_GROUP_MEMBERS, min_member_bytes(width), "members").map_err(bcs)?;
    let mut members: Vec<GroupMember<'_>> = Vec::with_capacity(n);
    let mut previous: Option<&[u8]> = None;
    for i in 0..n {
        let at = r.pos();
        let (tag, len) = StructTag::from_bcs_prefix(r.rest(), width)
            .map_err(|e| fail(at, format!("member {i}: its struct tag does not decode: {e}")))?;
        r.skip(len, "the member's tag").map_err(bcs)?;
        let serialized = r.since(at);
        if let Some(p) = previous.filter(|p| *p >= serialized) {
            let why = if p == serialized { "repeats the one before it" } else { "is not after the one before it" };
            return Err(fail(at, format!("member {i} ({tag}) {why} in BCS order")));
        }
        previous = Some(serialized);
        let value = r.bytes(MAX_VALUE_BYTES, "the member's bytes").map_err(bcs)?;
        members.push(GroupMember { tag, bytes: value });
    }
    r.finish("the last member").map_err(bcs)?;
    Ok(members)
}

/// Writes a group's value from its members (of any one width), in BCS order; a tag given twice
/// is an error.
pub fn encode_group<'a>(members: impl IntoIterator<Item = (&'a StructTag, &'a [u8])>) -> Result<Vec<u8>, GroupError> {
    let mut entries: Vec<(Vec<u8>, &[u8], &StructTag)> = members.into_iter().map(|(t, b)| (t.to_bcs(), b, t)).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(pair) = entries.windows(2).find(|w| w.first().map(|a| &a.0) == w.get(1).map(|b| &b.0)) {
        let tag = pair.first().map_or_else(|| "?".to_owned(), |(_, _, t)| t.to_string());
        return Err(GroupError { offset: 0, reason: format!("member {tag} given twice") });
    }
    let mut out = Vec::new();
    binary_format::write_uleb(&mut out, entries.len() as u64);
    for (tag, bytes, _) in entries {
        out.extend_from_slice(&tag);
        write_bytes(&mut out, bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> StructTag {
        StructTag::parse(s, WIDTH).unwrap()
    }

    #[test]
    fn members_read_back_in_bcs_order_whatever_order_they_were_given() {
        let (store, object) = (tag("0x1::fungible_asset::FungibleStore"), tag("0x1::object::ObjectCore"));
        let v1 = vec![1u8; 40];
        let v2 = vec![2u8, 3];
        let a = encode_group([(&store, v1.as_slice()), (&object, v2.as_slice())]).unwrap();
        let b = encode_group([(&object, v2.as_slice()), (&store, v1.as_slice())]).unwrap();
        assert_eq!(a, b);
        let members = decode_group(&a).unwrap();
        let names: Vec<String> = members.iter().map(|m| m.tag.to_string()).collect();
        // "fungible_asset" is longer than "object": its length byte sorts it after.
        assert_eq!(names, ["0x1::object::ObjectCore", "0x1::fungible_asset::FungibleStore"]);
        assert_eq!(members.iter().map(|m| m.bytes).collect::<Vec<_>>(), [&v2[..], &v1[..]]);
        assert_eq!(decode_group(&[0]).unwrap(), []);
        let e = encode_group([(&store, &[][..]), (&store, &[1][..])]).unwrap_err();
        assert!(e.reason.contains("given twice"), "{e}");
    }

    #[test]
    fn out_of_order_repeated_short_and_oversized_groups_are_refused() {
        let (x, y) = (tag("0x1::a::X"), tag("0x1::a::Y"));
        let mut swapped = vec![2u8];
        for t in [&y, &x] {
            swapped.extend(t.to_bcs());
            swapped.push(0);
        }
        assert!(decode_group(&swapped).unwrap_err().reason.contains("is not after"));
        let mut twice = vec![2u8];
        for _ in 0..2 {
            twice.extend(x.to_bcs());
            twice.push(0);
        }
        assert!(decode_group(&twice).unwrap_err().reason.contains("repeats"));
        let good = encode_group([(&x, &[5u8][..])]).unwrap();
        for end in 0..good.len() {
            assert!(decode_group(&good[..end]).is_err(), "cut at {end}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode_group(&trailing).is_err());
        // A count the bytes cannot hold is refused before allocating.
        assert!(decode_group(&[0xff, 0xff, 0x03]).unwrap_err().reason.contains("more than"));
    }

    #[test]
    fn groups_of_other_widths_read_with_their_width_only() {
        for width in AddressLength::ALL {
            let (x, y) = (StructTag::parse("0x1::a::X", width).unwrap(), StructTag::parse("0x1::b::Y", width).unwrap());
            let value = encode_group([(&y, &[1u8][..]), (&x, &[2u8, 3][..])]).unwrap();
            let members = decode_group_of_width(&value, width).unwrap();
            assert_eq!(members, [GroupMember { tag: x.clone(), bytes: &[2, 3] }, GroupMember { tag: y, bytes: &[1] }]);
            for other in AddressLength::ALL.into_iter().filter(|w| *w != width) {
                assert!(decode_group_of_width(&value, other).is_err(), "{width} read as {other}");
            }
            let e = encode_group([(&x, &[][..]), (&x, &[1][..])]).unwrap_err();
            assert!(e.reason.contains("member 0x1::a::X given twice"), "{e}");
        }
    }
}
