//! Bytecode versions, what each added, and the flavor byte.

use serde::{Serialize, Serializer};
use std::fmt;

/// The magic bytes every module and script starts with.
pub const MAGIC: [u8; 4] = [0xA1, 0x1C, 0xEB, 0x0B];

/// The first format. No abilities (structs are nominal resources or not, type parameters have
/// kinds), no friends, no phantom type parameters; visibility lives in the flags byte.
pub const VERSION_1: u32 = 1;
/// Abilities; function visibility in its own byte (private, public, script, friend); friends.
pub const VERSION_2: u32 = 2;
/// Phantom type parameters: a flag per struct type parameter.
pub const VERSION_3: u32 = 3;
/// Vector bytecodes.
pub const VERSION_4: u32 = 4;
/// The `script` visibility becomes an `entry` flag; module metadata; the self module handle
/// index is written after the tables.
pub const VERSION_5: u32 = 5;
/// u16, u32 and u256.
pub const VERSION_6: u32 = 6;
/// Enums: on Aptos as struct variants, on Sui (flavored) as enum tables.
pub const VERSION_7: u32 = 7;
/// Aptos: function values (closures) and function types; function attributes.
pub const VERSION_8: u32 = 8;
/// Aptos: signed integers.
pub const VERSION_9: u32 = 9;
/// Aptos: `AbortMsg`.
pub const VERSION_10: u32 = 10;

pub const MIN_VERSION: u32 = VERSION_1;
/// Newest Aptos-style version read.
pub const MAX_VERSION: u32 = VERSION_10;
/// Newest Sui version read.
pub const MAX_SUI_VERSION: u32 = VERSION_7;

/// The flavor byte lives in the top 8 bits of the version word.
pub const FLAVOR_MASK: u32 = 0xFF00_0000;
pub const FLAVOR_SHIFT: u32 = 24;
/// Sui's flavor.
pub const FLAVOR_SUI: u8 = 0x05;
/// Aptos sets this flavor on version 7 and later (its readers mask only bits 0x0A).
pub const FLAVOR_APTOS: u8 = 0x0A;

/// The version word of a module: a version number and, from version 7 on Sui, a flavor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub number: u32,
    pub flavor: Option<u8>,
}

impl Version {
    pub const fn new(number: u32) -> Version {
        Version { number, flavor: None }
    }

    pub const fn sui(number: u32) -> Version {
        Version { number, flavor: Some(FLAVOR_SUI) }
    }

    /// Splits a raw version word. Unknown numbers and flavors are left to the caller to judge.
    pub fn from_word(word: u32) -> Version {
        let flavor = ((word & FLAVOR_MASK) >> FLAVOR_SHIFT) as u8;
        Version { number: word & !FLAVOR_MASK, flavor: (flavor != 0).then_some(flavor) }
    }

    pub fn to_word(self) -> u32 {
        self.number | (u32::from(self.flavor.unwrap_or(0)) << FLAVOR_SHIFT)
    }

    pub fn is_sui(self) -> bool {
        self.flavor == Some(FLAVOR_SUI)
    }

    /// Whether enums are encoded in Sui's own tables (flavored v7+) rather than as Aptos struct
    /// variants.
    pub fn has_sui_enums(self) -> bool {
        self.is_sui() && self.number >= VERSION_7
    }

    pub fn has_aptos_variants(self) -> bool {
        !self.is_sui() && self.number >= VERSION_7
    }

    /// Whether this reader knows the version and flavor.
    pub fn is_supported(self) -> bool {
        match self.flavor {
            None | Some(FLAVOR_APTOS) => (MIN_VERSION..=MAX_VERSION).contains(&self.number),
            Some(FLAVOR_SUI) => (VERSION_1..=MAX_SUI_VERSION).contains(&self.number),
            Some(_) => false,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.flavor {
            None => write!(f, "{}", self.number),
            Some(FLAVOR_SUI) => write!(f, "{} (sui)", self.number),
            Some(FLAVOR_APTOS) => write!(f, "{} (aptos)", self.number),
            Some(other) => write!(f, "{} (flavor {other:#04x})", self.number),
        }
    }
}

/// Serialized as two keys, meant to be flattened into the module: `bytecode_version` (the bare
/// number) and, only when the word carries one, `flavor` (`"sui"`, `"aptos"` or the byte).
impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("bytecode_version", &self.number)?;
        match self.flavor {
            None => {}
            Some(FLAVOR_SUI) => map.serialize_entry("flavor", "sui")?,
            Some(FLAVOR_APTOS) => map.serialize_entry("flavor", "aptos")?,
            Some(other) => map.serialize_entry("flavor", &other)?,
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavor_is_split_from_the_number() {
        let v = Version::from_word(0x0500_0007);
        assert_eq!(v, Version::sui(7));
        assert!(v.has_sui_enums() && v.is_supported());
        assert_eq!(v.to_word(), 0x0500_0007);
        assert!(Version::new(7).has_aptos_variants());
        assert!(!Version::from_word(0x0600_0007).is_supported());
        assert!(Version::from_word(0x0A00_0007).has_aptos_variants());
        assert!(!Version::new(11).is_supported());
        assert!(!Version::sui(8).is_supported());
        assert!(!Version::new(0).is_supported());
    }
}
