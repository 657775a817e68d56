//! `compat-checker`: the command-line edge. Parses arguments, loads releases, renders, and maps
//! outcomes to exit codes: 0 success, 1 a failed check, 2 bad input or usage.

use anyhow::Context;
use binary_format::AddressLength;
use clap::{Parser, Subcommand, ValueEnum};
use compat_checker::layout;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use stdlib::release::{self, LoadOptions};

#[derive(Parser)]
#[command(name = "compat-checker", version, about = "Layouts and compatibility of Move stdlib releases")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
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
}

fn parse_address_length(s: &str) -> Result<AddressLength, String> {
    s.parse::<usize>()
        .ok()
        .and_then(AddressLength::from_bytes)
        .ok_or_else(|| format!("`{s}` is not an address length: use 16, 20 or 32"))
}

/// An outcome that is not a crash: what to print and the exit code.
enum Outcome {
    Ok,
    BadInput,
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Layout { release, format, address_length } => {
            let options = LoadOptions { address_length, ..LoadOptions::default() };
            let loaded = release::load(&release, options)?;
            let modules = layout::sorted(loaded.modules.iter().map(|m| &m.module));
            let text = match format {
                LayoutFormat::Text => layout::render_text(&modules),
                LayoutFormat::Json => layout::render_json(&modules),
            };
            std::io::stdout().lock().write_all(text.as_bytes()).context("writing the layout")?;
            for failure in &loaded.failures {
                eprintln!("error: {failure}");
            }
            Ok(if loaded.is_complete() { Outcome::Ok } else { Outcome::BadInput })
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::BadInput) => ExitCode::from(2),
        Err(e) => {
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::from(2)
        }
    }
}
