//! Constants of the file format that are not opcodes: table kinds, type tags, flags.
//!
//! Version 7 tables 0x11..=0x14 mean different things on Aptos and on Sui; the flavor in the
//! version word tells them apart (see `version`).

use crate::version::{Version, VERSION_2, VERSION_5, VERSION_7};

/// A table of a module. `name()` is used in every error that names a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    ModuleHandles,
    DatatypeHandles,
    FunctionHandles,
    FunctionInstantiations,
    Signatures,
    Constants,
    Identifiers,
    Addresses,
    StructDefs,
    StructDefInstantiations,
    FunctionDefs,
    FieldHandles,
    FieldInstantiations,
    FriendDecls,
    Metadata,
    /// Sui, version 7.
    EnumDefs,
    EnumDefInstantiations,
    VariantHandles,
    VariantInstantiationHandles,
    /// Aptos, version 7.
    VariantFieldHandles,
    VariantFieldInstantiations,
    StructVariantHandles,
    StructVariantInstantiations,
}

impl Table {
    pub const COUNT: usize = 23;

    pub const ALL: [Table; Table::COUNT] = [
        Table::ModuleHandles,
        Table::DatatypeHandles,
        Table::FunctionHandles,
        Table::FunctionInstantiations,
        Table::Signatures,
        Table::Constants,
        Table::Identifiers,
        Table::Addresses,
        Table::StructDefs,
        Table::StructDefInstantiations,
        Table::FunctionDefs,
        Table::FieldHandles,
        Table::FieldInstantiations,
        Table::FriendDecls,
        Table::Metadata,
        Table::EnumDefs,
        Table::EnumDefInstantiations,
        Table::VariantHandles,
        Table::VariantInstantiationHandles,
        Table::VariantFieldHandles,
        Table::VariantFieldInstantiations,
        Table::StructVariantHandles,
        Table::StructVariantInstantiations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::ModuleHandles => "module handles",
            Table::DatatypeHandles => "struct handles",
            Table::FunctionHandles => "function handles",
            Table::FunctionInstantiations => "function instantiations",
            Table::Signatures => "signatures",
            Table::Constants => "constant pool",
            Table::Identifiers => "identifiers",
            Table::Addresses => "address identifiers",
            Table::StructDefs => "struct definitions",
            Table::StructDefInstantiations => "struct instantiations",
            Table::FunctionDefs => "function definitions",
            Table::FieldHandles => "field handles",
            Table::FieldInstantiations => "field instantiations",
            Table::FriendDecls => "friend declarations",
            Table::Metadata => "metadata",
            Table::EnumDefs => "enum definitions",
            Table::EnumDefInstantiations => "enum instantiations",
            Table::VariantHandles => "variant handles",
            Table::VariantInstantiationHandles => "variant instantiation handles",
            Table::VariantFieldHandles => "variant field handles",
            Table::VariantFieldInstantiations => "variant field instantiations",
            Table::StructVariantHandles => "struct variant handles",
            Table::StructVariantInstantiations => "struct variant instantiations",
        }
    }

    /// Position in `ALL`, for per-table arrays.
    pub fn slot(self) -> usize {
        self as usize
    }

    /// The table a kind byte names in a module of `version`, if it is defined there.
    pub fn from_kind(kind: u8, version: Version) -> Option<Table> {
        let common = match kind {
            0x01 => Some(Table::ModuleHandles),
            0x02 => Some(Table::DatatypeHandles),
            0x03 => Some(Table::FunctionHandles),
            0x04 => Some(Table::FunctionInstantiations),
            0x05 => Some(Table::Signatures),
            0x06 => Some(Table::Constants),
            0x07 => Some(Table::Identifiers),
            0x08 => Some(Table::Addresses),
            0x0A => Some(Table::StructDefs),
            0x0B => Some(Table::StructDefInstantiations),
            0x0C => Some(Table::FunctionDefs),
            0x0D => Some(Table::FieldHandles),
            0x0E => Some(Table::FieldInstantiations),
            0x0F if version.number >= VERSION_2 => Some(Table::FriendDecls),
            0x10 if version.number >= VERSION_5 => Some(Table::Metadata),
            _ => None,
        };
        if common.is_some() || version.number < VERSION_7 {
            return common;
        }
        if version.has_sui_enums() {
            match kind {
                0x11 => Some(Table::EnumDefs),
                0x12 => Some(Table::EnumDefInstantiations),
                0x13 => Some(Table::VariantHandles),
                0x14 => Some(Table::VariantInstantiationHandles),
                _ => None,
            }
        } else {
            match kind {
                0x11 => Some(Table::VariantFieldHandles),
                0x12 => Some(Table::VariantFieldInstantiations),
                0x13 => Some(Table::StructVariantHandles),
                0x14 => Some(Table::StructVariantInstantiations),
                _ => None,
            }
        }
    }

    /// The kind byte the writer uses.
    pub fn kind(self) -> u8 {
        match self {
            Table::ModuleHandles => 0x01,
            Table::DatatypeHandles => 0x02,
            Table::FunctionHandles => 0x03,
            Table::FunctionInstantiations => 0x04,
            Table::Signatures => 0x05,
            Table::Constants => 0x06,
            Table::Identifiers => 0x07,
            Table::Addresses => 0x08,
            Table::StructDefs => 0x0A,
            Table::StructDefInstantiations => 0x0B,
            Table::FunctionDefs => 0x0C,
            Table::FieldHandles => 0x0D,
            Table::FieldInstantiations => 0x0E,
            Table::FriendDecls => 0x0F,
            Table::Metadata => 0x10,
            Table::EnumDefs | Table::VariantFieldHandles => 0x11,
            Table::EnumDefInstantiations | Table::VariantFieldInstantiations => 0x12,
            Table::VariantHandles | Table::StructVariantHandles => 0x13,
            Table::VariantInstantiationHandles | Table::StructVariantInstantiations => 0x14,
        }
    }
}

/// Type tags of signature tokens.
pub mod token {
    pub const BOOL: u8 = 0x1;
    pub const U8: u8 = 0x2;
    pub const U64: u8 = 0x3;
    pub const U128: u8 = 0x4;
    pub const ADDRESS: u8 = 0x5;
    pub const REFERENCE: u8 = 0x6;
    pub const MUTABLE_REFERENCE: u8 = 0x7;
    pub const STRUCT: u8 = 0x8;
    pub const TYPE_PARAMETER: u8 = 0x9;
    pub const VECTOR: u8 = 0xA;
    pub const STRUCT_INST: u8 = 0xB;
    pub const SIGNER: u8 = 0xC;
    /// Version 6.
    pub const U16: u8 = 0xD;
    pub const U32: u8 = 0xE;
    pub const U256: u8 = 0xF;
    /// Aptos version 8: a function (closure) type.
    pub const FUNCTION: u8 = 0x10;
    /// Aptos version 9: signed integers.
    pub const I8: u8 = 0x11;
    pub const I16: u8 = 0x12;
    pub const I32: u8 = 0x13;
    pub const I64: u8 = 0x14;
    pub const I128: u8 = 0x15;
    pub const I256: u8 = 0x16;
}

/// Function visibility bytes (version 2 on).
pub mod visibility {
    pub const PRIVATE: u8 = 0x0;
    pub const PUBLIC: u8 = 0x1;
    /// Versions 2 to 4: `public(script)`, read as public and entry.
    pub const DEPRECATED_SCRIPT: u8 = 0x2;
    pub const FRIEND: u8 = 0x3;
}

/// Function definition flag bits.
pub mod function_flags {
    /// Version 1 only: the function is public.
    pub const V1_PUBLIC: u8 = 0x1;
    pub const NATIVE: u8 = 0x2;
    /// Version 5 on.
    pub const ENTRY: u8 = 0x4;
}

/// How a struct definition says what its fields are.
pub mod field_info {
    pub const NATIVE: u8 = 0x1;
    pub const DECLARED: u8 = 0x2;
    /// Aptos version 7: a struct with variants.
    pub const DECLARED_VARIANTS: u8 = 0x3;
}
