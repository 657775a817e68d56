//! Where our vocabulary meets `move-core-types`' (feature `move-core-types`).
//!
//! A node that already speaks `move-core-types` (its `StructTag`, `AccountAddress`,
//! `MoveValue`) converts here at its edge; nothing inside this crate or the hook needs it. Ours
//! is the larger vocabulary, so every conversion *from* `move-core-types` succeeds (a value, given
//! its layout, when it is of that layout), and a conversion *to* it says with a [`ConvertError`]
//! what 0.0.3 (the newest published) cannot hold:
//! - `TypeTag` has only `bool`, `u8`, `u64`, `u128`, `address`, `signer`, `vector` and structs:
//!   no `u16`, `u32`, `u256`;
//! - `AccountAddress` is 16 bytes: the state of Aptos- and Sui-based chains (32) and of some
//!   Move builds (20) cannot be named;
//! - its values and layouts have no enums, and a `MoveStruct::WithFields` value serializes as a
//!   BCS *map*, not a struct, so we convert structs to their `Runtime` (positional) form.

use crate::key::{AccountAddress, StructTag, TypeTag};
use crate::layout::Layout;
use crate::value::Value;
use binary_format::{Address, AddressLength};
use move_core_types::account_address::AccountAddress as MoveAddress;
use move_core_types::identifier::Identifier;
use move_core_types::language_storage::{StructTag as MoveStructTag, TypeTag as MoveTypeTag};
use move_core_types::value::{MoveStruct, MoveStructLayout, MoveTypeLayout, MoveValue};

/// A conversion to `move-core-types` that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    /// A type or value 0.0.3 has no variant for: `u16`, `u32`, `u256`, an enum, or an address
    /// layout of 20 or 32 bytes.
    #[error("{what} has no counterpart in move-core-types 0.0.3")]
    NotRepresentable {
        /// What could not be converted, for the message ("type `u256`", "enum 0x1::M::E").
        what: String,
    },
    /// An address value above `2^128`: it does not fit in 16 bytes.
    #[error("address {address} needs more than the 16 bytes of move-core-types' AccountAddress")]
    AddressTooLong {
        /// The address that does not fit.
        address: Address,
    },
    /// A module or struct name that `move-core-types`' `Identifier` refuses (ours are checked
    /// against Move's rules too, so this only happens for a tag built by hand).
    #[error("`{name}` is not an identifier move-core-types accepts")]
    InvalidIdentifier {
        /// The refused name.
        name: String,
    },
    /// A `MoveValue` that is not of the layout it is converted with.
    #[error("a {found} value where the layout has {expected}")]
    Mismatch {
        /// The layout, as text.
        expected: String,
        /// What the value is.
        found: &'static str,
    },
}

/// The 16-byte `AccountAddress` of an address value, if it fits.
pub fn move_address(address: &Address) -> Result<MoveAddress, ConvertError> {
    let bytes =
        address.to_be_bytes(AddressLength::Bytes16).ok_or(ConvertError::AddressTooLong { address: *address })?;
    MoveAddress::from_bytes(bytes).map_err(|_| ConvertError::AddressTooLong { address: *address })
}

/// Our (16-byte) account of a `move-core-types` address.
pub fn account_of(address: &MoveAddress) -> AccountAddress {
    AccountAddress::new(address.as_ref()).unwrap_or_else(|_| AccountAddress::zero(AddressLength::Bytes16))
}

fn identifier(name: &str) -> Result<Identifier, ConvertError> {
    Identifier::new(name).map_err(|_| ConvertError::InvalidIdentifier { name: name.to_owned() })
}

/// The `move-core-types` struct tag of ours.
pub fn move_struct_tag(tag: &StructTag) -> Result<MoveStructTag, ConvertError> {
    Ok(MoveStructTag {
        address: move_address(&tag.address.address())?,
        module: identifier(&tag.module)?,
        name: identifier(&tag.name)?,
        type_params: tag.type_args.iter().map(move_type_tag).collect::<Result<_, _>>()?,
    })
}

/// The `move-core-types` type tag of ours.
pub fn move_type_tag(tag: &TypeTag) -> Result<MoveTypeTag, ConvertError> {
    let not = |what: &str| Err(ConvertError::NotRepresentable { what: what.to_owned() });
    Ok(match tag {
        TypeTag::Bool => MoveTypeTag::Bool,
        TypeTag::U8 => MoveTypeTag::U8,
        TypeTag::U64 => MoveTypeTag::U64,
        TypeTag::U128 => MoveTypeTag::U128,
        TypeTag::Address => MoveTypeTag::Address,
        TypeTag::Signer => MoveTypeTag::Signer,
        TypeTag::U16 => return not("type `u16`"),
        TypeTag::U32 => return not("type `u32`"),
        TypeTag::U256 => return not("type `u256`"),
        TypeTag::Vector(inner) => MoveTypeTag::Vector(Box::new(move_type_tag(inner)?)),
        TypeTag::Struct(s) => MoveTypeTag::Struct(move_struct_tag(s)?),
    })
}

/// Our (16-byte) struct tag of a `move-core-types` one.
pub fn struct_tag_of(tag: &MoveStructTag) -> StructTag {
    StructTag {
        address: account_of(&tag.address),
        module: tag.module.as_str().to_owned(),
        name: tag.name.as_str().to_owned(),
        type_args: tag.type_params.iter().map(type_tag_of).collect(),
    }
}

/// Our type tag of a `move-core-types` one.
pub fn type_tag_of(tag: &MoveTypeTag) -> TypeTag {
    match tag {
        MoveTypeTag::Bool => TypeTag::Bool,
        MoveTypeTag::U8 => TypeTag::U8,
        MoveTypeTag::U64 => TypeTag::U64,
        MoveTypeTag::U128 => TypeTag::U128,
        MoveTypeTag::Address => TypeTag::Address,
        MoveTypeTag::Signer => TypeTag::Signer,
        MoveTypeTag::Vector(inner) => TypeTag::Vector(Box::new(type_tag_of(inner))),
        MoveTypeTag::Struct(s) => TypeTag::Struct(Box::new(struct_tag_of(s))),
    }
}

/// The `move-core-types` layout of ours, with structs in their `Runtime` (positional) form.
/// Fails for `u16`, `u32`, `u256`, enums, and addresses that are not 16 bytes long.
pub fn move_layout(layout: &Layout) -> Result<MoveTypeLayout, ConvertError> {
    let not = |what: &str| Err(ConvertError::NotRepresentable { what: what.to_owned() });
    Ok(match layout {
        Layout::Bool => MoveTypeLayout::Bool,
        Layout::U8 => MoveTypeLayout::U8,
        Layout::U64 => MoveTypeLayout::U64,
        Layout::U128 => MoveTypeLayout::U128,
        Layout::U16 => return not("u16"),
        Layout::U32 => return not("u32"),
        Layout::U256 => return not("u256"),
        Layout::Address(AddressLength::Bytes16) => MoveTypeLayout::Address,
        Layout::Signer(AddressLength::Bytes16) => MoveTypeLayout::Signer,
        Layout::Address(len) | Layout::Signer(len) => return not(&format!("a {len}-byte address")),
        Layout::Vector(inner) => MoveTypeLayout::Vector(Box::new(move_layout(inner)?)),
        Layout::Struct(s) => MoveTypeLayout::Struct(MoveStructLayout::Runtime(
            s.fields.iter().map(|f| move_layout(&f.layout)).collect::<Result<_, _>>()?,
        )),
        Layout::Enum(e) => return not(&format!("enum {}::{}", e.module, e.name)),
    })
}

/// The `move-core-types` value of ours. Fails for `u16`, `u32`, `u256`, enums and addresses
/// that need more than 16 bytes.
pub fn move_value(value: &Value) -> Result<MoveValue, ConvertError> {
    let not = |what: &str| Err(ConvertError::NotRepresentable { what: what.to_owned() });
    Ok(match value {
        Value::Bool(b) => MoveValue::Bool(*b),
        Value::U8(n) => MoveValue::U8(*n),
        Value::U64(n) => MoveValue::U64(*n),
        Value::U128(n) => MoveValue::U128(*n),
        Value::U16(_) => return not("a u16 value"),
        Value::U32(_) => return not("a u32 value"),
        Value::U256(_) => return not("a u256 value"),
        Value::Variant { .. } => return not("an enum value"),
        Value::Address(a) => MoveValue::Address(move_address(a)?),
        Value::Signer(a) => MoveValue::Signer(move_address(a)?),
        Value::Bytes(bytes) => MoveValue::Vector(bytes.iter().map(|b| MoveValue::U8(*b)).collect()),
        Value::Vector(items) => MoveValue::Vector(items.iter().map(move_value).collect::<Result<_, _>>()?),
        Value::Struct(fields) => {
            MoveValue::Struct(MoveStruct::Runtime(fields.iter().map(move_value).collect::<Result<_, _>>()?))
        }
    })
}

fn move_kind(value: &MoveValue) -> &'static str {
    match value {
        MoveValue::Bool(_) => "bool",
        MoveValue::U8(_) => "u8",
        MoveValue::U64(_) => "u64",
        MoveValue::U128(_) => "u128",
        MoveValue::Address(_) => "address",
        MoveValue::Signer(_) => "signer",
        MoveValue::Vector(_) => "vector",
        MoveValue::Struct(_) => "struct",
    }
}

/// Our value of a `move-core-types` one of `layout`: the value our `decode` gives for the same
/// bytes. The layout tells a `vector<u8>` (ours holds it as [`Value::Bytes`]) from other vectors,
/// which a `MoveValue` cannot. Field names of a `WithFields` struct are dropped: they belong to
/// the layout. Fails only for a value that is not of the layout.
pub fn value_of(value: MoveValue, layout: &Layout) -> Result<Value, ConvertError> {
    let mismatch = |value: &MoveValue| ConvertError::Mismatch { expected: layout.to_string(), found: move_kind(value) };
    Ok(match (value, layout) {
        (MoveValue::Bool(b), Layout::Bool) => Value::Bool(b),
        (MoveValue::U8(n), Layout::U8) => Value::U8(n),
        (MoveValue::U64(n), Layout::U64) => Value::U64(n),
        (MoveValue::U128(n), Layout::U128) => Value::U128(n),
        (MoveValue::Address(a), Layout::Address(_)) => Value::Address(account_of(&a).address()),
        (MoveValue::Signer(a), Layout::Signer(_)) => Value::Signer(account_of(&a).address()),
        (MoveValue::Vector(items), Layout::Vector(element)) if **element == Layout::U8 => Value::Bytes(
            items
                .into_iter()
                .map(|item| match item {
                    MoveValue::U8(b) => Ok(b),
                    other => Err(ConvertError::Mismatch { expected: "u8".to_owned(), found: move_kind(&other) }),
                })
                .collect::<Result<_, _>>()?,
        ),
        (MoveValue::Vector(items), Layout::Vector(element)) => {
            Value::Vector(items.into_iter().map(|item| value_of(item, element)).collect::<Result<_, _>>()?)
        }
        (MoveValue::Struct(s), Layout::Struct(fields)) => {
            let values = s.into_fields();
            if values.len() != fields.fields.len() {
                return Err(ConvertError::Mismatch {
                    expected: layout.to_string(),
                    found: "struct with another number of fields",
                });
            }
            Value::Struct(
                values
                    .into_iter()
                    .zip(&fields.fields)
                    .map(|(v, f)| value_of(v, &f.layout))
                    .collect::<Result<_, _>>()?,
            )
        }
        (value, _) => return Err(mismatch(&value)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{FieldLayout, StructLayout};
    use crate::value::encode;
    use binary_format::ModuleId;

    #[test]
    fn struct_tags_convert_both_ways_and_bcs_agrees() {
        let ours = StructTag::parse("0x1::Coin::Balance<0x1::GAS::GAS, vector<u8>>", AddressLength::Bytes16).unwrap();
        let theirs = move_struct_tag(&ours).unwrap();
        assert_eq!(struct_tag_of(&theirs), ours);
        assert_eq!(bcs::to_bytes(&theirs).unwrap(), ours.to_bcs());
        let wide = StructTag::parse("0x1::M::S<u256>", AddressLength::Bytes16).unwrap();
        assert!(matches!(move_struct_tag(&wide), Err(ConvertError::NotRepresentable { .. })));
        let big = Address::parse_hex(&format!("0x1{}", "0".repeat(32))).unwrap();
        assert_eq!(move_address(&big), Err(ConvertError::AddressTooLong { address: big }));
    }

    #[test]
    fn values_and_layouts_convert_where_representable() {
        let field = |name: &str, layout| FieldLayout { name: name.into(), layout };
        let coin = Layout::Struct(Box::new(StructLayout {
            module: ModuleId::parse("0x1::Coin").unwrap(),
            name: "Coin".into(),
            fields: vec![field("value", Layout::U64)],
        }));
        let stake = Layout::Struct(Box::new(StructLayout {
            module: ModuleId::parse("0x1::Stake").unwrap(),
            name: "Stake".into(),
            fields: vec![
                field("locked", coin),
                field("pending", Layout::U64),
                field("buddies", Layout::Vector(Box::new(Layout::Address(AddressLength::Bytes16)))),
            ],
        }));
        let value = Value::Struct(vec![
            Value::Struct(vec![Value::U64(5)]),
            Value::U64(7),
            Value::Vector(vec![Value::Address(Address::from_u64(0xa11ce))]),
        ]);
        let mv = move_value(&value).unwrap();
        let bytes = encode(&value, &stake).unwrap();
        assert_eq!(mv.simple_serialize().unwrap(), bytes);
        let back = MoveValue::simple_deserialize(&bytes, &move_layout(&stake).unwrap()).unwrap();
        assert_eq!(value_of(back, &stake).unwrap(), value);
        let bytes_layout = Layout::Vector(Box::new(Layout::U8));
        let bytes = MoveValue::Vector(vec![MoveValue::U8(1), MoveValue::U8(2)]);
        assert_eq!(value_of(bytes.clone(), &bytes_layout).unwrap(), Value::Bytes(vec![1, 2]));
        assert_eq!(move_value(&Value::Bytes(vec![1, 2])).unwrap(), bytes);
        assert!(matches!(value_of(bytes, &Layout::U64), Err(ConvertError::Mismatch { .. })));
        assert!(move_value(&Value::U16(1)).is_err());
        assert!(move_value(&Value::Variant { index: 0, fields: vec![] }).is_err());
        assert!(move_layout(&Layout::Address(AddressLength::Bytes32)).is_err());
    }
}
