//! A resource group's value in an Aptos-based backup: the codec is
//! [`migrations::group`]'s (the node's too); this module reads it with the backup's 32-byte
//! addresses.

use super::key::WIDTH;
use binary_format::AddressLength;
pub use migrations::group::{encode_group, GroupError, GroupMember};

/// Reads a group's value: its members in their (canonical) order.
pub fn decode_group(bytes: &[u8]) -> Result<Vec<GroupMember<'_>>, GroupError> {
    decode_group_of_width(bytes, WIDTH)
}

/// Reads a group's value whose tags hold addresses of `width`: its members in their
/// (canonical) order.
pub fn decode_group_of_width(bytes: &[u8], width: AddressLength) -> Result<Vec<GroupMember<'_>>, GroupError> {
    migrations::group::decode_group(bytes, width)
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::StructTag;

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
        assert!(decode_group(&[0xff, 0xff, 0x03]).is_err());
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
