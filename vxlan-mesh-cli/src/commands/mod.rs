//! One module per subcommand.

mod apply;
mod check;
mod completions;
mod down;
pub(crate) mod fleet_size;
pub(crate) mod graph;
mod graph_control;
mod keygen;
#[cfg(feature = "lab")]
mod lab;
mod plan;
mod probe;
mod render;
mod status;

use std::process::ExitCode;

use anyhow::Result;

use vxlan_mesh_core::host::Options;

use crate::cli::{Cli, Command};
use crate::frr::FrrArg;
use crate::keys::KeyArg;

/// Runs the parsed command line.
pub fn run(cli: &Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Check { format } => check::run(cli, *format),
        Command::Plan {
            host,
            all,
            format,
            allow_large_output,
        } => plan::run(cli, host.host.as_deref(), *all, *format, *allow_large_output),
        Command::Graph { format } => graph::run(cli, *format),
        Command::Completions { shell } => completions::completions(*shell),
        Command::Hosts => completions::hosts(cli),
        Command::Man { out, section } => completions::man(out.as_deref(), *section),
        Command::Render {
            format,
            host,
            all,
            out,
            allow_large_output,
        } => render::run(
            cli,
            *format,
            host.host.as_deref(),
            *all,
            out.as_deref(),
            *allow_large_output,
        ),
        Command::Apply {
            host,
            dry_run,
            force,
            key,
            frr,
        } => apply::run(cli, host.host.as_deref(), *dry_run, *force, &options(key, frr)),
        Command::Status {
            host,
            format,
            textfile,
            key,
            frr,
        } => status::run(
            cli,
            host.host.as_deref(),
            *format,
            textfile.as_deref(),
            &options(key, frr),
        ),
        Command::Down { host, key, frr } => down::run(cli, host.host.as_deref(), &options(key, frr)),
        Command::Keygen { out, force } => keygen::run(cli, out, *force),
        #[cfg(feature = "lab")]
        Command::Lab(args) => lab::run(cli, args),
        Command::Probe { host, format, timeout } => probe::run(cli, host.host.as_deref(), *format, *timeout),
    }
}

/// What the commands that act on this host hand the engine: the key file and the FRR
/// instance.
fn options(key: &KeyArg, frr: &FrrArg) -> Options {
    Options::default()
        .frr(frr.instance())
        .wireguard_key(key.wireguard_key.clone())
}
