//! Bytes to tables: the file header, the table directory, and each table's entries.
//!
//! Tables are decoded in dependency order, not file order (the directory gives every table's
//! byte range), so each index is checked against its table the moment it is read and the error
//! points at the index's own byte offset. A parse that does not need some tables never decodes
//! them: `Detail::Layouts` leaves function definitions — the bulk of every module — untouched.

use crate::ability::{legacy_struct_abilities, AbilitySet, KindPosition, LegacyKind};
use crate::address::{Address, AddressLength};
use crate::bcs::Reader;
use crate::error::{Error, ErrorKind, Result};
use crate::format::{field_info, function_flags, token, visibility, Table};
use crate::limits;
use crate::opcodes::{self, OperandKind};
use crate::raw::*;
use crate::version::{Version, MAGIC, VERSION_1, VERSION_2, VERSION_3, VERSION_5, VERSION_6, VERSION_8, VERSION_9};
use std::borrow::Cow;

/// How much of a module to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Detail {
    /// Structs, enums and constants only: function handles, signatures and function bodies are
    /// skipped (their table ranges are still checked).
    Layouts,
    /// Every table; function bodies are walked and checked but their instructions not kept.
    Signatures,
    /// Every table, instructions included.
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    pub address_length: AddressLength,
    pub detail: Detail,
}

impl ParseOptions {
    pub fn new(address_length: AddressLength, detail: Detail) -> Self {
        ParseOptions { address_length, detail }
    }
}

/// The byte range of each table, and where the self handle index sits.
#[derive(Debug, Clone)]
pub struct Directory {
    pub version: Version,
    ranges: [Option<(usize, usize)>; Table::COUNT],
    /// File offset of the byte after the last table.
    pub contents_end: usize,
}

impl Directory {
    pub fn range(&self, table: Table) -> Option<(usize, usize)> {
        self.ranges.get(table.slot()).copied().flatten()
    }

    /// Byte length of a table (0 when absent).
    pub fn table_len(&self, table: Table) -> usize {
        self.range(table).map_or(0, |(_, len)| len)
    }
}

/// Reads the header and the table directory, checking that the tables tile the contents area.
pub fn read_directory(bytes: &[u8]) -> Result<Directory> {
    if bytes.len() > limits::MAX_MODULE_SIZE {
        return Err(Error::at(
            ErrorKind::LimitExceeded,
            0,
            format!("module is {} bytes, more than the limit {}", bytes.len(), limits::MAX_MODULE_SIZE),
        ));
    }
    let mut c = Reader::new(bytes);
    let magic: [u8; 4] = c.array("magic")?;
    if magic != MAGIC {
        return Err(Error::at(ErrorKind::BadMagic, 0, format!("expected magic a11ceb0b, found {}", hex(&magic))));
    }
    let word = c.u32("version")?;
    let version = Version::from_word(word);
    if !version.is_supported() {
        return Err(Error::at(
            ErrorKind::UnknownVersion,
            4,
            format!("unknown bytecode version word {word:#010x} (version {version})"),
        ));
    }
    let mut ranges = [None; Table::COUNT];
    let mut headers =
        c.list(limits::MAX_TABLE_COUNT, 3, "table count", |c| -> Result<(Table, usize, usize, usize)> {
            let at = c.offset();
            let kind = c.u8("table kind")?;
            let table = Table::from_kind(kind, version).ok_or_else(|| {
                Error::at(ErrorKind::BadTable, at, format!("unknown table kind {kind:#04x} for version {version}"))
            })?;
            let offset = c.uleb(limits::MAX_TABLE_OFFSET, "table offset")? as usize;
            let len = c.uleb(limits::MAX_TABLE_OFFSET, "table length")? as usize;
            if len == 0 {
                return Err(Error::at(ErrorKind::BadTable, at, format!("table {} is empty", table.name())));
            }
            if ranges.get(table.slot()).copied().flatten().is_some() {
                return Err(Error::at(ErrorKind::BadTable, at, format!("table {} appears twice", table.name())));
            }
            if let Some(slot) = ranges.get_mut(table.slot()) {
                *slot = Some((offset, len));
            }
            Ok((table, offset, len, at))
        })?;
    let contents_start = c.offset();
    headers.sort_by_key(|h| h.1);
    let mut expected = 0usize;
    for &(table, offset, len, at) in &headers {
        if offset != expected {
            let what = if offset < expected { "overlaps the previous table" } else { "leaves a gap" };
            return Err(Error::at(
                ErrorKind::BadTable,
                at,
                format!("table {} at offset {offset} {what} (expected offset {expected})", table.name()),
            ));
        }
        expected = offset
            .checked_add(len)
            .filter(|&end| end as u64 <= limits::MAX_TABLE_OFFSET)
            .ok_or_else(|| Error::at(ErrorKind::BadTable, at, format!("table {} ends past 4 GiB", table.name())))?;
        if contents_start + expected > bytes.len() {
            return Err(Error::at(
                ErrorKind::UnexpectedEof,
                at,
                format!(
                    "table {} ends at offset {:#x}, past the end of the file ({:#x})",
                    table.name(),
                    contents_start + expected,
                    bytes.len()
                ),
            ));
        }
    }
    for (slot, range) in ranges.iter_mut().enumerate() {
        if let Some((offset, len)) = range {
            *range = Some((contents_start + *offset, *len));
        }
        let _ = slot;
    }
    Ok(Directory { version, ranges, contents_end: contents_start + expected })
}

/// Parses a module's tables.
pub fn parse<'a>(bytes: &'a [u8], options: &ParseOptions) -> Result<RawModule<'a>> {
    let dir = read_directory(bytes)?;
    let mut p = Parser {
        bytes,
        dir: &dir,
        options: *options,
        m: RawModule::default(),
        deferred: Vec::new(),
        sig_max_param: Vec::new(),
    };
    p.m.version = dir.version;
    p.m.address_length = options.address_length;
    p.run()?;
    let mut c = Reader::with_base(bytes.get(dir.contents_end..).unwrap_or_default(), dir.contents_end);
    let at = c.offset();
    let self_handle = index(&mut c, "self module handle index")?;
    if usize::from(self_handle) >= p.m.module_handles.len() {
        return Err(Error::at(
            ErrorKind::IndexOutOfBounds,
            at,
            format!(
                "self module handle index {self_handle} is out of bounds ({} module handles)",
                p.m.module_handles.len()
            ),
        ));
    }
    if !c.is_empty() {
        return Err(Error::at(
            ErrorKind::TrailingBytes,
            c.offset(),
            format!("{} bytes after the end of the module", c.remaining()),
        ));
    }
    p.m.self_handle = self_handle;
    for (at, table, index) in std::mem::take(&mut p.deferred) {
        p.check(at, table, index)?;
    }
    Ok(p.m)
}

struct Parser<'a, 'd> {
    bytes: &'a [u8],
    dir: &'d Directory,
    options: ParseOptions,
    m: RawModule<'a>,
    /// Index checks that refer to a table decoded later: (offset, table, index).
    deferred: Vec<(usize, Table, u16)>,
    /// The highest type parameter index of each signature, found once when it is read: checking
    /// it again at every use would make the parse quadratic.
    sig_max_param: Vec<Option<u16>>,
}

/// The highest type parameter index a token uses.
fn max_type_param(t: &Token) -> Option<u16> {
    match t {
        Token::TypeParameter(i) => Some(*i),
        Token::Vector(t) | Token::Reference(t) | Token::MutableReference(t) => max_type_param(t),
        Token::DatatypeInstantiation(_, args) => args.iter().filter_map(max_type_param).max(),
        Token::Function { params, returns, .. } => params.iter().chain(returns).filter_map(max_type_param).max(),
        _ => None,
    }
}

/// A ULEB128 table index: a u16.
fn index(c: &mut Reader<'_>, what: &'static str) -> Result<u16> {
    // The max keeps the cast exact.
    Ok(c.uleb(limits::MAX_TABLE_INDEX, what)? as u16)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<'a> Parser<'a, '_> {
    fn version(&self) -> Version {
        self.m.version
    }

    fn run(&mut self) -> Result<()> {
        let full = self.options.detail >= Detail::Signatures;
        self.table(Table::Identifiers, Self::identifier)?;
        self.addresses()?;
        self.table(Table::ModuleHandles, |p, c| {
            let h = p.module_handle(c)?;
            p.m.module_handles.push(h);
            Ok(())
        })?;
        self.table(Table::FriendDecls, |p, c| {
            let h = p.module_handle(c)?;
            p.m.friend_decls.push(h);
            Ok(())
        })?;
        self.table(Table::DatatypeHandles, Self::datatype_handle)?;
        self.table(Table::Metadata, Self::metadata)?;
        // Constants are cheap and tell the address length (see `detect`).
        self.table(Table::Constants, Self::constant)?;
        if full {
            self.table(Table::Signatures, Self::signature)?;
            self.table(Table::FunctionHandles, Self::function_handle)?;
            self.table(Table::FunctionInstantiations, |p, c| {
                let i = p.instantiation(c, Table::FunctionHandles)?;
                p.m.function_instantiations.push(i);
                Ok(())
            })?;
        }
        self.table(Table::StructDefs, Self::struct_def)?;
        self.table(Table::EnumDefs, Self::enum_def)?;
        if full {
            self.table(Table::StructDefInstantiations, |p, c| {
                let i = p.instantiation(c, Table::StructDefs)?;
                p.m.struct_def_instantiations.push(i);
                Ok(())
            })?;
            self.table(Table::FieldHandles, Self::field_handle)?;
            self.table(Table::FieldInstantiations, |p, c| {
                let i = p.instantiation(c, Table::FieldHandles)?;
                p.m.field_instantiations.push(i);
                Ok(())
            })?;
            self.table(Table::EnumDefInstantiations, |p, c| {
                let i = p.instantiation(c, Table::EnumDefs)?;
                p.m.enum_def_instantiations.push(i);
                Ok(())
            })?;
            self.table(Table::VariantHandles, |p, c| {
                let h = p.sui_variant_handle(c, false)?;
                p.m.variant_handles.push(h);
                Ok(())
            })?;
            self.table(Table::VariantInstantiationHandles, |p, c| {
                let h = p.sui_variant_handle(c, true)?;
                p.m.variant_instantiation_handles.push(h);
                Ok(())
            })?;
            self.table(Table::VariantFieldHandles, Self::variant_field_handle)?;
            self.table(Table::VariantFieldInstantiations, |p, c| {
                let i = p.instantiation(c, Table::VariantFieldHandles)?;
                p.m.variant_field_instantiations.push(i);
                Ok(())
            })?;
            self.table(Table::StructVariantHandles, Self::struct_variant_handle)?;
            self.table(Table::StructVariantInstantiations, |p, c| {
                let i = p.instantiation(c, Table::StructVariantHandles)?;
                p.m.struct_variant_instantiations.push(i);
                Ok(())
            })?;
            self.table(Table::FunctionDefs, Self::function_def)?;
        }
        Ok(())
    }

    /// Runs `entry` until the table's bytes are used up, with the table's name as context.
    fn table(&mut self, table: Table, mut entry: impl FnMut(&mut Self, &mut Reader<'a>) -> Result<()>) -> Result<()> {
        let Some((start, len)) = self.dir.range(table) else {
            return Ok(());
        };
        let slice = self.bytes.get(start..start + len).unwrap_or_default();
        let mut c = Reader::with_base(slice, start);
        let mut n = 0usize;
        while !c.is_empty() {
            if n >= limits::MAX_TABLE_ENTRIES {
                return Err(Error::at(
                    ErrorKind::LimitExceeded,
                    c.offset(),
                    format!("table {} has more than {} entries", table.name(), limits::MAX_TABLE_ENTRIES),
                ));
            }
            entry(self, &mut c).map_err(|e| e.context(format_args!("{} entry {n}", table.name())))?;
            n += 1;
        }
        Ok(())
    }

    fn len(&self, table: Table) -> usize {
        self.m.table_len(table)
    }

    fn check(&self, at: usize, table: Table, index: u16) -> Result<()> {
        let len = self.len(table);
        if usize::from(index) < len {
            Ok(())
        } else {
            Err(Error::at(
                ErrorKind::IndexOutOfBounds,
                at,
                format!("index {index} into {} is out of bounds ({len} entries)", table.name()),
            ))
        }
    }

    /// Reads an index into `table` and checks it.
    fn idx(&self, c: &mut Reader<'a>, table: Table) -> Result<u16> {
        let at = c.offset();
        let index = index(c, table.name())?;
        self.check(at, table, index)?;
        Ok(index)
    }

    fn identifier(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let at = c.offset();
        let bytes = c.prefixed(limits::MAX_IDENTIFIER_LEN, "identifier length")?;
        let s = std::str::from_utf8(bytes)
            .map_err(|e| Error::at(ErrorKind::BadIdentifier, at, format!("identifier is not UTF-8: {e}")))?;
        if !crate::identifier::is_valid(s) && s != "<SELF>" {
            return Err(Error::at(ErrorKind::BadIdentifier, at, format!("invalid identifier {s:?}")));
        }
        self.m.identifiers.push(Cow::Borrowed(s));
        Ok(())
    }

    fn addresses(&mut self) -> Result<()> {
        let Some((start, len)) = self.dir.range(Table::Addresses) else {
            return Ok(());
        };
        let width = self.options.address_length.bytes();
        if len % width != 0 {
            return Err(Error::at(
                ErrorKind::BadTable,
                start,
                format!("address table of {len} bytes is not a whole number of {width}-byte addresses"),
            ));
        }
        if len / width > limits::MAX_TABLE_ENTRIES {
            return Err(Error::at(ErrorKind::LimitExceeded, start, "too many addresses"));
        }
        let slice = self.bytes.get(start..start + len).unwrap_or_default();
        self.m.addresses = slice.chunks_exact(width).map(|a| Address::from_be_slice(a).unwrap_or_default()).collect();
        Ok(())
    }

    fn module_handle(&self, c: &mut Reader<'a>) -> Result<ModuleHandle> {
        let address = self.idx(c, Table::Addresses)?;
        let name = self.idx(c, Table::Identifiers)?;
        Ok(ModuleHandle { address, name })
    }

    fn abilities(&self, c: &mut Reader<'a>, what: &'static str) -> Result<AbilitySet> {
        let at = c.offset();
        let bits = c.uleb(u64::MAX, what)?;
        u8::try_from(bits)
            .ok()
            .and_then(AbilitySet::from_bits)
            .ok_or_else(|| Error::at(ErrorKind::BadEncoding, at, format!("unknown ability bits {bits:#x} in {what}")))
    }

    fn legacy_kind(&self, c: &mut Reader<'a>, position: KindPosition) -> Result<AbilitySet> {
        let at = c.offset();
        let b = c.u8("type parameter kind")?;
        LegacyKind::from_byte(b)
            .map(|k| k.to_abilities(position))
            .ok_or_else(|| Error::at(ErrorKind::BadEncoding, at, format!("unknown version 1 kind {b:#04x}")))
    }

    fn datatype_handle(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let module = self.idx(c, Table::ModuleHandles)?;
        let name = self.idx(c, Table::Identifiers)?;
        let v1 = self.version().number == VERSION_1;
        let abilities = if v1 {
            let at = c.offset();
            match c.u8("struct kind")? {
                0x1 => legacy_struct_abilities(true),
                0x2 => legacy_struct_abilities(false),
                b => {
                    return Err(Error::at(
                        ErrorKind::BadEncoding,
                        at,
                        format!("unknown version 1 struct kind {b:#04x}"),
                    ))
                }
            }
        } else {
            self.abilities(c, "struct abilities")?
        };
        let type_params = c.list(limits::MAX_TYPE_PARAMETERS, 1, "type parameter count", |c| -> Result<_> {
            let constraints = if v1 {
                self.legacy_kind(c, KindPosition::StructTypeParameter)?
            } else {
                self.abilities(c, "type parameter constraints")?
            };
            let phantom = self.version().number >= VERSION_3 && c.uleb(1, "phantom flag")? == 1;
            Ok(TypeParameter { constraints, phantom })
        })?;
        self.m.datatype_handles.push(DatatypeHandle { module, name, abilities, type_params });
        Ok(())
    }

    fn metadata(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let key = c.prefixed(limits::MAX_METADATA_KEY_LEN, "metadata key length")?;
        let value = c.prefixed(limits::MAX_BLOB_LEN, "metadata value length")?;
        self.m.metadata.push(Metadata { key: Cow::Borrowed(key), value: Cow::Borrowed(value) });
        Ok(())
    }

    fn signature(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let tokens = c.list(limits::MAX_SIGNATURE_TOKENS, 1, "signature length", |c| self.token(c, 0, None))?;
        self.sig_max_param.push(tokens.iter().filter_map(max_type_param).max());
        self.m.signatures.push(tokens);
        Ok(())
    }

    fn tokens(&self, c: &mut Reader<'a>, n: usize, depth: usize, scope: Option<usize>) -> Result<Vec<Token>> {
        // Not `n`: each of 256 nested levels would reserve 255 tokens before reading any.
        let mut out = Vec::with_capacity(n.min(4));
        for _ in 0..n {
            out.push(self.token(c, depth + 1, scope)?);
        }
        Ok(out)
    }

    /// Checks a datatype is used with as many type arguments as it declares.
    fn check_arity(&self, at: usize, handle: u16, args: usize) -> Result<()> {
        let declared = self.m.datatype_handles.get(usize::from(handle)).map_or(0, |h| h.type_params.len());
        if declared == args {
            return Ok(());
        }
        let name = self
            .m
            .datatype_handles
            .get(usize::from(handle))
            .and_then(|h| self.m.identifiers.get(usize::from(h.name)))
            .map_or("?", |n| n.as_ref());
        Err(Error::at(
            ErrorKind::BadEncoding,
            at,
            format!("struct {name} takes {declared} type arguments, but is given {args}"),
        ))
    }

    /// Checks no type parameter index in signature `sig` reaches `scope` (the parameters in scope).
    fn check_scope(&self, at: usize, sig: u16, scope: usize, what: &str) -> Result<()> {
        match self.sig_max_param.get(usize::from(sig)).copied().flatten() {
            Some(i) if usize::from(i) >= scope => Err(Error::at(
                ErrorKind::IndexOutOfBounds,
                at,
                format!("{what} uses type parameter T{i}, but only {scope} are declared"),
            )),
            _ => Ok(()),
        }
    }

    /// One signature token. `scope` is the number of type parameters in scope, when the token's
    /// context is known (struct fields, constants); signatures in the pool are checked where
    /// they are used.
    fn token(&self, c: &mut Reader<'a>, depth: usize, scope: Option<usize>) -> Result<Token> {
        if depth >= limits::MAX_TYPE_DEPTH {
            return Err(Error::at(
                ErrorKind::LimitExceeded,
                c.offset(),
                format!("type nests deeper than {}", limits::MAX_TYPE_DEPTH),
            ));
        }
        let at = c.offset();
        let tag = c.u8("type tag")?;
        let v = self.version();
        let needs = |min: u32, aptos_only: bool| -> Result<()> {
            if v.number < min || (aptos_only && v.is_sui()) {
                Err(Error::at(ErrorKind::BadEncoding, at, format!("type tag {tag:#04x} is not defined in version {v}")))
            } else {
                Ok(())
            }
        };
        Ok(match tag {
            token::BOOL => Token::Bool,
            token::U8 => Token::U8,
            token::U64 => Token::U64,
            token::U128 => Token::U128,
            token::ADDRESS => Token::Address,
            token::SIGNER => Token::Signer,
            token::U16 | token::U32 | token::U256 => {
                needs(VERSION_6, false)?;
                match tag {
                    token::U16 => Token::U16,
                    token::U32 => Token::U32,
                    _ => Token::U256,
                }
            }
            token::REFERENCE => Token::Reference(Box::new(self.token(c, depth + 1, scope)?)),
            token::MUTABLE_REFERENCE => Token::MutableReference(Box::new(self.token(c, depth + 1, scope)?)),
            token::VECTOR => Token::Vector(Box::new(self.token(c, depth + 1, scope)?)),
            token::STRUCT => {
                let handle = self.idx(c, Table::DatatypeHandles)?;
                self.check_arity(at, handle, 0)?;
                Token::Datatype(handle)
            }
            token::STRUCT_INST => {
                let handle = self.idx(c, Table::DatatypeHandles)?;
                let at = c.offset();
                let n = c.count(limits::MAX_TYPE_PARAMETERS, 1, "type argument count")?;
                if n == 0 {
                    return Err(Error::at(ErrorKind::BadEncoding, at, "struct instantiation with no type arguments"));
                }
                self.check_arity(at, handle, n)?;
                Token::DatatypeInstantiation(handle, self.tokens(c, n, depth, scope)?)
            }
            token::TYPE_PARAMETER => {
                let i = index(c, "type parameter index")?;
                if let Some(scope) = scope.filter(|&n| usize::from(i) >= n) {
                    return Err(Error::at(
                        ErrorKind::IndexOutOfBounds,
                        at,
                        format!("type parameter T{i} is out of scope ({scope} declared)"),
                    ));
                }
                Token::TypeParameter(i)
            }
            token::FUNCTION => {
                needs(VERSION_8, true)?;
                let abilities = self.abilities(c, "function type abilities")?;
                let np = c.count(limits::MAX_SIGNATURE_TOKENS, 1, "function type parameter count")?;
                let nr = c.count(limits::MAX_SIGNATURE_TOKENS, 0, "function type result count")?;
                let params = self.tokens(c, np, depth, scope)?;
                let returns = self.tokens(c, nr, depth, scope)?;
                Token::Function { params, returns, abilities }
            }
            token::I8..=token::I256 => {
                needs(VERSION_9, true)?;
                match tag {
                    token::I8 => Token::I8,
                    token::I16 => Token::I16,
                    token::I32 => Token::I32,
                    token::I64 => Token::I64,
                    token::I128 => Token::I128,
                    _ => Token::I256,
                }
            }
            _ => return Err(Error::at(ErrorKind::BadEncoding, at, format!("unknown type tag {tag:#04x}"))),
        })
    }

    fn constant(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let ty = self.token(c, 0, Some(0))?;
        let data = c.prefixed(limits::MAX_CONSTANT_LEN, "constant length")?;
        self.m.constants.push(Constant { ty, data: Cow::Borrowed(data) });
        Ok(())
    }

    fn function_handle(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let at = c.offset();
        let module = self.idx(c, Table::ModuleHandles)?;
        let name = self.idx(c, Table::Identifiers)?;
        let params = self.idx(c, Table::Signatures)?;
        let returns = self.idx(c, Table::Signatures)?;
        let type_params = c.list(limits::MAX_TYPE_PARAMETERS, 1, "type parameter count", |c| {
            if self.version().number == VERSION_1 {
                self.legacy_kind(c, KindPosition::FunctionTypeParameter)
            } else {
                self.abilities(c, "type parameter constraints")
            }
        })?;
        for (sig, what) in [(params, "parameter signature"), (returns, "return signature")] {
            self.check_scope(at, sig, type_params.len(), what)?;
        }
        let aptos = self.version().has_aptos_variants();
        let access_specifiers = if aptos { self.access_specifiers(c)? } else { None };
        let mut attributes = Vec::new();
        if aptos && self.version().number >= VERSION_8 {
            attributes = c.list(limits::MAX_FUNCTION_ATTRIBUTES, 1, "function attribute count", |c| {
                let at = c.offset();
                let a = c.u8("function attribute")?;
                if !(1..=2).contains(&a) {
                    return Err(Error::at(ErrorKind::BadEncoding, at, format!("unknown function attribute {a:#04x}")));
                }
                Ok(a)
            })?;
        }
        self.m.function_handles.push(FunctionHandle {
            module,
            name,
            params,
            returns,
            type_params,
            access_specifiers,
            attributes,
        });
        Ok(())
    }

    /// Aptos access specifiers: validated, then kept as the bytes they span.
    fn access_specifiers(&mut self, c: &mut Reader<'a>) -> Result<Option<Cow<'a, [u8]>>> {
        let start = c.position();
        let at = c.offset();
        match c.u8("access specifier option")? {
            0x1 => return Ok(None),
            0x2 => {}
            b => return Err(Error::at(ErrorKind::BadEncoding, at, format!("bad option marker {b:#04x}"))),
        }
        let n = c.count(limits::MAX_ACCESS_SPECIFIERS, 3, "access specifier count")?;
        let enum_byte = |c: &mut Reader<'a>, what: &'static str, max: u8| -> Result<u8> {
            let at = c.offset();
            let b = c.u8(what)?;
            if (1..=max).contains(&b) {
                Ok(b)
            } else {
                Err(Error::at(ErrorKind::BadEncoding, at, format!("bad {what} {b:#04x}")))
            }
        };
        for _ in 0..n {
            enum_byte(c, "access kind", 2)?;
            enum_byte(c, "negation flag", 2)?;
            match enum_byte(c, "resource specifier", 5)? {
                2 => drop(self.idx(c, Table::Addresses)?),
                3 => drop(self.idx(c, Table::ModuleHandles)?),
                4 => drop(self.idx(c, Table::DatatypeHandles)?),
                5 => {
                    self.idx(c, Table::DatatypeHandles)?;
                    self.idx(c, Table::Signatures)?;
                }
                _ => {}
            }
            match enum_byte(c, "address specifier", 3)? {
                2 => drop(self.idx(c, Table::Addresses)?),
                3 => {
                    c.uleb(limits::MAX_LOCAL_INDEX, "parameter index")?;
                    if enum_byte(c, "function option", 2)? == 2 {
                        let at = c.offset();
                        let i = index(c, "function instantiation")?;
                        self.deferred.push((at, Table::FunctionInstantiations, i));
                    }
                }
                _ => {}
            }
        }
        Ok(Some(Cow::Borrowed(c.since(start))))
    }

    fn instantiation(&self, c: &mut Reader<'a>, of: Table) -> Result<Instantiation> {
        let handle = self.idx(c, of)?;
        let type_args = self.idx(c, Table::Signatures)?;
        Ok(Instantiation { handle, type_args })
    }

    fn fields(&self, c: &mut Reader<'a>, scope: usize) -> Result<Vec<FieldDef>> {
        c.list(limits::MAX_FIELDS, 2, "field count", |c| {
            let name = self.idx(c, Table::Identifiers)?;
            let ty = self.token(c, 0, Some(scope))?;
            Ok(FieldDef { name, ty })
        })
    }

    fn variants(&self, c: &mut Reader<'a>, scope: usize) -> Result<Vec<VariantDef>> {
        let at = c.offset();
        let variants = c.list(limits::MAX_VARIANTS, 2, "variant count", |c| -> Result<_> {
            let name = self.idx(c, Table::Identifiers)?;
            let fields = self.fields(c, scope)?;
            Ok(VariantDef { name, fields })
        })?;
        if variants.is_empty() && self.version().is_sui() {
            return Err(Error::at(ErrorKind::BadEncoding, at, "enum with no variants"));
        }
        Ok(variants)
    }

    fn struct_def(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let handle = self.idx(c, Table::DatatypeHandles)?;
        let scope = self.m.datatype_handles.get(usize::from(handle)).map_or(0, |h| h.type_params.len());
        let at = c.offset();
        let body = match c.u8("field information tag")? {
            field_info::NATIVE => StructBody::Native,
            field_info::DECLARED => StructBody::Fields(self.fields(c, scope)?),
            field_info::DECLARED_VARIANTS if self.version().has_aptos_variants() => {
                StructBody::Variants(self.variants(c, scope)?)
            }
            b => return Err(Error::at(ErrorKind::BadEncoding, at, format!("unknown field information tag {b:#04x}"))),
        };
        self.m.struct_defs.push(StructDef { handle, body });
        Ok(())
    }

    fn enum_def(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let handle = self.idx(c, Table::DatatypeHandles)?;
        let at = c.offset();
        let flag = c.u8("enum flag")?;
        if flag != field_info::DECLARED {
            return Err(Error::at(ErrorKind::BadEncoding, at, format!("unknown enum flag {flag:#04x}")));
        }
        let scope = self.m.datatype_handles.get(usize::from(handle)).map_or(0, |h| h.type_params.len());
        let variants = self.variants(c, scope)?;
        self.m.enum_defs.push(EnumDef { handle, variants });
        Ok(())
    }

    fn field_handle(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let owner = self.idx(c, Table::StructDefs)?;
        let at = c.offset();
        let field = c.uleb(limits::MAX_FIELDS, "field offset")? as u16;
        let count = match self.m.struct_defs.get(usize::from(owner)).map(|d| &d.body) {
            Some(StructBody::Fields(f)) => f.len(),
            _ => 0,
        };
        if usize::from(field) >= count {
            return Err(Error::at(
                ErrorKind::IndexOutOfBounds,
                at,
                format!("field {field} of struct definition {owner} is out of bounds ({count} fields)"),
            ));
        }
        self.m.field_handles.push(FieldHandle { owner, field });
        Ok(())
    }

    fn variant_count(&self, table: Table, owner: u16) -> usize {
        let variants = |defs: &[VariantDef]| defs.len();
        match table {
            Table::EnumDefs => self.m.enum_defs.get(usize::from(owner)).map_or(0, |e| variants(&e.variants)),
            Table::EnumDefInstantiations => self
                .m
                .enum_def_instantiations
                .get(usize::from(owner))
                .map_or(0, |i| self.variant_count(Table::EnumDefs, i.handle)),
            _ => match self.m.struct_defs.get(usize::from(owner)).map(|d| &d.body) {
                Some(StructBody::Variants(v)) => v.len(),
                _ => 0,
            },
        }
    }

    fn variant_tag(&self, c: &mut Reader<'a>, table: Table, owner: u16) -> Result<u16> {
        let at = c.offset();
        let tag = c.uleb(limits::MAX_VARIANTS, "variant index")? as u16;
        let count = self.variant_count(table, owner);
        if usize::from(tag) >= count {
            return Err(Error::at(
                ErrorKind::IndexOutOfBounds,
                at,
                format!("variant {tag} of {} entry {owner} is out of bounds ({count} variants)", table.name()),
            ));
        }
        Ok(tag)
    }

    fn sui_variant_handle(&self, c: &mut Reader<'a>, instantiated: bool) -> Result<VariantHandle> {
        let table = if instantiated { Table::EnumDefInstantiations } else { Table::EnumDefs };
        let owner = self.idx(c, table)?;
        let variant = self.variant_tag(c, table, owner)?;
        Ok(VariantHandle { owner, variant })
    }

    fn struct_variant_handle(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let owner = self.idx(c, Table::StructDefs)?;
        let variant = self.variant_tag(c, Table::StructDefs, owner)?;
        self.m.struct_variant_handles.push(VariantHandle { owner, variant });
        Ok(())
    }

    fn variant_field_handle(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let owner = self.idx(c, Table::StructDefs)?;
        let field = c.uleb(limits::MAX_FIELDS, "field offset")? as u16;
        let variants =
            c.list(limits::MAX_VARIANTS, 1, "variant count", |c| self.variant_tag(c, Table::StructDefs, owner))?;
        self.m.variant_field_handles.push(VariantFieldHandle { owner, variants, field });
        Ok(())
    }

    fn function_def(&mut self, c: &mut Reader<'a>) -> Result<()> {
        let handle = self.idx(c, Table::FunctionHandles)?;
        let v = self.version().number;
        let at = c.offset();
        let (visibility, mut entry, native) = if v == VERSION_1 {
            let flags = c.u8("function flags")?;
            if flags & !(function_flags::V1_PUBLIC | function_flags::NATIVE) != 0 {
                return Err(Error::at(ErrorKind::BadEncoding, at, format!("unknown function flags {flags:#04x}")));
            }
            let vis =
                if flags & function_flags::V1_PUBLIC != 0 { RawVisibility::Public } else { RawVisibility::Private };
            (vis, false, flags & function_flags::NATIVE != 0)
        } else {
            let (vis, script) = match c.u8("function visibility")? {
                visibility::PRIVATE => (RawVisibility::Private, false),
                visibility::PUBLIC => (RawVisibility::Public, false),
                visibility::FRIEND => (RawVisibility::Friend, false),
                visibility::DEPRECATED_SCRIPT if v < VERSION_5 => (RawVisibility::Public, true),
                b => {
                    return Err(Error::at(ErrorKind::BadEncoding, at, format!("unknown function visibility {b:#04x}")))
                }
            };
            let at = c.offset();
            let flags = c.u8("function flags")?;
            let allowed =
                if v >= VERSION_5 { function_flags::NATIVE | function_flags::ENTRY } else { function_flags::NATIVE };
            if flags & !allowed != 0 {
                return Err(Error::at(ErrorKind::BadEncoding, at, format!("unknown function flags {flags:#04x}")));
            }
            (vis, script || flags & function_flags::ENTRY != 0, flags & function_flags::NATIVE != 0)
        };
        let acquires = c.list(limits::MAX_ACQUIRES, 1, "acquires count", |c| self.idx(c, Table::StructDefs))?;
        let scope = self.m.function_handles.get(usize::from(handle)).map_or(0, |h| h.type_params.len());
        let code = if native { None } else { Some(self.code_unit(c, scope)?) };
        if v < VERSION_2 {
            entry = false;
        }
        self.m.function_defs.push(FunctionDef { handle, visibility, entry, native, acquires, code });
        Ok(())
    }

    fn code_unit(&mut self, c: &mut Reader<'a>, scope: usize) -> Result<CodeUnit> {
        let at = c.offset();
        let locals = self.idx(c, Table::Signatures)?;
        self.check_scope(at, locals, scope, "locals signature")?;
        let count = c.count(limits::MAX_CODE_LEN, 1, "instruction count")?;
        let keep = self.options.detail == Detail::Full;
        let mut code = Vec::with_capacity(if keep { count } else { 0 });
        let mut branches: Vec<(usize, u16)> = Vec::new();
        let mut switches: Vec<(usize, u16)> = Vec::new();
        let version = self.version();
        for _ in 0..count {
            let at = c.offset();
            let opcode = c.u8("opcode")?;
            let info = opcodes::lookup(opcode, version).ok_or_else(|| {
                Error::at(ErrorKind::BadEncoding, at, format!("unknown opcode {opcode:#04x} for version {version}"))
            })?;
            let operand = match info.operand {
                OperandKind::None => Operand::None,
                OperandKind::Local => Operand::Small(c.uleb(limits::MAX_LOCAL_INDEX, "local index")? as u16),
                OperandKind::Offset => {
                    let at = c.offset();
                    let target = index(c, "branch target")?;
                    branches.push((at, target));
                    Operand::Small(target)
                }
                OperandKind::U8 => Operand::Small(u16::from(c.u8("u8 immediate")?)),
                OperandKind::U16 => Operand::Small(u16::from_le_bytes(c.array("u16 immediate")?)),
                OperandKind::U32 => Operand::U32(u32::from_le_bytes(c.array("u32 immediate")?)),
                OperandKind::U64 => Operand::U64(u64::from_le_bytes(c.array("u64 immediate")?)),
                OperandKind::U128 => Operand::U128(u128::from_le_bytes(c.array("u128 immediate")?)),
                OperandKind::U256 => Operand::U256(Box::new(c.array("u256 immediate")?)),
                OperandKind::Index(table, max) => {
                    let at = c.offset();
                    let i = c.uleb(u64::from(max), table.name())? as u16;
                    self.check(at, table, i)?;
                    Operand::Small(i)
                }
                OperandKind::SignatureAndCount => {
                    let i = self.idx(c, Table::Signatures)?;
                    Operand::IndexAnd(i, u64::from_le_bytes(c.array("element count")?))
                }
                OperandKind::IndexAndMask(table) => {
                    let i = self.idx(c, table)?;
                    Operand::IndexAnd(i, c.uleb(u64::MAX, "closure mask")?)
                }
                OperandKind::JumpTable => {
                    let at = c.offset();
                    let i = c.uleb(limits::MAX_JUMP_TABLES, "jump table index")? as u16;
                    switches.push((at, i));
                    Operand::Small(i)
                }
            };
            if keep {
                code.push(Instruction { opcode, operand });
            }
        }
        let mut jump_tables = Vec::new();
        if version.has_sui_enums() {
            jump_tables = c.list(limits::MAX_JUMP_TABLES, 3, "jump table count", |c| {
                let head_enum = self.idx(c, Table::EnumDefs)?;
                let branches_n = c.count(limits::MAX_VARIANTS, 1, "jump table length")?;
                let at = c.offset();
                let flag = c.u8("jump table flag")?;
                if flag != 0x1 {
                    return Err(Error::at(ErrorKind::BadEncoding, at, format!("unknown jump table flag {flag:#04x}")));
                }
                let mut offsets = Vec::with_capacity(branches_n);
                for _ in 0..branches_n {
                    let at = c.offset();
                    let target = index(c, "jump table target")?;
                    branches.push((at, target));
                    offsets.push(target);
                }
                Ok(JumpTable { head_enum, offsets })
            })?;
        }
        for (at, target) in branches {
            if usize::from(target) >= count {
                return Err(Error::at(
                    ErrorKind::IndexOutOfBounds,
                    at,
                    format!("branch target {target} is past the end of the code ({count} instructions)"),
                ));
            }
        }
        for (at, index) in switches {
            if usize::from(index) >= jump_tables.len() {
                return Err(Error::at(
                    ErrorKind::IndexOutOfBounds,
                    at,
                    format!("jump table {index} is out of bounds ({} jump tables)", jump_tables.len()),
                ));
            }
        }
        Ok(CodeUnit { locals, instruction_count: count as u16, code, jump_tables })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_magic_and_versions_with_offsets() {
        let e =
            parse(b"\x00\x01\x02\x03\x06\0\0\0", &ParseOptions::new(AddressLength::Bytes16, Detail::Full)).unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::BadMagic, Some(0)));
        let e = read_directory(b"\xa1\x1c\xeb\x0b\x0b\0\0\0").unwrap_err();
        assert_eq!((e.kind(), e.offset()), (ErrorKind::UnknownVersion, Some(4)));
        let e = read_directory(b"\xa1\x1c\xeb\x0b\x07\0\0\x06").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownVersion);
        let e = read_directory(b"\xa1\x1c\xeb").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
    }

    #[test]
    fn tables_must_tile_the_contents() {
        // Two tables: identifiers at 0 (len 2), module handles at 3 (gap of one byte).
        let bytes = b"\xa1\x1c\xeb\x0b\x06\0\0\0\x02\x07\x00\x02\x01\x03\x02\x01a\x00\x00\x00\x00";
        let e = read_directory(bytes).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadTable);
        assert!(e.message().contains("gap"), "{e}");
        let dup = b"\xa1\x1c\xeb\x0b\x06\0\0\0\x02\x07\x00\x02\x07\x02\x02\x01a\x01b";
        assert!(read_directory(dup).unwrap_err().message().contains("twice"));
    }
}
