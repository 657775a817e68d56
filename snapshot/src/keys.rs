//! Checking the keys of a snapshot as they stream by, cheaply: a key must be a canonical state key
//! of the snapshot's width, and keys must strictly increase. A struct tag is decoded once per run
//! of keys that share it (a resource's key is its tag's bytes and an account), not once per key.

use binary_format::AddressLength;
use migrations::{KeyKind, StateKey};
use std::collections::BTreeMap;

/// What is remembered of the previous keys, and the entries counted per tag.
#[derive(Debug)]
pub(crate) struct KeyChecker {
    width: AddressLength,
    /// The kind and tag bytes of the current run of resource or group keys, the tag rendered,
    /// and the keys of the run so far.
    run: Option<(Vec<u8>, String, u64)>,
    /// Resources and groups per rendered tag, of the runs closed so far.
    tags: BTreeMap<String, u64>,
}

impl KeyChecker {
    pub(crate) fn new(width: AddressLength) -> KeyChecker {
        KeyChecker { width, run: None, tags: BTreeMap::new() }
    }

    /// The counts per rendered tag of every key checked.
    pub(crate) fn into_tags(mut self) -> BTreeMap<String, u64> {
        if let Some((_, rendered, n)) = self.run.take() {
            *self.tags.entry(rendered).or_default() += n;
        }
        self.tags
    }

    /// Checks `key` (not its order: the caller compares it with the previous one), and counts it.
    pub(crate) fn check(&mut self, key: &[u8]) -> Result<(), String> {
        let kind = key.first().copied().and_then(KeyKind::of_byte).ok_or("a key of no known kind")?;
        match kind {
            KeyKind::Resource | KeyKind::Group => {
                let head_len = key
                    .len()
                    .checked_sub(self.width.bytes())
                    .filter(|n| *n > 1)
                    .ok_or("a key too short for its kind")?;
                let head = key.get(..head_len).unwrap_or_default();
                match &mut self.run {
                    Some((h, _, n)) if h.as_slice() == head => *n += 1,
                    _ => {
                        let decoded =
                            StateKey::decode(key, self.width).map_err(|e| format!("a key does not decode: {e}"))?;
                        let rendered = decoded.tag().map(ToString::to_string).unwrap_or_default();
                        if let Some((_, previous, n)) = self.run.replace((head.to_vec(), rendered, 1)) {
                            *self.tags.entry(previous).or_default() += n;
                        }
                    }
                }
                Ok(())
            }
            KeyKind::TableItem => {
                if key.len() < 1 + self.width.bytes() {
                    return Err("a table item's key shorter than a handle".to_owned());
                }
                Ok(())
            }
            KeyKind::Module | KeyKind::Raw => {
                StateKey::decode(key, self.width).map_err(|e| format!("a key does not decode: {e}"))?;
                Ok(())
            }
            KeyKind::Reserved => Err("a reserved key: bookkeeping of a tool, never a chain's state".to_owned()),
        }
    }
}
