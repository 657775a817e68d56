//! Tables to bytes. The inverse of `deserializer`: `parse(serialize(m)) == m` for any module the
//! parser accepted. Tables are written in the order the reference writers use.

use crate::ability::{AbilitySet, KindPosition, LegacyKind};
use crate::bcs::write_uleb;
use crate::error::{Error, ErrorKind, Result};
use crate::format::{field_info, function_flags, token, visibility, Table};
use crate::opcodes::{self, OperandKind};
use crate::raw::*;
use crate::version::{Version, MAGIC, VERSION_1, VERSION_3, VERSION_5, VERSION_8};

fn unrepresentable(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Unrepresentable, message)
}

struct Out {
    version: Version,
    buf: Vec<u8>,
}

impl Out {
    fn uleb(&mut self, v: u64) {
        write_uleb(&mut self.buf, v);
    }

    fn index(&mut self, i: u16) {
        self.uleb(u64::from(i));
    }

    fn blob(&mut self, b: &[u8]) {
        self.uleb(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    fn count(&mut self, n: usize, max: usize, what: &str) -> Result<()> {
        if n > max {
            return Err(unrepresentable(format!("{what}: {n} is more than the format allows ({max})")));
        }
        self.uleb(n as u64);
        Ok(())
    }

    fn abilities(&mut self, set: AbilitySet, position: Option<KindPosition>) -> Result<()> {
        match position {
            Some(pos) if self.version.number == VERSION_1 => {
                let kind = LegacyKind::from_abilities(set, pos)
                    .ok_or_else(|| unrepresentable(format!("constraints `{set}` have no version 1 kind")))?;
                self.buf.push(kind as u8);
            }
            _ => self.uleb(u64::from(set.bits())),
        }
        Ok(())
    }

    fn token(&mut self, t: &Token) -> Result<()> {
        let simple = |tag: u8| tag;
        match t {
            Token::Bool => self.buf.push(simple(token::BOOL)),
            Token::U8 => self.buf.push(token::U8),
            Token::U16 => self.buf.push(token::U16),
            Token::U32 => self.buf.push(token::U32),
            Token::U64 => self.buf.push(token::U64),
            Token::U128 => self.buf.push(token::U128),
            Token::U256 => self.buf.push(token::U256),
            Token::I8 => self.buf.push(token::I8),
            Token::I16 => self.buf.push(token::I16),
            Token::I32 => self.buf.push(token::I32),
            Token::I64 => self.buf.push(token::I64),
            Token::I128 => self.buf.push(token::I128),
            Token::I256 => self.buf.push(token::I256),
            Token::Address => self.buf.push(token::ADDRESS),
            Token::Signer => self.buf.push(token::SIGNER),
            Token::Vector(t) => {
                self.buf.push(token::VECTOR);
                self.token(t)?;
            }
            Token::Reference(t) => {
                self.buf.push(token::REFERENCE);
                self.token(t)?;
            }
            Token::MutableReference(t) => {
                self.buf.push(token::MUTABLE_REFERENCE);
                self.token(t)?;
            }
            Token::Datatype(i) => {
                self.buf.push(token::STRUCT);
                self.index(*i);
            }
            Token::DatatypeInstantiation(i, args) => {
                self.buf.push(token::STRUCT_INST);
                self.index(*i);
                self.count(args.len(), 255, "type arguments")?;
                for a in args {
                    self.token(a)?;
                }
            }
            Token::TypeParameter(i) => {
                self.buf.push(token::TYPE_PARAMETER);
                self.index(*i);
            }
            Token::Function { params, returns, abilities } => {
                self.buf.push(token::FUNCTION);
                self.abilities(*abilities, None)?;
                self.count(params.len(), 255, "function type parameters")?;
                self.count(returns.len(), 255, "function type results")?;
                for t in params.iter().chain(returns) {
                    self.token(t)?;
                }
            }
        }
        Ok(())
    }

    fn fields(&mut self, fields: &[FieldDef]) -> Result<()> {
        self.count(fields.len(), crate::limits::MAX_FIELDS as usize, "fields")?;
        for f in fields {
            self.index(f.name);
            self.token(&f.ty)?;
        }
        Ok(())
    }

    fn variants(&mut self, variants: &[VariantDef]) -> Result<()> {
        self.count(variants.len(), 127, "variants")?;
        for v in variants {
            self.index(v.name);
            self.fields(&v.fields)?;
        }
        Ok(())
    }

    fn instruction(&mut self, ins: &Instruction) -> Result<()> {
        let info = opcodes::lookup(ins.opcode, self.version).ok_or_else(|| {
            unrepresentable(format!("opcode {:#04x} is not defined in version {}", ins.opcode, self.version))
        })?;
        self.buf.push(ins.opcode);
        let mismatch = || unrepresentable(format!("operand of {} does not match its kind", info.name));
        match (info.operand, &ins.operand) {
            (OperandKind::None, Operand::None) => {}
            (
                OperandKind::Local | OperandKind::Offset | OperandKind::Index(..) | OperandKind::JumpTable,
                Operand::Small(v),
            ) => self.uleb(u64::from(*v)),
            (OperandKind::U8, Operand::Small(v)) => self.buf.push(u8::try_from(*v).map_err(|_| mismatch())?),
            (OperandKind::U16, Operand::Small(v)) => self.buf.extend_from_slice(&v.to_le_bytes()),
            (OperandKind::U32, Operand::U32(v)) => self.buf.extend_from_slice(&v.to_le_bytes()),
            (OperandKind::U64, Operand::U64(v)) => self.buf.extend_from_slice(&v.to_le_bytes()),
            (OperandKind::U128, Operand::U128(v)) => self.buf.extend_from_slice(&v.to_le_bytes()),
            (OperandKind::U256, Operand::U256(v)) => self.buf.extend_from_slice(&v[..]),
            (OperandKind::SignatureAndCount, Operand::IndexAnd(i, n)) => {
                self.index(*i);
                self.buf.extend_from_slice(&n.to_le_bytes());
            }
            (OperandKind::IndexAndMask(_), Operand::IndexAnd(i, mask)) => {
                self.index(*i);
                self.uleb(*mask);
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

/// Writes a module's tables as a `.mv` file.
pub fn serialize(m: &RawModule<'_>) -> Result<Vec<u8>> {
    let v = m.version;
    if !v.is_supported() {
        return Err(unrepresentable(format!("version {v} cannot be written")));
    }
    let mut tables: Vec<(Table, Vec<u8>)> = Vec::new();
    let mut emit = |table: Table, n: usize, f: &mut dyn FnMut(&mut Out, usize) -> Result<()>| -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        if n > crate::limits::MAX_TABLE_ENTRIES {
            return Err(unrepresentable(format!("table {} has {n} entries", table.name())));
        }
        let mut out = Out { version: v, buf: Vec::new() };
        for i in 0..n {
            f(&mut out, i)?;
        }
        tables.push((table, out.buf));
        Ok(())
    };
    emit(Table::ModuleHandles, m.module_handles.len(), &mut |o, i| {
        let Some(h) = m.module_handles.get(i) else {
            return Ok(());
        };
        o.index(h.address);
        o.index(h.name);
        Ok(())
    })?;
    emit(Table::DatatypeHandles, m.datatype_handles.len(), &mut |o, i| {
        let Some(h) = m.datatype_handles.get(i) else {
            return Ok(());
        };
        o.index(h.module);
        o.index(h.name);
        if v.number == VERSION_1 {
            let kind = if h.abilities == crate::ability::legacy_struct_abilities(true) {
                0x1
            } else if h.abilities == crate::ability::legacy_struct_abilities(false) {
                0x2
            } else {
                return Err(unrepresentable(format!("struct abilities `{}` have no version 1 kind", h.abilities)));
            };
            o.buf.push(kind);
        } else {
            o.abilities(h.abilities, None)?;
        }
        o.count(h.type_params.len(), 255, "type parameters")?;
        for p in &h.type_params {
            o.abilities(p.constraints, Some(KindPosition::StructTypeParameter))?;
            if v.number >= VERSION_3 {
                o.uleb(u64::from(p.phantom));
            } else if p.phantom {
                return Err(unrepresentable("phantom type parameters need version 3"));
            }
        }
        Ok(())
    })?;
    emit(Table::FunctionHandles, m.function_handles.len(), &mut |o, i| {
        let Some(h) = m.function_handles.get(i) else {
            return Ok(());
        };
        o.index(h.module);
        o.index(h.name);
        o.index(h.params);
        o.index(h.returns);
        o.count(h.type_params.len(), 255, "type parameters")?;
        for c in &h.type_params {
            o.abilities(*c, Some(KindPosition::FunctionTypeParameter))?;
        }
        if v.has_aptos_variants() {
            match &h.access_specifiers {
                None => o.buf.push(0x1),
                Some(bytes) => o.buf.extend_from_slice(bytes),
            }
            if v.number >= VERSION_8 {
                o.count(h.attributes.len(), 16, "function attributes")?;
                o.buf.extend_from_slice(&h.attributes);
            }
        }
        Ok(())
    })?;
    emit(Table::FunctionInstantiations, m.function_instantiations.len(), &mut |o, i| {
        inst(o, m.function_instantiations.get(i));
        Ok(())
    })?;
    emit(Table::Signatures, m.signatures.len(), &mut |o, i| {
        let Some(sig) = m.signatures.get(i) else {
            return Ok(());
        };
        o.count(sig.len(), 255, "signature length")?;
        for t in sig {
            o.token(t)?;
        }
        Ok(())
    })?;
    emit(Table::Identifiers, m.identifiers.len(), &mut |o, i| {
        let Some(s) = m.identifiers.get(i) else {
            return Ok(());
        };
        o.blob(s.as_bytes());
        Ok(())
    })?;
    emit(Table::Addresses, m.addresses.len(), &mut |o, i| {
        let Some(a) = m.addresses.get(i) else {
            return Ok(());
        };
        let bytes = a
            .to_be_bytes(m.address_length)
            .ok_or_else(|| unrepresentable(format!("address {a} does not fit in {} bytes", m.address_length)))?;
        o.buf.extend_from_slice(bytes);
        Ok(())
    })?;
    emit(Table::Constants, m.constants.len(), &mut |o, i| {
        let Some(k) = m.constants.get(i) else {
            return Ok(());
        };
        o.token(&k.ty)?;
        o.count(k.data.len(), 65_535, "constant length")?;
        o.buf.extend_from_slice(&k.data);
        Ok(())
    })?;
    if !m.metadata.is_empty() && v.number < VERSION_5 {
        return Err(unrepresentable("metadata needs version 5"));
    }
    emit(Table::Metadata, m.metadata.len(), &mut |o, i| {
        let Some(md) = m.metadata.get(i) else {
            return Ok(());
        };
        o.count(md.key.len(), 1023, "metadata key length")?;
        o.buf.extend_from_slice(&md.key);
        o.blob(&md.value);
        Ok(())
    })?;
    emit(Table::StructDefs, m.struct_defs.len(), &mut |o, i| {
        let Some(d) = m.struct_defs.get(i) else {
            return Ok(());
        };
        o.index(d.handle);
        match &d.body {
            StructBody::Native => o.buf.push(field_info::NATIVE),
            StructBody::Fields(f) => {
                o.buf.push(field_info::DECLARED);
                o.fields(f)?;
            }
            StructBody::Variants(vs) => {
                if !v.has_aptos_variants() {
                    return Err(unrepresentable(format!("struct variants need Aptos version 7, not {v}")));
                }
                o.buf.push(field_info::DECLARED_VARIANTS);
                o.variants(vs)?;
            }
        }
        Ok(())
    })?;
    emit(Table::StructDefInstantiations, m.struct_def_instantiations.len(), &mut |o, i| {
        inst(o, m.struct_def_instantiations.get(i));
        Ok(())
    })?;
    emit(Table::FunctionDefs, m.function_defs.len(), &mut |o, i| {
        let Some(d) = m.function_defs.get(i) else {
            return Ok(());
        };
        function_def(o, d)
    })?;
    emit(Table::FieldHandles, m.field_handles.len(), &mut |o, i| {
        let Some(h) = m.field_handles.get(i) else {
            return Ok(());
        };
        o.index(h.owner);
        o.index(h.field);
        Ok(())
    })?;
    emit(Table::FieldInstantiations, m.field_instantiations.len(), &mut |o, i| {
        inst(o, m.field_instantiations.get(i));
        Ok(())
    })?;
    if !m.friend_decls.is_empty() && v.number < crate::version::VERSION_2 {
        return Err(unrepresentable("friends need version 2"));
    }
    emit(Table::FriendDecls, m.friend_decls.len(), &mut |o, i| {
        let Some(h) = m.friend_decls.get(i) else {
            return Ok(());
        };
        o.index(h.address);
        o.index(h.name);
        Ok(())
    })?;
    let has_v7_tables = !(m.enum_defs.is_empty()
        && m.enum_def_instantiations.is_empty()
        && m.variant_handles.is_empty()
        && m.variant_instantiation_handles.is_empty());
    if has_v7_tables && !v.has_sui_enums() {
        return Err(unrepresentable(format!("enum tables need Sui version 7, not {v}")));
    }
    emit(Table::EnumDefs, m.enum_defs.len(), &mut |o, i| {
        let Some(d) = m.enum_defs.get(i) else {
            return Ok(());
        };
        o.index(d.handle);
        o.buf.push(field_info::DECLARED);
        o.variants(&d.variants)
    })?;
    emit(Table::EnumDefInstantiations, m.enum_def_instantiations.len(), &mut |o, i| {
        inst(o, m.enum_def_instantiations.get(i));
        Ok(())
    })?;
    emit(Table::VariantHandles, m.variant_handles.len(), &mut |o, i| {
        variant_handle(o, m.variant_handles.get(i));
        Ok(())
    })?;
    emit(Table::VariantInstantiationHandles, m.variant_instantiation_handles.len(), &mut |o, i| {
        variant_handle(o, m.variant_instantiation_handles.get(i));
        Ok(())
    })?;
    let has_aptos_tables = !(m.variant_field_handles.is_empty()
        && m.variant_field_instantiations.is_empty()
        && m.struct_variant_handles.is_empty()
        && m.struct_variant_instantiations.is_empty());
    if has_aptos_tables && !v.has_aptos_variants() {
        return Err(unrepresentable(format!("variant tables need Aptos version 7, not {v}")));
    }
    emit(Table::VariantFieldHandles, m.variant_field_handles.len(), &mut |o, i| {
        let Some(h) = m.variant_field_handles.get(i) else {
            return Ok(());
        };
        o.index(h.owner);
        o.index(h.field);
        o.count(h.variants.len(), 127, "variants")?;
        for v in &h.variants {
            o.index(*v);
        }
        Ok(())
    })?;
    emit(Table::VariantFieldInstantiations, m.variant_field_instantiations.len(), &mut |o, i| {
        inst(o, m.variant_field_instantiations.get(i));
        Ok(())
    })?;
    emit(Table::StructVariantHandles, m.struct_variant_handles.len(), &mut |o, i| {
        variant_handle(o, m.struct_variant_handles.get(i));
        Ok(())
    })?;
    emit(Table::StructVariantInstantiations, m.struct_variant_instantiations.len(), &mut |o, i| {
        inst(o, m.struct_variant_instantiations.get(i));
        Ok(())
    })?;

    let mut out = Vec::with_capacity(64 + tables.iter().map(|t| t.1.len() + 12).sum::<usize>());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&v.to_word().to_le_bytes());
    write_uleb(&mut out, tables.len() as u64);
    let mut offset = 0u64;
    for (table, bytes) in &tables {
        out.push(table.kind());
        write_uleb(&mut out, offset);
        write_uleb(&mut out, bytes.len() as u64);
        offset += bytes.len() as u64;
    }
    if offset > u64::from(u32::MAX) {
        return Err(unrepresentable("module is larger than 4 GiB"));
    }
    for (_, bytes) in &tables {
        out.extend_from_slice(bytes);
    }
    write_uleb(&mut out, u64::from(m.self_handle));
    Ok(out)
}

fn inst(o: &mut Out, i: Option<&Instantiation>) {
    if let Some(i) = i {
        o.index(i.handle);
        o.index(i.type_args);
    }
}

fn variant_handle(o: &mut Out, h: Option<&VariantHandle>) {
    if let Some(h) = h {
        o.index(h.owner);
        o.index(h.variant);
    }
}

fn function_def(o: &mut Out, d: &FunctionDef) -> Result<()> {
    let v = o.version.number;
    o.index(d.handle);
    let native = if d.native { function_flags::NATIVE } else { 0 };
    if v == VERSION_1 {
        if d.entry || d.visibility == RawVisibility::Friend {
            return Err(unrepresentable("entry and friend functions need version 2"));
        }
        let public = if d.visibility == RawVisibility::Public { function_flags::V1_PUBLIC } else { 0 };
        o.buf.push(public | native);
    } else if v < VERSION_5 {
        let vis = match (d.visibility, d.entry) {
            (RawVisibility::Public, true) => visibility::DEPRECATED_SCRIPT,
            (_, true) => return Err(unrepresentable("before version 5 only public functions can be entry")),
            (RawVisibility::Private, false) => visibility::PRIVATE,
            (RawVisibility::Public, false) => visibility::PUBLIC,
            (RawVisibility::Friend, false) => visibility::FRIEND,
        };
        o.buf.push(vis);
        o.buf.push(native);
    } else {
        o.buf.push(match d.visibility {
            RawVisibility::Private => visibility::PRIVATE,
            RawVisibility::Public => visibility::PUBLIC,
            RawVisibility::Friend => visibility::FRIEND,
        });
        o.buf.push(native | if d.entry { function_flags::ENTRY } else { 0 });
    }
    o.count(d.acquires.len(), 255, "acquires")?;
    for a in &d.acquires {
        o.index(*a);
    }
    match (&d.code, d.native) {
        (None, true) => Ok(()),
        (Some(code), false) => {
            if code.code.len() != usize::from(code.instruction_count) {
                return Err(unrepresentable("a function body read without its instructions cannot be written"));
            }
            o.index(code.locals);
            o.count(code.code.len(), 65_535, "instructions")?;
            for ins in &code.code {
                o.instruction(ins)?;
            }
            if o.version.has_sui_enums() {
                o.count(code.jump_tables.len(), 127, "jump tables")?;
                for jt in &code.jump_tables {
                    o.index(jt.head_enum);
                    o.count(jt.offsets.len(), 127, "jump table length")?;
                    o.buf.push(0x1);
                    for off in &jt.offsets {
                        o.index(*off);
                    }
                }
            } else if !code.jump_tables.is_empty() {
                return Err(unrepresentable("jump tables need Sui version 7"));
            }
            Ok(())
        }
        _ => Err(unrepresentable("a native function has no code and every other function has")),
    }
}
