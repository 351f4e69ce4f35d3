//! Command-line surface (clap derive).

#[cfg(feature = "lab")]
pub mod lab;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::frr::FrrArg;
use crate::keys::{KeyArg, DEFAULT_KEY_FILE};

// Exit codes, in `--help`, the man page and the README's "Exit codes" section; a macro
// because `concat!` takes literals only.
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  ok
  1  error (unreadable or invalid inventory, unknown host, usage error, failed operation)
  2  drift: the host differs from its plan, changes are pending (status)
  3  a health check failed, with no drift: probe found a peer unreachable or a path MTU too small;
     status found a WireGuard peer never seen, or in evpn mode a BGP session down or a VNI FRR lacks"
    };
}

/// `--help` and the man page's DESCRIPTION.
const LONG_ABOUT: &str = "Joins Linux servers that share no LAN into one overlay L2 segment for their \
containers and VMs, with a unicast VXLAN mesh. One TOML inventory describes the whole fleet; for a host, \
vxlan-mesh computes its plan (bridge, VXLAN devices, VNIs, FDB flood entries, loop prevention, MTU, \
peer-only firewall), applies it through netlink idempotently, or renders it in one of the forms \
listed below. The inventory's format: vxlan-mesh.toml(5).";

/// The exit codes, at the end of `--help` and the man page (after the text
/// `manual::command` generates).
pub const EXIT_CODES: &str = exit_codes!();

/// Joins Linux servers into one overlay LAN with a unicast VXLAN mesh.
#[derive(Debug, Parser)]
#[command(name = "vxlan-mesh", version, about, long_about = LONG_ABOUT)]
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
    /// Less output: no progress, no summary lines; data and errors only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
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

/// Output format of `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum StatusFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, a stable contract.
    Json,
    /// Prometheus text exposition format (metrics, see the README's Monitoring section).
    Prometheus,
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
        /// Every host of the inventory instead of one (JSON: an array of plans). Refused for a
        /// fleet whose plans list more peer entries than the limit below (Large fleets).
        #[arg(long, conflicts_with = "host")]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
        /// With --all: write every plan even above the size limit (Large fleets).
        #[arg(long)]
        allow_large_output: bool,
    },
    /// Make this host match its plan through netlink (idempotent; prints the changes made).
    Apply {
        #[command(flatten)]
        host: HostArg,
        /// Print the equivalent `ip`/`bridge`/`ebtables`/`nft` commands and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply the plan of the `--host` named even though its underlay address is not
        /// assigned on this machine.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        frr: FrrArg,
    },
    /// Compare this host with its plan: exit 0 when converged, 2 with the differences.
    Status {
        #[command(flatten)]
        host: HostArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: StatusFormat,
        /// Write the Prometheus metrics atomically to this file (for node_exporter's
        /// textfile collector) instead of printing; exits 0 once written, drift or not.
        #[arg(long, value_name = "PATH", conflicts_with = "format")]
        textfile: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        frr: FrrArg,
    },
    /// Remove every object vxlan-mesh owns on this host (devices, bridges, FDB entries,
    /// ebtables chain, nftables table, FRR's `router bgp` block of mode `evpn`), and nothing
    /// else.
    Down {
        #[command(flatten)]
        host: HostArg,
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        frr: FrrArg,
    },
    /// Make this host's WireGuard private key and print its public key, ready to paste as
    /// the host's `public-key` in the inventory.
    ///
    /// The private key is written to a new file of mode 0600 and never printed.
    Keygen {
        /// Where to write the private key.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_KEY_FILE)]
        out: PathBuf,
        /// Replace an existing key file (the host's public key changes: update the inventory
        /// and apply it on every host).
        #[arg(long)]
        force: bool,
    },
    /// Check the underlay path to every peer: reachability, and whether the path MTU carries
    /// the plan's container MTU plus the VXLAN overhead (don't-fragment pings, binary search).
    ///
    /// Exit 0 when every peer is reachable and fits, 3 when a peer is unreachable or its path
    /// is too small. Needs iputils `ping`.
    Probe {
        #[command(flatten)]
        host: HostArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
        /// Seconds to wait for each probe's answer (fractions allowed, at most 60); a peer that
        /// is down is reported unreachable after about this long.
        #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
        timeout: f64,
    },
    /// Draw the mesh: hosts with underlay addresses, links with VNIs, networks with MTU.
    Graph {
        /// Graph language: Graphviz `dot` or a `mermaid` flowchart.
        #[arg(long, value_enum, default_value_t)]
        format: GraphFormat,
    },
    /// Print a shell completion script.
    ///
    /// For example `vxlan-mesh completions bash > /etc/bash_completion.d/vxlan-mesh`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the inventory's host names, one a line (the completion scripts complete `--host`
    /// with them).
    #[command(hide = true)]
    Hosts,
    /// Print the man page (roff): vxlan-mesh(1), or the inventory's vxlan-mesh.toml(5).
    ///
    /// For example `vxlan-mesh man > /usr/local/share/man/man1/vxlan-mesh.1`, or
    /// `vxlan-mesh man --out /usr/local/share/man/man1` for every page.
    Man {
        /// Write every page instead: one per command (`vxlan-mesh.1`, `vxlan-mesh-plan.1`, ...)
        /// into this directory, and `vxlan-mesh.toml.5` into its sibling `man5` when it is a
        /// `man1` directory (so `man 5 vxlan-mesh.toml` finds it), else into it too.
        #[arg(long, value_name = "DIR", conflicts_with = "section")]
        out: Option<PathBuf>,
        /// Which page to print.
        #[arg(long, value_enum, default_value_t)]
        section: ManSection,
    },
    /// Render a host's plan in one of the forms `--format` lists.
    ///
    /// Without --out, a single-file form (shell, ignition) goes to stdout. With --out DIR the files are
    /// written in the layout they deploy to (DIR/etc/systemd/network/...); with --all, one
    /// folder per host (DIR/HOST/...).
    Render {
        /// Output form.
        #[arg(long, value_enum)]
        format: RenderFormat,
        #[command(flatten)]
        host: HostArg,
        /// Render every host of the inventory (needs --out). Refused for a fleet whose plans
        /// list more peer entries than the limit below (Large fleets).
        #[arg(long, conflicts_with = "host")]
        all: bool,
        /// Directory to write the files into.
        #[arg(long)]
        out: Option<PathBuf>,
        /// With --all: write every host's files even above the size limit (Large fleets).
        #[arg(long)]
        allow_large_output: bool,
    },
    /// Simulate the fleet in network namespaces on this machine, deploy it and verify it.
    #[cfg(feature = "lab")]
    Lab(lab::LabArgs),
}

/// Output format of `graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum GraphFormat {
    /// Mermaid flowchart (renders in GitHub/GitLab markdown).
    #[default]
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// The pages of `man`, by section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ManSection {
    /// vxlan-mesh(1): the command.
    #[default]
    #[value(name = "1")]
    Command,
    /// vxlan-mesh.toml(5): the inventory format.
    #[value(name = "5")]
    Inventory,
}

/// Forms `render` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    /// A standalone iproute2 script: start|stop|restart|status, DRYRUN=1.
    Shell,
    /// systemd-networkd .netdev/.network files plus firewall units.
    Networkd,
    /// netplan YAML plus networkd drop-ins and firewall units.
    Netplan,
    /// An Ignition config (spec 3.3.0) writing the networkd form's files.
    Ignition,
    /// The FRR configuration (router bgp block) of an evpn-mode host.
    Frr,
    /// An ifupdown2 (Proxmox VE) interfaces.d file plus the firewall units; IPv4 VTEPs only.
    Ifupdown2,
}
