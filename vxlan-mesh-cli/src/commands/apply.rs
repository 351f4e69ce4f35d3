//! `vxlan-mesh apply`: converge this host through netlink, or print the commands.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use vxlan_mesh_core::netlink::frr::Frr;
use vxlan_mesh_core::netlink::{self, Netns};
use vxlan_mesh_core::{argv, Fleet, Host};

use crate::cli::Cli;
use crate::{frr, inventory_file, keys, output};

pub fn run(cli: &Cli, host: Option<&str>, dry_run: bool, force: bool, key: &Path, bgp: &Frr) -> Result<ExitCode> {
    let fleet = inventory_file::load(&cli.inventory)?;
    let here = Netns::current()?;
    if dry_run {
        let host = inventory_file::select_host(&fleet, host).map_err(|e| {
            anyhow!("{e:#}\nto preview another host's changes on this machine: vxlan-mesh apply --dry-run --host NAME")
        })?;
        let plan = keys::with_host_key(fleet.plan(&host.name)?, key)?;
        let preview =
            netlink::preview(&here, &plan).with_context(|| format!("apply for host `{}` would fail", plan.host))?;
        warn(&preview);
        let bgp_change =
            frr::preview(bgp, &here, &plan).with_context(|| format!("apply for host `{}` would fail", plan.host))?;
        if preview.changes.is_empty() && bgp_change.is_none() && !cli.quiet {
            output::println(&format!("# host {}: converged, nothing to do", plan.host))?;
        }
        for change in &preview.changes {
            output::println(&format!("# {change}"))?;
            for command in argv::for_change(change) {
                output::println(&command.to_string())?;
            }
        }
        for line in bgp_change.iter().flat_map(|c| frr::dry_run_lines(bgp, c)) {
            output::println(&line)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let host = select_for_change(&here, &fleet, host, force)?;
    let plan = keys::with_host_key(fleet.plan(&host.name)?, key)?;
    // What FRR would refuse (someone else's `router bgp`, a daemon not running) stops the
    // apply before any device changes, as the kernel's refusals do.
    frr::preview(bgp, &here, &plan).with_context(|| format!("apply for host `{}` refused", plan.host))?;
    let report = netlink::apply(&here, &plan)
        .map_err(|e| stopped(e, ""))
        .with_context(|| format!("apply for host `{}` stopped", plan.host))?;
    warn(&report);
    if !cli.quiet {
        for change in &report.changes {
            output::println(&change.to_string())?;
        }
    }
    // FRR after the devices: zebra announces a VNI once its VXLAN device exists.
    let bgp_change = frr::converge(bgp, &here, &plan)
        .with_context(|| format!("apply for host `{}` stopped after the device changes", plan.host))?;
    if !cli.quiet {
        if let Some(change) = &bgp_change {
            output::println(&change.to_string())?;
        }
        if report.changes.is_empty() && bgp_change.is_none() {
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
pub fn warn(report: &netlink::Report) {
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
}

/// Prints the changes an apply or teardown made before it stopped (on standard output,
/// like the changes of a run that finished, with `who` before each), and hands the error on.
pub fn stopped(err: netlink::ApplyError, who: &str) -> netlink::ApplyError {
    if let netlink::ApplyError::Stopped { done, .. } = &err {
        for change in done {
            // The error is what must reach the user; a reader gone from stdout changes
            // nothing about it.
            if output::println(&format!("{who}{change}")).is_err() {
                break;
            }
        }
    }
    err
}
