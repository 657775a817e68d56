//! Tables to the normalized view: indices resolved to names and types.
//!
//! Every index was checked when it was read, so lookups here cannot fail on a parsed module; they
//! still return errors rather than panic, because a `RawModule` can also be built by hand.

use crate::error::{Error, ErrorKind, Result};
use crate::module::*;
use crate::raw::{self, RawModule, RawVisibility, StructBody, Token};
use crate::types::{FunctionType, ModuleId, Type};
use std::cell::Cell;

fn missing(what: &str, index: u16) -> Error {
    Error::new(ErrorKind::IndexOutOfBounds, format!("{what} index {index} is out of bounds"))
}

struct Resolver<'r, 'a> {
    m: &'r RawModule<'a>,
    /// Bytes the view may still take. Names and signatures are copied at each use, and a use can
    /// be one byte of the file, so without a bound a small file makes a huge view.
    budget: Cell<usize>,
}

impl Resolver<'_, '_> {
    fn spend(&self, bytes: usize) -> Result<()> {
        let left = self.budget.get().checked_sub(bytes).ok_or_else(|| {
            Error::at(ErrorKind::LimitExceeded, 0, "the module's normalized view is too large for its size")
        })?;
        self.budget.set(left);
        Ok(())
    }

    fn ident(&self, i: u16) -> Result<&str> {
        let s = self.m.identifiers.get(usize::from(i)).map(|s| s.as_ref()).ok_or_else(|| missing("identifier", i))?;
        self.spend(s.len())?;
        Ok(s)
    }

    fn module_id(&self, h: raw::ModuleHandle) -> Result<ModuleId> {
        let address = *self.m.addresses.get(usize::from(h.address)).ok_or_else(|| missing("address", h.address))?;
        Ok(ModuleId::new(address, self.ident(h.name)?))
    }

    fn module_handle(&self, i: u16) -> Result<ModuleId> {
        let h = *self.m.module_handles.get(usize::from(i)).ok_or_else(|| missing("module handle", i))?;
        self.module_id(h)
    }

    fn datatype(&self, i: u16, type_args: Vec<Type>) -> Result<Type> {
        let h = self.m.datatype_handles.get(usize::from(i)).ok_or_else(|| missing("struct handle", i))?;
        Ok(Type::datatype(self.module_handle(h.module)?, self.ident(h.name)?, type_args))
    }

    fn ty(&self, t: &Token) -> Result<Type> {
        self.spend(std::mem::size_of::<Type>())?;
        Ok(match t {
            Token::Bool => Type::Bool,
            Token::U8 => Type::U8,
            Token::U16 => Type::U16,
            Token::U32 => Type::U32,
            Token::U64 => Type::U64,
            Token::U128 => Type::U128,
            Token::U256 => Type::U256,
            Token::I8 => Type::I8,
            Token::I16 => Type::I16,
            Token::I32 => Type::I32,
            Token::I64 => Type::I64,
            Token::I128 => Type::I128,
            Token::I256 => Type::I256,
            Token::Address => Type::Address,
            Token::Signer => Type::Signer,
            Token::Vector(t) => Type::Vector(Box::new(self.ty(t)?)),
            Token::Reference(t) => Type::Reference(Box::new(self.ty(t)?)),
            Token::MutableReference(t) => Type::MutableReference(Box::new(self.ty(t)?)),
            Token::TypeParameter(i) => Type::TypeParameter(*i),
            Token::Datatype(i) => self.datatype(*i, Vec::new())?,
            Token::DatatypeInstantiation(i, args) => self.datatype(*i, self.tys(args)?)?,
            Token::Function { params, returns, abilities } => Type::Function(Box::new(FunctionType {
                params: self.tys(params)?,
                returns: self.tys(returns)?,
                abilities: *abilities,
            })),
        })
    }

    fn tys(&self, ts: &[Token]) -> Result<Vec<Type>> {
        ts.iter().map(|t| self.ty(t)).collect()
    }

    fn signature(&self, i: u16) -> Result<Vec<Type>> {
        self.tys(self.m.signatures.get(usize::from(i)).ok_or_else(|| missing("signature", i))?)
    }

    fn fields(&self, fields: &[raw::FieldDef]) -> Result<Vec<Field>> {
        fields.iter().map(|f| Ok(Field { name: self.ident(f.name)?.to_owned(), ty: self.ty(&f.ty)? })).collect()
    }

    fn variants(&self, variants: &[raw::VariantDef]) -> Result<Vec<Variant>> {
        variants
            .iter()
            .map(|v| Ok(Variant { name: self.ident(v.name)?.to_owned(), fields: self.fields(&v.fields)? }))
            .collect()
    }

    fn datatype_decl(&self, handle: u16) -> Result<Struct> {
        let h = self.m.datatype_handles.get(usize::from(handle)).ok_or_else(|| missing("struct handle", handle))?;
        Ok(Struct {
            name: self.ident(h.name)?.to_owned(),
            abilities: h.abilities,
            type_params: h
                .type_params
                .iter()
                .map(|p| DatatypeTypeParameter { constraints: p.constraints, phantom: p.phantom })
                .collect(),
            fields: Vec::new(),
            variants: None,
            native: false,
        })
    }
}

/// The type a signature token of `m` names, its indices resolved (for callers that read
/// function bodies, whose locals and instantiations are tokens).
pub fn token_type(m: &RawModule<'_>, t: &Token) -> Result<Type> {
    Resolver { m, budget: Cell::new(usize::MAX) }.ty(t)
}

/// Resolves a parsed module into its normalized view. Functions are included when the parse
/// decoded them (`Detail::Signatures` or `Detail::Full`).
pub fn normalize(m: &RawModule<'_>) -> Result<Module> {
    normalize_within(m, usize::MAX)
}

/// `normalize`, with at most about `budget` bytes of names and types (an error at offset 0 past
/// that).
pub fn normalize_within(m: &RawModule<'_>, budget: usize) -> Result<Module> {
    let r = Resolver { m, budget: Cell::new(budget) };
    let self_id = r.module_handle(m.self_handle)?;
    let mut dependencies = Vec::new();
    for (i, h) in m.module_handles.iter().enumerate() {
        if i != usize::from(m.self_handle) {
            dependencies.push(r.module_id(*h)?);
        }
    }
    let friends = m.friend_decls.iter().map(|h| r.module_id(*h)).collect::<Result<Vec<_>>>()?;
    let metadata_keys = m
        .metadata
        .iter()
        .map(|md| match std::str::from_utf8(&md.key) {
            Ok(s) if !s.starts_with("0x") => s.to_owned(),
            _ => format!("0x{}", md.key.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        })
        .collect();

    let mut structs = Vec::with_capacity(m.struct_defs.len() + m.enum_defs.len());
    for def in &m.struct_defs {
        let mut s = r.datatype_decl(def.handle)?;
        match &def.body {
            StructBody::Native => s.native = true,
            StructBody::Fields(fields) => s.fields = r.fields(fields)?,
            StructBody::Variants(variants) => s.variants = Some(r.variants(variants)?),
        }
        structs.push(s);
    }
    for def in &m.enum_defs {
        let mut s = r.datatype_decl(def.handle)?;
        s.variants = Some(r.variants(&def.variants)?);
        structs.push(s);
    }

    let mut functions = Vec::with_capacity(m.function_defs.len());
    for def in &m.function_defs {
        let h =
            m.function_handles.get(usize::from(def.handle)).ok_or_else(|| missing("function handle", def.handle))?;
        functions.push(Function {
            name: r.ident(h.name)?.to_owned(),
            visibility: match def.visibility {
                RawVisibility::Private => Visibility::Private,
                RawVisibility::Public => Visibility::Public,
                RawVisibility::Friend => Visibility::Friend,
            },
            entry: def.entry,
            native: def.native,
            type_params: h.type_params.iter().map(|c| FunctionTypeParameter { constraints: *c }).collect(),
            params: r.signature(h.params)?,
            returns: r.signature(h.returns)?,
        });
    }

    let mut module = Module {
        address: self_id.address,
        name: self_id.name,
        bytecode_version: m.version,
        dependencies,
        friends,
        metadata_keys,
        structs,
        functions,
    };
    module.sort();
    Ok(module)
}
