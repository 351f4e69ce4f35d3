//! One module per subcommand.

mod apply;
mod check;
mod down;
mod plan;
mod status;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Check { format } => check::run(cli, *format),
        Command::Plan { host, format } => plan::run(cli, host.host.as_deref(), *format),
        Command::Apply { host, dry_run } => apply::run(cli, host.host.as_deref(), *dry_run),
        Command::Status { host, format } => status::run(cli, host.host.as_deref(), *format),
        Command::Down { host } => down::run(cli, host.host.as_deref()),
    }
}
