//! Which tables a value holds, and of what types.
//!
//! A table's items are stored under their own keys ([`crate::StateKey::TableItem`]: the table's
//! handle and the item's key bytes) with no type: what type an item's bytes are is known only to
//! the value that holds the table, whose field is a `0x1::table::Table<K, V>` (a struct of one
//! field, the handle). Wrappers (`TableWithLength`, `SmartTable`'s buckets, `BigVector`) are
//! structs that hold such a field, so they need no case of their own: walking a value's type
//! through its fields, with type arguments substituted, finds every `Table<K, V>` it can hold,
//! with concrete `K` and `V`. A handle never changes for a table's life, so once a table's owner
//! is decoded the types of all its items are known; values of tables hold tables too, so finding
//! them is repeated over the items of the tables found until nothing new is found.
//!
//! [`TableFinder::holds`] computes, once per type, where a value of it can hold tables
//! ([`Holds`]: nothing for almost every type, so most values are never decoded for this), and
//! [`tables_in`] reads the handles out of a decoded value.

use crate::key::TypeTag;
use crate::layout::{LayoutError, ReleaseIndex, MAX_LAYOUT_DEPTH};
use crate::value::Value;
use binary_format::{Address, DatatypeRef, ModuleId, Type};
use std::collections::BTreeMap;

/// The module and name of the table struct whose field is a handle.
pub const TABLE_MODULE: &str = "table";
/// See [`TABLE_MODULE`].
pub const TABLE_STRUCT: &str = "Table";

/// Whether `module::name` is the framework's `0x1::table::Table`.
pub fn is_table(module: &ModuleId, name: &str) -> bool {
    name == TABLE_STRUCT && module.name == TABLE_MODULE && module.address == Address::from_u64(1)
}

/// A table's key and value types.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableType {
    /// The type of its keys.
    pub key: TypeTag,
    /// The type of its values.
    pub value: TypeTag,
}

/// Where a value of one type holds tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holds {
    /// The value is a `0x1::table::Table<K, V>`: its first field is the handle.
    Table(TableType),
    /// A struct: the fields (by position) that hold tables.
    Struct(Vec<(usize, Holds)>),
    /// A vector whose elements hold tables.
    Vector(Box<Holds>),
    /// An enum: per variant (by index), its fields that hold tables.
    Enum(Vec<(u32, Vec<(usize, Holds)>)>),
}

/// Finds where values hold tables, by type, in one release; remembers each type's answer.
#[derive(Debug)]
pub struct TableFinder<'i, 'a> {
    index: &'i ReleaseIndex<'a>,
    memo: BTreeMap<TypeTag, Option<Holds>>,
}

impl<'i, 'a> TableFinder<'i, 'a> {
    /// A finder over the structs of `index`'s release.
    pub fn new(index: &'i ReleaseIndex<'a>) -> TableFinder<'i, 'a> {
        TableFinder { index, memo: BTreeMap::new() }
    }

    /// Where a value of type `ty` holds tables; `None` when it cannot hold one (a value of it
    /// need not be decoded to find tables). An error when the release cannot resolve the type.
    pub fn holds(&mut self, ty: &TypeTag) -> Result<Option<Holds>, LayoutError> {
        if let Some(found) = self.memo.get(ty) {
            return Ok(found.clone());
        }
        let found = self.walk(&ty.to_type(), 0, &mut Vec::new())?;
        self.memo.insert(ty.clone(), found.clone());
        Ok(found)
    }

    fn walk(
        &mut self,
        ty: &Type,
        depth: usize,
        stack: &mut Vec<(ModuleId, String)>,
    ) -> Result<Option<Holds>, LayoutError> {
        if depth > MAX_LAYOUT_DEPTH {
            return Err(LayoutError::TooDeep { limit: MAX_LAYOUT_DEPTH, path: String::new() });
        }
        match ty {
            Type::Vector(inner) => Ok(self.walk(inner, depth + 1, stack)?.map(|h| Holds::Vector(Box::new(h)))),
            Type::Datatype(d) => self.datatype(d, depth, stack),
            _ => Ok(None),
        }
    }

    fn datatype(
        &mut self,
        d: &DatatypeRef,
        depth: usize,
        stack: &mut Vec<(ModuleId, String)>,
    ) -> Result<Option<Holds>, LayoutError> {
        let width = self.index.address_length();
        let tag = |t: &Type| {
            TypeTag::from_type(t, width)
                .map_err(|e| LayoutError::Unsupported { ty: e.to_string(), path: String::new() })
        };
        if is_table(&d.module, &d.name) {
            let (Some(k), Some(v)) = (d.type_args.first(), d.type_args.get(1)) else {
                return Err(LayoutError::TypeArgumentCount {
                    datatype: format!("{}::{}", d.module, d.name),
                    expected: 2,
                    found: d.type_args.len(),
                    path: String::new(),
                });
            };
            return Ok(Some(Holds::Table(TableType { key: tag(k)?, value: tag(v)? })));
        }
        // A closed datatype's answer is remembered by its tag.
        let closed = tag(&Type::Datatype(Box::new(d.clone()))).ok();
        if let Some(found) = closed.as_ref().and_then(|t| self.memo.get(t)) {
            return Ok(found.clone());
        }
        let module = self
            .index
            .module(&d.module)
            .ok_or_else(|| LayoutError::MissingModule { module: d.module.clone(), path: String::new() })?;
        let decl = module.find_struct(&d.name).ok_or_else(|| LayoutError::MissingStruct {
            module: d.module.clone(),
            name: d.name.clone(),
            path: String::new(),
        })?;
        let me = (d.module.clone(), d.name.clone());
        if stack.contains(&me) {
            return Err(LayoutError::Recursive { cycle: format!("{}::{}", d.module, d.name), path: String::new() });
        }
        stack.push(me);
        let fields = |this: &mut Self, fields: &[binary_format::Field], stack: &mut Vec<(ModuleId, String)>| {
            let mut held = Vec::new();
            for (i, f) in fields.iter().enumerate() {
                if let Some(h) = this.walk(&f.ty.substitute(&d.type_args), depth + 1, stack)? {
                    held.push((i, h));
                }
            }
            Ok::<_, LayoutError>(held)
        };
        let result = match &decl.variants {
            None => fields(self, &decl.fields, stack).map(|held| (!held.is_empty()).then_some(Holds::Struct(held))),
            Some(variants) => {
                let mut held = Vec::new();
                for (i, v) in variants.iter().enumerate() {
                    let inner = fields(self, &v.fields, stack)?;
                    if !inner.is_empty() {
                        held.push((u32::try_from(i).unwrap_or(u32::MAX), inner));
                    }
                }
                Ok((!held.is_empty()).then_some(Holds::Enum(held)))
            }
        };
        stack.pop();
        let result = result?;
        if let Some(t) = closed {
            self.memo.insert(t, result.clone());
        }
        Ok(result)
    }
}

/// The tables `value` (decoded with its type's layout) holds, as `holds` says where: each
/// handle with its table's types, in the order the value holds them.
pub fn tables_in(value: &Value, holds: &Holds, out: &mut Vec<(Address, TableType)>) {
    match (holds, value) {
        (Holds::Table(types), Value::Struct(fields)) => {
            if let Some(Value::Address(handle)) = fields.first() {
                out.push((*handle, types.clone()));
            }
        }
        (Holds::Struct(held), Value::Struct(fields)) => {
            for (i, h) in held {
                if let Some(f) = fields.get(*i) {
                    tables_in(f, h, out);
                }
            }
        }
        (Holds::Vector(h), Value::Vector(elements)) => {
            for e in elements {
                tables_in(e, h, out);
            }
        }
        (Holds::Enum(variants), Value::Variant { index, fields }) => {
            for (_, held) in variants.iter().filter(|(v, _)| v == index) {
                for (i, h) in held {
                    if let Some(f) = fields.get(*i) {
                        tables_in(f, h, out);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::StructTag;
    use binary_format::text::parse_module;
    use binary_format::AddressLength;

    const W: AddressLength = AddressLength::Bytes32;

    fn modules() -> Vec<binary_format::Module> {
        [
            "module 0x1::table (bytecode v6)\n  struct Table<phantom T0: copy + drop, phantom T1> has store\n    handle: address\n",
            "module 0x1::table_with_length (bytecode v6)\n  struct TableWithLength<phantom T0: copy + drop, phantom T1> has store\n    inner: 0x1::table::Table<T0, T1>\n    length: u64\n",
            "module 0x1::voting (bytecode v6)\n  struct Proposal has store\n    votes: u64\n  struct Forum<T0> has key\n    proposals: 0x1::table_with_length::TableWithLength<u64, T0>\n    by_voter: vector<0x1::table::Table<address, u64>>\n    next: u64\n",
        ]
        .iter()
        .map(|t| parse_module(t).unwrap())
        .collect()
    }

    #[test]
    fn wrapped_and_nested_tables_are_found_with_their_concrete_types() {
        let modules = modules();
        let index = ReleaseIndex::new(modules.iter(), W).unwrap();
        let mut finder = TableFinder::new(&index);
        let forum = StructTag::parse("0x1::voting::Forum<0x1::voting::Proposal>", W).unwrap();
        let holds = finder.holds(&TypeTag::Struct(Box::new(forum.clone()))).unwrap().unwrap();
        let proposal = TypeTag::Struct(Box::new(StructTag::parse("0x1::voting::Proposal", W).unwrap()));
        // Forum { proposals: TableWithLength { inner: Table, length }, by_voter: vector<Table>, next }
        let value = Value::Struct(vec![
            Value::Struct(vec![Value::Struct(vec![Value::Address(Address::from_u64(0xaa))]), Value::U64(2)]),
            Value::Vector(vec![
                Value::Struct(vec![Value::Address(Address::from_u64(0xb1))]),
                Value::Struct(vec![Value::Address(Address::from_u64(0xb2))]),
            ]),
            Value::U64(7),
        ]);
        let mut found = Vec::new();
        tables_in(&value, &holds, &mut found);
        let by_voter = TableType { key: TypeTag::Address, value: TypeTag::U64 };
        assert_eq!(
            found,
            vec![
                (Address::from_u64(0xaa), TableType { key: TypeTag::U64, value: proposal.clone() }),
                (Address::from_u64(0xb1), by_voter.clone()),
                (Address::from_u64(0xb2), by_voter),
            ]
        );
        // A type that holds no table needs no decoding.
        assert_eq!(finder.holds(&proposal).unwrap(), None);
        assert_eq!(finder.holds(&TypeTag::Vector(Box::new(TypeTag::U8))).unwrap(), None);
        // A type the release cannot resolve is an error, not "no table".
        let missing = StructTag::parse("0x1::nowhere::Thing", W).unwrap();
        assert!(finder.holds(&TypeTag::Struct(Box::new(missing))).is_err());
    }
}
