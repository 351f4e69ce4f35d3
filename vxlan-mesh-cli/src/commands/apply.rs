//! `vxlan-mesh apply`: converge this host through netlink, or print the commands.

use std::process::ExitCode;

use anyhow::{Context, Result};
use vxlan_mesh_core::{argv, diff, netlink};

use crate::cli::Cli;
use crate::inventory_file;
use crate::output::outln;

pub fn run(cli: &Cli, host: Option<&str>, dry_run: bool) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    if dry_run {
        let observed = netlink::observe().context("cannot read this host's network state")?;
        let changes = diff(&plan.state(), &observed)?;
        if changes.is_empty() && !cli.quiet {
            outln!("# host {}: converged, nothing to do", plan.host)?;
        }
        for change in &changes {
            outln!("# {change}")?;
            for command in argv::for_change(change) {
                outln!("{command}")?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = netlink::apply(&plan).with_context(|| format!("apply for host `{}` stopped", plan.host))?;
    if !cli.quiet {
        if report.changes.is_empty() {
            outln!("host {}: no changes", plan.host)?;
        }
        for change in &report.changes {
            outln!("{change}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
