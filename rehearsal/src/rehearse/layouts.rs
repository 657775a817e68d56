//! Layouts of a release by struct tag, cached, each with a compiled checker of its bytes: what
//! a rehearsal decodes every resource with, before the upgrade (the old release) and after it
//! (the new one).

use migrations::plan::Skipper;
use migrations::value::{decode_within, DecodeErrorKind};
use migrations::{Layout, ReleaseIndex, StructTag, TypeTag};
use std::collections::HashMap;

/// Layouts cached before the cache is cleared (a state with more distinct tags re-resolves; the
/// cache is never iterated, so its order is never seen).
pub const LAYOUT_CACHE: usize = 4096;

/// A struct tag's layout, a checker of its bytes compiled from it, and the memory a value of it
/// may take when it is built to say why its bytes do not decode.
#[derive(Debug, Clone)]
pub struct Known {
    pub layout: Layout,
    pub skipper: Skipper,
    pub budget: usize,
}

impl Known {
    fn new(layout: Layout, budget: usize) -> Known {
        Known { skipper: Skipper::of(&layout), layout, budget }
    }

    /// Whether `bytes` decode with the layout, and if not why. The checker builds nothing; only
    /// bytes it refuses are decoded, to name where and why, and within the budget: a length the
    /// bytes declare cannot make the rehearsal allocate past it (a vector of a million structs
    /// takes a hundred times its bytes when built).
    pub fn check(&self, bytes: &[u8]) -> Result<(), String> {
        if self.skipper.accepts(bytes) {
            return Ok(());
        }
        match decode_within(bytes, &self.layout, self.budget) {
            Ok(_) => Ok(()),
            Err(e) => match e.kind {
                DecodeErrorKind::OverBudget { .. } => Err(format!(
                    "{} bytes that do not read as the layout; why was not worked out: built, the value would take more than the {} bytes of memory one value is given (--cache-mb)",
                    bytes.len(),
                    self.budget
                )),
                _ => Err(e.to_string()),
            },
        }
    }
}

/// A layout cache over one release.
#[derive(Debug)]
pub struct Layouts<'a> {
    index: ReleaseIndex<'a>,
    cache: HashMap<StructTag, Result<Known, String>>,
    /// The memory one value may take when built ([`Known::check`]).
    budget: usize,
}

impl<'a> Layouts<'a> {
    pub fn new(index: ReleaseIndex<'a>, budget: usize) -> Layouts<'a> {
        Layouts { index, cache: HashMap::new(), budget }
    }

    pub fn index(&self) -> &ReleaseIndex<'a> {
        &self.index
    }

    /// The layout of `tag`, or why it has none.
    pub fn get(&mut self, tag: &StructTag) -> &Result<Known, String> {
        if self.cache.len() >= LAYOUT_CACHE && !self.cache.contains_key(tag) {
            self.cache.clear();
        }
        let (index, budget) = (&self.index, self.budget);
        self.cache.entry(tag.clone()).or_insert_with(|| {
            index.layout_of_struct_tag(tag).map(|layout| Known::new(layout, budget)).map_err(|e| e.to_string())
        })
    }

    /// The layout of a value type (a table's values), or why it has none.
    pub fn get_type(&mut self, ty: &TypeTag) -> Result<Known, String> {
        if let TypeTag::Struct(tag) = ty {
            return self.get(tag).clone();
        }
        self.index.layout_of_type_tag(ty).map(|layout| Known::new(layout, self.budget)).map_err(|e| e.to_string())
    }

    /// Whether the release declares the struct `tag` is an instance of.
    pub fn declares(&self, tag: &StructTag) -> bool {
        self.index.module(&tag.module_id()).is_some_and(|m| m.find_struct(&tag.name).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binary_format::{Address, ModuleId};
    use migrations::layout::{FieldLayout, StructLayout};

    /// `struct S { items: vector<Pair> }`, `struct Pair { a: vector<u8>, b: vector<u8> }`: an
    /// element of two bytes builds into a struct of two values (well over 100 bytes).
    fn pairs() -> Layout {
        let bytes = Layout::Vector(Box::new(Layout::U8));
        let field = |name: &str, layout: Layout| FieldLayout { name: name.into(), layout };
        let module = ModuleId::new(Address::from_u64(1), "m");
        let pair = StructLayout {
            module: module.clone(),
            name: "Pair".into(),
            fields: vec![field("a", bytes.clone()), field("b", bytes)],
        };
        let items = field("items", Layout::Vector(Box::new(Layout::Struct(Box::new(pair)))));
        Layout::Struct(Box::new(StructLayout { module, name: "S".into(), fields: vec![items] }))
    }

    /// A value of `n` empty pairs, and one byte too many.
    fn refused(n: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        binary_format::write_uleb(&mut bytes, n as u64);
        bytes.resize(bytes.len() + 2 * n, 0);
        bytes.push(7);
        bytes
    }

    #[test]
    fn bytes_the_checker_refuses_are_decoded_for_the_reason_within_the_budget() {
        let known = Known::new(pairs(), 64 << 10);
        // Small: the reason, where and why.
        let small = known.check(&refused(3)).unwrap_err();
        assert!(small.contains("1 bytes left after the value"), "{small}");
        // 100,000 pairs (200 KB) would take ~19 MB built: refused at the budget, and said so in
        // one line, instead of built (before, `decode` built the whole value to name the byte).
        let big = known.check(&refused(100_000)).unwrap_err();
        assert!(big.contains("200004 bytes that do not read as the layout"), "{big}");
        assert!(big.contains("more than the 65536 bytes of memory one value is given"), "{big}");
        assert!(!big.contains('\n'));
        // What the checker accepts is never built.
        let mut good = refused(100_000);
        good.pop();
        assert_eq!(known.check(&good), Ok(()));
    }
}
