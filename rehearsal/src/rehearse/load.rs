//! The load: the state streamed once into the scratch store, every resource decoded with the old
//! layouts (counting those already undecodable), and what the rest of the rehearsal needs read
//! off it on the way: instances per tag, the stored instances the gate says would halt, the
//! generic instances the migrations must be made concrete for.

use super::report::{Example, Halt};
use super::side::Side;
use super::Bounded;
use crate::error::RehearsalError;
use crate::state::{Context, Problems, Resource, StateError, StateSource};
use binary_format::ModuleId;
use migrations::plan::Skipper;
use migrations::store::{Store, WriteBatch};
use migrations::{decode, Layout, ReleaseIndex, StructTag, TypeTag};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use vm_hooks::persistent::tag_prefix;
use vm_hooks::RedbStore;

/// Resources per batch written to the scratch store.
const BATCH: usize = 50_000;
/// Layouts cached before the cache is cleared (a state with more distinct tags re-resolves).
pub const LAYOUT_CACHE: usize = 4096;
/// Distinct tags counted one by one; beyond, they are counted together.
pub const MAX_TAGS: usize = 100_000;

/// What the load found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub resources: u64,
    pub bytes: u64,
    pub decoded: u64,
    pub undecodable: u64,
    pub undecodable_examples: Bounded<Example>,
    /// Resources per tag.
    pub tags: BTreeMap<StructTag, u64>,
    /// Resources of tags beyond [`MAX_TAGS`].
    pub other_tags: u64,
    /// Would halt, per struct (as the gate names it).
    pub halts: BTreeMap<String, Halt>,
    /// Generic instances seen, per migration id.
    pub instances: BTreeMap<String, BTreeSet<Vec<TypeTag>>>,
    pub problems: Problems,
}

/// A struct tag's layout, and a checker of its bytes compiled from it.
#[derive(Debug, Clone)]
pub struct Known {
    pub layout: Layout,
    pub skipper: Skipper,
}

impl Known {
    /// Whether `bytes` decode with the layout, and if not why.
    pub fn check(&self, bytes: &[u8]) -> Result<(), String> {
        if self.skipper.accepts(bytes) {
            return Ok(());
        }
        decode(bytes, &self.layout).map(|_| ()).map_err(|e| e.to_string())
    }
}

/// A layout cache.
#[derive(Debug)]
pub struct Layouts<'a> {
    index: ReleaseIndex<'a>,
    cache: HashMap<StructTag, Result<Known, String>>,
}

impl<'a> Layouts<'a> {
    pub fn new(index: ReleaseIndex<'a>) -> Layouts<'a> {
        Layouts { index, cache: HashMap::new() }
    }

    pub fn index(&self) -> &ReleaseIndex<'a> {
        &self.index
    }

    /// The layout of `tag`, or why it has none.
    pub fn get(&mut self, tag: &StructTag) -> &Result<Known, String> {
        if self.cache.len() >= LAYOUT_CACHE && !self.cache.contains_key(tag) {
            self.cache.clear();
        }
        let index = &self.index;
        self.cache.entry(tag.clone()).or_insert_with(|| {
            index
                .layout_of_struct_tag(tag)
                .map(|layout| Known { skipper: Skipper::of(&layout), layout })
                .map_err(|e| e.to_string())
        })
    }
}

#[allow(clippy::too_many_arguments)]
pub fn load(
    source: &mut dyn StateSource,
    context: &Context<'_>,
    layouts: &mut Layouts<'_>,
    undeclared: &BTreeMap<(ModuleId, String), String>,
    generic: &[(String, ModuleId, String)],
    store: &mut RedbStore,
    side: &mut Side,
    examples: usize,
    progress: &mut dyn FnMut(u64),
) -> Result<Loaded, RehearsalError> {
    let mut out = Loaded { undecodable_examples: Bounded::new(examples), ..Loaded::default() };
    let mut batch = WriteBatch::new();
    let mut pending = 0usize;
    let mut failure: Option<RehearsalError> = None;
    let mut problems = Problems::default();
    let mut last_prefix: Option<(StructTag, Vec<u8>)> = None;
    let mut run: Option<(StructTag, Option<String>)> = None;
    let result = source.resources(
        context,
        &mut |r: Resource<'_>| {
            out.resources += 1;
            out.bytes += r.bytes.len() as u64;
            let distinct = out.tags.len();
            match out.tags.get_mut(r.tag) {
                Some(n) => *n += 1,
                None if distinct < MAX_TAGS => {
                    out.tags.insert(r.tag.clone(), 1);
                }
                None => out.other_tags += 1,
            }
            side.account(r.account.as_bytes());
            match layouts.get(r.tag) {
                Ok(known) => match known.check(r.bytes) {
                    Ok(()) => out.decoded += 1,
                    Err(e) => broken(
                        &mut out,
                        side,
                        &mut last_prefix,
                        &r,
                        format!("does not decode with the old layout: {e}"),
                    ),
                },
                Err(e) => {
                    let e = format!("no old layout: {e}");
                    broken(&mut out, side, &mut last_prefix, &r, e)
                }
            }
            // What the tag means for the upgrade, worked out once per run of one tag.
            if run.as_ref().is_none_or(|(t, _)| t != r.tag) {
                let id = r.tag.module_id();
                let change = undeclared.get(&(id.clone(), r.tag.name.clone())).cloned();
                for (entry, from, name) in generic {
                    if *from == id && *name == r.tag.name {
                        out.instances.entry(entry.clone()).or_default().insert(r.tag.type_args.clone());
                    }
                }
                run = Some((r.tag.clone(), change));
            }
            if let Some((_, Some(change))) = &run {
                let halt = out.halts.entry(change.clone()).or_insert_with(|| Halt::new(change, examples));
                halt.accounts += 1;
                halt.examples.push(r.account.to_string());
            }
            batch.put_ref(r.account, r.tag, r.bytes.to_vec());
            pending += 1;
            if pending >= BATCH {
                let result =
                    store.apply(std::mem::take(&mut batch)).map_err(RehearsalError::from).and_then(|()| side.commit());
                if let Err(e) = result {
                    let message = e.to_string();
                    failure = Some(e);
                    return Err(StateError::Sink(message));
                }
                pending = 0;
                progress(out.resources);
            }
            Ok(())
        },
        &mut problems,
    );
    if let Some(e) = failure {
        return Err(e);
    }
    result?;
    store.apply(batch)?;
    side.commit()?;
    progress(out.resources);
    out.problems = problems;
    Ok(out)
}

fn broken(
    out: &mut Loaded,
    side: &mut Side,
    last_prefix: &mut Option<(StructTag, Vec<u8>)>,
    r: &Resource<'_>,
    reason: String,
) {
    out.undecodable += 1;
    out.undecodable_examples.push(Example {
        r#struct: r.tag.to_string(),
        account: r.account.to_string(),
        origin: Some(r.origin.to_string()),
        reason,
    });
    if last_prefix.as_ref().is_none_or(|(t, _)| t != r.tag) {
        *last_prefix = Some((r.tag.clone(), tag_prefix(r.tag)));
    }
    if let Some((_, prefix)) = last_prefix {
        let mut key = prefix.clone();
        key.extend_from_slice(r.account.as_bytes());
        side.broken(key);
    }
}
