//! Which release a thing belongs to: one identity, a number and a label.
//!
//! A release is ordered by its number (what the on-chain status records, and what "released at or
//! before" compares) and named by its label (what people, declarations and reports use: `v2` for
//! this project's stdlib, `7.0.0` for a framework release folder). The two travel together so
//! that nothing converts between them by guessing: a label is never parsed into a number, and a
//! number never prints as a made-up label.

use crate::registry::ReleaseName;
use std::fmt;
use std::sync::Arc;

/// Longest release label.
pub const MAX_RELEASE_LABEL: usize = 128;

/// A release's name as people write it: 1 to [`MAX_RELEASE_LABEL`] ASCII letters, digits, `.`,
/// `_`, `+` and `-` (what a folder or file name of a release may reasonably be).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseLabel(Arc<str>);

/// A label that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("release `{0}` is not a release label: 1 to {MAX_RELEASE_LABEL} letters, digits, `.`, `_`, `+` and `-`")]
pub struct BadReleaseLabel(pub String);

impl ReleaseLabel {
    /// `label`, checked.
    pub fn new(label: &str) -> Result<ReleaseLabel, BadReleaseLabel> {
        let ok = !label.is_empty()
            && label.len() <= MAX_RELEASE_LABEL
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'));
        if ok {
            Ok(ReleaseLabel(label.into()))
        } else {
            Err(BadReleaseLabel(label.chars().take(MAX_RELEASE_LABEL + 1).collect()))
        }
    }

    /// The label's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReleaseLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for ReleaseLabel {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ReleaseLabel {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl serde::Serialize for ReleaseLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A release: its number (the order, and what the on-chain status records) and its label (what
/// declarations and people call it). Ordered and compared by number, then label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseId {
    number: u32,
    label: ReleaseLabel,
}

impl ReleaseId {
    /// Release `number`, called `label`.
    pub fn new(number: u32, label: ReleaseLabel) -> ReleaseId {
        ReleaseId { number, label }
    }

    /// Release `number` of a registry's `vN` scheme, labelled `vN`.
    pub fn numbered(number: u32) -> ReleaseId {
        let name = ReleaseName::new(number);
        ReleaseId { number, label: ReleaseLabel(name.to_string().into()) }
    }

    /// The order of releases; what the on-chain status records.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// What declarations and people call it.
    pub fn label(&self) -> &ReleaseLabel {
        &self.label
    }
}

impl From<ReleaseName> for ReleaseId {
    fn from(name: ReleaseName) -> ReleaseId {
        ReleaseId::numbered(name.number())
    }
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_checked_and_ids_order_by_number() {
        for good in ["v2", "7.0.0", "framework-7.0.0", "a_b+c"] {
            assert_eq!(ReleaseLabel::new(good).unwrap().as_str(), good);
        }
        for bad in ["", "7 0", "a/b", "\u{1b}[31m", &"x".repeat(MAX_RELEASE_LABEL + 1)] {
            assert!(ReleaseLabel::new(bad).is_err(), "{bad:?}");
        }
        let v2 = ReleaseId::numbered(2);
        let v10 = ReleaseId::numbered(10);
        assert!(v2 < v10);
        assert_eq!(v10.to_string(), "v10");
        let named = ReleaseId::new(7, ReleaseLabel::new("7.0.0").unwrap());
        assert_eq!((named.number(), named.label().as_str()), (7, "7.0.0"));
    }
}
