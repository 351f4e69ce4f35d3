//! `vxlan-mesh apply`: converge this host through netlink, or print the commands.

use std::process::ExitCode;

use anyhow::{Context, Result};
use vxlan_mesh_core::{commands, netlink};

use crate::cli::Cli;
use crate::inventory_file;

pub fn run(cli: &Cli, host: Option<&str>, dry_run: bool) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let host = inventory_file::select_host(&fleet, host)?;
    let plan = fleet.plan(&host.name)?;
    if dry_run {
        let preview = netlink::preview(&plan).with_context(|| format!("apply for host `{}` would fail", plan.host))?;
        warn(&preview);
        if preview.changes.is_empty() && !cli.quiet {
            println!("# host {}: converged, nothing to do", plan.host);
        }
        for change in &preview.changes {
            println!("# {change}");
            for command in commands::for_change(change) {
                println!("{command}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = netlink::apply(&plan).with_context(|| format!("apply for host `{}` stopped", plan.host))?;
    warn(&report);
    if !cli.quiet {
        if report.changes.is_empty() {
            println!("host {}: no changes", plan.host);
        }
        for change in &report.changes {
            println!("{change}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Warnings go to standard error, even with `--quiet`: they are about other people's
/// interfaces.
pub fn warn(report: &netlink::Report) {
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
}
