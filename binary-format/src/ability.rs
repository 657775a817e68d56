//! Abilities, and how version 1 modules, which predate them, are read as abilities.
//!
//! Version 1 modules carry a *kind* instead: a struct is a nominal resource or not, and a type
//! parameter is constrained to "all", "copyable" or "resource" types. We map them the way the
//! reference readers do, so that a v1 module and its v2+ recompilation compare equal where the
//! source did not change:
//!
//! | version 1                    | read as                 |
//! |------------------------------|-------------------------|
//! | nominal resource struct      | `key, store`            |
//! | normal struct                | `copy, drop, store`     |
//! | struct type parameter: all   | no constraint           |
//! | ... copyable                 | `copy, drop`            |
//! | ... resource                 | `key`                   |
//! | function type parameter      | as for structs, plus `store` |
//!
//! The writer does the reverse for version 1 and refuses ability sets that have no kind.

use serde::{Serialize, Serializer};
use std::fmt;

/// One ability, with its bit in the encoded ability byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ability {
    Copy = 0x1,
    Drop = 0x2,
    Store = 0x4,
    Key = 0x8,
}

impl Ability {
    /// In the order Move source lists them.
    pub const ALL: [Ability; 4] = [Ability::Copy, Ability::Drop, Ability::Store, Ability::Key];

    pub fn name(self) -> &'static str {
        match self {
            Ability::Copy => "copy",
            Ability::Drop => "drop",
            Ability::Store => "store",
            Ability::Key => "key",
        }
    }
}

/// A set of abilities, as the byte the format stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AbilitySet(u8);

impl AbilitySet {
    pub const EMPTY: AbilitySet = AbilitySet(0);
    pub const ALL_BITS: u8 = 0xf;

    /// The set a byte encodes, or `None` if the byte has bits that name no ability.
    pub fn from_bits(bits: u8) -> Option<AbilitySet> {
        (bits & !Self::ALL_BITS == 0).then_some(AbilitySet(bits))
    }

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn of(abilities: &[Ability]) -> AbilitySet {
        AbilitySet(abilities.iter().fold(0, |acc, a| acc | *a as u8))
    }

    pub fn has(self, ability: Ability) -> bool {
        self.0 & ability as u8 != 0
    }

    pub fn with(self, ability: Ability) -> AbilitySet {
        AbilitySet(self.0 | ability as u8)
    }

    pub fn iter(self) -> impl Iterator<Item = Ability> {
        Ability::ALL.into_iter().filter(move |a| self.has(*a))
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for AbilitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(a.name())?;
        }
        Ok(())
    }
}

impl Serialize for AbilitySet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(Ability::name))
    }
}

/// The version 1 kind of a type parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyKind {
    All = 0x1,
    Copyable = 0x2,
    Resource = 0x3,
}

/// Where a version 1 kind stands: the mapping differs for function type parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindPosition {
    StructTypeParameter,
    FunctionTypeParameter,
}

impl LegacyKind {
    pub fn from_byte(b: u8) -> Option<LegacyKind> {
        match b {
            0x1 => Some(LegacyKind::All),
            0x2 => Some(LegacyKind::Copyable),
            0x3 => Some(LegacyKind::Resource),
            _ => None,
        }
    }

    pub fn to_abilities(self, position: KindPosition) -> AbilitySet {
        let base = match self {
            LegacyKind::All => AbilitySet::EMPTY,
            LegacyKind::Copyable => AbilitySet::of(&[Ability::Copy, Ability::Drop]),
            LegacyKind::Resource => AbilitySet::of(&[Ability::Key]),
        };
        match position {
            KindPosition::StructTypeParameter => base,
            KindPosition::FunctionTypeParameter => base.with(Ability::Store),
        }
    }

    /// The kind that reads back as `set`, if there is one.
    pub fn from_abilities(set: AbilitySet, position: KindPosition) -> Option<LegacyKind> {
        [LegacyKind::All, LegacyKind::Copyable, LegacyKind::Resource]
            .into_iter()
            .find(|k| k.to_abilities(position) == set)
    }
}

/// Abilities of a version 1 struct from its nominal-resource flag.
pub fn legacy_struct_abilities(is_nominal_resource: bool) -> AbilitySet {
    if is_nominal_resource {
        AbilitySet::of(&[Ability::Key, Ability::Store])
    } else {
        AbilitySet::of(&[Ability::Copy, Ability::Drop, Ability::Store])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_json_follow_source_order() {
        let set = AbilitySet::of(&[Ability::Key, Ability::Copy]);
        assert_eq!(set.to_string(), "copy, key");
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["copy","key"]"#);
    }

    #[test]
    fn unknown_ability_bits_are_rejected() {
        assert!(AbilitySet::from_bits(0x10).is_none());
        assert_eq!(AbilitySet::from_bits(0xf).map(|s| s.iter().count()), Some(4));
    }

    #[test]
    fn legacy_kinds_map_both_ways() {
        for pos in [KindPosition::StructTypeParameter, KindPosition::FunctionTypeParameter] {
            for kind in [LegacyKind::All, LegacyKind::Copyable, LegacyKind::Resource] {
                assert_eq!(LegacyKind::from_abilities(kind.to_abilities(pos), pos), Some(kind));
            }
        }
        assert_eq!(LegacyKind::Resource.to_abilities(KindPosition::FunctionTypeParameter).to_string(), "store, key");
        assert_eq!(legacy_struct_abilities(true).to_string(), "store, key");
    }
}
