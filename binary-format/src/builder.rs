//! The normalized view to tables: what the writer needs to turn a `Module` back into bytes.
//!
//! The normalized view does not hold everything a file needs. For a struct declared in another
//! module, a handle must carry that struct's abilities and type parameters; a
//! `DatatypeResolver` supplies them (the stdlib builder resolves from the whole release), and
//! without one the builder assumes an unconstrained, non-phantom declaration. Function bodies are
//! written minimal: `LdU64 0; Abort`, which passes the bytecode verifier for any signature.

use crate::ability::{legacy_struct_abilities, AbilitySet};
use crate::address::{Address, AddressLength};
use crate::error::{Error, ErrorKind, Result};
use crate::module::{DatatypeTypeParameter, Field, Module, Visibility};
use crate::opcodes;
use crate::raw::*;
use crate::types::{ModuleId, Type};
use crate::version::{VERSION_1, VERSION_6, VERSION_8, VERSION_9};
use std::borrow::Cow;
use std::collections::HashMap;

/// The declaration of a struct that another module refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatatypeDecl {
    pub abilities: AbilitySet,
    pub type_params: Vec<DatatypeTypeParameter>,
}

/// Supplies declarations of structs defined outside the module being written.
pub trait DatatypeResolver {
    fn resolve(&self, module: &ModuleId, name: &str) -> Option<DatatypeDecl>;
}

/// Resolves nothing: foreign structs get default declarations.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResolver;

impl DatatypeResolver for NoResolver {
    fn resolve(&self, _: &ModuleId, _: &str) -> Option<DatatypeDecl> {
        None
    }
}

fn unrepresentable(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unrepresentable, message)
}

struct Builder<'r> {
    m: RawModule<'static>,
    resolver: &'r dyn DatatypeResolver,
    identifiers: HashMap<String, u16>,
    addresses: HashMap<Address, u16>,
    module_handles: HashMap<ModuleId, u16>,
    datatypes: HashMap<(ModuleId, String), u16>,
    signatures: HashMap<Vec<Token>, u16>,
}

fn index(n: usize, table: &str) -> Result<u16> {
    u16::try_from(n).map_err(|_| unrepresentable(format!("more than 65536 {table}")))
}

impl Builder<'_> {
    fn ident(&mut self, s: &str) -> Result<u16> {
        if let Some(&i) = self.identifiers.get(s) {
            return Ok(i);
        }
        if !crate::identifier::is_valid(s) {
            return Err(unrepresentable(format!("invalid identifier {s:?}")));
        }
        let i = index(self.m.identifiers.len(), "identifiers")?;
        self.m.identifiers.push(Cow::Owned(s.to_owned()));
        self.identifiers.insert(s.to_owned(), i);
        Ok(i)
    }

    fn address(&mut self, a: Address) -> Result<u16> {
        if let Some(&i) = self.addresses.get(&a) {
            return Ok(i);
        }
        if a.to_be_bytes(self.m.address_length).is_none() {
            return Err(unrepresentable(format!("address {a} does not fit in {} bytes", self.m.address_length)));
        }
        let i = index(self.m.addresses.len(), "addresses")?;
        self.m.addresses.push(a);
        self.addresses.insert(a, i);
        Ok(i)
    }

    fn module_handle(&mut self, id: &ModuleId) -> Result<u16> {
        if let Some(&i) = self.module_handles.get(id) {
            return Ok(i);
        }
        let handle = ModuleHandle { address: self.address(id.address)?, name: self.ident(&id.name)? };
        let i = index(self.m.module_handles.len(), "module handles")?;
        self.m.module_handles.push(handle);
        self.module_handles.insert(id.clone(), i);
        Ok(i)
    }

    fn datatype_handle(&mut self, module: &ModuleId, name: &str, decl: DatatypeDecl) -> Result<u16> {
        let key = (module.clone(), name.to_owned());
        if let Some(&i) = self.datatypes.get(&key) {
            return Ok(i);
        }
        let handle = DatatypeHandle {
            module: self.module_handle(module)?,
            name: self.ident(name)?,
            abilities: decl.abilities,
            type_params: decl
                .type_params
                .iter()
                .map(|p| TypeParameter { constraints: p.constraints, phantom: p.phantom })
                .collect(),
        };
        let i = index(self.m.datatype_handles.len(), "struct handles")?;
        self.m.datatype_handles.push(handle);
        self.datatypes.insert(key, i);
        Ok(i)
    }

    fn token(&mut self, t: &Type) -> Result<Token> {
        let v = self.m.version;
        let need = |ok: bool, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(unrepresentable(format!("{what} cannot be written in version {v}")))
            }
        };
        Ok(match t {
            Type::Bool => Token::Bool,
            Type::U8 => Token::U8,
            Type::U64 => Token::U64,
            Type::U128 => Token::U128,
            Type::U16 | Type::U32 | Type::U256 => {
                need(v.number >= VERSION_6, "u16, u32 and u256")?;
                match t {
                    Type::U16 => Token::U16,
                    Type::U32 => Token::U32,
                    _ => Token::U256,
                }
            }
            Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::I128 | Type::I256 => {
                need(v.number >= VERSION_9 && !v.is_sui(), "signed integers")?;
                match t {
                    Type::I8 => Token::I8,
                    Type::I16 => Token::I16,
                    Type::I32 => Token::I32,
                    Type::I64 => Token::I64,
                    Type::I128 => Token::I128,
                    _ => Token::I256,
                }
            }
            Type::Address => Token::Address,
            Type::Signer => Token::Signer,
            Type::Vector(t) => Token::Vector(Box::new(self.token(t)?)),
            Type::Reference(t) => Token::Reference(Box::new(self.token(t)?)),
            Type::MutableReference(t) => Token::MutableReference(Box::new(self.token(t)?)),
            Type::TypeParameter(i) => Token::TypeParameter(*i),
            Type::Datatype(d) => {
                let decl = self.resolver.resolve(&d.module, &d.name).unwrap_or_else(|| DatatypeDecl {
                    abilities: legacy_struct_abilities(false),
                    type_params: vec![
                        DatatypeTypeParameter { constraints: AbilitySet::EMPTY, phantom: false };
                        d.type_args.len()
                    ],
                });
                let handle = self.datatype_handle(&d.module, &d.name, decl)?;
                if d.type_args.is_empty() {
                    Token::Datatype(handle)
                } else {
                    let args = d.type_args.iter().map(|a| self.token(a)).collect::<Result<Vec<_>>>()?;
                    Token::DatatypeInstantiation(handle, args)
                }
            }
            Type::Function(f) => {
                need(v.number >= VERSION_8 && !v.is_sui(), "function types")?;
                Token::Function {
                    params: f.params.iter().map(|a| self.token(a)).collect::<Result<_>>()?,
                    returns: f.returns.iter().map(|a| self.token(a)).collect::<Result<_>>()?,
                    abilities: f.abilities,
                }
            }
        })
    }

    fn signature(&mut self, types: &[Type]) -> Result<u16> {
        let tokens = types.iter().map(|t| self.token(t)).collect::<Result<Vec<_>>>()?;
        if let Some(&i) = self.signatures.get(&tokens) {
            return Ok(i);
        }
        let i = index(self.m.signatures.len(), "signatures")?;
        self.m.signatures.push(tokens.clone());
        self.signatures.insert(tokens, i);
        Ok(i)
    }

    fn fields(&mut self, fields: &[Field]) -> Result<Vec<FieldDef>> {
        fields.iter().map(|f| Ok(FieldDef { name: self.ident(&f.name)?, ty: self.token(&f.ty)? })).collect()
    }

    fn variants(&mut self, variants: &[crate::module::Variant]) -> Result<Vec<VariantDef>> {
        variants
            .iter()
            .map(|v| Ok(VariantDef { name: self.ident(&v.name)?, fields: self.fields(&v.fields)? }))
            .collect()
    }
}

/// Builds the tables of `module`. Modules referenced by field or function types are imported
/// even when `module.dependencies` omits them.
pub fn build(
    module: &Module,
    address_length: AddressLength,
    resolver: &dyn DatatypeResolver,
) -> Result<RawModule<'static>> {
    let v = module.bytecode_version;
    if !v.is_supported() {
        return Err(unrepresentable(format!("version {v} cannot be written")));
    }
    let mut b = Builder {
        m: RawModule { version: v, address_length, ..RawModule::default() },
        resolver,
        identifiers: HashMap::new(),
        addresses: HashMap::new(),
        module_handles: HashMap::new(),
        datatypes: HashMap::new(),
        signatures: HashMap::new(),
    };
    let self_id = module.id();
    b.m.self_handle = b.module_handle(&self_id)?;
    for dep in &module.dependencies {
        if *dep == self_id {
            return Err(unrepresentable(format!("module {self_id} lists itself as a dependency")));
        }
        b.module_handle(dep)?;
    }
    for f in &module.friends {
        let handle = ModuleHandle { address: b.address(f.address)?, name: b.ident(&f.name)? };
        b.m.friend_decls.push(handle);
    }
    for key in &module.metadata_keys {
        let bytes = match key.strip_prefix("0x") {
            Some(hex) => decode_hex(hex).ok_or_else(|| unrepresentable(format!("bad hex metadata key {key}")))?,
            None => key.as_bytes().to_vec(),
        };
        b.m.metadata.push(Metadata { key: Cow::Owned(bytes), value: Cow::Borrowed(&[]) });
    }

    // Local datatype handles first, in the module's (sorted) order, so that every local type
    // resolves to its own declaration.
    let mut handles = Vec::with_capacity(module.structs.len());
    for s in &module.structs {
        if v.number == VERSION_1
            && s.abilities != legacy_struct_abilities(true)
            && s.abilities != legacy_struct_abilities(false)
        {
            return Err(unrepresentable(format!(
                "struct {}: abilities `{}` have no version 1 kind",
                s.name, s.abilities
            )));
        }
        let decl = DatatypeDecl { abilities: s.abilities, type_params: s.type_params.clone() };
        handles.push(b.datatype_handle(&self_id, &s.name, decl)?);
    }
    for (s, handle) in module.structs.iter().zip(handles) {
        match &s.variants {
            Some(variants) if v.has_sui_enums() => {
                let variants = b.variants(variants)?;
                b.m.enum_defs.push(EnumDef { handle, variants });
            }
            Some(variants) if v.has_aptos_variants() => {
                let body = StructBody::Variants(b.variants(variants)?);
                b.m.struct_defs.push(StructDef { handle, body });
            }
            Some(_) => return Err(unrepresentable(format!("enum {} needs version 7", s.name))),
            None if s.native => b.m.struct_defs.push(StructDef { handle, body: StructBody::Native }),
            None => {
                let body = StructBody::Fields(b.fields(&s.fields)?);
                b.m.struct_defs.push(StructDef { handle, body });
            }
        }
    }

    for f in &module.functions {
        let params = b.signature(&f.params)?;
        let returns = b.signature(&f.returns)?;
        let handle = FunctionHandle {
            module: b.m.self_handle,
            name: b.ident(&f.name)?,
            params,
            returns,
            type_params: f.type_params.iter().map(|p| p.constraints).collect(),
            access_specifiers: None,
            attributes: Vec::new(),
        };
        let h = index(b.m.function_handles.len(), "function handles")?;
        b.m.function_handles.push(handle);
        let code = if f.native {
            None
        } else {
            let locals = b.signature(&[])?;
            Some(minimal_body(locals))
        };
        if v.number == VERSION_1 && f.entry {
            return Err(unrepresentable(format!("function {}: entry functions need version 2", f.name)));
        }
        b.m.function_defs.push(FunctionDef {
            handle: h,
            visibility: match f.visibility {
                Visibility::Private => RawVisibility::Private,
                Visibility::Public => RawVisibility::Public,
                Visibility::Friend => RawVisibility::Friend,
            },
            entry: f.entry,
            native: f.native,
            acquires: Vec::new(),
            code,
        });
    }
    Ok(b.m)
}

/// `LdU64 0; Abort`: valid for any parameters and returns.
pub fn minimal_body(locals: u16) -> CodeUnit {
    CodeUnit {
        locals,
        instruction_count: 2,
        code: vec![
            Instruction { opcode: opcodes::LD_U64, operand: Operand::U64(0) },
            Instruction { opcode: opcodes::ABORT, operand: Operand::None },
        ],
        jump_tables: Vec::new(),
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}
