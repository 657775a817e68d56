//! The normalized view of a module: what a layout comparison needs, resolved and ordered so that
//! two modules can be compared field by field.
//!
//! Indices are resolved to names, structs and functions are sorted by name, dependencies and
//! friends by id. Fields and variants keep their declaration order: it is part of the layout.
//! The serde form of these types is the `layout --format json` schema (see README).

use crate::ability::AbilitySet;
use crate::address::Address;
use crate::types::{ModuleId, Type};
use crate::version::Version;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Module {
    pub address: Address,
    pub name: String,
    #[serde(flatten)]
    pub bytecode_version: Version,
    /// Modules this one imports, its own id excluded, sorted.
    pub dependencies: Vec<ModuleId>,
    /// Modules declared as friends, sorted.
    pub friends: Vec<ModuleId>,
    /// Keys of the module's metadata entries, in file order; not valid UTF-8 keys as `0x` hex.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata_keys: Vec<String>,
    /// Structs and enums, sorted by name.
    pub structs: Vec<Struct>,
    /// Functions, sorted by name. Empty when the module was read for layouts only.
    pub functions: Vec<Function>,
}

impl Module {
    pub fn id(&self) -> ModuleId {
        ModuleId::new(self.address, self.name.clone())
    }

    pub fn find_struct(&self, name: &str) -> Option<&Struct> {
        self.structs.binary_search_by(|s| s.name.as_str().cmp(name)).ok().and_then(|i| self.structs.get(i))
    }

    pub fn find_function(&self, name: &str) -> Option<&Function> {
        self.functions.binary_search_by(|f| f.name.as_str().cmp(name)).ok().and_then(|i| self.functions.get(i))
    }

    /// Puts structs, functions, dependencies and friends in canonical order.
    pub fn sort(&mut self) {
        self.structs.sort_by(|a, b| a.name.cmp(&b.name));
        self.functions.sort_by(|a, b| a.name.cmp(&b.name));
        self.dependencies.sort();
        self.dependencies.dedup();
        self.friends.sort();
        self.friends.dedup();
    }
}

/// A type parameter of a struct or enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct DatatypeTypeParameter {
    pub constraints: AbilitySet,
    pub phantom: bool,
}

/// A type parameter of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FunctionTypeParameter {
    pub constraints: AbilitySet,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: Type,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Variant {
    pub name: String,
    pub fields: Vec<Field>,
}

/// A struct, or an enum (Aptos struct variants and Sui enums alike).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Struct {
    pub name: String,
    pub abilities: AbilitySet,
    pub type_params: Vec<DatatypeTypeParameter>,
    /// Declared fields in order; empty for enums and native structs.
    pub fields: Vec<Field>,
    /// `Some` for an enum: its variants in declaration order.
    pub variants: Option<Vec<Variant>>,
    /// A native struct (old Move only) has no declared fields.
    #[serde(skip_serializing_if = "is_false")]
    pub native: bool,
}

impl Struct {
    pub fn is_enum(&self) -> bool {
        self.variants.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Private,
    Public,
    /// Also how compilers lower `public(package)`: no reader of the format has a separate byte
    /// for it, so it reads as `friend`.
    Friend,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
            Visibility::Friend => "friend",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Function {
    pub name: String,
    pub visibility: Visibility,
    pub entry: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub native: bool,
    pub type_params: Vec<FunctionTypeParameter>,
    pub params: Vec<Type>,
    pub returns: Vec<Type>,
}

fn is_false(b: &bool) -> bool {
    !*b
}
