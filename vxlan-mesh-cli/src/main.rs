//! `vxlan-mesh`: one inventory for the whole fleet; check it, plan a host, apply or render it.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod frr;
mod host_completion;
mod inventory_file;
mod keys;
mod limits;
mod manual;
mod output;
mod progress;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    let cli = match manual::command()
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        // `--help` and `--version` exit 0; usage errors exit 1 rather than clap's 2, which
        // this tool reserves for drift, so that a typo is never mistaken for drift.
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match commands::run(&cli) {
        Ok(code) => code,
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", output::error_message(&err));
            ExitCode::from(1)
        }
    }
}
