//! Function bodies with their pool indices resolved, as Sui's inclusion checks compare them
//! (`additive` and `dep-only` policies): two modules whose pools are ordered differently have
//! equal bodies; any changed instruction, operand or local makes them differ.
//!
//! Each instruction is resolved to text: constants by type and bytes, calls by module, name and
//! type arguments, packs, unpacks and field borrows by struct (and field) name, vector operations
//! by element type, enum operations by enum and variant name, branch targets and immediates as
//! numbers. The locals' types are part of the body.

use binary_format::deserializer::{parse, Detail, ParseOptions};
use binary_format::format::Table;
use binary_format::opcodes::{self, OperandKind};
use binary_format::raw::{Instantiation, Operand, RawModule, Token};
use binary_format::{AddressLength, ModuleId, Type};
use std::collections::BTreeMap;

/// A function body, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub locals: Vec<String>,
    pub code: Vec<String>,
}

/// Why bodies could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Format(#[from] binary_format::Error),
    #[error("index {index} of table {table} is out of bounds")]
    Index { table: &'static str, index: u16 },
}

type R<T> = Result<T, BodyError>;

struct Resolver<'r, 'a> {
    m: &'r RawModule<'a>,
}

impl Resolver<'_, '_> {
    fn oob(table: &'static str, index: u16) -> BodyError {
        BodyError::Index { table, index }
    }

    fn ident(&self, i: u16) -> R<String> {
        self.m.identifiers.get(usize::from(i)).map(|s| s.to_string()).ok_or_else(|| Self::oob("identifiers", i))
    }

    fn module(&self, i: u16) -> R<ModuleId> {
        let h = self.m.module_handles.get(usize::from(i)).ok_or_else(|| Self::oob("module handles", i))?;
        let a = *self.m.addresses.get(usize::from(h.address)).ok_or_else(|| Self::oob("addresses", h.address))?;
        Ok(ModuleId::new(a, self.ident(h.name)?))
    }

    fn datatype_name(&self, handle: u16) -> R<String> {
        let h =
            self.m.datatype_handles.get(usize::from(handle)).ok_or_else(|| Self::oob("datatype handles", handle))?;
        Ok(format!("{}::{}", self.module(h.module)?, self.ident(h.name)?))
    }

    fn ty(&self, t: &Token) -> R<Type> {
        Ok(binary_format::normalize::token_type(self.m, t)?)
    }

    fn tys(&self, ts: &[Token]) -> R<Vec<Type>> {
        ts.iter().map(|t| self.ty(t)).collect()
    }

    fn signature(&self, i: u16) -> R<String> {
        let s = self.m.signatures.get(usize::from(i)).ok_or_else(|| Self::oob("signatures", i))?;
        Ok(self.tys(s)?.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
    }

    fn struct_def(&self, i: u16) -> R<String> {
        let d = self.m.struct_defs.get(usize::from(i)).ok_or_else(|| Self::oob("struct definitions", i))?;
        self.datatype_name(d.handle)
    }

    fn enum_def(&self, i: u16) -> R<String> {
        let d = self.m.enum_defs.get(usize::from(i)).ok_or_else(|| Self::oob("enum definitions", i))?;
        self.datatype_name(d.handle)
    }

    fn field(&self, i: u16) -> R<String> {
        let h = self.m.field_handles.get(usize::from(i)).ok_or_else(|| Self::oob("field handles", i))?;
        let d = self.m.struct_defs.get(usize::from(h.owner)).ok_or_else(|| Self::oob("struct definitions", h.owner))?;
        let name = match &d.body {
            binary_format::raw::StructBody::Fields(fs) => {
                fs.get(usize::from(h.field)).map(|f| self.ident(f.name)).transpose()?
            }
            _ => None,
        };
        Ok(format!("{}.{}", self.datatype_name(d.handle)?, name.unwrap_or_else(|| h.field.to_string())))
    }

    fn function(&self, i: u16) -> R<String> {
        let h = self.m.function_handles.get(usize::from(i)).ok_or_else(|| Self::oob("function handles", i))?;
        Ok(format!("{}::{}", self.module(h.module)?, self.ident(h.name)?))
    }

    fn inst(&self, table: &[Instantiation], name: &'static str, i: u16) -> R<(u16, String)> {
        let inst = table.get(usize::from(i)).ok_or_else(|| Self::oob(name, i))?;
        Ok((inst.handle, self.signature(inst.type_args)?))
    }

    fn variant(&self, handles: &[binary_format::raw::VariantHandle], i: u16) -> R<String> {
        let h = handles.get(usize::from(i)).ok_or_else(|| Self::oob("variant handles", i))?;
        let d = self.m.enum_defs.get(usize::from(h.owner)).ok_or_else(|| Self::oob("enum definitions", h.owner))?;
        let variant = d.variants.get(usize::from(h.variant)).map(|v| self.ident(v.name)).transpose()?;
        Ok(format!("{}::{}", self.datatype_name(d.handle)?, variant.unwrap_or_else(|| h.variant.to_string())))
    }

    fn operand(&self, kind: OperandKind, operand: &Operand, jump_tables: &[String]) -> R<String> {
        let small = match operand {
            Operand::Small(i) => *i,
            Operand::IndexAnd(i, _) => *i,
            _ => 0,
        };
        Ok(match (kind, operand) {
            (OperandKind::None, _) => String::new(),
            (OperandKind::Index(table, _), _) => match table {
                Table::Constants => {
                    let c = self.m.constants.get(usize::from(small)).ok_or_else(|| Self::oob("constants", small))?;
                    let hex: String = c.data.iter().map(|b| format!("{b:02x}")).collect();
                    format!("{}: 0x{hex}", self.ty(&c.ty)?)
                }
                Table::FieldHandles => self.field(small)?,
                Table::FunctionHandles => self.function(small)?,
                Table::StructDefs => self.struct_def(small)?,
                Table::FieldInstantiations => {
                    let (h, args) = self.inst(&self.m.field_instantiations, "field instantiations", small)?;
                    format!("{}<{args}>", self.field(h)?)
                }
                Table::FunctionInstantiations => {
                    let (h, args) = self.inst(&self.m.function_instantiations, "function instantiations", small)?;
                    format!("{}<{args}>", self.function(h)?)
                }
                Table::StructDefInstantiations => {
                    let (h, args) = self.inst(&self.m.struct_def_instantiations, "struct instantiations", small)?;
                    format!("{}<{args}>", self.struct_def(h)?)
                }
                Table::Signatures => self.signature(small)?,
                Table::VariantHandles => self.variant(&self.m.variant_handles, small)?,
                Table::VariantInstantiationHandles => {
                    let h = self
                        .m
                        .variant_instantiation_handles
                        .get(usize::from(small))
                        .ok_or_else(|| Self::oob("variant instantiation handles", small))?;
                    let (e, args) = self.inst(&self.m.enum_def_instantiations, "enum instantiations", h.owner)?;
                    let d = self.m.enum_defs.get(usize::from(e)).ok_or_else(|| Self::oob("enum definitions", e))?;
                    let variant = d.variants.get(usize::from(h.variant)).map(|v| self.ident(v.name)).transpose()?;
                    format!("{}<{args}>::{}", self.enum_def(e)?, variant.unwrap_or_else(|| h.variant.to_string()))
                }
                // Aptos variant tables: not part of any Sui module; kept as indices.
                other => format!("{}[{small}]", other.name()),
            },
            (OperandKind::SignatureAndCount, Operand::IndexAnd(i, n)) => format!("{} x{n}", self.signature(*i)?),
            (OperandKind::IndexAndMask(_), Operand::IndexAnd(i, mask)) => format!("{i} mask {mask}"),
            (OperandKind::JumpTable, _) => {
                jump_tables.get(usize::from(small)).cloned().unwrap_or_else(|| format!("jump table {small}"))
            }
            (_, Operand::Small(n)) => n.to_string(),
            (_, Operand::U32(n)) => n.to_string(),
            (_, Operand::U64(n)) => n.to_string(),
            (_, Operand::U128(n)) => n.to_string(),
            (_, Operand::U256(b)) => b.iter().map(|x| format!("{x:02x}")).collect(),
            (_, Operand::IndexAnd(i, n)) => format!("{i} {n}"),
            (_, Operand::None) => String::new(),
        })
    }
}

/// Every function body of a module, by function name; native functions have empty bodies.
pub fn bodies(bytes: &[u8], address_length: AddressLength) -> Result<BTreeMap<String, Body>, BodyError> {
    let m = parse(bytes, &ParseOptions::new(address_length, Detail::Full))?;
    let r = Resolver { m: &m };
    let mut out = BTreeMap::new();
    for def in &m.function_defs {
        let h = m
            .function_handles
            .get(usize::from(def.handle))
            .ok_or_else(|| Resolver::oob("function handles", def.handle))?;
        let name = r.ident(h.name)?;
        let body = match &def.code {
            None => Body { locals: Vec::new(), code: Vec::new() },
            Some(unit) => {
                let locals = m
                    .signatures
                    .get(usize::from(unit.locals))
                    .ok_or_else(|| Resolver::oob("signatures", unit.locals))?;
                let jump_tables = unit
                    .jump_tables
                    .iter()
                    .map(|j| {
                        let offsets = j.offsets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                        Ok(format!("{} [{offsets}]", r.enum_def(j.head_enum)?))
                    })
                    .collect::<R<Vec<String>>>()?;
                let mut code = Vec::with_capacity(unit.code.len());
                for ins in &unit.code {
                    let info = opcodes::lookup(ins.opcode, m.version);
                    let (op_name, kind) = info.map_or(("?", OperandKind::None), |i| (i.name, i.operand));
                    code.push(format!("{op_name} {}", r.operand(kind, &ins.operand, &jump_tables)?));
                }
                Body { locals: r.tys(locals)?.iter().map(ToString::to_string).collect(), code }
            }
        };
        out.insert(name, body);
    }
    Ok(out)
}
