//! Release names (`v1`, `v2`, ...) as numbers, so that they order as releases do.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A release name such as `v3`, kept as its number: "released at or before v10" must compare
/// numerically, and as strings `v10` would sort before `v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseName(pub u32);

impl ReleaseName {
    pub fn new(number: u32) -> ReleaseName {
        ReleaseName(number)
    }

    pub fn number(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ReleaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl Serialize for ReleaseName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a string is not a release name. Carries the rejected text so the message can quote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a release name: release names are `v` and a decimal number without leading zeros (v1, v2, ...)")]
pub struct ParseReleaseNameError(pub String);

impl FromStr for ReleaseName {
    type Err = ParseReleaseNameError;

    /// Only the canonical spelling is accepted (`v3`, not `V3`, `v03` or `3`): a name that prints
    /// differently from how it was written would make the registry file and its diffs disagree.
    fn from_str(s: &str) -> Result<ReleaseName, ParseReleaseNameError> {
        let bad = || ParseReleaseNameError(s.to_string());
        let digits = s.strip_prefix('v').ok_or_else(bad)?;
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical {
            return Err(bad());
        }
        digits.parse::<u32>().map(ReleaseName).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_numerically() {
        let v2: ReleaseName = "v2".parse().unwrap();
        let v10: ReleaseName = "v10".parse().unwrap();
        assert!(v2 < v10);
        assert_eq!(v10.to_string(), "v10");
        for bad in ["", "v", "2", "V2", "v02", "v-1", "v1.0", "v99999999999", " v1"] {
            assert!(bad.parse::<ReleaseName>().is_err(), "{bad}");
        }
    }
}
