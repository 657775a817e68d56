//! State keys of any address width: an account and a struct tag, as Move chains store resources.
//!
//! `move-core-types` 0.0.3 (the newest published) cannot name the state of most chains: its
//! `AccountAddress` is 16 bytes (Aptos and Sui use 32, some Move builds 20) and its `TypeTag`
//! lacks `u16`, `u32` and `u256`. So the store, the signer, the status and the hook speak these
//! types, and `core_types` converts to `move-core-types` at the edges where a caller wants it.
//!
//! One chain uses one address width, fixed in its configuration; an [`AccountAddress`] carries
//! its width, so keys of different widths never compare equal and a key of the wrong width is
//! an error where it enters, never a silent truncation.
//!
//! The BCS form of a [`StructTag`] is the one every Move chain uses: the address's raw bytes,
//! module and name as strings, type arguments as `TypeTag`s with the variant numbers Diem, Aptos
//! and Sui share (`bool` 0, `u8` 1, `u64` 2, `u128` 3, `address` 4, `signer` 5, `vector` 6,
//! struct 7, and Aptos' and Sui's `u16` 8, `u32` 9, `u256` 10). For a 16-byte chain it is byte for
//! byte what `move-core-types` writes, so state roots and store keys did not change with it.

use binary_format::bcs::{self, Reader};
use binary_format::{identifier, Address, AddressLength, DatatypeRef, ModuleId, Type};
use std::fmt;

/// Longest struct tag text [`StructTag::parse`] reads.
pub const MAX_TAG_TEXT_LEN: usize = 4096;
/// Deepest nesting of type arguments and vectors in a tag (text or BCS).
pub const MAX_TAG_NESTING: usize = 32;
/// Most type arguments of one struct tag.
pub const MAX_TYPE_ARGS: usize = 32;
/// Longest module or struct name in a tag.
pub const MAX_IDENTIFIER_LEN: usize = 255;

/// Why a key could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Address bytes of a length no Move chain uses.
    #[error("{len} bytes is not an address length: addresses are 16, 20 or 32 bytes")]
    BadLength {
        /// The length given, in bytes.
        len: usize,
    },
    /// An address value too large for the width asked for (never truncated).
    #[error("address {address} does not fit in {width} bytes")]
    TooWide {
        /// The value.
        address: Address,
        /// The width it was to fit in.
        width: AddressLength,
    },
    /// Text that is not `0x` followed by hex digits.
    #[error("`{input}` is not an address: hex digits after `0x`")]
    BadAddress {
        /// The text, cut to 80 characters.
        input: String,
    },
    /// Tag text that does not read (see [`StructTag::parse`]).
    #[error("cannot read struct tag `{input}`: {reason}")]
    Parse {
        /// The text, cut to 200 characters.
        input: String,
        /// What is wrong and at which byte.
        reason: String,
    },
    /// Type text that does not read (see [`TypeTag::parse`]).
    #[error("cannot read type `{input}`: {reason}")]
    ParseType {
        /// The text, cut to 200 characters.
        input: String,
        /// What is wrong and at which byte.
        reason: String,
    },
    /// Tag bytes that do not decode (see [`StructTag::from_bcs`]).
    #[error("struct tag bytes do not decode: {reason} (at byte {offset})")]
    Decode {
        /// Offset in the input where the problem was found.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A type that a stored struct's tag cannot hold: a type parameter, a reference, a signed
    /// integer, a function, or a type nested deeper than [`MAX_TAG_NESTING`].
    #[error("type `{ty}` cannot be part of a stored struct's tag")]
    NotATag {
        /// The type, as text.
        ty: String,
    },
    /// A module or struct name that Move does not accept as an identifier.
    #[error("{name:?} is not a Move identifier")]
    InvalidIdentifier {
        /// The refused name.
        name: String,
    },
    /// A key of another width than the chain's: refused where it enters, so that it can never
    /// miss the resource it names.
    #[error("{what} is a {found}-byte address on a chain of {expected}-byte addresses")]
    WrongWidth {
        /// What carried the address (`account 0x5`, `struct tag 0x1::M::S`).
        what: String,
        /// Its width.
        found: AddressLength,
        /// The chain's width.
        expected: AddressLength,
    },
}

/// An account address of 16, 20 or 32 bytes. Ordered by its bytes, which for one width is the
/// order of the addresses' values, and the order of store keys.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccountAddress {
    /// Left-aligned: the address is `bytes[..len]`, the rest zero, so that the derived order is
    /// the bytewise order within one width.
    bytes: [u8; 32],
    len: u8,
}

/// Bytewise, then by width: the order the derived one would give, as two big-endian 128-bit
/// compares instead of a call to `memcmp` (addresses are the keys of every map the migration
/// loop writes, and the derived compare was a fifth of its time).
impl Ord for AccountAddress {
    #[inline]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.halves().cmp(&other.halves()).then(self.len.cmp(&other.len))
    }
}

impl PartialOrd for AccountAddress {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl AccountAddress {
    /// The address of `bytes`, whose length (16, 20 or 32) is the width.
    pub fn new(bytes: &[u8]) -> Result<AccountAddress, KeyError> {
        let width = AddressLength::from_bytes(bytes.len()).ok_or(KeyError::BadLength { len: bytes.len() })?;
        let mut out = [0u8; 32];
        if let Some(head) = out.get_mut(..bytes.len()) {
            head.copy_from_slice(bytes);
        }
        Ok(AccountAddress { bytes: out, len: width.bytes() as u8 })
    }

    /// An address from its left-aligned bytes (the first `width` of `bytes`; the rest must be
    /// zero): for constants.
    pub const fn from_raw(bytes: [u8; 32], width: AddressLength) -> AccountAddress {
        AccountAddress { bytes, len: width as u8 }
    }

    /// The bytes as two big-endian numbers: compared as numbers, they order as the bytes do.
    #[inline]
    fn halves(&self) -> (u128, u128) {
        let head = self.bytes.first_chunk::<16>().copied().unwrap_or_default();
        let tail = self.bytes.last_chunk::<16>().copied().unwrap_or_default();
        (u128::from_be_bytes(head), u128::from_be_bytes(tail))
    }

    /// The zero address (`0x0`) of a width.
    pub fn zero(width: AddressLength) -> AccountAddress {
        AccountAddress { bytes: [0; 32], len: width.bytes() as u8 }
    }

    /// The address with this value in a width, if it fits.
    pub fn from_address(address: Address, width: AddressLength) -> Result<AccountAddress, KeyError> {
        let bytes = address.to_be_bytes(width).ok_or(KeyError::TooWide { address, width })?;
        AccountAddress::new(bytes)
    }

    /// The address with the number `n` (`0x1` is 1); every width holds a u64.
    pub fn from_u64(n: u64, width: AddressLength) -> AccountAddress {
        let mut bytes = [0u8; 32];
        let len = width.bytes();
        if let Some(tail) = bytes.get_mut(len - 8..len) {
            tail.copy_from_slice(&n.to_be_bytes());
        }
        AccountAddress { bytes, len: len as u8 }
    }

    /// Reads `0x1` (hex digits after `0x`) as an address of `width`.
    pub fn parse(s: &str, width: AddressLength) -> Result<AccountAddress, KeyError> {
        let bad = || KeyError::BadAddress { input: s.chars().take(80).collect() };
        if !s.starts_with("0x") {
            return Err(bad());
        }
        let value = Address::parse_hex(s).ok_or_else(bad)?;
        AccountAddress::from_address(value, width)
    }

    /// The address's bytes (16, 20 or 32 of them).
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The address's width: 16, 20 or 32 bytes.
    pub fn width(&self) -> AddressLength {
        AddressLength::from_bytes(usize::from(self.len)).unwrap_or_default()
    }

    /// The address's value, comparable with the addresses of modules of any width.
    pub fn address(&self) -> Address {
        Address::from_be_slice(self.as_bytes()).unwrap_or(Address::ZERO)
    }

    /// Whether this is `0x0` (of any width). The hook's status records a migration's own
    /// failure at `0x0`.
    pub fn is_zero(&self) -> bool {
        self.bytes.iter().all(|&b| b == 0)
    }

    /// The same value in another width, if it fits.
    pub fn with_width(&self, width: AddressLength) -> Result<AccountAddress, KeyError> {
        AccountAddress::from_address(self.address(), width)
    }

    /// Refuses an address of another width than the chain's.
    pub fn expect_width(&self, width: AddressLength, what: impl FnOnce() -> String) -> Result<(), KeyError> {
        if self.width() == width {
            Ok(())
        } else {
            Err(KeyError::WrongWidth { what: what(), found: self.width(), expected: width })
        }
    }
}

impl fmt::Display for AccountAddress {
    /// Shortest hexadecimal form, as Move source writes addresses: `0x1`, `0xa550c18`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.address(), f)
    }
}

impl fmt::Debug for AccountAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address(), self.len)
    }
}

/// The type of a stored value as a tag: closed (no type parameters), no references.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TypeTag {
    /// `bool` (BCS variant 0).
    Bool,
    /// `u8` (1).
    U8,
    /// `u16` (8; Aptos and Sui only).
    U16,
    /// `u32` (9; Aptos and Sui only).
    U32,
    /// `u64` (2).
    U64,
    /// `u128` (3).
    U128,
    /// `u256` (10; Aptos and Sui only).
    U256,
    /// `address` (4).
    Address,
    /// `signer` (5).
    Signer,
    /// `vector<T>` (6).
    Vector(Box<TypeTag>),
    /// A struct or enum instance (7).
    Struct(Box<StructTag>),
}

/// A struct instantiated with its type arguments: `0x1::Coin::Balance<0x1::GAS::GAS>`. With an
/// account, the key of a resource.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StructTag {
    /// The address of the declaring module, of the chain's width.
    pub address: AccountAddress,
    /// The declaring module's name.
    pub module: String,
    /// The struct's (or enum's) name.
    pub name: String,
    /// The type arguments, phantom ones included: `Coin<A>` and `Coin<B>` are different keys.
    pub type_args: Vec<TypeTag>,
}

impl StructTag {
    /// The struct tag of an instantiated struct or enum in a chain of `width`.
    pub fn from_datatype(datatype: &DatatypeRef, width: AddressLength) -> Result<StructTag, KeyError> {
        Self::from_datatype_at(datatype, width, 0)
    }

    fn from_datatype_at(datatype: &DatatypeRef, width: AddressLength, depth: usize) -> Result<StructTag, KeyError> {
        if depth > MAX_TAG_NESTING {
            return Err(KeyError::NotATag { ty: format!("{} (nested too deep)", datatype.name) });
        }
        for name in [&datatype.module.name, &datatype.name] {
            if !identifier::is_valid(name) {
                return Err(KeyError::InvalidIdentifier { name: name.clone() });
            }
        }
        Ok(StructTag {
            address: AccountAddress::from_address(datatype.module.address, width)?,
            module: datatype.module.name.clone(),
            name: datatype.name.clone(),
            type_args: datatype
                .type_args
                .iter()
                .map(|t| TypeTag::from_type_at(t, width, depth + 1))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Our datatype reference of this tag (for resolving its layout in a release).
    pub fn datatype(&self) -> DatatypeRef {
        DatatypeRef {
            module: self.module_id(),
            name: self.name.clone(),
            type_args: self.type_args.iter().map(TypeTag::to_type).collect(),
        }
    }

    /// The module that declares the struct.
    pub fn module_id(&self) -> ModuleId {
        ModuleId::new(self.address.address(), self.module.as_str())
    }

    /// Reads `0x1::Coin::Balance<0x1::GAS::GAS>` with addresses of `width`: bounded in length
    /// and nesting, names checked to be Move identifiers.
    pub fn parse(input: &str, width: AddressLength) -> Result<StructTag, KeyError> {
        let fail = |reason: String| KeyError::Parse { input: input.chars().take(200).collect(), reason };
        if input.len() > MAX_TAG_TEXT_LEN {
            return Err(fail(format!("longer than {MAX_TAG_TEXT_LEN} bytes")));
        }
        let mut p = TextParser { s: input.as_bytes(), pos: 0, width };
        let tag = p.struct_tag(0).map_err(fail)?;
        p.skip_spaces();
        if p.pos != input.len() {
            return Err(fail(format!("unexpected text at byte {}", p.pos)));
        }
        Ok(tag)
    }

    /// The canonical BCS bytes.
    pub fn to_bcs(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        self.write_bcs(&mut out);
        out
    }

    /// Appends the canonical BCS bytes to `out`.
    pub fn write_bcs(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.address.as_bytes());
        write_str(out, &self.module);
        write_str(out, &self.name);
        binary_format::write_uleb(out, self.type_args.len() as u64);
        for t in &self.type_args {
            t.write_bcs(out);
        }
    }

    /// Reads exactly one tag's BCS bytes, with addresses of `width`. Untrusted: bounded in
    /// nesting and counts, names checked to be Move identifiers, trailing bytes refused.
    pub fn from_bcs(bytes: &[u8], width: AddressLength) -> Result<StructTag, KeyError> {
        let mut r = Reader::new(bytes);
        let tag = StructTag::read_bcs(&mut r, width)?;
        r.finish("the tag")?;
        Ok(tag)
    }

    /// Reads one tag's BCS bytes from the start of `bytes`, with addresses of `width`: the tag and
    /// how many bytes it took (what follows is the caller's, as in a state key).
    pub fn from_bcs_prefix(bytes: &[u8], width: AddressLength) -> Result<(StructTag, usize), KeyError> {
        let mut r = Reader::new(bytes);
        let tag = read_struct_tag(&mut r, width, 0)?;
        Ok((tag, r.position()))
    }

    /// How many bytes the BCS tag at the start of `bytes` takes with addresses of `width`,
    /// without building it (no allocation): where a state key's account starts, for a store that
    /// keeps a tag's keys together. `None` when the bytes are not a tag's (names are not checked
    /// to be identifiers: a caller that must know builds the tag).
    pub fn bcs_len(bytes: &[u8], width: AddressLength) -> Option<usize> {
        let mut r = Reader::new(bytes);
        skip_struct_tag(&mut r, width, 0).ok()?;
        Some(r.position())
    }

    /// Reads one tag's BCS bytes from `r`, for formats that hold a tag among other values (a
    /// state key): bounded and checked as [`StructTag::from_bcs`] is, errors at `r`'s offsets,
    /// the reader left just after the tag.
    pub fn read_bcs(r: &mut Reader<'_>, width: AddressLength) -> Result<StructTag, KeyError> {
        read_struct_tag(r, width, 0)
    }

    /// Whether every address in the tag, type arguments included, has `width`.
    pub fn has_width(&self, width: AddressLength) -> bool {
        self.address.width() == width && self.type_args.iter().all(|t| t.has_width(width))
    }
}

impl TypeTag {
    /// Reads a closed type in Move syntax with addresses of `width`: `u64`, `address`,
    /// `vector<u8>`, `0x1::voting::Proposal<0x1::governance_proposal::GovernanceProposal>`.
    /// Bounded as [`StructTag::parse`] is (length, nesting, type arguments), names checked to be
    /// Move identifiers.
    pub fn parse(input: &str, width: AddressLength) -> Result<TypeTag, KeyError> {
        let fail = |reason: String| KeyError::ParseType { input: input.chars().take(200).collect(), reason };
        if input.len() > MAX_TAG_TEXT_LEN {
            return Err(fail(format!("longer than {MAX_TAG_TEXT_LEN} bytes")));
        }
        let mut p = TextParser { s: input.as_bytes(), pos: 0, width };
        let tag = p.type_tag(0).map_err(fail)?;
        p.skip_spaces();
        if p.pos != input.len() {
            return Err(fail(format!("unexpected text at byte {}", p.pos)));
        }
        Ok(tag)
    }

    /// The tag of a closed type in a chain of `width`.
    pub fn from_type(ty: &Type, width: AddressLength) -> Result<TypeTag, KeyError> {
        Self::from_type_at(ty, width, 0)
    }

    fn from_type_at(ty: &Type, width: AddressLength, depth: usize) -> Result<TypeTag, KeyError> {
        if depth > MAX_TAG_NESTING {
            return Err(KeyError::NotATag { ty: "a type nested too deep".to_owned() });
        }
        Ok(match ty {
            Type::Bool => TypeTag::Bool,
            Type::U8 => TypeTag::U8,
            Type::U16 => TypeTag::U16,
            Type::U32 => TypeTag::U32,
            Type::U64 => TypeTag::U64,
            Type::U128 => TypeTag::U128,
            Type::U256 => TypeTag::U256,
            Type::Address => TypeTag::Address,
            Type::Signer => TypeTag::Signer,
            Type::Vector(inner) => TypeTag::Vector(Box::new(Self::from_type_at(inner, width, depth + 1)?)),
            Type::Datatype(d) => TypeTag::Struct(Box::new(StructTag::from_datatype_at(d, width, depth + 1)?)),
            other => return Err(KeyError::NotATag { ty: other.to_string() }),
        })
    }

    /// Our type of this tag.
    pub fn to_type(&self) -> Type {
        match self {
            TypeTag::Bool => Type::Bool,
            TypeTag::U8 => Type::U8,
            TypeTag::U16 => Type::U16,
            TypeTag::U32 => Type::U32,
            TypeTag::U64 => Type::U64,
            TypeTag::U128 => Type::U128,
            TypeTag::U256 => Type::U256,
            TypeTag::Address => Type::Address,
            TypeTag::Signer => Type::Signer,
            TypeTag::Vector(inner) => Type::Vector(Box::new(inner.to_type())),
            TypeTag::Struct(s) => Type::Datatype(Box::new(s.datatype())),
        }
    }

    fn write_bcs(&self, out: &mut Vec<u8>) {
        let variant: u8 = match self {
            TypeTag::Bool => 0,
            TypeTag::U8 => 1,
            TypeTag::U64 => 2,
            TypeTag::U128 => 3,
            TypeTag::Address => 4,
            TypeTag::Signer => 5,
            TypeTag::Vector(_) => 6,
            TypeTag::Struct(_) => 7,
            TypeTag::U16 => 8,
            TypeTag::U32 => 9,
            TypeTag::U256 => 10,
        };
        out.push(variant);
        match self {
            TypeTag::Vector(inner) => inner.write_bcs(out),
            TypeTag::Struct(s) => s.write_bcs(out),
            _ => {}
        }
    }

    fn has_width(&self, width: AddressLength) -> bool {
        match self {
            TypeTag::Vector(inner) => inner.has_width(width),
            TypeTag::Struct(s) => s.has_width(width),
            _ => true,
        }
    }
}

impl fmt::Display for StructTag {
    /// Move source syntax: `0x1::Coin::Balance<0x1::GAS::GAS>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}::{}", self.address, self.module, self.name)?;
        if !self.type_args.is_empty() {
            f.write_str("<")?;
            for (i, t) in self.type_args.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{t}")?;
            }
            f.write_str(">")?;
        }
        Ok(())
    }
}

impl fmt::Debug for StructTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for TypeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeTag::Bool => f.write_str("bool"),
            TypeTag::U8 => f.write_str("u8"),
            TypeTag::U16 => f.write_str("u16"),
            TypeTag::U32 => f.write_str("u32"),
            TypeTag::U64 => f.write_str("u64"),
            TypeTag::U128 => f.write_str("u128"),
            TypeTag::U256 => f.write_str("u256"),
            TypeTag::Address => f.write_str("address"),
            TypeTag::Signer => f.write_str("signer"),
            TypeTag::Vector(inner) => write!(f, "vector<{inner}>"),
            TypeTag::Struct(s) => write!(f, "{s}"),
        }
    }
}

impl fmt::Debug for TypeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    binary_format::write_uleb(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Tag bytes that do not read: where, and why.
impl From<bcs::Error> for KeyError {
    fn from(e: bcs::Error) -> KeyError {
        KeyError::Decode { offset: e.offset(), reason: e.message() }
    }
}

/// Variants of a BCS `TypeTag` (see the module's documentation for their numbers).
const TYPE_TAG_VARIANTS: usize = 11;

fn read_identifier(r: &mut Reader<'_>, what: &'static str) -> Result<String, KeyError> {
    let name = r.string(MAX_IDENTIFIER_LEN as u64, what)?;
    if !identifier::is_valid(name) {
        return Err(KeyError::InvalidIdentifier { name: name.to_owned() });
    }
    Ok(name.to_owned())
}

/// One struct tag's BCS, with addresses of `width`: bounded in nesting and counts.
fn read_struct_tag(r: &mut Reader<'_>, width: AddressLength, depth: usize) -> Result<StructTag, KeyError> {
    if depth > MAX_TAG_NESTING {
        return Err(r.fail(bcs::ErrorKind::TooDeep { limit: MAX_TAG_NESTING }, "a struct tag").into());
    }
    let address = AccountAddress::new(r.bytes(width.bytes(), "a struct tag's address")?)?;
    let module = read_identifier(r, "a module name")?;
    let name = read_identifier(r, "a struct name")?;
    let type_args = r.list(MAX_TYPE_ARGS as u64, 1, "a type argument count", |r| read_type_tag(r, width, depth + 1))?;
    Ok(StructTag { address, module, name, type_args })
}

fn read_type_tag(r: &mut Reader<'_>, width: AddressLength, depth: usize) -> Result<TypeTag, KeyError> {
    if depth > MAX_TAG_NESTING {
        return Err(r.fail(bcs::ErrorKind::TooDeep { limit: MAX_TAG_NESTING }, "a type tag").into());
    }
    Ok(match r.variant(TYPE_TAG_VARIANTS, "a type tag")? {
        0 => TypeTag::Bool,
        1 => TypeTag::U8,
        2 => TypeTag::U64,
        3 => TypeTag::U128,
        4 => TypeTag::Address,
        5 => TypeTag::Signer,
        6 => TypeTag::Vector(Box::new(read_type_tag(r, width, depth + 1)?)),
        7 => TypeTag::Struct(Box::new(read_struct_tag(r, width, depth + 1)?)),
        8 => TypeTag::U16,
        9 => TypeTag::U32,
        // 10: `variant` refused every index from 11 on.
        _ => TypeTag::U256,
    })
}

/// Steps over one struct tag's BCS as [`read_struct_tag`] reads it, keeping nothing.
fn skip_struct_tag(r: &mut Reader<'_>, width: AddressLength, depth: usize) -> Result<(), bcs::Error> {
    if depth > MAX_TAG_NESTING {
        return Err(r.fail(bcs::ErrorKind::TooDeep { limit: MAX_TAG_NESTING }, "a struct tag"));
    }
    r.skip(width.bytes(), "a struct tag's address")?;
    r.prefixed(MAX_IDENTIFIER_LEN as u64, "a module name")?;
    r.prefixed(MAX_IDENTIFIER_LEN as u64, "a struct name")?;
    for _ in 0..r.count(MAX_TYPE_ARGS as u64, 1, "a type argument count")? {
        let mut depth = depth + 1;
        // A vector's element follows its tag: step down until a tag that is not a vector.
        loop {
            if depth > MAX_TAG_NESTING {
                return Err(r.fail(bcs::ErrorKind::TooDeep { limit: MAX_TAG_NESTING }, "a type tag"));
            }
            match r.variant(TYPE_TAG_VARIANTS, "a type tag")? {
                6 => depth += 1,
                7 => break skip_struct_tag(r, width, depth + 1)?,
                _ => break,
            }
        }
    }
    Ok(())
}

/// A reader of tags in Move source syntax.
struct TextParser<'a> {
    s: &'a [u8],
    pos: usize,
    width: AddressLength,
}

impl TextParser<'_> {
    fn skip_spaces(&mut self) {
        while self.s.get(self.pos).is_some_and(|b| *b == b' ') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_spaces();
        if self.s.get(self.pos..).is_some_and(|rest| rest.starts_with(token.as_bytes())) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    /// A run of identifier characters (`0x1` is read as one too, then checked as an address).
    fn word(&mut self) -> Result<&str, String> {
        self.skip_spaces();
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            self.pos += 1;
        }
        let word = self.s.get(start..self.pos).and_then(|w| std::str::from_utf8(w).ok()).unwrap_or("");
        if word.is_empty() {
            return Err(format!("expected a name or an address at byte {start}"));
        }
        Ok(word)
    }

    fn struct_tag(&mut self, depth: usize) -> Result<StructTag, String> {
        if depth > MAX_TAG_NESTING {
            return Err(format!("nested deeper than {MAX_TAG_NESTING}"));
        }
        let width = self.width;
        let address = self.word()?;
        let address = AccountAddress::parse(address, width).map_err(|e| e.to_string())?;
        let mut names = [String::new(), String::new()];
        for name in &mut names {
            if !self.eat("::") {
                return Err(format!("expected `::` at byte {}", self.pos));
            }
            let word = self.word()?.to_owned();
            if !identifier::is_valid(&word) {
                return Err(format!("{word:?} is not a Move identifier"));
            }
            *name = word;
        }
        let [module, name] = names;
        let mut type_args = Vec::new();
        if self.eat("<") {
            loop {
                if type_args.len() == MAX_TYPE_ARGS {
                    return Err(format!("more than {MAX_TYPE_ARGS} type arguments"));
                }
                type_args.push(self.type_tag(depth + 1)?);
                if self.eat(">") {
                    break;
                }
                if !self.eat(",") {
                    return Err(format!("expected `,` or `>` at byte {}", self.pos));
                }
            }
        }
        Ok(StructTag { address, module, name, type_args })
    }

    fn type_tag(&mut self, depth: usize) -> Result<TypeTag, String> {
        if depth > MAX_TAG_NESTING {
            return Err(format!("nested deeper than {MAX_TAG_NESTING}"));
        }
        self.skip_spaces();
        let start = self.pos;
        let word = self.word()?.to_owned();
        Ok(match word.as_str() {
            "bool" => TypeTag::Bool,
            "u8" => TypeTag::U8,
            "u16" => TypeTag::U16,
            "u32" => TypeTag::U32,
            "u64" => TypeTag::U64,
            "u128" => TypeTag::U128,
            "u256" => TypeTag::U256,
            "address" => TypeTag::Address,
            "signer" => TypeTag::Signer,
            "vector" => {
                if !self.eat("<") {
                    return Err(format!("expected `<` after vector at byte {}", self.pos));
                }
                let inner = self.type_tag(depth + 1)?;
                if !self.eat(">") {
                    return Err(format!("expected `>` at byte {}", self.pos));
                }
                TypeTag::Vector(Box::new(inner))
            }
            _ if word.starts_with("0x") => {
                self.pos = start;
                TypeTag::Struct(Box::new(self.struct_tag(depth + 1)?))
            }
            other => return Err(format!("`{other}` is not a type")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W16: AddressLength = AddressLength::Bytes16;
    const W32: AddressLength = AddressLength::Bytes32;

    #[test]
    fn addresses_carry_their_width_and_order_by_bytes() {
        let one16 = AccountAddress::from_u64(1, W16);
        let one32 = AccountAddress::from_u64(1, W32);
        assert_ne!(one16, one32);
        assert_eq!(one16.address(), one32.address());
        assert_eq!(one16.as_bytes().len(), 16);
        assert_eq!(one32.as_bytes().len(), 32);
        assert_eq!(one32.to_string(), "0x1");
        assert!(AccountAddress::from_u64(2, W32) > one32);
        let high = AccountAddress::new(&[[0xffu8; 1].as_slice(), &[0u8; 31]].concat()).unwrap();
        assert!(high > AccountAddress::from_u64(u64::MAX, W32));
        assert_eq!(AccountAddress::new(&[0; 17]), Err(KeyError::BadLength { len: 17 }));
        let wide = Address::parse_hex(&format!("0x1{}", "0".repeat(32))).unwrap();
        assert!(matches!(AccountAddress::from_address(wide, W16), Err(KeyError::TooWide { .. })));
        assert!(AccountAddress::from_address(wide, W32).is_ok());
        assert_eq!(AccountAddress::parse("0xA550C18", W16).unwrap(), AccountAddress::from_u64(0xa550c18, W16));
        assert!(AccountAddress::parse("1", W16).is_err());
        assert!(AccountAddress::zero(W32).is_zero());
    }

    /// The hand-written order is the store's key order: the bytes compared one by one, then the
    /// width; over addresses that differ in any byte, in both halves, and in width only.
    #[test]
    fn address_order_is_the_bytewise_order_then_the_width() {
        let mut addresses = Vec::new();
        for width in AddressLength::ALL {
            let n = width.bytes();
            addresses.push(AccountAddress::zero(width));
            for at in 0..n {
                for byte in [0x01u8, 0x7f, 0x80, 0xff] {
                    let mut bytes = vec![0u8; n];
                    bytes[at] = byte;
                    addresses.push(AccountAddress::new(&bytes).unwrap());
                    bytes[n - 1] = 0x42;
                    addresses.push(AccountAddress::new(&bytes).unwrap());
                }
            }
        }
        let reference = |a: &AccountAddress| {
            let mut padded = [0u8; 32];
            padded[..a.as_bytes().len()].copy_from_slice(a.as_bytes());
            (padded, a.as_bytes().len())
        };
        for a in &addresses {
            for b in &addresses {
                assert_eq!(a.cmp(b), reference(a).cmp(&reference(b)), "{a} vs {b}");
                assert_eq!(a == b, a.cmp(b).is_eq(), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn tags_round_trip_through_text_bcs_and_datatypes_in_every_width() {
        for width in AddressLength::ALL {
            let text = "0x1::Coin::Balance<0x1::GAS::GAS, vector<u16>, u256, address>";
            let tag = StructTag::parse(text, width).unwrap();
            assert_eq!(tag.to_string(), text);
            assert!(tag.has_width(width));
            let bytes = tag.to_bcs();
            assert_eq!(StructTag::from_bcs(&bytes, width).unwrap(), tag);
            // Followed by more bytes (a map's value), the prefix reader says where the tag ends.
            let followed = [bytes.as_slice(), &[3, 9, 9, 9]].concat();
            assert_eq!(StructTag::from_bcs_prefix(&followed, width).unwrap(), (tag.clone(), bytes.len()));
            assert!(StructTag::from_bcs(&followed, width).is_err());
            assert_eq!(StructTag::from_datatype(&tag.datatype(), width).unwrap(), tag);
            assert_eq!(tag.module_id().to_string(), "0x1::Coin");
        }
    }

    #[test]
    fn a_tag_reads_from_the_middle_of_a_key_with_offsets_in_the_key() {
        let tag = StructTag::parse("0x1::Coin::Balance<0x1::GAS::GAS>", W16).unwrap();
        let mut key = vec![0xaa; 16];
        key.extend(tag.to_bcs());
        key.push(7);
        let mut r = Reader::new(&key);
        r.bytes(16, "an account").unwrap();
        assert_eq!(StructTag::read_bcs(&mut r, W16).unwrap(), tag);
        assert_eq!(r.rest(), [7]);
        // Cut inside the type argument's struct name: the error is at its length's offset in the key.
        let mut r = Reader::new(&key[..key.len() - 5]);
        r.bytes(16, "an account").unwrap();
        let err = StructTag::read_bcs(&mut r, W16).unwrap_err();
        assert_eq!(
            err,
            KeyError::Decode { offset: 67, reason: "a struct name is 3, more than the 0 bytes left".into() }
        );
    }

    #[test]
    fn sixteen_byte_bcs_is_what_move_core_types_writes() {
        // address (16 raw bytes), "Coin", "Balance", one type argument: struct 0x1::GAS::GAS.
        let tag = StructTag::parse("0x1::Coin::Balance<0x1::GAS::GAS>", W16).unwrap();
        let mut expected = vec![0u8; 15];
        expected.push(1);
        expected.extend([4, b'C', b'o', b'i', b'n', 7, b'B', b'a', b'l', b'a', b'n', b'c', b'e', 1, 7]);
        expected.extend([0u8; 15]);
        expected.push(1);
        expected.extend([3, b'G', b'A', b'S', 3, b'G', b'A', b'S', 0]);
        assert_eq!(tag.to_bcs(), expected);
    }

    #[test]
    fn type_tags_read_from_text_in_every_width_and_print_back() {
        for width in AddressLength::ALL {
            for text in [
                "bool",
                "u8",
                "u16",
                "u32",
                "u64",
                "u128",
                "u256",
                "address",
                "signer",
                "vector<u8>",
                "vector<vector<address>>",
                "0x1::string::String",
                "0x1::voting::Proposal<0x1::governance_proposal::GovernanceProposal>",
                "vector<0x1::table::Table<u64, vector<u8>>>",
            ] {
                let tag = TypeTag::parse(text, width).unwrap();
                assert_eq!(tag.to_string(), text);
                assert!(tag.has_width(width), "{text}");
            }
            assert_eq!(
                TypeTag::parse(" 0x1::M::S<u64> ", width).unwrap(),
                TypeTag::Struct(Box::new(StructTag::parse("0x1::M::S<u64>", width).unwrap()))
            );
        }
        // The BCS of a type tag: its variant, then what it holds.
        let bcs = |text: &str| {
            let mut out = Vec::new();
            TypeTag::parse(text, W16).unwrap().write_bcs(&mut out);
            out
        };
        assert_eq!(bcs("u64"), [2]);
        assert_eq!(bcs("vector<u256>"), [6, 10]);
        let s = StructTag::parse("0x1::M::S", W16).unwrap();
        assert_eq!(bcs("0x1::M::S"), [&[7u8][..], &s.to_bcs()].concat());
    }

    #[test]
    fn type_text_that_does_not_read_is_an_error_naming_the_type() {
        let bad = [
            "",
            "u63",
            "U64",
            "vector",
            "vector<u8",
            "vector<>",
            "vector<u8>>",
            "u64 u64",
            "&u64",
            "0x1::M",
            "0x1::M::S<",
            "T",
            "0xzz::M::S",
        ];
        for text in bad {
            let e = TypeTag::parse(text, W32).unwrap_err();
            assert!(matches!(e, KeyError::ParseType { .. }), "{text}: {e}");
            assert!(e.to_string().starts_with("cannot read type"), "{e}");
        }
        let deep = format!("{}u8{}", "vector<".repeat(MAX_TAG_NESTING + 2), ">".repeat(MAX_TAG_NESTING + 2));
        assert!(TypeTag::parse(&deep, W32).unwrap_err().to_string().contains("nested deeper"));
        assert!(TypeTag::parse(&"u".repeat(MAX_TAG_TEXT_LEN + 1), W32).unwrap_err().to_string().contains("longer"));
        // An address wider than the chain's.
        assert!(TypeTag::parse(&format!("0x1{}::M::S", "0".repeat(40)), W16).is_err());
    }

    #[test]
    fn untrusted_text_and_bytes_are_errors_never_panics() {
        for bad in ["", "u64", "0x1::M::", "0x1::M::S<", "0x1::M::S<u64", "0x1::M::S<u64,>", "0x1::1M::S", "1::M::S"] {
            assert!(StructTag::parse(bad, W16).is_err(), "{bad}");
        }
        let deep = format!("0x1::M::S{}", "<0x1::M::S".repeat(MAX_TAG_NESTING + 1));
        assert!(StructTag::parse(&deep, W16).is_err());
        assert!(StructTag::parse(&"a".repeat(MAX_TAG_TEXT_LEN + 1), W16).is_err());
        let wide = format!("0x1{}::M::S", "0".repeat(40));
        assert!(StructTag::parse(&wide, W16).is_err());
        let good = StructTag::parse("0x1::M::S<vector<0x2::N::T>>", W16).unwrap().to_bcs();
        for end in 0..good.len() {
            assert!(StructTag::from_bcs(&good[..end], W16).is_err(), "truncated at {end}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(StructTag::from_bcs(&trailing, W16).is_err());
        assert!(StructTag::from_bcs(&good, W32).is_err());
        // Nesting by bytes: vector<vector<...>> far too deep.
        let mut deep = StructTag::parse("0x1::M::S", W16).unwrap().to_bcs();
        deep.pop();
        deep.push(1);
        deep.extend(std::iter::repeat_n(6u8, 100));
        assert!(StructTag::from_bcs(&deep, W16).is_err());
        // A name that is not an identifier.
        let mut bytes = vec![0u8; 16];
        bytes.extend([1, b'+', 1, b'S', 0]);
        assert!(matches!(StructTag::from_bcs(&bytes, W16), Err(KeyError::InvalidIdentifier { .. })));
    }
}
