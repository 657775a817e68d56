//! `compat-checker`: the command-line edge. Parses arguments, runs a command, and maps outcomes
//! to exit codes: 0 success, 1 a failed check, 2 bad input or usage.

mod cli;

use binary_format::AddressLength;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "compat-checker", version, about = "Layouts, compatibility and versioning of Move stdlib releases")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LayoutFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Github,
}

/// `--chain`: the chain whose rules judge the upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChainArg {
    /// Decided from the releases (container, address width, Sui flavor, framework modules).
    Auto,
    Diem,
    Aptos,
    Sui,
}

/// `--policy`: the upgrade path the release takes on its chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    Framework,
    Compatible,
    Arbitrary,
    Additive,
    DepOnly,
}

/// `--gate`: which verdict sets the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GateArg {
    Chain,
    Storage,
    Both,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Json,
}

/// Where the stdlib's registry lives in this repository, the default for `--registry`.
const DEFAULT_REGISTRY: &str = "stdlib/registry.toml";

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare two releases: what the chain's own check decides (`--chain`, `--policy`), and
    /// whether stored data is safe (every layout change of a stored struct migrated, as the
    /// registry and the migration declarations say), with what to do about each change. Exit 0
    /// passes, 1 blocked (on what `--gate` names), 2 bad input.
    Check {
        /// The release running now.
        old: PathBuf,
        /// The release to upgrade to.
        new: PathBuf,
        /// The address registry (versioned modules are matched and checked through it).
        #[arg(long)]
        registry: Option<PathBuf>,
        /// The migration declarations (`stdlib/migrations.toml`).
        #[arg(long)]
        migrations: Option<PathBuf>,
        /// Rules allowed for named items, with reasons.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: CheckFormat,
        #[arg(long, value_parser = parse_address_length)]
        address_length: Option<AddressLength>,
        /// The chain the release ships to; `auto` decides it from the releases and says why.
        #[arg(long, value_enum, default_value = "auto")]
        chain: ChainArg,
        /// The upgrade path on that chain (default: diem framework, aptos compatible, sui
        /// framework).
        #[arg(long, value_enum)]
        policy: Option<PolicyArg>,
        /// Sui: the protocol version whose rules judge a package upgrade (default: the newest
        /// known). docs/chains.md lists the rules that depend on it.
        #[arg(long)]
        protocol_version: Option<u64>,
        /// What sets the exit code: the chain's verdict, stored data, or both.
        #[arg(long, value_enum, default_value = "both")]
        gate: GateArg,
        /// NEW's name in the migration declarations (default: its file or folder name without
        /// extension).
        #[arg(long)]
        release: Option<String>,
    },
    /// Print every module's layout in a canonical, stable form (what framework authors snapshot).
    Layout {
        /// A folder of .mv files, one module, a module bundle, an Aptos .mrb or a Sui snapshot.
        release: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: LayoutFormat,
        /// Address length in bytes (16, 20 or 32); decided from the release when absent.
        #[arg(long, value_parser = parse_address_length)]
        address_length: Option<AddressLength>,
    },
    /// Draw a release's module dependency graph, with versions, closed modules, stale imports
    /// and cycles marked. Exit 1 when it has stale imports or cycles.
    Graph {
        release: PathBuf,
        #[arg(long, value_enum, default_value = "dot")]
        format: GraphFormat,
        /// The address registry that says which modules are versions of which.
        #[arg(long)]
        registry: Option<PathBuf>,
        #[arg(long, value_parser = parse_address_length)]
        address_length: Option<AddressLength>,
    },
    /// Print the rules table (Markdown): what docs/rules.md holds.
    Rules,
    /// Print the chain profiles and their rules (Markdown): what docs/chains.md holds.
    Chains,
    /// Rehearse an upgrade on a chain's state: run its migrations block after block over the
    /// state read in place (never written; the writes kept beside it), decode everything before
    /// and after, and name what would break. Exit 0 safe, 1 would break, 2 bad input.
    Rehearse(cli::rehearse::Args),
    /// Check or update the stdlib address registry.
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Validate the registry's rules, and that each built release (a `vN` folder under
    /// `--releases`) holds exactly the module versions the registry names.
    Check {
        #[arg(long, default_value = DEFAULT_REGISTRY)]
        registry: PathBuf,
        /// Folder of built releases (`v1`, `v2`, ...); defaults to `releases` beside the registry.
        #[arg(long)]
        releases: Option<PathBuf>,
    },
    /// Allocate the next versioned address to MODULE for release `--release vN`, close its
    /// previous version, and write the registry back.
    Bump {
        module: String,
        #[arg(long)]
        release: String,
        #[arg(long, default_value = DEFAULT_REGISTRY)]
        registry: PathBuf,
    },
    /// Register a new module at the genesis address.
    Add {
        module: String,
        #[arg(long)]
        release: String,
        #[arg(long, default_value = DEFAULT_REGISTRY)]
        registry: PathBuf,
    },
}

fn parse_address_length(s: &str) -> Result<AddressLength, String> {
    s.parse::<usize>()
        .ok()
        .and_then(AddressLength::from_bytes)
        .ok_or_else(|| format!("`{s}` is not an address length: use 16, 20 or 32"))
}

/// How a command ended, when it did not fail with an error.
#[derive(Debug)]
pub enum Outcome {
    Ok,
    /// The check ran and found problems (exit 1).
    CheckFailed,
    /// Some input was bad, but the command reported what it could (exit 2).
    BadInput,
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Check {
            old,
            new,
            registry,
            migrations,
            config,
            format,
            address_length,
            chain,
            policy,
            protocol_version,
            gate,
            release,
        } => cli::check::run(cli::check::Args {
            old: &old,
            new: &new,
            registry: registry.as_deref(),
            migrations: migrations.as_deref(),
            config: config.as_deref(),
            format,
            address_length,
            chain,
            policy,
            protocol_version,
            gate,
            release: release.as_deref(),
        }),
        Command::Layout { release, format, address_length } => cli::layout::run(&release, format, address_length),
        Command::Graph { release, format, registry, address_length } => {
            cli::graph::run(&release, format, registry.as_deref(), address_length)
        }
        Command::Registry { command } => cli::registry::run(command),
        Command::Rehearse(args) => cli::rehearse::run(args),
        Command::Rules => {
            cli::print(&layout_diff::rules::markdown())?;
            Ok(Outcome::Ok)
        }
        Command::Chains => {
            cli::print(&compat_checker::chain::rules::markdown())?;
            Ok(Outcome::Ok)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::CheckFailed) => ExitCode::from(1),
        Ok(Outcome::BadInput) => ExitCode::from(2),
        Err(e) => {
            // Each cause once: an error that quotes its source is not followed by it again.
            let mut message = String::new();
            for part in e.chain().map(|c| c.to_string()) {
                if message.contains(&part) {
                    continue;
                }
                if !message.is_empty() {
                    message.push_str(": ");
                }
                message.push_str(&part);
            }
            eprintln!("error: {}", compat_checker::escape::shown(&message));
            ExitCode::from(2)
        }
    }
}
