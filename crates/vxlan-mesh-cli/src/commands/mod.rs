//! One module per subcommand.

mod check;
pub mod lab;
mod plan;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Check { format } => check::run(cli, *format),
        Command::Plan { host, format } => plan::run(cli, host.host.as_deref(), *format),
        Command::Lab(args) => lab::run(cli, args),
    }
}
