//! Layouts of a release by struct tag, cached, each with a compiled checker of its bytes: what
//! a rehearsal decodes every resource with, before the upgrade (the old release) and after it
//! (the new one).

use migrations::plan::Skipper;
use migrations::{decode, Layout, ReleaseIndex, StructTag, TypeTag};
use std::collections::HashMap;

/// Layouts cached before the cache is cleared (a state with more distinct tags re-resolves; the
/// cache is never iterated, so its order is never seen).
pub const LAYOUT_CACHE: usize = 4096;

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

/// A layout cache over one release.
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

    /// The layout of a value type (a table's values), or why it has none.
    pub fn get_type(&mut self, ty: &TypeTag) -> Result<Known, String> {
        if let TypeTag::Struct(tag) = ty {
            return self.get(tag).clone();
        }
        self.index
            .layout_of_type_tag(ty)
            .map(|layout| Known { skipper: Skipper::of(&layout), layout })
            .map_err(|e| e.to_string())
    }

    /// Whether the release declares the struct `tag` is an instance of.
    pub fn declares(&self, tag: &StructTag) -> bool {
        self.index.module(&tag.module_id()).is_some_and(|m| m.find_struct(&tag.name).is_some())
    }
}
