//! After the migration: every resource of the scratch state decoded with the new layouts, in one
//! scan that also computes our state root and the state's size. A resource that does not decode
//! is told apart from one already broken before the upgrade; one whose struct the new release
//! removed is counted apart.

use super::load::{Known as Checked, Layouts};
use super::report::{Example, Removed};
use super::side::Side;
use super::Bounded;
use crate::error::RehearsalError;
use binary_format::AddressLength;
use migrations::StructTag;
use std::collections::BTreeMap;
use vm_hooks::persistent::decode_prefix;
use vm_hooks::{RedbStore, RootHasher, StateRoot};

/// What the scan found.
#[derive(Debug, Default)]
pub struct After {
    pub resources: u64,
    pub bytes: u64,
    pub decoded: u64,
    /// Undecodable with the new layouts, in all.
    pub undecodable: u64,
    /// Of those, decodable before the upgrade: broken by it.
    pub broken_by_upgrade: u64,
    pub examples: Bounded<Example>,
    pub removed: BTreeMap<String, Removed>,
    pub tags: BTreeMap<StructTag, u64>,
    pub root: Option<StateRoot>,
}

enum Known {
    Layout(Checked),
    Removed(String),
    Missing(String),
}

pub fn scan(
    store: &RedbStore,
    layouts: &mut Layouts<'_>,
    side: &Side,
    width: AddressLength,
    examples: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<After, RehearsalError> {
    let mut out = After { examples: Bounded::new(examples), ..After::default() };
    let mut root = RootHasher::new();
    let mut current: Option<(Vec<u8>, StructTag, Known)> = None;
    let mut failure: Option<RehearsalError> = None;
    store.for_each_raw(&mut |prefix, account, bytes| {
        if failure.is_some() {
            return;
        }
        root.add(prefix, account, bytes);
        out.resources += 1;
        out.bytes += bytes.len() as u64;
        if current.as_ref().is_none_or(|(p, _, _)| p.as_slice() != prefix) {
            let tag = match decode_prefix(prefix, width) {
                Ok(t) => t,
                Err(e) => {
                    failure = Some(e.into());
                    return;
                }
            };
            let index = layouts.index();
            let struct_exists = index.module(&tag.module_id()).is_some_and(|m| m.find_struct(&tag.name).is_some());
            let known = if !struct_exists {
                Known::Removed(format!("{}::{}", tag.module_id(), tag.name))
            } else {
                match layouts.get(&tag) {
                    Ok(l) => Known::Layout(l.clone()),
                    Err(e) => Known::Missing(e.clone()),
                }
            };
            current = Some((prefix.to_vec(), tag, known));
        }
        let Some((_, tag, known)) = &current else { return };
        *out.tags.entry(tag.clone()).or_default() += 1;
        let reason = match known {
            Known::Layout(l) => match l.check(bytes) {
                Ok(()) => None,
                Err(e) => Some(format!("does not decode with the new layout: {e}")),
            },
            Known::Removed(s) => {
                let r = out.removed.entry(s.clone()).or_insert_with(|| Removed::new(s, examples));
                r.resources += 1;
                r.examples.push(account.to_string());
                Some("the new release removed its struct".to_owned())
            }
            Known::Missing(e) => Some(format!("no new layout: {e}")),
        };
        match reason {
            None => out.decoded += 1,
            Some(reason) => {
                out.undecodable += 1;
                let mut key = prefix.to_vec();
                key.extend_from_slice(account.as_bytes());
                match side.was_broken(&key) {
                    Ok(true) => {}
                    Ok(false) => {
                        out.broken_by_upgrade += 1;
                        out.examples.push(Example {
                            r#struct: tag.to_string(),
                            account: account.to_string(),
                            origin: None,
                            reason,
                        });
                    }
                    Err(e) => failure = Some(e),
                }
            }
        }
        if out.resources.is_multiple_of(100_000) {
            progress(out.resources);
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    out.root = Some(root.finish());
    progress(out.resources);
    Ok(out)
}
