//! Deciding the address length of a release from all of its modules.
//!
//! The header does not record the length, and one module alone can read "successfully" with the
//! wrong one: a 32-byte module read with 16-byte addresses sees its address table split in two
//! and its own address as `0x0`. So each candidate length is scored over every module of a
//! release, and the evidence is weighed together:
//!
//! - a module whose tables do not parse with a length rules that length out for the release
//!   (unless the module parses with no length at all: then it is just a bad module);
//! - constants of type `address` hold exactly one address: their size is the length (decisive);
//! - an address table whose entries are not all referenced by module handles or friends, or that
//!   holds the same address twice, is what a wrong split produces (compilers emit neither);
//! - a module whose own address is `0x0` is suspicious (no real framework publishes there).

use crate::address::AddressLength;
use crate::deserializer::{parse, Detail, ParseOptions};
use crate::raw::{RawModule, Token};

/// The decision, with what it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub length: AddressLength,
    /// Per candidate length: (length, modules that parse, penalty points). Lower penalty wins.
    pub scores: Vec<(AddressLength, usize, u64)>,
    /// Whether the runner-up had the same score (then the longest length that fits is taken).
    pub ambiguous: bool,
}

fn penalty(m: &RawModule<'_>) -> u64 {
    let mut points = 0u64;
    let width = m.address_length.bytes();
    for k in &m.constants {
        if k.ty == Token::Address {
            points += if k.data.len() == width { 0 } else { 1000 };
        }
    }
    let mut referenced = vec![false; m.addresses.len()];
    for h in m.module_handles.iter().chain(&m.friend_decls) {
        if let Some(r) = referenced.get_mut(usize::from(h.address)) {
            *r = true;
        }
    }
    points += 10 * referenced.iter().filter(|r| !**r).count() as u64;
    let mut sorted = m.addresses.clone();
    sorted.sort();
    sorted.dedup();
    points += 50 * (m.addresses.len() - sorted.len()) as u64;
    if let Some(h) = m.module_handles.get(usize::from(m.self_handle)) {
        if m.addresses.get(usize::from(h.address)).is_some_and(|a| *a == crate::Address::ZERO) {
            points += 5;
        }
    }
    points
}

/// Picks the address length that reads `modules` best. A module that parses with no length counts
/// for none (it is reported when the release is read).
pub fn detect_address_length<'a>(modules: impl IntoIterator<Item = &'a [u8]> + Clone) -> Detection {
    let mut scores = Vec::new();
    for length in AddressLength::ALL {
        // Layouts are enough: function bodies do not depend on the address length, and constants
        // and handles, which do, are decoded at that level.
        let options = ParseOptions::new(length, Detail::Layouts);
        let mut ok = 0usize;
        let mut points = 0u64;
        for bytes in modules.clone() {
            if let Ok(m) = parse(bytes, &options) {
                ok += 1;
                points += penalty(&m);
            }
        }
        scores.push((length, ok, points));
    }
    // Most modules parsed first, then lowest penalty, then the longest length.
    let mut ranked = scores.clone();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)).then(b.0.cmp(&a.0)));
    let best = ranked.first().copied().unwrap_or((AddressLength::Bytes32, 0, 0));
    let ambiguous = ranked.get(1).is_some_and(|r| r.1 == best.1 && r.2 == best.2);
    Detection { length: best.0, scores, ambiguous }
}
