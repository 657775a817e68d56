//! Full BCS layouts of stored structs, resolved from a release.
//!
//! A module's normalized view says a field is `0x1::Coin::Coin<T0>`; reading stored bytes needs
//! the whole tree below it: which module defines `Coin`, what `T0` is in this instance, how many
//! bytes an address takes in this release. [`ReleaseIndex`] resolves a struct tag such as
//! `0x1::Coin::Balance<0x1::GAS::GAS>` into a [`Layout`] tree with every struct expanded across
//! modules, every type parameter substituted and every field named, so that bytes can be decoded,
//! transcoded and checked without going back to the modules.
//!
//! Modules come from disk and are untrusted: a struct that contains itself (the bytecode verifier
//! forbids it, but our reader does not run the verifier) is an error naming the cycle, nesting is
//! bounded by [`MAX_LAYOUT_DEPTH`], and the size of the tree by [`MAX_LAYOUT_NODES`] (a chain of
//! structs each holding two of the next doubles at every step), never a stack overflow or a huge
//! allocation.

use crate::key::{StructTag, TypeTag};
use binary_format::{AddressLength, DatatypeRef, Field, Module, ModuleId, Type};
use std::collections::BTreeMap;
use std::fmt;

/// Deepest nesting of types in a layout (vectors, structs, enums). The Move VMs bound value depth
/// at 128 too; decoding uses the same bound.
pub const MAX_LAYOUT_DEPTH: usize = 128;
/// Most nodes in one layout tree.
pub const MAX_LAYOUT_NODES: usize = 1 << 16;

/// The shape of a value's BCS encoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Layout {
    /// One byte, 0 or 1.
    Bool,
    /// One byte.
    U8,
    /// 2 bytes, little-endian.
    U16,
    /// 4 bytes, little-endian.
    U32,
    /// 8 bytes, little-endian.
    U64,
    /// 16 bytes, little-endian.
    U128,
    /// 32 bytes, little-endian.
    U256,
    /// An address, in the release's address length.
    Address(AddressLength),
    /// A signer is encoded as its address.
    Signer(AddressLength),
    /// A ULEB128 length, then that many elements.
    Vector(Box<Layout>),
    /// The fields one after another, with nothing between or around them.
    Struct(Box<StructLayout>),
    /// A ULEB128 variant index, then that variant's fields.
    Enum(Box<EnumLayout>),
}

/// A struct: its fields, in declaration order (the order of their bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructLayout {
    /// The module that declares the struct.
    pub module: ModuleId,
    /// The struct's name.
    pub name: String,
    /// The fields, in declaration order.
    pub fields: Vec<FieldLayout>,
}

/// A named field of a struct or enum variant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldLayout {
    /// The field's name: what renames, defaults and handlers refer to.
    pub name: String,
    /// The field's layout, type arguments substituted.
    pub layout: Layout,
}

/// An enum: a ULEB128 variant index, then that variant's fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnumLayout {
    /// The module that declares the enum.
    pub module: ModuleId,
    /// The enum's name.
    pub name: String,
    /// The variants, in declaration order: a variant's position is its index in the bytes.
    pub variants: Vec<VariantLayout>,
}

/// One variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariantLayout {
    /// The variant's name.
    pub name: String,
    /// Its fields, in declaration order (none for a unit variant).
    pub fields: Vec<FieldLayout>,
}

impl StructLayout {
    /// The position and layout of a field.
    pub fn field(&self, name: &str) -> Option<(usize, &Layout)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name).map(|(i, f)| (i, &f.layout))
    }
}

impl Layout {
    /// Fewest bytes a value of this layout encodes to. Used to refuse a vector length that the
    /// remaining input cannot hold before allocating for it.
    pub fn min_size(&self) -> usize {
        match self {
            Layout::Bool | Layout::U8 => 1,
            Layout::U16 => 2,
            Layout::U32 => 4,
            Layout::U64 => 8,
            Layout::U128 => 16,
            Layout::U256 => 32,
            Layout::Address(len) | Layout::Signer(len) => len.bytes(),
            Layout::Vector(_) => 1,
            Layout::Struct(s) => fields_min_size(&s.fields),
            Layout::Enum(e) => {
                e.variants.iter().map(|v| fields_min_size(&v.fields)).min().unwrap_or(0).saturating_add(1)
            }
        }
    }

    /// Nodes in the tree (a primitive is 1).
    pub fn node_count(&self) -> usize {
        match self {
            Layout::Vector(inner) => 1 + inner.node_count(),
            Layout::Struct(s) => 1 + fields_node_count(&s.fields),
            Layout::Enum(e) => 1 + e.variants.iter().map(|v| fields_node_count(&v.fields)).sum::<usize>(),
            _ => 1,
        }
    }

    /// How deep the tree nests (a primitive is 1).
    pub fn depth(&self) -> usize {
        let fields_depth = |fields: &[FieldLayout]| fields.iter().map(|f| f.layout.depth()).max().unwrap_or(0);
        match self {
            Layout::Vector(inner) => 1 + inner.depth(),
            Layout::Struct(s) => 1 + fields_depth(&s.fields),
            Layout::Enum(e) => 1 + e.variants.iter().map(|v| fields_depth(&v.fields)).max().unwrap_or(0),
            _ => 1,
        }
    }
}

fn fields_min_size(fields: &[FieldLayout]) -> usize {
    fields.iter().map(|f| f.layout.min_size()).fold(0, usize::saturating_add)
}

fn fields_node_count(fields: &[FieldLayout]) -> usize {
    fields.iter().map(|f| f.layout.node_count()).sum()
}

fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[FieldLayout]) -> fmt::Result {
    f.write_str("{")?;
    for (i, field) in fields.iter().enumerate() {
        f.write_str(if i == 0 { " " } else { ", " })?;
        write!(f, "{}: {}", field.name, field.layout)?;
    }
    f.write_str(if fields.is_empty() { "}" } else { " }" })
}

impl fmt::Display for Layout {
    /// One line, Move-like: `0x1::Coin::Coin { value: u64 }`, `address16`, `vector<u8>`,
    /// `0x1::E::E { A { x: u8 } | B {} }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layout::Bool => f.write_str("bool"),
            Layout::U8 => f.write_str("u8"),
            Layout::U16 => f.write_str("u16"),
            Layout::U32 => f.write_str("u32"),
            Layout::U64 => f.write_str("u64"),
            Layout::U128 => f.write_str("u128"),
            Layout::U256 => f.write_str("u256"),
            Layout::Address(len) => write!(f, "address{len}"),
            Layout::Signer(len) => write!(f, "signer{len}"),
            Layout::Vector(inner) => write!(f, "vector<{inner}>"),
            Layout::Struct(s) => {
                write!(f, "{}::{} ", s.module, s.name)?;
                write_fields(f, &s.fields)
            }
            Layout::Enum(e) => {
                write!(f, "{}::{} {{", e.module, e.name)?;
                for (i, v) in e.variants.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { " | " })?;
                    write!(f, "{} ", v.name)?;
                    write_fields(f, &v.fields)?;
                }
                f.write_str(if e.variants.is_empty() { "}" } else { " }" })
            }
        }
    }
}

/// Why a layout could not be resolved. `path` is where in the tree it happened
/// (`Stake.locked.value`), empty at the root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// Two modules of the index have one id: which one a layout means is undecided.
    #[error("module {module} is given twice")]
    DuplicateModule {
        /// The repeated id.
        module: ModuleId,
    },
    /// A struct refers to a module the release does not hold.
    #[error("module {module} is not in the release{}", at(.path))]
    MissingModule {
        /// The missing module.
        module: ModuleId,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// A module does not declare the struct or enum referred to.
    #[error("{module} declares no struct or enum {name}{}", at(.path))]
    MissingStruct {
        /// The module searched.
        module: ModuleId,
        /// The missing name.
        name: String,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// A datatype instantiated with the wrong number of type arguments.
    #[error("{datatype} takes {expected} type arguments, {found} given{}", at(.path))]
    TypeArgumentCount {
        /// `0x1::M::S`.
        datatype: String,
        /// Type parameters it declares.
        expected: usize,
        /// Type arguments given.
        found: usize,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// A native struct: the VM knows its layout, the module does not say it.
    #[error("{datatype} is a native struct: its layout is not declared{}", at(.path))]
    NativeStruct {
        /// `0x1::M::S`.
        datatype: String,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// A struct that contains itself through its fields (the verifier forbids it; we do not
    /// run the verifier, so untrusted modules may).
    #[error("{cycle} contains itself{}", at(.path))]
    Recursive {
        /// The cycle, `0x1::A::A -> 0x1::B::B -> 0x1::A::A`.
        cycle: String,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// Nesting deeper than [`MAX_LAYOUT_DEPTH`].
    #[error("layout nests deeper than {limit}{}", at(.path))]
    TooDeep {
        /// The bound.
        limit: usize,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// A tree of more than [`MAX_LAYOUT_NODES`] nodes.
    #[error("layout has more than {limit} nodes{}", at(.path))]
    TooLarge {
        /// The bound.
        limit: usize,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// A type no stored value can have: a signed integer, a reference, a function.
    #[error("type `{ty}` cannot be stored{}", at(.path))]
    Unsupported {
        /// The type, as text.
        ty: String,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// A field whose type is a phantom type parameter: malformed (the verifier forbids it).
    #[error("type parameter T{index} is phantom but holds a value{}", at(.path))]
    PhantomInField {
        /// The parameter's index.
        index: u16,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
    /// A type parameter with no argument: the type asked for is not closed.
    #[error("type parameter T{index} is not bound{}", at(.path))]
    UnboundTypeParameter {
        /// The parameter's index.
        index: u16,
        /// Where in the tree (`Stake.locked`), empty at the root.
        path: String,
    },
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" (at {path})")
    }
}

/// The modules of one release, indexed by id, with the release's address length.
#[derive(Debug, Clone)]
pub struct ReleaseIndex<'a> {
    address_length: AddressLength,
    modules: BTreeMap<ModuleId, &'a Module>,
}

impl<'a> ReleaseIndex<'a> {
    /// Indexes `modules`; two modules with one id are an error (which one would a layout mean?).
    pub fn new(
        modules: impl IntoIterator<Item = &'a Module>,
        address_length: AddressLength,
    ) -> Result<Self, LayoutError> {
        let mut map = BTreeMap::new();
        for m in modules {
            if map.insert(m.id(), m).is_some() {
                return Err(LayoutError::DuplicateModule { module: m.id() });
            }
        }
        Ok(ReleaseIndex { address_length, modules: map })
    }

    /// The width addresses take in this release's layouts.
    pub fn address_length(&self) -> AddressLength {
        self.address_length
    }

    /// The module with this id, if the release holds it.
    pub fn module(&self, id: &ModuleId) -> Option<&'a Module> {
        self.modules.get(id).copied()
    }

    /// Module ids, sorted.
    pub fn module_ids(&self) -> impl Iterator<Item = &ModuleId> {
        self.modules.keys()
    }

    /// The layout of a stored struct: `0x1::Coin::Balance<0x1::GAS::GAS>`.
    pub fn layout_of_struct_tag(&self, tag: &StructTag) -> Result<Layout, LayoutError> {
        self.layout_of_datatype(&tag.datatype())
    }

    /// The layout of a type tag (a vector's element, a type argument).
    pub fn layout_of_type_tag(&self, tag: &TypeTag) -> Result<Layout, LayoutError> {
        self.layout_of_type(&tag.to_type())
    }

    /// The layout of an instantiated struct or enum.
    pub fn layout_of_datatype(&self, datatype: &DatatypeRef) -> Result<Layout, LayoutError> {
        Resolver::new(self).datatype(datatype, &[], 1)
    }

    /// The layout of a closed type (one without type parameters).
    pub fn layout_of_type(&self, ty: &Type) -> Result<Layout, LayoutError> {
        Resolver::new(self).resolve(ty, &[], 1)
    }
}

/// One resolution: the structs being expanded (to find cycles), the field path (for errors) and
/// the node budget.
struct Resolver<'i, 'a> {
    index: &'i ReleaseIndex<'a>,
    stack: Vec<(&'i ModuleId, &'a str)>,
    path: Vec<&'a str>,
    nodes: usize,
}

impl<'i, 'a> Resolver<'i, 'a> {
    fn new(index: &'i ReleaseIndex<'a>) -> Self {
        Resolver { index, stack: Vec::new(), path: Vec::new(), nodes: 0 }
    }

    fn path(&self) -> String {
        self.path.join(".")
    }

    fn count(&mut self, nodes: usize) -> Result<(), LayoutError> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_LAYOUT_NODES {
            return Err(LayoutError::TooLarge { limit: MAX_LAYOUT_NODES, path: self.path() });
        }
        Ok(())
    }

    /// `args` are the layouts of the enclosing datatype's type arguments; `None` for a phantom
    /// parameter, which is never resolved (its type may even be missing from the release: the
    /// bytes do not depend on it).
    fn resolve(&mut self, ty: &Type, args: &[Option<Layout>], depth: usize) -> Result<Layout, LayoutError> {
        if depth > MAX_LAYOUT_DEPTH {
            return Err(LayoutError::TooDeep { limit: MAX_LAYOUT_DEPTH, path: self.path() });
        }
        if !matches!(ty, Type::TypeParameter(_)) {
            self.count(1)?;
        }
        Ok(match ty {
            Type::Bool => Layout::Bool,
            Type::U8 => Layout::U8,
            Type::U16 => Layout::U16,
            Type::U32 => Layout::U32,
            Type::U64 => Layout::U64,
            Type::U128 => Layout::U128,
            Type::U256 => Layout::U256,
            Type::Address => Layout::Address(self.index.address_length),
            Type::Signer => Layout::Signer(self.index.address_length),
            Type::Vector(inner) => Layout::Vector(Box::new(self.resolve(inner, args, depth + 1)?)),
            Type::Datatype(d) => self.datatype(d, args, depth)?,
            Type::TypeParameter(index) => match args.get(usize::from(*index)) {
                Some(Some(layout)) => {
                    if depth + layout.depth() > MAX_LAYOUT_DEPTH + 1 {
                        return Err(LayoutError::TooDeep { limit: MAX_LAYOUT_DEPTH, path: self.path() });
                    }
                    self.count(layout.node_count())?;
                    layout.clone()
                }
                Some(None) => return Err(LayoutError::PhantomInField { index: *index, path: self.path() }),
                None => return Err(LayoutError::UnboundTypeParameter { index: *index, path: self.path() }),
            },
            Type::I8
            | Type::I16
            | Type::I32
            | Type::I64
            | Type::I128
            | Type::I256
            | Type::Reference(_)
            | Type::MutableReference(_)
            | Type::Function(_) => {
                return Err(LayoutError::Unsupported { ty: ty.to_string(), path: self.path() });
            }
        })
    }

    fn datatype(&mut self, d: &DatatypeRef, args: &[Option<Layout>], depth: usize) -> Result<Layout, LayoutError> {
        if depth > MAX_LAYOUT_DEPTH {
            return Err(LayoutError::TooDeep { limit: MAX_LAYOUT_DEPTH, path: self.path() });
        }
        let (module_id, module) = self
            .index
            .modules
            .get_key_value(&d.module)
            .ok_or_else(|| LayoutError::MissingModule { module: d.module.clone(), path: self.path() })?;
        let decl = module.find_struct(&d.name).ok_or_else(|| LayoutError::MissingStruct {
            module: d.module.clone(),
            name: d.name.clone(),
            path: self.path(),
        })?;
        let qualified = || format!("{}::{}", d.module, d.name);
        if decl.type_params.len() != d.type_args.len() {
            return Err(LayoutError::TypeArgumentCount {
                datatype: qualified(),
                expected: decl.type_params.len(),
                found: d.type_args.len(),
                path: self.path(),
            });
        }
        if decl.native {
            return Err(LayoutError::NativeStruct { datatype: qualified(), path: self.path() });
        }
        if let Some(start) = self.stack.iter().position(|&(m, n)| m == module_id && n == decl.name) {
            let cycle: Vec<String> =
                self.stack.iter().skip(start).map(|(m, n)| format!("{m}::{n}")).chain([qualified()]).collect();
            return Err(LayoutError::Recursive { cycle: cycle.join(" -> "), path: self.path() });
        }
        // Type arguments are resolved where they are written, in the caller's environment.
        let mut inner = Vec::with_capacity(d.type_args.len());
        for (param, arg) in decl.type_params.iter().zip(&d.type_args) {
            inner.push(if param.phantom { None } else { Some(self.resolve(arg, args, depth + 1)?) });
        }
        self.stack.push((module_id, decl.name.as_str()));
        let result = match &decl.variants {
            None => self.fields(&decl.fields, &inner, depth).map(|fields| {
                Layout::Struct(Box::new(StructLayout { module: d.module.clone(), name: d.name.clone(), fields }))
            }),
            Some(variants) => {
                let mut out = Vec::with_capacity(variants.len());
                for v in variants {
                    self.path.push(&v.name);
                    let fields = self.fields(&v.fields, &inner, depth);
                    self.path.pop();
                    out.push(VariantLayout { name: v.name.clone(), fields: fields? });
                }
                Ok(Layout::Enum(Box::new(EnumLayout { module: d.module.clone(), name: d.name.clone(), variants: out })))
            }
        };
        self.stack.pop();
        result
    }

    fn fields(
        &mut self,
        fields: &'a [Field],
        args: &[Option<Layout>],
        depth: usize,
    ) -> Result<Vec<FieldLayout>, LayoutError> {
        let mut out = Vec::with_capacity(fields.len());
        for f in fields {
            self.path.push(&f.name);
            let layout = self.resolve(&f.ty, args, depth + 1);
            self.path.pop();
            out.push(FieldLayout { name: f.name.clone(), layout: layout? });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::text::parse_module;
    use binary_format::Address;

    fn index(modules: &[Module]) -> ReleaseIndex<'_> {
        ReleaseIndex::new(modules, AddressLength::Bytes16).unwrap()
    }

    fn modules(texts: &[&str]) -> Vec<Module> {
        texts.iter().map(|t| parse_module(t).unwrap()).collect()
    }

    fn datatype(module: &str, name: &str, type_args: Vec<Type>) -> DatatypeRef {
        DatatypeRef { module: ModuleId::parse(module).unwrap(), name: name.into(), type_args }
    }

    const GENERIC: &str = "
module 0x1::G (bytecode v7)
  struct Pair<T0, T1> has store
    first: T0
    second: vector<T1>
  struct Tagged<phantom T0> has store
    id: u16
  struct Wrapper<T0> has key
    inner: 0x1::G::Pair<T0, u256>
    tagged: 0x1::G::Tagged<0x1::Missing::Nowhere>
  enum Shape<T0> has store
    Empty
    Point
      at: T0
      owner: address
";

    #[test]
    fn substitutes_type_arguments_and_skips_phantom_ones() {
        let ms = modules(&[GENERIC]);
        let layout = index(&ms).layout_of_datatype(&datatype("0x1::G", "Wrapper", vec![Type::U32])).unwrap();
        assert_eq!(
            layout.to_string(),
            "0x1::G::Wrapper { inner: 0x1::G::Pair { first: u32, second: vector<u256> }, \
             tagged: 0x1::G::Tagged { id: u16 } }"
        );
        assert_eq!(layout.min_size(), 4 + 1 + 2);
        assert_eq!(layout.node_count(), 7);
        assert_eq!(layout.depth(), 4);
    }

    #[test]
    fn enums_have_variants_with_fields() {
        let ms = modules(&[GENERIC]);
        let layout = index(&ms).layout_of_datatype(&datatype("0x1::G", "Shape", vec![Type::Bool])).unwrap();
        assert_eq!(layout.to_string(), "0x1::G::Shape { Empty {} | Point { at: bool, owner: address16 } }");
        assert_eq!(layout.min_size(), 1);
    }

    #[test]
    fn missing_modules_and_structs_are_named() {
        let ms = modules(&[GENERIC]);
        let idx = index(&ms);
        let err = idx.layout_of_datatype(&datatype("0x1::Nope", "X", vec![])).unwrap_err();
        assert_eq!(err.to_string(), "module 0x1::Nope is not in the release");
        let err = idx.layout_of_datatype(&datatype("0x1::G", "Nope", vec![])).unwrap_err();
        assert_eq!(err.to_string(), "0x1::G declares no struct or enum Nope");
        let bad_arg = Type::datatype(ModuleId::parse("0x1::Missing").unwrap(), "Nowhere", vec![]);
        let err = idx.layout_of_datatype(&datatype("0x1::G", "Wrapper", vec![bad_arg])).unwrap_err();
        assert_eq!(err.to_string(), "module 0x1::Missing is not in the release");
        let err = idx.layout_of_datatype(&datatype("0x1::G", "Pair", vec![Type::U8])).unwrap_err();
        assert_eq!(err.to_string(), "0x1::G::Pair takes 2 type arguments, 1 given");
    }

    #[test]
    fn a_struct_that_contains_itself_is_an_error() {
        let ms = modules(&[
            "
module 0x1::A (bytecode v6)
  struct A has store
    b: 0x1::B::B
",
            "
module 0x1::B (bytecode v6)
  struct B has store
    items: vector<0x1::A::A>
",
        ]);
        let err = index(&ms).layout_of_datatype(&datatype("0x1::A", "A", vec![])).unwrap_err();
        assert_eq!(err.to_string(), "0x1::A::A -> 0x1::B::B -> 0x1::A::A contains itself (at b.items)");
        // Through a type argument that grows at each step: still caught, by name.
        let ms = modules(&["
module 0x1::R (bytecode v6)
  struct R<T0> has store
    next: 0x1::R::R<vector<T0>>
"]);
        let err = index(&ms).layout_of_datatype(&datatype("0x1::R", "R", vec![Type::U8])).unwrap_err();
        assert!(matches!(err, LayoutError::Recursive { .. }), "{err}");
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let mut deep = Type::U8;
        for _ in 0..MAX_LAYOUT_DEPTH {
            deep = Type::Vector(Box::new(deep));
        }
        let ms = modules(&[GENERIC]);
        let idx = index(&ms);
        assert!(matches!(idx.layout_of_type(&deep), Err(LayoutError::TooDeep { .. })));
        // Each struct holds two of the next: 2^40 leaves if nothing stopped it.
        let mut texts = Vec::new();
        for i in 0..40 {
            texts.push(format!(
                "module 0x1::M{i} (bytecode v6)\n  struct S has store\n    a: 0x1::M{n}::S\n    b: 0x1::M{n}::S\n",
                n = i + 1
            ));
        }
        texts.push("module 0x1::M40 (bytecode v6)\n  struct S has store\n    x: u64\n".into());
        let ms: Vec<Module> = texts.iter().map(|t| parse_module(t).unwrap()).collect();
        let err = index(&ms).layout_of_datatype(&datatype("0x1::M0", "S", vec![])).unwrap_err();
        assert!(matches!(err, LayoutError::TooLarge { .. }), "{err}");
        // Doubling through type parameter substitution: each S{i} holds a Dbl<S{i+1}>.
        let mut texts =
            vec!["module 0x1::D (bytecode v6)\n  struct Dbl<T0> has store\n    a: T0\n    b: T0\n".to_owned()];
        for i in 0..40 {
            texts.push(format!(
                "module 0x1::N{i} (bytecode v6)\n  struct S has store\n    x: 0x1::D::Dbl<0x1::N{n}::S>\n",
                n = i + 1
            ));
        }
        texts.push("module 0x1::N40 (bytecode v6)\n  struct S has store\n    x: u64\n".into());
        let ms: Vec<Module> = texts.iter().map(|t| parse_module(t).unwrap()).collect();
        let err = index(&ms).layout_of_datatype(&datatype("0x1::N0", "S", vec![])).unwrap_err();
        assert!(matches!(err, LayoutError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn phantom_parameters_holding_values_and_unstorable_types_are_errors() {
        let ms = modules(&["
module 0x1::P (bytecode v6)
  struct Bad<phantom T0> has store
    x: T0
  struct Ref has store
    r: i64
"]);
        let idx = index(&ms);
        let err = idx.layout_of_datatype(&datatype("0x1::P", "Bad", vec![Type::U8])).unwrap_err();
        assert_eq!(err, LayoutError::PhantomInField { index: 0, path: "x".into() });
        let err = idx.layout_of_datatype(&datatype("0x1::P", "Ref", vec![])).unwrap_err();
        assert_eq!(err.to_string(), "type `i64` cannot be stored (at r)");
        assert!(matches!(idx.layout_of_type(&Type::TypeParameter(0)), Err(LayoutError::UnboundTypeParameter { .. })));
    }

    #[test]
    fn duplicate_modules_are_refused() {
        let ms = modules(&[GENERIC, GENERIC]);
        assert!(matches!(ReleaseIndex::new(&ms, AddressLength::Bytes16), Err(LayoutError::DuplicateModule { .. })));
    }

    #[test]
    fn address_length_comes_from_the_release() {
        let ms = modules(&[GENERIC]);
        let idx = ReleaseIndex::new(&ms, AddressLength::Bytes32).unwrap();
        let layout = idx.layout_of_type(&Type::Vector(Box::new(Type::Address))).unwrap();
        assert_eq!(layout, Layout::Vector(Box::new(Layout::Address(AddressLength::Bytes32))));
        assert_eq!(idx.module(&ModuleId::new(Address::from_u64(1), "G")).map(|m| m.name.as_str()), Some("G"));
    }
}
