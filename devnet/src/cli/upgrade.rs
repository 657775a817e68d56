//! `devnet upgrade --to vN`: the runbook, each step printed as it passes.

use super::bar;
use crate::UpgradeArgs;
use devnet::chain_store::Cache;
use devnet::node::BlockOutcome;
use devnet::runbook::{self, Progress, StepReport, UpgradeOptions};
use devnet::DevnetError;
use indicatif::ProgressBar;

/// Prints steps as they pass (unless the report goes out as JSON) and draws the migrate bar.
struct Printer {
    json: bool,
    bar: Option<ProgressBar>,
    steps: Vec<StepReport>,
}

impl Progress for Printer {
    fn step(&mut self, step: &StepReport) {
        self.steps.push(step.clone());
        if !self.json {
            let line = format!("{:<11} {:<6} {}", step.step, if step.ok { "ok" } else { "FAILED" }, step.detail);
            println!("{}", compat_checker::escape::shown(&line));
        }
    }

    fn migrating(&mut self, pending: u64) {
        let b = bar(pending, "resources");
        b.set_message("migrating");
        self.bar = Some(b);
    }

    fn block(&mut self, outcome: &BlockOutcome) {
        if let Some(b) = &self.bar {
            b.inc(outcome.report.resources + outcome.report.system_resources);
            b.set_message(format!("height {}", outcome.height));
        }
    }

    fn done_migrating(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

pub fn upgrade(args: &UpgradeArgs) -> Result<(), DevnetError> {
    let mut printer = Printer { json: args.json, bar: None, steps: Vec::new() };
    let options = UpgradeOptions { to: args.to, dry_run: args.dry_run, cache: args.data.cache(Cache::NODE) };
    let report = match runbook::upgrade(&args.data.data_dir, options, &mut printer) {
        Ok(report) => report,
        Err(e) => {
            if args.json {
                let failed = serde_json::json!({ "ok": false, "error": e.to_string(), "steps": printer.steps });
                println!("{}", serde_json::to_string_pretty(&failed).map_err(|e| DevnetError::failed(e.to_string()))?);
            }
            return Err(e);
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| DevnetError::failed(e.to_string()))?);
    } else {
        println!(
            "upgraded v{} -> v{}{} in {} blocks; height {}, state root {}",
            report.from,
            report.to,
            if report.dry_run { " (dry run, on a copy)" } else { "" },
            report.blocks,
            report.height,
            report.state_root
        );
    }
    Ok(())
}
