//! `vxlan-mesh down`: remove everything vxlan-mesh owns on this host.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use vxlan_mesh_core::netlink;
use vxlan_mesh_core::netlink::frr::Frr;

use crate::cli::Cli;
use crate::{inventory_file, keys, output};

pub fn run(cli: &Cli, host: Option<&str>, key: &Path, bgp: &Frr) -> Result<ExitCode> {
    // Ownership marks, not the inventory, decide what goes; the inventory only names the
    // host in messages (and an explicit --host must exist in it, with its key when the
    // mesh is encrypted, so that a wrong --host is noticed before anything is removed).
    let name = match host {
        Some(h) => {
            let fleet = inventory_file::load(&cli.inventory)?;
            let host = inventory_file::select_host(&fleet, Some(h))?;
            keys::with_host_key(fleet.plan(&host.name)?, key)?;
            Some(host.name.clone())
        }
        None => None,
    };
    let who = name.map(|n| format!("host {n}: ")).unwrap_or_default();
    let here = netlink::Netns::current()?;
    // FRR's block first: with the devices gone, its sessions would only flap.
    let removed = bgp
        .remove(&here)
        .with_context(|| format!("cannot remove vxlan-mesh's BGP configuration from {bgp}"))?;
    if let (Some(change), false) = (&removed, cli.quiet) {
        output::println(&format!("{who}{change}"))?;
    }
    let report = netlink::down(&here)
        .map_err(|e| super::apply::stopped(e, &who))
        .context("teardown stopped")?;
    super::apply::warn(&report);
    if !cli.quiet {
        if report.changes.is_empty() && removed.is_none() {
            output::println(&format!("{who}nothing owned by vxlan-mesh here"))?;
        }
        for change in &report.changes {
            output::println(&format!("{who}{change}"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
