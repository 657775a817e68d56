//! The checker's configuration: rules allowed for named items, each with a reason.
//!
//! ```toml
//! [[allow]]
//! rule = "struct-field-renamed"
//! item = "0x4::Wallet::Wallet.total_withdrawn"   # a module, `module::item` or `module::item.field`
//! reason = "renamed on purpose; the rename is declared"
//! ```
//!
//! `item` may end in a wildcard: `"*"` matches every item, `"0x3::*"` everything at `0x3`,
//! `"0x1::coin::*"` everything in one module. An entry that matches nothing is warned about.
//!
//! Allowed changes are still reported, as allowed; they do not fail the check.

use layout_diff::RuleId;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Largest configuration file read: an allow list is a few kilobytes.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;
/// Most allow entries: each is a reviewed exception, and matching is per change.
pub const MAX_ALLOW_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    pub rule: String,
    pub item: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub allow: Vec<Allow>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Input(#[from] input_files::InputError),
    #[error("{path}:{line}: {message}")]
    Invalid { path: PathBuf, line: usize, message: String },
}

impl Config {
    /// Reads and parses a configuration file (a regular file of at most [`MAX_CONFIG_FILE`]
    /// bytes, at most [`MAX_ALLOW_ENTRIES`] entries).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = input_files::read_to_string(path, input_files::Kind::new("configuration", MAX_CONFIG_FILE))?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |line, message: String| ConfigError::Invalid { path: path.to_path_buf(), line, message };
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| text.get(..s.start).map_or(1, |t| t.matches('\n').count() + 1));
            invalid(line, e.message().trim().to_owned())
        })?;
        if config.allow.len() > MAX_ALLOW_ENTRIES {
            return Err(invalid(1, format!("more than {MAX_ALLOW_ENTRIES} allow entries")));
        }
        for a in &config.allow {
            if RuleId::parse(&a.rule).is_none() {
                return Err(invalid(1, format!("unknown rule `{}`", a.rule)));
            }
            if a.reason.trim().is_empty() {
                return Err(invalid(1, format!("allowing `{}` for `{}` needs a reason", a.rule, a.item)));
            }
        }
        Ok(config)
    }

    /// The allowance matching a change at `location` (`module::item.field`), if any.
    pub fn allowance(&self, rule: RuleId, location: &str) -> Option<&Allow> {
        self.allow.iter().find(|a| a.rule == rule.as_str() && a.matches(location))
    }

    /// Warnings for entries that match none of `changes` (rule and `module::item.field`).
    pub fn unmatched<'a>(&self, changes: impl IntoIterator<Item = (RuleId, String)> + Clone + 'a) -> Vec<String> {
        self.allow
            .iter()
            .filter(|a| !changes.clone().into_iter().any(|(rule, loc)| a.rule == rule.as_str() && a.matches(&loc)))
            .map(|a| format!("allow-list entry `{}` for `{}` matched no change", a.rule, a.item))
            .collect()
    }
}

impl Allow {
    /// Whether the entry's `item` covers a change at `location`.
    pub fn matches(&self, location: &str) -> bool {
        let item = self.item.as_str();
        if item == "*" {
            return true;
        }
        if let Some(prefix) = item.strip_suffix('*') {
            return location.starts_with(prefix);
        }
        location == item
            || location.strip_prefix(item).is_some_and(|rest| rest.starts_with("::") || rest.starts_with('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(item: &str) -> Allow {
        Allow { rule: "struct-field-added".into(), item: item.into(), reason: "r".into() }
    }

    #[test]
    fn wildcards_and_prefixes() {
        assert!(allow("*").matches("0x2::kiosk::Kiosk.a"));
        assert!(allow("0x3::*").matches("0x3::staking::Pool.b"));
        assert!(!allow("0x3::*").matches("0x30::staking::Pool.b"));
        assert!(allow("0x1::coin::*").matches("0x1::coin::Coin.value"));
        assert!(allow("0x1::coin").matches("0x1::coin::Coin.value"));
        assert!(!allow("0x1::coin").matches("0x1::coins::Coin.value"));
        let config = Config { allow: vec![allow("0x1::coin"), allow("0x9::*")] };
        let warnings = config.unmatched(vec![(RuleId::StructFieldAdded, "0x1::coin::Coin.v".to_owned())]);
        assert_eq!(warnings, vec!["allow-list entry `struct-field-added` for `0x9::*` matched no change".to_owned()]);
    }
}
