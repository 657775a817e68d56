//! Builds the stdlib's releases into `stdlib/releases` (or `--out DIR`), or with `--check`
//! only reports whether the folder is a fresh build (exit 1 if not).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Build the stdlib releases v1..vN into .mv files and bundles")]
struct Args {
    /// Folder to write into.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../releases"))]
    out: PathBuf,
    /// Compare with the folder instead of writing.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let releases = match stdlib::build::build_all() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        let problems = stdlib::build::compare_artifacts(&args.out, &releases);
        for (path, why) in &problems {
            eprintln!("{}: {why}", args.out.join(path).display());
        }
        return if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) };
    }
    match stdlib::build::write_artifacts(&args.out, &releases) {
        Ok(n) => {
            let modules: usize = releases.iter().map(|r| r.modules.len()).sum();
            println!("{} releases, {modules} modules, {n} files written to {}", releases.len(), args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
