//! Which types each table of the state holds: a table's items are stored without types, so
//! they are found from the values that hold the tables ([`migrations::tables`]), before the
//! upgrade is judged.
//!
//! The resources and resource-group members of the state are read once (a value is decoded
//! only when its type can hold a table); each table found whose values can hold tables is then
//! read too, and so on until nothing new is found. Tables stated by the source or the user come
//! first; a table found with other types than stated is a conflict the report names. Tables
//! whose items are in the state but whose types nothing gives stay unresolved: their items
//! cannot be judged, and the report names them (the rehearsal is then incomplete).

use super::Bounded;
use crate::error::RehearsalError;
use crate::state::TableTypes;
use binary_format::{AddressLength, Module, ModuleId};
use migrations::group::decode_group;
use migrations::state_key::{prefix_end, table_prefix};
use migrations::store::Store;
use migrations::tables::{is_table, tables_in, TableFinder, TableType, TABLE_STRUCT};
use migrations::value::{decode_within, DecodeErrorKind};
use migrations::{AccountAddress, KeyKind, Layout, ReleaseIndex, StructTag, TypeTag};
use serde::Serialize;
use std::collections::BTreeMap;

/// What was found of the state's tables.
#[derive(Debug, Default)]
pub struct Resolution {
    /// Every table whose types are known, by handle.
    pub types: BTreeMap<AccountAddress, TableType>,
    /// Of them, found in the state (the others were stated).
    pub found: u64,
    pub stated: u64,
    /// Tables with items in the state and no known types: handle and items.
    pub unresolved: Bounded<(String, u64)>,
    pub unresolved_items: u64,
    /// Tables given two sets of types (stated and found, or found twice differently).
    pub conflicts: Bounded<String>,
    /// Values that can hold tables and would take more memory built than one value is given:
    /// not decoded, so the tables they hold are not found from them (`type at key`).
    pub over_budget: Bounded<String>,
}

/// One table of a release's table list, as written to `tables.json` (what a node's
/// `ReleasePlan::with_tables` takes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedTable {
    pub handle: String,
    pub value_type: String,
}

/// Finds the types of the tables of `state`, a state of the release `old` (addresses of
/// `width`), given the tables `stated`; a value is built within `value_budget` bytes of memory.
pub fn resolve(
    state: &dyn Store,
    old: &[&Module],
    width: AddressLength,
    stated: &[TableTypes],
    examples: usize,
    value_budget: usize,
) -> Result<Resolution, RehearsalError> {
    let index = ReleaseIndex::new(old.iter().copied(), width)
        .map_err(|e| RehearsalError::Options(format!("the old release: {e}")))?;
    let mut r = Resolver {
        finder: TableFinder::new(&index),
        index: &index,
        layouts: BTreeMap::new(),
        width,
        out: Resolution {
            unresolved: Bounded::new(examples),
            conflicts: Bounded::new(examples),
            over_budget: Bounded::new(examples),
            ..Resolution::default()
        },
        queue: Vec::new(),
        value_budget,
    };
    for s in stated {
        r.add(s.handle, TableType { key: s.key.clone(), value: s.value.clone() }, &s.origin.to_string(), true);
    }
    // The resources, then the groups' members: only a release that has the table struct has
    // values that hold tables (without it this pass reads nothing of the state).
    let has_tables = old.iter().any(|m| {
        is_table(&ModuleId::new(m.address, m.name.clone()), TABLE_STRUCT)
            && m.structs.iter().any(|s| s.name == TABLE_STRUCT)
    });
    let mut last: Option<(Vec<u8>, Option<StructTag>)> = None;
    let mut failure = None;
    let kinds: &[KeyKind] = if has_tables { &[KeyKind::Resource, KeyKind::Group] } else { &[] };
    for kind in kinds {
        state.scan_keys(&[*kind as u8], None, &mut |key, value| match kind {
            KeyKind::Group => r.visit_group(key, value, &mut failure),
            _ => r.visit_resource(key, value, &mut last, &mut failure),
        })?;
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    // The values of the tables found, as long as they hold more tables.
    while let Some(handle) = r.queue.pop() {
        let Some(types) = r.out.types.get(&handle).cloned() else { continue };
        state.scan_keys(&table_prefix(&handle), None, &mut |key, value| {
            if let Err(e) = r.visit(&types.value, key, value) {
                failure = Some(e);
                return false;
            }
            true
        })?;
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    // Tables with items and no types: one seek per table, its items counted.
    let mut after: Option<Vec<u8>> = None;
    loop {
        let mut next: Option<AccountAddress> = None;
        state.scan_keys(&[KeyKind::TableItem as u8], after.as_deref(), &mut |key, _| {
            next = key.get(1..1 + width.bytes()).and_then(|h| AccountAddress::new(h).ok());
            false
        })?;
        let Some(handle) = next else { break };
        let prefix = table_prefix(&handle);
        if !r.out.types.contains_key(&handle) {
            let mut items = 0u64;
            state.scan_keys(&prefix, None, &mut |_, _| {
                items += 1;
                true
            })?;
            r.out.unresolved_items += items;
            r.out.unresolved.push((handle.to_string(), items));
        }
        match prefix_end(&prefix) {
            // Every item key is longer than its table's prefix: the end is after them all.
            Some(end) => after = Some(end),
            None => break,
        }
    }
    Ok(r.out)
}

struct Resolver<'i, 'a> {
    finder: TableFinder<'i, 'a>,
    index: &'i ReleaseIndex<'a>,
    layouts: BTreeMap<TypeTag, Option<Layout>>,
    width: AddressLength,
    out: Resolution,
    /// Tables found whose values can hold tables, not read yet.
    queue: Vec<AccountAddress>,
    /// The memory one value may take built.
    value_budget: usize,
}

impl Resolver<'_, '_> {
    /// Finds the tables a resource holds (its type read from its key, once per run of keys of
    /// one type); `false` stops the scan with `failure` set.
    fn visit_resource(
        &mut self,
        key: &[u8],
        value: &[u8],
        last: &mut Option<(Vec<u8>, Option<StructTag>)>,
        failure: &mut Option<RehearsalError>,
    ) -> bool {
        let Some(split) = key.len().checked_sub(self.width.bytes()) else { return true };
        let head = key.get(..split).unwrap_or_default();
        if last.as_ref().is_none_or(|(h, _)| h.as_slice() != head) {
            let tag = StructTag::from_bcs(head.get(1..).unwrap_or_default(), self.width).ok();
            *last = Some((head.to_vec(), tag));
        }
        if let Some((_, Some(tag))) = last {
            if let Err(e) = self.visit(&TypeTag::Struct(Box::new(tag.clone())), key, value) {
                *failure = Some(e);
                return false;
            }
        }
        true
    }

    /// Finds the tables a resource group's members hold.
    fn visit_group(&mut self, key: &[u8], value: &[u8], failure: &mut Option<RehearsalError>) -> bool {
        if let Ok(members) = decode_group(value, self.width) {
            for m in members {
                if let Err(e) = self.visit(&TypeTag::Struct(Box::new(m.tag)), key, m.bytes) {
                    *failure = Some(e);
                    return false;
                }
            }
        }
        true
    }

    /// Finds the tables a value of type `ty` (at state key `key`) holds.
    fn visit(&mut self, ty: &TypeTag, key: &[u8], value: &[u8]) -> Result<(), RehearsalError> {
        // A type the release cannot resolve holds no table we can find (the pass reports it).
        let Ok(Some(holds)) = self.finder.holds(ty) else { return Ok(()) };
        let layout = match self.layouts.get(ty) {
            Some(l) => l.clone(),
            None => {
                let l = self.index.layout_of_type_tag(ty).ok();
                self.layouts.insert(ty.clone(), l.clone());
                l
            }
        };
        let Some(layout) = layout else { return Ok(()) };
        // A value that does not decode is the pass's to report; one too large to build is this
        // resolution's (the tables it holds are not found from it).
        let decoded = match decode_within(value, &layout, self.value_budget) {
            Ok(v) => v,
            Err(e) => {
                if matches!(e.kind, DecodeErrorKind::OverBudget { .. }) {
                    let at = migrations::state_key::describe(key, self.width);
                    // A resource's key names its type; a member's or an item's does not.
                    let named =
                        if key.first() == Some(&(KeyKind::Resource as u8)) { at } else { format!("{ty} in {at}") };
                    self.out.over_budget.push(named);
                }
                return Ok(());
            }
        };
        let mut found = Vec::new();
        tables_in(&decoded, &holds, &mut found);
        for (handle, types) in found {
            let Ok(handle) = AccountAddress::from_address(handle, self.width) else { continue };
            self.add(handle, types, &format!("a value of {ty}"), false);
        }
        Ok(())
    }

    fn add(&mut self, handle: AccountAddress, types: TableType, origin: &str, stated: bool) {
        match self.out.types.get(&handle) {
            Some(known) if *known == types => {}
            Some(known) => self.out.conflicts.push(format!(
                "table {handle}: {} holds {} -> {}, it was known as {} -> {}",
                origin, types.key, types.value, known.key, known.value
            )),
            None => {
                if matches!(self.finder.holds(&types.value), Ok(Some(_))) {
                    self.queue.push(handle);
                }
                if stated {
                    self.out.stated += 1;
                } else {
                    self.out.found += 1;
                }
                self.out.types.insert(handle, types);
            }
        }
    }
}
