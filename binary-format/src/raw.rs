//! The tables of a module as the file stores them: indices not yet resolved.
//!
//! This is what a full parse produces and what the writer serializes. It borrows identifiers and
//! blobs from the input (`Cow`), so parsing does not copy strings; the writer owns them instead.

use crate::ability::AbilitySet;
use crate::address::{Address, AddressLength};
use crate::version::Version;
use std::borrow::Cow;

/// A signature token: a type whose datatypes are still handle indices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Token {
    Bool,
    U8,
    U16,
    U32,
    U64,
    U128,
    U256,
    I8,
    I16,
    I32,
    I64,
    I128,
    I256,
    Address,
    Signer,
    Vector(Box<Token>),
    Datatype(u16),
    DatatypeInstantiation(u16, Vec<Token>),
    TypeParameter(u16),
    Reference(Box<Token>),
    MutableReference(Box<Token>),
    Function { params: Vec<Token>, returns: Vec<Token>, abilities: AbilitySet },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModuleHandle {
    pub address: u16,
    pub name: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeParameter {
    pub constraints: AbilitySet,
    pub phantom: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatatypeHandle {
    pub module: u16,
    pub name: u16,
    pub abilities: AbilitySet,
    pub type_params: Vec<TypeParameter>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionHandle<'a> {
    pub module: u16,
    pub name: u16,
    pub params: u16,
    pub returns: u16,
    pub type_params: Vec<AbilitySet>,
    /// Aptos version 7 on: the encoded access-specifier option, kept verbatim (validated when read).
    pub access_specifiers: Option<Cow<'a, [u8]>>,
    /// Aptos version 8 on: attribute bytes.
    pub attributes: Vec<u8>,
}

/// `(thing, type arguments signature)`: struct, function, field, enum and variant instantiations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instantiation {
    pub handle: u16,
    pub type_args: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constant<'a> {
    pub ty: Token,
    pub data: Cow<'a, [u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Metadata<'a> {
    pub key: Cow<'a, [u8]>,
    pub value: Cow<'a, [u8]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldDef {
    pub name: u16,
    pub ty: Token,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantDef {
    pub name: u16,
    pub fields: Vec<FieldDef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StructBody {
    Native,
    Fields(Vec<FieldDef>),
    /// Aptos version 7 enums.
    Variants(Vec<VariantDef>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructDef {
    pub handle: u16,
    pub body: StructBody,
}

/// Sui version 7 enum definitions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnumDef {
    pub handle: u16,
    pub variants: Vec<VariantDef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldHandle {
    pub owner: u16,
    pub field: u16,
}

/// Sui variant handles, and Aptos struct variant handles: `(definition, variant)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VariantHandle {
    pub owner: u16,
    pub variant: u16,
}

/// Aptos: a field shared by several variants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantFieldHandle {
    pub owner: u16,
    pub variants: Vec<u16>,
    pub field: u16,
}

/// An instruction operand, decoded by its `OperandKind`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operand {
    None,
    /// A local, a branch target, a table or jump table index, or an 8/16-bit immediate.
    Small(u16),
    U32(u32),
    U64(u64),
    U128(u128),
    U256(Box<[u8; 32]>),
    /// A table index and a u64 (vector element count or closure mask).
    IndexAnd(u16, u64),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Instruction {
    pub opcode: u8,
    pub operand: Operand,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JumpTable {
    pub head_enum: u16,
    pub offsets: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodeUnit {
    pub locals: u16,
    /// Number of instructions in the file; `code` is empty when the body was walked, not kept.
    pub instruction_count: u16,
    pub code: Vec<Instruction>,
    pub jump_tables: Vec<JumpTable>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RawVisibility {
    Private,
    Public,
    Friend,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionDef {
    pub handle: u16,
    pub visibility: RawVisibility,
    pub entry: bool,
    pub native: bool,
    pub acquires: Vec<u16>,
    pub code: Option<CodeUnit>,
}

/// Every table of a module. Tables a parse was asked to skip stay empty (see `Detail`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawModule<'a> {
    pub version: Version,
    pub address_length: AddressLength,
    pub self_handle: u16,
    pub module_handles: Vec<ModuleHandle>,
    pub datatype_handles: Vec<DatatypeHandle>,
    pub function_handles: Vec<FunctionHandle<'a>>,
    pub function_instantiations: Vec<Instantiation>,
    pub signatures: Vec<Vec<Token>>,
    pub constants: Vec<Constant<'a>>,
    pub identifiers: Vec<Cow<'a, str>>,
    pub addresses: Vec<Address>,
    pub metadata: Vec<Metadata<'a>>,
    pub struct_defs: Vec<StructDef>,
    pub struct_def_instantiations: Vec<Instantiation>,
    pub function_defs: Vec<FunctionDef>,
    pub field_handles: Vec<FieldHandle>,
    pub field_instantiations: Vec<Instantiation>,
    pub friend_decls: Vec<ModuleHandle>,
    pub enum_defs: Vec<EnumDef>,
    pub enum_def_instantiations: Vec<Instantiation>,
    pub variant_handles: Vec<VariantHandle>,
    pub variant_instantiation_handles: Vec<VariantHandle>,
    pub variant_field_handles: Vec<VariantFieldHandle>,
    pub variant_field_instantiations: Vec<Instantiation>,
    pub struct_variant_handles: Vec<VariantHandle>,
    pub struct_variant_instantiations: Vec<Instantiation>,
}

impl RawModule<'_> {
    /// Entries in a table.
    pub fn table_len(&self, table: crate::format::Table) -> usize {
        use crate::format::Table;
        match table {
            Table::ModuleHandles => self.module_handles.len(),
            Table::DatatypeHandles => self.datatype_handles.len(),
            Table::FunctionHandles => self.function_handles.len(),
            Table::FunctionInstantiations => self.function_instantiations.len(),
            Table::Signatures => self.signatures.len(),
            Table::Constants => self.constants.len(),
            Table::Identifiers => self.identifiers.len(),
            Table::Addresses => self.addresses.len(),
            Table::StructDefs => self.struct_defs.len(),
            Table::StructDefInstantiations => self.struct_def_instantiations.len(),
            Table::FunctionDefs => self.function_defs.len(),
            Table::FieldHandles => self.field_handles.len(),
            Table::FieldInstantiations => self.field_instantiations.len(),
            Table::FriendDecls => self.friend_decls.len(),
            Table::Metadata => self.metadata.len(),
            Table::EnumDefs => self.enum_defs.len(),
            Table::EnumDefInstantiations => self.enum_def_instantiations.len(),
            Table::VariantHandles => self.variant_handles.len(),
            Table::VariantInstantiationHandles => self.variant_instantiation_handles.len(),
            Table::VariantFieldHandles => self.variant_field_handles.len(),
            Table::VariantFieldInstantiations => self.variant_field_instantiations.len(),
            Table::StructVariantHandles => self.struct_variant_handles.len(),
            Table::StructVariantInstantiations => self.struct_variant_instantiations.len(),
        }
    }
}

impl Default for Version {
    fn default() -> Self {
        Version::new(crate::version::VERSION_6)
    }
}
