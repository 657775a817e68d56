//! Types as the normalized view holds them: resolved, comparable across modules and releases,
//! and printed as Move source writes them.

use crate::ability::AbilitySet;
use crate::address::Address;
use serde::{Serialize, Serializer};
use std::fmt;

/// `address::name`, the identity of a module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleId {
    pub address: Address,
    pub name: String,
}

impl ModuleId {
    pub fn new(address: Address, name: impl Into<String>) -> Self {
        ModuleId { address, name: name.into() }
    }

    /// Parses `0x1::Epoch`.
    pub fn parse(s: &str) -> Option<ModuleId> {
        let (addr, name) = s.split_once("::")?;
        let address = Address::parse_hex(addr)?;
        crate::identifier::is_valid(name).then(|| ModuleId::new(address, name))
    }
}

impl fmt::Display for ModuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.address, self.name)
    }
}

impl Serialize for ModuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A struct or enum type, with its type arguments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DatatypeRef {
    pub module: ModuleId,
    pub name: String,
    pub type_args: Vec<Type>,
}

/// A closure type (bytecode version 8 on Aptos, read for completeness).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FunctionType {
    pub params: Vec<Type>,
    pub returns: Vec<Type>,
    pub abilities: AbilitySet,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Type {
    Bool,
    U8,
    U16,
    U32,
    U64,
    U128,
    U256,
    /// Signed integers (Aptos version 9).
    I8,
    I16,
    I32,
    I64,
    I128,
    I256,
    Address,
    Signer,
    Vector(Box<Type>),
    Datatype(Box<DatatypeRef>),
    /// The index of a type parameter of the enclosing struct or function, printed `T0`, `T1`...
    TypeParameter(u16),
    Reference(Box<Type>),
    MutableReference(Box<Type>),
    Function(Box<FunctionType>),
}

impl Type {
    pub fn datatype(module: ModuleId, name: impl Into<String>, type_args: Vec<Type>) -> Type {
        Type::Datatype(Box::new(DatatypeRef { module, name: name.into(), type_args }))
    }

    /// This type with type parameter `i` replaced by `args[i]` (a parameter `args` lacks stays),
    /// inside vectors, datatypes' arguments and references.
    pub fn substitute(&self, args: &[Type]) -> Type {
        match self {
            Type::TypeParameter(i) => args.get(usize::from(*i)).cloned().unwrap_or_else(|| self.clone()),
            Type::Vector(inner) => Type::Vector(Box::new(inner.substitute(args))),
            Type::Reference(inner) => Type::Reference(Box::new(inner.substitute(args))),
            Type::MutableReference(inner) => Type::MutableReference(Box::new(inner.substitute(args))),
            Type::Datatype(d) => {
                let type_args = d.type_args.iter().map(|a| a.substitute(args)).collect();
                Type::Datatype(Box::new(DatatypeRef { module: d.module.clone(), name: d.name.clone(), type_args }))
            }
            other => other.clone(),
        }
    }

    /// How deep the type nests (a primitive is 1).
    pub fn depth(&self) -> usize {
        match self {
            Type::Vector(t) | Type::Reference(t) | Type::MutableReference(t) => 1 + t.depth(),
            Type::Datatype(d) => 1 + d.type_args.iter().map(Type::depth).max().unwrap_or(0),
            Type::Function(f) => 1 + f.params.iter().chain(&f.returns).map(Type::depth).max().unwrap_or(0),
            _ => 1,
        }
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, types: &[Type]) -> fmt::Result {
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{t}")?;
    }
    Ok(())
}

/// Inside a closure type, a closure type is parenthesized so that `||` reads unambiguously.
fn write_closure_list(f: &mut fmt::Formatter<'_>, types: &[Type]) -> fmt::Result {
    for (i, t) in types.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        match t {
            Type::Function(_) => write!(f, "({t})")?,
            _ => write!(f, "{t}")?,
        }
    }
    Ok(())
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::U8 => f.write_str("u8"),
            Type::U16 => f.write_str("u16"),
            Type::U32 => f.write_str("u32"),
            Type::U64 => f.write_str("u64"),
            Type::U128 => f.write_str("u128"),
            Type::U256 => f.write_str("u256"),
            Type::I8 => f.write_str("i8"),
            Type::I16 => f.write_str("i16"),
            Type::I32 => f.write_str("i32"),
            Type::I64 => f.write_str("i64"),
            Type::I128 => f.write_str("i128"),
            Type::I256 => f.write_str("i256"),
            Type::Address => f.write_str("address"),
            Type::Signer => f.write_str("signer"),
            Type::Vector(t) => write!(f, "vector<{t}>"),
            Type::Datatype(d) => {
                write!(f, "{}::{}", d.module, d.name)?;
                if !d.type_args.is_empty() {
                    f.write_str("<")?;
                    write_list(f, &d.type_args)?;
                    f.write_str(">")?;
                }
                Ok(())
            }
            Type::TypeParameter(i) => write!(f, "T{i}"),
            Type::Reference(t) => write!(f, "&{t}"),
            Type::MutableReference(t) => write!(f, "&mut {t}"),
            Type::Function(func) => {
                // Results always in parentheses, so that nested closure types and their
                // abilities read back unambiguously: `|u64, bool|(u8) has copy + drop`.
                f.write_str("|")?;
                write_closure_list(f, &func.params)?;
                f.write_str("|(")?;
                write_closure_list(f, &func.returns)?;
                f.write_str(")")?;
                if !func.abilities.is_empty() {
                    let names: Vec<_> = func.abilities.iter().map(|a| a.name()).collect();
                    write!(f, " has {}", names.join(" + "))?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Type {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_move_source() {
        let string = Type::datatype(ModuleId::new(Address::from_u64(1), "string"), "String", vec![]);
        assert_eq!(Type::Vector(Box::new(string)).to_string(), "vector<0x1::string::String>");
        let opt = Type::datatype(ModuleId::new(Address::from_u64(1), "option"), "Option", vec![Type::U64]);
        assert_eq!(opt.to_string(), "0x1::option::Option<u64>");
        let r = Type::MutableReference(Box::new(Type::TypeParameter(0)));
        assert_eq!(r.to_string(), "&mut T0");
        assert_eq!(ModuleId::parse("0x1::Epoch").unwrap().to_string(), "0x1::Epoch");
        assert!(ModuleId::parse("0x1::1bad").is_none());
    }
}
