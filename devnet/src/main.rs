//! `devnet`: the command-line edge. Parses arguments, runs a command, prints, and maps
//! outcomes to exit codes: 0 success, 1 a failed step or chain, 2 bad input (nothing changed).

mod cli;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};
use devnet::chain_store::Cache;
use devnet::DevnetError;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "devnet",
    version,
    about = "A node simulator and an upgrade runbook: genesis on stdlib v1, blocks, upgrades to v2 and v3 on the persistent store"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the chain lives, and how much of its store a command keeps in memory.
#[derive(Debug, Clone, Args)]
pub struct DataDir {
    /// The chain's data directory (store, manifest, backups).
    #[arg(long, default_value = "devnet-data")]
    pub data_dir: PathBuf,
    /// The store's page cache in MiB, 1 to 65536: what the command keeps of the store's file in
    /// memory, whatever the chain's size [default: 64; `status`: 8].
    #[arg(long, value_name = "MIB", value_parser = cli::parse_cache_mb)]
    pub cache_mb: Option<Cache>,
}

impl DataDir {
    /// The cache asked for, or the command's `default`.
    pub fn cache(&self, default: Cache) -> Cache {
        self.cache_mb.unwrap_or(default)
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Accounts at genesis (a new chain; a resumed chain keeps its own).
    #[arg(long)]
    pub accounts: Option<u32>,
    /// Most user resources the prologue migrates per block.
    #[arg(long)]
    pub budget: Option<u64>,
    /// Most bytes (read plus written) the prologue migrates per block.
    #[arg(long)]
    pub budget_bytes: Option<u64>,
    /// Activation heights of the releases after the active one, in order (`10,20`: v2 at 10,
    /// v3 at 20). Default: 10 and 20 for a new chain, 10 blocks apart from the current height
    /// for a resumed one.
    #[arg(long, value_delimiter = ',')]
    pub upgrade_at: Vec<u64>,
    /// The release to upgrade to (`v1` for none).
    #[arg(long, value_parser = cli::parse_release)]
    pub to: Option<u32>,
    #[command(flatten)]
    pub data: DataDir,
    /// Keep the chain in memory (nothing written to disk).
    #[arg(long)]
    pub in_memory: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Coin transfers per block.
    #[arg(long)]
    pub transfers: Option<u32>,
    /// Accounts stored corrupt at genesis, to see quarantine at work (a drill).
    #[arg(long)]
    pub corrupt: Option<u32>,
    /// Produce at least this many blocks, even after the upgrades are done.
    #[arg(long, default_value_t = 0)]
    pub blocks: u64,
    /// Produce blocks up to at least this height, even after the upgrades are done.
    #[arg(long)]
    pub until_height: Option<u64>,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// The release to upgrade to.
    #[arg(long, value_parser = cli::parse_upgrade_release)]
    pub to: u32,
    #[command(flatten)]
    pub data: DataDir,
    /// Run the runbook on a copy and report what would happen; the data directory is untouched.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Write the chain's state at its height to FILE (never overwrites FILE).
    Export {
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
    /// Start a chain in an empty data directory from FILE, after verifying it whole.
    Import {
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
        /// Also read FILE if it is a FIFO or a character device (process substitution,
        /// `/dev/stdin`): it is copied into the data directory's staging area first.
        #[arg(long)]
        allow_special_files: bool,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create (or resume) a chain, produce blocks, activate the releases at their heights and
    /// run their migrations under the budget; print a summary.
    Run(RunArgs),
    /// The upgrade runbook: pre-flight, backup, quiesce, migrate, verify, resume; rollback
    /// from the backup when verify fails.
    Upgrade(UpgradeArgs),
    /// Snapshots of the state: self-describing and checksummed.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// The on-chain migration status.
    Status {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        Err(e) => {
            // Usage errors are bad input too: one line (what clap says before its usage
            // lines), exit 2.
            let text = e.to_string();
            let what: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("devnet: {} (see --help)", what.join(" "));
            return ExitCode::from(2);
        }
    };
    let result: Result<(), DevnetError> = match cli.command {
        Command::Run(args) => cli::run::run(&args),
        Command::Upgrade(args) => cli::upgrade::upgrade(&args),
        Command::Snapshot(command) => cli::snapshot::snapshot(&command),
        Command::Status { data, json } => cli::status::status(&data.data_dir, data.cache(Cache::STATUS), json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("devnet: error: {}", error_line(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// The one line an error is printed as: its message, then each cause in its chain whose text
/// the line does not already hold (most messages quote their cause; printing the chain as well
/// would say it twice), with control characters escaped (a message may quote a path, a name or
/// a library's text: the one function every renderer uses, `compat_checker::escape::shown`).
fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    compat_checker::escape::shown(&line).into_owned()
}

#[cfg(test)]
mod tests {
    use super::error_line;
    use std::fmt;

    /// An error whose message is `text`, caused by `cause`.
    #[derive(Debug)]
    struct Chain(&'static str, Option<Box<Chain>>);

    impl fmt::Display for Chain {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Chain {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|c| c as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn a_cause_is_printed_once_whether_or_not_its_message_quotes_it() {
        let utf8 = || Some(Box::new(Chain("stream did not contain valid UTF-8", None)));
        let quoted = Chain("config.toml: stream did not contain valid UTF-8", utf8());
        assert_eq!(error_line(&quoted), "config.toml: stream did not contain valid UTF-8");
        let unquoted = Chain("cannot read config.toml", utf8());
        assert_eq!(error_line(&unquoted), "cannot read config.toml: stream did not contain valid UTF-8");
        let deep = Chain("a", Some(Box::new(Chain("b\nc", Some(Box::new(Chain("a", None)))))));
        assert_eq!(error_line(&deep), "a: b\\nc");
    }
}
