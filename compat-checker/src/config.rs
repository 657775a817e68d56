//! The checker's configuration: rules allowed for named items, each with a reason.
//!
//! ```toml
//! [[allow]]
//! rule = "struct-field-renamed"
//! item = "0x4::Wallet::Wallet.total_withdrawn"   # a module, `module::item` or `module::item.field`
//! reason = "renamed on purpose; the rename is declared"
//! ```
//!
//! Allowed changes are still reported, as allowed; they do not fail the check.

use layout_diff::RuleId;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Largest configuration file read: an allow list is a few kilobytes.
pub const MAX_CONFIG_FILE: u64 = 16 << 20;

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
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Invalid { path: PathBuf, line: usize, message: String },
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |line, message: String| ConfigError::Invalid { path: path.to_path_buf(), line, message };
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| text.get(..s.start).map_or(1, |t| t.matches('\n').count() + 1));
            invalid(line, e.message().trim().to_owned())
        })?;
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
        self.allow.iter().find(|a| {
            a.rule == rule.as_str()
                && (location == a.item
                    || location
                        .strip_prefix(a.item.as_str())
                        .is_some_and(|rest| rest.starts_with("::") || rest.starts_with('.')))
        })
    }
}
