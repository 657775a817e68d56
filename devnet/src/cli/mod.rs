//! One file per command, and what they share: release names and progress bars.

pub mod run;
pub mod snapshot;
pub mod status;
pub mod upgrade;

use indicatif::{ProgressBar, ProgressStyle};

/// A release to upgrade to: `v2` or later.
pub fn parse_upgrade_release(s: &str) -> Result<u32, String> {
    let n = parse_release(s)?;
    devnet::manifest::check_upgrade_release(n).map_err(|e| e.to_string())?;
    Ok(n)
}

/// `--cache-mb`: a page cache of 1 to [`devnet::limits::MAX_CACHE_MB`] MiB.
pub fn parse_cache_mb(s: &str) -> Result<devnet::chain_store::Cache, String> {
    let mib: usize = s.parse().map_err(|_| format!("`{s}` is not a number of MiB"))?;
    devnet::chain_store::Cache::mib(mib).map_err(|e| e.to_string())
}

/// `v3` or `3`.
pub fn parse_release(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix('v').or_else(|| s.strip_prefix('V')).unwrap_or(s);
    let n: u32 = digits.parse().map_err(|_| format!("`{s}` is not a release (v1, v2, ...)"))?;
    let releases = devchain::releases();
    if n == 0 || n as usize > releases {
        return Err(format!("unknown release `{s}`: the embedded stdlib has v1..=v{releases}"));
    }
    Ok(n)
}

/// A bar on stderr (drawn only when stderr is a terminal) counting `what`.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = format!("{{spinner}} {{msg:<24}} [{{bar:40}}] {{human_pos}}/{{human_len}} {what} (eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
