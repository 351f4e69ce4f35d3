//! `vxlan-mesh lab …` on the command line (clap derive); `commands::lab` runs it.

use clap::{Args, Subcommand, ValueEnum};

use super::OutputFormat;

/// `lab` arguments.
#[derive(Debug, Args)]
#[command(after_help = "Exit codes of `lab check`: 0 every check passed, 1 error, 2 a check failed.")]
pub struct LabArgs {
    /// Name of the lab: its namespaces are called `vxm-<TAG>-…`, so several labs can coexist.
    /// Before or after the `lab` subcommand (`lab --tag t up` or `lab up --tag t`).
    #[arg(long, default_value = "lab", env = "VXLAN_MESH_LAB_TAG", global = true)]
    pub tag: String,
    /// What to do.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// `lab` subcommands.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build the lab from the inventory and deploy every host's plan in it; prints, for each
    /// host, the commands that run `status`, `probe`, `wg` (encrypted) and `vtysh` (evpn) there.
    Up {
        /// Containers per host and network.
        #[arg(long, default_value_t = 3)]
        containers: usize,
        /// How to deploy each host's plan.
        #[arg(long, value_enum, default_value_t = Via::Netlink)]
        via: Via,
        /// Shape every underlay link to this rate with tc tbf (e.g. `1gbit`), like a real uplink.
        #[arg(long, value_name = "RATE")]
        underlay_rate: Option<String>,
    },
    /// Verify the lab: reachability matrix, largest frame, loop check (and throughput).
    Check {
        /// Also measure iperf3 TCP goodput container→container (overlay) and host→host (underlay).
        #[arg(long)]
        throughput: bool,
        /// Seconds per throughput run.
        #[arg(long, default_value_t = 5, value_name = "SECONDS")]
        seconds: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Attach every container to its network's bridge (after deploying by hand with `--via none`).
    Attach,
    /// Take a host's underlay link down (at the underlay switch).
    Cut {
        /// Host name from the inventory.
        host: String,
    },
    /// Bring a host's underlay link back up.
    Heal {
        /// Host name from the inventory.
        host: String,
    },
    /// Remove everything the lab made (also the leftovers of a crashed `lab up`).
    Down,
}

/// How `lab up` deploys each host's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// `vxlan-mesh apply --host H` run inside each host namespace.
    Netlink,
    /// The rendered shell script, run with `start` inside each host namespace.
    Shell,
    /// The rendered systemd-networkd files, consumed by systemd-networkd in each host namespace.
    Networkd,
    /// The rendered netplan YAML, through `netplan generate` and systemd-networkd.
    Netplan,
    /// Build the namespaces only: deploy by hand (e.g. `ip netns exec vxm-lab-h0 sh your-script`),
    /// then `lab attach`.
    None,
}

impl Via {
    /// The spelling on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Netlink => "netlink",
            Via::Shell => "shell",
            Via::Networkd => "networkd",
            Via::Netplan => "netplan",
            Via::None => "none",
        }
    }
}
