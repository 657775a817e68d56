//! What a backup's hashes stand for: struct tags behind Libra-era resource paths, and account
//! addresses behind record keys.
//!
//! A Libra-era path holds `hash(StructTag)`, so the tags the release can form are hashed and
//! looked up: every non-generic struct with `key`, and every generic one instantiated with
//! primitives and the release's non-generic structs; when a hash is not among those, the
//! generic structs are also tried with arguments that are themselves generic structs instantiated
//! that way (built once, only then). A record's key is `hash(address)`: well-known addresses are
//! tried, then every address its resources mention, then (by the caller) every address the whole
//! state mentions.

use super::hash::{Hash, Hashes};
use super::paths::WIDTH;
use binary_format::{Ability, Module};
use migrations::{AccountAddress, StructTag, TypeTag, Value};
use std::collections::HashMap;

/// Most candidate tags hashed for one release (a bound on the time and memory of the table).
pub const MAX_CANDIDATES: usize = 4_000_000;

/// Struct tags by the hash of their BCS bytes.
#[derive(Debug)]
pub struct TagTable {
    hashes: Hashes,
    map: HashMap<Hash, StructTag>,
    /// (key structs with type parameters) and the arguments tried in the first stage.
    generic_keys: Vec<(StructTag, usize)>,
    simple_args: Vec<TypeTag>,
    /// One-parameter generic structs, for the second stage's arguments.
    generic_one: Vec<StructTag>,
    extended: bool,
    /// Candidates left out for the bound.
    pub truncated: bool,
}

fn tag_of(module: &Module, name: &str, args: Vec<TypeTag>) -> Option<StructTag> {
    Some(StructTag {
        address: AccountAddress::from_address(module.address, WIDTH).ok()?,
        module: module.name.clone(),
        name: name.to_owned(),
        type_args: args,
    })
}

/// Every tuple of `k` arguments from `args`, at most `max` of them.
fn tuples(args: &[TypeTag], k: usize, max: usize) -> Vec<Vec<TypeTag>> {
    let mut out: Vec<Vec<TypeTag>> = vec![Vec::new()];
    for _ in 0..k {
        let mut next = Vec::new();
        'outer: for prefix in &out {
            for a in args {
                if next.len() >= max {
                    break 'outer;
                }
                let mut t = prefix.clone();
                t.push(a.clone());
                next.push(t);
            }
        }
        out = next;
    }
    out
}

impl TagTable {
    /// The first stage for `modules`.
    pub fn new(modules: &[&Module], hashes: Hashes) -> TagTable {
        let mut table = TagTable {
            hashes,
            map: HashMap::new(),
            generic_keys: Vec::new(),
            simple_args: vec![
                TypeTag::Bool,
                TypeTag::U8,
                TypeTag::U64,
                TypeTag::U128,
                TypeTag::Address,
                TypeTag::Signer,
                TypeTag::Vector(Box::new(TypeTag::U8)),
                TypeTag::U16,
                TypeTag::U32,
                TypeTag::U256,
            ],
            generic_one: Vec::new(),
            extended: false,
            truncated: false,
        };
        for m in modules {
            for s in &m.structs {
                let key = s.abilities.has(Ability::Key);
                match (s.type_params.len(), key) {
                    (0, _) => {
                        if let Some(tag) = tag_of(m, &s.name, Vec::new()) {
                            table.simple_args.push(TypeTag::Struct(Box::new(tag.clone())));
                            if key {
                                table.insert(tag);
                            }
                        }
                    }
                    (n, _) => {
                        if let Some(tag) = tag_of(m, &s.name, Vec::new()) {
                            if key {
                                table.generic_keys.push((tag.clone(), n));
                            }
                            if n == 1 {
                                table.generic_one.push(tag);
                            }
                        }
                    }
                }
            }
        }
        let keys = table.generic_keys.clone();
        let args = table.simple_args.clone();
        for (base, n) in &keys {
            // Three or more parameters: primitives only (the product grows too fast).
            let pool = if *n >= 3 { args.get(..10).unwrap_or_default() } else { args.as_slice() };
            table.instantiate(base, *n, pool);
        }
        table
    }

    fn insert(&mut self, tag: StructTag) {
        if self.map.len() >= MAX_CANDIDATES {
            self.truncated = true;
            return;
        }
        self.map.insert(self.hashes.struct_tag(&tag.to_bcs()), tag);
    }

    fn instantiate(&mut self, base: &StructTag, n: usize, pool: &[TypeTag]) {
        let room = MAX_CANDIDATES.saturating_sub(self.map.len());
        let all = tuples(pool, n, room.saturating_add(1));
        if all.len() > room {
            self.truncated = true;
        }
        for args in all {
            self.insert(StructTag { type_args: args, ..base.clone() });
        }
    }

    /// Candidates hashed so far.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The tag whose hash is `hash`, building the second stage once if the first has none.
    pub fn resolve(&mut self, hash: &Hash) -> Option<StructTag> {
        if let Some(tag) = self.map.get(hash) {
            return Some(tag.clone());
        }
        if self.extended {
            return None;
        }
        self.extended = true;
        let structs: Vec<TypeTag> =
            self.simple_args.iter().filter(|a| matches!(a, TypeTag::Struct(_))).cloned().collect();
        let mut nested: Vec<TypeTag> = Vec::new();
        for g in &self.generic_one {
            for a in &structs {
                nested.push(TypeTag::Struct(Box::new(StructTag { type_args: vec![a.clone()], ..g.clone() })));
            }
        }
        let keys: Vec<StructTag> = self.generic_keys.iter().filter(|(_, n)| *n == 1).map(|(t, _)| t.clone()).collect();
        for base in &keys {
            self.instantiate(base, 1, &nested);
        }
        self.map.get(hash).cloned()
    }
}

/// Addresses well known on Diem-family chains: `0x0` to `0x1000` (system accounts and the
/// framework; 0L keeps its system account at `0x0`), Diem's root `0xA550C18`, treasury
/// `0xB1E55ED`, testnet dealer `0xDD`, Libra's early config address `0xF1A95`.
pub fn well_known() -> Vec<[u8; 16]> {
    let mut out: Vec<[u8; 16]> = (0u64..=0x1000).chain([0xA550C18, 0xB1E55ED, 0xDD, 0xF1A95]).map(be16).collect();
    out.dedup();
    out
}

fn be16(n: u64) -> [u8; 16] {
    let mut a = [0u8; 16];
    if let Some(tail) = a.get_mut(8..) {
        tail.copy_from_slice(&n.to_be_bytes());
    }
    a
}

/// Record keys of well-known addresses.
#[derive(Debug)]
pub struct AddressBook {
    map: HashMap<Hash, [u8; 16]>,
}

impl AddressBook {
    pub fn new(hashes: &Hashes) -> AddressBook {
        AddressBook { map: well_known().into_iter().map(|a| (hashes.account(&a), a)).collect() }
    }

    pub fn get(&self, key: &Hash) -> Option<[u8; 16]> {
        self.map.get(key).copied()
    }
}

/// Adds to `out` every address `value` mentions: address and signer values, and byte vectors
/// of 16 bytes (an address) or 24 (an event GUID: a counter, then the address).
pub fn addresses_in(value: &Value, out: &mut Vec<[u8; 16]>) {
    match value {
        Value::Address(a) | Value::Signer(a) => {
            if let Some(bytes) = a.to_be_bytes(WIDTH).and_then(|b| <[u8; 16]>::try_from(b).ok()) {
                out.push(bytes);
            }
        }
        Value::Bytes(bytes) if bytes.len() == 16 || bytes.len() == 24 => {
            if let Some(a) = bytes.last_chunk::<16>() {
                out.push(*a);
            }
        }
        Value::Vector(items) => items.iter().for_each(|v| addresses_in(v, out)),
        Value::Struct(fields) | Value::Variant { fields, .. } => fields.iter().for_each(|v| addresses_in(v, out)),
        _ => {}
    }
}

/// Adds every address a tag mentions.
pub fn addresses_in_tag(tag: &StructTag, out: &mut Vec<[u8; 16]>) {
    if let Ok(a) = <[u8; 16]>::try_from(tag.address.as_bytes()) {
        out.push(a);
    }
    for t in &tag.type_args {
        if let TypeTag::Struct(s) = t {
            addresses_in_tag(s, out);
        }
    }
}

/// The address among `candidates` whose hash is `key`.
pub fn find(hashes: &Hashes, key: &Hash, candidates: &mut Vec<[u8; 16]>) -> Option<[u8; 16]> {
    candidates.sort_unstable();
    candidates.dedup();
    candidates.iter().copied().find(|a| hashes.account(a) == *key)
}

/// Windows hashed by the raw address scan in one run, in all records together: about two
/// seconds of hashing. The scan is the last resort for an account nothing names, and costs a
/// hash per byte of its resources (a thousand times a normal read): without a bound per run, a
/// backup of large unnamed records (a 312 KB gzip chunk took 142 s) takes minutes each.
pub const SCAN_BUDGET: u64 = 4 << 20;

/// What is left of a run's raw scan budget, and what it could not scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanBudget {
    /// Windows still to be hashed.
    pub left: u64,
    /// Records whose scan the budget cut short or refused.
    pub records_cut: u64,
}

impl ScanBudget {
    /// A budget of `windows` for one run.
    pub fn new(windows: u64) -> ScanBudget {
        ScanBudget { left: windows, records_cut: 0 }
    }

    /// Every 16-byte window of the `resources`' bytes whose hash is `key` (the last resort for a
    /// record whose resources name no address of it), within what is left of the budget.
    pub fn scan<'b>(
        &mut self,
        hashes: &Hashes,
        key: &Hash,
        resources: impl IntoIterator<Item = &'b [u8]>,
    ) -> Option<[u8; 16]> {
        let mut cut = false;
        let mut found = None;
        for bytes in resources {
            let windows = bytes.len().saturating_sub(15) as u64;
            let allowed = windows.min(self.left);
            cut |= allowed < windows;
            let tried = usize::try_from(allowed).unwrap_or(usize::MAX);
            let hit = bytes.windows(16).take(tried).position(|w| hashes.account(w) == *key);
            self.left -= hit.map_or(allowed, |i| i as u64 + 1);
            if let Some(i) = hit {
                found = bytes.get(i..i + 16).and_then(|w| <[u8; 16]>::try_from(w).ok());
                break;
            }
        }
        if found.is_none() && cut {
            self.records_cut += 1;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::Address;

    /// Addresses are found in address values and in decoded byte vectors of 16 bytes (an
    /// address) or 24 (an event GUID, the address last), and nowhere else.
    #[test]
    fn addresses_are_found_in_values_and_byte_vectors() {
        let a = [0xaa; 16];
        let mut guid = 7u64.to_le_bytes().to_vec();
        guid.extend([0xbb; 16]);
        let value = Value::Struct(vec![
            Value::Address(Address::from_be_slice(&[0xcc; 16]).unwrap()),
            Value::Bytes(a.to_vec()),
            Value::Vector(vec![Value::Struct(vec![Value::Bytes(guid)])]),
            Value::Bytes(vec![0xdd; 20]),
            Value::U64(1),
        ]);
        let mut out = Vec::new();
        addresses_in(&value, &mut out);
        assert_eq!(out, [[0xcc; 16], [0xaa; 16], [0xbb; 16]]);
    }
}
