//! One module per subcommand.

mod check;
mod completions;
mod graph;
mod plan;
mod render;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Check { format } => check::run(cli, *format),
        Command::Plan { host, all, format } => plan::run(cli, host.host.as_deref(), *all, *format),
        Command::Graph { format } => graph::run(cli, *format),
        Command::Completions { shell } => completions::completions(*shell),
        Command::Man { out } => completions::man(out.as_deref()),
        Command::Render { format, host, all, out } => {
            render::run(cli, *format, host.host.as_deref(), *all, out.as_deref())
        }
    }
}
