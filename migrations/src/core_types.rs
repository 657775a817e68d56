//! Where our vocabulary meets `move-core-types`'.
//!
//! The store is keyed by `move_core_types::language_storage::StructTag` (address, module
//! `Identifier`, name `Identifier`, type arguments as `TypeTag`s), because that is the key every
//! Move VM and node integration already speaks. Our own `binary_format` types are richer: they
//! cover every integer width, signed integers, enums and addresses of any length. This module
//! converts between the two and says, with a [`ConvertError`], where a conversion cannot be made.
//!
//! What does not fit `move-core-types` 0.0.3 (the newest published version):
//! - `TypeTag` has only `bool`, `u8`, `u64`, `u128`, `address`, `signer`, `vector` and structs:
//!   no `u16`, `u32`, `u256`, no signed integers. A struct instantiated with those (`Box<u32>`)
//!   has no `StructTag`, so it cannot be a store key.
//! - `AccountAddress` is 16 bytes. Our stdlib uses 16-byte addresses, so every key fits; a
//!   release with 20- or 32-byte addresses whose values need more than 16 bytes does not.
//! - `Identifier` rejects `$`, which our reader accepts in names some compilers generate.
//! - `TypeTag`'s `Display` prints `U64`, `Vector<U8>`, which its own parser does not read back;
//!   [`render_struct_tag`] prints Move source syntax instead.
//! - Its parser recurses without a bound; [`parse_struct_tag`] bounds the nesting first.
//!
//! Enums are not a question for tags (an enum is named like a struct) but are for layouts and
//! values: see `layout` and `value`.

use binary_format::{Address, AddressLength, DatatypeRef, ModuleId, Type};
use move_core_types::account_address::AccountAddress;
use move_core_types::identifier::Identifier;
use move_core_types::language_storage::{StructTag, TypeTag};

/// Longest struct tag text [`parse_struct_tag`] reads.
pub const MAX_TAG_TEXT_LEN: usize = 4096;
/// Deepest `<...>` nesting [`parse_struct_tag`] reads.
pub const MAX_TAG_NESTING: usize = 32;

/// A conversion to `move-core-types` that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error("{what} has no counterpart in move-core-types 0.0.3")]
    NotRepresentable { what: String },
    #[error("address {address} needs more than the 16 bytes of move-core-types' AccountAddress")]
    AddressTooLong { address: Address },
    #[error("`{name}` is not an identifier move-core-types accepts")]
    InvalidIdentifier { name: String },
    #[error("cannot read struct tag `{input}`: {reason}")]
    Parse { input: String, reason: String },
}

/// The 16-byte `AccountAddress` of an address, if its value fits.
pub fn account_address(address: &Address) -> Result<AccountAddress, ConvertError> {
    let bytes =
        address.to_be_bytes(AddressLength::Bytes16).ok_or(ConvertError::AddressTooLong { address: *address })?;
    AccountAddress::from_bytes(bytes).map_err(|_| ConvertError::AddressTooLong { address: *address })
}

/// Our address of an `AccountAddress` (always fits: ours hold up to 32 bytes).
pub fn address_of(account: &AccountAddress) -> Address {
    // 16 bytes always fit in 32; the fallback is never taken.
    Address::from_be_slice(account.as_ref()).unwrap_or(Address::ZERO)
}

/// A `move-core-types` identifier.
pub fn identifier(name: &str) -> Result<Identifier, ConvertError> {
    Identifier::new(name).map_err(|_| ConvertError::InvalidIdentifier { name: name.to_owned() })
}

/// The type tag of a closed type (no type parameters, references or closures).
pub fn type_tag(ty: &Type) -> Result<TypeTag, ConvertError> {
    Ok(match ty {
        Type::Bool => TypeTag::Bool,
        Type::U8 => TypeTag::U8,
        Type::U64 => TypeTag::U64,
        Type::U128 => TypeTag::U128,
        Type::Address => TypeTag::Address,
        Type::Signer => TypeTag::Signer,
        Type::Vector(inner) => TypeTag::Vector(Box::new(type_tag(inner)?)),
        Type::Datatype(d) => TypeTag::Struct(struct_tag(d)?),
        other => return Err(ConvertError::NotRepresentable { what: format!("type `{other}`") }),
    })
}

/// The struct tag of an instantiated struct or enum.
pub fn struct_tag(datatype: &DatatypeRef) -> Result<StructTag, ConvertError> {
    Ok(StructTag {
        address: account_address(&datatype.module.address)?,
        module: identifier(&datatype.module.name)?,
        name: identifier(&datatype.name)?,
        type_params: datatype.type_args.iter().map(type_tag).collect::<Result<_, _>>()?,
    })
}

/// Our type of a type tag (always possible: ours is the larger vocabulary).
pub fn type_of_tag(tag: &TypeTag) -> Type {
    match tag {
        TypeTag::Bool => Type::Bool,
        TypeTag::U8 => Type::U8,
        TypeTag::U64 => Type::U64,
        TypeTag::U128 => Type::U128,
        TypeTag::Address => Type::Address,
        TypeTag::Signer => Type::Signer,
        TypeTag::Vector(inner) => Type::Vector(Box::new(type_of_tag(inner))),
        TypeTag::Struct(s) => Type::Datatype(Box::new(datatype_of_tag(s))),
    }
}

/// Our datatype reference of a struct tag.
pub fn datatype_of_tag(tag: &StructTag) -> DatatypeRef {
    DatatypeRef {
        module: module_id_of_tag(tag),
        name: tag.name.as_str().to_owned(),
        type_args: tag.type_params.iter().map(type_of_tag).collect(),
    }
}

/// The module a struct tag names.
pub fn module_id_of_tag(tag: &StructTag) -> ModuleId {
    ModuleId::new(address_of(&tag.address), tag.module.as_str())
}

/// A struct tag in Move source syntax: `0x1::Coin::Balance<0x1::GAS::GAS>`.
pub fn render_struct_tag(tag: &StructTag) -> String {
    Type::Datatype(Box::new(datatype_of_tag(tag))).to_string()
}

/// Reads `0x1::Coin::Balance<0x1::GAS::GAS>`, with bounded length and nesting, ASCII only (the
/// `move-core-types` parser it delegates to recurses once per `<` and slices by byte counts).
pub fn parse_struct_tag(input: &str) -> Result<StructTag, ConvertError> {
    let fail = |reason: String| ConvertError::Parse { input: input.to_owned(), reason };
    if input.len() > MAX_TAG_TEXT_LEN {
        return Err(fail(format!("longer than {MAX_TAG_TEXT_LEN} bytes")));
    }
    if !input.is_ascii() {
        return Err(fail("not ASCII".to_owned()));
    }
    let mut depth = 0usize;
    for c in input.chars() {
        match c {
            '<' => {
                depth += 1;
                if depth > MAX_TAG_NESTING {
                    return Err(fail(format!("nested deeper than {MAX_TAG_NESTING}")));
                }
            }
            '>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    match move_core_types::parser::parse_type_tag(input) {
        Ok(TypeTag::Struct(tag)) => Ok(tag),
        Ok(other) => Err(fail(format!("`{}` is not a struct", type_of_tag(&other)))),
        Err(e) => Err(fail(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gas() -> Type {
        Type::datatype(ModuleId::new(Address::from_u64(1), "GAS"), "GAS", vec![])
    }

    #[test]
    fn struct_tags_round_trip_through_text_and_datatypes() {
        let balance = DatatypeRef {
            module: ModuleId::new(Address::from_u64(1), "Coin"),
            name: "Balance".into(),
            type_args: vec![gas()],
        };
        let tag = struct_tag(&balance).unwrap();
        assert_eq!(tag.address, AccountAddress::from_hex_literal("0x1").unwrap());
        assert_eq!(render_struct_tag(&tag), "0x1::Coin::Balance<0x1::GAS::GAS>");
        assert_eq!(parse_struct_tag("0x1::Coin::Balance<0x1::GAS::GAS>").unwrap(), tag);
        assert_eq!(datatype_of_tag(&tag), balance);
        let nested = Type::Vector(Box::new(Type::Datatype(Box::new(balance))));
        assert_eq!(type_of_tag(&type_tag(&nested).unwrap()), nested);
    }

    #[test]
    fn what_move_core_types_cannot_hold() {
        for ty in [Type::U16, Type::U32, Type::U256, Type::I64, Type::TypeParameter(0)] {
            let boxed = Type::datatype(ModuleId::new(Address::from_u64(1), "Box"), "Box", vec![ty.clone()]);
            assert!(matches!(type_tag(&boxed), Err(ConvertError::NotRepresentable { .. })), "{ty}");
        }
        let far = Address::parse_hex(&format!("0x1{}", "0".repeat(32))).unwrap();
        assert_eq!(account_address(&far), Err(ConvertError::AddressTooLong { address: far }));
        let generated =
            DatatypeRef { module: ModuleId::new(Address::from_u64(1), "M"), name: "$t".into(), type_args: vec![] };
        assert!(matches!(struct_tag(&generated), Err(ConvertError::InvalidIdentifier { .. })));
    }

    #[test]
    fn parser_input_is_bounded() {
        let deep = format!("0x1::M::S{}", "<0x1::M::S".repeat(MAX_TAG_NESTING + 1));
        assert!(matches!(parse_struct_tag(&deep), Err(ConvertError::Parse { .. })));
        assert!(parse_struct_tag(&"a".repeat(MAX_TAG_TEXT_LEN + 1)).is_err());
        assert!(parse_struct_tag("u64").is_err());
        assert!(parse_struct_tag("0x1::M::").is_err());
        assert!(parse_struct_tag("").is_err());
    }

    #[test]
    fn addresses_convert_both_ways() {
        for n in [0u64, 1, 0xa550c18, u64::MAX] {
            let a = Address::from_u64(n);
            assert_eq!(address_of(&account_address(&a).unwrap()), a);
        }
    }
}
