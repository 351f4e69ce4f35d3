//! `vxlan-mesh apply`: converge this host through netlink, or print the commands. The
//! work is [`vxlan_mesh_core::host`]'s; this prints it.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use vxlan_mesh_core::host::{self, HostError, Options};
use vxlan_mesh_core::netlink::{self, Netns};
use vxlan_mesh_core::{argv, Fleet, Host};

use crate::cli::Cli;
use crate::{inventory_file, output};

pub fn run(cli: &Cli, host: Option<&str>, dry_run: bool, force: bool, opts: &Options) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let here = Netns::current()?;
    if dry_run {
        let host = inventory_file::select_host(&fleet, host).map_err(|e| {
            anyhow!("{e:#}\nto preview another host's changes on this machine: vxlan-mesh apply --dry-run --host NAME")
        })?;
        let plan = fleet.plan(&host.name)?;
        let preview = host::preview(&here, &plan, opts)?;
        warn(&preview.devices);
        if preview.is_empty() && !cli.quiet {
            output::println(&format!("# host {}: converged, nothing to do", plan.host))?;
        }
        for change in &preview.devices.changes {
            output::println(&format!("# {change}"))?;
            for command in argv::for_change(change) {
                output::println(&command.to_string())?;
            }
        }
        if let Some(change) = &preview.frr {
            output::println(&format!("# {change}"))?;
            output::println(&opts.frr.command_line(&change.vtysh_commands()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let host = select_for_change(&here, &fleet, host, force)?;
    let plan = fleet.plan(&host.name)?;
    let report = host::apply(&here, &plan, opts).map_err(|e| stopped(e, ""))?;
    warn(&report.devices);
    if !cli.quiet {
        for change in &report.devices.changes {
            output::println(&change.to_string())?;
        }
        if let Some(change) = &report.frr {
            output::println(&change.to_string())?;
        }
        if report.is_empty() {
            output::println(&format!("host {}: no changes", plan.host))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The host whose plan to apply here: one named with `--host` must own an address of this
/// machine, unless `force`, so that a wrong name never builds another host's tunnels here.
fn select_for_change<'a>(here: &Netns, fleet: &'a Fleet, name: Option<&str>, force: bool) -> Result<&'a Host> {
    let host = inventory_file::select_host(fleet, name)?;
    if name.is_some() && !force {
        let local = netlink::local_addresses(here).context("cannot list this machine's addresses")?;
        if !local.contains(&host.address) {
            bail!(
                "host `{}` has underlay address `{}`, which is not assigned on this machine: its plan would build its tunnels here; pass --force to apply it anyway",
                host.name.escape_debug(),
                host.address
            );
        }
    }
    Ok(host)
}

/// Warnings go to standard error, even with `--quiet`: they are about other people's
/// interfaces.
pub fn warn(report: &netlink::DeviceReport) {
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
}

/// Prints what an apply or teardown changed before it stopped (its warnings on standard
/// error; its changes on standard output, like those of a run that finished, with `who`
/// before each), and hands the error on.
pub fn stopped(err: HostError, who: &str) -> HostError {
    if let HostError::StoppedAfterDevices { devices, .. } = &err {
        warn(devices);
    }
    for change in err.changes_made() {
        // The error is what must reach the user; a reader gone from stdout changes
        // nothing about it.
        if output::println(&format!("{who}{change}")).is_err() {
            break;
        }
    }
    err
}
