//! `devnet run`: the arguments as [`RunOptions`], progress bars, the summary printed.

use super::bar;
use crate::RunArgs;
use devnet::chain_store::Cache;
use devnet::node::{BlockOutcome, Node};
use devnet::run::{Progress, RunOptions};
use devnet::DevnetError;
use indicatif::ProgressBar;

/// Draws the bar of genesis, then the bar of the resources the blocks migrate.
#[derive(Default)]
struct Bars {
    bar: Option<ProgressBar>,
}

impl Bars {
    fn done(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bars {
    fn genesis(&mut self, accounts: u32) {
        let b = bar(u64::from(accounts), "accounts");
        b.set_message("genesis on v1");
        self.bar = Some(b);
    }

    fn genesis_written(&mut self, accounts: u32) {
        if let Some(b) = &self.bar {
            b.set_position(u64::from(accounts));
        }
    }

    fn genesis_done(&mut self) {
        self.done();
    }

    fn producing(&mut self, pending: u64) {
        self.bar = Some(bar(pending, "resources"));
    }

    fn block(&mut self, node: &Node, outcome: &BlockOutcome) {
        if let Some(b) = &self.bar {
            b.inc(outcome.report.resources + outcome.report.system_resources);
            b.set_message(format!("height {} · v{}", outcome.height, 1 + node.hook().activated_releases()));
        }
    }

    fn done_producing(&mut self) {
        self.done();
    }
}

pub fn run(args: &RunArgs) -> Result<(), DevnetError> {
    let options = RunOptions {
        data_dir: (!args.in_memory).then(|| args.data.data_dir.clone()),
        accounts: args.accounts,
        corrupt: args.corrupt,
        transfers: args.transfers,
        budget: args.budget,
        budget_bytes: args.budget_bytes,
        to: args.to,
        upgrade_at: args.upgrade_at.clone(),
        blocks: args.blocks,
        until_height: args.until_height,
        cache: args.data.cache(Cache::NODE),
    };
    let summary = devnet::run::run(&options, &mut Bars::default())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).map_err(|e| DevnetError::failed(e.to_string()))?);
    } else {
        print!("{}", summary.text());
    }
    match summary.halted {
        Some(h) => Err(DevnetError::failed(format!("{h}; the chain goes on, the upgrade waits for governance"))),
        None => Ok(()),
    }
}
