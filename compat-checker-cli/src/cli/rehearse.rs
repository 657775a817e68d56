//! `rehearse --state STATE --to NEW`: the upgrade run on a copy of a chain's state (the library
//! call [`rehearsal::rehearse`]), its report printed, its verdict the exit code: 0 safe, 1 would
//! break, 2 bad input (the input could not be read, or part of it was skipped).

use crate::Outcome;
use anyhow::Context;
use binary_format::{Address, AddressLength};
use clap::{Args as ClapArgs, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rehearsal::state::aptos::AptosOptions;
use rehearsal::state::diem::DiemOptions;
use rehearsal::{Options, Progress, RehearsalError, Verdict};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RehearseFormat {
    Text,
    Json,
}

/// The arguments of `rehearse`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The state: a devnet snapshot, a JSON Lines file (gzip accepted), or a backup of a
    /// Diem/Libra-family or Aptos-based chain (its top directory or its state.manifest).
    #[arg(long)]
    state: PathBuf,
    /// The version of the state snapshot to read from an Aptos-based backup that holds several
    /// (the newest by default).
    #[arg(long)]
    state_version: Option<u64>,
    /// Read what is there of an incomplete Aptos-based backup (truncated or missing chunks, no
    /// state.proof) instead of refusing it: the state root is then not verified and the
    /// rehearsal is incomplete (exit 2).
    #[arg(long)]
    allow_partial: bool,
    /// The release to upgrade to.
    #[arg(long)]
    to: PathBuf,
    /// The release the state was written with; by default the modules the state holds.
    #[arg(long)]
    from: Option<PathBuf>,
    /// The migration declarations.
    #[arg(long)]
    migrations: Option<PathBuf>,
    /// The address registry (versioned modules are paired through it).
    #[arg(long)]
    registry: Option<PathBuf>,
    /// The chain whose rules the gate judges with; `auto` decides it from the releases.
    #[arg(long, value_enum, default_value = "auto")]
    chain: crate::ChainArg,
    /// The upgrade path on that chain (its default when absent).
    #[arg(long, value_enum)]
    policy: Option<crate::PolicyArg>,
    /// Sui: the protocol version whose rules judge a package upgrade (default: the newest
    /// known).
    #[arg(long)]
    protocol_version: Option<u64>,
    #[arg(long, value_enum, default_value = "text")]
    format: RehearseFormat,
    /// Keep the migrated state as a snapshot, DIR/state.snap (`devnet snapshot import` takes it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// A Diem-family backup's era: libra (LIBRA:: hashes, hashed paths), diem (DIEM::, BCS
    /// paths), or auto (from the root and the paths).
    #[arg(long, default_value = "auto")]
    diem_era: String,
    /// Accounts whose resources system-scope migrations move (repeat; default 0x0).
    #[arg(long = "system-account")]
    system_accounts: Vec<String>,
    /// Accounts a migration may fail on before it is given up.
    #[arg(long, default_value_t = 1_000)]
    max_failures: u64,
    /// Accounts named per finding.
    #[arg(long, default_value_t = 20)]
    examples: usize,
    /// Memory in MiB for what the rehearsal holds beside the state (the migration's writes, a
    /// sort's runs; past it they spill to disk), and a quarter more for values built whole (one
    /// past that is reported, never built): it bounds the rehearsal's memory.
    #[arg(long, default_value_t = 64)]
    cache_mb: usize,
    /// Threads migrating and checking key ranges of the state (default: every core); the report
    /// is the same for any number.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: Option<u16>,
    #[arg(long, value_parser = crate::parse_address_length)]
    address_length: Option<AddressLength>,
    /// The key and value types of tables whose owner the state does not hold: JSON Lines of
    /// {"handle","key_type","value_type"} (docs/rehearse.md), read with the releases' address
    /// width; they come before what the state says.
    #[arg(long)]
    table_types: Option<PathBuf>,
}

/// The `--table-types` file, its handles and types read with the width of the release `to`
/// (the rehearsal refuses an old release of another width).
fn table_types(
    path: &Path,
    to: &Path,
    address_length: Option<AddressLength>,
) -> Result<Vec<rehearsal::state::TableTypes>, RehearsalError> {
    let width = rehearsal::rehearse::releases::load(to, address_length)?.address_length;
    Ok(rehearsal::state::tables::read_table_types(path, width)?)
}

/// A bar per phase, on a terminal only.
struct Bar {
    bar: Option<ProgressBar>,
    shown: bool,
}

impl Progress for Bar {
    fn start(&mut self, phase: &str, total: Option<u64>) {
        if !self.shown {
            return;
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        let style = ProgressStyle::with_template("{msg:>12} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(phase.to_owned());
        self.bar = Some(bar);
    }

    fn advance(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut options = Options::new(&args.state, &args.to);
    options.from = args.from;
    options.handlers = devchain::handlers();
    options.migrations = args.migrations;
    options.registry = args.registry;
    options.chain = super::check::choice(args.chain, args.policy, args.protocol_version)?;
    // `--out` names a directory: anything else is said for what it is before any work.
    if let Some(out) = &args.out {
        if let Err(why) = input_files::output::check_directory(out) {
            eprintln!("error: --out {}", compat_checker::escape::shown(&why));
            return Ok(Outcome::BadInput);
        }
    }
    options.out = args.out;
    options.address_length = args.address_length;
    options.max_failures = args.max_failures;
    options.examples = args.examples;
    options.cache_bytes = args.cache_mb.saturating_mul(1 << 20);
    if let Some(threads) = args.threads {
        options.threads = usize::from(threads);
    }
    options.open.diem = DiemOptions::era(&args.diem_era)
        .with_context(|| format!("--diem-era {}: use libra, diem or auto", args.diem_era))?;
    options.open.aptos =
        AptosOptions { version: args.state_version, allow_partial: args.allow_partial, ..AptosOptions::default() };
    if let Some(path) = &args.table_types {
        match table_types(path, &args.to, args.address_length) {
            Ok(stated) => options.table_types = stated,
            Err(e) if e.is_bad_input() => {
                eprintln!("error: {}", compat_checker::escape::shown(&e.to_string()));
                return Ok(Outcome::BadInput);
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !args.system_accounts.is_empty() {
        options.system_accounts = args
            .system_accounts
            .iter()
            .map(|a| Address::parse_hex(a).with_context(|| format!("--system-account {a}: not an address")))
            .collect::<anyhow::Result<_>>()?;
    }

    let mut bar = Bar { bar: None, shown: std::io::stderr().is_terminal() };
    let report = match rehearsal::rehearse(&options, &mut bar) {
        Ok(r) => r,
        Err(e) if e.is_bad_input() => {
            eprintln!("error: {}", compat_checker::escape::shown(&e.to_string()));
            return Ok(Outcome::BadInput);
        }
        Err(e) => return Err(e.into()),
    };
    super::print(&match args.format {
        RehearseFormat::Text => report.to_text(),
        RehearseFormat::Json => report.to_json(),
    })?;
    Ok(if !report.complete {
        Outcome::BadInput
    } else if report.verdict == Verdict::WouldBreak {
        Outcome::CheckFailed
    } else {
        Outcome::Ok
    })
}
