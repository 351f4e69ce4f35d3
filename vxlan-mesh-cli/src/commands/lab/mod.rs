//! `vxlan-mesh lab`: the fleet simulated in network namespaces on this machine (the
//! `vxlan-mesh-lab` fixture), deployed the way the operator will deploy it, and verified.

mod check;
mod deploy;
mod progress;
mod state;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use vxlan_mesh_lab::{cleanup_prefix, names, Lab, LabSpec};

use crate::cli::{Cli, OutputFormat};
use crate::inventory_file;
use crate::output::{self, outln};

/// `lab` arguments.
#[derive(Debug, Args)]
#[command(after_help = "Exit codes of `lab check`: 0 every check passed, 1 error, 2 a check failed.")]
pub struct LabArgs {
    /// Name of the lab: its namespaces are called `vxm-<TAG>-…`, so several labs can coexist.
    #[arg(long, default_value = "lab", env = "VXLAN_MESH_LAB_TAG")]
    pub tag: String,
    /// What to do.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// `lab` subcommands.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build the lab from the inventory and deploy every host's plan in it.
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

/// Runs `lab …`.
pub fn run(cli: &Cli, args: &LabArgs) -> Result<ExitCode> {
    names::check_tag(&args.tag)?;
    match &args.command {
        LabCommand::Up {
            containers,
            via,
            underlay_rate,
        } => up(cli, &args.tag, *containers, *via, underlay_rate.as_deref()),
        LabCommand::Check {
            throughput,
            seconds,
            format,
        } => {
            let st = state::load(&args.tag)?;
            let lab = Lab::open(st.spec.clone());
            let report = check::run(&lab, &st, throughput.then_some(*seconds), cli.quiet)?;
            match format {
                OutputFormat::Json => outln!("{}", serde_json::to_string_pretty(&report)?)?,
                OutputFormat::Text => output::print(&report.render_text())?,
            }
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        LabCommand::Cut { host } => {
            let lab = Lab::open(state::load(&args.tag)?.spec);
            lab.cut(host)?;
            if !cli.quiet {
                outln!("cut {host}: its underlay link is down")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Heal { host } => {
            let lab = Lab::open(state::load(&args.tag)?.spec);
            lab.heal(host)?;
            if !cli.quiet {
                outln!("healed {host}: its underlay link is up")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Attach => {
            let lab = Lab::open(state::load(&args.tag)?.spec);
            lab.attach_containers()?;
            if !cli.quiet {
                outln!("attached {} containers", lab.containers().count())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        LabCommand::Down => down(cli, &args.tag),
    }
}

fn up(cli: &Cli, tag: &str, containers: usize, via: Via, rate: Option<&str>) -> Result<ExitCode> {
    let started = Instant::now();
    let fleet = inventory_file::load(&cli.inventory)?;
    let inventory = std::fs::canonicalize(&cli.inventory)
        .with_context(|| format!("cannot resolve inventory path `{}`", cli.inventory.display()))?;
    if containers == 0 {
        bail!("`--containers` must be at least 1");
    }
    let deployer = deploy::for_via(via);
    // Refuse before building anything when this build cannot deploy that way.
    deployer.available()?;
    if let Some(existing) = vxlan_mesh_lab::list_namespaces(&names::tag_prefix(tag))?.first() {
        bail!("lab `{tag}` exists (namespace `{existing}`); run `vxlan-mesh lab --tag {tag} down` first");
    }
    let mut spec = LabSpec::from_fleet(&fleet, containers, tag)?;
    if let Some(rate) = rate {
        spec = spec.with_underlay_rate(rate);
    }
    let hosts = spec.hosts.len();
    let n_containers = spec.containers().count();
    let mut progress = progress::Progress::new(cli.quiet);
    let lab = Lab::build_with_progress(spec, &mut |p| progress.lab(&p))?;
    let workdir = state::workdir(tag);
    let ctx = deploy::Ctx {
        lab: &lab,
        fleet: &fleet,
        inventory: &inventory,
        workdir: &workdir,
    };
    for (i, host) in lab.spec().hosts.iter().enumerate() {
        progress.show(&format!(
            "deploying via {}: host {}/{hosts} ({})",
            via.as_str(),
            i + 1,
            host.name
        ));
        deployer
            .deploy(&ctx, host)
            .with_context(|| format!("deploying host `{}` via {}", host.name, via.as_str()))?;
    }
    if via != Via::None {
        progress.show("attaching containers");
        deployer.wait_ready(&ctx)?;
        lab.attach_containers()?;
    }
    progress.done();
    let st = state::LabState {
        inventory,
        via: via.as_str().to_string(),
        containers,
        spec: lab.spec().clone(),
    };
    state::save(&st)?;
    let _kept = lab.persist();
    if !cli.quiet {
        outln!(
            "lab `{tag}` up: {hosts} hosts, {n_containers} containers, deployed via {} in {:.1}s; \
             next: vxlan-mesh lab{} {}",
            via.as_str(),
            started.elapsed().as_secs_f64(),
            if tag == "lab" {
                String::new()
            } else {
                format!(" --tag {tag}")
            },
            if via == Via::None {
                "attach (after deploying each host), then check"
            } else {
                "check"
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn down(cli: &Cli, tag: &str) -> Result<ExitCode> {
    let mut removed = 0;
    if let Ok(st) = state::load(tag) {
        Lab::adopt(st.spec.clone()).destroy()?;
        removed += st.spec.namespaces().len();
    }
    // Leftovers of a crashed `lab up` (no state file) are found by their prefix.
    removed += cleanup_prefix(&names::tag_prefix(tag))?.len();
    state::remove(tag)?;
    if !cli.quiet {
        outln!("lab `{tag}` down: {removed} namespaces removed")?;
    }
    Ok(ExitCode::SUCCESS)
}
