//! Command-line surface (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, documented in `--help`.
pub const EXIT_CODES: &str =
    "Exit codes: 0 ok, 1 error (bad inventory, failed operation), 2 drift or changes pending (status).";

/// Joins Linux servers into one overlay LAN with a unicast VXLAN mesh.
#[derive(Debug, Parser)]
#[command(name = "vxlan-mesh", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The fleet inventory (TOML).
    #[arg(
        short,
        long,
        global = true,
        env = "VXLAN_MESH_INVENTORY",
        default_value = "vxlan-mesh.toml"
    )]
    pub inventory: PathBuf,
    /// More output.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, a stable contract.
    Json,
}

/// Which host a command is about.
#[derive(Debug, Args, Clone)]
pub struct HostArg {
    /// The host (default: the one whose underlay address is assigned on this machine).
    #[arg(long)]
    pub host: Option<String>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the inventory; prints every broken rule with its field and reason.
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Show a host's plan: devices, VNIs, peers, MTU, loop prevention, firewall.
    Plan {
        #[command(flatten)]
        host: HostArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Simulate the fleet in network namespaces on this machine, deploy it and verify it.
    Lab(crate::commands::lab::LabArgs),
}
