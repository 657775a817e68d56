//! The instruction set as data: for each opcode byte, its name, what operand follows it and the
//! version that introduced it. One generic decoder and one generic encoder walk this table, so a
//! new opcode is one line here rather than a pair of hand-written functions.
//!
//! Opcodes `0x4E..=0x56` mean different instructions on Sui and on Aptos (both version 7); the
//! flavor in the version word picks the table.

use crate::format::Table;
use crate::version::{Version, VERSION_1, VERSION_10, VERSION_4, VERSION_6, VERSION_7, VERSION_8, VERSION_9};

/// What follows an opcode byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperandKind {
    None,
    /// A local variable index, ULEB128 up to 255.
    Local,
    /// A branch target: an instruction index, ULEB128 up to 65535.
    Offset,
    /// Fixed-width little-endian immediates.
    U8,
    U16,
    U32,
    U64,
    U128,
    U256,
    /// An index into a table, ULEB128 up to `max`.
    Index(Table, u16),
    /// A signature index, then an element count as a fixed 8-byte u64 (`VecPack`, `VecUnpack`).
    SignatureAndCount,
    /// An index into a table, then a ULEB128 u64 closure mask (Aptos closures).
    IndexAndMask(Table),
    /// An index into the code unit's own jump tables (Sui `VariantSwitch`).
    JumpTable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpcodeInfo {
    pub name: &'static str,
    pub operand: OperandKind,
    pub since: u32,
}

const fn op(name: &'static str, operand: OperandKind, since: u32) -> Option<OpcodeInfo> {
    Some(OpcodeInfo { name, operand, since })
}

const MAX: u16 = u16::MAX;
use OperandKind::*;

/// Opcodes every flavor shares.
const COMMON: [Option<OpcodeInfo>; 0x4E] = [
    Option::None,
    op("Pop", OperandKind::None, VERSION_1),
    op("Ret", OperandKind::None, VERSION_1),
    op("BrTrue", Offset, VERSION_1),
    op("BrFalse", Offset, VERSION_1),
    op("Branch", Offset, VERSION_1),
    op("LdU64", U64, VERSION_1),
    op("LdConst", Index(Table::Constants, MAX), VERSION_1),
    op("LdTrue", OperandKind::None, VERSION_1),
    op("LdFalse", OperandKind::None, VERSION_1),
    op("CopyLoc", Local, VERSION_1),
    op("MoveLoc", Local, VERSION_1),
    op("StLoc", Local, VERSION_1),
    op("MutBorrowLoc", Local, VERSION_1),
    op("ImmBorrowLoc", Local, VERSION_1),
    op("MutBorrowField", Index(Table::FieldHandles, MAX), VERSION_1),
    op("ImmBorrowField", Index(Table::FieldHandles, MAX), VERSION_1),
    op("Call", Index(Table::FunctionHandles, MAX), VERSION_1),
    op("Pack", Index(Table::StructDefs, MAX), VERSION_1),
    op("Unpack", Index(Table::StructDefs, MAX), VERSION_1),
    op("ReadRef", OperandKind::None, VERSION_1),
    op("WriteRef", OperandKind::None, VERSION_1),
    op("Add", OperandKind::None, VERSION_1),
    op("Sub", OperandKind::None, VERSION_1),
    op("Mul", OperandKind::None, VERSION_1),
    op("Mod", OperandKind::None, VERSION_1),
    op("Div", OperandKind::None, VERSION_1),
    op("BitOr", OperandKind::None, VERSION_1),
    op("BitAnd", OperandKind::None, VERSION_1),
    op("Xor", OperandKind::None, VERSION_1),
    op("Or", OperandKind::None, VERSION_1),
    op("And", OperandKind::None, VERSION_1),
    op("Not", OperandKind::None, VERSION_1),
    op("Eq", OperandKind::None, VERSION_1),
    op("Neq", OperandKind::None, VERSION_1),
    op("Lt", OperandKind::None, VERSION_1),
    op("Gt", OperandKind::None, VERSION_1),
    op("Le", OperandKind::None, VERSION_1),
    op("Ge", OperandKind::None, VERSION_1),
    op("Abort", OperandKind::None, VERSION_1),
    op("Nop", OperandKind::None, VERSION_1),
    op("Exists", Index(Table::StructDefs, MAX), VERSION_1),
    op("MutBorrowGlobal", Index(Table::StructDefs, MAX), VERSION_1),
    op("ImmBorrowGlobal", Index(Table::StructDefs, MAX), VERSION_1),
    op("MoveFrom", Index(Table::StructDefs, MAX), VERSION_1),
    op("MoveTo", Index(Table::StructDefs, MAX), VERSION_1),
    op("FreezeRef", OperandKind::None, VERSION_1),
    op("Shl", OperandKind::None, VERSION_1),
    op("Shr", OperandKind::None, VERSION_1),
    op("LdU8", U8, VERSION_1),
    op("LdU128", U128, VERSION_1),
    op("CastU8", OperandKind::None, VERSION_1),
    op("CastU64", OperandKind::None, VERSION_1),
    op("CastU128", OperandKind::None, VERSION_1),
    op("MutBorrowFieldGeneric", Index(Table::FieldInstantiations, MAX), VERSION_1),
    op("ImmBorrowFieldGeneric", Index(Table::FieldInstantiations, MAX), VERSION_1),
    op("CallGeneric", Index(Table::FunctionInstantiations, MAX), VERSION_1),
    op("PackGeneric", Index(Table::StructDefInstantiations, MAX), VERSION_1),
    op("UnpackGeneric", Index(Table::StructDefInstantiations, MAX), VERSION_1),
    op("ExistsGeneric", Index(Table::StructDefInstantiations, MAX), VERSION_1),
    op("MutBorrowGlobalGeneric", Index(Table::StructDefInstantiations, MAX), VERSION_1),
    op("ImmBorrowGlobalGeneric", Index(Table::StructDefInstantiations, MAX), VERSION_1),
    op("MoveFromGeneric", Index(Table::StructDefInstantiations, MAX), VERSION_1),
    op("MoveToGeneric", Index(Table::StructDefInstantiations, MAX), VERSION_1),
    op("VecPack", SignatureAndCount, VERSION_4),
    op("VecLen", Index(Table::Signatures, MAX), VERSION_4),
    op("VecImmBorrow", Index(Table::Signatures, MAX), VERSION_4),
    op("VecMutBorrow", Index(Table::Signatures, MAX), VERSION_4),
    op("VecPushBack", Index(Table::Signatures, MAX), VERSION_4),
    op("VecPopBack", Index(Table::Signatures, MAX), VERSION_4),
    op("VecUnpack", SignatureAndCount, VERSION_4),
    op("VecSwap", Index(Table::Signatures, MAX), VERSION_4),
    op("LdU16", U16, VERSION_6),
    op("LdU32", U32, VERSION_6),
    op("LdU256", U256, VERSION_6),
    op("CastU16", OperandKind::None, VERSION_6),
    op("CastU32", OperandKind::None, VERSION_6),
    op("CastU256", OperandKind::None, VERSION_6),
];

/// Sui's version 7 enum instructions, from 0x4E.
const SUI_VARIANT_HANDLE_MAX: u16 = 1024;
const SUI: [Option<OpcodeInfo>; 9] = [
    op("PackVariant", Index(Table::VariantHandles, SUI_VARIANT_HANDLE_MAX), VERSION_7),
    op("PackVariantGeneric", Index(Table::VariantInstantiationHandles, SUI_VARIANT_HANDLE_MAX), VERSION_7),
    op("UnpackVariant", Index(Table::VariantHandles, SUI_VARIANT_HANDLE_MAX), VERSION_7),
    op("UnpackVariantImmRef", Index(Table::VariantHandles, SUI_VARIANT_HANDLE_MAX), VERSION_7),
    op("UnpackVariantMutRef", Index(Table::VariantHandles, SUI_VARIANT_HANDLE_MAX), VERSION_7),
    op("UnpackVariantGeneric", Index(Table::VariantInstantiationHandles, SUI_VARIANT_HANDLE_MAX), VERSION_7),
    op("UnpackVariantGenericImmRef", Index(Table::VariantInstantiationHandles, SUI_VARIANT_HANDLE_MAX), VERSION_7),
    op("UnpackVariantGenericMutRef", Index(Table::VariantInstantiationHandles, SUI_VARIANT_HANDLE_MAX), VERSION_7),
    op("VariantSwitch", JumpTable, VERSION_7),
];

/// Aptos's version 7 (struct variants), 8 (closures), 9 (signed integers) and 10 instructions,
/// from 0x4E. The signed immediates are fixed-width little-endian two's complement.
const APTOS: [Option<OpcodeInfo>; 27] = [
    op("ImmBorrowVariantField", Index(Table::VariantFieldHandles, MAX), VERSION_7),
    op("MutBorrowVariantField", Index(Table::VariantFieldHandles, MAX), VERSION_7),
    op("ImmBorrowVariantFieldGeneric", Index(Table::VariantFieldInstantiations, MAX), VERSION_7),
    op("MutBorrowVariantFieldGeneric", Index(Table::VariantFieldInstantiations, MAX), VERSION_7),
    op("PackVariant", Index(Table::StructVariantHandles, MAX), VERSION_7),
    op("PackVariantGeneric", Index(Table::StructVariantInstantiations, MAX), VERSION_7),
    op("UnpackVariant", Index(Table::StructVariantHandles, MAX), VERSION_7),
    op("UnpackVariantGeneric", Index(Table::StructVariantInstantiations, MAX), VERSION_7),
    op("TestVariant", Index(Table::StructVariantHandles, MAX), VERSION_7),
    op("TestVariantGeneric", Index(Table::StructVariantInstantiations, MAX), VERSION_7),
    op("PackClosure", IndexAndMask(Table::FunctionHandles), VERSION_8),
    op("PackClosureGeneric", IndexAndMask(Table::FunctionInstantiations), VERSION_8),
    op("CallClosure", Index(Table::Signatures, MAX), VERSION_8),
    op("LdI8", U8, VERSION_9),
    op("LdI16", U16, VERSION_9),
    op("LdI32", U32, VERSION_9),
    op("LdI64", U64, VERSION_9),
    op("LdI128", U128, VERSION_9),
    op("LdI256", U256, VERSION_9),
    op("CastI8", OperandKind::None, VERSION_9),
    op("CastI16", OperandKind::None, VERSION_9),
    op("CastI32", OperandKind::None, VERSION_9),
    op("CastI64", OperandKind::None, VERSION_9),
    op("CastI128", OperandKind::None, VERSION_9),
    op("CastI256", OperandKind::None, VERSION_9),
    op("Negate", OperandKind::None, VERSION_9),
    op("AbortMsg", OperandKind::None, VERSION_10),
];

/// The instruction `byte` stands for in a module of `version`, if it exists there.
pub fn lookup(byte: u8, version: Version) -> Option<OpcodeInfo> {
    let index = usize::from(byte);
    let info = if let Some(common) = COMMON.get(index) {
        *common
    } else if version.is_sui() {
        SUI.get(index - COMMON.len()).copied().flatten()
    } else {
        APTOS.get(index - COMMON.len()).copied().flatten()
    }?;
    (version.number >= info.since).then_some(info)
}

/// Every opcode byte defined for `version`, for generators and tests.
pub fn all(version: Version) -> impl Iterator<Item = (u8, OpcodeInfo)> {
    (0..=u8::MAX).filter_map(move |b| lookup(b, version).map(|i| (b, i)))
}

pub const LD_U64: u8 = 0x06;
pub const ABORT: u8 = 0x27;
pub const RET: u8 = 0x02;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors_disagree_from_0x4e() {
        assert_eq!(lookup(0x56, Version::sui(7)).unwrap().name, "VariantSwitch");
        assert_eq!(lookup(0x56, Version::new(7)).unwrap().name, "TestVariant");
        assert!(lookup(0x57, Version::sui(7)).is_none());
        assert!(lookup(0x58, Version::new(7)).is_none());
        assert_eq!(lookup(0x58, Version::new(8)).unwrap().name, "PackClosure");
    }

    #[test]
    fn version_gates() {
        assert!(lookup(0x40, Version::new(3)).is_none());
        assert!(lookup(0x40, Version::new(4)).is_some());
        assert!(lookup(0x48, Version::new(5)).is_none());
        assert!(lookup(0x00, Version::new(6)).is_none());
        assert_eq!(all(Version::new(6)).count(), 0x4D);
        assert_eq!(all(Version::sui(7)).count(), 0x4D + 9);
    }
}
