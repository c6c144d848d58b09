//! `churn`: train a churn model from a CSV, export one model file, score with it.
//!
//! Thin glue: parse flags, run the command, map errors to exit codes
//! (0 ok, 2 usage/input error, 3 quality gate failed, 4 drift at the `--fail-on` level).

mod boost;
mod cli;
mod cmd_registry;
mod cmd_train;
mod data;
mod grow;
mod inspect;
mod mlflow;
mod monitor;
mod monitor_from;
mod output;
mod plan;
mod registry;
mod scoring;
mod select;
mod smartcore_rf;
mod train;

use std::process::ExitCode;

use clap::Parser;

use crate::output::{DriftFailed, GateFailed};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Train(a) => cmd_train::run(a),
        cli::Command::Evaluate(a) => scoring::evaluate(a),
        cli::Command::Score(a) => scoring::score(a),
        cli::Command::Inspect(a) => inspect::run(a),
        cli::Command::Monitor(a) => monitor::run(a),
        cli::Command::Runs(c) => cmd_registry::runs(c),
        cli::Command::Models(c) => cmd_registry::models(c),
        cli::Command::Promote(a) => cmd_registry::promote(a),
        cli::Command::Rollback(a) => cmd_registry::rollback(a),
        cli::Command::Registry(c) => cmd_registry::registry(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `churn score --out - | head` closing the pipe early is not an error.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<GateFailed>().is_some() {
                ExitCode::from(3)
            } else if e.downcast_ref::<DriftFailed>().is_some() {
                ExitCode::from(4)
            } else {
                ExitCode::from(2)
            }
        }
    }
}
